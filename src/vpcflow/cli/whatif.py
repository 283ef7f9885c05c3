"""``vpcflow whatif CONFIG --change CHANGE.yaml``: replay a run's traffic against an edited topology.

The text output is a summary first (80 columns): the count of changed flows, then tables of outcome
changes, interfaces, deciding rules and sources; ``--detail`` adds one paragraph per changed flow.
Machine outputs (``-o table|csv|json``) list every changed flow as a row. docs/whatif.md.
"""

from __future__ import annotations

from pathlib import Path

import click

from vpcflow.cli._output import OUTPUTS, print_table
from vpcflow.cli._terminal import render_table

_PROTO = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}


@click.command("whatif")
@click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--change", "change", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A change file: remove/add/set edits of the topology (see docs/whatif.md).")
@click.option("--skip-bad", is_flag=True, help="Skip malformed capture records instead of stopping.")
@click.option("--detail", is_flag=True, help="text: after the summary, one paragraph per changed flow.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="text: rows per summary table.")
@click.option("--output", "-o", type=click.Choice(("text", *OUTPUTS)), default="text", show_default=True,
              help="text: the summary (and, with --detail, every flow); table, csv or json: one row per flow.")
def command(config: Path, change: Path, skip_bad: bool, detail: bool, top: int, output: str) -> None:
    """Replay CONFIG's traffic against its topology and against the topology edited by CHANGE, and
    summarize the flows whose action changes: how many, where, and which rules decide before and after
    (--detail lists every flow). The change file format is in docs/whatif.md.

    \b
    Example:
      vpcflow whatif examples/run/demo-run.yaml --change examples/whatif/open-ssh.yaml
    """
    from vpcflow.runtime.whatif import replay

    result = replay(config, change, skip_bad=skip_bad)
    if output != "text":
        print_table(result.changed, output, title="flows whose action changes")
        click.echo(result.headline(), err=True)
        return
    click.echo(result.headline())
    for title, table in result.summary(top=top):
        if table.num_rows:
            click.echo("")
            click.echo("\n".join(render_table(table, title=title)))
    if not detail:
        if result.changed.num_rows:
            click.echo("\n(--detail lists every changed flow; -o csv or -o json gives them as rows)")
        return
    click.echo("")
    for r in result.changed.to_pylist():
        proto = _PROTO.get(r["protocol"], str(r["protocol"]))
        click.echo(
            f"{r['interface_id']} {r['direction']} {proto} {r['srcaddr']}:{r['srcport']} -> "
            f"{r['dstaddr']}:{r['dstport']}  {r['packets']} packets\n"
            f"    before: {r['before']:<6}  {r['before_rule']}\n"
            f"    after:  {r['after']:<6}  {r['after_rule']}"
        )
