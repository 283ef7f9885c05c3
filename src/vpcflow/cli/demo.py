"""``vpcflow demo``: the bundled example end to end, then where the logs are and what they say.

It loads the three-tier example network (``examples/topology/three-tier.yaml``), creates its flow
logs through the control plane (``examples/run/demo-run.yaml``), replays an hour of synthetic
traffic (``examples/scenarios/demo.yaml``: ordinary load, an SSH brute force, a port scan), delivers
the records to the data directory's embedded S3 bucket and CloudWatch Logs store, and prints a tour:
where each flow log's records are, what was delivered, and a short report.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vpcflow.cli._sources import open_flows
from vpcflow.cli.run_display import execute_with_progress, exit_if_spooled, print_summary
from vpcflow.core.errors import ConfigError
from vpcflow.query.reports import REPORTS, render_sql
from vpcflow.runtime.datadir import DataDir
from vpcflow.runtime.examples import example_path
from vpcflow.runtime.run import RunResult, prepare_run
from vpcflow.runtime.writer_lock import WriterLock
from vpcflow.storage.logstore import LogStore

#: Marks a data directory `vpcflow demo` made, so a later demo may remove it (and nothing else).
DEMO_MARKER = ".vpcflow-demo"


def _where(result: RunResult, console: Console) -> None:
    dd = result.prepared.data_dir
    tab = Table(title="where the logs are")
    for col in ("flow log", "destination", "what was delivered"):
        tab.add_column(col)
    account, region = dd.settings()
    store = LogStore(dd.logs_path, account_id=account, region=region) if dd.logs_path.exists() else None
    try:
        for fl in result.prepared.flow_logs:
            if fl.log_destination_type == "s3" and fl.s3_bucket:
                root = dd.bucket_path(fl.s3_bucket) / (fl.s3_prefix or "")
                files = sorted(p for p in root.rglob(f"*_{fl.flow_log_id}_*") if p.is_file()
                               and not p.name.startswith("."))
                opts = fl.destination_options
                kind = "Parquet" if opts and opts.file_format == "parquet" else "gzip text"
                layout = ", ".join(x for x, on in (("Hive", opts and opts.hive_compatible_partitions),
                                                   ("hourly", opts and opts.per_hour_partition)) if on) or "default"
                example = str(files[0].relative_to(dd.path)) if files else "(no files: no records)"
                tab.add_row(fl.flow_log_id, f"s3://{fl.s3_bucket}/{fl.s3_prefix} ({kind}, {layout} layout)",
                            f"{len(files)} files, e.g. {example}")
            elif fl.log_destination_type == "cloud-watch-logs" and store is not None:
                group = fl.log_group_name or ""
                streams = store.stream_names(group) if store.log_group_exists(group) else []
                tab.add_row(fl.flow_log_id, f"CloudWatch Logs group {group} ({dd.logs_path.name})",
                            f"{len(streams)} streams, e.g. {streams[0] if streams else '-'}")
            else:
                tab.add_row(fl.flow_log_id, str(fl.log_destination or fl.log_group_name), "-")
    finally:
        if store is not None:
            store.close()
    console.print(tab)


def _report(dd: DataDir, console: Console) -> None:
    db, _selection = open_flows(dd.path, ())  # every flow log, overlapping coverage counted once
    cols = {c for c, _ in db.columns()}
    for name, title in (("top-talkers", "top talkers"), ("brute-force", "brute-force candidates"),
                        ("port-scan", "port-scan candidates")):
        report = REPORTS[name]
        if any(c not in cols for c in report.needs):
            continue
        table = db.query(render_sql(report, cols, limit=5, min_ports=20, min_attempts=20))
        out = Table(title=title)
        for c in table.column_names:
            out.add_column(c)
        for row in table.to_pylist():
            out.add_row(*("-" if v is None else str(v) for v in row.values()))
        console.print(out)
    if db.has_decisions:
        table = db.query(render_sql(REPORTS["rejected-by-rule"], cols, limit=5))
        out = Table(title="rules that rejected the most records (vpcflow's side channel, not in the AWS records)")
        for c in ("rule", "records", "sources"):
            out.add_column(c, justify="left" if c == "rule" else "right")
        for row in table.to_pylist():
            out.add_row(str(row["rule"]), f"{row['records']:,}", f"{row['sources']:,}")
        console.print(out)


@click.command("demo")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="VPCFLOW_DATA_DIR",
              default="vpcflow-data", show_default=True, help="Where the demo's account and logs go.")
@click.option("--reset/--keep", default=True, show_default=True,
              help="Start from a clean data directory (only one an earlier demo made is ever removed).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def command(data_dir: Path, reset: bool, quiet: bool) -> None:
    """Run the bundled three-tier example end to end and tour what it delivered."""
    console = Console(stderr=False) if sys.stdout.isatty() else Console(stderr=False, width=160)
    if reset and data_dir.exists() and any(data_dir.iterdir()):
        # Only a data directory an earlier demo made is ever removed: a user's own account (topology,
        # flow logs, delivered logs) must never go because they tried the demo.
        if not (data_dir / DEMO_MARKER).exists():
            raise ConfigError(f"--data-dir {data_dir} is not empty and was not made by `vpcflow demo`; "
                              "the demo starts from a clean data directory: choose another --data-dir")
        with WriterLock(data_dir):  # never remove a directory another run is writing into
            shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text("made by `vpcflow demo`; `vpcflow demo` may remove this directory\n")
    config = example_path("run", "demo-run.yaml")
    console.print(f"[bold]vpcflow demo[/]: network {example_path('topology', 'three-tier.yaml')}, "
                  f"traffic {example_path('scenarios', 'demo.yaml')}, data directory {data_dir}")
    prepared = prepare_run(config, data_dir=data_dir)
    result = execute_with_progress(prepared, console=Console(stderr=True), quiet=quiet)
    print_summary(result, console)
    _where(result, console)
    _report(result.prepared.data_dir, console)
    console.print(
        "\nNext: [bold]vpcflow query[/] \"SELECT action, count(*) FROM vpc_flow_logs GROUP BY action\" · "
        "[bold]vpcflow report all --html report.html[/] · [bold]vpcflow read --action REJECT --port 22[/] · "
        "[bold]vpcflow logs filter-log-events --log-group-name /vpcflow/demo --filter-pattern REJECT[/] · "
        "[bold]vpcflow whatif[/] " + str(example_path("run", "demo-run.yaml")) + " --change "
        + str(example_path("whatif", "open-ssh.yaml"))
    )
    exit_if_spooled(result)
