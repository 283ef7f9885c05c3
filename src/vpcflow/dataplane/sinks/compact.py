"""Compact record tables for the groups a sink holds until they close (issue 10: memory).

An S3 sink keeps every record of a 5-minute group until no record can join it, hundreds of MB for a
capture of a million flows when held as Arrow string columns. ``compact_records`` dictionary-encodes
the string columns whose values repeat (account, interface, VPC, subnet ids, action, log status,
type, direction, ...: one small dictionary and a 4-byte index per record instead of the text);
addresses are left as text because nearly every record has its own. The values, and so the rendered
bytes, are unchanged: the canonical order (``canonical_rows``) sorts a dictionary column by its
values (the same order as the text column) and the renderers read dictionary columns as their values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.codecs.native_columns import record_columns

#: Columns kept as text: their values hardly repeat (a flow's addresses), so a dictionary would only
#: add an index to every record.
UNIQUE_TEXT_COLUMNS = frozenset({"srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr"})


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def compact_records(records: pa.Table) -> pa.Table:
    """``records`` with its repeating string columns dictionary-encoded (same values, less memory)."""
    cols = []
    for name, col in zip(records.column_names, records.columns, strict=True):
        if name not in UNIQUE_TEXT_COLUMNS and _is_text(col.type):
            col = pc.dictionary_encode(col)
        cols.append(col)
    return pa.table(cols, names=records.column_names)


def plain_records(records: pa.Table) -> pa.Table:
    """``records`` with every dictionary column decoded back to its values (Parquet writers and
    anything that reads the schema see the table ``compact_records`` was given)."""
    if not any(pa.types.is_dictionary(t) for t in records.schema.types):
        return records
    cols = [col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col for col in records.columns]
    return pa.table(cols, names=records.column_names)


@dataclass(frozen=True, slots=True)
class RowSelection:
    """Rows of a held table, in a given order, gathered only a slice at a time.

    A closed group is rendered from its canonical order this way instead of as a sorted copy of the
    group: the copy of a 5-minute group of a million flows was a few hundred MB at the moment it closed.
    """

    table: pa.Table
    rows: npt.NDArray[np.int64]

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
        return self.table.take(pa.array(self.rows))


def canonical_rows(table: pa.Table, rows: npt.NDArray[np.int64]) -> RowSelection:
    """``rows`` of ``table`` in canonical order (ascending by every column in table order, see
    ``base.canonical_order``).

    The native core sorts them from the held table's buffers (native/src/render/order.rs): nothing
    is gathered, and the address columns are compared as bytes of a fixed-width key per row instead
    of by Arrow's sort of the gathered strings (the group's sort was ~2.6 s of a 1M-flow run). Equal
    rows keep their order in ``rows``, as pyarrow's stable ``sort_indices`` kept them.
    """
    if len(rows) <= 1:
        return RowSelection(table, rows)
    order = record_columns(table).canonical_order(np.ascontiguousarray(rows, dtype=np.int64))
    return RowSelection(table, order)
