"""Security groups: rules compiled to columns for the native core's stateless half of the decision.

A security group only ALLOWS; a packet that no rule of the ENI's groups allows is rejected (the
ENI's "default deny"). An ENI's rules for one direction are the union of its groups' rules, laid out
contiguously (CSR: ``start[eni*2+dir]``..``end[...]``) so the kernel scans one slice per flow.

Matching (AWS semantics):
* protocol ``-1`` matches every protocol; otherwise the protocol number must be equal
  (``icmp`` 1 never matches ICMPv6 58);
* TCP/UDP: the packet's DESTINATION port must be in ``from_port..to_port`` for ingress and egress
  rules alike (``-1`` = all ports); ICMP/ICMPv6: ``from_port`` is the type, ``to_port`` the code,
  ``-1`` = any;
* the peer: an IPv4 or IPv6 CIDR (of the packet's family), a prefix list (each CIDR), or a referenced
  group: the remote address must be a PRIVATE address (primary, secondary or IPv6) of an ENI that is
  a member of that group (public/Elastic IPs never match a group reference);
* a non-first fragment carries no ports: it is matched as if its ports were in range (the flow it
  belongs to was allowed on its first fragment) - a documented choice, AWS is silent.

The stateful half (connection tracking) is in ``conntrack.py``; whether a flow is tracked at all is
derived here: ``open_all`` says, per ENI and direction, whether a TCP/UDP rule with ``0.0.0.0/0`` or
``::/0`` on all ports exists (the "untracked connection" condition of AWS's connection-tracking docs).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from vpcflow import _native
from vpcflow.dataplane.evaluate.rules import (
    RuleRef,
    RuleTable,
    describe_ports,
    net_to_words,
    protocol_name,
    rule_columns,
)
from vpcflow.model.topology.model import NetworkInterface, SecurityGroup, SecurityGroupRule, Topology

#: ENI types whose connections AWS always tracks ("automatically tracked connections").
AUTO_TRACKED_TYPES = frozenset(
    {
        "nat_gateway",
        "network_load_balancer",
        "gateway_load_balancer",
        "gateway_load_balancer_endpoint",
        "transit_gateway",
        "lambda",
        "vpc_endpoint",
    }
)

DIRS = ("ingress", "egress")  # index = packets.INGRESS / packets.EGRESS


@dataclass
class CompiledSecurityGroups:
    proto: npt.NDArray[np.int16]
    port_lo: npt.NDArray[np.int32]
    port_hi: npt.NDArray[np.int32]
    icmp_type: npt.NDArray[np.int16]
    icmp_code: npt.NDArray[np.int16]
    family: npt.NDArray[np.uint8]  # 4, 6, or 0 for a referenced group
    net_hi: npt.NDArray[np.uint64]
    net_lo: npt.NDArray[np.uint64]
    mask_hi: npt.NDArray[np.uint64]
    mask_lo: npt.NDArray[np.uint64]
    ref_group: npt.NDArray[np.int32]
    slash0: npt.NDArray[np.bool_]
    rule_id: npt.NDArray[np.int32]
    start: npt.NDArray[np.int64]  # [eni*2 + dir]
    end: npt.NDArray[np.int64]
    has_sg: npt.NDArray[np.bool_]  # [eni]
    member: npt.NDArray[np.bool_]  # [eni, group]
    default_deny: npt.NDArray[np.int32]  # [eni*2 + dir] rule ids
    no_sg: npt.NDArray[np.int32]
    tracked: npt.NDArray[np.int32]
    closed: npt.NDArray[np.int32]
    open_all: npt.NDArray[np.bool_]  # [eni*2 + dir, family(0 v4, 1 v6), proto(0 tcp, 1 udp)]
    auto_tracked: npt.NDArray[np.bool_]  # [eni]

    def native(self) -> _native.SecurityGroupRules:
        """The rules as the native core holds them (``native/src/policy/security_groups.rs``)."""
        columns: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        return _native.SecurityGroupRules(columns)


def _rule_text(rule: SecurityGroupRule, peer: str) -> str:
    word = "to" if rule.is_egress else "from"
    what = describe_ports(rule.ip_protocol, rule.from_port, rule.to_port)
    return f"{rule.group_id} {DIRS[int(rule.is_egress)]} rule {rule.security_group_rule_id}: allow {what} {word} {peer}"


def _peers(rule: SecurityGroupRule, topo: Topology) -> list[tuple[int, tuple[int, int, int, int], int, bool, str]]:
    """(family, net words, ref group index, slash0, peer text) rows a rule expands to."""
    out: list[tuple[int, tuple[int, int, int, int], int, bool, str]] = []
    if rule.cidr_ipv4 is not None:
        out.append((4, net_to_words(rule.cidr_ipv4), -1, rule.cidr_ipv4.prefixlen == 0, str(rule.cidr_ipv4)))
    if rule.cidr_ipv6 is not None:
        out.append((6, net_to_words(rule.cidr_ipv6), -1, rule.cidr_ipv6.prefixlen == 0, str(rule.cidr_ipv6)))
    if rule.prefix_list_id is not None:
        pl = topo.prefix_lists_by_id.get(rule.prefix_list_id)
        for cidr in pl.cidrs if pl else ():
            out.append((cidr.version, net_to_words(cidr), -1, False, rule.prefix_list_id))
    if rule.referenced_group_id is not None:
        out.append((0, (0, 0, 0, 0), -2, False, rule.referenced_group_id))  # -2: resolved by caller
    return out


def _membership(topo: Topology, enis: tuple[NetworkInterface, ...]) -> tuple[dict[str, int], np.ndarray]:
    """(column of each group id, ENI x group membership matrix); groups the topology lacks are ignored."""
    group_ids = [g.group_id for g in topo.security_groups]
    group_index = {g: i for i, g in enumerate(group_ids)}
    member = np.zeros((len(enis), max(1, len(group_ids))), np.bool_)
    for e, eni in enumerate(enis):
        for g in eni.groups:
            if g in group_index:
                member[e, group_index[g]] = True
    return group_index, member


def _fixed_rules(eni: NetworkInterface, d: int, table: RuleTable) -> tuple[int, int, int, int]:
    """Rule ids of the verdicts no group rule gives, for one ENI and direction: (default deny, no security
    group, tracked connection, packet after a closed connection)."""
    gnames = ",".join(eni.groups) or "-"
    eid = eni.network_interface_id
    default_deny = table.add(
        RuleRef("security_group_default_deny", gnames, DIRS[d], "", "deny",
                f"{gnames} {DIRS[d]}: no rule allows it (security groups deny by default)")
    )
    no_sg = table.add(
        RuleRef("no_security_group", eid, DIRS[d], "", "allow", f"{eid} has no security group ({eni.interface_type})")
    )
    tracked = table.add(
        RuleRef("conntrack_response", eid, DIRS[d], "", "allow",
                f"{eid} {DIRS[d]}: part of a tracked connection (security groups are stateful)")
    )
    closed = table.add(
        RuleRef("conntrack_closed", eid, DIRS[d], "", "deny",
                f"{eid} {DIRS[d]}: packet after the tracked connection was closed (spec 2.3)")
    )
    return default_deny, no_sg, tracked, closed


def _port_match(rule: SecurityGroupRule) -> tuple[int, int, int, int]:
    """(port lo, port hi, ICMP type, ICMP code) a rule matches; -1 is any type or code."""
    p = rule.ip_protocol
    lo, hi = rule.from_port, rule.to_port
    if p in (6, 17):
        plo, phi = (0, 65535) if lo is None or lo < 0 else (lo, hi if hi is not None else lo)
        return plo, phi, -1, -1
    if p in (1, 58):
        return 0, 65535, -1 if lo is None else lo, -1 if hi is None else hi
    return 0, 65535, -1, -1


def _compile_rule(
    rule: SecurityGroupRule, grp: SecurityGroup, d: int, topo: Topology, table: RuleTable, group_index: dict[str, int]
) -> list[tuple]:
    """The rows of one group rule in one direction, one per peer (CIDR, prefix-list CIDR or group)."""
    compiled: list[tuple] = []
    for fam, words, ref, s0, peer in _peers(rule, topo):
        rid = table.add(
            RuleRef("security_group_rule", grp.group_id, DIRS[d], rule.security_group_rule_id,
                    "allow", _rule_text(rule, peer if rule.prefix_list_id is None else
                                       rule.prefix_list_id))
        )
        refg = group_index.get(rule.referenced_group_id or "", -1) if ref == -2 else -1
        if ref == -2 and refg < 0:
            continue  # a reference to an unknown group matches nothing
        plo, phi, it, ic = _port_match(rule)
        compiled.append((rule.ip_protocol, plo, phi, it, ic, fam, *words, refg, s0, rid))
    return compiled


def _mark_open_all(open_all: np.ndarray, k: int, compiled: list[tuple]) -> None:
    """Flag, per family and TCP/UDP, rows that allow every port from anywhere (0.0.0.0/0 or ::/0)."""
    for row in compiled:
        p, plo, phi, fam, s0 = row[0], row[1], row[2], row[5], row[11]
        if s0 and plo == 0 and phi == 65535 and fam in (4, 6):
            for pi, pn in ((0, 6), (1, 17)):
                if p in (-1, pn):
                    open_all[k, 0 if fam == 4 else 1, pi] = True


def compile_security_groups(topo: Topology, enis: tuple[NetworkInterface, ...],
                            table: RuleTable) -> CompiledSecurityGroups:
    group_index, member = _membership(topo, enis)
    n = len(enis)
    rows: list[tuple] = []
    start = np.zeros(2 * n, np.int64)
    end = np.zeros(2 * n, np.int64)
    default_deny = np.zeros(2 * n, np.int32)
    no_sg = np.zeros(2 * n, np.int32)
    tracked = np.zeros(2 * n, np.int32)
    closed = np.zeros(2 * n, np.int32)
    open_all = np.zeros((2 * n, 2, 2), np.bool_)
    has_sg = np.array([bool(e.groups) for e in enis], np.bool_)
    auto = np.array([e.interface_type in AUTO_TRACKED_TYPES for e in enis], np.bool_)
    rule_cache: dict[tuple[str, int], list[tuple]] = {}
    for e, eni in enumerate(enis):
        groups = [topo.security_groups_by_id[g] for g in eni.groups if g in topo.security_groups_by_id]
        for d in (0, 1):
            k = 2 * e + d
            start[k] = len(rows)
            default_deny[k], no_sg[k], tracked[k], closed[k] = _fixed_rules(eni, d, table)
            for grp in groups:
                for rule in grp.egress if d == 1 else grp.ingress:
                    key = (rule.security_group_rule_id + "/" + grp.group_id, d)
                    compiled = rule_cache.get(key)
                    if compiled is None:
                        compiled = rule_cache[key] = _compile_rule(rule, grp, d, topo, table, group_index)
                    rows.extend(compiled)
                    _mark_open_all(open_all, k, compiled)
            end[k] = len(rows)
    return CompiledSecurityGroups(
        **rule_columns(rows, (("ref_group", np.int32), ("slash0", np.bool_), ("rule_id", np.int32))),
        start=start,
        end=end,
        has_sg=has_sg,
        member=member,
        default_deny=default_deny,
        no_sg=no_sg,
        tracked=tracked,
        closed=closed,
        open_all=open_all,
        auto_tracked=auto,
    )


def rule_peer_text(rule: SecurityGroupRule) -> str:
    """Short peer text of a rule, for explain output."""
    return (
        str(rule.cidr_ipv4 or "") or str(rule.cidr_ipv6 or "") or rule.prefix_list_id or rule.referenced_group_id or "?"
    ) + f" ({protocol_name(rule.ip_protocol)})"
