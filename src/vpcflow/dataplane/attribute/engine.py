"""Attribution + evaluation: ``PolicyEngine`` turns ``PacketBatch``es into ``ObservationBatch``es.

Per batch, columnar and in three steps:

1. Flow ids: one native hash pass looks every packet's flow key (capture ENI, protocol, addresses,
   ports, ICMP type/code, later-fragment bit) up in the engine's flow cache.
2. New flows only, one native call (``FlowTable.add_flows``, ``native/src/policy/flow_table.rs``):
   their attribution PLAN (``attribute_kernel`` tables, planned as ``attribute_plan.Planner``
   defines it), the not-captured category (ports: DHCP, mirrored; addresses: the plan), then the
   stateless checks of every observation point - security-group first allow, untracked connections,
   network-ACL first match - written into the engine's flow table (per flow its points, stored
   one after the other). Rule counts only cost here, once per distinct flow, never per packet.
3. Per packet, in time order: the native connection tracker (``evaluate.conntrack``) combines the
   tracked state with the precomputed checks and emits the observation rows (``observe``: as an
   ``ObservationBatch``; ``observe_native``: kept in the core for the streaming pass, ``stream_pass.py``).

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

from vpcflow import _native
from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.attribute.kernel import compile_topology
from vpcflow.dataplane.attribute.plan import NOT_CAPTURED_CATEGORIES, ObsPoint, Plan, Planner, ServiceLookup
from vpcflow.dataplane.evaluate.conntrack import ConntrackTimeouts, connection_tracker
from vpcflow.dataplane.evaluate.network_acls import compile_network_acls
from vpcflow.dataplane.evaluate.rules import RuleRef, RuleTable
from vpcflow.dataplane.evaluate.security_groups import compile_security_groups
from vpcflow.dataplane.packets import ObservationBatch, PacketBatch, pair_to_ip
from vpcflow.dataplane.stream_pass import NativeObservations
from vpcflow.model.topology.model import Topology


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
    return Path(__file__).resolve().parents[2] / "data" / "ip-ranges-sample.json"


def columns(**arrays: npt.NDArray[Any]) -> dict[str, npt.NDArray[Any]]:
    """Named columns for the native core, each contiguous (a no-op for most)."""
    return {k: np.ascontiguousarray(v) for k, v in arrays.items()}


class PolicyEngine:
    """Stateful (connection tracking carries across batches) attribution and evaluation.

    Distinct flows are remembered (a flow cache: key -> attribution plan + stateless decisions), so
    a flow is planned and matched against the rules once; memory grows with the number of distinct
    flows (the flow cache's 6-word key, then the flow table's 6 bytes per flow and 142 per
    observation point, one after another: about 150-290 bytes for the usual one or two points, up to
    twice that while the tables double), never with packets.
    When more than ``max_flows`` are cached the cache is emptied before the next batch (flows are
    planned again when seen; connection-tracking state is separate and unaffected). The default
    (65,536) keeps the cache and the flow table near 30-60 MB on a capture of a million flows (with
    131,072 its peak was 20-25 MiB higher, for the same speed; with 500,000 a capture of 400,000
    distinct flows peaked at about 1 GB of engine memory, docs/benchmarks.md), while re-planning a
    flow costs microseconds.
    """

    def __init__(self, topology: Topology, *, ip_ranges: ServiceLookup | str | Path | None = None,
                 timeouts: ConntrackTimeouts | None = None, max_flows: int = 65_536) -> None:
        self.topology = topology
        self.max_flows = max_flows
        if ip_ranges is not None and not isinstance(ip_ranges, ServiceLookup):
            ip_ranges = load_ip_ranges(ip_ranges)
        eni_objs = tuple(topology.network_interfaces)
        self.enis: tuple[str, ...] = tuple(e.network_interface_id for e in eni_objs)
        self._eni_index = {e: i for i, e in enumerate(self.enis)}
        acls = tuple(topology.network_acls)
        self.table = RuleTable()
        self.sg = compile_security_groups(topology, eni_objs, self.table)
        self.nacl = compile_network_acls(acls, self.table)
        self._sg_rules = self.sg.native()
        self._nacl_rules = self.nacl.native()
        self.rules: tuple[str, ...] = self.table.texts()
        self.planner = Planner(topology, eni_objs, tuple(a.network_acl_id for a in acls), ip_ranges)
        self.compiled = compile_topology(self.planner)
        self.timeouts = timeouts or ConntrackTimeouts()
        self._timeouts = self.timeouts.as_array()
        self.conntrack = connection_tracker(self.timeouts)
        self.not_captured: dict[str, int] = dict.fromkeys(NOT_CAPTURED_CATEGORIES, 0)
        self.unattributed = 0
        self.services: list[str] = []
        self._service_index: dict[str, int] = {}
        self._table = _native.FlowTable()
        self._flow_map = _native.FlowCache()
        self._reset_flows()
        self._last: dict[str, Any] | None = None

    # ------------------------------------------------------------------ flows
    def _reset_flows(self) -> None:
        self.flows = 0
        # A reset keeps the cache's and the table's capacity (flows are re-planned into them as they
        # are seen again: on a million flows the cache is emptied every other batch, and rebuilding
        # it doubling by doubling churned tens of MB through the heap each time) and the
        # AWS-service codes of the addresses resolved so far.
        self._flow_map.clear()
        self._table.clear()

    def _service_code(self, hi: int, lo: int) -> int:
        """The code of the AWS service owning an address (-1: none), names interned in order seen."""
        name = self.planner.service(pair_to_ip(hi, lo))
        if name is None:
            return -1
        code = self._service_index.get(name, -1)
        if code < 0:
            code = self._service_index[name] = len(self.services)
            self.services.append(name)
        return code

    def _add_flows(self, version: np.ndarray, flow_cols: dict[str, npt.NDArray[Any]],
                   first: npt.NDArray[np.int64]) -> None:
        """Plan and statically evaluate new flows (first packets ``first``; the flow cache already
        gave them ids ``self.flows ...`` in that order), natively, into the flow table."""
        has_svc = self.planner.services is not None
        unknown = self._table.add_flows(self.compiled, self._sg_rules, self._nacl_rules, flow_cols,
                                        np.ascontiguousarray(version), first, self.flows, has_svc)
        if unknown.shape[0]:
            # One ip-ranges lookup per address never seen before (the table keeps the codes).
            codes = np.array([self._service_code(int(hi), int(lo)) for hi, lo in unknown], np.int16)
            self._table.resolve_services(unknown, codes)
        self.flows += int(first.shape[0])

    # ------------------------------------------------------------------ observe
    def _labels(self, batch: PacketBatch) -> npt.NDArray[np.int32]:
        table = np.array([self._eni_index.get(name, -1) for name in batch.interfaces] + [-1], np.int32)
        # Out of range (negative: no interface) -> the table's last entry, -1; in the column's own
        # dtype, without a widened copy (per batch of 65,536 packets).
        iface = batch.iface
        n = len(batch.interfaces)
        return table[np.where((iface >= 0) & (iface < n), iface, n)]

    def _flow_ids(self, batch: PacketBatch) -> tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.int32]]:
        """(flow-key columns, flow id per packet); new flows are planned, packets counted by category."""
        if self.flows > self.max_flows:
            self._reset_flows()
        label = self._labels(batch)
        frag2 = batch.fragment == 2
        proto = batch.protocol
        icmp = (proto == 1) | (proto == 58)
        itype = np.where(icmp, batch.icmp_type, np.int16(-1)).astype(np.int16, copy=False)
        icode = np.where(icmp, batch.icmp_code, np.int16(-1)).astype(np.int16, copy=False)
        flow_cols = columns(label=label, proto=proto, frag2=frag2, sport=batch.src_port, dport=batch.dst_port,
                             itype=itype, icode=icode, s_hi=batch.src_hi, s_lo=batch.src_lo, d_hi=batch.dst_hi,
                             d_lo=batch.dst_lo)
        # One native pass: known flows' ids, and ids from self.flows on for new flows (remembered at
        # once, planned below) in the order they first appear.
        fid, first = self._flow_map.assign(flow_cols, self.flows)
        if first.size:
            self._add_flows(batch.ip_version, flow_cols, first)
        # Counters: per packet, by its flow's category.
        counts, unattributed = self._table.category_counts(fid, len(NOT_CAPTURED_CATEGORIES))
        for i, name in enumerate(NOT_CAPTURED_CATEGORIES):
            self.not_captured[name] += int(counts[i + 1])
        self.unattributed += unattributed
        return flow_cols, fid

    def observe_native(self, batch: PacketBatch) -> NativeObservations:
        """``observe`` for the streaming pass: the rows stay in the native core (``stream_pass.py``)."""
        flow_cols, fid = self._flow_ids(batch)
        rows = _native.decide_observe(self.conntrack, self._sg_rules, np.ascontiguousarray(batch.ts_ns),
                                      np.ascontiguousarray(batch.tcp_flags), flow_cols["proto"], fid,
                                      self._table)
        self._last = None  # decisions() explains ObservationBatches only
        return NativeObservations(packets=batch, rows=rows, enis=self.enis, rules=self.rules,
                                  services=tuple(self.services))

    def observe(self, batch: PacketBatch) -> ObservationBatch:
        """Attribute and evaluate one batch (packets in time order, after the previous batch)."""
        flow_cols, fid = self._flow_ids(batch)
        pkt, q, action, rule, sg_used, nacl_used = self.conntrack.decide(
            self._sg_rules, np.ascontiguousarray(batch.ts_ns),
            np.ascontiguousarray(batch.tcp_flags), flow_cols["proto"], fid, self._table)
        fp = self._table.gather(q)
        self._last = {"sg": sg_used, "nacl": nacl_used, "pkt": pkt}
        return ObservationBatch(
            packets=batch,
            packet=pkt,
            eni=fp["eni"],
            direction=fp["dir"],
            action=action,
            src_hi=fp["rs_hi"], src_lo=fp["rs_lo"],
            dst_hi=fp["rd_hi"], dst_lo=fp["rd_lo"],
            pkt_src_hi=fp["ps_hi"], pkt_src_lo=fp["ps_lo"],
            pkt_dst_hi=fp["pd_hi"], pkt_dst_lo=fp["pd_lo"],
            traffic_path=fp["tpath"],
            rule=rule,
            peer_eni=fp["peer"],
            enis=self.enis,
            rules=self.rules,
            pkt_src_service=fp["ssvc"],
            pkt_dst_service=fp["dsvc"],
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
