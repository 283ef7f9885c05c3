"""Explain: what the flow logs would record for one request and its reply, and why.

A pure function over a topology. It runs the real ``PolicyEngine`` (the very code the data plane
uses) on a one-packet request and, when the request got through, on its reply one second later
(so the reply meets the connection the request opened): every observation point, the checks
that ran (security group, network ACL) and the rule that decided.

The reply: ports and addresses swapped; TCP SYN answered by SYN-ACK; ICMP echo request (8) by
echo reply (0), ICMPv6 128 by 129; other ICMP types get no reply (they are not requests). A request
rejected anywhere on its path, or not delivered, has no reply (spec 2.3: "one REJECT record").
A request to an unmodelled address is assumed to be answered by that host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.attribute.engine import Decision, PolicyEngine
from vpcflow.dataplane.attribute.plan import ServiceLookup
from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch, ip_to_pair
from vpcflow.model.topology.model import Topology

PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}
SYN, ACK = 2, 16


@dataclass(frozen=True, slots=True)
class Observation:
    interface_id: str
    direction: str
    action: str  # ACCEPT / REJECT / NOT_CAPTURED
    decided_by: str
    checks: tuple[dict[str, str], ...]
    srcaddr: str
    dstaddr: str
    pkt_srcaddr: str
    pkt_dstaddr: str
    traffic_path: int | None
    peer_interface_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "interface_id": self.interface_id,
            "direction": self.direction,
            "action": self.action,
            "decided_by": self.decided_by,
            "checks": list(self.checks),
            "srcaddr": self.srcaddr,
            "dstaddr": self.dstaddr,
            "pkt_srcaddr": self.pkt_srcaddr,
            "pkt_dstaddr": self.pkt_dstaddr,
            "traffic_path": self.traffic_path,
            "peer_interface_id": self.peer_interface_id,
        }


@dataclass(frozen=True, slots=True)
class Leg:
    """The request or the reply: its packet and what each observation point recorded."""

    src: str
    dst: str
    protocol: int
    sport: int
    dport: int
    icmp_type: int | None
    icmp_code: int | None
    observations: tuple[Observation, ...]
    delivered: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "src": self.src, "dst": self.dst, "protocol": self.protocol, "sport": self.sport, "dport": self.dport,
            "icmp_type": self.icmp_type, "icmp_code": self.icmp_code,
            "observations": [o.as_dict() for o in self.observations],
            "path": [f"{o.interface_id} {o.direction}" for o in self.observations],
            "delivered": self.delivered, "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    request: Leg
    reply: Leg | None
    reply_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = self.request.as_dict()
        out["request"] = self.request.as_dict()
        out["reply"] = self.reply.as_dict() if self.reply else None
        out["reply_note"] = self.reply_note
        return out


def parse_protocol(text: str) -> int:
    """``tcp``/``udp``/``icmp``/``icmpv6`` or a protocol number 0..255."""
    t = text.strip().lower()
    if t in PROTOCOLS:
        return PROTOCOLS[t]
    try:
        n = int(t)
    except ValueError:
        raise ConfigError(f"unknown protocol {text!r}: use tcp, udp, icmp, icmpv6 or a number 0-255",
                          key_path="--protocol") from None
    if not 0 <= n <= 255:
        raise ConfigError(f"protocol number {n} is outside 0-255", key_path="--protocol")
    return n


def _one_packet(src: str, dst: str, protocol: int, sport: int, dport: int, itype: int, icode: int, flags: int,
                t_ns: int) -> PacketBatch:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version != d.version:
        raise ConfigError(f"--src {src} and --dst {dst} are not the same IP version")
    icmp = protocol in (1, 58)
    ports = protocol in (6, 17)
    sh, sl = ip_to_pair(s)
    dh, dl = ip_to_pair(d)
    values = {
        "ts_ns": t_ns, "ip_version": s.version, "src_hi": sh, "src_lo": sl, "dst_hi": dh, "dst_lo": dl,
        "protocol": protocol, "src_port": sport if ports else 0, "dst_port": dport if ports else 0,
        "icmp_type": itype if icmp else -1, "icmp_code": icode if icmp else -1, "ip_len": 60,
        "tcp_flags": flags if protocol == 6 else 0, "fragment": 0, "iface": -1,
    }
    cols: dict[str, Any] = {k: np.array([values[k]], dtype=t) for k, t in PACKET_DTYPES.items()}
    return PacketBatch(**cols)


def _observation(d: Decision) -> Observation:
    checks = []
    for kind, ref in (("security_group", d.security_group), ("network_acl", d.network_acl)):
        if ref is not None:
            checks.append({"check": kind, **ref.as_dict()})
    return Observation(d.interface_id, d.direction, d.action, d.decided_by.text, tuple(checks), d.srcaddr,
                       d.dstaddr, d.pkt_srcaddr, d.pkt_dstaddr, d.traffic_path, d.peer_interface_id)


def _leg(engine: PolicyEngine, src: str, dst: str, protocol: int, sport: int, dport: int, itype: int, icode: int,
         flags: int, t_ns: int) -> Leg:
    before_nc = dict(engine.not_captured)
    before_un = engine.unattributed
    batch = _one_packet(src, dst, protocol, sport, dport, itype, icode, flags, t_ns)
    obs = engine.observe(batch)
    icmp = protocol in (1, 58)
    it, ic = (itype, icode) if icmp else (None, None)
    category = next((k for k, v in engine.not_captured.items() if v != before_nc.get(k, 0)), None)
    if category is not None:
        plan = engine.plan(src, dst)
        observations = tuple(
            Observation(engine.enis[p.eni], "egress" if p.direction == 1 else "ingress", "NOT_CAPTURED",
                        f"not captured: {category} (spec 2.7)", (), str(p.rec_src), str(p.rec_dst), str(p.pkt_src),
                        str(p.pkt_dst), p.traffic_path if p.traffic_path >= 0 else None,
                        engine.enis[p.peer_eni] if p.peer_eni >= 0 else None)
            for p in plan.points
        )
        return Leg(src, dst, protocol, sport, dport, it, ic, observations, True,
                   f"not captured by flow logs: {category} (spec 2.7)")
    if engine.unattributed != before_un:
        return Leg(src, dst, protocol, sport, dport, it, ic, (), True,
                   "neither address belongs to a modelled network interface: nothing is recorded")
    observations = tuple(_observation(d) for d in engine.decisions(obs))
    delivered = all(o.action == "ACCEPT" for o in observations)
    return Leg(src, dst, protocol, sport, dport, it, ic, observations, delivered,
               "" if delivered else "rejected: the packet does not reach its destination")


def explain(topology: Topology, src: str, dst: str, protocol: int | str, *, sport: int = 0, dport: int = 0,
            icmp_type: int | None = None, icmp_code: int | None = None,
            ip_ranges: ServiceLookup | None = None) -> Explanation:
    """Observation points, checks and actions for a request from ``src`` to ``dst`` and its reply."""
    proto = parse_protocol(protocol) if isinstance(protocol, str) else protocol
    for name, port in (("--sport", sport), ("--dport", dport)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"port {port} is outside 0-65535", key_path=name)
    for a, name in ((src, "--src"), (dst, "--dst")):
        try:
            ipaddress.ip_address(a)
        except ValueError:
            raise ConfigError(f"{a!r} is not an IP address", key_path=name) from None
    if proto in (1, 58):
        default_type = 8 if proto == 1 else 128
        itype = default_type if icmp_type is None else icmp_type
        icode = 0 if icmp_code is None else icmp_code
    else:
        itype, icode = -1, -1
    engine = PolicyEngine(topology, ip_ranges=ip_ranges)
    request = _leg(engine, src, dst, proto, sport, dport, itype, icode, SYN, 0)
    if not request.delivered:
        return Explanation(request, None, "no reply: the request was rejected (spec 2.3)")
    if not request.observations and request.note.startswith("neither"):
        return Explanation(request, None, "no reply: nothing modelled on the path")
    if proto in (1, 58):
        replies = {8: 0, 128: 129, 13: 14, 15: 16, 17: 18}
        if itype not in replies:
            return Explanation(request, None, f"no reply: ICMP type {itype} is not a request")
        r_type, r_code = replies[itype], 0
    else:
        r_type, r_code = -1, -1
    reply = _leg(engine, dst, src, proto, dport, sport, r_type, r_code, SYN | ACK, 1_000_000_000)
    return Explanation(request, reply)
