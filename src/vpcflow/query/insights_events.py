"""The events an Insights query reads: system fields plus the fields discovered in flow-log messages.

System fields (CWL "Supported logs and discovered fields"): ``@timestamp``, ``@ingestionTime``
(timestamps, ms), ``@logStream``, ``@log`` (``account-id:log-group-name``) and ``@message``.

Discovered fields (spec 3 / 8.2, [OFFICIAL A5]): for the default format AWS names them ``version
accountId interfaceId srcAddr dstAddr srcPort dstPort protocol packets bytes startTime endTime action
logStatus``. Whether custom-format fields are discovered is UNCONFIRMED (spec 8.2); vpcflow discovers
every field of the formats of the flow logs delivering to the log group, named in the same camelCase
style (``vpc-id`` -> ``vpcId``, ``pkt-srcaddr`` -> ``pktSrcAddr``), typed from the field catalogue, ``-``
being no value. Messages are parsed with the text codec (``codecs.text.decode_lines``), columnar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.codecs.text import decode_lines
from vpcflow.model.fields import FIELDS, ValueType
from vpcflow.model.logformat import LogFormat
from vpcflow.query.insights_sql import ROW

#: AWS's names for the default-format fields (spec 3, "auto-discovers (default format only)").
AWS_NAMES = {
    "version": "version", "account-id": "accountId", "interface-id": "interfaceId", "srcaddr": "srcAddr",
    "dstaddr": "dstAddr", "srcport": "srcPort", "dstport": "dstPort", "protocol": "protocol",
    "packets": "packets", "bytes": "bytes", "start": "startTime", "end": "endTime", "action": "action",
    "log-status": "logStatus",
}
_WORDS = {"srcaddr": "srcAddr", "dstaddr": "dstAddr", "srcport": "srcPort", "dstport": "dstPort"}
EVENT = "__event"  # hidden: the event's id in the log store (for @ptr)
SYSTEM_FIELDS = ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime")


def insights_name(field_name: str) -> str:
    """The Insights field name of a flow-log field (``pkt-src-aws-service`` -> ``pktSrcAwsService``)."""
    if field_name in AWS_NAMES:
        return AWS_NAMES[field_name]
    words = [_WORDS.get(w, w) for w in field_name.split("-")]
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _arrow_type(field_name: str) -> pa.DataType:
    vt = FIELDS[field_name].value_type
    return pa.string() if vt is ValueType.STRING else pa.int32() if vt is ValueType.INT32 else pa.int64()


@dataclass(frozen=True)
class GroupEvents:
    """The raw events of one log group (columns of ``LogStore.iter_event_columns`` plus ``stream``)."""

    group: str
    account_id: str
    batch: pa.Table  # timestamp, ingestion_time, event_id, message, stream
    formats: tuple[LogFormat, ...]


def discovered_fields(formats: Iterable[LogFormat]) -> list[str]:
    """Hyphenated names of every field the formats discover, first format first."""
    return list(dict.fromkeys(f for fmt in formats for f in fmt.fields))


def _parse_fields(messages: pa.Array, formats: Sequence[LogFormat], names: list[str]) -> dict[str, pa.Array]:
    """Each discovered field for each message; a message is read with the first format it is valid in."""
    n = len(messages)
    out: dict[str, pa.Array] = {f: pa.nulls(n, _arrow_type(f)) for f in names}
    if n == 0:
        return out
    tokens = np.asarray(pc.count_substring(messages, " ").to_numpy(zero_copy_only=False), dtype=np.int64) + 1
    left = np.ones(n, dtype=bool)
    for fmt in formats:
        candidates = left & (tokens == len(fmt.fields))
        if not candidates.any():
            continue
        idx = np.flatnonzero(candidates)
        table, ok = decode_lines(messages.take(pa.array(idx)), fmt)
        where = np.full(n, -1, dtype=np.int64)
        where[idx[ok]] = np.flatnonzero(ok)
        take = pa.array(where, mask=where < 0)
        for field_name, column in zip(fmt.fields, table.columns, strict=True):
            values = column.combine_chunks().take(take)
            out[field_name] = pc.coalesce(out[field_name], values)
        left[idx[ok]] = False
    return out


def constant(value: str, n: int) -> pa.Array:
    """``n`` copies of a string, made by Arrow (a one-entry dictionary decoded), not by Python."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value])).cast(pa.string())


def events_table(groups: Sequence[GroupEvents]) -> pa.Table:
    """One table of every event: system fields, discovered fields, and the hidden ``__row`` position."""
    names = discovered_fields(fmt for g in groups for fmt in g.formats)
    parts = []
    for g in groups:
        b = g.batch
        n = b.num_rows
        messages = b.column("message").combine_chunks() if n else pa.array([], pa.large_string())
        cols: dict[str, pa.Array | pa.ChunkedArray] = {
            "@timestamp": b.column("timestamp").cast(pa.timestamp("ms")),
            "@message": messages,
            "@logStream": b.column("stream"),
            "@log": constant(f"{g.account_id}:{g.group}", n),
            "@ingestionTime": b.column("ingestion_time").cast(pa.timestamp("ms")),
            EVENT: b.column("event_id"),
        }
        fields = _parse_fields(messages, g.formats, names)
        for f in names:
            cols[insights_name(f)] = fields[f]
        parts.append(pa.table(cols))
    if not parts:
        schema = [("@timestamp", pa.timestamp("ms")), ("@message", pa.large_string()), ("@logStream", pa.string()),
                  ("@log", pa.string()), ("@ingestionTime", pa.timestamp("ms")), (EVENT, pa.int64())]
        return pa.schema(schema).empty_table().append_column(ROW, pa.array([], pa.int64()))
    table = pa.concat_tables(parts, promote_options="default")
    return table.append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))


def column_types(table: pa.Table) -> dict[str, str]:
    """The translator's coarse type of each column."""
    out = {}
    for f in table.schema:
        t = f.type
        out[f.name] = ("time" if pa.types.is_timestamp(t) else "int" if pa.types.is_integer(t)
                       else "num" if pa.types.is_floating(t) else "str")
    return out
