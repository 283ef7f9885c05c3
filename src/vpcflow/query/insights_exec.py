"""Running an Insights query: parse, translate to SQL, execute in DuckDB over the events table.

The events table (``query/insights_events.py``) is handed to DuckDB as Arrow (zero-copy). The result
is a typed Arrow table of the displayed fields, plus GetQueryResults' rendering of it: rows of
``{"field", "value"}`` with string values (timestamps as ``YYYY-MM-DD HH:MM:SS.mmm`` UTC, a field
without value left out of its row, ``@ptr`` last on rows of queries without ``stats``) and the
statistics ``recordsMatched`` / ``recordsScanned`` / ``bytesScanned``.

DuckDB is imported when a query runs: ``vpcflow logs`` registers the Insights commands through this
module, and its other commands never need DuckDB (~0.1 s to import).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.codecs.addresses import strings_to_addresses
from vpcflow.core.api_errors import MalformedQueryError
from vpcflow.query.insights_events import EVENT, column_types
from vpcflow.query.insights_parse import parse_query
from vpcflow.query.insights_sql import ROW, translate

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class InsightsResult:
    """A finished query: the displayed fields (typed), each row's ``@ptr`` (None after stats), statistics."""

    table: pa.Table
    ptrs: list[str] | None
    statistics: dict[str, float]

    def rows(self) -> list[list[dict[str, str]]]:
        """GetQueryResults ``results``: one list of ``{"field", "value"}`` per row."""
        columns = [(name, _strings(self.table.column(name))) for name in self.table.column_names]
        out = []
        for i in range(self.table.num_rows):
            row = [{"field": name, "value": values[i]} for name, values in columns if values[i] is not None]
            if self.ptrs is not None:
                row.append({"field": "@ptr", "value": self.ptrs[i]})
            out.append(row)
        return out


def _strings(col: pa.ChunkedArray) -> list[str | None]:
    t = col.type
    if pa.types.is_timestamp(t):
        return list(pc.strftime(col.cast(pa.timestamp("ms")), "%Y-%m-%d %H:%M:%S").to_pylist())
    if pa.types.is_boolean(t):
        return [None if v is None else ("1" if v else "0") for v in col.to_pylist()]
    if pa.types.is_floating(t):
        return [None if v is None or math.isnan(v) else (str(int(v)) if v.is_integer() and abs(v) < 2**63 else repr(v))
                for v in col.to_pylist()]
    return list(col.cast(pa.string()).to_pylist())


# ------------------------------------------------------------------------------------------ IP functions
def _in_subnet(addresses: pa.Array, networks: pa.Array) -> pa.Array:
    """``vpcflow_in_subnet(addr, cidr)``: vectorised 128-bit masked compare (IPv4 mapped)."""
    import ipaddress

    hi, lo, valid = strings_to_addresses(addresses)
    result = np.zeros(len(addresses), dtype=bool)
    for text in pc.unique(networks).drop_null().to_pylist():
        net = ipaddress.ip_network(text, strict=False)
        base = int(net.network_address) + (0xFFFF_0000_0000 if net.version == 4 else 0)
        prefix = net.prefixlen + (96 if net.version == 4 else 0)
        mask = ((1 << 128) - 1) ^ ((1 << (128 - prefix)) - 1)
        mhi, mlo = np.uint64(mask >> 64), np.uint64(mask & (2**64 - 1))
        nhi, nlo = np.uint64(base >> 64), np.uint64(base & (2**64 - 1))
        rows = np.asarray(pc.fill_null(pc.equal(networks, text), False).to_numpy(zero_copy_only=False), dtype=bool)
        result |= rows & valid & ((hi & mhi) == nhi) & ((lo & mlo) == nlo)
    return pa.array(result, mask=~valid)


def _ip_version(addresses: pa.Array) -> pa.Array:
    hi, lo, valid = strings_to_addresses(addresses)
    mapped = (hi == 0) & ((lo >> np.uint64(32)) == np.uint64(0xFFFF))
    return pa.array(np.where(mapped, 4, 6).astype(np.int32), mask=~valid)


def connect(events: pa.Table) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with ``events`` registered and the IP functions defined."""
    import duckdb

    con = duckdb.connect(":memory:")
    varchar, boolean, integer = duckdb.sqltype("VARCHAR"), duckdb.sqltype("BOOLEAN"), duckdb.sqltype("INTEGER")
    con.create_function("vpcflow_in_subnet", _in_subnet, [varchar, varchar], boolean, type="arrow",
                        null_handling="special")
    con.create_function("vpcflow_ip_version", _ip_version, [varchar], integer, type="arrow", null_handling="special")
    con.register("events", events)
    return con


def _ptr(events: pa.Table, rows: pa.Array) -> list[str]:
    """An opaque ``@ptr`` per result row: the log, stream and event id, base64."""
    picked = events.select(["@log", "@logStream", EVENT]).take(rows)
    logs, streams, ids = (picked.column(i).to_pylist() for i in range(3))
    return [base64.urlsafe_b64encode(f"{a}\n{b}\n{c}".encode()).decode().rstrip("=")
            for a, b, c in zip(logs, streams, ids, strict=True)]


def run_query(events: pa.Table, query: str, *, limit: int | None = None) -> InsightsResult:
    """Run an Insights query over ``events`` (already restricted to the query's time range)."""
    commands = parse_query(query)
    tr = translate(commands, query, column_types(events), limit=limit)
    import duckdb

    con = connect(events)
    try:
        table = con.sql(tr.sql).to_arrow_table()
        matched = con.sql(tr.matched_sql).fetchall()[0]
    except duckdb.Error as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MalformedQueryError(f"the query cannot run ({first})", query, 0, len(query)) from e
    finally:
        con.close()
    ptrs = None
    if not tr.aggregated and ROW in table.column_names:
        ptrs = _ptr(events, table.column(ROW).combine_chunks())
        table = table.drop_columns([ROW])
    table = _normalise(table)
    message_bytes = pc.sum(pc.binary_length(events.column("@message"))).as_py() or 0
    stats = {"recordsMatched": float(matched[0] if matched else 0), "recordsScanned": float(events.num_rows),
             "bytesScanned": float(message_bytes)}
    return InsightsResult(table, ptrs, stats)


def _normalise(table: pa.Table) -> pa.Table:
    """Timestamps back to milliseconds and integral decimals (DuckDB's HUGEINT sums) to int64."""
    cols: list[Any] = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("ms"))
        elif pa.types.is_decimal(col.type) and col.type.scale == 0:
            col = col.cast(pa.int64())
        elif pa.types.is_large_string(col.type):
            col = col.cast(pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)
