"""Record tables: the Arrow schema of flow records, derived from the field catalogue.

A flow log's records are a ``pyarrow.Table`` whose columns are the format's fields in format
order, named with underscores (``account_id``), typed from the catalogue (``int32``, ``int64``,
``string``), all nullable; null is AWS's ``-`` (spec 1.1). Everything here accepts field names in
either spelling (``log-status`` or ``log_status``).

Builders take numpy arrays (or Arrow arrays, Python lists, a scalar broadcast to every row, or
``None`` for an all-null column) so the data plane never creates one Python object per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.model.fields import FIELDS, ValueType, to_column, to_field_name
from vpcflow.model.logformat import LogFormat

_ARROW_TYPES: dict[ValueType, pa.DataType] = {
    ValueType.INT32: pa.int32(),
    ValueType.INT64: pa.int64(),
    ValueType.STRING: pa.string(),
}

Names = Sequence[str] | LogFormat


def _field_names(names: Names) -> tuple[str, ...]:
    """Hyphenated field names of ``names`` (a LogFormat or names in either spelling)."""
    if isinstance(names, LogFormat):
        return names.fields
    out = []
    for n in names:
        h = to_field_name(n)
        if h not in FIELDS:
            raise KeyError(f"unknown flow-log field {n!r}")
        out.append(h)
    return tuple(out)


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type of a field (hyphenated or underscored name)."""
    return _ARROW_TYPES[FIELDS[to_field_name(name)].value_type]


def arrow_schema(names: Names) -> pa.Schema:
    """The record schema: underscored column names in the given order, catalogue types, nullable."""
    return pa.schema([pa.field(to_column(n), arrow_type(n), nullable=True) for n in _field_names(names)])


def empty_table(names: Names) -> pa.Table:
    """A record table with no rows."""
    return arrow_schema(names).empty_table()


def _column(value: Any, typ: pa.DataType, length: int, name: str) -> pa.Array:
    if value is None:
        return pa.nulls(length, type=typ)
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        arr = value if value.type == typ else value.cast(typ)
    elif isinstance(value, np.ma.MaskedArray):
        arr = pa.array(value.data, mask=np.ma.getmaskarray(value), type=typ)
    elif isinstance(value, np.ndarray):
        if typ == pa.string() and value.dtype.kind not in "OUS":
            # Integers etc. handed for a string field: format them in C++ (no Python loop).
            arr = pa.array(value).cast(typ)
        else:
            arr = pa.array(value, type=typ)
    elif isinstance(value, list | tuple):
        arr = pa.array(value, type=typ)
    else:  # a scalar: the same value on every row (e.g. version, account-id, vpc-id)
        arr = pa.repeat(pa.scalar(value, type=typ), length)
    if len(arr) != length:
        raise ValueError(f"column {name!r} has {len(arr)} rows, expected {length}")
    return arr


def record_table(names: Names, columns: Mapping[str, Any], *, length: int | None = None) -> pa.Table:
    """Build a record table of the format ``names`` from ``columns``.

    ``columns`` maps a field name (either spelling) to a numpy array, a numpy masked array (masked
    = ``-``), an Arrow array, a list, a scalar (broadcast) or ``None`` (all ``-``). A field of the
    format missing from ``columns`` is all ``-``; a key that is not in the format is an error
    (it would be silently dropped otherwise). ``length`` is needed only when no column is an array.
    """
    fields = _field_names(names)
    by_name = {to_field_name(k): v for k, v in columns.items()}
    extra = sorted(set(by_name) - set(fields))
    if extra:
        raise KeyError(f"columns not in the format: {', '.join(extra)}")
    if length is None:
        for v in by_name.values():
            if isinstance(v, pa.Array | pa.ChunkedArray | np.ndarray | list | tuple):
                length = len(v)
                break
        else:
            raise ValueError("record_table: pass length= when every column is a scalar or None")
    schema = arrow_schema(fields)
    arrays = [_column(by_name.get(f), schema.field(i).type, length, f) for i, f in enumerate(fields)]
    return pa.Table.from_arrays(arrays, schema=schema)


def conform(table: pa.Table, names: Names | None = None) -> pa.Table:
    """Check (and losslessly cast) ``table`` to the record schema of ``names``.

    With ``names=None`` the table's own column names define the format. Columns are reordered to
    the format order; a missing or unknown column raises ``KeyError``; a cast that would lose data
    raises ``pyarrow.ArrowInvalid``.
    """
    fields = _field_names(names if names is not None else table.column_names)
    schema = arrow_schema(fields)
    if table.schema.equals(schema, check_metadata=False):
        return table
    missing = [c for c in schema.names if c not in table.column_names]
    if missing:
        raise KeyError(f"record table lacks columns: {', '.join(missing)}")
    arrays = [table.column(f.name).cast(f.type, safe=True) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def log_format_of(table: pa.Table | pa.Schema) -> LogFormat:
    """The LogFormat whose columns are the table's columns, in order."""
    names = table.names if isinstance(table, pa.Schema) else table.column_names
    transit = any(FIELDS[to_field_name(n)].transit_gateway for n in names if to_field_name(n) in FIELDS)
    return LogFormat.from_fields(list(names), transit_gateway=transit)


def concat_records(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate record tables of one format (zero-copy)."""
    return pa.concat_tables(list(tables))


def null_counts(table: pa.Table) -> dict[str, int]:
    """``-`` count per column (handy in reports and tests)."""
    return {name: int(pc.sum(pc.is_null(table.column(name))).as_py() or 0) for name in table.column_names}


__all__ = [
    "arrow_schema",
    "arrow_type",
    "concat_records",
    "conform",
    "empty_table",
    "log_format_of",
    "null_counts",
    "record_table",
]
