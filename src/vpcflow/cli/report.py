"""``vpcflow report NAME``: named reports over delivered logs; ``--html`` page and ``--png`` charts.

Every report reads the ``flows`` view: the chosen flow logs (``--flow-log-id``) or all of them with
overlapping coverage counted once (``query.selection``). The terminal form (``-o table``) prints a
summary first and fits 80 columns; ``-o json`` / ``-o csv`` print raw values (epoch seconds, bytes).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import click
import pyarrow as pa

from vpcflow.cli._output import output_option, print_table
from vpcflow.cli._sources import data_dir_option, flow_log_id_option, open_flows, path_option
from vpcflow.cli._terminal import WIDTH, render_table
from vpcflow.core.errors import ConfigError
from vpcflow.query.duck import FlowLogDatabase
from vpcflow.query.reports import REPORTS, render_sql
from vpcflow.query.selection import Selection
from vpcflow.query.summary import summary_rows


def _names() -> str:
    return ", ".join(REPORTS)


@click.command("report")
@click.argument("name", required=False)
@data_dir_option
@path_option
@flow_log_id_option
@output_option
@click.option("--list", "list_reports", is_flag=True, help="List the reports.")
@click.option("--limit", type=click.IntRange(min=1), help="Rows per report [default: 20; 5 for `all` in the terminal].")
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
    flow_log_ids: tuple[str, ...],
    output: str,
    list_reports: bool,
    limit: int | None,
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
    traffic-to) or one of vpcflow's own (log-status-health, port-scan, distributed-scan, brute-force),
    or `all`. Reports run on every flow log with overlapping coverage counted once, or on the ones
    --flow-log-id names. docs/reports.md describes each report and how the detections are measured.
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
    db, selection = open_flows(data_dir, paths, flow_log_ids)
    columns = {c for c, _ in db.columns()}
    chosen = list(REPORTS.values()) if name == "all" else [REPORTS[name]]
    terminal = output == "table"
    rows_each = limit or (5 if name == "all" and terminal else 20)
    if terminal:
        for label, text in summary_rows(db, selection, min_ports=min_ports, min_attempts=min_attempts):
            click.echo(textwrap.fill(text, WIDTH, initial_indent=f"{label + ':':<21}", subsequent_indent=" " * 21))
    for report in chosen:
        if name == "all" and ("addr" in report.params or any(c not in columns for c in report.needs)
                              or (report.decisions and not db.has_decisions)):
            continue  # `all` runs what the logs' formats (and the side channel) support
        sql = render_sql(report, columns, limit=rows_each, addr=addr, min_ports=min_ports,
                         min_attempts=min_attempts, has_decisions=db.has_decisions)
        table = db.query(sql)
        if terminal:
            click.echo("")
            click.echo("\n".join(render_table(table, title=f"{report.title} ({report.name})")))
        else:
            print_table(table, output, title=report.title)
    if html_path or png_dir:
        _write_pages(db, selection, name, html_path, png_dir, min_ports=min_ports, min_attempts=min_attempts)


def _write_pages(db: FlowLogDatabase, selection: Selection, name: str, html_path: Path | None,
                 png_dir: Path | None, *, min_ports: int, min_attempts: int) -> None:
    from vpcflow.query import charts as charts_mod
    from vpcflow.query.html import page_tables, render_page

    charts = charts_mod.build_charts(db)
    try:
        if png_dir:
            for chart in charts:
                click.echo(f"wrote {chart.save_png(png_dir)}", err=True)
        if html_path:
            page = render_page(
                f"vpcflow report: {name}",
                summary=summary_rows(db, selection, min_ports=min_ports, min_attempts=min_attempts),
                charts=charts,
                tables=page_tables(db, min_ports=min_ports, min_attempts=min_attempts),
            )
            html_path.parent.mkdir(parents=True, exist_ok=True)
            html_path.write_text(page, encoding="utf-8")
            click.echo(f"wrote {html_path}", err=True)
    finally:
        charts_mod.close(charts)
