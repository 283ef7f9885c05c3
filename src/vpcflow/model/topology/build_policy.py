"""Security groups and network ACLs: protocols, port and ICMP ranges, peers, rule numbers, defaults.

What the loader adds, as AWS does: each VPC's ``default`` security group (all traffic from members of
the group, all egress) unless the file lists one; the default egress rule of a group whose ``egress`` key
is absent (all protocols to 0.0.0.0/0, and ::/0 when the VPC has IPv6); each VPC's default network ACL
(rule 100 allow all, 101 for IPv6) unless one is marked ``default``; the final ``*`` deny rules (number
32767) of every ACL; and the default ACL's association with every subnet no other ACL claims.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from vpcflow.model.topology.context import Context
from vpcflow.model.topology.model import (
    ALL_PROTOCOLS,
    DEFAULT_DENY_RULE_NUMBER,
    NetworkAcl,
    NetworkAclEntry,
    SecurityGroup,
    SecurityGroupRule,
    Vpc,
)
from vpcflow.model.topology.problems import Section, as_int, network, suggest
from vpcflow.model.topology.resolve import Entry, generate_id
from vpcflow.model.topology.sourcemap import KeyPath, format_path

PROTOCOL_NAMES: dict[str, int] = {
    "all": -1, "-1": -1, "icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132,
}  # fmt: skip
PROTOCOL_LABELS = {v: k for k, v in PROTOCOL_NAMES.items() if k != "-1"}
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
_ANY4 = ipaddress.IPv4Network("0.0.0.0/0")
_ANY6 = ipaddress.IPv6Network("::/0")
SG_KEYS = ("name", "id", "group_name", "vpc", "owner", "description", "ingress", "egress", "tags")
SG_RULE_KEYS = (
    "protocol", "ports", "from_port", "to_port", "icmp_type", "icmp_code",
    "cidr", "ipv6_cidr", "group", "prefix_list", "description",
)  # fmt: skip
ACL_KEYS = ("name", "id", "vpc", "owner", "default", "subnets", "ingress", "egress", "tags")
ACL_ENTRY_KEYS = (
    "rule",
    "protocol",
    "action",
    "cidr",
    "ipv6_cidr",
    "ports",
    "from_port",
    "to_port",
    "icmp_type",
    "icmp_code",
)


def parse_protocol(ctx: Context, path: KeyPath, value: Any) -> int | None:
    """A protocol by name (tcp, udp, icmp, icmpv6, all, ...) or number (0..255, -1 = all)."""
    if isinstance(value, str) and value.strip().lower() in PROTOCOL_NAMES:
        return PROTOCOL_NAMES[value.strip().lower()]
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        ctx.problems.add(
            path, f"unknown protocol {value!r}{suggest(value.lower(), PROTOCOL_NAMES)} (a name or a number 0..255)"
        )
        return None
    number = as_int(ctx.problems, path, value, lo=-1, hi=255)
    return number


def parse_ports(ctx: Context, sec: Section, protocol: int) -> tuple[int, int] | None:
    """(from, to): TCP/UDP ports, ICMP (type, code), (-1, -1) for everything else. None after a problem."""
    has_ports = sec.has("ports") or sec.has("from_port") or sec.has("to_port")
    has_icmp = sec.has("icmp_type") or sec.has("icmp_code")
    if protocol in (TCP, UDP):
        if has_icmp:
            ctx.problems.add(
                sec.at("icmp_type" if sec.has("icmp_type") else "icmp_code"),
                "icmp_type/icmp_code apply to icmp and icmpv6 only",
            )
        if sec.has("ports") and (sec.has("from_port") or sec.has("to_port")):
            ctx.problems.add(sec.at("ports"), "give ports or from_port/to_port, not both")
            return None
        if sec.has("ports"):
            return _port_range(ctx, sec.at("ports"), sec.raw("ports"))
        if sec.has("from_port") or sec.has("to_port"):
            lo = sec.integer("from_port", None, lo=0, hi=65535)
            hi = sec.integer("to_port", lo, lo=0, hi=65535)
            if lo is None or hi is None:
                if not sec.has("from_port"):
                    ctx.problems.add(sec.path, "to_port without from_port")
                return None
            if lo > hi:
                ctx.problems.add(sec.at("from_port"), f"from_port {lo} is greater than to_port {hi}")
                return None
            return (lo, hi)
        return (0, 65535)  # no ports given: every port (decision documented in docs/topology.md)
    if has_ports:
        key = "ports" if sec.has("ports") else ("from_port" if sec.has("from_port") else "to_port")
        label = PROTOCOL_LABELS.get(protocol, str(protocol))
        ctx.problems.add(sec.at(key), f"ports apply to tcp and udp only, not to protocol {label}")
        return None
    if protocol in (ICMP, ICMPV6):
        icmp_type = sec.integer("icmp_type", -1, lo=-1, hi=255)
        icmp_code = sec.integer("icmp_code", -1, lo=-1, hi=255)
        if icmp_type is None or icmp_code is None:
            return None
        if icmp_type == -1 and icmp_code != -1:
            ctx.problems.add(
                sec.at("icmp_code"), "an ICMP code needs an ICMP type (icmp_type -1 means every type and code)"
            )
            return None
        return (icmp_type, icmp_code)
    if has_icmp:
        ctx.problems.add(
            sec.at("icmp_type" if sec.has("icmp_type") else "icmp_code"),
            "icmp_type/icmp_code apply to icmp and icmpv6 only",
        )
        return None
    return (-1, -1)


def _port_range(ctx: Context, path: KeyPath, value: Any) -> tuple[int, int] | None:
    if isinstance(value, str) and value.strip().lower() == "all":
        return (0, 65535)
    if isinstance(value, str) and "-" in value.strip()[1:]:
        lo_text, _, hi_text = value.strip().partition("-")
        lo = as_int(ctx.problems, path, lo_text, lo=0, hi=65535)
        hi = as_int(ctx.problems, path, hi_text, lo=0, hi=65535) if lo is not None else None
        if lo is None or hi is None:
            return None
        if lo > hi:
            ctx.problems.add(path, f"port range {value!r} starts after it ends")
            return None
        return (lo, hi)
    port = as_int(ctx.problems, path, value, lo=0, hi=65535)
    return None if port is None else (port, port)


def rule_id(group_id: str, direction: str, protocol: int, lo: int, hi: int, peer: str) -> str:
    """A rule's id derives from its content, so a rule keeps its id wherever it sits in the file."""
    return generate_id("security_group_rule", group_id, direction, str(protocol), str(lo), str(hi), peer)


def register_security_groups(ctx: Context, items: list[tuple[KeyPath, Any]]) -> list[tuple[Section, str, str]]:
    out = []
    seen_names: dict[tuple[str, str], KeyPath] = {}
    for path, item in items:
        sec = Section(ctx.problems, path, item, SG_KEYS, "a security group")
        if not sec.ok or not sec.require("vpc", "the VPC of the group"):
            continue
        vpc_id = ctx.resolve("vpc", sec.at("vpc"), sec.raw("vpc"))
        if vpc_id is None:
            continue
        name = sec.text("name")
        group_name = sec.text("group_name", name)
        if group_name is None:
            ctx.problems.add(path, "a security group needs a name (or group_name)")
            continue
        if (vpc_id, group_name) in seen_names:
            ctx.problems.add(
                sec.at("group_name" if sec.has("group_name") else "name"),
                f"group name {group_name!r} is used twice in {vpc_id}",
            )
            continue
        seen_names[(vpc_id, group_name)] = path
        gid = ctx.entity_id(sec, "security_group", vpc_id, group_name)
        extra = (group_name,) if group_name != name else ()
        if ctx.registry("security_group").add(ctx.problems, Entry(gid, path, vpc_id, name), extra_names=extra):
            out.append((sec, gid, vpc_id))
            if group_name == "default":
                ctx.default_groups[vpc_id] = gid
    for vpc_id in ctx.vpcs:
        if vpc_id not in ctx.default_groups:
            gid = generate_id("security_group", vpc_id, "default")
            ctx.registry("security_group").add(ctx.problems, Entry(gid, (), vpc_id, None), extra_names=("default",))
            ctx.default_groups[vpc_id] = gid
    return out


def _default_egress(group_id: str, vpc: Vpc) -> tuple[SecurityGroupRule, ...]:
    rules = [
        SecurityGroupRule(
            rule_id(group_id, "egress", -1, -1, -1, "0.0.0.0/0"),
            group_id,
            True,
            ALL_PROTOCOLS,
            cidr_ipv4=_ANY4,
        )
    ]
    if vpc.ipv6_cidr_blocks:
        rules.append(
            SecurityGroupRule(
                rule_id(group_id, "egress", -1, -1, -1, "::/0"),
                group_id,
                True,
                ALL_PROTOCOLS,
                cidr_ipv6=_ANY6,
            )
        )
    return tuple(rules)


def build_security_groups(ctx: Context, groups: list[tuple[Section, str, str]]) -> None:
    explicit = set()
    for sec, gid, vpc_id in groups:
        explicit.add(gid)
        vpc = ctx.vpcs.get(vpc_id)
        if vpc is None:
            continue
        name = sec.text("name")
        ingress = _rules(ctx, sec, "ingress", gid, vpc)
        egress = (
            _rules(ctx, sec, "egress", gid, vpc)
            if sec.has("egress") or "egress" in sec.data
            else _default_egress(gid, vpc)
        )
        ctx.security_groups.append(
            SecurityGroup(
                group_id=gid,
                group_name=sec.text("group_name", name) or "",
                vpc_id=vpc_id,
                owner_id=ctx.owner(sec, "owner", vpc.owner_id),
                description=sec.text("description", "") or "",
                ingress=ingress,
                egress=egress,
                tags=sec.tags(name),
            )
        )
    for vpc_id, gid in ctx.default_groups.items():
        if gid in explicit or vpc_id not in ctx.vpcs:
            continue
        vpc = ctx.vpcs[vpc_id]
        self_rule = SecurityGroupRule(
            rule_id(gid, "ingress", -1, -1, -1, gid),
            gid,
            False,
            ALL_PROTOCOLS,
            referenced_group_id=gid,
        )
        ctx.security_groups.append(
            SecurityGroup(
                gid,
                "default",
                vpc_id,
                vpc.owner_id,
                "default VPC security group",
                (self_rule,),
                _default_egress(gid, vpc),
            )
        )


def _rules(ctx: Context, gsec: Section, key: str, gid: str, vpc: Vpc) -> tuple[SecurityGroupRule, ...]:
    egress = key == "egress"
    out: list[SecurityGroupRule] = []
    seen: dict[tuple[Any, ...], KeyPath] = {}
    for path, item in gsec.seq(key):
        sec = Section(ctx.problems, path, item, SG_RULE_KEYS, f"a security group {key} rule")
        if not sec.ok or not sec.require("protocol", "tcp, udp, icmp, icmpv6, all or a number"):
            continue
        protocol = parse_protocol(ctx, sec.at("protocol"), sec.raw("protocol"))
        if protocol is None:
            continue
        ports = parse_ports(ctx, sec, protocol)
        if ports is None:
            continue
        peers: list[tuple[KeyPath, dict[str, Any]]] = []
        for ppath, raw in sec.seq("cidr", scalar_ok=True):
            net = network(ctx.problems, ppath, raw, version=4, what="a rule")
            if net is not None:
                peers.append((ppath, {"cidr_ipv4": net}))
        for ppath, raw in sec.seq("ipv6_cidr", scalar_ok=True):
            net6 = network(ctx.problems, ppath, raw, version=6, what="a rule")
            if net6 is not None:
                peers.append((ppath, {"cidr_ipv6": net6}))
        for ppath, raw in sec.seq("group", scalar_ok=True):
            ref = ctx.resolve("security_group", ppath, raw, vpc_id=vpc.vpc_id)
            if ref is not None:
                peers.append((ppath, {"referenced_group_id": ref}))
        for ppath, raw in sec.seq("prefix_list", scalar_ok=True):
            pl = ctx.resolve("prefix_list", ppath, raw)
            if pl is not None:
                peers.append((ppath, {"prefix_list_id": pl}))
        if not any(sec.has(k) for k in ("cidr", "ipv6_cidr", "group", "prefix_list")):
            ctx.problems.add(path, f"a {key} rule needs a peer: cidr, ipv6_cidr, group or prefix_list")
        description = sec.text("description", "") or ""
        for ppath, peer in peers:
            peer_text = str(next(iter(peer.values())))
            signature = (protocol, *ports, peer_text)
            if signature in seen:
                ctx.problems.add(
                    ppath,
                    f"duplicate {key} rule (same protocol, ports and peer as {format_path(seen[signature])}); "
                    "AWS refuses it (InvalidPermission.Duplicate)",
                )
                continue
            seen[signature] = ppath
            rid = rule_id(gid, key, protocol, ports[0], ports[1], peer_text)
            out.append(
                SecurityGroupRule(rid, gid, egress, protocol, ports[0], ports[1], description=description, **peer)
            )
    return tuple(out)


def register_network_acls(ctx: Context, items: list[tuple[KeyPath, Any]]) -> list[tuple[Section, str, str]]:
    out = []
    defaults: dict[str, KeyPath] = {}
    for i, (path, item) in enumerate(items):
        sec = Section(ctx.problems, path, item, ACL_KEYS, "a network ACL")
        if not sec.ok or not sec.require("vpc", "the VPC of the ACL"):
            continue
        vpc_id = ctx.resolve("vpc", sec.at("vpc"), sec.raw("vpc"))
        if vpc_id is None:
            continue
        name = sec.text("name")
        acl_id = ctx.entity_id(sec, "network_acl", vpc_id, name or f"#{i}")
        if sec.flag("default"):
            if vpc_id in defaults:
                ctx.problems.add(
                    sec.at("default"),
                    f"{vpc_id} already has a default network ACL ({format_path(defaults[vpc_id])})",
                )
                continue
            defaults[vpc_id] = path
        if ctx.registry("network_acl").add(ctx.problems, Entry(acl_id, path, vpc_id, name)):
            out.append((sec, acl_id, vpc_id))
    for vpc_id in ctx.vpcs:
        if vpc_id not in defaults:
            acl_id = generate_id("network_acl", vpc_id, "default")
            ctx.registry("network_acl").add(ctx.problems, Entry(acl_id, (), vpc_id, None))
    return out


def _star_entries(vpc: Vpc, egress: bool) -> list[NetworkAclEntry]:
    """The final `*` rules (spec 2.3: traffic no numbered rule matches is denied)."""
    out = [NetworkAclEntry(DEFAULT_DENY_RULE_NUMBER, egress, ALL_PROTOCOLS, "deny", cidr_block=_ANY4)]
    if vpc.ipv6_cidr_blocks:
        out.append(NetworkAclEntry(DEFAULT_DENY_RULE_NUMBER, egress, ALL_PROTOCOLS, "deny", ipv6_cidr_block=_ANY6))
    return out


def build_network_acls(ctx: Context, acls: list[tuple[Section, str, str]]) -> None:
    claimed: dict[str, KeyPath] = {}
    built: dict[str, str] = {}  # vpc -> default acl id
    for sec, acl_id, vpc_id in acls:
        vpc = ctx.vpcs.get(vpc_id)
        if vpc is None:
            continue
        entries: list[NetworkAclEntry] = []
        for key in ("ingress", "egress"):
            numbered = _acl_entries(ctx, sec, key)
            entries += sorted(numbered, key=lambda e: e.rule_number) + _star_entries(vpc, key == "egress")
        subnets: list[str] = []
        for spath, ref in sec.seq("subnets", scalar_ok=True):
            sid = ctx.resolve("subnet", spath, ref, vpc_id=vpc_id)
            if sid is None or sid not in ctx.subnets:
                continue
            if ctx.subnets[sid].vpc_id != vpc_id:
                ctx.problems.add(spath, f"subnet {sid} is in {ctx.subnets[sid].vpc_id}, not in the ACL's VPC {vpc_id}")
            elif sid in claimed:
                ctx.problems.add(
                    spath,
                    f"subnet {sid} is already associated with another network ACL ({format_path(claimed[sid])}); "
                    "a subnet has exactly one",
                )
            else:
                claimed[sid] = spath
                subnets.append(sid)
        is_default = sec.flag("default")
        if is_default:
            built[vpc_id] = acl_id
        acl = NetworkAcl(
            acl_id,
            vpc_id,
            ctx.owner(sec, "owner", vpc.owner_id),
            is_default,
            tuple(entries),
            tuple(subnets),
            sec.tags(sec.text("name")),
        )
        ctx.network_acls.append(acl)
    for vpc_id, vpc in ctx.vpcs.items():
        if vpc_id in built:
            continue
        acl_id = generate_id("network_acl", vpc_id, "default")
        entries = []
        for egress in (False, True):
            entries.append(NetworkAclEntry(100, egress, ALL_PROTOCOLS, "allow", cidr_block=_ANY4))
            if vpc.ipv6_cidr_blocks:
                entries.append(NetworkAclEntry(101, egress, ALL_PROTOCOLS, "allow", ipv6_cidr_block=_ANY6))
            entries += _star_entries(vpc, egress)
        ctx.network_acls.append(NetworkAcl(acl_id, vpc_id, vpc.owner_id, True, tuple(entries)))
        built[vpc_id] = acl_id
    # AWS lists every subnet that no other ACL claims among the default ACL's associations.
    for i, acl in enumerate(ctx.network_acls):
        if acl.is_default:
            rest = tuple(s for s, sub in ctx.subnets.items() if sub.vpc_id == acl.vpc_id and s not in claimed)
            ctx.network_acls[i] = NetworkAcl(
                acl.network_acl_id, acl.vpc_id, acl.owner_id, True, acl.entries, acl.subnet_ids + rest, acl.tags
            )


def _acl_entries(ctx: Context, asec: Section, key: str) -> list[NetworkAclEntry]:
    egress = key == "egress"
    out: list[NetworkAclEntry] = []
    numbers: dict[int, KeyPath] = {}
    for path, item in asec.seq(key):
        sec = Section(ctx.problems, path, item, ACL_ENTRY_KEYS, f"a network ACL {key} rule")
        if not sec.ok:
            continue
        ok = (
            sec.require("rule", "the rule number, 1..32766")
            & sec.require("protocol", "tcp, udp, icmp, all or a number")
            & sec.require("action", "allow or deny")
        )
        if not ok:
            continue
        number = sec.integer("rule", lo=1, hi=32766)
        if number is not None and number in numbers:
            ctx.problems.add(
                sec.at("rule"),
                f"rule number {number} is used twice in {key} (also at {format_path(numbers[number])})",
            )
            number = None
        elif number is not None:
            numbers[number] = sec.at("rule")
        action = str(sec.raw("action")).lower()
        if action not in ("allow", "deny"):
            ctx.problems.add(sec.at("action"), f"action must be allow or deny, got {sec.raw('action')!r}")
        protocol = parse_protocol(ctx, sec.at("protocol"), sec.raw("protocol"))
        ports = parse_ports(ctx, sec, protocol) if protocol is not None else None
        cidr = (
            network(ctx.problems, sec.at("cidr"), sec.raw("cidr"), version=4, what="an ACL rule")
            if sec.has("cidr")
            else None
        )
        cidr6 = (
            network(ctx.problems, sec.at("ipv6_cidr"), sec.raw("ipv6_cidr"), version=6, what="an ACL rule")
            if sec.has("ipv6_cidr")
            else None
        )
        if sec.has("cidr") == sec.has("ipv6_cidr"):
            ctx.problems.add(path, "an ACL rule needs exactly one of cidr or ipv6_cidr")
            continue
        if (
            number is None
            or protocol is None
            or ports is None
            or action not in ("allow", "deny")
            or (cidr is None and cidr6 is None)
        ):
            continue
        kw: dict[str, Any] = {}
        if protocol in (TCP, UDP):
            kw = {"port_from": ports[0], "port_to": ports[1]}
        elif protocol in (ICMP, ICMPV6):
            kw = {"icmp_type": ports[0], "icmp_code": ports[1]}
        out.append(
            NetworkAclEntry(number, egress, protocol, "allow" if action == "allow" else "deny", cidr, cidr6, **kw)
        )
    return out
