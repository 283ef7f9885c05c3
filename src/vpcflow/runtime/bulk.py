"""Bulk replay on Dask: ``vpcflow run CONFIG --cluster ADDRESS`` / ``--workers N`` (docs/bulk.md).

The run is prepared as any run (``run.prepare_run``: flow logs created, sources validated, run
identity, writer lock); then, instead of one pipeline in this process:

1. **Partitions**: the sources are grouped by capture interface (their ``interface:`` label, an ENI
   id). Every packet of a labelled capture is observed only at that ENI, so a partition's records
   are exactly the single-process run's records of its ENI, except NODATA at the edges (below).
2. **Native pass per partition** on a Dask worker (``bulk_tasks.run_partition``).
3. **Delivery per destination** on a Dask worker (``bulk_tasks.deliver_group``): one task per S3
   flow log, one per CloudWatch Logs group (flow logs sharing a group share its streams), with the
   records of every partition and the NODATA of windows outside a partition's own packet span
   (the single-process run's span is the whole run's; ``Aggregator.gap_nodata``).

Dask schedules everything (``dask scheduler`` / ``dask worker`` or a ``LocalCluster`` for
``--workers``); a worker that dies has its tasks rerun elsewhere, and lost partition results are
recomputed. Delivery is idempotent per task (content-named objects, checkpointed CloudWatch
sequences), so a rerun neither loses nor doubles anything. Dask is imported only here, lazily:
vpcflow works without it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from vpcflow.core.errors import ConfigError, RunInterrupted
from vpcflow.dataplane.pipeline import PipelineStats, StopCheck
from vpcflow.dataplane.pipeline_stats import FlowLogStats
from vpcflow.model.flowlog import FlowLog
from vpcflow.runtime.bulk_tasks import DeliveryContext, GroupDelivery, Partition, deliver_group, run_partition, select
from vpcflow.runtime.outcome import delivery_outcome, raise_stopped
from vpcflow.runtime.run import PreparedRun, RunResult
from vpcflow.runtime.run_config import RunConfig

#: Seconds to wait for a scheduler to answer before ``--cluster`` gives up.
CONNECT_TIMEOUT_S = 10.0
#: How often the client checks for Ctrl-C / SIGTERM while the workers run.
POLL_S = 0.2


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as e:
        raise ConfigError("--cluster/--workers need Dask: pip install 'vpcflow[dask]' (dask[distributed])",
                          key_path="--cluster") from e
    return distributed


@contextmanager
def dask_client(cluster: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask client of the scheduler at ``cluster``, or of a local cluster of ``workers`` processes."""
    if (cluster is None) == (workers is None):
        raise ConfigError("give either --cluster ADDRESS or --workers N", key_path="--cluster")
    if workers is not None and workers < 1:
        raise ConfigError(f"must be at least 1, got {workers}", key_path="--workers")
    distributed = _distributed()
    if cluster is not None:
        try:
            client = distributed.Client(cluster, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ConfigError(f"cannot reach a Dask scheduler at {cluster!r}: {reason}", key_path="--cluster") from e
        try:
            yield client
        finally:
            client.close()
        return
    local = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                     dashboard_address=None, host="127.0.0.1")
    try:
        client = distributed.Client(local)
        try:
            yield client
        finally:
            client.close()
    finally:
        local.close()


def plan_partitions(config: RunConfig) -> list[Partition]:
    """The run's sources grouped by capture interface, in the order of first appearance; a source
    that cannot be partitioned is a ``ConfigError`` naming it (call before ``prepare_run`` to refuse
    before any flow log is created)."""
    by_label: dict[str, list[int]] = {}
    for i, spec in enumerate(config.sources):
        key = f"sources[{i}]"
        if spec.kind in ("live", "scenario"):
            raise ConfigError(f"a {spec.kind} source cannot be replayed on a Dask cluster: only capture files "
                              "partition by capture interface", location=spec.where or None, key_path=key)
        if spec.interface is None:
            raise ConfigError("a run on a Dask cluster partitions the sources by capture interface: give this "
                              "source `interface: <eni-id>` (the ENI it was captured on)",
                              location=spec.where or None, key_path=f"{key}.interface")
        by_label.setdefault(spec.interface, []).append(i)
    srcs = config.sources
    return [Partition(label, tuple(srcs[i] for i in idx), tuple(idx)) for label, idx in by_label.items()]


def destination_groups(flow_logs: list[FlowLog]) -> list[list[FlowLog]]:
    """Flow logs delivered by one task: each S3 flow log alone; flow logs of one log group together."""
    groups: dict[str, list[FlowLog]] = {}
    for fl in sorted(flow_logs, key=lambda f: f.flow_log_id):
        if fl.log_destination_type == "cloud-watch-logs":
            key = f"logs:{fl.log_group_name or fl.log_destination}"
        else:
            key = f"fl:{fl.flow_log_id}"
        groups.setdefault(key, []).append(fl)
    return list(groups.values())


def _check_prepared(prepared: PreparedRun) -> None:
    fallback = prepared.data_dir.path / "records"  # Firehose flow logs: files, as in a single-process run
    if any(not p.is_relative_to(fallback) for p in prepared.outputs.values()):
        raise ConfigError("--output (or the config's output.dir) cannot be combined with --cluster/--workers: the "
                          "workers deliver to the flow logs' destinations", key_path="--output")


#: ``progress(stage, done, total)``: "partitions" then "deliveries", as tasks finish.
BulkProgress = Callable[[str, int, int], None]


def _wait(client: Any, futures: list[Any], stop: StopCheck | None, progress: BulkProgress | None = None,
          stage: str = "") -> list[Any]:
    """The futures' results once all are done; a stop request cancels them (``RunInterrupted``)."""
    distributed = _distributed()
    while True:
        reason = stop() if stop is not None else None
        if reason:
            client.cancel(futures)
            raise RunInterrupted(reason)
        if progress is not None:
            progress(stage, sum(1 for f in futures if f.done()), len(futures))
        try:
            distributed.wait(futures, timeout=POLL_S)
        except TimeoutError:
            continue
        return list(client.gather(futures))


def _merge_stats(stats: PipelineStats, flow_logs: list[FlowLog], parts: list[Any]) -> None:
    stats.flow_logs = {fl.flow_log_id: FlowLogStats() for fl in flow_logs}
    for p in parts:
        st = p.stats
        stats.packets += st.packets
        stats.bytes += st.bytes
        stats.batches += st.batches
        stats.observations += st.observations
        for k, v in st.not_captured.items():
            stats.not_captured[k] = stats.not_captured.get(k, 0) + v
        if st.first_ts_ns is not None:
            stats.first_ts_ns = st.first_ts_ns if stats.first_ts_ns is None else min(stats.first_ts_ns, st.first_ts_ns)
        if st.last_ts_ns is not None:
            stats.last_ts_ns = st.last_ts_ns if stats.last_ts_ns is None else max(stats.last_ts_ns, st.last_ts_ns)
        for fid, fs in st.flow_logs.items():
            into = stats.flow_logs[fid]
            for name in ("records", "ok", "accept", "reject", "nodata", "skipdata", "skipped_records",
                         "skipped_packets"):
                setattr(into, name, getattr(into, name) + getattr(fs, name))


def _summary(result: Any) -> Any:
    """A partition's counters and span without its records (what the client needs to plan delivery)."""
    from vpcflow.runtime.bulk_tasks import PartitionResult

    return PartitionResult(result.label, stats=result.stats, source_stats=result.source_stats)


def _run_on(client: Any, prepared: PreparedRun, stats: PipelineStats, stop: StopCheck | None,
            progress: BulkProgress | None) -> list[Any]:
    partitions = plan_partitions(prepared.config)
    token = uuid.uuid4().hex[:8]
    fls = list(prepared.flow_logs)
    results = [client.submit(run_partition, p, prepared.topology, fls, prepared.options, prepared.skip_bad,
                             key=f"vpcflow-partition-{prepared.run_id}-{p.label}-{token}", pure=False)
               for p in partitions]
    summaries = _wait(client, [client.submit(_summary, r, pure=False) for r in results], stop, progress, "partitions")
    _merge_stats(stats, fls, summaries)
    spans = {s.label: s.span for s in summaries if s.span is not None}
    span = None
    if spans:
        span = (min(a for a, _ in spans.values()), max(b for _, b in spans.values()))
    ctx = DeliveryContext(prepared.data_dir.path, prepared.run_id, prepared.config.s3_endpoint_url,
                          prepared.config.logs_endpoint_url, prepared.topology, prepared.options,
                          prepared.config.output_format)
    deliveries = []
    for i, group in enumerate(destination_groups(fls)):
        ids = [fl.flow_log_id for fl in group]
        shares = [client.submit(select, r, ids, pure=False) for r in results]
        deliveries.append(client.submit(deliver_group, ctx, group, shares, span, spans, pure=False,
                                        key=f"vpcflow-deliver-{prepared.run_id}-{i}-{token}"))
    done: list[GroupDelivery] = _wait(client, deliveries, stop, progress, "deliveries")
    for d in done:
        for fid, n in d.gap_nodata.items():
            stats.flow_logs[fid].records += n
            stats.flow_logs[fid].nodata += n
        stats.count_receipts(d.receipts)
    source_stats: list[dict[str, Any]] = [{} for _ in prepared.config.sources]
    for part, summary in zip(partitions, summaries, strict=True):
        for i, st in zip(part.indexes, summary.source_stats, strict=True):
            source_stats[i] = st
    return source_stats


def execute_on_dask(prepared: PreparedRun, *, cluster: str | None = None, workers: int | None = None,
                    stop: StopCheck | None = None, progress: BulkProgress | None = None) -> RunResult:
    """Run a prepared run's partitions and deliveries on Dask (module docstring); as ``run.execute``.

    ``cluster``: a scheduler's address; ``workers``: the size of a local cluster started for the run.
    """
    stats = PipelineStats(flow_logs={fl.flow_log_id: FlowLogStats() for fl in prepared.flow_logs})
    stopped: BaseException | None = None
    source_stats: list[dict[str, Any]] = []
    try:
        _check_prepared(prepared)
        with dask_client(cluster, workers) as client:
            source_stats = _run_on(client, prepared, stats, stop, progress)
    except ConfigError:
        _release(prepared)
        raise
    except (Exception, KeyboardInterrupt) as e:
        stopped = e
    try:
        outcome = _outcome(prepared, stats)
    finally:
        _release(prepared)
    if stopped is not None:
        raise_stopped(stopped, stats, outcome)
    return RunResult(prepared=prepared, stats=stats, source_stats=source_stats, outcome=outcome)


def _outcome(prepared: PreparedRun, stats: PipelineStats) -> Any:
    from vpcflow.dataplane.sinks.spool import Spool

    delivering = prepared.delivery.delivering() if prepared.delivery is not None else set()
    return delivery_outcome(prepared.flow_logs, stats, Spool(prepared.data_dir.spool), prepared.store, delivering)


def _release(prepared: PreparedRun) -> None:
    if prepared.delivery is not None:
        prepared.delivery.close()
    if prepared.store is not None:
        prepared.store.close()
        prepared.store = None
    if prepared.lock is not None:
        prepared.lock.release()
        prepared.lock = None
    prepared.delivery = None
