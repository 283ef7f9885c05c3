"""A record table's Arrow buffers handed to the native renderer (``vpcflow._native.RecordColumns``).

The renderer reads every column where it lies: each chunk is described by its type, length,
offset and buffers (pyarrow buffers cross through the buffer protocol, nothing is copied), so a
slice, a chunked column or a dictionary column renders without being combined, cast or gathered.
Column kinds: integers (8 to 64 bits, signed or not), ``string``, ``large_string`` and dictionaries
of those; anything else is a ``TypeError`` naming the column, as the Arrow-based renderer said.
The other way, ``arrow_array`` turns a column the core built into an Arrow array over its buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from vpcflow._native import RecordColumns

Chunk = tuple[str, int, int, Any, Any, Any, Any]


def _type_error(name: str, t: pa.DataType) -> TypeError:
    return TypeError(f"column {name!r} has type {t}; record columns are int32, int64 or string")


def _chunk(arr: pa.Array, name: str) -> Chunk:
    t = arr.type
    bufs = arr.buffers()
    if pa.types.is_dictionary(t):
        values = _chunk(arr.dictionary, name)
        return (f"dictionary:{t.index_type}", len(arr), arr.offset, bufs[0], bufs[1], None, values)
    if pa.types.is_integer(t):
        return (str(t), len(arr), arr.offset, bufs[0], bufs[1], None, None)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return (str(t), len(arr), arr.offset, bufs[0], bufs[1], bufs[2], None)
    raise _type_error(name, t)


def _chunks(col: pa.Array | pa.ChunkedArray, name: str) -> list[Chunk]:
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks == 0:  # an empty column still has a type (and a kind to check)
            return [_chunk(pa.array([], type=col.type), name)]
        return [_chunk(c, name) for c in col.chunks]
    return [_chunk(col, name)]


def record_columns(table: pa.Table | pa.RecordBatch, names: Sequence[str] | None = None) -> RecordColumns:
    """``table``'s columns for the native renderer; ``names`` (default: the table's) name them in
    error messages."""
    from vpcflow._native import RecordColumns  # loaded by the commands that render records

    labels = list(table.column_names) if names is None else list(names)
    return RecordColumns([(labels[i], _chunks(table.column(i), labels[i])) for i in range(table.num_columns)])


def arrow_array(col: tuple[Any, ...], n: int) -> pa.Array:
    """A column the core built (``_native.build_records``, ``format_addresses``) as an Arrow array
    over its buffers (no copy).

    ``("str", offsets, data, bitmap, nulls)`` or ``("i32" | "i64", values, bitmap, nulls)``; ``bitmap``
    is Arrow's validity bitmap, None when no row is `-`.
    """
    kind = col[0]
    bitmap = None if col[-2] is None else pa.py_buffer(col[-2])
    if kind == "str":
        return pa.StringArray.from_buffers(n, pa.py_buffer(col[1]), pa.py_buffer(col[2]), bitmap, col[-1])
    typ = pa.int32() if kind == "i32" else pa.int64()
    return pa.Array.from_buffers(typ, n, [bitmap, pa.py_buffer(col[1])], null_count=col[-1])
