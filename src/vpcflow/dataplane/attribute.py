"""Attribution + evaluation: ``PolicyEngine`` turns ``PacketBatch``es into ``ObservationBatch``es.

Per batch, columnar and in three steps:

1. Distinct flows: one numba hash pass gives every packet a flow id over (capture ENI, protocol,
   addresses, ports, ICMP type/code, later-fragment bit). Flows whose ports say DHCP or mirrored
   traffic are marked not captured.
2. Per distinct flow: its attribution PLAN (cached per (capture ENI, source, destination) across
   batches, see ``attribute_plan``), then the stateless checks of every observation point -
   security-group rule match and network-ACL first match (numba kernels over the compiled rules).
   Rule counts only cost here, once per distinct flow, never per packet.
3. Per packet, in time order: the connection-tracking kernel (``evaluate.conntrack``) combines the
   tracked state with the precomputed checks and emits the observation rows.

A packet whose capture interface label is a modelled ENI is observed ONLY at that ENI, so captures
of several instances merged together never count a packet twice. Unlabelled packets are observed
at every modelled ENI on their path. Not-captured traffic (spec 2.7) is dropped and counted per
category in ``not_captured``; packets between two unmodelled addresses in ``unattributed``.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.attribute_plan import NOT_CAPTURED_CATEGORIES, ObsPoint, Plan, Planner, ServiceLookup
from vpcflow.dataplane.evaluate.conntrack import ConntrackTable, ConntrackTimeouts, decide_packets
from vpcflow.dataplane.evaluate.hashing import PersistentMap, unique_rows
from vpcflow.dataplane.evaluate.network_acls import compile_network_acls, nacl_match
from vpcflow.dataplane.evaluate.rules import RuleRef, RuleTable
from vpcflow.dataplane.evaluate.security_groups import compile_security_groups, sg_match
from vpcflow.dataplane.packets import ObservationBatch, PacketBatch, ip_to_pair, pair_to_ip
from vpcflow.model.topology.model import Topology

_M64 = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
MAX_POINTS = 4


@dataclass(frozen=True, slots=True)
class Decision:
    """The structured form of one observation: who saw it and every check that ran."""

    packet: int
    interface_id: str
    direction: str  # "ingress" / "egress"
    action: str  # "ACCEPT" / "REJECT"
    decided_by: RuleRef
    security_group: RuleRef | None  # None: not evaluated (dropped by the NACL first)
    network_acl: RuleRef | None  # None: no subnet boundary crossed, or never reached it
    srcaddr: str
    dstaddr: str
    pkt_srcaddr: str
    pkt_dstaddr: str
    traffic_path: int | None
    peer_interface_id: str | None


def load_ip_ranges(path: str | Path) -> ServiceLookup:
    """Read an AWS ``ip-ranges.json`` (or the shipped sample) into a lookup."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read ip-ranges file: {e}", location=str(path)) from e
    if not isinstance(doc, dict) or "prefixes" not in doc:
        raise ConfigError("not an AWS ip-ranges.json document (no 'prefixes')", location=str(path))
    return ServiceLookup(doc)


def sample_ip_ranges_path() -> Path:
    """The small ip-ranges sample shipped with vpcflow (AWS's shape; includes S3 52.95.128.0/21)."""
    return Path(__file__).resolve().parent.parent / "data" / "ip-ranges-sample.json"


class PolicyEngine:
    """Stateful (connection tracking carries across batches) attribution and evaluation."""

    def __init__(self, topology: Topology, *, ip_ranges: ServiceLookup | str | Path | None = None,
                 timeouts: ConntrackTimeouts | None = None) -> None:
        self.topology = topology
        if ip_ranges is not None and not isinstance(ip_ranges, ServiceLookup):
            ip_ranges = load_ip_ranges(ip_ranges)
        eni_objs = tuple(topology.network_interfaces)
        self.enis: tuple[str, ...] = tuple(e.network_interface_id for e in eni_objs)
        self._eni_index = {e: i for i, e in enumerate(self.enis)}
        acls = tuple(topology.network_acls)
        self.table = RuleTable()
        self.sg = compile_security_groups(topology, eni_objs, self.table)
        self.nacl = compile_network_acls(acls, self.table)
        self.rules: tuple[str, ...] = self.table.texts()
        self.planner = Planner(topology, eni_objs, tuple(a.network_acl_id for a in acls), ip_ranges)
        self.timeouts = timeouts or ConntrackTimeouts()
        self._timeouts = self.timeouts.as_array()
        self.conntrack = ConntrackTable()
        self.not_captured: dict[str, int] = dict.fromkeys(NOT_CAPTURED_CATEGORIES, 0)
        self.unattributed = 0
        self.services: list[str] = []
        self._service_index: dict[str, int] = {}
        self._plan_map = PersistentMap(5)
        self._plans: list[Plan] = []
        self._plan_arrays: dict[str, np.ndarray] = {}
        self._plans_dirty = True
        self._last: dict[str, Any] | None = None

    # ------------------------------------------------------------------ plans
    def _service_code(self, name: str | None) -> int:
        if name is None:
            return -1
        idx = self._service_index.get(name)
        if idx is None:
            idx = self._service_index[name] = len(self.services)
            self.services.append(name)
        return idx

    def _rebuild_plan_arrays(self) -> None:
        p = len(self._plans)
        a: dict[str, np.ndarray] = {
            "category": np.zeros(p, np.int16),
            "eni": np.full((p, MAX_POINTS), -1, np.int32),
            "dir": np.zeros((p, MAX_POINTS), np.uint8),
            "tpath": np.full((p, MAX_POINTS), -1, np.int8),
            "peer": np.full((p, MAX_POINTS), -1, np.int32),
            "remote_eni": np.full((p, MAX_POINTS), -1, np.int32),
            "nacl": np.full((p, MAX_POINTS), -1, np.int64),
            "ssvc": np.full((p, MAX_POINTS), -1, np.int16),
            "dsvc": np.full((p, MAX_POINTS), -1, np.int16),
        }
        for name in ("rsrc", "rdst", "psrc", "pdst"):
            a[name + "_hi"] = np.zeros((p, MAX_POINTS), np.uint64)
            a[name + "_lo"] = np.zeros((p, MAX_POINTS), np.uint64)
        cat_codes = {c: i + 1 for i, c in enumerate(NOT_CAPTURED_CATEGORIES)}
        for i, plan in enumerate(self._plans):
            a["category"][i] = -1 if plan.category == "unattributed" else cat_codes.get(plan.category or "", 0)
            for j, pt in enumerate(plan.points[:MAX_POINTS]):
                a["eni"][i, j] = pt.eni
                a["dir"][i, j] = pt.direction
                a["tpath"][i, j] = pt.traffic_path
                a["peer"][i, j] = pt.peer_eni
                a["remote_eni"][i, j] = pt.remote_eni
                a["nacl"][i, j] = pt.nacl
                a["ssvc"][i, j] = self._service_code(pt.src_service)
                a["dsvc"][i, j] = self._service_code(pt.dst_service)
                for name, addr in (("rsrc", pt.rec_src), ("rdst", pt.rec_dst), ("psrc", pt.pkt_src),
                                   ("pdst", pt.pkt_dst)):
                    a[name + "_hi"][i, j], a[name + "_lo"][i, j] = ip_to_pair(addr)
        self._plan_arrays = a
        self._plans_dirty = False

    def _plans_for(self, label: np.ndarray, s_hi: np.ndarray, s_lo: np.ndarray, d_hi: np.ndarray,
                   d_lo: np.ndarray) -> npt.NDArray[np.int32]:
        keys = np.stack([label.astype(np.int64).astype(np.uint64), s_hi, s_lo, d_hi, d_lo], axis=1)
        ids = self._plan_map.lookup(keys)
        missing = np.nonzero(ids < 0)[0]
        if missing.size:
            ukeys_inv, ufirst = unique_rows(keys[missing])
            new_ids = np.empty(ufirst.shape[0], np.int32)
            for k, row in enumerate(ufirst):
                i = missing[row]
                plan = self.planner.plan(int(label[i]), pair_to_ip(s_hi[i], s_lo[i]), pair_to_ip(d_hi[i], d_lo[i]))
                new_ids[k] = len(self._plans)
                self._plans.append(plan)
            self._plan_map.insert(keys[missing][ufirst], new_ids)
            ids[missing] = new_ids[ukeys_inv]
            self._plans_dirty = True
        if self._plans_dirty:
            self._rebuild_plan_arrays()
        return ids

    # ------------------------------------------------------------------ observe
    def _labels(self, batch: PacketBatch) -> npt.NDArray[np.int32]:
        table = np.array([self._eni_index.get(name, -1) for name in batch.interfaces] + [-1], np.int32)
        iface = batch.iface.astype(np.int64)
        iface = np.where((iface < 0) | (iface >= len(batch.interfaces)), len(batch.interfaces), iface)
        return table[iface]

    def observe(self, batch: PacketBatch) -> ObservationBatch:
        """Attribute and evaluate one batch (packets in time order, after the previous batch)."""
        n = len(batch)
        label = self._labels(batch)
        frag2 = batch.fragment == 2
        proto = batch.protocol
        icmp = (proto == 1) | (proto == 58)
        itype = np.where(icmp, batch.icmp_type, -1).astype(np.int64)
        icode = np.where(icmp, batch.icmp_code, -1).astype(np.int64)
        k0 = ((label.astype(np.int64) + 1).astype(np.uint64) << np.uint64(48)) | (
            proto.astype(np.uint64) << np.uint64(40)) | (frag2.astype(np.uint64) << np.uint64(39))
        k1 = (batch.src_port.astype(np.uint64) << np.uint64(48)) | (batch.dst_port.astype(np.uint64) << np.uint64(32)) \
            | (((itype + 1) & 0xFFFF).astype(np.uint64) << np.uint64(16)) | ((icode + 1) & 0xFFFF).astype(np.uint64)
        inv, first = unique_rows(np.stack([k0, k1, batch.src_hi, batch.src_lo, batch.dst_hi, batch.dst_lo], axis=1))
        u = first.shape[0]
        f_label = label[first]
        f_proto = proto[first].astype(np.int16)
        f_sport = batch.src_port[first].astype(np.int32)
        f_dport = batch.dst_port[first].astype(np.int32)
        f_itype, f_icode = itype[first].astype(np.int16), icode[first].astype(np.int16)
        f_frag2 = frag2[first]
        f_ver = batch.ip_version[first]
        plan_id = self._plans_for(f_label, batch.src_hi[first], batch.src_lo[first], batch.dst_hi[first],
                                  batch.dst_lo[first])
        pa = self._plan_arrays
        category = pa["category"][plan_id].astype(np.int16)
        # Port-defined categories (spec 2.7) take precedence over address-defined ones.
        udp = f_proto == 17
        dhcp = udp & (((f_sport == 68) & (f_dport == 67)) | ((f_sport == 67) & (f_dport == 68))
                      | ((f_sport == 546) & (f_dport == 547)) | ((f_sport == 547) & (f_dport == 546)))
        mirrored = udp & (f_dport == 4789)
        category = np.where(mirrored, 2, category)
        category = np.where(dhcp, 1, category)

        eni = pa["eni"][plan_id].copy()  # (u, 4)
        eni[category != 0] = -1
        direction = pa["dir"][plan_id]
        # Stateless checks for every (flow, point).
        fi, jj = np.nonzero(eni >= 0)
        e_q = eni[fi, jj]
        d_q = direction[fi, jj]
        remote_is_dst = d_q == 1
        r_hi = np.where(remote_is_dst, pa["pdst_hi"][plan_id[fi], jj], pa["psrc_hi"][plan_id[fi], jj])
        r_lo = np.where(remote_is_dst, pa["pdst_lo"][plan_id[fi], jj], pa["psrc_lo"][plan_id[fi], jj])
        l_hi = np.where(remote_is_dst, pa["psrc_hi"][plan_id[fi], jj], pa["pdst_hi"][plan_id[fi], jj])
        l_lo = np.where(remote_is_dst, pa["psrc_lo"][plan_id[fi], jj], pa["pdst_lo"][plan_id[fi], jj])
        sg = self.sg
        slot = e_q.astype(np.int64) * 2 + d_q
        sg_rule, any0 = sg_match(
            sg.proto, sg.port_lo, sg.port_hi, sg.icmp_type, sg.icmp_code, sg.family, sg.net_hi, sg.net_lo,
            sg.mask_hi, sg.mask_lo, sg.ref_group, sg.slash0, sg.rule_id, sg.start, sg.end, sg.member,
            slot, f_ver[fi], f_proto[fi], f_dport[fi], f_itype[fi], f_icode[fi], f_frag2[fi], r_hi, r_lo,
            pa["remote_eni"][plan_id[fi], jj],
        )
        # Untracked flows (AWS "untracked connections"): TCP/UDP allowed by a /0 rule in one direction
        # while the other direction allows /0 on all ports. Both the initiating packet (A) and the
        # responses of such a flow (B: the reversed packet would match a /0 rule the other way) are
        # untracked, unless the ENI or its peer is of an automatically tracked type.
        fam = (f_ver[fi] == 6).astype(np.int64)
        pidx = np.where(f_proto[fi] == 17, 1, 0)
        open_this = sg.open_all[slot, fam, pidx]
        rslot = e_q.astype(np.int64) * 2 + (1 - d_q)
        open_other = sg.open_all[rslot, fam, pidx]
        _, rev_any0 = sg_match(
            sg.proto, sg.port_lo, sg.port_hi, sg.icmp_type, sg.icmp_code, sg.family, sg.net_hi, sg.net_lo,
            sg.mask_hi, sg.mask_lo, sg.ref_group, sg.slash0, sg.rule_id, sg.start, sg.end, sg.member,
            rslot, f_ver[fi], f_proto[fi], f_sport[fi], f_itype[fi], f_icode[fi], f_frag2[fi], r_hi, r_lo,
            pa["remote_eni"][plan_id[fi], jj],
        )
        remote_eni = pa["remote_eni"][plan_id[fi], jj]
        remote_auto = np.where(remote_eni >= 0, sg.auto_tracked[np.maximum(remote_eni, 0)], False)
        untracked = ((f_proto[fi] == 6) | (f_proto[fi] == 17)) & ((any0 & open_other) | (rev_any0 & open_this)) \
            & ~sg.auto_tracked[e_q] & ~remote_auto
        nacl_idx = pa["nacl"][plan_id[fi], jj]
        has_nacl = nacl_idx >= 0
        # NACLs: inbound rules match the source, outbound rules the destination: the remote address.
        n_rule, n_ok = nacl_match(
            self.nacl.proto, self.nacl.port_lo, self.nacl.port_hi, self.nacl.icmp_type, self.nacl.icmp_code,
            self.nacl.family, self.nacl.net_hi, self.nacl.net_lo, self.nacl.mask_hi, self.nacl.mask_lo,
            self.nacl.allow, self.nacl.rule_id, self.nacl.start, self.nacl.end, self.nacl.default_deny,
            (np.maximum(nacl_idx, 0) * 2 + d_q)[has_nacl], f_ver[fi][has_nacl], f_proto[fi][has_nacl],
            f_dport[fi][has_nacl], f_itype[fi][has_nacl], f_icode[fi][has_nacl], f_frag2[fi][has_nacl],
            r_hi[has_nacl], r_lo[has_nacl],
        )
        nacl_rule = np.full(fi.shape[0], -1, np.int32)
        nacl_rule[has_nacl] = n_rule
        nacl_ok = np.ones(fi.shape[0], np.bool_)
        nacl_ok[has_nacl] = n_ok

        def flat(values: np.ndarray, fill: Any, dtype: Any) -> np.ndarray:
            out = np.full(u * MAX_POINTS, fill, dtype)
            out[fi * MAX_POINTS + jj] = values
            return out

        icmp_or_other = ~((f_proto[fi] == 6) | (f_proto[fi] == 17))
        lport = np.where(remote_is_dst, f_sport[fi], f_dport[fi])
        rport = np.where(remote_is_dst, f_dport[fi], f_sport[fi])
        ports = np.where(icmp_or_other, 0, (lport.astype(np.int64) << 16) | rport).astype(np.uint64)
        self.conntrack.reserve(int(fi.shape[0]), int(batch.ts_ns[0]) if n else 0, self._timeouts)
        ct = self.conntrack
        pkt, qslot, action, rule, sg_used, nacl_used, created = decide_packets(
            batch.ts_ns, batch.tcp_flags, proto, inv,
            flat(e_q, -1, np.int32), flat(d_q, 0, np.uint8),
            flat(np.where(sg.has_sg[e_q], slot, -1), -1, np.int64), flat(sg_rule, -1, np.int32),
            flat(untracked, False, np.bool_), flat(nacl_rule, -1, np.int32), flat(nacl_ok, True, np.bool_),
            flat(l_hi, 0, np.uint64), flat(l_lo, 0, np.uint64), flat(r_hi, 0, np.uint64), flat(r_lo, 0, np.uint64),
            flat(ports, 0, np.uint64),
            sg.default_deny, sg.no_sg, sg.tracked, sg.closed,
            *ct.arrays(), self._timeouts,
        )
        ct.count += int(created)
        # Counters: per packet, by its flow's category.
        pkt_cat = category[inv]
        counts = np.bincount(pkt_cat[pkt_cat > 0], minlength=len(NOT_CAPTURED_CATEGORIES) + 1)
        for i, name in enumerate(NOT_CAPTURED_CATEGORIES):
            self.not_captured[name] += int(counts[i + 1])
        self.unattributed += int(np.count_nonzero(pkt_cat < 0))

        flow = qslot // MAX_POINTS
        j = qslot % MAX_POINTS
        pid = plan_id[flow]
        self._last = {"sg": sg_used, "nacl": nacl_used, "pkt": pkt}
        return ObservationBatch(
            packets=batch,
            packet=pkt.astype(np.int64),
            eni=pa["eni"][pid, j].astype(np.int32),
            direction=pa["dir"][pid, j],
            action=action,
            src_hi=pa["rsrc_hi"][pid, j], src_lo=pa["rsrc_lo"][pid, j],
            dst_hi=pa["rdst_hi"][pid, j], dst_lo=pa["rdst_lo"][pid, j],
            pkt_src_hi=pa["psrc_hi"][pid, j], pkt_src_lo=pa["psrc_lo"][pid, j],
            pkt_dst_hi=pa["pdst_hi"][pid, j], pkt_dst_lo=pa["pdst_lo"][pid, j],
            traffic_path=pa["tpath"][pid, j],
            rule=rule,
            peer_eni=pa["peer"][pid, j],
            enis=self.enis,
            rules=self.rules,
            pkt_src_service=pa["ssvc"][pid, j],
            pkt_dst_service=pa["dsvc"][pid, j],
            services=tuple(self.services),
        )

    # ------------------------------------------------------------------ explain support
    def decisions(self, obs: ObservationBatch) -> list[Decision]:
        """The structured decisions of the LAST batch observed (``obs`` is what ``observe`` returned)."""
        if self._last is None or self._last["pkt"].shape[0] != len(obs):
            raise ValueError("decisions() takes the ObservationBatch returned by the latest observe() call")
        refs = self.table.refs
        out: list[Decision] = []
        for i in range(len(obs)):
            sg_i, nacl_i = int(self._last["sg"][i]), int(self._last["nacl"][i])
            peer = int(obs.peer_eni[i])
            tp = int(obs.traffic_path[i])
            out.append(Decision(
                packet=int(obs.packet[i]),
                interface_id=self.enis[int(obs.eni[i])],
                direction="egress" if obs.direction[i] == 1 else "ingress",
                action="ACCEPT" if obs.action[i] == 0 else "REJECT",
                decided_by=refs[int(obs.rule[i])],
                security_group=refs[sg_i] if sg_i >= 0 else None,
                network_acl=refs[nacl_i] if nacl_i >= 0 else None,
                srcaddr=str(pair_to_ip(obs.src_hi[i], obs.src_lo[i])),
                dstaddr=str(pair_to_ip(obs.dst_hi[i], obs.dst_lo[i])),
                pkt_srcaddr=str(pair_to_ip(obs.pkt_src_hi[i], obs.pkt_src_lo[i])),
                pkt_dstaddr=str(pair_to_ip(obs.pkt_dst_hi[i], obs.pkt_dst_lo[i])),
                traffic_path=tp if tp >= 0 else None,
                peer_interface_id=self.enis[peer] if peer >= 0 else None,
            ))
        return out

    def plan(self, src: str, dst: str, interface_id: str | None = None) -> Plan:
        """The attribution plan of an address pair (for explain), without evaluating anything."""
        label = self._eni_index.get(interface_id, -1) if interface_id else -1
        return self.planner.plan(label, ipaddress.ip_address(src), ipaddress.ip_address(dst))


__all__ = ["Decision", "ObsPoint", "PolicyEngine", "load_ip_ranges", "sample_ip_ranges_path"]
