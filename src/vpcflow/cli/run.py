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
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console


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
    from vpcflow.dataplane.allocators import limit_malloc_arenas
    from vpcflow.runtime.run_config import load_run_config
    from vpcflow.runtime.run_identity import prefetch_digests

    limit_malloc_arenas()  # before the digest thread below: every later thread shares one arena

    dask = cluster is not None or workers is not None
    if dask:
        _check_dask_options(cluster, workers, taps, output)
    run_config = load_run_config(config)
    # The captures' digests start now, on the other core, while the imports below run on this one.
    digests = prefetch_digests(run_config)
    from vpcflow.cli import run_display as show
    from vpcflow.runtime.run import prepare_run

    console = None if quiet else _console()
    if dask:
        from vpcflow.runtime.bulk import plan_partitions

        plan_partitions(run_config)  # a source that cannot be partitioned: refused before anything runs
    prepared = prepare_run(run_config, data_dir=data_dir, output=output, output_format=output_format,
                           skip_bad=skip_bad, digests=digests)
    if dask:
        result = show.execute_on_dask(prepared, console=console, quiet=quiet, cluster=cluster, workers=workers)
    else:
        tap_fns = {t: show.tap_printer(t, sys.stdout) for t in taps}
        result = show.execute_with_progress(prepared, console=console, quiet=quiet, taps=tap_fns)
    if console is not None:
        show.print_summary(result, console)
    if as_json:
        sys.stdout.write(json.dumps({**result.stats.as_dict(), "sources": result.source_stats}) + "\n")
    show.exit_if_spooled(result)


def _console() -> Console:
    """stderr's console; not a terminal (a log, CI): wide enough that ids and ARNs in the summary are not cut."""
    from rich.console import Console

    return Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)


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
