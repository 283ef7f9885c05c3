"""``vpcflow generate SCENARIO --pcap out.pcap``: synthetic traffic of a scenario written as a capture."""

from __future__ import annotations

import time
from pathlib import Path

import click

from vpcflow.core.errors import ConfigError
from vpcflow.core.userfiles import check_input_file, check_output_file


@click.command(name="generate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--pcap",
    "pcap_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Capture file to write (classic pcap, Ethernet; '.gz' suffix compresses).",
)
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Override the scenario's seed.")
@click.option(
    "--duration",
    default=None,
    metavar="DURATION",
    help="Override the scenario's duration (seconds, or 90s / 15m / 1h).",
)
@click.option(
    "--snaplen",
    type=click.IntRange(64, 262144),
    default=65535,
    show_default=True,
    help="Bytes kept per packet (the original length is recorded, so byte counts stay exact).",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary table.")
def command(scenario: Path, pcap_path: Path, seed: int | None, duration: str | None, snaplen: int, quiet: bool) -> None:
    """Generate the packets of SCENARIO (a scenario YAML over a topology) into a pcap any tool reads."""
    from rich.console import Console
    from rich.table import Table

    from vpcflow.dataplane.sources.pcap_writer import PcapngWriter, PcapWriter
    from vpcflow.dataplane.sources.scenario_values import Ctx, parse_duration
    from vpcflow.dataplane.sources.synthetic import SyntheticConfig, SyntheticSource
    from vpcflow.model.topology.sourcemap import SourceMap

    check_input_file(scenario, "scenario")
    check_output_file(pcap_path, "--pcap")
    duration_s = None
    if duration is not None:
        duration_s = parse_duration(duration, Ctx(SourceMap("--duration")), ())
        if duration_s <= 0:
            raise ConfigError("the duration must be positive", location="--duration")
    started = time.perf_counter()
    source = SyntheticSource(SyntheticConfig(str(scenario), seed=seed, duration_s=duration_s))
    name = pcap_path.name.removesuffix(".gz")
    writer = (
        PcapngWriter(pcap_path, snaplen=snaplen) if name.endswith(".pcapng") else PcapWriter(pcap_path, snaplen=snaplen)
    )
    with writer:
        for batch in source.batches():
            writer.write(batch)
    elapsed = time.perf_counter() - started
    if quiet:
        return
    console = Console(stderr=True)
    table = Table(title=f"{scenario} -> {pcap_path}")
    table.add_column("workload")
    table.add_column("flows", justify="right")
    table.add_column("packets", justify="right")
    for name, st in source.stats.per_workload.items():
        table.add_row(name, f"{st['flows']:,}", f"{st['packets']:,}")
    table.add_row("total", f"{source.stats.flows:,}", f"{source.stats.packets:,}", style="bold")
    console.print(table)
    console.print(
        f"{source.stats.packets:,} packets, {source.stats.bytes:,} IP bytes, seed {source.scenario.seed}, "
        f"{source.scenario.duration_s:g} s of traffic in {elapsed:.1f} s"
    )
