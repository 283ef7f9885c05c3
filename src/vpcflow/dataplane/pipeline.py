"""The ONLY module that chains data-plane stages.

::

    sources --(k-way merge in time order)--> policy engine (attribute + evaluate)
            --> aggregation (per flow log) --> sinks (one per flow log)
                                          \\-> side channel: the rule behind each REJECT record

- **Merge**: the sources' time-ordered batches interleaved into one stream and read ahead
  (``merge.py``: ``merge_sources``, ``prefetch``).
- **Watermark**: sources are time-ordered, so after a batch whose last packet is at second ``t`` no
  later packet can be earlier than ``t``: windows ending at or before ``t`` are closed, their
  records handed to the sinks (``write``) and every sink is told ``flush(t)``. A source may also
  yield ``Heartbeat(t)`` (a live capture on a quiet interface, from the wall clock): the same promise
  without packets, so windows close (NODATA included) and are delivered on time; with several
  sources the merged watermark is the minimum over them.
- **Streaming pass** (``single_pass=True``, ``stream_pass.py``): the engine's observation rows stay
  in the native core and every flow log folds them there; without ``attribute``/``evaluate`` taps.
- **Taps** (``taps={"attribute": f, "evaluate": g, "aggregate": h}``): callbacks that see a stage's
  output: the ``ObservationBatch`` after attribution and evaluation (one engine call does both,
  so ``attribute`` and ``evaluate`` receive the same batch; the CLI prints different columns), and
  each ``AggregateOutput``.
- **Side channel** (``side_channel.py``): per flow log, ``<side_dir>/<flow-log-id>.rejects.jsonl``:
  one JSON object per REJECT record (interface, 5-tuple, start/end, packets and the rule that
  decided). Never inside the AWS records.
- **Stats**: packets, observations, not-captured per category, records per flow log,
  ACCEPT/REJECT/NODATA/SKIPDATA, records and packets lost to SKIPDATA, and what the sinks' receipts
  say became of the records (delivered, spooled, re-delivered from the spool, already delivered).
- **Stopping early** (``stop()`` turns true: Ctrl-C or SIGTERM, see ``runtime/interrupt.py``; or any
  stage raises): batches already handed to aggregation are delivered as the watermark allows (the
  groups it closed), then every sink is *abandoned*, never closed: a group that could still grow
  (an S3 5-minute object, windows still open) is not delivered, so a re-run delivers it whole
  instead of beside a partial copy (issue 13). ``stop()`` raises ``RunInterrupted``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from vpcflow.core.errors import RunInterrupted
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions, AggregateOutput, Aggregator
from vpcflow.dataplane.merge import merge_sources, prefetch
from vpcflow.dataplane.packets import Heartbeat, ObservationBatch, PacketBatch
from vpcflow.dataplane.pipeline_stats import FlowLogStats as FlowLogStats  # re-exported
from vpcflow.dataplane.pipeline_stats import PipelineStats as PipelineStats  # re-exported
from vpcflow.dataplane.side_channel import SideChannel
from vpcflow.dataplane.sinks.faults import fault_point
from vpcflow.dataplane.stream_pass import NativeObservations
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import Topology

TAP_NAMES = ("attribute", "evaluate", "aggregate")


class Observer(Protocol):
    """The policy engine as the pipeline uses it."""

    def observe(self, batch: PacketBatch) -> ObservationBatch: ...


class Sink(Protocol):
    """``dataplane/sinks/base.py``'s RecordSink, as far as the pipeline uses it."""

    def write(self, flow_log: FlowLog, table: pa.Table) -> None: ...

    def flush(self, watermark_s: int | None = None) -> object: ...

    def close(self) -> None: ...


#: ``stop() -> None | reason``: a reason (``"SIGINT"``, ``"SIGTERM"``) asks the run to stop early.
StopCheck = Callable[[], str | None]


ProgressCallback = Callable[[PipelineStats], None]


class _Worker:
    """Runs ``fn(a, b)`` for each submitted pair, in order, in one background thread: aggregation
    (a batch's observations, None for a heartbeat, and its watermark) or the side channel's writes."""

    def __init__(self, fn: Callable[[Any, Any], None], depth: int = 2, name: str = "vpcflow-aggregate") -> None:
        self.fn = fn
        self.q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is not None:
                continue  # failed: drain without work until told to stop
            try:
                self.fn(*item)
            except BaseException as e:  # re-raised in the submitting thread
                self.error = e

    def submit(self, a: Any, b: Any) -> None:
        if self.error is not None:
            raise self.error
        self.q.put((a, b))

    def close(self, reraise: bool = True) -> None:
        self.q.put(None)
        self.thread.join()
        if reraise and self.error is not None:
            raise self.error


def _not_captured(engine: Any) -> dict[str, int]:
    nc = getattr(engine, "not_captured", None)
    if nc is None:
        return {}
    if hasattr(nc, "as_dict"):
        nc = nc.as_dict()
    if isinstance(nc, Mapping):
        return {str(k): int(v) for k, v in nc.items()}
    return {"total": int(nc)}


def _check_stop(stop: StopCheck | None) -> None:
    reason = stop() if stop is not None else None
    if reason:
        raise RunInterrupted(reason)


def _abandon(sink: Sink) -> None:
    """Release a sink without delivering what it still holds (``close`` for sinks without ``abandon``)."""
    abandon = getattr(sink, "abandon", None)
    if callable(abandon):
        abandon()
    else:
        sink.close()


def _check_run_args(taps: Mapping[str, Callable[[Any], None]] | None, flow_logs: Sequence[FlowLog],
                    sinks: Mapping[str, Sink]) -> dict[str, Callable[[Any], None]]:
    """The taps as a dict, after checking every tap name is known and every flow log has a sink."""
    taps_ = dict(taps or {})
    unknown = sorted(set(taps_) - set(TAP_NAMES))
    if unknown:
        raise ValueError(f"unknown tap(s) {', '.join(unknown)}; choose from {', '.join(TAP_NAMES)}")
    missing = [fl.flow_log_id for fl in flow_logs if fl.flow_log_id not in sinks]
    if missing:
        raise ValueError(f"no sink for flow log(s) {', '.join(missing)}")
    return taps_


def _distinct_sinks(sinks: Mapping[str, Sink]) -> list[Sink]:
    """Each sink object once (several flow logs may share one), in first-seen order."""
    distinct: list[Sink] = []
    for s in sinks.values():
        if all(s is not d for d in distinct):
            distinct.append(s)
    return distinct


def _count_output(fs: FlowLogStats, out: AggregateOutput) -> None:
    """Add one aggregation output's record counts to its flow log's stats."""
    fs.records += out.table.num_rows
    fs.ok += out.ok
    fs.accept += out.accept
    fs.reject += out.reject
    fs.nodata += out.nodata
    fs.skipdata += out.skipdata
    fs.skipped_records += out.skipped_records
    fs.skipped_packets += out.skipped_packets


class _Delivery:
    """Aggregation and delivery of one run: folds observations, hands closed windows to the sinks."""

    def __init__(self, aggregator: Aggregator, sinks: Mapping[str, Sink], distinct_sinks: list[Sink],
                 side: SideChannel, taps: Mapping[str, Callable[[Any], None]], st: PipelineStats) -> None:
        self.aggregator = aggregator
        self.sinks = sinks
        self.distinct_sinks = distinct_sinks
        self.side = side
        self.taps = taps
        self.st = st
        self.last_closed: int | None = None
        # The REJECT rows' JSON lines are written beside aggregation, on the other core: on a run with a
        # million rejected flows they were 15% of the aggregation thread, which bounds the run.
        self._side_writer: _Worker | None = None

    def write_side(self, flow_log_id: str, rejects: pa.Table) -> None:
        if not self.side.wants(rejects):  # no thread for a run that writes no side channel
            return
        if self._side_writer is None:
            self._side_writer = _Worker(self.side.write, name="vpcflow-side-channel")
        self._side_writer.submit(flow_log_id, rejects)

    def close_side(self, reraise: bool) -> None:
        """Wait until every side-channel row submitted is written (its first error, if ``reraise``)."""
        writer, self._side_writer = self._side_writer, None
        if writer is not None:
            writer.close(reraise=reraise)

    def deliver(self, outputs: Iterable[AggregateOutput], watermark_s: int | None) -> None:
        """Count, tap and write each output, write its rejects, then flush every sink."""
        taps, st = self.taps, self.st
        for out in outputs:
            _count_output(st.flow_logs[out.flow_log.flow_log_id], out)
            if "aggregate" in taps and out.table.num_rows:
                taps["aggregate"](out)
            if out.table.num_rows:
                self.sinks[out.flow_log.flow_log_id].write(out.flow_log, out.sink_table())
            self.write_side(out.flow_log.flow_log_id, out.rejects)
        for s in self.distinct_sinks:
            st.count_receipts(s.flush(watermark_s))
        fault_point("pipeline.after_flush")

    def aggregate(self, obs: ObservationBatch | NativeObservations | None, watermark: int) -> None:
        """Fold a batch's observations (``None``: a heartbeat) and deliver the windows it closed."""
        if obs is None:  # a heartbeat: time moved on without packets (live capture on a quiet interface)
            self.aggregator.note_watermark(watermark)
        else:
            self.aggregator.add(obs)
        # Windows are at least 60 s long and aligned to multiples of 60: check once per minute.
        minute = watermark // 60
        if self.last_closed is None or minute > self.last_closed:
            # Window ends are multiples of 60: a watermark one minute on passes at most one of them,
            # and needs no steps (finding them reads every open group: 6 ms on a million).
            stepwise = self.last_closed is None or minute > self.last_closed + 1
            self.last_closed = minute
            self.close_windows(watermark, stepwise=stepwise)

    def close_windows(self, watermark: int | None, *, stepwise: bool = True) -> None:
        """Deliver the windows ``watermark`` closes (None: every window, the end of the run). With
        ``stepwise``, windows that end at different times close one end at a time
        (``Aggregator.steps``: records are built a window's worth at a time), each step's end its
        watermark."""
        if stepwise:
            for end in self.aggregator.steps(watermark):
                self.deliver(self.aggregator.advance(end), end)
        outputs = self.aggregator.finish() if watermark is None else self.aggregator.advance(watermark)
        self.deliver(outputs, watermark)


def _fresh_stats(stats: PipelineStats | None, flow_logs: Sequence[FlowLog]) -> PipelineStats:
    """``stats`` (a new one if ``None``) with zeroed per-flow-log figures for ``flow_logs``."""
    if stats is None:
        stats = PipelineStats()
    stats.flow_logs = {fl.flow_log_id: FlowLogStats() for fl in flow_logs}
    return stats


def _batch_stream(sources: Sequence[Any], prefetch_batches: int) -> Iterator[PacketBatch | Heartbeat]:
    """The sources merged in time order, read ahead in a thread when ``prefetch_batches`` > 0."""
    merged = merge_sources(sources)
    return prefetch(merged, prefetch_batches) if prefetch_batches > 0 else merged


def _report(st: PipelineStats, engine: Observer, progress: ProgressCallback | None) -> None:
    """Refresh the not-captured counts from the engine and tell ``progress``."""
    st.not_captured = _not_captured(engine)
    if progress is not None:
        progress(st)


def _pick_observe(engine: Observer, single_pass: bool, taps: Mapping[str, Any]) -> Callable[[PacketBatch], Any]:
    """The engine's streaming ``observe_native`` when asked for and no tap needs the observation batches."""
    native_observe = getattr(engine, "observe_native", None)
    observe: Callable[[PacketBatch], Any] = engine.observe
    if single_pass and native_observe is not None and not ({"attribute", "evaluate"} & set(taps)):
        observe = native_observe
    return observe


def _count_batch(st: PipelineStats, batch: PacketBatch) -> int:
    """Add a packet batch's packets, bytes and time span to the run's stats; its last timestamp (ns)."""
    st.packets += len(batch)
    st.bytes += int(batch.ip_len.sum(dtype=np.int64))
    st.batches += 1
    if st.first_ts_ns is None:
        st.first_ts_ns = int(batch.ts_ns[0])
    st.last_ts_ns = last = int(batch.ts_ns[-1])
    return last


def _feed_batches(stream: Iterable[PacketBatch | Heartbeat], observe: Callable[[PacketBatch], Any],
                  aggregate: Callable[[Any, int], None], engine: Observer,
                  taps: Mapping[str, Callable[[Any], None]], st: PipelineStats,
                  progress: ProgressCallback | None, stop: StopCheck | None) -> None:
    """Observe each batch and hand it to ``aggregate`` (inline or the worker's submit), checking ``stop``."""
    for batch in stream:
        if isinstance(batch, Heartbeat):  # like the end of a batch at that second, without packets
            aggregate(None, batch.watermark_s)
            _check_stop(stop)
            continue
        last_ts_ns = _count_batch(st, batch)
        obs = observe(batch)
        st.observations += len(obs)
        if "attribute" in taps:
            taps["attribute"](obs)
        if "evaluate" in taps:
            taps["evaluate"](obs)
        if isinstance(obs, NativeObservations):
            obs = obs.for_fold()  # what waits in the aggregation queue: no address columns
        del batch  # the columns the fold does not read go now, not when the next batch arrives
        aggregate(obs, last_ts_ns // 1_000_000_000)
        _report(st, engine, progress)
        fault_point("pipeline.after_batch")
        _check_stop(stop)


def _close_sinks(distinct_sinks: list[Sink], completed: bool) -> None:
    """Close every sink after a completed run; abandon them after one that stopped early."""
    for s in distinct_sinks:
        if completed:
            s.close()
        else:
            _abandon(s)


def run_pipeline(
    sources: Sequence[Any],
    engine: Observer,
    flow_logs: Sequence[FlowLog],
    topology: Topology,
    sinks: Mapping[str, Sink],
    *,
    side_dir: Path | None = None,
    taps: Mapping[str, Callable[[Any], None]] | None = None,
    progress: ProgressCallback | None = None,
    options: AggregateOptions | None = None,
    prefetch_batches: int = 0,
    threaded: bool = False,
    stop: StopCheck | None = None,
    stats: PipelineStats | None = None,
    single_pass: bool = False,
) -> PipelineStats:
    """Run sources through the engine and aggregation into ``sinks`` (flow-log id -> sink).

    Every flow log needs a sink. Sinks are flushed as windows close and closed at the end; when the
    run stops early (``stop()`` returns a reason: ``RunInterrupted``; or a stage fails: its error)
    they are abandoned instead, after delivering what the watermark closed (module docstring).
    Returns the run's stats; pass ``stats`` to keep the figures of a run that stops early.
    ``prefetch_batches``: batches read ahead in a background thread (default 0: read inline; on a loaded
    2-core machine the thread measured slower, see docs/benchmarks.md).
    ``threaded``: aggregation and delivery run in a worker thread, overlapping with reading and
    evaluating the next batch on another core (the compiled kernels release the GIL). Records,
    their order and the sinks' calls are the same as inline.
    ``single_pass``: the streaming pass (``stream_pass.py``): observations go from the engine's
    decision pass to the fold inside the native core, never as numpy columns. Taken when the engine
    offers it (``observe_native``) and no ``attribute``/``evaluate`` tap wants the observation
    batches; the records are the same.
    """
    taps_ = _check_run_args(taps, flow_logs, sinks)
    st = _fresh_stats(stats, flow_logs)
    aggregator = Aggregator(list(flow_logs), topology, options or AggregateOptions())
    distinct_sinks = _distinct_sinks(sinks)
    delivery = _Delivery(aggregator, sinks, distinct_sinks, SideChannel(side_dir), taps_, st)
    observe = _pick_observe(engine, single_pass, taps_)
    worker = _Worker(delivery.aggregate) if threaded else None
    completed = False
    try:
        feed = worker.submit if worker is not None else delivery.aggregate
        _feed_batches(_batch_stream(sources, prefetch_batches), observe, feed, engine, taps_, st, progress, stop)
        if worker is not None:
            worker.close()
            worker = None
        _check_stop(stop)  # a signal while the last batches were delivered: still no final flush
        delivery.close_windows(None)
        delivery.close_side(reraise=True)
        completed = True
    finally:
        try:
            if worker is not None:  # stopped early: let the worker deliver what the watermark closed
                worker.close(reraise=False)
        finally:
            delivery.close_side(reraise=False)  # stopped early: still every row of what was delivered
            _close_sinks(distinct_sinks, completed)
    _report(st, engine, progress)
    return st
