"""The delivery spool and checkpoints: what keeps records safe when a destination fails or we die.

Spool (``<data-dir>/spool/<flow-log-id>/``): after a terminal delivery failure the sink keeps the
payload it could not deliver (an S3 object's bytes and key, or a CloudWatch batch of events with
its place in the stream's sequence) as one file ``<item>.spool`` (header + payload, written
atomically and checksummed: whole or absent, never half). Items are re-delivered in item-id order
when the problem is fixed, then removed. A deleted item is re-derived by running the same run
again (same identity); a damaged one is an error naming it (docs/delivery.md "Spool").

Checkpoints (``<data-dir>/spool/checkpoints.db``) serve destinations outside the data directory
(CloudWatch Logs through boto3): how much of a run's event sequence per stream was delivered, and an
*intent* written before each PutLogEvents call so that a kill between the call and the checkpoint
can be reconciled against the destination on the next run. The embedded log store keeps its
checkpoints inside ``logs.db`` instead, in the same transaction as the events.
"""

from __future__ import annotations

import hashlib
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
from vpcflow.storage.guard import storage_error

_SAFE = re.compile(r"[^A-Za-z0-9._=-]")


def safe_name(text: str) -> str:
    """A file-name-safe form of an item id (``/`` and friends become ``_``)."""
    return _SAFE.sub("_", text)


@dataclass(frozen=True, slots=True)
class SpoolItem:
    flow_log_id: str
    item_id: str
    meta: dict[str, Any]
    data_path: Path  # the item's file (``.spool``; ``.data`` for a legacy two-file item)
    offset: int = 0  # where the payload starts in ``data_path``
    size: int | None = None  # payload bytes and SHA-256, checked on read (None: legacy item)
    sha256: str | None = None


ITEM_SUFFIX = ".spool"
_LEGACY_META = ".meta.json"


class Spool:
    """Undelivered payloads per flow log, in the data directory.

    An item is one file ``<item>.spool``: a JSON header line (metadata, payload size and SHA-256)
    then the payload, written atomically, so an item exists whole or not at all. Reading checks the
    size and hash: a damaged item is a :class:`StateError` naming the file, never silently skipped
    or delivered. (Items of older versions, ``<item>.data`` + ``<item>.meta.json``, are still read;
    a metadata file whose data file is gone is reported as damaged.)
    """

    def __init__(self, root: str | Path, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync

    def _dir(self, flow_log_id: str) -> Path:
        return self.root / safe_name(flow_log_id)

    def put(self, flow_log_id: str, item_id: str, payload: bytes, meta: dict[str, Any]) -> SpoolItem:
        d = self._dir(flow_log_id)
        path = d / f"{safe_name(item_id)}{ITEM_SUFFIX}"
        digest = hashlib.sha256(payload).hexdigest()
        header = json.dumps({"flow_log_id": flow_log_id, "item_id": item_id, "meta": meta, "size": len(payload),
                             "sha256": digest}, sort_keys=True).encode() + b"\n"
        atomic_write(path, header + payload, self.root / ".tmp", fsync=self.fsync)
        fault_point("spool.after_write")
        return SpoolItem(flow_log_id, item_id, {**meta}, path, len(header), len(payload), digest)

    def flow_log_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in sorted(self.root.iterdir())
                if p.is_dir() and not p.name.startswith(".") and self._has_files(p)]

    @staticmethod
    def _has_files(d: Path) -> bool:
        return any(d.glob(f"*{ITEM_SUFFIX}")) or any(d.glob(f"*{_LEGACY_META}"))

    def _damaged(self, path: Path, why: str) -> StateError:
        return StateError(f"spool item {path} is damaged ({why}); its records were not delivered. Move it away "
                          "and run the config that produced it again: the same run re-derives them")

    def _read_item(self, flow_log_id: str, path: Path) -> SpoolItem:
        try:
            with path.open("rb") as fh:
                line = fh.readline(1 << 20)
            head = json.loads(line)
            return SpoolItem(flow_log_id, str(head["item_id"]), dict(head["meta"]), path, len(line),
                             int(head["size"]), str(head["sha256"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise self._damaged(path, f"unreadable header: {e}") from e

    def _read_legacy(self, flow_log_id: str, meta_path: Path) -> SpoolItem:
        data_path = meta_path.with_name(meta_path.name.removesuffix(_LEGACY_META) + ".data")
        if not data_path.is_file():
            raise self._damaged(meta_path, f"its data file {data_path.name} is missing")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as e:
            raise self._damaged(meta_path, f"unreadable metadata: {e}") from e
        item_id = str(meta.pop("item_id"))
        meta.pop("flow_log_id", None)
        return SpoolItem(flow_log_id, item_id, meta, data_path)

    def items(self, flow_log_id: str) -> list[SpoolItem]:
        d = self._dir(flow_log_id)
        if not d.is_dir():
            return []
        out = [self._read_item(flow_log_id, p) for p in d.glob(f"*{ITEM_SUFFIX}")]
        # A legacy ``.data`` without its metadata is a write a kill interrupted: not an item.
        out += [self._read_legacy(flow_log_id, p) for p in d.glob(f"*{_LEGACY_META}")]
        out.sort(key=lambda i: i.item_id)
        return out

    def has_items(self, flow_log_id: str, kind: str | None = None) -> bool:
        """Whether the flow log has spooled items (of one sink ``kind`` when given)."""
        d = self._dir(flow_log_id)
        if not d.is_dir() or not self._has_files(d):
            return False
        return kind is None or any(i.meta.get("kind") == kind for i in self.items(flow_log_id))

    def payload(self, item: SpoolItem) -> bytes:
        try:
            raw = item.data_path.read_bytes()
        except OSError as e:
            raise self._damaged(item.data_path, f"cannot read it: {e.strerror or e}") from e
        data = raw[item.offset:]
        if item.size is not None and (len(data) != item.size or hashlib.sha256(data).hexdigest() != item.sha256):
            raise self._damaged(item.data_path, f"payload of {len(data)} bytes does not match its checksum")
        return data

    def remove(self, item: SpoolItem) -> None:
        if item.size is None:  # legacy: metadata first, without it the item no longer exists
            item.data_path.with_name(item.data_path.name.removesuffix(".data") + _LEGACY_META).unlink(missing_ok=True)
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
        except sqlite3.Error as e:
            raise storage_error(self.path, e) from e

    def close(self) -> None:
        with self._lock:
            self._c.close()

    def _query(self, sql: str, args: tuple[object, ...]) -> Any:
        try:
            with self._lock:
                return self._c.execute(sql, args).fetchone()
        except sqlite3.Error as e:
            raise storage_error(self.path, e) from e

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
            raise storage_error(self.path, e) from e

    def abandon(self, run_key: str, destination: str, stream: str) -> None:
        self._query("DELETE FROM intents WHERE run_key=? AND destination=? AND stream=?",
                    (run_key, destination, stream))
