"""``vpcflow fields``: the flow-record field catalogue as a table (or Markdown for docs/formats.md)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from vpcflow.model.fields import FIELDS, MAX_VERSION, MIN_VERSION, Field


def _selected(version: int | None, include_tgw: bool) -> list[Field]:
    out = [f for f in FIELDS.values() if include_tgw or f.vpc]
    if version is not None:
        out = [f for f in out if f.version == version]
    return out


def _dash(f: Field) -> str:
    return f.dash_when or "not documented"


def markdown_table(fields: list[Field]) -> str:
    """The catalogue as a Markdown table (pasted into docs/formats.md)."""
    rows = [
        "| Field | Column | Ver | Type | Parquet | Athena | Meaning | Written `-` when |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in fields:
        name = f"`{f.name}`" + (" (TGW)" if f.transit_gateway else "")
        meaning = f.meaning.replace("|", "\\|")
        if f.unconfirmed:
            meaning += f" *UNCONFIRMED: {f.unconfirmed}.*"
        rows.append(
            f"| {name} | `{f.column}` | {f.version} | {f.value_type.value} | {f.parquet_type} | {f.athena_type} "
            f"| {meaning} | {_dash(f)} |"
        )
    return "\n".join(rows)


@click.command("fields", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", "version", type=click.IntRange(MIN_VERSION, MAX_VERSION), default=None,
              help="Only the fields introduced in this flow-log version (2..11).")
@click.option("--all", "include_tgw", is_flag=True, help="Also list the transit-gateway-only fields (spec 1.8).")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (as in docs/formats.md).")
def command(version: int | None, include_tgw: bool, markdown: bool) -> None:
    """List the flow-log record fields: name, version, types and when AWS writes `-`."""
    fields = _selected(version, include_tgw)
    if not fields:
        # spec 1.3: version 6 introduced transit-gateway fields only.
        click.echo(f"no VPC flow-log field has version {version}; --all lists the transit-gateway fields")
        return
    if markdown:
        click.echo(markdown_table(fields))
        return
    table = Table(title=f"flow-log fields{'' if version is None else f' of version {version}'}")
    for col in ("field", "ver", "type", "parquet", "athena", "meaning", "written - when"):
        table.add_column(col, overflow="fold")
    for f in fields:
        name = f.name + (" (TGW)" if f.transit_gateway else "")
        table.add_row(name, str(f.version), f.value_type.value, f.parquet_type, f.athena_type, f.meaning, _dash(f))
    Console(width=max(Console().width, 160)).print(table)
