"""The decision table: every rule that can decide a packet, as structured ``RuleRef`` objects.

Each observation carries ONE int32 index into this table (``ObservationBatch.rule``) and the engine
also keeps the index of the security-group check and of the network-ACL check separately, so
``explain`` and reports can show every check. Entries are created once, when the engine is built:

* one per security-group rule (a prefix-list rule is one entry, however many CIDRs it expands to),
* one "default deny" per (security group set of an ENI, direction) - AWS security groups have no
  deny rules, a packet no rule allows is rejected,
* one "response to a tracked connection" and one "connection closed" per (ENI, direction),
* one per network-ACL entry, plus an implicit ``*`` deny per (NACL, direction) used when the
  topology did not list the ``*`` entries (the loader normally adds them as rule 32767),
* one "no security group" per ENI direction (NAT gateway / transit gateway ENIs have none).

Address helpers turn ``ipaddress`` networks into the 128-bit (hi, lo, mask) form the kernels use
(IPv4 mapped into ``::ffff:0:0/96`` exactly as ``dataplane.packets`` stores addresses).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

RuleKind = Literal[
    "security_group_rule",
    "security_group_default_deny",
    "no_security_group",
    "conntrack_response",
    "conntrack_closed",
    "network_acl_entry",
    "network_acl_default_deny",
]

_M64 = (1 << 64) - 1
V4_MAPPED = 0xFFFF << 32


@dataclass(frozen=True, slots=True)
class RuleRef:
    """One thing that can decide a packet.

    ``resource_id``: the security group (``sg-``), network ACL (``acl-``) or ENI (``eni-``) whose rule it is.
    ``rule_id``: the security-group rule id (``sgr-``), the NACL rule number (``"100"``, ``"*"``), or ``""``.
    ``direction``: ``ingress``/``egress`` for security groups, ``inbound``/``outbound`` for NACLs.
    """

    kind: RuleKind
    resource_id: str
    direction: str
    rule_id: str
    action: Literal["allow", "deny"]
    text: str

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "resource_id": self.resource_id,
            "direction": self.direction,
            "rule_id": self.rule_id,
            "action": self.action,
            "text": self.text,
        }


class RuleTable:
    """Append-only list of ``RuleRef`` with de-duplication; index = position."""

    def __init__(self) -> None:
        self.refs: list[RuleRef] = []
        self._index: dict[RuleRef, int] = {}

    def add(self, ref: RuleRef) -> int:
        idx = self._index.get(ref)
        if idx is None:
            idx = len(self.refs)
            self.refs.append(ref)
            self._index[ref] = idx
        return idx

    def texts(self) -> tuple[str, ...]:
        return tuple(r.text for r in self.refs)

    def __len__(self) -> int:
        return len(self.refs)


def net_to_words(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int, int, int]:
    """(net_hi, net_lo, mask_hi, mask_lo) of a network in the IPv4-mapped 128-bit space."""
    if net.version == 4:
        value = V4_MAPPED | int(net.network_address)
        prefix = 96 + net.prefixlen
    else:
        value = int(net.network_address)
        prefix = net.prefixlen
    mask = ((1 << prefix) - 1) << (128 - prefix) if prefix else 0
    value &= mask
    return value >> 64, value & _M64, mask >> 64, mask & _M64


PROTOCOL_NAMES = {-1: "all", 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}


def protocol_name(p: int) -> str:
    return PROTOCOL_NAMES.get(p, str(p))


def describe_ports(protocol: int, lo: int | None, hi: int | None) -> str:
    """Human text for a port range or ICMP type/code (AWS conventions: -1 = all)."""
    if protocol == -1:
        return "all traffic"
    name = protocol_name(protocol)
    if protocol in (1, 58):
        t = "all types" if lo is None or lo == -1 else f"type {lo}"
        c = "" if hi is None or hi == -1 else f" code {hi}"
        return f"{name} {t}{c}"
    if protocol in (6, 17):
        if lo is None or lo == -1 or (lo == 0 and hi == 65535):
            return f"{name} all ports"
        return f"{name} {lo}" if lo == hi else f"{name} {lo}-{hi}"
    return name


#: The match columns every compiled rule set starts with, in row order, and their dtypes.
MATCH_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("proto", np.int16), ("port_lo", np.int32), ("port_hi", np.int32), ("icmp_type", np.int16),
    ("icmp_code", np.int16), ("family", np.uint8), ("net_hi", np.uint64), ("net_lo", np.uint64),
    ("mask_hi", np.uint64), ("mask_lo", np.uint64),
)


def rule_columns(rows: list[tuple[Any, ...]], extra: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Rule rows (match columns, then ``extra``) as one numpy array per column, keyed by name."""
    spec = (*MATCH_COLUMNS, *extra)
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(spec)
    return {name: np.array(col, dtype) for (name, dtype), col in zip(spec, cols, strict=True)}
