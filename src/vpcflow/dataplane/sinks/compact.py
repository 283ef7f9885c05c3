"""Compact record tables for the groups a sink holds until they close (issue 10: memory).

An S3 sink keeps every record of a 5-minute group until no record can join it, hundreds of MB for a
capture of a million flows when held as Arrow string columns. ``compact_records`` dictionary-encodes
the string columns whose values repeat (account, interface, VPC, subnet ids, action, log status,
type, direction, ...: one small dictionary and an index per record instead of the text); addresses
are left as text because nearly every record has its own. Dictionary indexes are 8-bit (16 when a
table has more than 127 values), the integer fields are held in the narrowest type their AWS values
need (``HELD_TYPES``: ports 16-bit, protocol 8-bit, times 32-bit seconds, ...) when a table's values
fit it, and the record times, which a window's records share, as a dictionary too
(``DICTIONARY_INTS``), so a record of the default format is held in about 46 bytes instead of 94.
The values, and so the rendered bytes, are unchanged: the canonical order (``canonical_rows``)
sorts a dictionary column by its values (the same order as the text column) and integers by value
whatever their width, and the renderers read dictionary columns as their values; ``plain_records``
gives back the original types (Parquet objects).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.codecs.native_columns import record_columns
from vpcflow.codecs.records import arrow_type

#: Columns kept as text: their values hardly repeat (a flow's addresses), so a dictionary would only
#: add an index to every record.
UNIQUE_TEXT_COLUMNS = frozenset({"srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr"})


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


#: The type an integer field is held in while its group is open, when a table's values fit it (the
#: ranges AWS's values have: ports and TCP flags 16 bits, the protocol number 8, epoch seconds 32 until
#: 2106, a record's packets and bytes below 2^32 unless a flow moved 4 GB in one window).
HELD_TYPES: dict[str, pa.DataType] = {
    "version": pa.int8(), "srcport": pa.uint16(), "dstport": pa.uint16(), "protocol": pa.uint8(),
    "packets": pa.uint32(), "bytes": pa.uint32(), "start": pa.uint32(), "end": pa.uint32(),
    "tcp_flags": pa.uint16(), "traffic_path": pa.int8(),
}

#: Dictionary indexes of held columns: 8 bits when a table has at most 127 distinct values (an
#: account, a window's ENIs, actions, log statuses, a minute's record times), else 16 bits when at
#: most 32,767.
HELD_INDEXES = (pa.int8(), pa.int16())

#: Integer fields held as a dictionary of their values: a window's records start and end within its
#: interval (60 or 600 distinct seconds), so an 8- or 16-bit index replaces a 32-bit time.
DICTIONARY_INTS = frozenset({"start", "end"})


def _narrowed(col: pa.ChunkedArray, to: pa.DataType) -> pa.ChunkedArray:
    """``col`` in type ``to`` when every value fits it, else ``col`` unchanged."""
    try:
        return col.cast(to, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a value out of range: held as it came
        return col


def _dictionary(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """``col`` dictionary-encoded with the narrowest index of ``HELD_INDEXES`` its values allow
    (Arrow's 32-bit index when they are more)."""
    encoded = pc.dictionary_encode(col)
    for index in HELD_INDEXES:
        narrowed = _narrowed(encoded, pa.dictionary(index, encoded.type.value_type))
        if narrowed.type.index_type == index:
            return narrowed
    return encoded


def compact_records(records: pa.Table) -> pa.Table:
    """``records`` with its repeating string columns and record times dictionary-encoded (8- or
    16-bit indexes) and its integer fields narrowed (``HELD_TYPES``): the same values in less
    memory. Tables of one sink may differ in types where values did not fit: ``concat_held``
    unifies them."""
    cols = []
    for name, col in zip(records.column_names, records.columns, strict=True):
        if name not in UNIQUE_TEXT_COLUMNS and _is_text(col.type):
            col = _dictionary(col)
        elif name in HELD_TYPES and pa.types.is_integer(col.type):
            col = _narrowed(col, HELD_TYPES[name])
            if name in DICTIONARY_INTS:
                col = _dictionary(col)
        cols.append(col)
    return pa.table(cols, names=records.column_names)


def concat_held(tables: list[pa.Table]) -> pa.Table:
    """Held tables as one (no copy while their types agree; a wider type where one table's values
    did not fit the held type, as rare as a 4 GB flow)."""
    return pa.concat_tables(tables, promote_options="permissive")


def _original_type(name: str, held: pa.DataType) -> pa.DataType:
    try:
        return arrow_type(name)
    except KeyError:  # not a flow-log field (tables of tests and tools): its own value type
        return held.value_type if pa.types.is_dictionary(held) else held


def plain_records(records: pa.Table) -> pa.Table:
    """``records`` with every dictionary column decoded back to its values and every narrowed field
    back in its record type (Parquet writers and anything that reads the schema see the table
    ``compact_records`` was given)."""
    cols = []
    for name, col in zip(records.column_names, records.columns, strict=True):
        if pa.types.is_dictionary(col.type) or name in HELD_TYPES:
            to = _original_type(name, col.type)
            if col.type != to:
                col = col.cast(to)
        cols.append(col)
    return pa.table(cols, names=records.column_names)


def takeable(table: pa.Table) -> pa.Table:
    """``table`` with each dictionary column of several chunks widened to 32-bit indexes. A ``take``
    across chunks unifies their dictionaries, and two 8-bit chunks of 100 distinct values each need
    more than 8 bits together (Arrow refuses: "the unified dictionary requires a larger index type").
    Only the indexes are copied."""
    cols = []
    for col in table.columns:
        t = col.type
        if pa.types.is_dictionary(t) and col.num_chunks > 1 and t.index_type.bit_width < 32:
            col = col.cast(pa.dictionary(pa.int32(), t.value_type))
        cols.append(col)
    return pa.table(cols, names=table.column_names)


@dataclass(frozen=True, slots=True)
class RowSelection:
    """Rows of a held table, in a given order, gathered only a slice at a time.

    A closed group is rendered from its canonical order this way instead of as a sorted copy of the
    group: the copy of a 5-minute group of a million flows was a few hundred MB at the moment it closed.
    """

    table: pa.Table
    rows: npt.NDArray[np.int64] | npt.NDArray[np.uint32]

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    @property
    def column_names(self) -> list[str]:
        return list(self.table.column_names)

    def slice(self, offset: int, length: int) -> RowSelection:
        return RowSelection(self.table, self.rows[offset:offset + length])

    def gather(self) -> pa.Table:
        """The selected rows as a table of their own."""
        return takeable(self.table).take(pa.array(self.rows))


def canonical_rows(table: pa.Table, rows: npt.NDArray[np.int64] | None = None) -> RowSelection:
    """``rows`` of ``table`` (None: every row) in canonical order (ascending by every column in table
    order, see ``base.canonical_order``), as 32-bit row indexes (4 bytes a row of a closed group).

    The native core sorts them from the held table's buffers (native/src/render/order.rs): nothing
    is gathered, and the address columns are compared as bytes of a fixed-width key per row instead
    of by Arrow's sort of the gathered strings (the group's sort was ~2.6 s of a 1M-flow run). Equal
    rows keep their order in ``rows``, as pyarrow's stable ``sort_indices`` kept them.
    """
    count = table.num_rows if rows is None else len(rows)
    if count <= 1:
        return RowSelection(table, np.arange(table.num_rows, dtype=np.uint32) if rows is None else rows)
    given = None if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    return RowSelection(table, record_columns(table).canonical_order(given))
