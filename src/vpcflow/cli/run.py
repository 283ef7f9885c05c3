"""``vpcflow run CONFIG``: create the config's flow logs, replay its traffic, deliver the records.

Shows a progress bar (packets, records) on stderr and a summary table at the end. ``--tap STAGE``
prints a stage's output as it flows (``attribute``: which ENI saw each packet in which direction;
``evaluate``: the same with the action and the deciding rule; ``aggregate``: the records of each
closed window). ``--output DIR`` writes every flow log's records as files under DIR instead of
its destination. ``--json`` prints the run's figures as one JSON object on stdout, with each source's
counts (malformed frames and the offset of the first, repaired timestamps, bad records skipped, ...).

Ctrl-C or SIGTERM stop the run cleanly (``runtime/interrupt.py``): one line says what was delivered
and what is pending, exit 130 / 143; the same command again completes the delivery exactly. A run
that finishes with records in the spool (a destination refused them: its flow log is FAILED) says
so and exits 3 (``runtime/outcome.py``; docs/delivery.md). ``--cluster ADDRESS`` / ``--workers N``
replay on Dask, partitioned by capture interface (``runtime/bulk.py``, docs/bulk.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from vpcflow.codecs.addresses import addresses_to_strings
from vpcflow.codecs.text import render_lines
from vpcflow.dataplane.aggregate.aggregator import AggregateOutput
from vpcflow.dataplane.packets import ObservationBatch
from vpcflow.dataplane.pipeline import PipelineStats
from vpcflow.runtime.interrupt import stop_on_signals
from vpcflow.runtime.outcome import EXIT_SPOOLED, spool_line
from vpcflow.runtime.run import PreparedRun, RunResult, execute, prepare_run
from vpcflow.runtime.run_config import RunConfig

#: Rows printed per batch by --tap attribute/evaluate (a capture has millions of packets).
TAP_ROWS = 20


def _tap_printer(stage: str, out: Any) -> Any:
    def tap_obs(obs: ObservationBatch) -> None:
        n = min(len(obs), TAP_ROWS)
        if n == 0:
            return
        pk = obs.packets
        rows = obs.packet[:n]
        src = addresses_to_strings(obs.src_hi[:n], obs.src_lo[:n]).to_pylist()
        dst = addresses_to_strings(obs.dst_hi[:n], obs.dst_lo[:n]).to_pylist()
        for i in range(n):
            direction = "egress" if obs.direction[i] else "ingress"
            line = (f"{stage} ts={int(pk.ts_ns[rows[i]]) / 1e9:.6f} eni={obs.enis[obs.eni[i]]} {direction} "
                    f"{src[i]}:{int(pk.src_port[rows[i]])} > {dst[i]}:{int(pk.dst_port[rows[i]])} "
                    f"proto={int(pk.protocol[rows[i]])} len={int(pk.ip_len[rows[i]])}")
            if stage == "evaluate":
                action = "REJECT" if obs.action[i] else "ACCEPT"
                rule = obs.rules[obs.rule[i]] if 0 <= obs.rule[i] < len(obs.rules) else "-"
                line += f" {action} rule={rule}"
            out.write(line + "\n")
        if len(obs) > n:
            out.write(f"{stage} ... {len(obs) - n} more observations in this batch\n")

    def tap_agg(result: AggregateOutput) -> None:
        for line in render_lines(result.table).to_pylist():
            out.write(f"{result.flow_log.flow_log_id} {line}\n")

    return tap_agg if stage == "aggregate" else tap_obs


def print_summary(result: RunResult, console: Console) -> None:
    """The run's figures and the records per flow log, as tables."""
    st = result.stats
    prep = result.prepared
    head = Table(title="vpcflow run", show_header=False)
    head.add_row("data directory", str(prep.data_dir.path))
    head.add_row("packets", f"{st.packets:,}")
    head.add_row("bytes", f"{st.bytes:,}")
    head.add_row("observations", f"{st.observations:,}")
    for k, v in sorted(st.not_captured.items()):
        if v:
            head.add_row(f"not captured: {k}", f"{v:,}")
    for i, s in enumerate(result.source_stats):
        for label, value in source_rows(s):
            head.add_row(f"source {i}: {label}", f"{value:,}")
    console.print(head)
    tab = Table(title="records per flow log")
    left = ("flow log", "resource", "status", "destination")
    for col in ("flow log", "resource", "records", "ACCEPT", "REJECT", "NODATA", "SKIPDATA", "lost", "in spool",
                "status", "destination"):
        tab.add_column(col, justify="left" if col in left else "right")
    for fl in prep.flow_logs:
        fs = st.flow_logs[fl.flow_log_id]
        o = result.outcome.flow_logs.get(fl.flow_log_id)
        dest = str(prep.outputs.get(fl.flow_log_id) or fl.log_destination or fl.log_group_name or "-")
        status = "-" if o is None or o.status is None else o.status + (f": {o.message}" if o.message else "")
        tab.add_row(fl.flow_log_id, fl.resource_id, f"{fs.records:,}", f"{fs.accept:,}", f"{fs.reject:,}",
                    f"{fs.nodata:,}", f"{fs.skipdata:,}", f"{fs.skipped_records:,}",
                    f"{o.spool_records:,}" if o is not None else "0", status, dest)
    console.print(tab)
    lost = sum(fs.skipped_records for fs in st.flow_logs.values())
    if lost:
        console.print(f"[yellow]{lost:,} records exceeded the capacity and were replaced by SKIPDATA records[/]")


def source_rows(s: dict[str, Any]) -> list[tuple[str, int]]:
    """What a source read that did not become a packet as it was (only the non-zero counts)."""
    rows = []
    if s.get("malformed"):
        first = s.get("first_malformed_offset")
        where = f" (first at byte {first:,})" if first is not None else ""
        rows.append((f"malformed frames{where}", int(s["malformed"])))
    labels = (("bad_records", "bad records skipped"), ("repaired_timestamps", "timestamps repaired"),
              ("kernel_drops", "frames the kernel dropped (live)"))
    rows += [(label, int(s[key])) for key, label in labels if s.get(key)]
    return rows


@click.command(name="run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data directory (default: the config's data_dir, $VPCFLOW_DATA_DIR, ./vpcflow-data).")
@click.option("--tap", "taps", multiple=True, type=click.Choice(["attribute", "evaluate", "aggregate"]),
              help="Print a stage's output on stdout (repeatable).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write every flow log's records as files under this folder.")
@click.option("--format", "output_format", type=click.Choice(["text", "parquet"]), default=None,
              help="File format for --output (default: the config's, else text).")
@click.option("--skip-bad", is_flag=True, help="Skip malformed capture records (counted) instead of stopping.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures and per-source counts as JSON.")
@click.option("--cluster", metavar="ADDRESS", default=None,
              help="Replay on the Dask scheduler at ADDRESS (tcp://host:port), partitioned by capture interface.")
@click.option("--workers", type=int, default=None, metavar="N",
              help="Replay on a local Dask cluster of N worker processes started for the run.")
def command(config: Path, data_dir: Path | None, taps: tuple[str, ...], output: Path | None,
            output_format: str | None, skip_bad: bool, quiet: bool, as_json: bool, cluster: str | None,
            workers: int | None) -> None:
    """Run CONFIG: create its flow logs, replay its sources and deliver the records."""
    # Not a terminal (a log, CI): wide enough that ids and ARNs in the summary are not cut.
    console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)
    dask = cluster is not None or workers is not None
    run_config: Path | RunConfig = config
    if dask:
        _check_dask_options(cluster, workers, taps, output)
        from vpcflow.runtime.bulk import plan_partitions
        from vpcflow.runtime.run_config import load_run_config

        run_config = load_run_config(config)
        plan_partitions(run_config)  # a source that cannot be partitioned: refused before anything runs
    prepared = prepare_run(run_config, data_dir=data_dir, output=output, output_format=output_format,
                           skip_bad=skip_bad)
    if dask:
        result = _execute_on_dask(prepared, console=console, quiet=quiet, cluster=cluster, workers=workers)
    else:
        tap_fns = {t: _tap_printer(t, sys.stdout) for t in taps}
        result = execute_with_progress(prepared, console=console, quiet=quiet, taps=tap_fns)
    if not quiet:
        print_summary(result, console)
    if as_json:
        sys.stdout.write(json.dumps({**result.stats.as_dict(), "sources": result.source_stats}) + "\n")
    exit_if_spooled(result)


def _execute_on_dask(prepared: PreparedRun, *, console: Console, quiet: bool, cluster: str | None,
                     workers: int | None) -> RunResult:
    """The run on Dask (``runtime/bulk.py``), with a transient line of finished tasks unless quiet."""
    from vpcflow.runtime.bulk import execute_on_dask

    with stop_on_signals() as stop:
        if quiet:
            return execute_on_dask(prepared, cluster=cluster, workers=workers, stop=stop)
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # only a shown bar needs it

        with Progress(TextColumn("[bold]replaying on Dask"), BarColumn(bar_width=None),
                      TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("", total=None)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=f"{stage} {done}/{total}")

            return execute_on_dask(prepared, cluster=cluster, workers=workers, stop=stop, progress=progress)


def _check_dask_options(cluster: str | None, workers: int | None, taps: tuple[str, ...], output: Path | None) -> None:
    """One-line errors for --cluster/--workers before anything runs (docs/bulk.md)."""
    from vpcflow.core.errors import ConfigError

    if cluster is not None and workers is not None:
        raise ConfigError("give either --cluster ADDRESS or --workers N, not both", key_path="--workers")
    if workers is not None and workers < 1:
        raise ConfigError(f"must be at least 1, got {workers}", key_path="--workers")
    if cluster is not None and not cluster.strip():
        raise ConfigError("needs a scheduler address such as tcp://127.0.0.1:8786", key_path="--cluster")
    if taps:
        raise ConfigError("--tap shows stages in this process; it cannot be combined with --cluster/--workers",
                          key_path="--tap")
    if output is not None:
        raise ConfigError("cannot be combined with --cluster/--workers: the workers deliver to the flow logs' "
                          "destinations", key_path="--output")


def exit_if_spooled(result: RunResult) -> None:
    """Records left in the spool: one line naming the failed flow logs, exit 3 (even with --quiet)."""
    line = spool_line(result.outcome)
    if line:
        click.echo(f"warning: {line}", err=True)
        sys.exit(EXIT_SPOOLED)


def execute_with_progress(prepared: PreparedRun, *, console: Console, quiet: bool = False,
                          taps: dict[str, Any] | None = None) -> RunResult:
    """Execute a prepared run, with a transient progress bar (packets, records, traffic time) unless quiet.

    Ctrl-C and SIGTERM ask the run to stop cleanly (``RunInterrupted``; see ``runtime/interrupt.py``).
    """
    with stop_on_signals() as stop:
        return _execute(prepared, console=console, quiet=quiet, taps=taps, stop=stop)


def _execute(prepared: PreparedRun, *, console: Console, quiet: bool, taps: dict[str, Any] | None,
             stop: Any) -> RunResult:
    if quiet:
        return execute(prepared, taps=taps, stop=stop)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # only a shown bar needs it

    with Progress(TextColumn("[bold]replaying"), BarColumn(bar_width=None), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def progress(st: PipelineStats) -> None:
            span = ""
            if st.first_ts_ns is not None and st.last_ts_ns is not None:
                span = f" | {int(np.int64(st.last_ts_ns - st.first_ts_ns) // 1_000_000_000):,} s of traffic"
            bar.update(task, description=f"{st.packets:,} packets | {st.records:,} records{span}")

        return execute(prepared, taps=taps, progress=progress, stop=stop)
