"""A slow, obviously-correct, per-packet reference of the policy engine's decisions (plain Python).

Independent of the compiled kernels: security-group rules, NACL entries and connection tracking are
evaluated straight from the topology dataclasses for every packet, in order. Attribution points come
from ``attribute_plan.Planner`` (already plain Python, per address pair). Decisions are reported as
(kind, resource_id, direction, rule_id) so they compare with the engine's ``RuleRef``s.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from vpcflow.dataplane.attribute.plan import Planner
from vpcflow.dataplane.evaluate.conntrack import ConntrackTimeouts
from vpcflow.dataplane.evaluate.security_groups import AUTO_TRACKED_TYPES
from vpcflow.dataplane.packets import pair_to_ip
from vpcflow.model.topology.model import NetworkAcl, NetworkInterface, SecurityGroupRule, Topology

SG_DIR = ("ingress", "egress")
ACL_DIR = ("inbound", "outbound")


@dataclass
class Entry:
    orig_dir: int
    last: int
    rule: tuple
    fin_orig: bool = False
    fin_reply: bool = False
    closed: bool = False
    # Which sides sent their final ACK of a close (each may send one after both FINs).
    final_ack: set[int] = field(default_factory=set)
    stream: bool = False
    last_dir: int = 0
    changes: int = 0


class ReferenceEngine:
    def __init__(self, topo: Topology, timeouts: ConntrackTimeouts | None = None) -> None:
        self.topo = topo
        self.enis: tuple[NetworkInterface, ...] = tuple(topo.network_interfaces)
        self.acls: tuple[NetworkAcl, ...] = tuple(topo.network_acls)
        self.planner = Planner(topo, self.enis, tuple(a.network_acl_id for a in self.acls))
        self.t = timeouts or ConntrackTimeouts()
        self.ct: dict[tuple, Entry] = {}
        self.not_captured: dict[str, int] = {}
        self.unattributed = 0

    # ---------------------------------------------------------------- rules
    def _sg_rules(self, eni: NetworkInterface, egress: bool) -> list[SecurityGroupRule]:
        out: list[SecurityGroupRule] = []
        for g in eni.groups:
            sg = self.topo.security_groups_by_id.get(g)
            if sg is not None:
                out.extend(sg.egress if egress else sg.ingress)
        return out

    def _peer_match(self, r: SecurityGroupRule, remote: Any, remote_eni: int) -> tuple[bool, bool]:
        """(matches, via a /0 CIDR)."""
        for c in (r.cidr_ipv4, r.cidr_ipv6):
            if c is not None and c.version == remote.version and remote in c:
                return True, c.prefixlen == 0
        if r.prefix_list_id is not None:
            pl = self.topo.prefix_lists_by_id.get(r.prefix_list_id)
            for c in pl.cidrs if pl else ():
                if c.version == remote.version and remote in c:
                    return True, False
        if r.referenced_group_id is not None and remote_eni >= 0 \
                and r.referenced_group_id in self.enis[remote_eni].groups \
                and r.referenced_group_id in self.topo.security_groups_by_id:
            return True, False
        return False, False

    @staticmethod
    def _proto_match(rp: int, lo: int | None, hi: int | None, p: dict, is_nacl: bool) -> bool:
        if rp == -1:
            return True
        if rp != p["proto"]:
            return False
        if p["frag2"]:
            return True
        if rp in (6, 17):
            if lo is None or lo == -1:
                return True
            return lo <= p["dport"] <= (hi if hi is not None else lo)
        if rp in (1, 58):
            if lo is not None and lo != -1 and lo != p["itype"]:
                return False
            return not (hi is not None and hi != -1 and hi != p["icode"])
        return True

    def sg_static(self, e: int, d: int, p: dict, remote: Any, remote_eni: int) -> tuple[tuple | None, bool]:
        first = None
        any0 = False
        for r in self._sg_rules(self.enis[e], d == 1):
            if not self._proto_match(r.ip_protocol, r.from_port, r.to_port, p, False):
                continue
            ok, s0 = self._peer_match(r, remote, remote_eni)
            if ok:
                if first is None:
                    first = ("security_group_rule", r.group_id, SG_DIR[d], r.security_group_rule_id)
                any0 = any0 or s0
        return first, any0

    def _open_all(self, e: int, d: int, proto: int, version: int) -> bool:
        for r in self._sg_rules(self.enis[e], d == 1):
            if r.ip_protocol not in (-1, proto):
                continue
            if r.ip_protocol != -1 and r.from_port not in (None, -1) and not (r.from_port == 0 and r.to_port == 65535):
                continue
            for c in (r.cidr_ipv4, r.cidr_ipv6):
                if c is not None and c.prefixlen == 0 and c.version == version:
                    return True
        return False

    def nacl(self, a: int, d: int, p: dict, addr: Any) -> tuple[tuple, bool]:
        acl = self.acls[a]
        for en in sorted((x for x in acl.entries if x.egress == (d == 1)), key=lambda x: x.rule_number):
            lo = en.port_from if en.protocol in (6, 17) else en.icmp_type
            hi = en.port_to if en.protocol in (6, 17) else en.icmp_code
            if not self._proto_match(en.protocol, lo, hi, p, True):
                continue
            c = en.cidr_block if addr.version == 4 else en.ipv6_cidr_block
            if c is None or addr not in c:
                continue
            num = "*" if en.rule_number == 32767 else str(en.rule_number)
            return ("network_acl_entry", acl.network_acl_id, ACL_DIR[d], num), en.rule_action == "allow"
        return ("network_acl_default_deny", acl.network_acl_id, ACL_DIR[d], "*"), False

    # ---------------------------------------------------------------- conntrack
    def _timeout_ns(self, key: tuple, en: Entry) -> int:
        t = self.t
        proto = key[1]
        if en.closed:
            s = t.closed_linger_s
        elif proto == 6:
            s = t.tcp_established_s
        elif proto == 17:
            s = t.udp_stream_s if en.stream else t.udp_s
        elif proto in (1, 58):
            s = t.icmp_s
        else:
            s = t.other_s
        return s * 1_000_000_000

    def sg_decide(self, e: int, d: int, p: dict, local: Any, remote: Any, remote_eni: int) -> tuple[bool, tuple]:
        eni = self.enis[e]
        eid = eni.network_interface_id
        if not eni.groups:
            return True, ("no_security_group", eid, SG_DIR[d], "")
        proto = p["proto"]
        if proto in (6, 17):
            lport, rport = (p["sport"], p["dport"]) if d == 1 else (p["dport"], p["sport"])
        else:
            lport = rport = 0
        key = (e, proto, local, remote, lport, rport)
        now, flags = p["ts"], p["flags"]
        en = self.ct.get(key)
        if en is not None and now - en.last <= self._timeout_ns(key, en):
            rule = en.rule if d == en.orig_dir else ("conntrack_response", eid, SG_DIR[d], "")
            if en.closed:
                # A pure ACK (flags 0x10 among FIN..URG) from a side without its final ACK yet, after
                # both FINs: part of the close (a simultaneous close has two of them).
                if en.fin_orig and en.fin_reply and d not in en.final_ack and flags & 0x3F == 16:
                    en.final_ack.add(d)
                    en.last = now
                    return True, rule
                new_syn = proto == 6 and flags & 2 and not flags & 16
                if not new_syn:
                    return False, ("conntrack_closed", eid, SG_DIR[d], "")
            else:
                en.last = now
                if d != en.last_dir:
                    en.changes = min(255, en.changes + 1)
                    en.last_dir = d
                if proto == 17 and en.changes >= 3:
                    en.stream = True
                if proto == 6:
                    if flags & 4:
                        en.closed = True
                        en.final_ack = {0, 1}
                    elif flags & 1:
                        if d == en.orig_dir:
                            en.fin_orig = True
                        else:
                            en.fin_reply = True
                    elif en.fin_orig and en.fin_reply:
                        en.closed = True
                        en.final_ack.add(d)
                return True, rule
        first, any0 = self.sg_static(e, d, p, remote, remote_eni)
        if first is None:
            return False, ("security_group_default_deny", ",".join(eni.groups), SG_DIR[d], "")
        auto = eni.interface_type in AUTO_TRACKED_TYPES or (
            remote_eni >= 0 and self.enis[remote_eni].interface_type in AUTO_TRACKED_TYPES)
        rev = dict(p, dport=p["sport"])
        _, rev_any0 = self.sg_static(e, 1 - d, rev, remote, remote_eni)
        untracked = proto in (6, 17) and not auto and (
            (any0 and self._open_all(e, 1 - d, proto, p["version"]))
            or (rev_any0 and self._open_all(e, d, proto, p["version"])))
        if not untracked:
            reset = bool(proto == 6 and flags & 4)
            self.ct[key] = Entry(orig_dir=d, last=now, rule=first, last_dir=d, closed=reset,
                                 final_ack={0, 1} if reset else set())
        return True, first

    # ---------------------------------------------------------------- packets
    def observe(self, batch: Any) -> list[tuple]:
        """[(packet, eni_id, direction, action, (kind, resource, dir, rule_id))] for one batch."""
        out: list[tuple] = []
        index = {e.network_interface_id: i for i, e in enumerate(self.enis)}
        for i in range(len(batch)):
            src = pair_to_ip(batch.src_hi[i], batch.src_lo[i])
            dst = pair_to_ip(batch.dst_hi[i], batch.dst_lo[i])
            proto = int(batch.protocol[i])
            icmp = proto in (1, 58)
            p = {
                "ts": int(batch.ts_ns[i]), "proto": proto, "sport": int(batch.src_port[i]),
                "dport": int(batch.dst_port[i]), "itype": int(batch.icmp_type[i]) if icmp else -1,
                "icode": int(batch.icmp_code[i]) if icmp else -1, "flags": int(batch.tcp_flags[i]),
                "frag2": int(batch.fragment[i]) == 2, "version": int(batch.ip_version[i]),
            }
            f = int(batch.iface[i])
            label = index.get(batch.interfaces[f], -1) if 0 <= f < len(batch.interfaces) else -1
            sp, dp = p["sport"], p["dport"]
            if proto == 17 and {sp, dp} in ({67, 68}, {546, 547}) and sp != dp:
                cat: str | None = "dhcp"
            elif proto == 17 and dp == 4789:
                cat = "mirrored"
            else:
                plan = self.planner.plan(label, src, dst)
                cat = plan.category
            if cat == "unattributed":
                self.unattributed += 1
                continue
            if cat is not None:
                self.not_captured[cat] = self.not_captured.get(cat, 0) + 1
                continue
            for pt in plan.points:
                d = pt.direction
                remote = pt.pkt_dst if d == 1 else pt.pkt_src
                local = pt.pkt_src if d == 1 else pt.pkt_dst
                eid = self.enis[pt.eni].network_interface_id
                nacl = self.nacl(pt.nacl, d, p, remote) if pt.nacl >= 0 else None
                fields = (str(pt.rec_src), str(pt.rec_dst), str(pt.pkt_src), str(pt.pkt_dst), pt.traffic_path,
                          pt.peer_eni)
                if d == 0:
                    if nacl is not None and not nacl[1]:
                        out.append((i, eid, "ingress", "REJECT", nacl[0], *fields))
                        break
                    ok, rule = self.sg_decide(pt.eni, d, p, local, remote, pt.remote_eni)
                else:
                    ok, rule = self.sg_decide(pt.eni, d, p, local, remote, pt.remote_eni)
                    if ok and nacl is not None and not nacl[1]:
                        out.append((i, eid, "egress", "REJECT", nacl[0], *fields))
                        break
                if ok and not self.enis[pt.eni].groups and nacl is not None:
                    rule = nacl[0]
                out.append((i, eid, SG_DIR[d], "ACCEPT" if ok else "REJECT", rule, *fields))
                if not ok:
                    break
        return out


def engine_rows(engine: Any, obs: Any) -> list[tuple]:
    refs = engine.table.refs
    out = []
    for i in range(len(obs)):
        r = refs[int(obs.rule[i])]
        out.append((int(obs.packet[i]), obs.enis[obs.eni[i]], "egress" if obs.direction[i] else "ingress",
                    "ACCEPT" if obs.action[i] == 0 else "REJECT", (r.kind, r.resource_id, r.direction, r.rule_id),
                    str(pair_to_ip(obs.src_hi[i], obs.src_lo[i])), str(pair_to_ip(obs.dst_hi[i], obs.dst_lo[i])),
                    str(pair_to_ip(obs.pkt_src_hi[i], obs.pkt_src_lo[i])),
                    str(pair_to_ip(obs.pkt_dst_hi[i], obs.pkt_dst_lo[i])), int(obs.traffic_path[i]),
                    int(obs.peer_eni[i])))
    return out


__all__ = ["ReferenceEngine", "engine_rows", "ipaddress"]
