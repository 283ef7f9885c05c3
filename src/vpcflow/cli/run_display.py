"""What ``vpcflow run`` shows and how it executes a prepared run: the taps' printers, the progress bar,
the summary tables, the Dask variant and the exit code of a run that left records in the spool.

Split from ``cli/run.py`` so that the command can start the captures' digests (the run identity,
``runtime/run_identity.py``) before these imports (numpy, rich, the data plane: about a quarter of a
second) run on the main thread: the digest of a large capture then overlaps them on the other core.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from vpcflow.codecs.addresses import addresses_to_strings
from vpcflow.codecs.text import render_lines
from vpcflow.dataplane.aggregate.aggregator import AggregateOutput
from vpcflow.dataplane.packets import ObservationBatch
from vpcflow.dataplane.pipeline import PipelineStats
from vpcflow.runtime.interrupt import stop_on_signals
from vpcflow.runtime.outcome import EXIT_SPOOLED, spool_line
from vpcflow.runtime.run import PreparedRun, RunResult, execute

if TYPE_CHECKING:  # rich is imported where something is shown: --quiet runs never load it
    from rich.console import Console

#: Rows printed per batch by --tap attribute/evaluate (a capture has millions of packets).
TAP_ROWS = 20


def tap_printer(stage: str, out: Any) -> Any:
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
    from rich.table import Table

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


def execute_on_dask(prepared: PreparedRun, *, console: Console | None, quiet: bool, cluster: str | None,
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


def exit_if_spooled(result: RunResult) -> None:
    """Records left in the spool: one line naming the failed flow logs, exit 3 (even with --quiet)."""
    line = spool_line(result.outcome)
    if line:
        click.echo(f"warning: {line}", err=True)
        sys.exit(EXIT_SPOOLED)


def execute_with_progress(prepared: PreparedRun, *, console: Console | None, quiet: bool = False,
                          taps: dict[str, Any] | None = None) -> RunResult:
    """Execute a prepared run, with a transient progress bar (packets, records, traffic time) unless quiet.

    Ctrl-C and SIGTERM ask the run to stop cleanly (``RunInterrupted``; see ``runtime/interrupt.py``).
    """
    with stop_on_signals() as stop:
        return _execute(prepared, console=console, quiet=quiet, taps=taps, stop=stop)


def _execute(prepared: PreparedRun, *, console: Console | None, quiet: bool, taps: dict[str, Any] | None,
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
