"""Options and helpers shared by the commands that read delivered logs (query, report, read)."""

from __future__ import annotations

from pathlib import Path

import click

from vpcflow.core.errors import ConfigError
from vpcflow.query.duck import FlowLogDatabase, find_log_files

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
        s3_root = data_dir / "s3"
        if s3_root.exists():
            files += find_log_files(s3_root)
    if files:
        db.add_files(files)
    db.create_view()
    return db


def athena_ddl_for(data_dir: Path, flow_log_id: str | None, table_name: str) -> str:
    """The Athena DDL of a stored S3 flow log."""
    if not flow_log_id:
        raise ConfigError("--athena-ddl needs --flow-log-id (an S3 flow log of the data directory)")
    raise ConfigError("the control plane's state store is not available yet")
