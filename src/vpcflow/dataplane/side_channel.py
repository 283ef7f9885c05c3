"""The REJECT side channel: ``<folder>/<flow-log-id>.rejects.jsonl``, one JSON object per REJECT record
(interface, 5-tuple, start/end, packets and the rule that decided). Never inside the AWS records.

Lines are written by the native core (native/src/render) straight from the table's columns, not row
by row: a run with many REJECT records spent as much time in per-row ``json.dumps`` as in gzip. Each
line is still exactly ``json.dumps(row, separators=(",", ":"))``: ASCII output, with Python's escapes
(``\\"``, ``\\\\``, ``\\n``, ``\\uXXXX`` for controls and non-ASCII, surrogate pairs above U+FFFF).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from vpcflow.codecs.native_columns import record_columns
from vpcflow.core.filewrite import write_all

#: Rows rendered at a time: the text of a slice is all a write holds (a run may reject a million flows).
#: 8,192 rows are about 2.5 MB of JSON: 65,536 held 54 MB (the slice and the renderer's buffer) at a
#: million-flow run's memory peak, for no gain in speed (writes go out in 1 MiB pieces anyway).
JSON_SLICE_ROWS = 1 << 13


def _native_kind(t: pa.DataType) -> bool:
    """Whether the native renderer reads a column of this type (integers, strings, dictionaries of those)."""
    if pa.types.is_dictionary(t):
        return _native_kind(t.value_type)
    return bool(pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t))


def json_chunks(table: pa.Table, slice_rows: int = JSON_SLICE_ROWS) -> Iterator[bytes]:
    """The JSON lines of ``table`` (each row ``json.dumps(row, separators=(",", ":")) + "\\n"``,
    keys in column order), ``slice_rows`` rows at a time, as UTF-8 (in fact ASCII) bytes."""
    if table.num_rows == 0:
        return
    if table.num_columns == 0:
        yield b"{}\n" * table.num_rows
        return
    cols: list[pa.Array | pa.ChunkedArray] = []
    raw: list[bool] = []
    for col in table.columns:
        if _native_kind(col.type):
            cols.append(col)
            raw.append(False)
        else:  # never produced by aggregation today: each value's JSON text from json.dumps itself
            cols.append(pa.array([json.dumps(v) for v in col.to_pylist()], type=pa.string()))
            raw.append(True)
    names = table.column_names
    prefixes = [(("{" if i == 0 else ",") + json.dumps(name) + ":").encode() for i, name in enumerate(names)]
    native = record_columns(pa.table(cols, names=[f"c{i}" for i in range(len(cols))]), names)
    for start in range(0, table.num_rows, slice_rows):
        yield native.json(prefixes, raw, start, min(start + slice_rows, table.num_rows))


def json_lines(table: pa.Table) -> list[str]:
    """Each row of ``table`` as ``json.dumps(row, separators=(",", ":")) + "\\n"``."""
    text = b"".join(json_chunks(table)).decode("ascii")
    return [line + "\n" for line in text.split("\n")[:-1]]


def write_rejects(path: Path, table: pa.Table, *, append: bool) -> None:
    """Write (or append) ``table``'s rows as JSON lines."""
    with open(path, "ab" if append else "wb") as f:
        for chunk in json_chunks(table):
            write_all(f, chunk)


class SideChannel:
    """Writes REJECT-rule rows to ``<folder>/<flow-log-id>.rejects.jsonl``.

    A run rewrites each flow log's file from its first row on (and appends after that), so a run
    repeated after a crash or on purpose leaves the rows of one run, never a second copy.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.paths: dict[str, Path] = {}

    def wants(self, rejects: pa.Table) -> bool:
        """Whether ``write`` would write anything of ``rejects`` (a folder is set, and it has rows)."""
        return self.folder is not None and rejects.num_rows > 0

    def write(self, flow_log_id: str, rejects: pa.Table) -> None:
        if not self.wants(rejects):
            return
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{flow_log_id}.rejects.jsonl"
        append = flow_log_id in self.paths
        self.paths[flow_log_id] = path
        write_rejects(path, rejects.drop_columns(["record_index"]), append=append)
