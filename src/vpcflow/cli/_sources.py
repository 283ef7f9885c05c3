"""Options and helpers shared by the commands that read delivered logs (query, report, read).

The data directory's destinations are: S3-layout files in the local bucket store (read natively by
DuckDB) and the embedded CloudWatch Logs store (events parsed with the owning flow log's format and
added as Arrow tables). When several CloudWatch flow logs share a log group (AWS then writes one
combined stream per ENI, spec 3), each is parsed with its own format leniently and a record is kept
once per distinct format.
"""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.core.errors import ConfigError
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import Topology
from vpcflow.query.athena import athena_table
from vpcflow.query.duck import FlowLogDatabase, find_log_files
from vpcflow.query.readers import read_all, read_log_store
from vpcflow.query.selection import Selection, prepare_flows
from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.logstore import LogStore

data_dir_option = click.option(
    "--data-dir",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="VPCFLOW_DATA_DIR",
    default="vpcflow-data",
    show_default=True,
    help="The data directory (also VPCFLOW_DATA_DIR).",
)
path_option = click.option(
    "--path",
    "paths",
    multiple=True,
    help="Read these files or folders of delivered logs instead of the data directory (repeatable).",
)


def _add_cloudwatch(db: FlowLogDatabase, dd: DataDir) -> None:
    if not dd.logs_path.exists() or not dd.state_path.exists():
        return
    with dd.state() as state:
        flow_logs = [f for f in state.list_flow_logs() if f.log_destination_type == "cloud-watch-logs"]
    if not flow_logs:
        return
    account, region = dd.settings()
    store = LogStore(dd.logs_path, account_id=account, region=region)
    try:
        seen: set[tuple[str, str]] = set()
        for fl in flow_logs:
            group = fl.log_group_name or ""
            if (group, fl.log_format) in seen or not store.log_group_exists(group):
                continue
            seen.add((group, fl.log_format))
            shared = sum(1 for f in flow_logs if f.log_group_name == group) > 1
            table = read_all(read_log_store(store, group, log_format=fl.log_format, lenient=shared))
            if table is None or not table.num_rows:
                continue
            if not shared:
                db.add_arrow(table, flow_log_id=fl.flow_log_id)
                continue
            group_logs = [f for f in flow_logs if f.log_group_name == group]
            formats = {f.flow_log_id: f.log_format for f in group_logs}
            for fid, part in _split_by_flow_log(table, group_logs, dd):
                # an interface owned by a flow log of another format is read with that format
                if fid is None or formats[fid] == fl.log_format:
                    db.add_arrow(part, flow_log_id=fid)
    finally:
        store.close()


def _split_by_flow_log(table: pa.Table, flow_logs: list[FlowLog], dd: DataDir) -> list[tuple[str | None, pa.Table]]:
    """A shared log group's records, each given the flow log whose resource covers its interface.

    AWS writes one stream per interface into the group (spec 3); the interface's VPC, subnet or own id
    tells which flow log it came from. Interfaces no flow log covers (a topology changed since) keep no id.
    """
    if "interface_id" not in table.column_names:
        return [(None, table)]
    owner: dict[str, str] = {}
    topo = _topology(dd.path)
    for eni in topo.enis_by_id.values() if topo is not None else ():
        for fl in sorted(flow_logs, key=lambda f: f.flow_log_id):
            if fl.resource_id in (eni.network_interface_id, eni.subnet_id, eni.vpc_id):
                owner.setdefault(eni.network_interface_id, fl.flow_log_id)
    ids = pa.array([owner.get(e) for e in table.column("interface_id").to_pylist()], pa.string())
    out: list[tuple[str | None, pa.Table]] = []
    for fid in sorted({*ids.to_pylist()}, key=lambda x: x or ""):
        mask = pc.is_null(ids) if fid is None else pc.fill_null(pc.equal(ids, fid), False)
        out.append((fid, table.filter(mask)))
    return out


def open_database(data_dir: Path, paths: tuple[str, ...]) -> FlowLogDatabase:
    """A DuckDB database whose ``vpc_flow_logs`` view covers the chosen logs."""
    db = FlowLogDatabase()
    files: list[Path] = []
    if paths:
        for p in paths:
            path = Path(p)
            if not path.exists():
                raise ConfigError(f"--path {p}: no such file or folder")
            files += find_log_files(path)
    else:
        if not data_dir.exists():
            raise ConfigError(f"data directory {data_dir} does not exist (run `vpcflow demo` or `vpcflow run` first)")
        dd = DataDir.resolve(data_dir)
        if dd.s3_root.exists():
            files += find_log_files(dd.s3_root)
        _add_cloudwatch(db, dd)
    rejects: list[Path] = []
    for root in [Path(p) for p in paths] or [data_dir]:
        folder = root / "rejects" if root.is_dir() else None
        if folder is not None and folder.is_dir():
            rejects += sorted(folder.glob("*.rejects.jsonl"))
        # Agents deliver theirs next to the records, under their own prefix (docs/agent.md).
        tree = root / "s3" if not paths else root
        if tree.is_dir():
            rejects += sorted(p for p in tree.rglob("*.rejects.jsonl") if "vpcflow-side-channel" in p.parts)
    if files:
        db.add_files(files)
    db.create_view()
    db.add_decisions(rejects)
    return db


def athena_ddl_for(data_dir: Path, flow_log_id: str | None, table_name: str) -> str:
    """The Athena DDL of a stored S3 flow log."""
    if not flow_log_id:
        raise ConfigError("--athena-ddl needs --flow-log-id (an S3 flow log of the data directory)")
    dd = DataDir.resolve(data_dir)
    if not dd.state_path.exists():
        raise ConfigError(f"data directory {data_dir} has no flow logs (no state.db)")
    with dd.state() as state:
        fl = state.get_flow_log(flow_log_id)
        known = [f.flow_log_id for f in state.list_flow_logs() if f.log_destination_type == "s3"]
    if fl is None:
        raise ConfigError(f"--flow-log-id {flow_log_id}: no such flow log (S3 flow logs: {', '.join(known) or 'none'})")
    try:
        return athena_table(fl, table_name=table_name).ddl
    except ValueError as e:
        raise ConfigError(f"--flow-log-id {flow_log_id}: {e}") from e


def _topology(data_dir: Path) -> Topology | None:
    """The topology stored in a data directory, or None."""
    from vpcflow.model.topology.loader import loads_topology

    if not data_dir.is_dir():
        return None
    dd = DataDir.resolve(data_dir)
    if not dd.state_path.exists():
        return None
    with dd.state() as state:
        stored = state.get_topology_document()
    return None if stored is None else loads_topology(stored.text, source=stored.source, fmt=stored.fmt)


def eni_addresses(data_dir: Path) -> dict[str, tuple[str, ...]]:
    """Every address of every interface of the data directory's topology (empty without one).

    The records name an interface's primary private address even for traffic to its public or Elastic
    IP (spec 2.6), but all are listed: a record matching any of them is the interface's own traffic.
    """
    topo = _topology(data_dir)
    if topo is None:
        return {}
    return {
        e.network_interface_id: tuple(str(a) for a in (*e.private_ips, *e.ipv6_addresses, *e.public_ips))
        for e in topo.enis_by_id.values()
    }


flow_log_id_option = click.option(
    "--flow-log-id", "flow_log_ids", multiple=True,
    help="Only this flow log's records (repeatable); default: every flow log, overlapping coverage counted once.",
)


def open_flows(data_dir: Path, paths: tuple[str, ...], flow_log_ids: tuple[str, ...] = ()) -> tuple[
        FlowLogDatabase, Selection]:
    """The database with its ``flows`` view: the selection, de-duplicated, with each record's direction."""
    db = open_database(data_dir, paths)
    return db, prepare_flows(db, flow_log_ids=flow_log_ids, eni_addresses=eni_addresses(data_dir))
