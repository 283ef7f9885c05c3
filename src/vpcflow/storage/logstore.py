"""The embedded CloudWatch Logs store: ``<data-dir>/logs.db`` (SQLite, WAL).

Log groups (creation time, retention, ARN), streams (first/last event timestamps, last ingestion
time, stored bytes) and events (timestamp, message, ingestion time), with CloudWatch Logs'
operations, parameter names, result shapes and error codes/messages, so the CLI and the HTTP API
can hand results to users unchanged. Method names are boto3's (``describe_log_groups``...).

Filter patterns live above this layer (``query/filter_pattern.py``): :meth:`LogStore.filter_log_events`
takes a compiled matcher (a function from an Arrow array of messages to a boolean mask).

Delivery checkpoints (``checkpoints`` table) let the embedded CloudWatch sink record, in the same
transaction as the events, how far a stream's deterministic event sequence was delivered, so a
killed run that is started again neither loses nor doubles events.

Paging tokens (decided here; AWS's are opaque): ``f/<ts:020d><id:020d>/s`` and ``b/...`` name a
position in a stream's (timestamp, arrival) order. Reaching the end returns the same token again
with no events (AWS's termination signal).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.codecs import cloudwatch as cw
from vpcflow.core.api_errors import (
    InvalidParameterExceptionError,
    ResourceAlreadyExistsError,
)
from vpcflow.core.errors import StateError, StateLockedError
from vpcflow.storage.guard import rollback_quietly, storage_error
from vpcflow.storage.logstore_common import Matcher, bad_token, check_limit, group_missing, locked, stream_missing
from vpcflow.storage.logstore_read import LogReads

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
_GROUP_RE = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
SCHEMA_VERSION = 1

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log_groups (
    name TEXT PRIMARY KEY, creation_time INTEGER NOT NULL, retention_days INTEGER);
CREATE TABLE IF NOT EXISTS log_streams (
    id INTEGER PRIMARY KEY, group_name TEXT NOT NULL REFERENCES log_groups(name) ON DELETE CASCADE,
    name TEXT NOT NULL, creation_time INTEGER NOT NULL, first_event_ts INTEGER, last_event_ts INTEGER,
    last_ingestion_time INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (group_name, name));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    ingestion_time INTEGER NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_stream ON events (stream_id, ts, id);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT NOT NULL, group_name TEXT NOT NULL, stream_name TEXT NOT NULL, next_seq INTEGER NOT NULL,
    PRIMARY KEY (run_id, group_name, stream_name));
"""

# The matcher type is defined in logstore_common and re-exported here.
__all__ = ["LogStore", "Matcher"]


_LOGS_HINT = ("Restore logs.db from a backup, or move it away: the next run of each config re-delivers its "
              "CloudWatch events into a new log store")


def _refuse_emptied(path: Path) -> None:
    """A 0-byte logs.db beside a used state.db was truncated, not created: refuse to start it afresh."""
    state = path.with_name("state.db")
    if path.is_file() and path.stat().st_size == 0 and state.is_file() and state.stat().st_size > 0:
        raise StateError(f"{path} is empty (0 bytes) beside the data directory's state.db: its events are gone. "
                         + _LOGS_HINT)


class LogStore(LogReads):
    """One SQLite file of log groups, streams and events; safe for several processes (WAL) and threads."""

    def __init__(
        self,
        path: str | Path,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        clock_ms: Callable[[], int] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self.account_id = account_id
        self.region = region
        self._clock = clock_ms or (lambda: int(time.time() * 1000))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _refuse_emptied(self.path)
        try:
            self._c = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
            self._c.execute("PRAGMA journal_mode=WAL")
            self._c.execute("PRAGMA synchronous=NORMAL")
            self._c.execute("PRAGMA foreign_keys=ON")
            with self._txn():
                for statement in DDL.split(";"):
                    if statement.strip():
                        self._c.execute(statement)
                row = self._c.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    self._c.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise StateError(f"{self.path}: log store schema {row[0]} is from a newer vpcflow")
        except (sqlite3.Error, UnicodeDecodeError) as e:
            raise storage_error(self.path, e, _LOGS_HINT) from e
        self.enforce_retention()

    def close(self) -> None:
        self._c.close()

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _txn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._c.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if "locked" in str(e) or "busy" in str(e):
                    raise StateLockedError(f"{self.path}: the log store is locked by another process ({e})") from e
                raise storage_error(self.path, e, _LOGS_HINT) from e
            try:
                yield self._c
                self._c.execute("COMMIT")
            except (sqlite3.Error, UnicodeDecodeError) as e:
                # A damaged or full database stops the run: never carry on as if the events were stored.
                rollback_quietly(self._c)
                raise storage_error(self.path, e, _LOGS_HINT) from e
            except BaseException:
                rollback_quietly(self._c)
                raise

    def now_ms(self) -> int:
        return self._clock()

    # -- ARNs ------------------------------------------------------------------------------------
    def group_arn(self, name: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}"

    def stream_arn(self, group: str, stream: str) -> str:
        return f"{self.group_arn(group)}:log-stream:{stream}"

    # -- log groups ------------------------------------------------------------------------------
    def create_log_group(self, logGroupName: str, **_: Any) -> dict[str, Any]:
        if not _GROUP_RE.match(logGroupName):
            raise InvalidParameterExceptionError(
                f"1 validation error detected: Value '{logGroupName}' at 'logGroupName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
            )
        with self._txn() as c:
            if c.execute("SELECT 1 FROM log_groups WHERE name=?", (logGroupName,)).fetchone():
                raise ResourceAlreadyExistsError("The specified log group already exists")
            c.execute("INSERT INTO log_groups VALUES (?, ?, NULL)", (logGroupName, self.now_ms()))
        return {}

    @locked
    def log_group_exists(self, name: str) -> bool:
        return self._c.execute("SELECT 1 FROM log_groups WHERE name=?", (name,)).fetchone() is not None

    def delete_log_group(self, logGroupName: str) -> dict[str, Any]:
        with self._txn() as c:
            if not c.execute("SELECT 1 FROM log_groups WHERE name=?", (logGroupName,)).fetchone():
                raise group_missing()
            c.execute("DELETE FROM events WHERE stream_id IN (SELECT id FROM log_streams WHERE group_name=?)",
                      (logGroupName,))
            c.execute("DELETE FROM log_streams WHERE group_name=?", (logGroupName,))
            c.execute("DELETE FROM checkpoints WHERE group_name=?", (logGroupName,))
            c.execute("DELETE FROM log_groups WHERE name=?", (logGroupName,))
        return {}

    def put_retention_policy(self, logGroupName: str, retentionInDays: int) -> dict[str, Any]:
        if retentionInDays not in RETENTION_DAYS:
            raise InvalidParameterExceptionError(
                f"1 validation error detected: Value '{retentionInDays}' at 'retentionInDays' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]"
            )
        with self._txn() as c:
            if c.execute("UPDATE log_groups SET retention_days=? WHERE name=?", (retentionInDays, logGroupName)
                         ).rowcount == 0:
                raise group_missing()
        self.enforce_retention()
        return {}

    def delete_retention_policy(self, logGroupName: str) -> dict[str, Any]:
        with self._txn() as c:
            if c.execute("UPDATE log_groups SET retention_days=NULL WHERE name=?", (logGroupName,)).rowcount == 0:
                raise group_missing()
        return {}

    @locked
    def enforce_retention(self) -> int:
        """Delete events older than their group's retention; returns how many were deleted."""
        now = self.now_ms()
        deleted = 0
        q = "SELECT name, retention_days FROM log_groups WHERE retention_days IS NOT NULL"
        rows = self._c.execute(q).fetchall()
        for name, days in rows:
            cutoff = now - int(days) * 86_400_000
            with self._txn() as c:
                ids = [r[0] for r in c.execute("SELECT id FROM log_streams WHERE group_name=?", (name,))]
                for sid in ids:
                    n = c.execute("DELETE FROM events WHERE stream_id=? AND ts < ?", (sid, cutoff)).rowcount
                    if n:
                        deleted += n
                        self._refresh_stream(c, sid)
        return deleted

    @staticmethod
    def _refresh_stream(c: sqlite3.Connection, sid: int) -> None:
        c.execute(
            "UPDATE log_streams SET first_event_ts=(SELECT MIN(ts) FROM events WHERE stream_id=?),"
            " last_event_ts=(SELECT MAX(ts) FROM events WHERE stream_id=?),"
            " stored_bytes=(SELECT COALESCE(SUM(LENGTH(CAST(message AS BLOB))), 0) FROM events WHERE stream_id=?)"
            " WHERE id=?",
            (sid, sid, sid, sid),
        )

    @locked
    def describe_log_groups(
        self,
        logGroupNamePrefix: str | None = None,
        limit: int | None = None,
        nextToken: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        check_limit(limit, 50)
        n = limit or 50
        after = ""
        if nextToken is not None:
            if not nextToken.startswith("g/"):
                raise bad_token()
            after = nextToken[2:]
        rows = self._c.execute(
            "SELECT g.name, g.creation_time, g.retention_days,"
            " (SELECT COALESCE(SUM(s.stored_bytes), 0) FROM log_streams s WHERE s.group_name=g.name)"
            " FROM log_groups g WHERE g.name > ? AND substr(g.name, 1, ?) = ? ORDER BY g.name LIMIT ?",
            (after, len(logGroupNamePrefix or ""), logGroupNamePrefix or "", n + 1),
        ).fetchall()
        groups = []
        for name, created, retention, stored in rows[:n]:
            g: dict[str, Any] = {"logGroupName": name, "creationTime": created}
            if retention is not None:
                g["retentionInDays"] = retention
            g.update({"metricFilterCount": 0, "arn": self.group_arn(name) + ":*", "storedBytes": stored,
                      "logGroupClass": "STANDARD", "logGroupArn": self.group_arn(name)})
            groups.append(g)
        out: dict[str, Any] = {"logGroups": groups}
        if len(rows) > n:
            out["nextToken"] = "g/" + rows[n - 1][0]
        return out

    # -- streams ---------------------------------------------------------------------------------
    @locked
    def _stream_id(self, group: str, stream: str) -> int:
        row = self._c.execute("SELECT id FROM log_streams WHERE group_name=? AND name=?", (group, stream)).fetchone()
        if row is None:
            if not self.log_group_exists(group):
                raise group_missing()
            raise stream_missing()
        return int(row[0])

    def create_log_stream(self, logGroupName: str, logStreamName: str) -> dict[str, Any]:
        if not logStreamName or len(logStreamName) > 512 or ":" in logStreamName or "*" in logStreamName:
            raise InvalidParameterExceptionError(
                f"1 validation error detected: Value '{logStreamName}' at 'logStreamName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [^:*]*"
            )
        with self._txn() as c:
            if not c.execute("SELECT 1 FROM log_groups WHERE name=?", (logGroupName,)).fetchone():
                raise group_missing()
            if c.execute("SELECT 1 FROM log_streams WHERE group_name=? AND name=?", (logGroupName, logStreamName)
                         ).fetchone():
                raise ResourceAlreadyExistsError("The specified log stream already exists")
            c.execute("INSERT INTO log_streams (group_name, name, creation_time) VALUES (?, ?, ?)",
                      (logGroupName, logStreamName, self.now_ms()))
        return {}

    @locked
    def log_stream_exists(self, group: str, stream: str) -> bool:
        q = "SELECT 1 FROM log_streams WHERE group_name=? AND name=?"
        return self._c.execute(q, (group, stream)).fetchone() is not None

    @locked
    def describe_log_streams(
        self,
        logGroupName: str,
        logStreamNamePrefix: str | None = None,
        orderBy: str = "LogStreamName",
        descending: bool = False,
        limit: int | None = None,
        nextToken: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        if orderBy not in ("LogStreamName", "LastEventTime"):
            raise InvalidParameterExceptionError(
                f"1 validation error detected: Value '{orderBy}' at 'orderBy' failed to satisfy constraint: "
                "Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )
        if orderBy == "LastEventTime" and logStreamNamePrefix:
            raise InvalidParameterExceptionError("Cannot order by LastEventTime with a logStreamNamePrefix.")
        check_limit(limit, 50)
        if not self.log_group_exists(logGroupName):
            raise group_missing()
        offset = 0
        if nextToken is not None:
            if not re.fullmatch(r"s/\d+", nextToken):
                raise bad_token()
            offset = int(nextToken[2:])
        n = limit or 50
        direction = "DESC" if descending else "ASC"
        order = f"name {direction}" if orderBy == "LogStreamName" else \
            f"COALESCE(last_event_ts, -1) {direction}, name {direction}"
        prefix = logStreamNamePrefix or ""
        rows = self._c.execute(
            "SELECT name, creation_time, first_event_ts, last_event_ts, last_ingestion_time, stored_bytes, seq"
            f" FROM log_streams WHERE group_name=? AND substr(name, 1, ?)=? ORDER BY {order} LIMIT ? OFFSET ?",
            (logGroupName, len(prefix), prefix, n + 1, offset),
        ).fetchall()
        streams = []
        for name, created, first, last, ingested, stored, seq in rows[:n]:
            s: dict[str, Any] = {"logStreamName": name, "creationTime": created}
            if first is not None:
                s.update({"firstEventTimestamp": first, "lastEventTimestamp": last, "lastIngestionTime": ingested})
            s.update({"uploadSequenceToken": f"{seq:056d}", "arn": self.stream_arn(logGroupName, name),
                      "storedBytes": stored})
            streams.append(s)
        out: dict[str, Any] = {"logStreams": streams}
        if len(rows) > n:
            out["nextToken"] = f"s/{offset + n}"
        return out

    # -- writing ---------------------------------------------------------------------------------
    def put_log_events(
        self,
        logGroupName: str,
        logStreamName: str,
        logEvents: Sequence[dict[str, Any]],
        sequenceToken: str | None = None,  # ignored, as AWS now does
        **_: Any,
    ) -> dict[str, Any]:
        """PutLogEvents with AWS's validation (limits, order, 24 h span, rejected events)."""
        ts = np.asarray([int(e["timestamp"]) for e in logEvents], dtype=np.int64)
        msgs = pa.array([str(e["message"]) for e in logEvents], pa.string())
        return self.put_events(logGroupName, logStreamName, ts, msgs)

    def put_events(
        self,
        group: str,
        stream: str,
        timestamps_ms: npt.NDArray[np.int64],
        messages: pa.Array,
        *,
        enforce_age: bool = True,
        checkpoint: tuple[str, int] | None = None,
        first_seq: int | None = None,
    ) -> dict[str, Any]:
        """One PutLogEvents call from columns (the sinks' fast path), in one transaction.

        ``checkpoint=(run_id, next_seq)`` records, atomically with the events, that the delivering
        run's sequence of events for this stream is delivered up to ``next_seq``. With ``first_seq``
        (the sequence number of the first event) the events the checkpoint already covers are dropped
        inside the transaction: two deliveries of the same run racing on a stream (a Dask task run
        twice, docs/bulk.md) store each event once.
        ``enforce_age=False`` skips the 14-day/retention age rules: vpcflow replays old captures,
        whose records AWS would have delivered minutes after they happened (docs/delivery.md).
        """
        sizes = cw.event_sizes(messages)
        problem = cw.validate_batch(timestamps_ms, sizes)
        if problem is not None:
            raise InvalidParameterExceptionError(problem)
        now = self.now_ms()
        with self._txn() as c:
            sid, seq, retention = _stream_row(c, group, stream)
            if checkpoint is not None and first_seq is not None:
                drop = _already_delivered(c, checkpoint[0], group, stream, first_seq, len(timestamps_ms))
                if drop:
                    timestamps_ms, messages = timestamps_ms[drop:], messages.slice(drop)
            info = cw.classify_rejected(timestamps_ms, now, retention, enforce_age=enforce_age)
            keep = info.accepted_mask(len(timestamps_ms))
            ts_keep = timestamps_ms[keep] if not keep.all() else timestamps_ms
            msg_keep = messages.filter(pa.array(keep)) if not keep.all() else messages
            if len(ts_keep):
                _insert_events(c, sid, ts_keep, msg_keep, now)
            if checkpoint is not None:
                _advance_checkpoint(c, checkpoint, group, stream)
        out: dict[str, Any] = {"nextSequenceToken": f"{seq + 1:056d}"}
        rejected = info.as_dict()
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        return out

    @locked
    def checkpoint(self, run_id: str, group: str, stream: str) -> int:
        """How many events of ``run_id``'s sequence for this stream were delivered (0 if none)."""
        row = self._c.execute(
            "SELECT next_seq FROM checkpoints WHERE run_id=? AND group_name=? AND stream_name=?",
            (run_id, group, stream),
        ).fetchone()
        return 0 if row is None else int(row[0])

    @locked
    def stream_names(self, group: str) -> list[str]:
        if not self.log_group_exists(group):
            raise group_missing()
        return [str(r[0]) for r in self._c.execute("SELECT name FROM log_streams WHERE group_name=? ORDER BY name",
                                                   (group,))]


def _stream_row(c: sqlite3.Connection, group: str, stream: str) -> tuple[int, int, int | None]:
    """(stream id, sequence, the group's retention in days) of an existing stream, else AWS's not-found error."""
    row = c.execute("SELECT s.id, s.seq, g.retention_days FROM log_streams s JOIN log_groups g"
                    " ON g.name = s.group_name WHERE s.group_name=? AND s.name=?", (group, stream)).fetchone()
    if row is None:
        if not c.execute("SELECT 1 FROM log_groups WHERE name=?", (group,)).fetchone():
            raise group_missing()
        raise stream_missing()
    return int(row[0]), int(row[1]), row[2]


def _already_delivered(c: sqlite3.Connection, run_id: str, group: str, stream: str, first_seq: int, count: int) -> int:
    """How many of ``count`` events starting at sequence ``first_seq`` the run's checkpoint already covers."""
    done = c.execute("SELECT next_seq FROM checkpoints WHERE run_id=? AND group_name=? AND stream_name=?",
                     (run_id, group, stream)).fetchone()
    return min(count, max(0, (int(done[0]) if done else 0) - first_seq))


def _insert_events(c: sqlite3.Connection, sid: int, ts: npt.NDArray[np.int64], messages: pa.Array, now: int) -> None:
    """Store the accepted events and move the stream's first/last times, stored bytes and sequence."""
    c.executemany(
        "INSERT INTO events (stream_id, ts, ingestion_time, message) VALUES (?, ?, ?, ?)",
        zip([sid] * len(ts), ts.tolist(), [now] * len(ts), messages.to_pylist(), strict=True),
    )
    stored = int(pc.sum(pc.binary_length(messages)).as_py() or 0)
    c.execute(
        "UPDATE log_streams SET first_event_ts=MIN(COALESCE(first_event_ts, ?), ?),"
        " last_event_ts=MAX(COALESCE(last_event_ts, ?), ?), last_ingestion_time=?,"
        " stored_bytes=stored_bytes+?, seq=seq+1 WHERE id=?",
        (int(ts[0]), int(ts.min()), int(ts[-1]), int(ts.max()), now, stored, sid),
    )


def _advance_checkpoint(c: sqlite3.Connection, checkpoint: tuple[str, int], group: str, stream: str) -> None:
    """Record that the run's events for this stream are delivered up to ``next_seq`` (never backwards)."""
    run_id, next_seq = checkpoint
    c.execute(
        "INSERT INTO checkpoints VALUES (?, ?, ?, ?) ON CONFLICT (run_id, group_name, stream_name)"
        " DO UPDATE SET next_seq=MAX(next_seq, excluded.next_seq)",
        (run_id, group, stream, next_seq),
    )
