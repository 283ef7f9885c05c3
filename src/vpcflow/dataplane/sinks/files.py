"""Plain files: a flow log's records as text or Parquet files under an output folder.

Not an AWS destination: the simple sink of ``vpcflow run --output DIR`` (and of a run whose flow
logs have no delivery wired yet). Layout, one folder per flow log:

- text: ``DIR/<flow-log-id>/records.log``: the S3 header line once (spec 1.7), then one record per
  line (spec 1.1), appended as windows close; a new run replaces an earlier run's files;
- parquet: ``DIR/<flow-log-id>/part-NNNNN.parquet``: one file per flush that had records (GZIP,
  AWS column names and types, via ``codecs.parquet``).

``write`` buffers; ``flush`` writes what was buffered (records reach the sink only for closed
windows, so everything buffered is final); ``close`` flushes. Files are written to a temporary
name and renamed (Parquet) or appended and fsynced on close (text) so a reader never sees half a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

from vpcflow.codecs.parquet import write_parquet
from vpcflow.codecs.text import header_line, render_text
from vpcflow.core.errors import DeliveryFailedError
from vpcflow.core.filewrite import write_all
from vpcflow.model.fields import to_column
from vpcflow.model.flowlog import FlowLog

FileKind = Literal["text", "parquet"]


@dataclass
class FilesSink:
    """Writes each flow log's records under ``root`` (see the module docstring)."""

    root: Path
    kind: FileKind = "text"
    _buffers: dict[str, list[pa.Table]] = field(default_factory=dict)
    _flow_logs: dict[str, FlowLog] = field(default_factory=dict)
    _parts: dict[str, int] = field(default_factory=dict)
    _started: set[str] = field(default_factory=set)
    records_written: int = 0
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if self.kind not in ("text", "parquet"):
            raise ValueError(f"kind must be 'text' or 'parquet', got {self.kind!r}")

    def path_for(self, flow_log_id: str) -> Path:
        """The text file of a flow log (text sinks) or its folder of part files (Parquet sinks)."""
        folder = self.root / flow_log_id
        return folder / "records.log" if self.kind == "text" else folder

    def write(self, flow_log: FlowLog, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._flow_logs[flow_log.flow_log_id] = flow_log
        # Keep exactly the format's columns: the pipeline may add steering columns (sinks/base.py).
        cols = [to_column(n) for n in flow_log.field_names]
        if table.column_names != cols:
            table = table.select(cols)
        self._buffers.setdefault(flow_log.flow_log_id, []).append(table)

    def flush(self, watermark_s: int | None = None) -> None:
        for fl_id, tables in self._buffers.items():
            if not tables:
                continue
            table = pa.concat_tables(tables)
            try:
                self._write(fl_id, table)
            except OSError as e:
                raise DeliveryFailedError(str(e), sink="files", destination=str(self.root / fl_id),
                                          aws_message="Unknown error") from e
            self.records_written += table.num_rows
            tables.clear()

    def _write(self, fl_id: str, table: pa.Table) -> None:
        folder = self.root / fl_id
        folder.mkdir(parents=True, exist_ok=True)
        first = fl_id not in self._started
        if first:
            # A run replaces what an earlier run wrote for this flow log (no appended duplicates).
            self._started.add(fl_id)
            for old in [*folder.glob("part-*.parquet"), folder / "records.log"]:
                old.unlink(missing_ok=True)
        if self.kind == "text":
            path = folder / "records.log"
            body = render_text(table, header=False)
            with open(path, "ab") as f:
                if first:
                    f.write((header_line(list(table.column_names)) + "\n").encode())
                    self.files.append(path)
                write_all(f, body)
            return
        n = self._parts.get(fl_id, 0)
        self._parts[fl_id] = n + 1
        path = folder / f"part-{n:05d}.parquet"
        tmp = folder / f".part-{n:05d}.parquet.tmp"
        write_parquet(table, tmp)
        os.replace(tmp, path)
        self.files.append(path)

    def close(self) -> None:
        self.flush(None)

    def abandon(self) -> None:
        """A run stopped early: drop what is buffered (only records of closed windows reach this sink,
        and the pipeline flushes after every write, so this is empty unless a write failed)."""
        self._buffers.clear()
