"""``vpcflow whatif CONFIG --change CHANGE.yaml``: replay a run's traffic against an edited topology."""

from __future__ import annotations

from pathlib import Path

import click

from vpcflow.cli._output import OUTPUTS, print_table

_PROTO = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}


@click.command("whatif")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--change", "change", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A change file: remove/add/set edits of the topology (see docs/whatif.md).")
@click.option("--skip-bad", is_flag=True, help="Skip malformed capture records instead of stopping.")
@click.option("--output", "-o", type=click.Choice(("text", *OUTPUTS)), default="text", show_default=True,
              help="text: one paragraph per flow; table, csv or json: one row per flow.")
def command(config: Path, change: Path, skip_bad: bool, output: str) -> None:
    """Replay CONFIG's traffic against its topology and against the topology edited by CHANGE, and print
    every flow whose action changes, with the rule that decided before and after.

    \b
    Example:
      vpcflow whatif examples/run/demo-run.yaml --change examples/whatif/open-ssh.yaml
    """
    from vpcflow.runtime.whatif import replay

    result = replay(config, change, skip_bad=skip_bad)
    if output == "text":
        for r in result.changed.to_pylist():
            proto = _PROTO.get(r["protocol"], str(r["protocol"]))
            click.echo(
                f"{r['interface_id']} {r['direction']} {proto} {r['srcaddr']}:{r['srcport']} -> "
                f"{r['dstaddr']}:{r['dstport']}  {r['packets']} packets\n"
                f"    before: {r['before']:<6}  {r['before_rule']}\n"
                f"    after:  {r['after']:<6}  {r['after_rule']}"
            )
    else:
        print_table(result.changed, output, title="flows whose action changes")
    click.echo(
        f"{result.changed.num_rows} flow outcome(s) changed, {result.changed_packets} of {result.packets} packets; "
        f"{result.flows} flows compared",
        err=True,
    )
