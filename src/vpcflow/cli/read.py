"""``vpcflow read``: print flow records from any destination, filtered, optionally aggregated into
conversations (``--aggregate``: source, destination, service port, protocol, action; overlapping flow
logs counted once, docs/reports.md).

Sources: the data directory (local bucket store + embedded CloudWatch Logs store), ``--path`` files,
a real or emulated S3 bucket (``--s3 s3://bucket/prefix`` with ``--endpoint-url``) or CloudWatch Logs
log group (``--log-group`` with ``--endpoint-url``). Filters run in DuckDB (time, port, action,
interface) and on address columns (exact address or CIDR, IPv4 and IPv6); a CloudWatch filter pattern
is matched against each record's text line, so it works for every destination.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.cli._output import print_table
from vpcflow.cli._sources import data_dir_option, eni_addresses, open_database, path_option
from vpcflow.cli._terminal import WIDTH, render_table
from vpcflow.codecs.addresses import strings_to_addresses
from vpcflow.codecs.text import header_line, render_lines
from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.evaluate.rules import net_to_words
from vpcflow.query.duck import VIEW, FlowLogDatabase
from vpcflow.query.filter_pattern import compile_pattern
from vpcflow.query.selection import FLOWS, prepare_flows

_META = ("date", "flow_log_id")
TERMINAL_ROWS = 40  # rows of `--aggregate -o table` (a terminal) unless --limit says otherwise


def parse_time(value: str, option: str) -> int:
    """Epoch seconds, or an ISO 8601 time (UTC when no zone is given)."""
    if value.isdigit():
        return int(value)
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise ConfigError(
            f"{option} {value!r}: give epoch seconds or an ISO 8601 time such as 2024-05-01T10:00:00Z"
        ) from e
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp())


def _network(value: str, option: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as e:
        raise ConfigError(f"{option} {value!r}: not an IP address or CIDR") from e


def _in_network(col: pa.ChunkedArray, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> np.ndarray:
    """Which addresses of a column lie in ``net`` (the rule engine's masks over the IPv4-mapped space)."""
    hi, lo, valid = strings_to_addresses(col)
    nhi, nlo, mhi, mlo = (np.uint64(w) for w in net_to_words(net))
    return np.asarray(valid & ((hi & mhi) == nhi) & ((lo & mlo) == nlo))


def _flow_log_columns(data_dir: Path, flow_log_id: str) -> list[str] | None:
    """The record columns of a stored flow log's format, or None when the data directory does not know it."""
    from vpcflow.model.fields import to_column
    from vpcflow.runtime.datadir import DataDir

    dd = DataDir.resolve(data_dir)
    if not dd.state_path.exists():
        return None
    with dd.state() as st:
        fl = st.get_flow_log(flow_log_id)
    return [to_column(n) for n in fl.field_names] if fl else None


def _remote_database(s3: str | None, log_group: str | None, endpoint_url: str | None, region: str,
                     log_format: str | None) -> FlowLogDatabase:
    import boto3  # only the remote readers talk to AWS endpoints

    from vpcflow.query.readers import read_cloudwatch, read_s3

    db = FlowLogDatabase()
    if s3:
        if not s3.startswith("s3://"):
            raise ConfigError(f"--s3 {s3!r}: expected s3://bucket[/prefix/]")
        bucket, _, prefix = s3[5:].partition("/")
        client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
        for table in read_s3(client, bucket, prefix):
            db.add_arrow(table)
    if log_group:
        client = boto3.client("logs", endpoint_url=endpoint_url, region_name=region)
        for table in read_cloudwatch(client, log_group, log_format=log_format):
            db.add_arrow(table)
    db.create_view()
    return db


@click.command("read")
@data_dir_option
@path_option
@click.option("--s3", help="Read a bucket through boto3: s3://bucket[/prefix/].")
@click.option("--log-group", help="Read a CloudWatch Logs log group through boto3.")
@click.option("--endpoint-url", help="With --s3/--log-group: the endpoint (MinIO, moto, ...); AWS when omitted.")
@click.option("--region", default="us-east-1", show_default=True, help="With --s3/--log-group.")
@click.option("--log-format", help="With --log-group: the flow log's LogFormat (default format when omitted).")
@click.option("--flow-log-id", "flow_log_ids", multiple=True, help="Only this flow log's records (repeatable).")
@click.option("--start", "start", help="Records ending at or after this time (epoch seconds or ISO 8601).")
@click.option("--end", "end", help="Records starting before this time.")
@click.option("--addr", help="srcaddr or dstaddr is this address or inside this CIDR.")
@click.option("--src", help="srcaddr is this address or inside this CIDR.")
@click.option("--dst", help="dstaddr is this address or inside this CIDR.")
@click.option("--port", type=click.IntRange(0, 65535), help="srcport or dstport.")
@click.option("--action", type=click.Choice(["ACCEPT", "REJECT"]), help="Only this action.")
@click.option("--interface", "interface_id", help="Only this interface id (eni-...).")
@click.option("--filter-pattern", help="A CloudWatch Logs filter pattern matched against each record line.")
@click.option("--aggregate", is_flag=True,
              help="One row per conversation (source, destination, service port, protocol, action), overlapping "
                   "flow logs counted once; the summary comes first.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many rows (0: all).")
@click.option("--header/--no-header", default=False, help="With --output text: print the field-name header first.")
@click.option("--output", "-o", type=click.Choice(["text", "json", "csv", "table"]), default="text",
              show_default=True)
def command(
    data_dir: Path, paths: tuple[str, ...], s3: str | None, log_group: str | None, endpoint_url: str | None,
    region: str, log_format: str | None, flow_log_ids: tuple[str, ...], start: str | None, end: str | None,
    addr: str | None, src: str | None, dst: str | None, port: int | None, action: str | None,
    interface_id: str | None, filter_pattern: str | None, aggregate: bool, limit: int, header: bool, output: str,
) -> None:
    """Print flow-log records from any destination, AWS text lines by default.

    \b
    Examples:
      vpcflow read --action REJECT --port 22
      vpcflow read --src 198.51.100.0/24 --aggregate -o table
      vpcflow read --filter-pattern '[version, account, eni, source, destination, srcport, destport="22", ...]'
      vpcflow read --s3 s3://my-bucket/prefix/ --endpoint-url http://127.0.0.1:9000
    """
    if s3 or log_group:
        db = _remote_database(s3, log_group, endpoint_url, region, log_format)
    else:
        db = open_database(data_dir, paths)
    source = VIEW
    if aggregate:  # a conversation seen by two flow logs is counted once
        prepare_flows(db, flow_log_ids=flow_log_ids,
                      eni_addresses={} if s3 or log_group else eni_addresses(data_dir))
        source = FLOWS
    columns = {c for c, _ in db.columns()}

    def need(col: str, option: str) -> None:
        if col not in columns:
            raise ConfigError(f"{option}: the logs' formats have no {col.replace('_', '-')} field")

    where = _where(need, flow_log_ids if not aggregate else (), start, end, port, action, interface_id)
    order = " ORDER BY start, \"end\"" if {"start", "end"} <= columns else ""
    table = db.query(f"SELECT * FROM {source} {'WHERE ' + ' AND '.join(where) if where else ''}{order}")
    table = _keep_addresses(table, need, addr=addr, src=src, dst=dst)
    # Text lines show the records' own format: the chosen flow log's, else the one format of the sources,
    # else (mixed formats) their union in catalogue order.
    one = flow_log_ids[0] if len(flow_log_ids) == 1 and not (s3 or log_group or paths) else None
    record_cols = _flow_log_columns(data_dir, one) if one else None
    record_cols = record_cols or db.record_columns()
    if filter_pattern:
        lines = render_lines(table.select(record_cols))
        table = table.filter(pa.array(compile_pattern(filter_pattern).match(lines)))
    if aggregate:
        table, record_cols = _aggregate(db, table, columns, need)
    counts = (table.num_rows, int(pc.sum(table.column("records")).as_py() or 0)) if aggregate else (0, 0)
    if limit:
        table = table.slice(0, limit)
    if aggregate:
        _print_aggregate(table, output, limit or TERMINAL_ROWS, counts)
    elif output == "text":
        out = table.select(record_cols)
        if header:
            sys.stdout.write(header_line([c.replace("_", "-") for c in record_cols]) + "\n")
        for line in render_lines(out).to_pylist():
            sys.stdout.write(f"{line}\n")
    else:
        print_table(table.select([*record_cols, *(c for c in _META if c in table.column_names)]), output)


def _where(need: Callable[[str, str], None], flow_log_ids: tuple[str, ...], start: str | None, end: str | None,
           port: int | None, action: str | None, interface_id: str | None) -> list[str]:
    """The SQL conditions of the options that filter on one column (``need`` refuses an absent field)."""
    where: list[str] = []
    if flow_log_ids:
        where.append("flow_log_id IN (" + ", ".join("'" + f.replace("'", "''") + "'" for f in flow_log_ids) + ")")
    if start:
        need("end", "--start")
        where.append(f'"end" >= {parse_time(start, "--start")}')
    if end:
        need("start", "--end")
        where.append(f"start < {parse_time(end, '--end')}")
    if port is not None:
        need("dstport", "--port")
        where.append(f"(srcport = {port} OR dstport = {port})")
    if action:
        need("action", "--action")
        where.append(f"action = '{action}'")
    if interface_id:
        need("interface_id", "--interface")
        where.append("interface_id = '" + interface_id.replace("'", "''") + "'")
    return where


def _keep_addresses(table: pa.Table, need: Callable[[str, str], None], *, addr: str | None, src: str | None,
                    dst: str | None) -> pa.Table:
    """The rows whose addresses fall in --addr (either side), --src and --dst (addresses or CIDRs)."""
    for value, cols, option in ((addr, ("srcaddr", "dstaddr"), "--addr"), (src, ("srcaddr",), "--src"),
                                (dst, ("dstaddr",), "--dst")):
        if value:
            net = _network(value, option)
            for c in cols:
                need(c, option)
            keep = np.zeros(table.num_rows, dtype=bool)
            for c in cols:
                keep |= _in_network(table.column(c), net)
            table = table.filter(pa.array(keep))
    return table


def _aggregate(db: FlowLogDatabase, table: pa.Table, columns: set[str],
               need: Callable[[str, str], None]) -> tuple[pa.Table, list[str]]:
    """One row per conversation: source, destination, service port, protocol and action.

    The service port is the lower of the two ports (a client's ephemeral port is the higher one), so
    the thousands of connections of a brute force, each from its own source port, collapse into one
    row; ``connections`` counts the other side's distinct ports. Records come from the ``flows``
    table, where overlapping flow logs count once.
    """
    for c in ("srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes"):
        need(c, "--aggregate")
    db.con.register("selected", table)
    act = ", action" if "action" in columns else ""
    # NODATA/SKIPDATA carry no 5-tuple; a format without log-status has only OK records
    ok = "WHERE log_status = 'OK' OR log_status IS NULL" if "log_status" in columns else ""
    times = ', MIN(start) AS start, MAX("end") AS "end"' if {"start", "end"} <= columns else ""
    out = db.query(
        "SELECT srcaddr, dstaddr, LEAST(srcport, dstport) AS port, protocol" + act + ", SUM(bytes) AS bytes, "
        "SUM(packets) AS packets, COUNT(DISTINCT GREATEST(srcport, dstport)) AS connections, COUNT(*) AS records"
        f"{times} FROM selected {ok} "
        "GROUP BY ALL ORDER BY bytes DESC, packets DESC, srcaddr, dstaddr, port"
    )
    return out, out.column_names


def _print_aggregate(table: pa.Table, output: str, rows: int, counts: tuple[int, int]) -> None:
    """The summary first (stderr for machine outputs, so stdout stays parseable), then the rows."""
    summary = (f"{counts[0]:,} conversation(s) from {counts[1]:,} record(s) (overlapping flow logs counted "
               "once), largest first")
    if output == "table":
        click.echo(textwrap.fill(summary, WIDTH))
        click.echo("\n".join(render_table(table.slice(0, rows))))
        if table.num_rows > rows:
            click.echo(f"({table.num_rows - rows:,} more: --limit N, or -o text/csv/json for all)")
        return
    click.echo(summary, err=True)
    if output == "text":
        for row in table.to_pylist():
            sys.stdout.write(" ".join("-" if v is None else str(v) for v in row.values()) + "\n")
    else:
        print_table(table, output)
