"""The public Python API: one data directory driven from a notebook or a script.

    import vpcflow

    with vpcflow.Workspace() as ws:                       # a temporary data directory
        ws.load_topology(topology_dict)                   # a dict, a Topology, or a file
        ws.create_flow_logs(ResourceIds=["vpc-..."], ResourceType="VPC", TrafficType="ALL",
                            LogDestinationType="s3", LogDestination="arn:aws:s3:::bucket/")
        ws.run_scenario(scenario_dict, seed=7)            # or ws.run_capture("x.pcap", interface="eni-...")
        table = ws.records()                              # pyarrow.Table (ws.records_df(): pandas)
        ws.sql("SELECT action, count(*) FROM vpc_flow_logs GROUP BY action")

Everything goes through the same code as the ``vpcflow`` command: ``client`` is the boto3-shaped
EC2 client of ``runtime/client.py`` (control plane, IAM as ``principal``), runs are
``runtime.run.prepare_run`` + ``execute`` on a ``RunConfig`` built from Python data
(``run_config_from_dict``), and ``sql`` queries the ``vpc_flow_logs`` view that ``vpcflow query``
uses (spec 8.1 column names). pandas is optional (imported only by the ``*_df`` methods); Logs
Insights needs ``vpcflow.runtime.insights``. Errors are vpcflow's exceptions (``ConfigError``,
``ApiError``), never a bare traceback from deep inside.

This module sits above ``cli`` in the layer contract because it shares the CLI's reader
composition (``cli/_sources.open_database``); nothing below imports it.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.document import topology_to_document
from vpcflow.model.topology.model import Topology
from vpcflow.runtime.client import Ec2Client
from vpcflow.runtime.datadir import DataDir
from vpcflow.runtime.run import RunResult, execute, prepare_run
from vpcflow.runtime.run_config import RunConfig, run_config_from_dict

if TYPE_CHECKING:
    import pandas
    import pyarrow as pa

PathLike = str | os.PathLike[str]


def to_pandas(table: pa.Table) -> pandas.DataFrame:
    """``table`` as a pandas DataFrame; a ``ConfigError`` saying how to install pandas when it is missing."""
    try:
        importlib.import_module("pandas")
    except ImportError:
        raise ConfigError("pandas is not installed: `pip install pandas`, or use the Arrow table itself "
                          "(pyarrow.Table, e.g. .to_pylist())") from None
    return table.to_pandas()


class Workspace:
    """A vpcflow data directory (one local AWS account) for notebooks and scripts.

    ``data_dir``: an existing or new data directory; None makes a temporary one, removed by
    :meth:`close` (or the end of a ``with`` block). ``principal``: the caller of the control-plane
    operations, an IAM user/role ARN or access key id of the topology (default: the account root).
    """

    def __init__(self, data_dir: PathLike | None = None, *, principal: str | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="vpcflow-")
            data_dir = Path(self._tmp.name) / "data"
        self.data_dir = DataDir.resolve(data_dir)
        self.principal = principal
        self._client: Ec2Client | None = None

    @property
    def path(self) -> Path:
        """The data directory's folder."""
        return self.data_dir.path

    @property
    def client(self) -> Ec2Client:
        """The boto3-shaped EC2 client (``create_flow_logs``, ``describe_flow_logs``, paginators...)."""
        if self._client is None:
            self._client = Ec2Client(self.data_dir, self.principal)
        return self._client

    def _release_client(self) -> None:
        # A run opens the state database itself; the client reopens it on next use.
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        """Close the client; remove the data directory if the workspace made a temporary one."""
        self._release_client()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the modelled account ----------------------------------------------------------------

    def load_topology(self, topology: Mapping[str, Any] | Topology | PathLike) -> Topology:
        """Put a topology into the data directory (replacing the previous one): a topology document
        (dict, the YAML/JSON file's content), a ``Topology``, or a file path. Returns what was loaded."""
        if isinstance(topology, Topology):
            return self.client.load_topology_text(json.dumps(topology_to_document(topology)), fmt="json")
        if isinstance(topology, Mapping):
            try:
                text = json.dumps(topology)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"the topology holds a value that is not plain data: {e}",
                                  location="<topology>") from None
            return self.client.load_topology_text(text, fmt="json")
        return self.client.load_topology(topology)

    def create_flow_logs(self, **params: Any) -> dict[str, Any]:
        """CreateFlowLogs with boto3's parameter names; boto3's response (``FlowLogIds``, ``Unsuccessful``)."""
        return self.client.create_flow_logs(**params)

    def describe_flow_logs(self, **params: Any) -> list[dict[str, Any]]:
        """Every flow log (all pages) matching boto3's DescribeFlowLogs parameters."""
        pages = self.client.get_paginator("describe_flow_logs").paginate(**params)
        return [fl for page in pages for fl in page["FlowLogs"]]

    # -- runs ---------------------------------------------------------------------------------

    def run(self, config: Mapping[str, Any] | RunConfig | PathLike, *,
            progress: Callable[..., None] | None = None, cluster: str | None = None,
            workers: int | None = None) -> RunResult:
        """Run a run config in this data directory: a ``RunConfig``, a run-config file, or its document
        as a dict (docs/run.md; ``topology`` and ``scenario`` may be given in-line). Its ``data_dir`` key
        is ignored: records go to this workspace. ``cluster`` (a Dask scheduler's address) or ``workers``
        (a local Dask cluster of that many processes) replays it on Dask, partitioned by capture
        interface, delivering what a single-process run delivers (docs/bulk.md; needs ``dask[distributed]``)."""
        if isinstance(config, RunConfig):
            cfg = config
        elif isinstance(config, Mapping):
            cfg = run_config_from_dict(config)
        else:
            from vpcflow.runtime.run_config import load_run_config

            cfg = load_run_config(Path(config))
        self._release_client()
        prepared = prepare_run(cfg, data_dir=self.path)
        if cluster is not None or workers is not None:
            from vpcflow.runtime.bulk import execute_on_dask

            return execute_on_dask(prepared, cluster=cluster, workers=workers)
        return execute(prepared, progress=progress)

    def _run_sources(self, source: dict[str, Any], flow_log_ids: Sequence[str] | None) -> RunResult:
        doc: dict[str, Any] = {"sources": [source]}
        if flow_log_ids:
            doc["flow_logs"] = {"ids": list(flow_log_ids)}
        if self.principal is not None:
            doc["principal"] = self.principal
        return self.run(doc)

    def run_scenario(self, scenario: Mapping[str, Any] | PathLike, *, seed: int | None = None,
                     duration_s: float | None = None, flow_log_ids: Sequence[str] | None = None) -> RunResult:
        """Synthetic traffic (a scenario document as a dict, or a scenario file; docs/scenarios.md) over
        the loaded topology, recorded by ``flow_log_ids`` (default: every flow log of the workspace)."""
        source: dict[str, Any] = {"scenario": dict(scenario) if isinstance(scenario, Mapping)
                                  else os.fspath(Path(scenario).resolve())}
        if seed is not None:
            source["seed"] = seed
        if duration_s is not None:
            source["duration_s"] = duration_s
        return self._run_sources(source, flow_log_ids)

    def run_capture(self, capture: PathLike, *, interface: str | None = None,
                    interface_map: Mapping[str, str] | None = None, skip_bad: bool = False,
                    flow_log_ids: Sequence[str] | None = None) -> RunResult:
        """A pcap/pcapng capture taken on ``interface`` (an ENI id; or ``interface_map`` for pcapng
        interface names), recorded by ``flow_log_ids`` (default: every flow log of the workspace)."""
        source: dict[str, Any] = {"capture": os.fspath(Path(capture).resolve()), "skip_bad": skip_bad}
        if interface is not None:
            source["interface"] = interface
        if interface_map:
            source["interface_map"] = dict(interface_map)
        return self._run_sources(source, flow_log_ids)

    # -- reading and querying -------------------------------------------------------------------

    def sql(self, query: str) -> pa.Table:
        """DuckDB SQL over the delivered records: the ``vpc_flow_logs`` view (Athena's column names,
        plus ``date`` and ``flow_log_id``) and ``vpc_flow_log_rejections`` (the deciding rules)."""
        from vpcflow.cli._sources import open_database

        self._release_client()
        return open_database(self.path, ()).query(query)

    def records(self, flow_log_id: str | None = None) -> pa.Table:
        """The delivered records (of one flow log, or all) as an Arrow table of the ``vpc_flow_logs`` view."""
        if flow_log_id is None:
            return self.sql("SELECT * FROM vpc_flow_logs")
        if not flow_log_id.startswith("fl-") or "'" in flow_log_id:
            raise ConfigError(f"{flow_log_id!r} is not a flow-log id (fl-...)", key_path="flow_log_id")
        return self.sql(f"SELECT * FROM vpc_flow_logs WHERE flow_log_id = '{flow_log_id}'")

    def records_df(self, flow_log_id: str | None = None) -> pandas.DataFrame:
        """:meth:`records` as a pandas DataFrame (needs pandas)."""
        return to_pandas(self.records(flow_log_id))

    def sql_df(self, query: str) -> pandas.DataFrame:
        """:meth:`sql` as a pandas DataFrame (needs pandas)."""
        return to_pandas(self.sql(query))

    def insights(self, query: str, log_group_names: str | Sequence[str], *, start: int | None = None,
                 end: int | None = None, limit: int | None = None) -> pa.Table:
        """A CloudWatch Logs Insights query over log groups of the embedded log store (epoch seconds
        ``start``/``end``, inclusive); the displayed fields as an Arrow table."""
        try:
            module = importlib.import_module("vpcflow.runtime.insights")
        except ModuleNotFoundError as e:
            if e.name != "vpcflow.runtime.insights":
                raise
            raise ConfigError("Logs Insights is not part of this vpcflow build (vpcflow.runtime.insights)") from None
        result: pa.Table = module.run_insights_query(self.data_dir, log_group_names, query, start, end, limit=limit)
        return result
