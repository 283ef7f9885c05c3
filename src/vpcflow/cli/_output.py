"""What the CLI prints: Arrow tables as a terminal table, CSV or JSON (query, report, read), and API
responses the AWS CLI's way (``--output json|text|table|yaml`` and ``--query``: ``AwsCliGroup``, used by
``vpcflow ec2`` and ``vpcflow logs``; rendering in ``_aws_render``).

pyarrow and rich are imported by ``print_table``, the one function that needs them: ``vpcflow ec2`` and
``vpcflow logs`` print API responses and start without them (issue 10, item 4)."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import click

from vpcflow.core.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

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
        import pyarrow as pa
        from rich.console import Console
        from rich.table import Table

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


# -- the AWS CLI's --output and --query, for `vpcflow ec2` and `vpcflow logs` -------------------------

_AWS_SETTINGS = "vpcflow.aws_output"  # ctx.meta key: {"output": str, "query": compiled expression}
OUTPUT_ENV_VARS = ("VPCFLOW_DEFAULT_OUTPUT", "AWS_DEFAULT_OUTPUT")


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:  # a subcommand's own flag overrides the group's; an absent one does not
            ctx.meta.setdefault(_AWS_SETTINGS, {})[name] = value
        return value

    return callback


def _command_output(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A subcommand's ``--output``; with no flag anywhere, the environment's default is checked now,
    before the command calls anything (a bad $AWS_DEFAULT_OUTPUT must not fail after a create)."""
    _remember("output")(ctx, param, value)
    if "output" not in ctx.meta.get(_AWS_SETTINGS, {}):
        _default_output()
    return value


def _compile_query(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        compiled = jmespath.compile(value)
    except JMESPathError as e:
        reason = " ".join(str(e).split())
        raise click.BadParameter(f"bad JMESPath expression {value!r}: {reason}", ctx=ctx, param=param) from None
    return _remember("query")(ctx, param, compiled)


def aws_output_params(*, command: bool = True) -> list[click.Parameter]:
    """Fresh ``--output`` and ``--query`` options (the AWS CLI's global options, accepted anywhere):
    for a subcommand (``command``) or for the group itself."""
    from vpcflow.cli._aws_render import OUTPUT_STYLES

    return [
        click.Option(["--output"], type=click.Choice(OUTPUT_STYLES), default=None, expose_value=False,
                     callback=_command_output if command else _remember("output"),
                     help="json | text | table | yaml, as the AWS CLI prints them "
                          "(default $VPCFLOW_DEFAULT_OUTPUT, $AWS_DEFAULT_OUTPUT or json)."),
        click.Option(["--query"], default=None, expose_value=False, callback=_compile_query,
                     help="JMESPath expression applied to the response before printing, as the AWS CLI does."),
    ]


class AwsCliGroup(click.Group):
    """A group whose commands, and itself, take ``--output`` and ``--query`` like the AWS CLI.

    Every command added to it (``@group.command(...)``), now or by later modules, gets both options;
    commands print their response with :func:`emit_aws_response`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(aws_output_params(command=False))

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        have = {o for p in cmd.params for o in p.opts}
        cmd.params.extend(p for p in aws_output_params() if not set(p.opts) & have)
        super().add_command(cmd, name)


def _default_output() -> str:
    from vpcflow.cli._aws_render import OUTPUT_STYLES

    for var in OUTPUT_ENV_VARS:
        value = os.environ.get(var)
        if value:
            if value not in OUTPUT_STYLES:
                raise click.UsageError(f"${var}={value!r} is not an output style ({', '.join(OUTPUT_STYLES)})")
            return value
    return "json"


class PagedResponse(dict[str, Any]):
    """A response merged from every page (the AWS CLI's default auto-pagination) that keeps the pages:
    the AWS CLI prints ``--output text`` one page at a time, each page's ``result_keys`` only, with
    ``--query`` applied per page (``50`` then ``3`` for ``length(logGroups)`` over 53 log groups)."""

    def __init__(self, merged: dict[str, Any], pages: list[dict[str, Any]], result_keys: tuple[str, ...]) -> None:
        super().__init__(merged)
        self.pages = pages
        self.result_keys = result_keys


def _search(query: Any, data: Any) -> Any:
    """``--query`` applied to ``data``; a type error in the expression (``length(`1`)``) is one line."""
    if query is None:
        return data
    from jmespath.exceptions import JMESPathError

    try:
        return query.search(data)
    except JMESPathError as e:
        raise ConfigError(f"--query {query.expression!r}: {' '.join(str(e).split())}") from None


def _text_by_page(response: PagedResponse, query: Any) -> str:
    from vpcflow.cli._aws_render import render

    out = []
    for page in response.pages:
        data: Any = _json_shaped({k: page.get(k) for k in response.result_keys})
        out.append(render(_search(query, data), "text", title=""))
    return "".join(out)


def _json_shaped(v: Any) -> Any:
    """Datetimes as ISO-8601 strings (the AWS CLI's ``cli_timestamp_format = iso8601``), the rest as is."""
    if isinstance(v, dict):
        return {k: _json_shaped(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_shaped(x) for x in v]
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v


def emit_aws_response(operation: str, response: dict[str, Any], *, out: TextIO | None = None) -> None:
    """Print an API response as the AWS CLI does: drop ResponseMetadata, apply ``--query``, render in
    the chosen ``--output`` style (the table's title is the operation name, ``DescribeFlowLogs``)."""
    from vpcflow.cli._aws_render import render, terminal_width

    ctx = click.get_current_context(silent=True)
    settings: dict[str, Any] = ctx.meta.get(_AWS_SETTINGS, {}) if ctx is not None else {}
    style = settings.get("output") or _default_output()
    stream = out or sys.stdout
    if style == "text" and isinstance(response, PagedResponse):
        click.echo(_text_by_page(response, settings.get("query")), file=stream, nl=False)
        return
    data: Any = _json_shaped({k: v for k, v in response.items() if k != "ResponseMetadata"})
    data = _search(settings.get("query"), data)
    text = render(data, style, title=operation, width=terminal_width(stream) if style == "table" else None)
    if text:
        click.echo(text, file=stream, nl=False)
