"""Network interfaces and their addresses: private (claimed, or assigned lowest-free), IPv6, public.
An interface in an IPv6-only subnet has no IPv4 address: IPv6 only (the lowest free one when it lists none).

Checks: addresses outside their subnet, on one of the subnet's five reserved addresses (base+0..3 and the
broadcast address) or used twice in a VPC; IPv6 addresses outside the subnet's block; public and Elastic
IPs that are private or used twice; interface types; security groups of another VPC. Every explicit
address is claimed before any is assigned, so file order never changes which address an ENI gets.
"""

from __future__ import annotations

import ipaddress
import typing
from dataclasses import dataclass, field
from typing import Any

from vpcflow.model.topology.context import Context
from vpcflow.model.topology.model import InterfaceType, NetworkInterface, Subnet
from vpcflow.model.topology.problems import Section, address, suggest
from vpcflow.model.topology.resolve import Entry
from vpcflow.model.topology.sourcemap import KeyPath, format_path

ENI_KEYS = (
    "name", "id", "subnet", "type", "requester_managed", "owner", "instance_id", "private_ip",
    "secondary_private_ips", "ipv6_addresses", "public_ip", "elastic_ips", "security_groups",
    "ec2_classic", "nitro", "description", "source_dest_check", "tags", "platform", "link_local_ipv6",
)  # fmt: skip
PLATFORMS = ("linux", "windows")
INTERFACE_TYPES: tuple[str, ...] = typing.get_args(InterfaceType)
#: ENI types that get no security group when the file does not list any (AWS attaches none to them).
NO_DEFAULT_GROUP_TYPES = frozenset(
    {
        "nat_gateway",
        "network_load_balancer",
        "gateway_load_balancer",
        "gateway_load_balancer_endpoint",
        "transit_gateway",
    }
)
_PRIVATE_V4 = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
    )
)


def _ipv6_only(ctx: Context, subnet: Subnet, path: KeyPath) -> bool:
    """True (and a problem) when an IPv4 address is asked of an IPv6-only subnet."""
    if subnet.cidr_block is not None:
        return False
    ctx.problems.add(path, f"subnet {subnet.subnet_id} is IPv6-only ({subnet.ipv6_cidr_block}): no IPv4 address there")
    return True


def claim_private(ctx: Context, subnet: Subnet, ip: ipaddress.IPv4Address, path: KeyPath) -> bool:
    if _ipv6_only(ctx, subnet, path) or subnet.cidr_block is None:
        return False
    if ip not in subnet.cidr_block:
        ctx.problems.add(path, f"{ip} is outside subnet {subnet.subnet_id} ({subnet.cidr_block})")
        return False
    if ip in subnet.reserved_addresses():
        ctx.problems.add(
            path, f"{ip} is one of the five addresses AWS reserves in {subnet.cidr_block} (base+0..3 and broadcast)"
        )
        return False
    first = ctx.private_ips.get((subnet.vpc_id, ip))
    if first is not None:
        ctx.problems.add(path, f"{ip} is already used in {subnet.vpc_id} (at {_p(first)})")
        return False
    ctx.private_ips[(subnet.vpc_id, ip)] = path
    ctx.subnet_used.setdefault(subnet.subnet_id, set()).add(ip)
    return True


def allocate_private(ctx: Context, subnet: Subnet, path: KeyPath) -> ipaddress.IPv4Address | None:
    """The lowest free address of the subnet (AWS picks one at random; lowest keeps reloads stable)."""
    if _ipv6_only(ctx, subnet, path) or subnet.cidr_block is None:
        return None
    used = ctx.subnet_used.setdefault(subnet.subnet_id, set())
    # Allocation runs after every explicit claim, so addresses below the cursor stay taken: linear overall.
    start = ctx.alloc_cursor.get(subnet.subnet_id, 4)
    for offset in range(start, subnet.cidr_block.num_addresses - 1):
        ip = subnet.cidr_block.network_address + offset
        if ip not in used and (subnet.vpc_id, ip) not in ctx.private_ips:
            ctx.private_ips[(subnet.vpc_id, ip)] = path
            used.add(ip)
            ctx.alloc_cursor[subnet.subnet_id] = offset + 1
            return ip
    ctx.problems.add(path, f"subnet {subnet.subnet_id} ({subnet.cidr_block}) has no free address left")
    return None


def allocate_ipv6(ctx: Context, subnet: Subnet, path: KeyPath) -> ipaddress.IPv6Address | None:
    """The lowest free IPv6 address of an IPv6-only subnet's block, for an interface that lists none
    (AWS assigns one at random; lowest keeps reloads stable). The first four are reserved."""
    block = subnet.ipv6_cidr_block
    if block is None:
        return None
    for offset in range(4, 1 << 16):  # far more interfaces than a subnet holds; a /64 never fills up
        ip6 = block.network_address + offset
        if (subnet.vpc_id, ip6) not in ctx.ipv6_ips:
            ctx.ipv6_ips[(subnet.vpc_id, ip6)] = path
            return ip6
    ctx.problems.add(path, f"subnet {subnet.subnet_id} ({block}) has no free IPv6 address left")
    return None


def claim_public(ctx: Context, ip: ipaddress.IPv4Address, path: KeyPath) -> bool:
    if any(ip in n for n in _PRIVATE_V4):
        ctx.problems.add(path, f"{ip} is not a public address")
        return False
    first = ctx.public_ips.get(ip)
    if first is not None:
        ctx.problems.add(path, f"public address {ip} is already used (at {_p(first)})")
        return False
    ctx.public_ips[ip] = path
    return True


def _p(path: KeyPath) -> str:
    return format_path(path)


def register_enis(ctx: Context, items: list[tuple[KeyPath, Any]]) -> list[tuple[Section, str]]:
    out = []
    for i, (path, item) in enumerate(items):
        sec = Section(ctx.problems, path, item, ENI_KEYS, "a network interface")
        if not sec.ok:
            continue
        name = sec.text("name")
        subnet_ref = sec.raw("subnet")
        subnet = ctx.peek("subnet", subnet_ref)
        eni_id = ctx.entity_id(
            sec,
            "network_interface",
            subnet.id if subnet else str(subnet_ref),
            name or f"#{i}:{sec.raw('private_ip', '')}",
        )
        vpc_id = subnet.vpc_id if subnet is not None else None
        if ctx.registry("network_interface").add(ctx.problems, Entry(eni_id, path, vpc_id, name)):
            out.append((sec, eni_id))
    return out


@dataclass
class PendingEni:
    """An ENI whose primary address is allocated once every explicit address has been claimed."""

    sec: Section
    eni_id: str
    subnet: Subnet
    fields: dict[str, Any] = field(default_factory=dict)
    private_ip: ipaddress.IPv4Address | None = None


def parse_enis(ctx: Context, enis: list[tuple[Section, str]]) -> list[PendingEni]:
    """Every interface's addresses, groups and flags, checked in document order (problems keep that order)."""
    pending: list[PendingEni] = []
    for sec, eni_id in enis:
        if not sec.require("subnet", "the subnet the interface lives in"):
            continue
        subnet_id = ctx.resolve("subnet", sec.at("subnet"), sec.raw("subnet"))
        subnet = ctx.subnets.get(subnet_id or "")
        if subnet is None:
            continue
        vpc = ctx.vpcs[subnet.vpc_id]
        p = PendingEni(sec, eni_id, subnet)
        itype = sec.text("type", "interface") or "interface"
        if itype not in INTERFACE_TYPES:
            ctx.problems.add(sec.at("type"), f"unknown interface type {itype!r}{suggest(itype, INTERFACE_TYPES)}")
        if sec.has("private_ip"):
            ip = address(ctx.problems, sec.at("private_ip"), sec.raw("private_ip"), version=4)
            if ip is not None:
                # Kept even when the claim fails, so later checks still run; the problem is recorded.
                claim_private(ctx, subnet, ip, sec.at("private_ip"))
                p.private_ip = ip
        secondary = []
        for spath, raw in sec.seq("secondary_private_ips"):
            ip = address(ctx.problems, spath, raw, version=4)
            if ip is not None and claim_private(ctx, subnet, ip, spath):
                secondary.append(ip)
        v6 = _ipv6_addresses(ctx, sec, subnet, vpc.vpc_id)
        if subnet.cidr_block is None and (sec.has("public_ip") or sec.has("elastic_ips")):
            key = "public_ip" if sec.has("public_ip") else "elastic_ips"
            ctx.problems.add(sec.at(key), f"an interface in IPv6-only subnet {subnet.subnet_id} has no public IPv4")
        public, eips = _public_addresses(ctx, sec)
        groups = _security_groups(ctx, sec, vpc.vpc_id, itype)
        instance_id = sec.text("instance_id")
        if instance_id is not None and not ctx.check_id(sec.at("instance_id"), "instance", instance_id):
            instance_id = None
        p.fields = _platform_fields(ctx, sec) | dict(
            interface_type=itype,
            requester_managed=sec.flag("requester_managed"),
            instance_id=instance_id,
            secondary_private_ip_addresses=tuple(secondary),
            ipv6_addresses=tuple(v6),
            public_ip=public,
            elastic_ips=tuple(eips),
            groups=tuple(groups),
            ec2_classic=sec.flag("ec2_classic"),
            nitro=sec.flag("nitro", True),
            description=sec.text("description", "") or "",
            tags=sec.tags(sec.text("name")),
            source_dest_check=sec.flag("source_dest_check", itype not in ("nat_gateway",)),
            owner_id=ctx.owner(sec, "owner", subnet.owner_id or vpc.owner_id),
        )
        pending.append(p)
    return pending


def _ipv6_addresses(ctx: Context, sec: Section, subnet: Subnet, vpc_id: str) -> list[ipaddress.IPv6Address]:
    """``ipv6_addresses``: inside the subnet's IPv6 block, not reserved, not used elsewhere in the VPC."""
    v6 = []
    for spath, raw in sec.seq("ipv6_addresses"):
        ip6 = address(ctx.problems, spath, raw, version=6)
        if ip6 is None:
            continue
        if subnet.ipv6_cidr_block is None or ip6 not in subnet.ipv6_cidr_block:
            ctx.problems.add(
                spath,
                f"{ip6} is outside subnet {subnet.subnet_id}'s IPv6 CIDR ({subnet.ipv6_cidr_block or 'none'})",
            )
            continue
        block = subnet.ipv6_cidr_block
        offset = int(ip6) - int(block.network_address)
        if offset < 4 or ip6 == block.broadcast_address:
            # AWS reserves the first four and the last IPv6 address of a subnet's block too
            ctx.problems.add(spath, f"{ip6} is one of the addresses AWS reserves in {block} (first four and last)")
            continue
        if (vpc_id, ip6) in ctx.ipv6_ips:
            ctx.problems.add(spath, f"{ip6} is already used in {vpc_id} (at {_p(ctx.ipv6_ips[(vpc_id, ip6)])})")
            continue
        ctx.ipv6_ips[(vpc_id, ip6)] = spath
        v6.append(ip6)
    return v6


def _public_addresses(
    ctx: Context, sec: Section
) -> tuple[ipaddress.IPv4Address | None, list[ipaddress.IPv4Address]]:
    """``public_ip`` and ``elastic_ips``, each claimed once across the whole topology."""
    public = None
    if sec.has("public_ip"):
        public = address(ctx.problems, sec.at("public_ip"), sec.raw("public_ip"), version=4)
        if public is not None and not claim_public(ctx, public, sec.at("public_ip")):
            public = None
    eips = []
    for spath, raw in sec.seq("elastic_ips"):
        ip = address(ctx.problems, spath, raw, version=4)
        if ip is not None and claim_public(ctx, ip, spath):
            eips.append(ip)
    return public, eips


def _security_groups(ctx: Context, sec: Section, vpc_id: str, itype: str) -> list[str]:
    """The listed groups (of the interface's VPC, each once), else the VPC's default group where AWS adds it."""
    if not sec.has("security_groups"):
        if itype in NO_DEFAULT_GROUP_TYPES:
            return []
        default_group = ctx.default_groups.get(vpc_id)
        return [default_group] if default_group else []
    groups: list[str] = []
    for gpath, ref in sec.seq("security_groups", scalar_ok=True):
        gid = ctx.resolve("security_group", gpath, ref, vpc_id=vpc_id)
        if gid is None:
            continue
        g_vpc = ctx.registry("security_group").by_id[gid].vpc_id
        if g_vpc != vpc_id:
            ctx.problems.add(gpath, f"security group {gid} belongs to {g_vpc}, not to this interface's VPC {vpc_id}")
        elif gid in groups:
            ctx.problems.add(gpath, f"security group {gid} is listed twice")
        else:
            groups.append(gid)
    return groups


def _platform_fields(ctx: Context, sec: Section) -> dict[str, Any]:
    """``platform`` (linux or windows) and ``link_local_ipv6`` (an fe80::/10 address) of an interface."""
    platform = (sec.text("platform", "linux") or "linux").lower()
    if platform not in PLATFORMS:
        ctx.problems.add(sec.at("platform"), f"unknown platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
        platform = "linux"
    link_local = None
    if sec.has("link_local_ipv6"):
        ip6 = address(ctx.problems, sec.at("link_local_ipv6"), sec.raw("link_local_ipv6"), version=6)
        if ip6 is not None and not ip6.is_link_local:
            ctx.problems.add(sec.at("link_local_ipv6"), f"{ip6} is not an IPv6 link-local address (fe80::/10)")
        elif ip6 is not None:
            link_local = ip6
    return {"platform": platform, "link_local_ipv6": link_local}


def finish_enis(ctx: Context, pending: list[PendingEni]) -> None:
    zones: dict[str, tuple[str, KeyPath]] = {}  # instance id -> (zone of its first interface, where)
    for p in pending:
        instance = p.fields.get("instance_id")
        if instance:
            first = zones.setdefault(instance, (p.subnet.availability_zone, p.sec.at("instance_id")))
            if first[0] != p.subnet.availability_zone:
                ctx.problems.add(
                    p.sec.at("instance_id"),
                    f"{instance} has an interface in {first[0]} ({_p(first[1])}); "
                    f"all interfaces of an instance are in one availability zone, not {p.subnet.availability_zone}",
                )
    for p in pending:
        f = p.fields
        ip: ipaddress.IPv4Address | None = None
        if p.subnet.cidr_block is None and p.private_ip is None:
            # IPv6-only subnet: no IPv4 at all; the interface needs an IPv6 address to be reachable
            if not f["ipv6_addresses"]:
                ip6 = allocate_ipv6(ctx, p.subnet, p.sec.at("ipv6_addresses"))
                if ip6 is None:
                    continue
                f["ipv6_addresses"] = (ip6,)
        else:
            ip = p.private_ip or allocate_private(ctx, p.subnet, p.sec.at("private_ip"))
            if ip is None:
                continue
        ctx.network_interfaces.append(
            NetworkInterface(
                network_interface_id=p.eni_id,
                subnet_id=p.subnet.subnet_id,
                vpc_id=p.subnet.vpc_id,
                private_ip_address=ip,
                **f,
            )
        )
