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
  OR of per-packet flags mapped as spec 1.4 says (``native/src/aggregate/key.rs``);
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

from vpcflow import _native
from vpcflow.dataplane.aggregate.fields import NEXT_HOP_FIELDS, EniTable, covers
from vpcflow.dataplane.aggregate.records import ENI_SHIFT as _ENI_SHIFT
from vpcflow.dataplane.aggregate.records import WS_MASK as _WS_MASK
from vpcflow.dataplane.aggregate.records import Closed, KeySpec, RecordTableBuilder
from vpcflow.dataplane.packets import ObservationBatch
from vpcflow.dataplane.stream_pass import NativeObservations
from vpcflow.model.fields import format_version
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import Topology

#: Default record capacity per ENI per window before SKIPDATA (documented in docs/dataplane.md).
DEFAULT_SKIPDATA_CAPACITY = 1_000_000

@dataclass(frozen=True, slots=True)
class AggregateOptions:
    skipdata_capacity: int = DEFAULT_SKIPDATA_CAPACITY  # records per ENI per window
    nodata: bool = True  # emit NODATA records for idle covered ENIs
    #: Only these ENIs get records (traffic and NODATA); None: every covered ENI. An agent sets its
    #: OWNED ENIs, so agents sharing a destination never contradict each other (issue 12).
    enis: frozenset[str] | None = None
    #: NODATA from the window holding this second on, even when no packet came (an agent's segment
    #: of wall-clock time); None: from the window of the run's first packet.
    start_s: int | None = None
    #: At the end of the run, NODATA up to this second (exclusive) even when the last packet came
    #: earlier; None: up to the window of the last packet.
    end_s: int | None = None


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


_EMPTY_U64 = np.zeros(0, dtype=np.uint64)
_EMPTY_I16 = np.zeros(0, dtype=np.int16)
_FILTERS = {"ALL": 0, "ACCEPT": 1, "REJECT": 2}  # native/src/aggregate/observe.rs FILTER_*


def _obs_columns(obs: ObservationBatch, spec: KeySpec, use_ssvc: bool, use_dsvc: bool) -> dict[str, npt.NDArray]:
    """The observation columns the native fold reads (unused optional ones empty)."""
    cols = {
        "packet": obs.packet, "eni": obs.eni, "direction": obs.direction, "action": obs.action,
        "src_hi": obs.src_hi, "src_lo": obs.src_lo, "dst_hi": obs.dst_hi, "dst_lo": obs.dst_lo,
        "pkt_src_hi": obs.pkt_src_hi if spec.pkt_src else _EMPTY_U64,
        "pkt_src_lo": obs.pkt_src_lo if spec.pkt_src else _EMPTY_U64,
        "pkt_dst_hi": obs.pkt_dst_hi if spec.pkt_dst else _EMPTY_U64,
        "pkt_dst_lo": obs.pkt_dst_lo if spec.pkt_dst else _EMPTY_U64,
        "traffic_path": obs.traffic_path, "peer_eni": obs.peer_eni,
        "src_service": obs.pkt_src_service if use_ssvc and obs.pkt_src_service is not None else _EMPTY_I16,
        "dst_service": obs.pkt_dst_service if use_dsvc and obs.pkt_dst_service is not None else _EMPTY_I16,
        "rule": obs.rule,
    }
    return {k: np.ascontiguousarray(v) for k, v in cols.items()}


def _packet_columns(obs: ObservationBatch | NativeObservations) -> dict[str, npt.NDArray]:
    pk = obs.packets
    cols = {"ts_ns": pk.ts_ns, "protocol": pk.protocol, "src_port": pk.src_port, "dst_port": pk.dst_port,
            "ip_version": pk.ip_version, "ip_len": pk.ip_len, "tcp_flags": pk.tcp_flags}
    return {k: np.ascontiguousarray(v) for k, v in cols.items()}


class FlowLogAggregator(RecordTableBuilder):
    """The open windows of one flow log."""

    def __init__(self, flow_log: FlowLog, enis: EniTable, options: AggregateOptions, rules: list[str],
                 services: list[str] | None = None) -> None:
        self.flow_log = flow_log
        self.names = flow_log.field_names
        self.version = format_version(list(self.names))
        self.enis = enis
        self.options = options
        self.skipdata_capacity = options.skipdata_capacity
        self.rules = rules
        self.services = services if services is not None else []
        ns = set(self.names)
        self.spec = KeySpec(
            pkt_src="pkt-srcaddr" in ns or "pkt-src-aws-service" in ns,
            pkt_dst="pkt-dstaddr" in ns or "pkt-dst-aws-service" in ns,
            path="traffic-path" in ns,
            peer=any(n in ns for n in NEXT_HOP_FIELDS),
            svc_src="pkt-src-aws-service" in ns,
            svc_dst="pkt-dst-aws-service" in ns,
        )
        self._covered = np.zeros(0, dtype=bool)
        self._interval = np.zeros(0, dtype=np.int64)
        # The open partial records, folded in the core across batches (native/src/aggregate/state.rs).
        self._open = _native.FoldState(self.spec.nkeys)
        self._active: set[int] = set()  # eni << 34 | window start, with any traffic (NODATA test)
        self._next_window: dict[int, int] = {}  # NODATA bookkeeping: interval -> next window start to check
        self._covered_list: npt.NDArray[np.int64] | None = None
        self.run_start_s: int | None = options.start_s
        if options.start_s is not None:
            self.note_time(options.start_s)

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
        owned = self.options.enis
        for i in range(old, n):
            cov[i] = covers(self.flow_log, self.enis.models[i]) and (owned is None or self.enis.ids[i] in owned)
            itv[i] = self.enis.interval_for(i, self.flow_log)
        self._covered, self._interval = cov, itv

    def covered_indexes(self) -> list[int]:
        """Every ENI of the topology this flow log covers (registered in the ENI table)."""
        out = []
        owned = self.options.enis
        for eni in self.enis.topology.network_interfaces:
            if covers(self.flow_log, eni) and (owned is None or eni.network_interface_id in owned):
                out.append(self.enis.index(eni.network_interface_id))
        return out

    # -- ingest ---------------------------------------------------------------------------------
    def add(self, obs: ObservationBatch | NativeObservations, eni_map: npt.NDArray[np.int64],
            rule_map: npt.NDArray[np.int32], svc_map: npt.NDArray[np.int64]) -> None:
        """Fold one observation batch in one native pass (``native/src/aggregate/observe.rs``); rows the
        core holds (``stream_pass.NativeObservations``) are folded where they are."""
        self._sync_enis()
        if len(obs) == 0:
            return
        sp = self.spec
        native = isinstance(obs, NativeObservations)  # the engine always has service codes (-1: none)
        use_ssvc = sp.svc_src and (native or obs.pkt_src_service is not None)  # type: ignore[union-attr]
        use_dsvc = sp.svc_dst and (native or obs.pkt_dst_service is not None)  # type: ignore[union-attr]
        tf = _FILTERS[self.flow_log.traffic_type]
        maps: dict[str, npt.NDArray[Any]] = {
            "eni": np.ascontiguousarray(eni_map, np.int64), "rule": np.ascontiguousarray(rule_map, np.int32),
            "service": np.ascontiguousarray(svc_map, np.int64), "covered": self._covered,
            "interval": self._interval}
        options = {"pkt_src": sp.pkt_src, "pkt_dst": sp.pkt_dst, "path": sp.path, "peer": sp.peer,
                   "src_service": use_ssvc, "dst_service": use_dsvc, "filter": tf}
        if isinstance(obs, NativeObservations):
            # Straight into the open groups: no table of the batch's own partial records (state.rs)
            self._active.update(self._open.fold(obs.rows, _packet_columns(obs), maps, options).tolist())
            return
        folded, active = _native.observe_fold(_obs_columns(obs, sp, use_ssvc, use_dsvc), _packet_columns(obs),
                                              maps, options)
        keys, packets, nbytes, first, last, flags, rule = folded
        if sp.svc_src and not use_ssvc:
            keys[:, sp.pos["svc_src"]] = 0
        if sp.svc_dst and not use_dsvc:
            keys[:, sp.pos["svc_dst"]] = 0
        if tf == 0:
            active = np.unique(keys[:, 0])  # ALL: every covered row was folded
        self._active.update(active.tolist())
        if len(packets) == 0:
            return
        self._open.absorb(np.ascontiguousarray(keys), packets, nbytes, first, last, flags, rule)

    def window_ends(self) -> list[int] | None:
        """The distinct ends of the open windows that hold traffic, ascending; None when the ENIs the
        flow log covers differ in aggregation interval (their windows do not share one grid)."""
        self._sync_enis()
        intervals = self._interval[self._covered]
        if intervals.size and not (intervals == intervals[0]).all():
            return None
        return [int(e) for e in self._open.window_ends(self._interval)]

    def _close(self, watermark_s: int | None) -> Closed:
        """Take the open partial records of windows ended at ``watermark_s`` (None: all) out of the state."""
        return Closed(*self._open.close(watermark_s, self._interval))

    # -- emit -----------------------------------------------------------------------------------
    def advance(self, watermark_s: int | None) -> AggregateOutput:
        """Close every window ending at or before ``watermark_s`` (None: close all) and return its records."""
        self._sync_enis()
        out = self._records(self._close(watermark_s), watermark_s)
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
            if watermark_s is None and self.options.end_s is not None:
                stop = max(stop, -(-self.options.end_s // itv) * itv)
            if stop <= start:
                continue
            windows = np.arange(start, stop, itv, dtype=np.int64)
            packed = (group[:, None] << np.int64(_ENI_SHIFT)) | windows[None, :]
            idle = ~np.isin(packed, active)
            rows, cols = np.nonzero(idle)
            enis_out.append(group[rows])
            ws_out.append(windows[cols])
            self._next_window[itv] = stop
        if not enis_out:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(enis_out), np.concatenate(ws_out)

    _last_s: int = 0

    def gap_nodata(self, first_s: int, last_s: int, spans: dict[str, tuple[int, int]]) -> AggregateOutput:
        """The NODATA records a partitioned run still owes (docs/bulk.md): over the whole run's span
        ``[first_s, last_s]`` (packet seconds), every covered ENI's windows that its partition did not
        already account for. ``spans``: ENI id -> (first, last) packet second of the partition that owns
        it; that partition saw every packet of the ENI, so outside its span the ENI was idle. An ENI
        no partition owns was idle over the whole span. Call on a fresh aggregator only.
        """
        self._sync_enis()
        self.run_start_s = first_s
        self.note_time(last_s)
        for eni_id, (p_first, p_last) in spans.items():
            idx = self.enis.index(eni_id)
            self._sync_enis()
            itv = int(self._interval[idx])
            windows = range(p_first - p_first % itv, p_last - p_last % itv + itv, itv)
            self._active.update((idx << int(_ENI_SHIFT)) | w for w in windows)
        return self.advance(None)

    def note_time(self, last_s: int) -> None:
        """The latest packet second seen so far (bounds the NODATA span at the end of the run)."""
        self._last_s = max(self._last_s, last_s)

    def _records(self, closed: Closed, watermark_s: int | None) -> AggregateOutput:
        """The records of closed windows: their partial records, NODATA and SKIPDATA (``records.py``)."""
        nd_eni, nd_ws = self._nodata(watermark_s)
        built = self._build(closed, nd_eni, nd_ws)
        return AggregateOutput(flow_log=self.flow_log, table=built.table, rejects=built.rejects,
                               steering=built.steering, **built.counts)


def _intern(names: tuple[str, ...], index: dict[str, int], table: list[str]) -> list[int]:
    """Each name's position in the run's ``table``, appending the names it does not hold yet."""
    out = []
    for name in names:
        at = index.get(name)
        if at is None:
            at = index[name] = len(table)
            table.append(name)
        out.append(at)
    return out


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
        return np.array(_intern(services, self._service_index, self.services), dtype=np.int64)

    def _map_rules(self, rules: tuple[str, ...]) -> npt.NDArray[np.int32]:
        mapped = self._rule_maps.get(rules)
        if mapped is None:
            mapped = np.array(_intern(rules, self._rule_index, self.rules), dtype=np.int32)
            if len(self._rule_maps) > 64:
                self._rule_maps.clear()
            self._rule_maps[rules] = mapped
        return mapped

    def add(self, obs: ObservationBatch | NativeObservations) -> None:
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

    def note_watermark(self, watermark_s: int) -> None:
        """A source's heartbeat (``packets.Heartbeat``): time has reached ``watermark_s`` without packets.

        It spans NODATA like a packet's time does: a live capture that starts quiet still gets NODATA
        from its first heartbeat's window, and the end of the run closes the window it reached.
        """
        for agg in self.per_flow_log:
            agg.note_time(watermark_s)
            if agg.run_start_s is None:
                agg.run_start_s = watermark_s

    def advance(self, watermark_s: int) -> list[AggregateOutput]:
        """Records of every window that ended at or before ``watermark_s``, per flow log."""
        return [agg.advance(watermark_s) for agg in self.per_flow_log]

    def steps(self, watermark_s: int | None) -> list[int]:
        """The window ends before the last one that ``advance(watermark_s)`` (None: ``finish``) would
        close, ascending: where to advance first so that the windows close one end at a time.

        A watermark that jumps several windows (a quiet spell in a capture, a capture read in one
        batch, the end of a run) closed them all in one call, whose records were built together:
        every window's columns, address text and side-channel rows at once, so the memory of a
        build grew with the jump. One end at a time, a build holds one window's records.
        The same records come out in the same order: a table is ordered by window start
        first, and where a flow log's ENIs share one interval (one grid of windows, NODATA's too) the
        order of ends is the order of starts. A flow log whose ENIs differ in interval (a window of
        60 s may start after one of 600 s and end before it) is not stepped: no steps at all."""
        per_log = [agg.window_ends() for agg in self.per_flow_log]
        if any(ends is None for ends in per_log):
            return []
        ends = sorted({e for log in per_log for e in log or () if watermark_s is None or e <= watermark_s})
        return ends[:-1]

    def gap_nodata(self, first_s: int, last_s: int, spans: dict[str, tuple[int, int]]) -> list[AggregateOutput]:
        """Per flow log, the NODATA a partitioned run's partitions left out (``FlowLogAggregator.gap_nodata``)."""
        return [agg.gap_nodata(first_s, last_s, spans) for agg in self.per_flow_log]

    def finish(self) -> list[AggregateOutput]:
        """Close every window (end of the run)."""
        return [agg.advance(None) for agg in self.per_flow_log]
