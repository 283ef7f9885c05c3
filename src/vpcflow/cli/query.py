"""``vpcflow query``: SQL (DuckDB) over delivered flow logs, and Athena DDL for a flow log."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vpcflow.cli._output import output_option, print_table
from vpcflow.cli._sources import data_dir_option, open_database, path_option
from vpcflow.core.errors import ConfigError


@click.command("query")
@click.argument("sql", required=False)
@data_dir_option
@path_option
@output_option
@click.option("--columns", is_flag=True, help="Print the columns and types of the vpc_flow_logs view.")
@click.option("--athena-ddl", is_flag=True, help="Print the Athena CREATE TABLE statement of an S3 flow log.")
@click.option("--flow-log-id", help="With --athena-ddl: the flow log (from the data directory).")
@click.option("--table-name", default="vpc_flow_logs", show_default=True, help="With --athena-ddl.")
def command(
    sql: str | None,
    data_dir: Path,
    paths: tuple[str, ...],
    output: str,
    columns: bool,
    athena_ddl: bool,
    flow_log_id: str | None,
    table_name: str,
) -> None:
    """Run SQL over the delivered logs as the view ``vpc_flow_logs`` (AWS's Athena columns and types).

    By default every destination in the data directory is read: S3-layout files (text and Parquet) in the
    local bucket store and the embedded CloudWatch Logs store. ``--path`` reads other folders or files.

    \b
    Examples:
      vpcflow query "SELECT action, count(*) FROM vpc_flow_logs GROUP BY action"
      vpcflow query --athena-ddl --flow-log-id fl-0123456789abcdef0
    """
    if athena_ddl:
        from vpcflow.cli._sources import athena_ddl_for

        click.echo(athena_ddl_for(data_dir, flow_log_id, table_name))
        return
    db = open_database(data_dir, paths)
    if columns:
        import pyarrow as pa

        cols = db.columns()
        print_table(pa.table({"column": [c for c, _ in cols], "type": [t for _, t in cols]}), output)
        return
    if not sql:
        raise ConfigError("give an SQL statement, e.g. vpcflow query \"SELECT * FROM vpc_flow_logs LIMIT 10\"")
    print_table(db.query(sql), output)
    sys.stdout.flush()
