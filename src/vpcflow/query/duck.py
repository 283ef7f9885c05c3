"""DuckDB over delivered flow logs: one ``vpc_flow_logs`` view across text and Parquet files and
Arrow tables (CloudWatch Logs, remote S3), with AWS's Athena column names and types (spec 8.1).

Files of different formats are grouped by their header line (text) or schema (Parquet); each group is
read natively by DuckDB (``read_csv`` with ``-`` as NULL, ``read_parquet``) and the groups are joined
``UNION ALL BY NAME``, so a column a format lacks is NULL. Two columns follow the AWS ones: ``date``
(the UTC day of ``start``, Athena's partition column) and ``flow_log_id`` (from the S3 file name, or
given with an Arrow table): both are documented vpcflow additions.
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from vpcflow.core.errors import ConfigError, ReadError
from vpcflow.model.fields import FIELDS, VPC_FIELDS, to_column, to_field_name

_DUCK_TYPE = {"int": "INTEGER", "bigint": "BIGINT", "string": "VARCHAR"}
_FLOW_LOG_ID = re.compile(r"_vpcflowlogs_[a-z0-9-]+_(fl-[0-9a-f]+)_\d{8}T\d{4}Z_")

VIEW = "vpc_flow_logs"
#: vpcflow's side channel: which rule decided each REJECT record (never inside the AWS records).
DECISIONS_VIEW = "vpc_flow_log_rejections"
_DECISION_COLUMNS = {
    "interface_id": "VARCHAR", "flow_direction": "VARCHAR", "srcaddr": "VARCHAR", "dstaddr": "VARCHAR",
    "srcport": "INTEGER", "dstport": "INTEGER", "protocol": "INTEGER", "start": "BIGINT", "end": "BIGINT",
    "packets": "BIGINT", "rule": "VARCHAR",
}


def duck_type(field_name: str) -> str:
    """The DuckDB type of a field: Athena's type (spec 8.1) mapped to DuckDB."""
    return _DUCK_TYPE[FIELDS[field_name].athena_type]


def flow_log_id_of(path: str | Path) -> str | None:
    """``fl-...`` from an S3 file name as AWS names it (spec 4), else None."""
    m = _FLOW_LOG_ID.search(Path(path).name)
    return m.group(1) if m else None


def text_header(path: Path) -> tuple[str, ...]:
    """The field names of a text log file's header line (spec 1.7)."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            line = fh.readline().rstrip("\n")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise ReadError(f"cannot read the header line ({e})", source=str(path), line_number=1, raw="") from e
    names = tuple(line.split(" ")) if line else ()
    unknown = [n for n in names if n not in FIELDS]
    if not names or unknown:
        raise ReadError(
            "first line is not a flow-log header (unknown field names: " + ", ".join(unknown[:3]) + ")",
            source=str(path),
            line_number=1,
            raw=line[:200],
        )
    return names


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_sql_str(i) for i in items) + "]"


class FlowLogDatabase:
    """An in-memory DuckDB database with the ``vpc_flow_logs`` view over added sources."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:")
        self._parts: list[str] = []
        self._columns: set[str] = set()
        self._n_arrow = 0
        self.files = 0
        self.formats: list[tuple[str, ...]] = []
        self.has_decisions = False  # the distinct formats (hyphenated names) of the sources

    # -- sources ---------------------------------------------------------------------------------
    def add_files(self, paths: Sequence[Path]) -> None:
        """Text (``.log``, ``.log.gz``, with header) and Parquet (``.parquet``) files."""
        text: dict[tuple[str, ...], list[Path]] = defaultdict(list)
        parquet: dict[tuple[str, ...], list[Path]] = defaultdict(list)
        for p in paths:
            if p.name.endswith(".parquet"):
                try:
                    names = tuple(to_field_name(c) for c in pq.read_schema(p).names)
                except (OSError, pa.ArrowInvalid) as e:
                    raise ReadError(f"not a Parquet file ({e})", source=str(p), line_number=0, raw="") from e
                parquet[names].append(p)
            elif p.name.endswith((".log", ".log.gz")):
                text[text_header(p)].append(p)
            else:
                raise ConfigError(f"{p}: not a flow-log file (expected .log, .log.gz or .parquet)")
        for names, files in text.items():
            self._add_text_group(names, files)
        for names, files in parquet.items():
            self._add_parquet_group(names, files)
        self.files += len(paths)

    def _id_expr(self) -> str:
        return "regexp_extract(filename, '_vpcflowlogs_[a-z0-9-]+_(fl-[0-9a-f]+)_', 1)"

    def _add_text_group(self, names: tuple[str, ...], files: list[Path]) -> None:
        cols = "{" + ", ".join(f"{_sql_str(to_column(n))}: {_sql_str(duck_type(n))}" for n in names) + "}"
        src = (
            f"read_csv({_sql_list(str(f) for f in files)}, delim=' ', header=true, nullstr='-', quote='', "
            f"escape='', auto_detect=false, columns={cols}, filename=true)"
        )
        self._add_select(names, src)

    def _add_parquet_group(self, names: tuple[str, ...], files: list[Path]) -> None:
        src = f"read_parquet({_sql_list(str(f) for f in files)}, filename=true)"
        self._add_select(names, src, cast=True)

    def _add_select(self, names: tuple[str, ...], src: str, *, cast: bool = False) -> None:
        exprs = [
            f'CAST("{to_column(n)}" AS {duck_type(n)}) AS "{to_column(n)}"' if cast else f'"{to_column(n)}"'
            for n in names
        ]
        exprs.append(f"NULLIF({self._id_expr()}, '') AS flow_log_id")
        self._parts.append(f"SELECT {', '.join(exprs)} FROM {src}")
        self._note_format(names)

    def _note_format(self, names: tuple[str, ...] | list[str]) -> None:
        self._columns.update(to_column(n) for n in names)
        if tuple(names) not in self.formats:
            self.formats.append(tuple(names))

    def record_columns(self) -> list[str]:
        """The columns a record line shows: the one format's, or with mixed formats their union in catalogue order."""
        if len(self.formats) == 1:
            return [to_column(n) for n in self.formats[0]]
        return [f.column for f in VPC_FIELDS if f.column in self._columns] or [
            f.column for f in VPC_FIELDS if f.version == 2
        ]

    def add_arrow(self, table: pa.Table, *, flow_log_id: str | None = None) -> None:
        """A record table (underscored columns), e.g. read back from CloudWatch Logs."""
        name = f"arrow_part_{self._n_arrow}"
        self._n_arrow += 1
        self.con.register(name, table)
        names = [to_field_name(c) for c in table.column_names]
        exprs = [f'CAST("{to_column(n)}" AS {duck_type(n)}) AS "{to_column(n)}"' for n in names]
        fid = _sql_str(flow_log_id) if flow_log_id else "NULL"
        exprs.append(f"CAST({fid} AS VARCHAR) AS flow_log_id")
        self._parts.append(f"SELECT {', '.join(exprs)} FROM {name}")
        self._note_format(names)

    def add_decisions(self, paths: Sequence[Path]) -> None:
        """The pipeline's side-channel files (``<flow-log-id>.rejects.jsonl``) as ``vpc_flow_log_rejections``."""
        cols = "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in _DECISION_COLUMNS.items()) + "}"
        if paths:
            src = (f"read_json({_sql_list(str(p) for p in paths)}, columns={cols}, format='newline_delimited', "
                   "filename=true)")
            select = ", ".join(f'"{c}"' for c in _DECISION_COLUMNS)
            fid = "regexp_extract(filename, '(fl-[0-9a-f]+)\\.rejects\\.jsonl$', 1)"
            sql = f"SELECT {select}, {fid} AS flow_log_id FROM {src}"
        else:
            sql = "SELECT " + ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in _DECISION_COLUMNS.items()) + (
                ", CAST(NULL AS VARCHAR) AS flow_log_id WHERE false")
        try:
            self.con.execute(f"CREATE OR REPLACE VIEW {DECISIONS_VIEW} AS {sql}")
        except duckdb.Error as e:
            raise ReadError(f"cannot read the side channel ({e})", source=str(paths[0]) if paths else "-",
                            line_number=0, raw="") from e
        self.has_decisions = bool(paths)

    # -- the view --------------------------------------------------------------------------------
    def create_view(self) -> list[str]:
        """(Re)create ``vpc_flow_logs``; returns its columns. With no source, an empty view of v2 columns."""
        present = self._columns or {f.column for f in VPC_FIELDS if f.version == 2}
        ordered = [f.column for f in VPC_FIELDS if f.column in present]
        if self._parts:
            union = " UNION ALL BY NAME ".join(f"({p})" for p in self._parts)
        else:
            union = "SELECT " + ", ".join(
                f"CAST(NULL AS {duck_type(to_field_name(c))}) AS \"{c}\"" for c in ordered
            ) + ", CAST(NULL AS VARCHAR) AS flow_log_id WHERE false"
        select = ", ".join(f'"{c}"' for c in ordered)
        day = "CAST(to_timestamp(start) AT TIME ZONE 'UTC' AS DATE)" if "start" in present else "CAST(NULL AS DATE)"
        self.con.execute(
            f'CREATE OR REPLACE VIEW {VIEW} AS SELECT {select}, {day} AS "date", flow_log_id FROM ({union})'
        )
        return [*ordered, "date", "flow_log_id"]

    def query(self, sql: str) -> pa.Table:
        """Run SQL; errors become ConfigError naming DuckDB's message."""
        try:
            rel = self.con.sql(sql)
            if rel is None:  # a statement without a result (SET, CREATE ...)
                return pa.table({})
            return _integral_decimals_to_int64(rel.to_arrow_table())
        except duckdb.Error as e:
            raise ConfigError(f"query failed: {e}") from e

    def columns(self) -> list[tuple[str, str]]:
        rows = self.con.execute(f"DESCRIBE {VIEW}").fetchall()
        return [(r[0], r[1]) for r in rows]


def _integral_decimals_to_int64(table: pa.Table) -> pa.Table:
    """DuckDB's SUM over BIGINT is HUGEINT (Arrow decimal128(38, 0)); counts of packets and bytes fit int64."""
    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type) and f.type.scale == 0:
            table = table.set_column(i, f.name, table.column(i).cast(pa.int64()))
    return table


def find_log_files(root: Path) -> list[Path]:
    """Every delivered flow-log file under a folder (a data directory's ``s3/`` or any tree), sorted."""
    if root.is_file():
        return [root]
    out = [
        p
        for p in root.rglob("*")
        if p.is_file() and p.name.endswith((".log.gz", ".log.parquet", ".parquet", ".log"))
    ]
    return sorted(out)
