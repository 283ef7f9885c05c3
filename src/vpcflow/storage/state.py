"""The control-plane state of a data directory: ``<data-dir>/state.db`` (SQLite, WAL).

Holds the loaded topology document, flow logs (every FlowLog field), tags, client tokens,
delivery status per flow log and bucket policies changed by auto-attach. Several processes may use
one data directory at once: writes run in ``BEGIN IMMEDIATE`` transactions (one writer at a time,
readers never blocked thanks to WAL) and wait up to ``timeout_s`` for a lock. A database that stays
locked, a corrupt file or a schema from a newer vpcflow raise :class:`StateError` with the path and
what to do: never silent loss, never a half-written change.

Public API used by other layers (delivery, pipeline): :meth:`StateStore.list_flow_logs`,
:meth:`StateStore.get_flow_log`, :meth:`StateStore.set_delivery_status`,
:meth:`StateStore.get_topology_document`, :meth:`StateStore.get_bucket_policy`.

Reads a long-lived process repeats (the endpoint answers DescribeFlowLogs from the same rows many
times a second) are kept by :meth:`StateStore.read_cached` until the database changes:
:meth:`StateStore.version` is SQLite's ``data_version`` (it moves with every commit of any OTHER
connection, in this process or another) paired with this connection's ``total_changes`` (its own
writes) and the connection's number in the process (both counts start afresh on a new connection),
read in the same transaction as the data, so a kept value is never older than the file.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from vpcflow.core.errors import StateError, StateLockedError
from vpcflow.model.flowlog import FlowLog
from vpcflow.storage.guard import check_not_orphaned, rollback_quietly, storage_error
from vpcflow.storage.state_rows import FLOW_LOG_COLUMNS, StoredFlowLog, flow_log_to_row, row_to_stored
from vpcflow.storage.state_schema import DDL, SCHEMA_VERSION

__all__ = ["StateStore", "StateTxn", "StoredFlowLog", "StoredTopology"]

DeliveryStatus = Literal["SUCCESS", "FAILED"]
T = TypeVar("T")
#: What :meth:`StateStore.version` returns: (this connection's number in the process, SQLite's
#: data_version, the connection's total_changes). The first keeps versions of two connections apart:
#: a reopened connection counts the other two afresh.
Version = tuple[int, int, int]
_CONNECTIONS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class StoredTopology:
    """The topology document as loaded: re-parse with ``loads_topology(text, source=source, fmt=fmt)``."""

    text: str
    fmt: str
    source: str
    loaded_at: datetime


def _now() -> str:
    return datetime.now(UTC).isoformat()


class StateTxn:
    """Operations inside one transaction (see :meth:`StateStore.transaction`)."""

    def __init__(self, conn: sqlite3.Connection, number: int = 0) -> None:
        self._c = conn
        self._number = number

    def version(self) -> Version:
        """The state this transaction reads (see :meth:`StateStore.version`); inside a read transaction
        ``data_version`` is the snapshot's, so it names exactly the rows the transaction sees."""
        row = self._c.execute("PRAGMA data_version").fetchone()
        return self._number, int(row[0]), self._c.total_changes

    # -- settings ---------------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        row = self._c.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        self._c.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    # -- topology ---------------------------------------------------------------------------
    def put_topology(self, text: str, fmt: str, source: str) -> None:
        self._c.execute(
            "INSERT OR REPLACE INTO topology (id, text, fmt, source, loaded_at) VALUES (1, ?, ?, ?, ?)",
            (text, fmt, source, _now()),
        )

    def get_topology(self) -> StoredTopology | None:
        row = self._c.execute("SELECT text, fmt, source, loaded_at FROM topology WHERE id = 1").fetchone()
        if row is None:
            return None
        return StoredTopology(row[0], row[1], row[2], datetime.fromisoformat(row[3]))

    # -- flow logs --------------------------------------------------------------------------
    def insert_flow_log(
        self, flow_log: FlowLog, status: DeliveryStatus = "SUCCESS", message: str | None = None
    ) -> None:
        row = flow_log_to_row(flow_log)
        cols = [*FLOW_LOG_COLUMNS, "deliver_logs_status", "deliver_logs_error_message", "status_time"]
        values = [*row, status, message, _now()]
        self._c.execute(
            f"INSERT INTO flow_logs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            values,
        )

    def delete_flow_log(self, flow_log_id: str) -> bool:
        cur = self._c.execute("DELETE FROM flow_logs WHERE flow_log_id = ?", (flow_log_id,))
        self._c.execute("DELETE FROM tags WHERE resource_id = ?", (flow_log_id,))
        return cur.rowcount > 0

    def stored_flow_logs(self, ids: list[str] | None = None) -> list[StoredFlowLog]:
        """Flow logs in creation order, with delivery status and tags (``ids``: only these)."""
        cols = ", ".join([*FLOW_LOG_COLUMNS, "deliver_logs_status", "deliver_logs_error_message", "status_time"])
        if ids is None:
            rows = self._c.execute(f"SELECT seq, {cols} FROM flow_logs ORDER BY seq").fetchall()
        else:
            rows = []
            for chunk_start in range(0, len(ids), 500):  # stay under SQLite's variable limit
                chunk = ids[chunk_start : chunk_start + 500]
                marks = ", ".join("?" for _ in chunk)
                rows += self._c.execute(
                    f"SELECT seq, {cols} FROM flow_logs WHERE flow_log_id IN ({marks})", chunk
                ).fetchall()
            rows.sort(key=lambda r: r[0])
        tags = self.all_tags()
        return [row_to_stored(r, tags.get(r[1], ())) for r in rows]

    def set_delivery_status(self, flow_log_id: str, status: DeliveryStatus, message: str | None) -> bool:
        if status not in ("SUCCESS", "FAILED"):
            raise ValueError(f"delivery status must be SUCCESS or FAILED, not {status!r}")
        cur = self._c.execute(
            "UPDATE flow_logs SET deliver_logs_status = ?, deliver_logs_error_message = ?, status_time = ? "
            "WHERE flow_log_id = ?",
            (status, message if status == "FAILED" else None, _now(), flow_log_id),
        )
        return cur.rowcount > 0

    def flow_log_exists(self, flow_log_id: str) -> bool:
        return self._c.execute("SELECT 1 FROM flow_logs WHERE flow_log_id = ?", (flow_log_id,)).fetchone() is not None

    # -- tags -------------------------------------------------------------------------------
    def all_tags(self) -> dict[str, tuple[tuple[str, str], ...]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for rid, key, value in self._c.execute("SELECT resource_id, key, value FROM tags ORDER BY resource_id, key"):
            out.setdefault(rid, []).append((key, value))
        return {k: tuple(v) for k, v in out.items()}

    def tags_of(self, resource_id: str) -> tuple[tuple[str, str], ...]:
        rows = self._c.execute("SELECT key, value FROM tags WHERE resource_id = ? ORDER BY key", (resource_id,))
        return tuple((str(k), str(v)) for k, v in rows)

    def put_tag(self, resource_id: str, key: str, value: str) -> None:
        self._c.execute(
            "INSERT OR REPLACE INTO tags (resource_id, key, value) VALUES (?, ?, ?)", (resource_id, key, value)
        )

    def delete_tag(self, resource_id: str, key: str, value: str | None = None) -> None:
        """Delete a tag; with ``value`` only if it has that value (EC2 DeleteTags semantics)."""
        if value is None:
            self._c.execute("DELETE FROM tags WHERE resource_id = ? AND key = ?", (resource_id, key))
        else:
            self._c.execute(
                "DELETE FROM tags WHERE resource_id = ? AND key = ? AND value = ?", (resource_id, key, value)
            )

    # -- client tokens ----------------------------------------------------------------------
    def get_client_token(self, operation: str, token: str) -> tuple[str, str, dict[str, Any]] | None:
        """``(principal, fingerprint, first result)`` of an earlier request with this token."""
        row = self._c.execute(
            "SELECT principal, fingerprint, result FROM client_tokens WHERE operation = ? AND token = ?",
            (operation, token),
        ).fetchone()
        if row is None:
            return None
        return str(row[0]), str(row[1]), json.loads(row[2])

    def put_client_token(
        self, operation: str, token: str, principal: str, fingerprint: str, result: dict[str, Any]
    ) -> None:
        self._c.execute(
            "INSERT INTO client_tokens (token, operation, principal, fingerprint, result, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (token, operation, principal, fingerprint, json.dumps(result), _now()),
        )

    # -- bucket policies --------------------------------------------------------------------
    def get_bucket_policy(self, bucket: str) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """``(policy in force, the file's policy it was derived from)`` if auto-attach changed it."""
        row = self._c.execute("SELECT policy, base FROM bucket_policies WHERE bucket = ?", (bucket,)).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), (json.loads(row[1]) if row[1] is not None else None)

    def set_bucket_policy(self, bucket: str, policy: dict[str, Any], base: dict[str, Any] | None) -> None:
        self._c.execute(
            "INSERT OR REPLACE INTO bucket_policies (bucket, policy, base, updated_at) VALUES (?, ?, ?, ?)",
            (bucket, json.dumps(policy), json.dumps(base) if base is not None else None, _now()),
        )

    def delete_bucket_policy(self, bucket: str) -> None:
        self._c.execute("DELETE FROM bucket_policies WHERE bucket = ?", (bucket,))

    def bucket_policy_overrides(self) -> list[str]:
        return [str(r[0]) for r in self._c.execute("SELECT bucket FROM bucket_policies ORDER BY bucket")]


class StateStore:
    """``state.db`` of one data directory. Cheap to create; the connection opens on first use."""

    def __init__(self, path: str | Path, *, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._conn: sqlite3.Connection | None = None
        self._number = 0  # the open connection's number (Version)
        self._kept: dict[str, tuple[Version, Any]] = {}  # read_cached: name -> (version read at, value)

    # -- connection -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_not_orphaned(self.path)
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StateError(f"{self.path}: could not switch the database to WAL mode (got {mode!r})")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            # state.db is small (topology, flow logs): checking every page costs little and finds a
            # damaged file before any command trusts it.
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or str(check[0]) != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed (quick_check: {check!r})")
            self._init_schema(conn)
        except (sqlite3.Error, UnicodeDecodeError) as e:
            raise self._state_error(e) from e
        self._conn = conn
        self._number = next(_CONNECTIONS)
        return conn

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        # executescript() would commit implicitly; run the DDL statement by statement inside one transaction.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StateError(
                    f"{self.path}: schema version {row[0]} is newer than this vpcflow understands "
                    f"({SCHEMA_VERSION}); upgrade vpcflow or use another --data-dir"
                )
            conn.execute("COMMIT")
        except BaseException:
            rollback_quietly(conn)
            raise

    def _state_error(self, e: BaseException) -> StateError:
        text = str(e)
        if "locked" in text or "busy" in text:
            return StateLockedError(
                f"{self.path}: the database is locked by another process and stayed locked for "
                f"{self.timeout_s:g} s ({text}); retry when the other vpcflow command has finished"
            )
        return storage_error(self.path, e, "Restore it from a backup or move the data directory away to start "
                                           "a fresh account")

    @property
    def is_open(self) -> bool:
        """Whether the connection is open (opening it checks the schema in a write transaction, which may
        wait for another process's write)."""
        return self._conn is not None

    def close(self) -> None:
        # A new connection counts data_version and total_changes afresh: nothing kept may outlive this one.
        self._kept.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[StateTxn]:
        """One transaction: ``BEGIN IMMEDIATE`` for writes (one writer at a time), ``BEGIN`` for reads."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as e:
            raise self._state_error(e) from e
        try:
            yield StateTxn(conn, self._number)
        except (sqlite3.Error, UnicodeDecodeError) as e:
            rollback_quietly(conn)
            raise self._state_error(e) from e
        except BaseException:
            rollback_quietly(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            rollback_quietly(conn)
            raise self._state_error(e) from e

    # -- reads kept until the database changes ---------------------------------------------
    def read_cached(self, name: str, read: Callable[[StateTxn], T]) -> T:
        """``read(txn)``, kept under ``name`` and returned again until :meth:`version` moves. ``read`` must
        return an immutable value (callers share it) that depends on the database only."""
        kept = self._kept.get(name)
        # The kept value was read at its version's snapshot: the same latest version means no commit since.
        if kept is not None and kept[0] == self.version():
            value: T = kept[1]
            return value
        with self.transaction(write=False) as t:
            version = t.version()
            value = read(t)
        self._kept[name] = (version, value)
        return value

    def version(self) -> Version:
        """A value that differs after any change to state.db: a commit through another connection (this
        process or another; SQLite's ``data_version``) or a change through this one (``total_changes``).
        Outside a transaction (one statement): the version of the latest commit. Versions of different
        connections (a store closed and reopened, another store object) never compare equal."""
        conn = self._connect()
        try:
            row = conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as e:
            raise self._state_error(e) from e
        return self._number, int(row[0]), conn.total_changes

    # -- public API for other layers ------------------------------------------------------
    def list_flow_logs(self) -> list[FlowLog]:
        """Every flow log of the account, in creation order."""
        with self.transaction(write=False) as t:
            return [s.flow_log for s in t.stored_flow_logs()]

    def get_flow_log(self, flow_log_id: str) -> FlowLog | None:
        with self.transaction(write=False) as t:
            found = t.stored_flow_logs([flow_log_id])
        return found[0].flow_log if found else None

    def list_stored_flow_logs(self) -> list[StoredFlowLog]:
        """Flow logs with delivery status and tags."""
        with self.transaction(write=False) as t:
            return t.stored_flow_logs()

    def set_delivery_status(self, flow_log_id: str, status: DeliveryStatus, message: str | None) -> bool:
        """Record what delivery saw (``FAILED`` + ``Access error``/``Rate limited``/``Unknown error``).

        Returns False when the flow log no longer exists (deleted meanwhile): nothing to record.
        """
        with self.transaction() as t:
            return t.set_delivery_status(flow_log_id, status, message)

    def get_topology_document(self) -> StoredTopology | None:
        """The loaded topology document (kept until state.db changes: every API call asks for it)."""
        return self.read_cached("topology", StateTxn.get_topology)

    def get_bucket_policy(self, bucket: str) -> dict[str, Any] | None:
        """The bucket policy auto-attach put in force, or None (then the topology file's policy applies)."""
        with self.transaction(write=False) as t:
            found = t.get_bucket_policy(bucket)
        return found[0] if found else None

    def get_setting(self, key: str) -> str | None:
        with self.transaction(write=False) as t:
            return t.get_setting(key)
