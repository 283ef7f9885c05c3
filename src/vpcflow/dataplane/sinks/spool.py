"""The delivery spool and checkpoints: what keeps records safe when a destination fails or we die.

Spool (``<data-dir>/spool/<flow-log-id>/``): after a terminal delivery failure the sink keeps the
payload it could not deliver (an S3 object's bytes and key, or a CloudWatch batch of events with
its place in the stream's sequence) as ``<item>.data`` plus ``<item>.meta.json``. The metadata file
is written last (atomically) and marks the item complete, so a kill mid-write leaves an incomplete
item that is ignored and rewritten identically by the re-run. Items are re-delivered in item-id
order when the problem is fixed, then removed.

Checkpoints (``<data-dir>/spool/checkpoints.db``) serve destinations outside the data directory
(CloudWatch Logs through boto3): how much of a run's event sequence per stream was delivered, and an
*intent* written before each PutLogEvents call so that a kill between the call and the checkpoint
can be reconciled against the destination on the next run. The embedded log store keeps its
checkpoints inside ``logs.db`` instead, in the same transaction as the events.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.core.errors import StateError
from vpcflow.dataplane.sinks.faults import fault_point
from vpcflow.storage.bucketstore import atomic_write

_SAFE = re.compile(r"[^A-Za-z0-9._=-]")


def safe_name(text: str) -> str:
    """A file-name-safe form of an item id (``/`` and friends become ``_``)."""
    return _SAFE.sub("_", text)


@dataclass(frozen=True, slots=True)
class SpoolItem:
    flow_log_id: str
    item_id: str
    meta: dict[str, Any]
    data_path: Path


class Spool:
    """Undelivered payloads per flow log, in the data directory."""

    def __init__(self, root: str | Path, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync

    def _dir(self, flow_log_id: str) -> Path:
        return self.root / safe_name(flow_log_id)

    def put(self, flow_log_id: str, item_id: str, payload: bytes, meta: dict[str, Any]) -> SpoolItem:
        d = self._dir(flow_log_id)
        name = safe_name(item_id)
        tmp = self.root / ".tmp"
        atomic_write(d / f"{name}.data", payload, tmp, fsync=self.fsync)
        body = json.dumps({"flow_log_id": flow_log_id, "item_id": item_id, **meta}, sort_keys=True).encode()
        atomic_write(d / f"{name}.meta.json", body, tmp, fsync=self.fsync)
        fault_point("spool.after_write")
        return SpoolItem(flow_log_id, item_id, {**meta}, d / f"{name}.data")

    def flow_log_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        ids = []
        for p in sorted(self.root.iterdir()):
            if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.meta.json")):
                ids.append(p.name)
        return ids

    def items(self, flow_log_id: str) -> list[SpoolItem]:
        d = self._dir(flow_log_id)
        if not d.is_dir():
            return []
        out = []
        for meta_path in d.glob("*.meta.json"):
            data_path = meta_path.with_name(meta_path.name.removesuffix(".meta.json") + ".data")
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue  # torn metadata cannot happen with atomic writes; skip defensively
            if not data_path.is_file():
                continue
            item_id = str(meta.pop("item_id"))
            meta.pop("flow_log_id", None)
            out.append(SpoolItem(flow_log_id, item_id, meta, data_path))
        out.sort(key=lambda i: i.item_id)
        return out

    def has_items(self, flow_log_id: str, kind: str | None = None) -> bool:
        """Whether the flow log has spooled items (of one sink ``kind`` when given)."""
        d = self._dir(flow_log_id)
        if not d.is_dir() or not any(d.glob("*.meta.json")):
            return False
        return kind is None or any(i.meta.get("kind") == kind for i in self.items(flow_log_id))

    @staticmethod
    def payload(item: SpoolItem) -> bytes:
        return item.data_path.read_bytes()

    def remove(self, item: SpoolItem) -> None:
        # Metadata first: without it the item no longer exists, whatever happens next.
        item.data_path.with_name(item.data_path.name.removesuffix(".data") + ".meta.json").unlink(missing_ok=True)
        item.data_path.unlink(missing_ok=True)

    def count(self) -> int:
        return sum(len(self.items(f)) for f in self.flow_log_ids())


def encode_events(timestamps_ms: npt.NDArray[np.int64], messages: pa.Array) -> bytes:
    """CloudWatch events as an Arrow IPC stream (compact, exact, fast)."""
    table = pa.table({"timestamp": pa.array(timestamps_ms, pa.int64()), "message": messages.cast(pa.string())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode_events(data: bytes) -> tuple[npt.NDArray[np.int64], pa.Array]:
    table = pa.ipc.open_stream(pa.BufferReader(data)).read_all()
    ts = np.asarray(table.column("timestamp").to_numpy(), dtype=np.int64)
    return ts, table.column("message").combine_chunks()


@dataclass(frozen=True, slots=True)
class Intent:
    seq_from: int
    seq_to: int
    last_timestamp: int
    last_message: str


class CheckpointStore:
    """Per-stream delivered counts (and in-flight intents) for destinations outside the data dir.

    Opened by the runtime in the main thread and used by the pipeline's delivery thread: the
    connection is shared across threads (``check_same_thread=False``) and every statement runs under
    one lock, so a transaction is never interleaved with another thread's statements.
    """

    def __init__(self, path: str | Path, *, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._c = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
            self._c.execute("PRAGMA journal_mode=WAL")
            self._c.execute(
                "CREATE TABLE IF NOT EXISTS checkpoints (run_key TEXT, destination TEXT, stream TEXT,"
                " next_seq INTEGER NOT NULL, PRIMARY KEY (run_key, destination, stream))"
            )
            self._c.execute(
                "CREATE TABLE IF NOT EXISTS intents (run_key TEXT, destination TEXT, stream TEXT,"
                " seq_from INTEGER, seq_to INTEGER, last_ts INTEGER, last_message TEXT,"
                " PRIMARY KEY (run_key, destination, stream))"
            )
        except sqlite3.DatabaseError as e:
            raise StateError(f"{self.path}: cannot open the checkpoint database ({e})") from e

    def close(self) -> None:
        with self._lock:
            self._c.close()

    def _query(self, sql: str, args: tuple[object, ...]) -> Any:
        try:
            with self._lock:
                return self._c.execute(sql, args).fetchone()
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: checkpoint database error ({e}); the run stops here") from e

    def get(self, run_key: str, destination: str, stream: str) -> int:
        row = self._query("SELECT next_seq FROM checkpoints WHERE run_key=? AND destination=? AND stream=?",
                          (run_key, destination, stream))
        return 0 if row is None else int(row[0])

    def intent(self, run_key: str, destination: str, stream: str) -> Intent | None:
        row = self._query("SELECT seq_from, seq_to, last_ts, last_message FROM intents"
                          " WHERE run_key=? AND destination=? AND stream=?", (run_key, destination, stream))
        return None if row is None else Intent(int(row[0]), int(row[1]), int(row[2]), str(row[3]))

    def begin(self, run_key: str, destination: str, stream: str, intent: Intent) -> None:
        self._query("INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (run_key, destination, stream, intent.seq_from, intent.seq_to, intent.last_timestamp,
                     intent.last_message))

    def commit(self, run_key: str, destination: str, stream: str, next_seq: int) -> None:
        """Record delivery up to ``next_seq`` and drop the intent, atomically."""
        try:
            with self._lock:
                self._c.execute("BEGIN IMMEDIATE")
                try:
                    self._c.execute(
                        "INSERT INTO checkpoints VALUES (?, ?, ?, ?) ON CONFLICT (run_key, destination, stream)"
                        " DO UPDATE SET next_seq=MAX(next_seq, excluded.next_seq)",
                        (run_key, destination, stream, next_seq),
                    )
                    self._c.execute("DELETE FROM intents WHERE run_key=? AND destination=? AND stream=?",
                                    (run_key, destination, stream))
                except BaseException:
                    self._c.execute("ROLLBACK")
                    raise
                self._c.execute("COMMIT")
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: checkpoint database error ({e}); the run stops here") from e

    def abandon(self, run_key: str, destination: str, stream: str) -> None:
        self._query("DELETE FROM intents WHERE run_key=? AND destination=? AND stream=?",
                    (run_key, destination, stream))
