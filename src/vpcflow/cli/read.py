"""``vpcflow read``: print flow records from any destination, filtered, optionally aggregated by 5-tuple.

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
from pathlib import Path

import click
import numpy as np
import pyarrow as pa

from vpcflow.cli._output import print_table
from vpcflow.cli._sources import data_dir_option, open_database, path_option
from vpcflow.codecs.addresses import strings_to_addresses
from vpcflow.codecs.text import header_line, render_lines
from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.evaluate.rules import net_to_words
from vpcflow.query.duck import FlowLogDatabase
from vpcflow.query.filter_pattern import compile_pattern

_META = ("date", "flow_log_id")


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
@click.option("--flow-log-id", help="Only this flow log's records.")
@click.option("--start", "start", help="Records ending at or after this time (epoch seconds or ISO 8601).")
@click.option("--end", "end", help="Records starting before this time.")
@click.option("--addr", help="srcaddr or dstaddr is this address or inside this CIDR.")
@click.option("--src", help="srcaddr is this address or inside this CIDR.")
@click.option("--dst", help="dstaddr is this address or inside this CIDR.")
@click.option("--port", type=click.IntRange(0, 65535), help="srcport or dstport.")
@click.option("--action", type=click.Choice(["ACCEPT", "REJECT"]), help="Only this action.")
@click.option("--interface", "interface_id", help="Only this interface id (eni-...).")
@click.option("--filter-pattern", help="A CloudWatch Logs filter pattern matched against each record line.")
@click.option("--aggregate", is_flag=True, help="Sum packets and bytes per flow log, 5-tuple and action.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many rows (0: all).")
@click.option("--header/--no-header", default=False, help="With --output text: print the field-name header first.")
@click.option("--output", "-o", type=click.Choice(["text", "json", "csv", "table"]), default="text",
              show_default=True)
def command(
    data_dir: Path, paths: tuple[str, ...], s3: str | None, log_group: str | None, endpoint_url: str | None,
    region: str, log_format: str | None, flow_log_id: str | None, start: str | None, end: str | None,
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
    columns = {c for c, _ in db.columns()}
    where: list[str] = []

    def need(col: str, option: str) -> None:
        if col not in columns:
            raise ConfigError(f"{option}: the logs' formats have no {col.replace('_', '-')} field")

    if flow_log_id:
        where.append("flow_log_id = '" + flow_log_id.replace("'", "''") + "'")
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
    order = " ORDER BY start, \"end\"" if {"start", "end"} <= columns else ""
    table = db.query(f"SELECT * FROM vpc_flow_logs {'WHERE ' + ' AND '.join(where) if where else ''}{order}")
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
    # Text lines show the records' own format: the chosen flow log's, else the one format of the sources,
    # else (mixed formats) their union in catalogue order.
    record_cols = _flow_log_columns(data_dir, flow_log_id) if flow_log_id and not (s3 or log_group or paths) else None
    record_cols = record_cols or db.record_columns()
    if filter_pattern:
        lines = render_lines(table.select(record_cols))
        table = table.filter(pa.array(compile_pattern(filter_pattern).match(lines)))
    if aggregate:
        for c in ("srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes"):
            need(c, "--aggregate")
        db.con.register("selected", table)
        act = ", action" if "action" in columns else ""
        # NODATA/SKIPDATA carry no 5-tuple; a format without log-status has only OK records
        ok = "WHERE log_status = 'OK' OR log_status IS NULL" if "log_status" in columns else ""
        # Per flow log: overlapping flow logs (a VPC's and one of its ENIs') record the same packets.
        table = db.query(
            f"SELECT flow_log_id, srcaddr, dstaddr, srcport, dstport, protocol{act}, SUM(packets) AS packets, "
            f"SUM(bytes) AS bytes, "
            f"COUNT(*) AS records, MIN(start) AS start, MAX(\"end\") AS \"end\" FROM selected {ok} "
            f"GROUP BY ALL ORDER BY bytes DESC, packets DESC"
        )
        record_cols = table.column_names
    if limit:
        table = table.slice(0, limit)
    if output == "text":
        out = table.select(record_cols)
        if header and not aggregate:
            sys.stdout.write(header_line([c.replace("_", "-") for c in record_cols]) + "\n")
        if aggregate:
            for row in out.to_pylist():
                sys.stdout.write(" ".join("-" if v is None else str(v) for v in row.values()) + "\n")
        else:
            for line in render_lines(out).to_pylist():
                sys.stdout.write(f"{line}\n")
    elif aggregate:
        print_table(table, output)
    else:
        print_table(table.select([*record_cols, *(c for c in _META if c in table.column_names)]), output)
