"""Accounts, regions and zones, VPCs and subnets.

Checks made here (each reported with file:line and key path): account ids, region and zone names,
VPC CIDR sizes (/16../28, as AWS allows) and ranges, overlapping CIDR blocks of one VPC, subnets outside
their VPC or overlapping each other (sort-and-sweep, not quadratic). Interfaces and addresses:
``build_interfaces``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from vpcflow.model.topology.context import Context
from vpcflow.model.topology.model import (
    Account,
    AvailabilityZone,
    Region,
    Subnet,
    Vpc,
)
from vpcflow.model.topology.problems import Section, network, suggest
from vpcflow.model.topology.resolve import ACCOUNT_RE, Entry
from vpcflow.model.topology.sourcemap import KeyPath

VPC_KEYS = (
    "name",
    "id",
    "owner",
    "region",
    "cidr_block",
    "cidr_blocks",
    "ipv6_cidr_blocks",
    "is_default",
    "tags",
    "subnets",
)
SUBNET_KEYS = (
    "name",
    "id",
    "cidr_block",
    "ipv6_cidr_block",
    "availability_zone",
    "availability_zone_id",
    "owner",
    "tags",
)
_REGION_RE = re.compile(r"^([a-z]{2})-(?:(gov|iso|isob)-)?([a-z]+)-(\d+)$")
_DIRECTIONS = {
    "east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}  # fmt: skip
#: Ranges AWS refuses as VPC CIDRs (or that could never be routed).
_FORBIDDEN_VPC = tuple(
    ipaddress.ip_network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)


def region_code(region: str) -> str | None:
    """``us-east-1`` -> ``use1``, ``ap-southeast-2`` -> ``apse2``, ``us-gov-west-1`` -> ``usgw1``."""
    m = _REGION_RE.match(region)
    if m is None or m.group(3) not in _DIRECTIONS:
        return None
    country, partition, direction, number = m.groups()
    return f"{country}{partition[0] if partition else ''}{_DIRECTIONS[direction]}{number}"


def read_accounts(ctx: Context, sec: Section) -> None:
    ctx.note_account(ctx.account_id)
    for path, item in sec.seq("accounts"):
        acc = Section(ctx.problems, path, item, ("account_id", "name"), "an account")
        raw = acc.raw("account_id")
        account_id = f"{raw:012d}" if isinstance(raw, int) and not isinstance(raw, bool) else raw
        if not isinstance(account_id, str) or not ACCOUNT_RE.match(account_id):
            ctx.problems.add(
                acc.at("account_id") if acc.has("account_id") else path,
                f"an account needs a 12-digit account_id, got {raw!r}",
            )
            continue
        name = acc.text("name", "") or ""
        if name:
            if name in ctx.account_names and ctx.account_names[name] != account_id:
                ctx.problems.add(acc.at("name"), f"account name {name!r} is used twice")
            ctx.account_names[name] = account_id
        ctx.accounts[account_id] = Account(account_id, name)


def read_regions(ctx: Context, sec: Section) -> None:
    for path, item in sec.seq("regions"):
        reg = Section(ctx.problems, path, item, ("name", "availability_zones"), "a region")
        name = reg.text("name", required=True)
        if name is None:
            continue
        if region_code(name) is None:
            ctx.problems.add(reg.at("name"), f"{name!r} is not an AWS region name (like us-east-1)")
        if name in ctx.declared_regions:
            ctx.problems.add(reg.at("name"), f"region {name!r} is listed twice")
        zones: dict[str, str] = {}
        for zpath, zitem in reg.seq("availability_zones"):
            z = Section(ctx.problems, zpath, zitem, ("name", "id"), "an availability zone")
            zname, zid = z.text("name", required=True), z.text("id", required=True)
            if zname is None or zid is None:
                continue
            if not (zname.startswith(name) and re.fullmatch(r"[a-z]", zname[len(name) :])):
                ctx.problems.add(z.at("name"), f"{zname!r} is not a zone of {name} (like {name}a)")
            if not re.fullmatch(r"[a-z]{2,}\d+-az\d+", zid):
                ctx.problems.add(z.at("id"), f"{zid!r} is not an availability zone id (like use1-az1)")
            if zname in zones:
                ctx.problems.add(z.at("name"), f"zone {zname!r} is listed twice")
            if zid in zones.values():
                ctx.problems.add(z.at("id"), f"zone id {zid!r} is listed twice")
            zones[zname] = zid
        ctx.declared_regions[name] = zones


def regions_out(ctx: Context) -> tuple[Region, ...]:
    """Declared regions as written, then regions only used by resources (with the zones they use)."""
    out = [
        Region(r, tuple(AvailabilityZone(n, i) for n, i in zones.items())) for r, zones in ctx.declared_regions.items()
    ]
    for r, zones in ctx.used_zones.items():
        if r not in ctx.declared_regions:
            out.append(Region(r, tuple(AvailabilityZone(n, zones[n]) for n in sorted(zones))))
    return tuple(out)


def _zone(ctx: Context, sub: Section, region: str) -> tuple[str, str] | None:
    declared = ctx.declared_regions.get(region)
    name, zid = sub.text("availability_zone"), sub.text("availability_zone_id")
    if name is None and zid is None:
        ctx.problems.add(sub.path, "missing required key 'availability_zone' (or 'availability_zone_id')")
        return None
    if declared is not None:
        by_id = {v: k for k, v in declared.items()}
        if name is not None and name not in declared:
            ctx.problems.add(
                sub.at("availability_zone"), f"zone {name!r} is not declared for {region}{suggest(name, declared)}"
            )
            return None
        if zid is not None and zid not in by_id:
            ctx.problems.add(
                sub.at("availability_zone_id"), f"zone id {zid!r} is not declared for {region}{suggest(zid, by_id)}"
            )
            return None
        if name is not None and zid is not None and declared[name] != zid:
            ctx.problems.add(sub.at("availability_zone_id"), f"{zid!r} is not the id of {name} ({declared[name]})")
            return None
        pair = (name, declared[name]) if name is not None else (by_id[zid or ""], zid or "")
    else:
        code = region_code(region)
        if name is None:
            ctx.problems.add(
                sub.at("availability_zone_id"), f"give availability_zone, or declare {region}'s zones in `regions`"
            )
            return None
        letter = name[len(region) :]
        if not name.startswith(region) or not re.fullmatch(r"[a-z]", letter) or code is None:
            ctx.problems.add(sub.at("availability_zone"), f"{name!r} is not a zone of {region} (like {region}a)")
            return None
        pair = (name, zid if zid is not None else f"{code}-az{ord(letter) - ord('a') + 1}")
    ctx.used_zones.setdefault(region, {})[pair[0]] = pair[1]
    return pair


def register_vpcs(ctx: Context, items: list[tuple[KeyPath, Any]]) -> list[tuple[Section, str]]:
    out = []
    for i, (path, item) in enumerate(items):
        sec = Section(ctx.problems, path, item, VPC_KEYS, "a VPC")
        if not sec.ok:
            continue
        name = sec.text("name")
        owner = ctx.owner(sec, "owner", ctx.account_id)
        region = sec.text("region", ctx.region) or ctx.region
        vpc_id = ctx.entity_id(sec, "vpc", owner, region, name or f"#{i}", str(sec.raw("cidr_block", "")))
        if ctx.registry("vpc").add(ctx.problems, Entry(vpc_id, path, vpc_id, name)):
            out.append((sec, vpc_id))
    return out


def build_vpcs(ctx: Context, vpcs: list[tuple[Section, str]]) -> None:
    for sec, vpc_id in vpcs:
        name = sec.text("name")
        owner = ctx.owner(sec, "owner", ctx.account_id)
        region = sec.text("region", ctx.region) or ctx.region
        if region_code(region) is None:
            ctx.problems.add(sec.at("region"), f"{region!r} is not an AWS region name (like us-east-1)")
        blocks: list[tuple[KeyPath, Any]] = []
        if sec.has("cidr_block") and sec.has("cidr_blocks"):
            ctx.problems.add(sec.at("cidr_blocks"), "give cidr_block or cidr_blocks, not both")
        if sec.has("cidr_block"):
            blocks.append((sec.at("cidr_block"), sec.raw("cidr_block")))
        blocks += sec.seq("cidr_blocks")
        if not blocks:
            sec.require("cidr_block", "the VPC's primary IPv4 CIDR")
        v4: list[ipaddress.IPv4Network] = []
        for bpath, raw in blocks:
            net = network(ctx.problems, bpath, raw, version=4, what="a VPC")
            if net is None:
                continue
            if not 16 <= net.prefixlen <= 28:
                ctx.problems.add(bpath, f"a VPC CIDR block must be between /16 and /28, got /{net.prefixlen}")
            elif any(net.overlaps(f) for f in _FORBIDDEN_VPC):
                ctx.problems.add(bpath, f"{net} cannot be a VPC CIDR block (reserved range)")
            elif any(net.overlaps(o) for o in v4):
                ctx.problems.add(bpath, f"{net} overlaps another CIDR block of this VPC")
            else:
                v4.append(net)
        v6: list[ipaddress.IPv6Network] = []
        for bpath, raw in sec.seq("ipv6_cidr_blocks"):
            net6 = network(ctx.problems, bpath, raw, version=6, what="a VPC")
            if net6 is None:
                continue
            if not 44 <= net6.prefixlen <= 60:
                ctx.problems.add(bpath, f"a VPC IPv6 CIDR block must be between /44 and /60, got /{net6.prefixlen}")
            elif any(net6.overlaps(o) for o in v6):
                ctx.problems.add(bpath, f"{net6} overlaps another IPv6 CIDR block of this VPC")
            else:
                v6.append(net6)
        if not v4:
            _register_subnets_only(ctx, sec, vpc_id)
            continue
        vpc = Vpc(vpc_id, owner, region, tuple(v4), tuple(v6), sec.flag("is_default"), sec.tags(name))
        ctx.vpcs[vpc_id] = vpc
        _build_subnets(ctx, sec, vpc)


def _register_subnets_only(ctx: Context, vsec: Section, vpc_id: str) -> None:
    """The VPC itself is broken (reported): keep its subnets' names known so references to them do not
    add a second, misleading "unknown subnet" problem."""
    for i, (path, item) in enumerate(vsec.seq("subnets")):
        if isinstance(item, dict):
            sec = Section(ctx.problems, path, item, SUBNET_KEYS, "a subnet")
            name = sec.text("name")
            subnet_id = ctx.entity_id(sec, "subnet", vpc_id, name or f"#{i}:{sec.raw('cidr_block', '')}")
            ctx.registry("subnet").add(ctx.problems, Entry(subnet_id, path, vpc_id, name))


def _build_subnets(ctx: Context, vsec: Section, vpc: Vpc) -> None:
    built: list[tuple[ipaddress.IPv4Network, KeyPath]] = []
    built6: list[tuple[ipaddress.IPv6Network, KeyPath]] = []
    for i, (path, item) in enumerate(vsec.seq("subnets")):
        sec = Section(ctx.problems, path, item, SUBNET_KEYS, "a subnet")
        if not sec.ok:
            continue
        name = sec.text("name")
        subnet_id = ctx.entity_id(sec, "subnet", vpc.vpc_id, name or f"#{i}:{sec.raw('cidr_block', '')}")
        if not ctx.registry("subnet").add(ctx.problems, Entry(subnet_id, path, vpc.vpc_id, name)):
            continue
        # No IPv4 block with an IPv6 one: an IPv6-only subnet (AWS's Ipv6Native); otherwise IPv4 is required
        ipv6_only = not sec.has("cidr_block") and sec.has("ipv6_cidr_block")
        cidr = (
            network(ctx.problems, sec.at("cidr_block"), sec.raw("cidr_block"), version=4, what="a subnet")
            if not ipv6_only and sec.require("cidr_block", "the subnet's IPv4 CIDR (or ipv6_cidr_block alone)")
            else None
        )
        zone = _zone(ctx, sec, vpc.region)
        if cidr is not None:
            if not 16 <= cidr.prefixlen <= 28:
                ctx.problems.add(
                    sec.at("cidr_block"), f"a subnet CIDR block must be between /16 and /28, got /{cidr.prefixlen}"
                )
                cidr = None
            elif not any(cidr.subnet_of(b) for b in vpc.cidr_blocks):
                ctx.problems.add(
                    sec.at("cidr_block"),
                    f"{cidr} is outside the VPC's CIDR blocks ({', '.join(map(str, vpc.cidr_blocks))})",
                )
                cidr = None
            else:
                built.append((cidr, sec.at("cidr_block")))
        cidr6 = None
        if sec.has("ipv6_cidr_block"):
            cidr6 = network(
                ctx.problems, sec.at("ipv6_cidr_block"), sec.raw("ipv6_cidr_block"), version=6, what="a subnet"
            )
            if cidr6 is not None:
                if not vpc.ipv6_cidr_blocks:
                    ctx.problems.add(sec.at("ipv6_cidr_block"), "the VPC has no IPv6 CIDR block")
                    cidr6 = None
                elif not any(cidr6.subnet_of(b) for b in vpc.ipv6_cidr_blocks):
                    ctx.problems.add(sec.at("ipv6_cidr_block"), f"{cidr6} is outside the VPC's IPv6 CIDR blocks")
                    cidr6 = None
                elif cidr6.prefixlen > 64:
                    ctx.problems.add(
                        sec.at("ipv6_cidr_block"),
                        f"a subnet IPv6 CIDR block must be /64 or larger, got /{cidr6.prefixlen}",
                    )
                    cidr6 = None
                else:
                    built6.append((cidr6, sec.at("ipv6_cidr_block")))
        if (cidr is None and not (ipv6_only and cidr6 is not None)) or zone is None:
            continue
        owner = ctx.owner(sec, "owner", vpc.owner_id)
        ctx.subnets[subnet_id] = Subnet(subnet_id, vpc.vpc_id, cidr, zone[0], zone[1], cidr6, owner, sec.tags(name))
        ctx.subnet_used[subnet_id] = set(ctx.subnets[subnet_id].reserved_addresses())
    report_overlaps(ctx, built, "subnet")
    report_overlaps(ctx, built6, "subnet")


def report_overlaps(ctx: Context, nets: list[Any], what: str) -> None:
    """Sort by start address and sweep: any network starting before the running maximum end overlaps."""
    ordered = sorted(nets, key=lambda t: (int(t[0].network_address), -t[0].prefixlen))
    max_end, max_net, max_path = -1, None, None
    for net, path in ordered:
        if int(net.network_address) <= max_end and max_path is not None:
            ctx.problems.add(path, f"{what} {net} overlaps {max_net} ({'.'.join(map(str, max_path))})")
        if int(net.broadcast_address) > max_end:
            max_end, max_net, max_path = int(net.broadcast_address), net, path
