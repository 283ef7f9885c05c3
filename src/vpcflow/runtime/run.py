"""The composition root of a run: config -> control plane -> sources, engine, aggregation, sinks.

``prepare_run`` does everything that can fail before traffic flows, in this order: read the run
config (``run_config``), open the data directory, load the topology into it when the config names
one (a fresh data directory takes the topology's account and region), apply the config's
CreateFlowLogs requests through the control plane (parameter rules, IAM as ``principal``,
FlowLogAlreadyExists...), resolve the flow logs that record, open the sources and build the sinks.
``execute`` then runs ``dataplane.pipeline.run_pipeline``.

Re-running a config is safe: a request refused with ``FlowLogAlreadyExists`` (same resource, same
destination, spec 6.5) records with the flow log that already exists, so no duplicate appears.

Destinations: with an output folder (``--output`` or ``output.dir``) every flow log's records
are written there as text or Parquet files (``sinks/files.py``); otherwise each flow log goes to
the embedded destination of its LogDestinationType (``_Delivery``: the local bucket store for
``s3``, the embedded log store for ``cloud-watch-logs``), falling back to files under
``<data-dir>/records`` for a type without one (``kinesis-data-firehose``). The REJECT side channel goes to
``<data-dir>/rejects/<flow-log-id>.rejects.jsonl``.

A run that stops early delivers no group that could still grow (docs/delivery.md): stopped by
``stop`` (``runtime/interrupt.py``) it raises ``RunInterrupted``, by an error that error; either
carries the one-line account of what was delivered and what is pending (``runtime/outcome.py``).
"""

from __future__ import annotations

import gc
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vpcflow.controlplane.service import FlowLogService
from vpcflow.core.errors import ApiError, ConfigError
from vpcflow.core.userfiles import read_input_text
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions
from vpcflow.dataplane.allocators import tune_allocators
from vpcflow.dataplane.pipeline import PipelineStats, ProgressCallback, Sink, StopCheck, run_pipeline
from vpcflow.dataplane.sinks.files import FilesSink
from vpcflow.dataplane.sources.capture import CaptureSource
from vpcflow.dataplane.sources.pcap import CaptureConfig, PcapSource
from vpcflow.dataplane.sources.pcapng import PcapngSource
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import Topology
from vpcflow.runtime.datadir import DataDir
from vpcflow.runtime.interrupt import route_stop
from vpcflow.runtime.outcome import DeliveryOutcome, delivery_outcome, raise_stopped
from vpcflow.runtime.run_config import (
    RunConfig,
    SourceSpec,
    check_source_interfaces,
    load_run_config,
    run_config_from_dict,
)
from vpcflow.runtime.run_identity import PendingDigest, prefetch_digests, run_identity
from vpcflow.runtime.writer_lock import WriterLock
from vpcflow.storage.state import StateStore


@dataclass
class PreparedRun:
    config: RunConfig
    data_dir: DataDir
    topology: Topology
    flow_logs: list[FlowLog]
    created: list[str]  # flow-log ids created by this run's requests
    reused: list[str]  # ids of flow logs that already existed (FlowLogAlreadyExists)
    sources: list[Any]
    sinks: dict[str, Sink]
    outputs: dict[str, Path]  # flow-log id -> where its records go (files sink)
    side_dir: Path
    options: AggregateOptions
    engine: Any = None
    store: StateStore | None = None
    delivery: Any = None
    run_id: str = ""  # runtime/run_identity.py
    lock: WriterLock | None = None  # one writer per data directory, held until execute() ends
    skip_bad: bool = False  # --skip-bad (sources opened elsewhere, e.g. on Dask workers, need it)


@dataclass
class RunResult:
    """What a run did: ``stats`` (packets, records per flow log: ``stats.flow_logs[id].records``), the
    prepared run (flow logs, sinks, where files went) and each source's own counters."""

    prepared: PreparedRun
    stats: PipelineStats
    source_stats: list[dict[str, Any]] = field(default_factory=list)
    outcome: DeliveryOutcome = field(default_factory=DeliveryOutcome)


def _topology_format(path: Path) -> str:
    return "json" if path.suffix.lower() == ".json" else "yaml"


def _topology_input(cfg: RunConfig) -> tuple[str, str, str]:
    """(text, format, name for messages) of the config's topology: its file, or the in-line document."""
    if cfg.topology_document is not None:
        return json.dumps(cfg.topology_document), "json", f"{cfg.source}:topology"
    assert cfg.topology is not None
    return read_input_text(cfg.topology, "topology file"), _topology_format(cfg.topology), str(cfg.topology)


def _load_topology(cfg: RunConfig, dd: DataDir, store: StateStore) -> None:
    text, fmt, source = _topology_input(cfg)
    account, region = dd.settings(store)
    svc = FlowLogService(store, account_id=account, region=region)
    topo = svc._parse_topology(text, fmt, source)
    if (topo.account_id, topo.region) != (account, region):
        with store.transaction(write=False) as t:
            fresh = not t.stored_flow_logs() and t.get_topology() is None
        if fresh:
            # A new data directory takes the account of the network it models.
            with store.transaction() as t:
                t.set_setting("account_id", topo.account_id)
                t.set_setting("region", topo.region)
            account, region = topo.account_id, topo.region
            svc = FlowLogService(store, account_id=account, region=region)
    loaded = svc.load_topology(text, fmt=fmt, source=source)
    # The buckets the topology declares exist in the modelled world: create those the local bucket
    # store lacks (only here, when the world is (re)loaded, so a bucket deleted later stays gone and
    # delivery reports FAILED / Access error as AWS would).
    from vpcflow.storage.bucketstore import BucketStore

    buckets = BucketStore(dd.s3_root)
    for b in loaded.s3_buckets:
        if not buckets.bucket_exists(b.name):
            buckets.create_bucket(b.name)


def _same_destination(fl: FlowLog, req: Mapping[str, Any]) -> bool:
    dest_type = req.get("LogDestinationType", "cloud-watch-logs")
    if fl.log_destination_type != dest_type:
        return False
    if dest_type == "cloud-watch-logs" and req.get("LogGroupName"):
        return fl.log_group_name == req.get("LogGroupName")
    return (fl.log_destination or "").rstrip("/") == str(req.get("LogDestination", "")).rstrip("/")


def _apply_requests(cfg: RunConfig, svc: FlowLogService, store: StateStore) -> tuple[list[str], list[str]]:
    created: list[str] = []
    reused: list[str] = []
    for i, req in enumerate(cfg.create):
        where = cfg.create_where[i]
        key = f"flow_logs.create[{i}]"
        try:
            resp = svc.create_flow_logs(cfg.principal, **req)
        except ApiError as e:
            raise ConfigError(f"CreateFlowLogs refused: {e.code}: {e.message}", location=where, key_path=key) from e
        created += list(resp.get("FlowLogIds", []))
        for item in resp.get("Unsuccessful", []):
            err = item.get("Error", {})
            rid = item.get("ResourceId", "")
            if err.get("Code") == "FlowLogAlreadyExists":
                existing = [s.flow_log for s in store.list_stored_flow_logs()
                            if s.flow_log.resource_id == rid and _same_destination(s.flow_log, req)]
                if existing:
                    reused.append(existing[0].flow_log_id)
                    continue
            raise ConfigError(f"CreateFlowLogs failed for {rid}: {err.get('Code')}: {err.get('Message')}",
                              location=where, key_path=key)
    return created, reused


def _open_source(spec: SourceSpec, topology: Topology, skip_bad: bool) -> Any:
    if spec.kind == "scenario":
        return _synthetic_source(spec, topology)
    if spec.kind == "live":
        from vpcflow.dataplane.sources.live import LiveConfig, LiveSource

        return LiveSource(LiveConfig(str(spec.path), interface=spec.interface, duration_s=spec.duration_s,
                                     max_packets=spec.max_packets, snaplen=spec.snaplen or LiveConfig.snaplen))
    opts: dict[str, Any] = {"interface": spec.interface, "interface_map": dict(spec.interface_map),
                            "skip_bad": spec.skip_bad or skip_bad}
    if spec.reorder_window_s is not None:
        opts["reorder_window_s"] = spec.reorder_window_s
    cfg = CaptureConfig(str(spec.path), **opts)
    if spec.kind == "pcap":
        return PcapSource(cfg)
    if spec.kind == "pcapng":
        return PcapngSource(cfg)
    return CaptureSource(cfg)


def _synthetic_source(spec: SourceSpec, topology: Topology) -> Any:
    from vpcflow.dataplane.sources.scenario import load_scenario, loads_scenario
    from vpcflow.dataplane.sources.synthetic import SyntheticConfig, SyntheticSource

    # The scenario runs over the run's topology (the one the flow logs were created on), whatever
    # its own `topology` key names.
    if spec.document is not None:  # given in-line (run_config_from_dict): YAML is a superset of JSON
        scenario = loads_scenario(json.dumps(spec.document), source=str(spec.path), topology=topology,
                                  seed=spec.seed, duration_s=spec.duration_s)
    else:
        scenario = load_scenario(spec.path, topology=topology, seed=spec.seed, duration_s=spec.duration_s)
    cfg = SyntheticConfig(str(spec.path), seed=spec.seed, duration_s=spec.duration_s)
    return SyntheticSource(cfg, scenario=scenario)


def _policy_engine(topology: Topology) -> Any:
    for name in ("vpcflow.dataplane.engine", "vpcflow.dataplane.attribute.engine"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        engine = getattr(mod, "PolicyEngine", None)
        if engine is not None:
            return engine(topology)
    raise ConfigError("the policy engine (vpcflow.dataplane.engine.PolicyEngine) is not available in this build")


class _Delivery:
    """The data directory's embedded destinations, one sink per destination type, built on first use.

    ``s3`` -> ``LocalBucketSink`` over ``<data-dir>/s3``; ``cloud-watch-logs`` -> ``EmbeddedLogsSink``
    over ``<data-dir>/logs.db`` (or, with ``delivery.s3_endpoint_url`` / ``logs_endpoint_url`` in the
    config, ``S3Sink`` / ``CloudWatchLogsSink`` through boto3: AWS itself or any compatible endpoint);
    all spool undeliverable records in ``<data-dir>/spool`` and report
    SUCCESS/FAILED to the control plane's delivery status. Delivery-time IAM checks (role trust and
    permissions, bucket policy) come from ``FlowLogService.check_delivery``. Kinesis Data Firehose has
    no embedded destination: its flow logs fall back to files (see ``prepare_run``).
    """

    def __init__(self, dd: DataDir, store: StateStore, svc: FlowLogService, run_id: str,
                 s3_endpoint: str | None = None, logs_endpoint: str | None = None) -> None:
        self.dd, self.store, self.svc, self.run_id = dd, store, svc, run_id
        self.s3_endpoint, self.logs_endpoint = s3_endpoint, logs_endpoint
        self._sinks: dict[str, Sink] = {}
        self._adopted: list[str] = []
        self.closeables: list[Any] = []

    def _status(self, flow_log_id: str, status: str, message: str | None) -> None:
        self.store.set_delivery_status(flow_log_id, status, message)  # type: ignore[arg-type]

    #: After a failed delivery, seconds before a sink tries that flow log again (a last try at the end).
    RETRY_AFTER_S = 60.0

    def _check(self, fl: FlowLog) -> str | None:
        # Only asks: the sink records the status, from what the destination actually did (a passing
        # IAM check must not write SUCCESS over a FAILED delivery; issue 13).
        check = self.svc.check_delivery([fl.flow_log_id], record=False)[fl.flow_log_id]
        return None if check.ok else (check.aws_message or "Access error")

    def delivering(self) -> set[str]:
        """Ids of the flow logs this run hands to a delivery sink (not to files)."""
        return set(self._adopted)

    def sink(self, fl: FlowLog) -> Sink | None:
        """The flow log's delivery sink, which adopts it (so a spool left by an earlier run drains
        even when this run has no new records for it)."""
        sink = self._sink(fl)
        adopt = getattr(sink, "adopt", None)
        if callable(adopt):
            adopt(fl)
            self._adopted.append(fl.flow_log_id)
        return sink

    def _sink(self, fl: FlowLog) -> Sink | None:
        kind = fl.log_destination_type
        if kind in self._sinks:
            return self._sinks[kind]
        from vpcflow.dataplane.sinks.spool import Spool

        spool = Spool(self.dd.spool)
        sink: Sink
        account, region = self.dd.settings(self.store)
        if kind == "s3" and self.s3_endpoint is not None:
            from vpcflow.dataplane.sinks.s3 import S3Sink

            endpoint = None if self.s3_endpoint == "aws" else self.s3_endpoint
            sink = S3Sink(endpoint_url=endpoint, region=region, spool=spool, status=self._status,
                          authorize=self._check, retry_after_s=self.RETRY_AFTER_S, run_id=self.run_id)
        elif kind == "s3":
            from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
            from vpcflow.storage.bucketstore import BucketStore

            sink = LocalBucketSink(BucketStore(self.dd.s3_root), spool=spool, status=self._status,
                                   authorize=self._check, retry_after_s=self.RETRY_AFTER_S, run_id=self.run_id)
        elif kind == "cloud-watch-logs" and self.logs_endpoint is not None:
            from vpcflow.dataplane.sinks.cloudwatch_logs import CloudWatchLogsSink
            from vpcflow.dataplane.sinks.spool import CheckpointStore

            checkpoints = CheckpointStore(self.dd.spool / "checkpoints.db")
            self.closeables.append(checkpoints)
            endpoint = None if self.logs_endpoint == "aws" else self.logs_endpoint
            sink = CloudWatchLogsSink(checkpoints=checkpoints, endpoint_url=endpoint, region=region,
                                      run_id=self.run_id, spool=spool, status=self._status,
                                      authorize=lambda fl, _group_exists: self._check(fl),
                                      retry_after_s=self.RETRY_AFTER_S)
        elif kind == "cloud-watch-logs":
            from vpcflow.dataplane.sinks.embedded_logs import EmbeddedLogsSink
            from vpcflow.storage.logstore import LogStore

            logs = LogStore(self.dd.logs_path, account_id=account, region=region)
            self.closeables.append(logs)
            sink = EmbeddedLogsSink(logs, run_id=self.run_id, spool=spool, status=self._status,
                                    authorize=lambda fl, _group_exists: self._check(fl),
                                    retry_after_s=self.RETRY_AFTER_S)
        else:
            return None
        self._sinks[kind] = sink
        return sink

    def close(self) -> None:
        for c in self.closeables:
            close = getattr(c, "close", None)
            if callable(close):
                close()


#: Batches the sources read ahead in a thread: the capture scan of the next batch then runs on the
#: other core while the engine decides this one (5,000,000 packets: 1.69 -> 1.55 s wall on a quiet
#: 2-core machine, peak memory 329 -> 414 MiB; docs/benchmarks.md).
READ_AHEAD_BATCHES = 2


def prepare_run(config: str | Path | RunConfig | Mapping[str, Any], *, data_dir: str | Path | None = None,
                output: str | Path | None = None, output_format: str | None = None,
                skip_bad: bool = False, engine: Any = None, lock_wait_s: float = 0.0,
                digests: Mapping[Path, PendingDigest] | None = None) -> PreparedRun:
    """Everything before traffic flows (see the module docstring); errors are ``ConfigError``/``ApiError``.

    The data directory's writer lock (``writer_lock.py``) is taken first and held until ``execute``
    ends: a second run on the same directory refuses (or waits up to ``lock_wait_s``).
    """
    cfg = _as_run_config(config)
    # Capture digests (the run identity) computed on the other core while the run is prepared; the
    # CLI starts them before its own imports (``digests``: those already under way for ``cfg``).
    if digests is None:
        digests = prefetch_digests(cfg)
    dd = DataDir.resolve(data_dir if data_dir is not None else cfg.data_dir)
    dd.ensure()
    lock = WriterLock(dd.path, wait_s=lock_wait_s)
    try:
        store = dd.state()
    except BaseException:
        lock.release()
        raise
    try:
        if cfg.has_topology:
            _load_topology(cfg, dd, store)
        account, region = dd.settings(store)
        svc = FlowLogService(store, account_id=account, region=region)
        topology, _ = svc.world()
        if topology is None:
            raise ConfigError(f"data directory {dd.path} has no topology: name one with `topology:` in the config",
                              location=cfg.source)
        check_source_interfaces(cfg, topology)  # before any flow log is created
        created, reused = _apply_requests(cfg, svc, store)
        flow_logs = _flow_logs_of_run(cfg, store, dd, created, reused)
        sources = [_open_source(s, topology, skip_bad) for s in cfg.sources]
        # After the sources opened (so every input was validated): what makes re-runs exactly-once.
        run_id = run_identity(cfg, topology, skip_bad=skip_bad, digests=digests)
        delivery = _Delivery(dd, store, svc, run_id, cfg.s3_endpoint_url, cfg.logs_endpoint_url)
        out_dir = Path(output) if output is not None else cfg.output_dir
        sinks, outputs = _sinks_of_run(flow_logs, delivery, dd, out_dir, output_format or cfg.output_format)
        options = AggregateOptions(nodata=cfg.nodata) if cfg.skipdata_capacity is None else AggregateOptions(
            skipdata_capacity=cfg.skipdata_capacity, nodata=cfg.nodata)
        return PreparedRun(
            config=cfg, data_dir=dd, topology=topology, flow_logs=flow_logs, created=created, reused=reused,
            sources=sources, sinks=sinks, outputs=outputs, side_dir=dd.path / "rejects", options=options,
            engine=engine if engine is not None else _policy_engine(topology), store=store, delivery=delivery,
            run_id=run_id, lock=lock, skip_bad=skip_bad,
        )
    except BaseException:
        store.close()
        lock.release()
        raise


def _as_run_config(config: str | Path | RunConfig | Mapping[str, Any]) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, Mapping):  # the config's document as Python data (notebooks, scripts)
        return run_config_from_dict(config)
    return load_run_config(config)


def _flow_logs_of_run(cfg: RunConfig, store: Any, dd: DataDir, created: list[str], reused: list[str]) -> list[FlowLog]:
    """The flow logs this run records: those it created or reused and those it names (``flow_logs.ids``),
    or every stored one when the config names none."""
    stored = {s.flow_log.flow_log_id: s.flow_log for s in store.list_stored_flow_logs()}
    wanted = [*created, *reused, *cfg.flow_log_ids]
    if not cfg.create and not cfg.flow_log_ids:
        wanted = list(stored)
    missing = [i for i in cfg.flow_log_ids if i not in stored]
    if missing:
        raise ConfigError(f"flow log(s) {', '.join(missing)} do not exist in {dd.path}", location=cfg.source,
                          key_path="flow_logs.ids")
    flow_logs = [stored[i] for i in dict.fromkeys(wanted)]
    if not flow_logs:
        raise ConfigError(f"no flow log records this run: data directory {dd.path} has none and the config "
                          "creates none (flow_logs.create)", location=cfg.source)
    return flow_logs


def _sinks_of_run(flow_logs: list[FlowLog], delivery: _Delivery, dd: DataDir, out_dir: Path | None,
                  fmt: str) -> tuple[dict[str, Sink], dict[str, Path]]:
    """Each flow log's sink: files under ``--output`` when asked, else its destination, else files under
    ``<data-dir>/records`` (a destination vpcflow cannot deliver to); and the files' paths."""
    sinks: dict[str, Sink] = {}
    outputs: dict[str, Path] = {}
    files = FilesSink(out_dir, kind=fmt) if out_dir is not None else None  # type: ignore[arg-type]
    fallback: FilesSink | None = None
    for fl in flow_logs:
        sink: Sink | None = files
        if sink is None:
            sink = delivery.sink(fl)
        if sink is None:
            fallback = fallback or FilesSink(dd.path / "records", kind=fmt)  # type: ignore[arg-type]
            sink = fallback
        sinks[fl.flow_log_id] = sink
        if isinstance(sink, FilesSink):
            outputs[fl.flow_log_id] = sink.path_for(fl.flow_log_id)
    return sinks, outputs


def execute(prepared: PreparedRun, *, taps: Mapping[str, Callable[[Any], None]] | None = None,
            progress: ProgressCallback | None = None, stop: StopCheck | None = None) -> RunResult:
    """Run the prepared pipeline to the end of its sources, or until ``stop()`` gives a reason.

    Stopped early by ``stop`` or by an error in any stage: ``RunInterrupted`` (``reason`` the signal's
    name or ``"error"``, the error as its ``__cause__``) with the one-line account of what was
    delivered and what is pending; nothing that could still grow was delivered.
    """
    stats = PipelineStats()
    stopped: BaseException | None = None
    stop = route_stop(prepared.sources, stop)
    tune_allocators()  # see dataplane/allocators.py
    # The objects made so far (modules, the topology, the state store: hundreds of thousands) leave
    # the collector's view while packets flow: its full passes over them were ~2% of a 5,000,000-
    # packet run, and the run makes few cycles. They go back at the end (a library caller's process
    # runs on).
    gc.freeze()
    try:
        # Aggregation and delivery in a worker thread (overlaps with the engine on the second core),
        # except with taps, so that what they print keeps the stages' order.
        run_pipeline(prepared.sources, prepared.engine, prepared.flow_logs, prepared.topology,
                     prepared.sinks, side_dir=prepared.side_dir, taps=taps, progress=progress,
                     options=prepared.options, threaded=not taps, stop=stop, stats=stats,
                     single_pass=True, prefetch_batches=READ_AHEAD_BATCHES)
    except (Exception, KeyboardInterrupt) as e:
        stopped = e
    finally:
        gc.unfreeze()
    try:
        outcome = _outcome(prepared, stats)
    finally:
        if prepared.delivery is not None:
            prepared.delivery.close()
        if prepared.store is not None:
            prepared.store.close()
        if prepared.lock is not None:
            prepared.lock.release()
    if stopped is not None:
        raise_stopped(stopped, stats, outcome)
    source_stats = []
    for s in prepared.sources:
        st = getattr(s, "stats", None)
        as_dict = getattr(st, "as_dict", None)
        source_stats.append(as_dict() if callable(as_dict) else {})
    return RunResult(prepared=prepared, stats=stats, source_stats=source_stats, outcome=outcome)


def _outcome(prepared: PreparedRun, stats: PipelineStats) -> DeliveryOutcome:
    from vpcflow.dataplane.sinks.spool import Spool

    delivering = prepared.delivery.delivering() if prepared.delivery is not None else set()
    return delivery_outcome(prepared.flow_logs, stats, Spool(prepared.data_dir.spool), prepared.store, delivering)


def run(config: str | Path | RunConfig | Mapping[str, Any], **kwargs: Any) -> RunResult:
    """``prepare_run`` then ``execute`` (taps/progress go to ``execute``)."""
    taps = kwargs.pop("taps", None)
    progress = kwargs.pop("progress", None)
    stop = kwargs.pop("stop", None)
    return execute(prepare_run(config, **kwargs), taps=taps, progress=progress, stop=stop)
