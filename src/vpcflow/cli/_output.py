"""Printing Arrow tables from the CLI as a terminal table, CSV or JSON (shared by query, report, read)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from typing import Any, TextIO

import click
import pyarrow as pa
from rich.console import Console
from rich.table import Table

OUTPUTS = ("table", "csv", "json")


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    return str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    return v


def print_table(table: pa.Table, output: str, *, title: str | None = None, out: TextIO | None = None) -> None:
    """Print ``table`` as ``table`` (rich), ``csv`` (header + rows, empty for NULL) or ``json`` (a list)."""
    out = out or sys.stdout
    rows = table.to_pylist()
    if output == "json":
        out.write(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows], indent=2) + "\n")
    elif output == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(table.column_names)
        for r in rows:
            w.writerow(["" if r[c] is None else _jsonable(r[c]) for c in table.column_names])
        out.write(buf.getvalue())
    elif output == "table":
        t = Table(title=title, show_lines=False)
        for c in table.column_names:
            numeric = pa.types.is_integer(table.schema.field(c).type) or pa.types.is_floating(
                table.schema.field(c).type
            )
            t.add_column(c, justify="right" if numeric else "left", overflow="fold")
        for r in rows:
            t.add_row(*(_cell(r[c]) for c in table.column_names))
        Console(file=out, width=max(120, Console().width)).print(t)
        if not rows:
            out.write("(no rows)\n")
    else:  # pragma: no cover - click restricts the choice
        raise click.BadParameter(f"unknown output {output}")


output_option = click.option(
    "--output", "-o", "output", type=click.Choice(OUTPUTS), default="table", show_default=True,
    help="How to print the result.",
)
