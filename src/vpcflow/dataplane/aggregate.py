"""Aggregation: observations -> AWS flow records, per active flow log, window by window.

For each flow log (spec 2.1-2.4, 2.8):

- **coverage**: a VPC or subnet flow log records every ENI whose VPC/subnet matches, decided per ENI
  when attribution first names it (so ENIs added to the network later are covered); an ENI flow
  log records that ENI only;
- **TrafficType**: ACCEPT / REJECT / ALL selects the records kept (spec 2.3);
- **windows**: aligned to epoch multiples of the interval. The interval is the flow log's
  MaxAggregationInterval (60 or 600 s), except that ENIs of Nitro instances (``nitro`` in the
  model, the default) always aggregate at 60 s, as spec 2.1 states;
- **records**: one per (ENI, window, direction, action, 5-tuple, and the packet-level fields the
  format shows: pkt-srcaddr, pkt-dstaddr, traffic-path, next-hop ENI). ``start``/``end`` are the
  first/last packet's second in the window; ``packets``, ``bytes`` are sums; ``tcp-flags`` is the
  OR of per-packet flags mapped as spec 1.4 says (see ``map_tcp_flags``);
- **NODATA**: one record per covered ENI per window without any traffic on it (before the
  TrafficType filter: an ENI whose traffic is all filtered out had traffic, so it gets no NODATA),
  over the span of the run: from the window of the run's first packet to the last closed window;
- **SKIPDATA**: an ENI with more than ``capacity`` records in one window keeps its ``capacity``
  earliest records; the rest become ONE SKIPDATA record and are reported as lost.
  NODATA/SKIPDATA carry ``start = window start`` and ``end = window start + interval - 2`` (the
  AWS samples of spec 7.2 show end - start = 58 s for a 60 s window).

Windows close on an event-time watermark: ``advance(watermark_s)`` hands back the records of every
window that ended at or before it, so an endless source yields records as its windows end.
Memory is bounded by active flows: per-batch rows are folded into partial records
(``aggregate_groupby``), and partials of closed windows leave the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.codecs.addresses import addresses_to_strings
from vpcflow.codecs.records import record_table
from vpcflow.dataplane.aggregate_fields import NEXT_HOP_FIELDS, TAG_FIELDS, EniTable, covers
from vpcflow.dataplane.aggregate_groupby import Partials, fold
from vpcflow.dataplane.packets import ACCEPT, REJECT, ObservationBatch
from vpcflow.model.fields import format_version
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import Topology

#: Default record capacity per ENI per window before SKIPDATA (documented in docs/dataplane.md).
DEFAULT_SKIPDATA_CAPACITY = 1_000_000

_FIN_SYN_RST = np.uint8(0x07)
_SYN_ACK = np.uint8(0x12)
_SYN_ACK_BIT = np.uint8(0x10)
_INVALID_BIT = np.uint8(0x80)  # internal: a packet with an impossible flag combination seen
_TCP = 6
_ENI_SHIFT = np.uint64(34)  # key 0 = eni << 34 | window start (seconds < 2**34: until year 2514)
_WS_MASK = np.uint64((1 << 34) - 1)


def map_tcp_flags(raw: npt.NDArray[np.uint8], protocol: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Per-packet flags as flow logs count them (spec 1.4).

    FIN 1, SYN 2, RST 4 are kept; a SYN|ACK packet counts as 18 (SYN-ACK); ACK, PSH, URG, ECE, CWR
    alone are not reported (0). A packet with SYN and FIN, or SYN and RST, together is an
    impossible combination: the record's tcp-flags becomes ``-`` ("cannot be calculated").
    Non-TCP packets count 0 (the catalogue's choice for the UNCONFIRMED non-TCP case).
    """
    f = raw & _FIN_SYN_RST
    f |= np.where((raw & _SYN_ACK) == _SYN_ACK, _SYN_ACK_BIT, np.uint8(0))
    invalid = ((raw & 0x03) == 0x03) | ((raw & 0x06) == 0x06)
    f |= np.where(invalid, _INVALID_BIT, np.uint8(0))
    return np.where(protocol == _TCP, f, np.uint8(0)).astype(np.uint8)


@dataclass(frozen=True, slots=True)
class AggregateOptions:
    skipdata_capacity: int = DEFAULT_SKIPDATA_CAPACITY  # records per ENI per window
    nodata: bool = True  # emit NODATA records for idle covered ENIs


@dataclass(slots=True)
class AggregateOutput:
    """Records of closed windows of one flow log, and what the side channel and stats need."""

    flow_log: FlowLog
    table: pa.Table  # the AWS records, format columns in format order
    rejects: pa.Table  # side channel: one row per REJECT record with the rule that decided
    ok: int = 0
    accept: int = 0
    reject: int = 0
    nodata: int = 0
    skipdata: int = 0
    skipped_records: int = 0  # records folded into SKIPDATA records (lost)
    skipped_packets: int = 0
    steering: dict[str, pa.Array] = field(default_factory=dict)  # start/end/interface_id of every row

    def sink_table(self) -> pa.Table:
        """``table`` plus the steering columns the format lacks (``sinks/base.py``: file periods, streams)."""
        t = self.table
        for name, col in self.steering.items():
            if name not in t.column_names:
                t = t.append_column(name, col)
        return t


@dataclass(slots=True)
class _KeySpec:
    """Which optional key columns a flow log's format needs, and where each key column sits."""

    pkt_src: bool
    pkt_dst: bool
    path: bool
    peer: bool
    svc_src: bool
    svc_dst: bool
    pos: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = ["eniwin", "meta", "src_hi", "src_lo", "dst_hi", "dst_lo"]
        if self.pkt_src:
            names += ["psrc_hi", "psrc_lo"]
        if self.pkt_dst:
            names += ["pdst_hi", "pdst_lo"]
        if self.peer:
            names.append("peer")
        if self.svc_src:
            names.append("svc_src")
        if self.svc_dst:
            names.append("svc_dst")
        self.pos = {n: i for i, n in enumerate(names)}

    @property
    def nkeys(self) -> int:
        return len(self.pos)


#: Use the compiled one-pass kernel in ``FlowLogAggregator.add`` (False: the numpy reference path).
USE_KERNEL = True
_EMPTY_U64 = np.zeros(0, dtype=np.uint64)
_EMPTY_I16 = np.zeros(0, dtype=np.int16)


def _run_rules(rule: npt.NDArray[np.int32], rule_map: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Batch rule indexes -> run rule indexes; -1 (no rule) stays -1."""
    if len(rule_map) == 0:
        return np.full(rule.shape[0], -1, np.int32)
    return np.where(rule >= 0, rule_map[np.maximum(rule, 0)], np.int32(-1)).astype(np.int32)


def _service_key(codes: npt.NDArray[np.int16] | None, svc_map: npt.NDArray[np.int64] | None,
                 rows: npt.NDArray[np.generic] | slice, n: int) -> npt.NDArray[np.uint64]:
    """Key column of a pkt-*-aws-service field: global service index + 1, 0 for `-`."""
    if codes is None or svc_map is None or len(svc_map) == 0:
        sel = np.zeros(n, dtype=np.uint64)[rows]
        return np.ascontiguousarray(sel)
    c = codes[rows].astype(np.int64)
    return np.where(c >= 0, svc_map[np.maximum(c, 0)] + 1, 0).astype(np.uint64)


class FlowLogAggregator:
    """The open windows of one flow log."""

    def __init__(self, flow_log: FlowLog, enis: EniTable, options: AggregateOptions, rules: list[str],
                 services: list[str] | None = None) -> None:
        self.flow_log = flow_log
        self.names = flow_log.field_names
        self.version = format_version(list(self.names))
        self.enis = enis
        self.options = options
        self.rules = rules
        self.services = services if services is not None else []
        ns = set(self.names)
        self.spec = _KeySpec(
            pkt_src="pkt-srcaddr" in ns or "pkt-src-aws-service" in ns,
            pkt_dst="pkt-dstaddr" in ns or "pkt-dst-aws-service" in ns,
            path="traffic-path" in ns,
            peer=any(n in ns for n in NEXT_HOP_FIELDS),
            svc_src="pkt-src-aws-service" in ns,
            svc_dst="pkt-dst-aws-service" in ns,
        )
        self._covered = np.zeros(0, dtype=bool)
        self._interval = np.zeros(0, dtype=np.int64)
        self._folded = Partials.empty(self.spec.nkeys)
        self._pending: list[Partials] = []
        self._pending_rows = 0
        self._active: set[int] = set()  # eni << 34 | window start, with any traffic (NODATA test)
        self._next_window: dict[int, int] = {}  # NODATA bookkeeping: interval -> next window start to check
        self._covered_list: npt.NDArray[np.int64] | None = None
        self.run_start_s: int | None = None

    # -- coverage -------------------------------------------------------------------------------
    def _sync_enis(self) -> None:
        n = len(self.enis)
        old = self._covered.shape[0]
        if old == n:
            return
        cov = np.zeros(n, dtype=bool)
        cov[:old] = self._covered
        itv = np.zeros(n, dtype=np.int64)
        itv[:old] = self._interval
        for i in range(old, n):
            cov[i] = covers(self.flow_log, self.enis.models[i])
            itv[i] = self.enis.interval_for(i, self.flow_log)
        self._covered, self._interval = cov, itv

    def covered_indexes(self) -> list[int]:
        """Every ENI of the topology this flow log covers (registered in the ENI table)."""
        out = []
        for eni in self.enis.topology.network_interfaces:
            if covers(self.flow_log, eni):
                out.append(self.enis.index(eni.network_interface_id))
        return out

    # -- ingest ---------------------------------------------------------------------------------
    def add(self, obs: ObservationBatch, eni_map: npt.NDArray[np.int64], rule_map: npt.NDArray[np.int32],
            svc_map: npt.NDArray[np.int64]) -> None:
        """Fold one observation batch: the compiled one-pass kernel (``aggregate_kernels.observe_fold``)."""
        self._sync_enis()
        if len(obs) == 0:
            return
        if not USE_KERNEL:
            pk = obs.packets
            ts_s = pk.ts_ns[obs.packet] // 1_000_000_000
            flags = map_tcp_flags(pk.tcp_flags[obs.packet], pk.protocol[obs.packet])
            self._add_numpy(obs, eni_map, rule_map, ts_s, flags, svc_map)
            return
        from vpcflow.dataplane.aggregate_kernels import observe_fold

        pk = obs.packets
        sp = self.spec
        none_u64 = _EMPTY_U64
        ssvc = getattr(obs, "pkt_src_service", None)
        dsvc = getattr(obs, "pkt_dst_service", None)
        use_ssvc = sp.svc_src and ssvc is not None
        use_dsvc = sp.svc_dst and dsvc is not None
        tf = {"ALL": 0, "ACCEPT": 1, "REJECT": 2}[self.flow_log.traffic_type]
        keys, packets, nbytes, first, last, flags, rule, active = observe_fold(
            obs.packet, obs.eni, obs.direction, obs.action, obs.src_hi, obs.src_lo, obs.dst_hi, obs.dst_lo,
            obs.pkt_src_hi if sp.pkt_src else none_u64, obs.pkt_src_lo if sp.pkt_src else none_u64,
            obs.pkt_dst_hi if sp.pkt_dst else none_u64, obs.pkt_dst_lo if sp.pkt_dst else none_u64,
            obs.traffic_path, obs.peer_eni,
            ssvc if use_ssvc else _EMPTY_I16, dsvc if use_dsvc else _EMPTY_I16, obs.rule,
            pk.ts_ns, pk.protocol, pk.src_port, pk.dst_port, pk.ip_version, pk.ip_len, pk.tcp_flags,
            eni_map, rule_map, svc_map, self._covered, self._interval,
            sp.pkt_src, sp.pkt_dst, sp.path, sp.peer, use_ssvc, use_dsvc, tf, sp.nkeys,
        )
        if sp.svc_src and not use_ssvc:
            keys[:, sp.pos["svc_src"]] = 0
        if sp.svc_dst and not use_dsvc:
            keys[:, sp.pos["svc_dst"]] = 0
        if tf == 0:
            active = np.unique(keys[:, 0])  # ALL: every covered row was folded
        self._active.update(active.tolist())
        if len(packets) == 0:
            return
        self._push(Partials(keys=[keys[:, i] for i in range(sp.nkeys)], packets=packets, bytes=nbytes,
                            first_s=first, last_s=last, flags=flags, rule=rule))

    def _push(self, part: Partials) -> None:
        self._pending.append(part)
        self._pending_rows += len(part)
        if self._pending_rows > max(1 << 16, len(self._folded)):
            self._compact()

    def _add_numpy(self, obs: ObservationBatch, eni_map: npt.NDArray[np.int64], rule_map: npt.NDArray[np.int32],
                   ts_s: npt.NDArray[np.int64], flags: npt.NDArray[np.uint8],
                   svc_map: npt.NDArray[np.int64] | None = None) -> None:
        """The numpy reference of ``add`` (``ts_s``/``flags`` are per observation row); tests compare them."""
        eni = eni_map[obs.eni]
        keep = self._covered[eni]
        if not keep.any():
            return
        ws = ts_s - ts_s % self._interval[eni]
        k0 = (eni.astype(np.uint64) << _ENI_SHIFT) | ws.astype(np.uint64)
        tt = self.flow_log.traffic_type
        if tt != "ALL":
            # Activity (for NODATA) counts traffic before the TrafficType filter drops rows.
            self._active.update(np.unique(k0[keep]).tolist())
        if tt == "ACCEPT":
            keep &= obs.action == ACCEPT
        elif tt == "REJECT":
            keep &= obs.action == REJECT
        if not keep.all():
            idx = np.flatnonzero(keep)
            obs_rows: npt.NDArray[np.generic] | slice = idx
        else:
            obs_rows = slice(None)
        pk = obs.packets
        prow = obs.packet[obs_rows]
        proto = pk.protocol[prow].astype(np.uint64)
        meta = (
            obs.direction[obs_rows].astype(np.uint64)
            | (obs.action[obs_rows].astype(np.uint64) << np.uint64(1))
            | (proto << np.uint64(2))
            | (pk.src_port[prow].astype(np.uint64) << np.uint64(10))
            | (pk.dst_port[prow].astype(np.uint64) << np.uint64(26))
            | ((pk.ip_version[prow].astype(np.uint64) == 6).astype(np.uint64) << np.uint64(42))
        )
        if self.spec.path:
            meta |= (obs.traffic_path[obs_rows].astype(np.int64) + 1).astype(np.uint64) << np.uint64(43)
        keys = [k0[obs_rows], meta, obs.src_hi[obs_rows], obs.src_lo[obs_rows], obs.dst_hi[obs_rows],
                obs.dst_lo[obs_rows]]
        if self.spec.pkt_src:
            keys += [obs.pkt_src_hi[obs_rows], obs.pkt_src_lo[obs_rows]]
        if self.spec.pkt_dst:
            keys += [obs.pkt_dst_hi[obs_rows], obs.pkt_dst_lo[obs_rows]]
        if self.spec.peer:
            peer = obs.peer_eni[obs_rows]
            gpeer = np.where(peer >= 0, eni_map[np.maximum(peer, 0)], -1)
            keys.append((gpeer + 1).astype(np.uint64))
        for flag, col in ((self.spec.svc_src, "pkt_src_service"), (self.spec.svc_dst, "pkt_dst_service")):
            if flag:
                keys.append(_service_key(getattr(obs, col, None), svc_map, obs_rows, len(obs)))
        t = ts_s[obs_rows]
        part = Partials(
            keys=[np.ascontiguousarray(k, dtype=np.uint64) for k in keys],
            packets=np.ones(t.shape[0], dtype=np.int64),
            bytes=pk.ip_len[prow].astype(np.int64),
            first_s=t,
            last_s=t,
            flags=flags[obs_rows],
            rule=_run_rules(obs.rule[obs_rows], rule_map),
        )
        part = fold(part)
        if tt == "ALL":
            self._active.update(np.unique(part.keys[0]).tolist())  # folded: far fewer rows to scan
        self._push(part)

    def _compact(self) -> None:
        if self._pending:
            self._folded = fold(Partials.concat([self._folded, *self._pending]))
            self._pending = []
            self._pending_rows = 0

    # -- emit -----------------------------------------------------------------------------------
    def advance(self, watermark_s: int | None) -> AggregateOutput:
        """Close every window ending at or before ``watermark_s`` (None: close all) and return its records."""
        self._sync_enis()
        self._compact()
        p = self._folded
        k0 = p.keys[0]
        eni = (k0 >> _ENI_SHIFT).astype(np.int64)
        ws = (k0 & _WS_MASK).astype(np.int64)
        if watermark_s is None:
            closed_mask = np.ones(len(p), dtype=bool)
        else:
            closed_mask = ws + self._interval[eni] <= watermark_s
        closed = p.take(np.flatnonzero(closed_mask)) if not closed_mask.all() else p
        self._folded = p.take(np.flatnonzero(~closed_mask)) if not closed_mask.all() else Partials.empty(
            self.spec.nkeys)
        out = self._records(closed, watermark_s)
        if watermark_s is None:
            self._active.clear()
        else:
            self._active = {
                k for k in self._active
                if (k & int(_WS_MASK)) + int(self._interval[k >> int(_ENI_SHIFT)]) > watermark_s
            }
        return out

    def _nodata(self, watermark_s: int | None) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(eni, window start) of NODATA records for windows closed by ``watermark_s``."""
        if not self.options.nodata or self.run_start_s is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        covered = self._covered_list
        if covered is None:
            covered = self._covered_list = np.array(self.covered_indexes(), dtype=np.int64)
        self._sync_enis()
        if covered.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        active = np.fromiter(self._active, dtype=np.int64, count=len(self._active))
        enis_out: list[npt.NDArray[np.int64]] = []
        ws_out: list[npt.NDArray[np.int64]] = []
        itvs = self._interval[covered]
        # ENIs of one interval share their windows: one (ENI x window) grid and one isin per interval.
        for itv in np.unique(itvs).tolist():
            group = covered[itvs == itv]
            start = self._next_window.get(itv, self.run_start_s - self.run_start_s % itv)
            last_seen = self._last_s if watermark_s is None else watermark_s
            # Windows entirely closed; at the end of the run, up to the window of the last packet.
            stop = (last_seen - last_seen % itv + itv) if watermark_s is None else (watermark_s - watermark_s % itv)
            if stop <= start:
                continue
            windows = np.arange(start, stop, itv, dtype=np.int64)
            packed = (group[:, None] << np.int64(34)) | windows[None, :]
            idle = ~np.isin(packed, active)
            rows, cols = np.nonzero(idle)
            enis_out.append(group[rows])
            ws_out.append(windows[cols])
            self._next_window[itv] = stop
        if not enis_out:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(enis_out), np.concatenate(ws_out)

    _last_s: int = 0

    def note_time(self, last_s: int) -> None:
        """The latest packet second seen so far (bounds the NODATA span at the end of the run)."""
        self._last_s = max(self._last_s, last_s)

    def _records(self, p: Partials, watermark_s: int | None) -> AggregateOutput:
        k0 = p.keys[0]
        eni = (k0 >> _ENI_SHIFT).astype(np.int64)
        ws = (k0 & _WS_MASK).astype(np.int64)
        # SKIPDATA: per (ENI, window) keep the `capacity` earliest records.
        cap = self.options.skipdata_capacity
        order = np.lexsort((p.keys[1], p.last_s, p.first_s, eni, ws))
        p = p.take(order)
        eni, ws, k0 = eni[order], ws[order], k0[order]
        n = len(p)
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = k0[1:] != k0[:-1]
        gstart = np.flatnonzero(new_group)
        rank = np.arange(n) - np.repeat(gstart, np.diff(np.append(gstart, n)))
        over = rank >= cap
        skip_eni = np.zeros(0, np.int64)
        skip_ws = np.zeros(0, np.int64)
        skipped_records = skipped_packets = 0
        if over.any():
            skipped_records = int(over.sum())
            skipped_packets = int(p.packets[over].sum())
            sk = np.unique(k0[over])
            skip_eni = (sk >> _ENI_SHIFT).astype(np.int64)
            skip_ws = (sk & _WS_MASK).astype(np.int64)
            keep = np.flatnonzero(~over)
            p, eni, ws = p.take(keep), eni[keep], ws[keep]
        nd_eni, nd_ws = self._nodata(watermark_s)
        table, rejects, steering = self._build(p, eni, ws, nd_eni, nd_ws, skip_eni, skip_ws)
        action = (p.keys[1] >> np.uint64(1)) & np.uint64(1)
        return AggregateOutput(
            flow_log=self.flow_log,
            table=table,
            rejects=rejects,
            ok=len(p),
            accept=int((action == 0).sum()),
            reject=int((action == 1).sum()),
            nodata=len(nd_eni),
            skipdata=len(skip_eni),
            skipped_records=skipped_records,
            skipped_packets=skipped_packets,
            steering=steering,
        )

    def _build(self, p: Partials, eni: npt.NDArray[np.int64], ws: npt.NDArray[np.int64],
               nd_eni: npt.NDArray[np.int64], nd_ws: npt.NDArray[np.int64],
               sk_eni: npt.NDArray[np.int64], sk_ws: npt.NDArray[np.int64]
               ) -> tuple[pa.Table, pa.Table, dict[str, pa.Array]]:
        """The record table: OK records, then NODATA and SKIPDATA, ordered by window, ENI, start."""
        n_ok, n_nd, n_sk = len(p), len(nd_eni), len(sk_eni)
        n = n_ok + n_nd + n_sk
        all_eni = np.concatenate([eni, nd_eni, sk_eni])
        all_ws = np.concatenate([ws, nd_ws, sk_ws])
        itv = self._interval[all_eni] if n else np.zeros(0, np.int64)
        start = np.concatenate([p.first_s, nd_ws, sk_ws])
        end = np.concatenate([p.last_s, all_ws[n_ok:] + itv[n_ok:] - 2])
        status = np.concatenate([np.zeros(n_ok, np.int8), np.ones(n_nd, np.int8), np.full(n_sk, 2, np.int8)])
        # Final order: window, ENI (table order), start, end, then the key (deterministic).
        pad = np.zeros(n - n_ok, dtype=np.uint64)
        meta = np.concatenate([p.keys[1], pad])
        order = np.lexsort((meta, status, end, start, all_eni, all_ws))
        ok = np.zeros(n, dtype=bool)
        ok[:n_ok] = True
        ok = ok[order]

        def okcol(arr: npt.NDArray[Any], fill: int = 0) -> npt.NDArray[Any]:
            full = np.concatenate([arr, np.full(n - n_ok, fill, dtype=arr.dtype)])
            return full[order]

        def masked(arr: npt.NDArray[Any]) -> np.ma.MaskedArray:
            # ``arr`` is already in final order and full length; non-OK rows are `-`.
            return np.ma.MaskedArray(arr, mask=~ok)

        meta_o = okcol(p.keys[1])
        eni_o = all_eni[order]
        ns = set(self.names)
        cols: dict[str, object] = {}
        for name in self.names:
            if name == "version":
                cols[name] = self.version
            elif name in ("account-id", "interface-id", "vpc-id", "subnet-id", "instance-id", "region", "az-id",
                          "interface-type"):
                cols[name] = self.enis.column(name, eni_o)
            elif name in ("srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr"):
                cols[name] = self._addr(p, name, okcol, ok)
            elif name == "srcport":
                cols[name] = masked(((meta_o >> np.uint64(10)) & np.uint64(0xFFFF)).astype(np.int32))
            elif name == "dstport":
                cols[name] = masked(((meta_o >> np.uint64(26)) & np.uint64(0xFFFF)).astype(np.int32))
            elif name == "protocol":
                cols[name] = masked(((meta_o >> np.uint64(2)) & np.uint64(0xFF)).astype(np.int32))
            elif name == "packets":
                cols[name] = masked(okcol(p.packets))
            elif name == "bytes":
                cols[name] = masked(okcol(p.bytes))
            elif name == "start":
                cols[name] = start[order]
            elif name == "end":
                cols[name] = end[order]
            elif name == "action":
                act = np.where((meta_o >> np.uint64(1)) & np.uint64(1), "REJECT", "ACCEPT")
                cols[name] = pa.array(act, mask=~ok, type=pa.string())
            elif name == "log-status":
                cols[name] = pa.array(np.array(["OK", "NODATA", "SKIPDATA"])[status[order]], type=pa.string())
            elif name == "tcp-flags":
                fl = okcol(p.flags)
                cols[name] = np.ma.MaskedArray((fl & 0x17).astype(np.int32), mask=~ok | ((fl & 0x80) != 0))
            elif name == "type":
                v6 = ((meta_o >> np.uint64(42)) & np.uint64(1)).astype(bool)
                cols[name] = pa.array(np.where(v6, "IPv6", "IPv4"), mask=~ok, type=pa.string())
            elif name == "flow-direction":
                eg = (meta_o & np.uint64(1)).astype(bool)
                cols[name] = pa.array(np.where(eg, "egress", "ingress"), mask=~ok, type=pa.string())
            elif name == "traffic-path":
                tp = ((meta_o >> np.uint64(43)) & np.uint64(0xF)).astype(np.int32) - 1
                cols[name] = np.ma.MaskedArray(tp, mask=~ok | (tp < 0))
            elif name in NEXT_HOP_FIELDS:
                peer = okcol(p.keys[self.spec.pos["peer"]]).astype(np.int64) - 1
                peer = np.where(ok, peer, -1)
                cols[name] = self.enis.column(NEXT_HOP_FIELDS[name], peer)
            elif name in ("pkt-src-aws-service", "pkt-dst-aws-service"):
                code = okcol(p.keys[self.spec.pos["svc_src" if name == "pkt-src-aws-service" else "svc_dst"]])
                code = np.where(ok, code.astype(np.int64) - 1, -1)
                names_arr = pa.array([*self.services, None], type=pa.string())
                cols[name] = names_arr.take(pa.array(np.where(code >= 0, code, len(self.services))))
            elif name in TAG_FIELDS:
                cols[name] = self.enis.tag_column(self.flow_log, name, eni_o)
            else:
                # sublocation-*, pkt-*-aws-service, ecs-*, reject-reason, resource-id, encryption-status:
                # not modelled, `-` (see aggregate_fields docstring).
                cols[name] = None
        table = record_table(self.names, cols, length=n)
        rejects = self._rejects(p, eni, order, ok, start[order], end[order], ns)
        steering = {"start": pa.array(start[order], type=pa.int64()), "end": pa.array(end[order], type=pa.int64()),
                    "interface_id": self.enis.column("interface-id", eni_o)}
        return table, rejects, steering

    def _addr(self, p: Partials, name: str, okcol: object, ok: npt.NDArray[np.bool_]) -> pa.Array:
        idx = self.spec.pos[{"srcaddr": "src_hi", "dstaddr": "dst_hi", "pkt-srcaddr": "psrc_hi",
                             "pkt-dstaddr": "pdst_hi"}[name]]
        assert callable(okcol)
        return addresses_to_strings(okcol(p.keys[idx]), okcol(p.keys[idx + 1]), valid=ok)

    def _rejects(self, p: Partials, eni: npt.NDArray[np.int64], order: npt.NDArray[np.intp],
                 ok: npt.NDArray[np.bool_], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64],
                 names: set[str]) -> pa.Table:
        """Side channel: for every REJECT record, the record's identity and the rule that decided."""
        n_ok = len(p)
        pos = np.flatnonzero(ok)  # positions of OK records in final order
        src_rows = order[pos]  # their row in p
        meta = p.keys[1][src_rows]
        rej = ((meta >> np.uint64(1)) & np.uint64(1)).astype(bool)
        rows = src_rows[rej]
        del n_ok
        meta = meta[rej]
        rule_idx = p.rule[rows]
        rules = pa.array([*self.rules, None], type=pa.string()).take(
            pa.array(np.where(rule_idx >= 0, rule_idx, len(self.rules))))
        return pa.table({
            "record_index": pa.array(pos[rej], type=pa.int64()),
            "interface_id": self.enis.column("interface-id", eni[rows]),
            "flow_direction": pa.array(np.where(meta & np.uint64(1), "egress", "ingress"), type=pa.string()),
            "srcaddr": addresses_to_strings(p.keys[2][rows], p.keys[3][rows]),
            "dstaddr": addresses_to_strings(p.keys[4][rows], p.keys[5][rows]),
            "srcport": ((meta >> np.uint64(10)) & np.uint64(0xFFFF)).astype(np.int32),
            "dstport": ((meta >> np.uint64(26)) & np.uint64(0xFFFF)).astype(np.int32),
            "protocol": ((meta >> np.uint64(2)) & np.uint64(0xFF)).astype(np.int32),
            "start": start[pos[rej]],
            "end": end[pos[rej]],
            "packets": p.packets[rows],
            "rule": rules,
        })


@dataclass
class Aggregator:
    """Aggregation for every active flow log of a run, sharing one ENI table and rule table."""

    flow_logs: list[FlowLog]
    topology: Topology
    options: AggregateOptions = field(default_factory=AggregateOptions)

    def __post_init__(self) -> None:
        self.enis = EniTable(self.topology)
        self.rules: list[str] = []
        self.services: list[str] = []
        self._rule_index: dict[str, int] = {}
        self._service_index: dict[str, int] = {}
        self._rule_maps: dict[tuple[str, ...], npt.NDArray[np.int32]] = {}
        self.per_flow_log = [FlowLogAggregator(fl, self.enis, self.options, self.rules, self.services)
                             for fl in self.flow_logs]
        # Register the covered ENIs up front so the ENI table order is the topology's order.
        for agg in self.per_flow_log:
            agg.covered_indexes()

    def _map_services(self, services: tuple[str, ...]) -> npt.NDArray[np.int64]:
        out = []
        for name in services:
            if name not in self._service_index:
                self._service_index[name] = len(self.services)
                self.services.append(name)
            out.append(self._service_index[name])
        return np.array(out, dtype=np.int64)

    def _map_rules(self, rules: tuple[str, ...]) -> npt.NDArray[np.int32]:
        mapped = self._rule_maps.get(rules)
        if mapped is None:
            out = []
            for r in rules:
                if r not in self._rule_index:
                    self._rule_index[r] = len(self.rules)
                    self.rules.append(r)
                out.append(self._rule_index[r])
            mapped = np.array(out, dtype=np.int32)
            if len(self._rule_maps) > 64:
                self._rule_maps.clear()
            self._rule_maps[rules] = mapped
        return mapped

    def add(self, obs: ObservationBatch) -> None:
        """Fold one observation batch into every flow log's open windows."""
        pk = obs.packets
        if len(pk):
            last_s = int(pk.ts_ns[-1] // 1_000_000_000)
            first_s = int(pk.ts_ns[0] // 1_000_000_000)
            for agg in self.per_flow_log:
                agg.note_time(last_s)
                if agg.run_start_s is None:
                    agg.run_start_s = first_s
        if len(obs) == 0:
            return
        eni_map = self.enis.map_batch(obs.enis)
        rule_map = self._map_rules(obs.rules)
        svc_map = self._map_services(tuple(getattr(obs, "services", ())))
        for agg in self.per_flow_log:
            agg.add(obs, eni_map, rule_map, svc_map)

    def advance(self, watermark_s: int) -> list[AggregateOutput]:
        """Records of every window that ended at or before ``watermark_s``, per flow log."""
        return [agg.advance(watermark_s) for agg in self.per_flow_log]

    def finish(self) -> list[AggregateOutput]:
        """Close every window (end of the run)."""
        return [agg.advance(None) for agg in self.per_flow_log]
