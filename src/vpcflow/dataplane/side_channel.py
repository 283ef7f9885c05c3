"""The REJECT side channel: ``<folder>/<flow-log-id>.rejects.jsonl``, one JSON object per REJECT record
(interface, 5-tuple, start/end, packets and the rule that decided). Never inside the AWS records.

Lines are rendered by column (Arrow kernels), not row by row: a run with many REJECT records spent as
much time in per-row ``json.dumps`` as in gzip. Each line is still exactly ``json.dumps(row,
separators=(",", ":"))``: strings are encoded by ``json.dumps`` itself, once per distinct value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_NULL = "null"
#: What ``json.dumps`` (ASCII output) does not copy verbatim: controls, quote, backslash, non-ASCII.
_NEEDS_ESCAPE = '[^ !#-\\[\\]-~]'


def _json_values(col: pa.Array) -> pa.Array:
    """The JSON text of every value of ``col`` (``null`` for nulls) as a string array."""
    if pa.types.is_integer(col.type):
        return pc.fill_null(pc.cast(col, pa.string()), _NULL)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        if not pc.any(pc.match_substring_regex(col, _NEEDS_ESCAPE)).as_py():
            # printable ASCII without quote or backslash (addresses, ids): json.dumps adds quotes only
            return pc.fill_null(pc.binary_join_element_wise('"', col, '"', ""), _NULL)
        enc = pc.dictionary_encode(col)
        texts = pa.array([json.dumps(v) for v in enc.dictionary.to_pylist()], type=pa.string())
        return pc.fill_null(texts.take(enc.indices), _NULL)
    # anything else (never produced by aggregation today): per value, still exact
    return pa.array([json.dumps(v) for v in col.to_pylist()], type=pa.string())


def json_lines(table: pa.Table) -> list[str]:
    """Each row of ``table`` as ``json.dumps(row, separators=(",", ":")) + "\\n"``."""
    if table.num_rows == 0:
        return []
    parts: list[Any] = []
    for i, name in enumerate(table.column_names):
        parts.append(("{" if i == 0 else ",") + json.dumps(name) + ":")
        parts.append(_json_values(table.column(i).combine_chunks()))
    if not parts:
        return ["{}\n"] * table.num_rows
    parts.append("}\n")
    lines = pc.binary_join_element_wise(*parts, "")
    return [str(x) for x in lines.to_pylist()]


def write_rejects(path: Path, table: pa.Table, *, append: bool) -> None:
    """Write (or append) ``table``'s rows as JSON lines."""
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        f.writelines(json_lines(table))


class SideChannel:
    """Writes REJECT-rule rows to ``<folder>/<flow-log-id>.rejects.jsonl``.

    A run rewrites each flow log's file from its first row on (and appends after that), so a run
    repeated after a crash or on purpose leaves the rows of one run, never a second copy.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.paths: dict[str, Path] = {}

    def write(self, flow_log_id: str, rejects: pa.Table) -> None:
        if self.folder is None or rejects.num_rows == 0:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{flow_log_id}.rejects.jsonl"
        append = flow_log_id in self.paths
        self.paths[flow_log_id] = path
        write_rejects(path, rejects.drop_columns(["record_index"]), append=append)
