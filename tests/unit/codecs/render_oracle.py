"""The oracle of record rendering, tests only: the Arrow-kernel renderers the native core replaced.

* AWS text lines: every column cast to a string column with ``-`` for null, then Arrow's CSV writer
  (space delimiter, ``quoting_style="none"``, which refuses values holding a space, a double quote
  or a line break); an empty string is refused before that.
* JSON lines: per row, ``json.dumps(row, separators=(",", ":"))`` of ``table.to_pylist()``.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def _as_string_column(col: pa.ChunkedArray | pa.Array, name: str) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_integer(arr.type):
        arr = arr.cast(pa.string())
    elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        if len(arr) and arr.null_count < len(arr) and pc.min(pc.binary_length(arr)).as_py() == 0:
            raise ValueError(f"column {name!r}: an empty string cannot be written in a flow-log line (use null)")
    else:
        raise TypeError(f"column {name!r} has type {arr.type}; record columns are int32, int64 or string")
    return pc.fill_null(arr, "-")


def text_lines(table: pa.Table | pa.RecordBatch) -> bytes:
    """The ``\\n``-terminated text lines of ``table`` (no header)."""
    if table.num_columns == 0:
        raise ValueError("a record table needs at least one column")
    names = list(table.column_names)
    cols = [_as_string_column(table.column(i), names[i]) for i in range(table.num_columns)]
    strings = pa.Table.from_arrays(cols, names=[f"c{i}" for i in range(len(cols))])
    buf = pa.BufferOutputStream()
    try:
        pacsv.write_csv(strings, buf, write_options=pacsv.WriteOptions(
            include_header=False, delimiter=" ", quoting_style="none"))
    except pa.ArrowInvalid as e:
        raise ValueError(f"a value cannot be written in a flow-log line: {e}") from e
    out: bytes = buf.getvalue().to_pybytes()
    return out


def json_lines(table: pa.Table) -> list[str]:
    """Each row as ``json.dumps(row, separators=(",", ":")) + "\\n"``."""
    return [json.dumps(r, separators=(",", ":")) + "\n" for r in table.to_pylist()]
