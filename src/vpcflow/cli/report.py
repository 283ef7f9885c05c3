"""``vpcflow report NAME``: named reports over delivered logs; ``--html`` page and ``--png`` charts."""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow as pa

from vpcflow.cli._output import output_option, print_table
from vpcflow.cli._sources import data_dir_option, open_database, path_option
from vpcflow.core.errors import ConfigError
from vpcflow.query.reports import REPORTS, render_sql

_SUMMARY_SQL = (
    "SELECT COUNT(*) AS records, COUNT(DISTINCT interface_id) AS interfaces, "
    "COUNT(*) FILTER (WHERE action = 'ACCEPT') AS accept, COUNT(*) FILTER (WHERE action = 'REJECT') AS reject, "
    "COUNT(*) FILTER (WHERE log_status = 'NODATA') AS nodata, "
    "COUNT(*) FILTER (WHERE log_status = 'SKIPDATA') AS skipdata, SUM(packets) AS packets, SUM(bytes) AS bytes, "
    "MIN(start) AS first_start, MAX(\"end\") AS last_end FROM vpc_flow_logs"
)


def _names() -> str:
    return ", ".join(REPORTS)


@click.command("report")
@click.argument("name", required=False)
@data_dir_option
@path_option
@output_option
@click.option("--list", "list_reports", is_flag=True, help="List the reports.")
@click.option("--limit", default=20, show_default=True, help="Rows per report.")
@click.option("--addr", help="The address of traffic-from / traffic-to.")
@click.option("--min-ports", default=20, show_default=True, help="port-scan: distinct ports that make a scan.")
@click.option("--min-attempts", default=20, show_default=True, help="brute-force: attempts that make an attack.")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML page with charts.")
@click.option("--png", "png_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Also write the charts as PNG files into this folder.")
def command(
    name: str | None,
    data_dir: Path,
    paths: tuple[str, ...],
    output: str,
    list_reports: bool,
    limit: int,
    addr: str | None,
    min_ports: int,
    min_attempts: int,
    html_path: Path | None,
    png_dir: Path | None,
) -> None:
    """Run a named report (or `all`) over the delivered logs.

    NAME is one of the AWS console's named queries (accepted, admin-port, ipv4, ipv6, rejected,
    rejected-tcp, ssh-rdp, top-talkers, top-talkers-packet-level, top-talking-instances,
    top-talking-subnets, top-tcp, bytes-transferred, bytes-transferred-packet-level, traffic-from,
    traffic-to) or one of vpcflow's own (log-status-health, port-scan, brute-force), or `all`.
    """
    if list_reports or not name:
        print_table(
            pa.table({
                "name": list(REPORTS),
                "aws named query": [r.aws_name or "(vpcflow)" for r in REPORTS.values()],
                "description": [r.description for r in REPORTS.values()],
            }),
            output,
            title="reports",
        )
        return
    if name != "all" and name not in REPORTS:
        raise ConfigError(f"unknown report {name!r}; choose one of: all, {_names()}")
    db = open_database(data_dir, paths)
    columns = {c for c, _ in db.columns()}
    chosen = list(REPORTS.values()) if name == "all" else [REPORTS[name]]
    results: list[tuple[str, str, pa.Table]] = []
    for report in chosen:
        if name == "all" and ("addr" in report.params or any(c not in columns for c in report.needs)
                              or (report.decisions and not db.has_decisions)):
            continue  # `all` runs what the logs' formats (and the side channel) support
        sql = render_sql(report, columns, limit=limit, addr=addr, min_ports=min_ports, min_attempts=min_attempts,
                         has_decisions=db.has_decisions)
        table = db.query(sql)
        results.append((report.title, report.description.format(min_ports=min_ports, min_attempts=min_attempts),
                        table))
        print_table(table, output, title=report.title)
    if html_path or png_dir:
        from vpcflow.query import charts as charts_mod
        from vpcflow.query.html import render_page

        charts = charts_mod.build_charts(db)
        try:
            if png_dir:
                for chart in charts:
                    click.echo(f"wrote {chart.save_png(png_dir)}", err=True)
            if html_path:
                summary = db.query(_SUMMARY_SQL).to_pylist()[0]
                page = render_page(
                    f"vpcflow report: {name}",
                    summary=list(summary.items()),
                    charts=charts,
                    tables=results,
                )
                html_path.parent.mkdir(parents=True, exist_ok=True)
                html_path.write_text(page, encoding="utf-8")
                click.echo(f"wrote {html_path}", err=True)
        finally:
            charts_mod.close(charts)
