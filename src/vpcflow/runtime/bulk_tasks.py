"""What a Dask worker runs in a bulk replay (``runtime/bulk.py`` submits these; docs/bulk.md).

* ``run_partition``: one capture interface's sources through the native pass
  (``dataplane/pipeline.run_pipeline``: merge, policy engine, aggregation) into memory. It keeps only
  the records of the ENI the partition owns (the aggregator also writes NODATA for the ENIs it never
  saw; their partitions or ``gap_nodata`` account for those) and returns them with the partition's
  packet span and counters.
* ``select``: one destination group's share of a partition's result (so a delivery task receives
  only its flow logs' records).
* ``deliver_group``: the records of every partition for a group of flow logs sharing a destination,
  plus the NODATA the partitions could not know about (``Aggregator.gap_nodata``), written to the
  same sinks a single-process run uses (``runtime/run._Delivery``) and delivered. Object names and
  CloudWatch sequences derive from the run identity and the records, and the sinks order records
  canonically, so the result equals a single-process run byte for byte, and a task Dask reruns
  after a worker died re-puts the same objects and skips checkpointed events.

Errors cross the process boundary as their own type when it pickles, else as ``ConfigError`` with the
same one-line text.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.core.errors import ConfigError, VpcflowError
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions, AggregateOutput, Aggregator
from vpcflow.dataplane.pipeline import PipelineStats, Sink, run_pipeline
from vpcflow.dataplane.sinks.base import DeliveryReceipt, canonical_order
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import Topology
from vpcflow.runtime.run_config import SourceSpec

T = TypeVar("T")


@dataclass(frozen=True)
class Partition:
    """The sources captured on one interface (an ENI id), with their indexes in the run config."""

    label: str
    sources: tuple[SourceSpec, ...]
    indexes: tuple[int, ...]


@dataclass
class PartitionResult:
    """What a partition's native pass produced: record tables per flow log (sink tables: format and
    steering columns), REJECT side-channel rows per flow log, counters and the packet span."""

    label: str
    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    rejects: dict[str, list[pa.Table]] = field(default_factory=dict)
    stats: PipelineStats = field(default_factory=PipelineStats)
    source_stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def span(self) -> tuple[int, int] | None:
        """(first, last) packet second, None when the partition had no packets."""
        st = self.stats
        if st.first_ts_ns is None or st.last_ts_ns is None:
            return None
        return st.first_ts_ns // 1_000_000_000, st.last_ts_ns // 1_000_000_000


@dataclass(frozen=True)
class DeliveryContext:
    """Where and as which run a worker delivers (the data directory must be visible to it)."""

    data_dir: Path
    run_id: str
    s3_endpoint: str | None
    logs_endpoint: str | None
    topology: Topology
    options: AggregateOptions
    files_format: str = "text"  # the config's output format, for flow logs delivered as files


def portable(fn: Callable[..., T], name: str) -> Callable[..., T]:
    """``fn`` whose vpcflow errors reach the client intact: as themselves when they survive pickling
    (some carry keyword-only fields), else as a ``ConfigError`` with the same one-line text."""

    def wrapped(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except VpcflowError as e:
            try:
                pickle.loads(pickle.dumps(e))
            except Exception:
                raise ConfigError(str(e)) from None
            raise

    # Pickled by reference (module + name): the name must be the one the module exports.
    wrapped.__name__ = wrapped.__qualname__ = name
    wrapped.__module__ = fn.__module__
    return wrapped


class _Collect:
    """A sink that keeps what the pipeline writes, for the partition's owned ENI only."""

    def __init__(self, owned: str, result: PartitionResult) -> None:
        self.owned, self.result = owned, result
        self.dropped: dict[str, int] = {}

    def write(self, flow_log: FlowLog, table: pa.Table) -> None:
        mine = table.filter(pc.equal(table.column("interface_id"), self.owned))
        fid = flow_log.flow_log_id
        # Rows of other ENIs are NODATA only (labelled packets are observed at their label's ENI).
        self.dropped[fid] = self.dropped.get(fid, 0) + table.num_rows - mine.num_rows
        if mine.num_rows:
            self.result.tables.setdefault(fid, []).append(mine)

    def flush(self, watermark_s: int | None = None) -> object:
        return None

    def close(self) -> None:
        return None


def _run_partition(partition: Partition, topology: Topology, flow_logs: list[FlowLog],
                   options: AggregateOptions, skip_bad: bool) -> PartitionResult:
    from vpcflow.runtime.run import _open_source, _policy_engine

    result = PartitionResult(partition.label)
    sources = [_open_source(s, topology, skip_bad) for s in partition.sources]
    collect = _Collect(partition.label, result)
    sinks: dict[str, Sink] = {fl.flow_log_id: collect for fl in flow_logs}

    def keep_rejects(out: AggregateOutput) -> None:
        rows = out.rejects.filter(pc.equal(out.rejects.column("interface_id"), partition.label))
        if rows.num_rows:
            result.rejects.setdefault(out.flow_log.flow_log_id, []).append(rows.drop_columns(["record_index"]))

    run_pipeline(sources, _policy_engine(topology), flow_logs, topology, sinks, taps={"aggregate": keep_rejects},
                 options=options, stats=result.stats)
    for fid, n in collect.dropped.items():
        fs = result.stats.flow_logs[fid]
        fs.records -= n
        fs.nodata -= n
    for s in sources:
        as_dict = getattr(getattr(s, "stats", None), "as_dict", None)
        result.source_stats.append(as_dict() if callable(as_dict) else {})
    return result


run_partition = portable(_run_partition, "run_partition")


def select(result: PartitionResult, flow_log_ids: list[str]) -> PartitionResult:
    """The part of ``result`` a delivery task for ``flow_log_ids`` needs (its records and rejects)."""
    return PartitionResult(result.label, {f: result.tables[f] for f in flow_log_ids if f in result.tables},
                           {f: result.rejects[f] for f in flow_log_ids if f in result.rejects})


@dataclass
class GroupDelivery:
    """What a delivery task did: the sinks' receipts and the NODATA records it added per flow log."""

    receipts: list[DeliveryReceipt] = field(default_factory=list)
    gap_nodata: dict[str, int] = field(default_factory=dict)


def _write_rejects(side_dir: Path, fid: str, tables: list[pa.Table]) -> None:
    """The flow log's side channel, whole, replaced atomically (a rerun task writes the same file)."""
    from vpcflow.dataplane.side_channel import write_rejects

    side_dir.mkdir(parents=True, exist_ok=True)
    path = side_dir / f"{fid}.rejects.jsonl"
    tmp = side_dir / f".{fid}.rejects.jsonl.{os.getpid()}.tmp"
    # The same lines as json.dumps of each row, written by the native renderer (issue 10).
    write_rejects(tmp, canonical_order(pa.concat_tables(tables)), append=False)
    os.replace(tmp, path)


def _deliver_group(ctx: DeliveryContext, flow_logs: list[FlowLog], parts: list[PartitionResult],
                   span: tuple[int, int] | None, spans: dict[str, tuple[int, int]]) -> GroupDelivery:
    from vpcflow.controlplane.service import FlowLogService
    from vpcflow.dataplane.sinks.files import FilesSink
    from vpcflow.runtime.datadir import DataDir
    from vpcflow.runtime.run import _Delivery

    done = GroupDelivery()
    dd = DataDir.resolve(ctx.data_dir)
    store = dd.state()
    delivery: _Delivery | None = None
    try:
        account, region = dd.settings(store)
        svc = FlowLogService(store, account_id=account, region=region)
        delivery = _Delivery(dd, store, svc, ctx.run_id, ctx.s3_endpoint, ctx.logs_endpoint)
        gaps: dict[str, AggregateOutput] = {}
        if span is not None:
            aggregator = Aggregator(list(flow_logs), ctx.topology, ctx.options)
            gaps = {o.flow_log.flow_log_id: o for o in aggregator.gap_nodata(span[0], span[1], spans)}
        sinks: list[Sink] = []
        for fl in flow_logs:
            fid = fl.flow_log_id
            sink: Sink | None = delivery.sink(fl)
            if sink is None:  # no embedded destination (Firehose): files, as a single-process run
                sink = FilesSink(dd.path / "records", kind=ctx.files_format)  # type: ignore[arg-type]
            if all(sink is not s for s in sinks):
                sinks.append(sink)
            tables = [t for p in parts for t in p.tables.get(fid, [])]
            gap = gaps.get(fid)
            if gap is not None and gap.table.num_rows:
                tables.append(gap.sink_table())
                done.gap_nodata[fid] = gap.table.num_rows
            for t in tables:
                sink.write(fl, t)
            rejects = [t for p in parts for t in p.rejects.get(fid, [])]
            if rejects:
                _write_rejects(dd.path / "rejects", fid, rejects)
        for sink in sinks:
            got = sink.flush(None)
            if isinstance(got, list):
                done.receipts += got
            sink.close()
    finally:
        if delivery is not None:
            delivery.close()
        store.close()
    return done


deliver_group = portable(_deliver_group, "deliver_group")
