"""``vpcflow format check 'FORMAT'``: validate a LogFormat with AWS's rules (spec 1.6).

Prints ``version: N`` on the first line, then one line per column (``column type field``); an
invalid format exits 2 with the error message (it names the offending token).
"""

from __future__ import annotations

import click

from vpcflow.codecs.records import arrow_type
from vpcflow.model.logformat import parse_log_format


@click.group("format", context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Work with LogFormat strings (`${field} ${field} ...`)."""


@group.command("check")
@click.argument("log_format", metavar="FORMAT", required=False)
@click.option("--transit-gateway", is_flag=True, help="Validate for a transit gateway flow log (spec 1.8).")
def check(log_format: str | None, transit_gateway: bool) -> None:
    """Check FORMAT and print its version and columns (omit FORMAT for the default format)."""
    fmt = parse_log_format(log_format, transit_gateway=transit_gateway)
    click.echo(f"version: {fmt.version}")
    for column, name in zip(fmt.columns, fmt.fields, strict=True):
        click.echo(f"{column} {arrow_type(name)} {name}")
