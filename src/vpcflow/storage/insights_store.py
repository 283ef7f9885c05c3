"""Insights queries and their results, kept in ``<data-dir>/insights.db`` (SQLite, WAL).

A query runs to completion inside StartQuery (docs/insights.md), and its record, with the results
already rendered as GetQueryResults returns them, is stored here so that ``get-query-results`` or
DescribeQueries in another process find it. Like AWS, results are kept 7 days (CWL quotas: "query
results are available for 7 days"); older queries are removed whenever a new one is stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vpcflow.core.errors import StateError

KEEP_MS = 7 * 86_400_000
DDL = """
CREATE TABLE IF NOT EXISTS queries (
    query_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, create_time INTEGER NOT NULL, query_string TEXT NOT NULL,
    log_groups TEXT NOT NULL, status TEXT NOT NULL, results TEXT NOT NULL, statistics TEXT NOT NULL,
    duration_ms INTEGER NOT NULL, bytes_scanned REAL NOT NULL);
CREATE INDEX IF NOT EXISTS queries_by_seq ON queries (seq);
"""


@dataclass(frozen=True)
class StoredQuery:
    query_id: str
    create_time: int  # ms
    query_string: str
    log_groups: tuple[str, ...]
    status: str
    results: list[list[dict[str, str]]]
    statistics: dict[str, float]
    duration_ms: int

    def info(self) -> dict[str, Any]:
        """DescribeQueries' ``QueryInfo``."""
        return {"queryLanguage": "CWLI", "queryId": self.query_id, "queryString": self.query_string,
                "status": self.status, "createTime": self.create_time, "logGroupName": self.log_groups[0],
                "queryDuration": self.duration_ms, "bytesScanned": self.statistics.get("bytesScanned", 0.0)}


class InsightsStore:
    """The queries of one data directory (safe for several processes)."""

    def __init__(self, path: str | Path, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._c = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
            self._c.execute("PRAGMA journal_mode=WAL")
            self._c.executescript(DDL)
        except sqlite3.DatabaseError as e:
            raise StateError(f"{self.path}: cannot open the Insights query store ({e})") from e

    def close(self) -> None:
        self._c.close()

    def __enter__(self) -> InsightsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self, q: StoredQuery) -> None:
        with self._lock:
            try:
                self._c.execute("BEGIN IMMEDIATE")
                self._c.execute("DELETE FROM queries WHERE create_time < ?", (q.create_time - KEEP_MS,))
                seq = self._c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM queries").fetchone()[0]
                self._c.execute(
                    "INSERT OR REPLACE INTO queries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (q.query_id, seq, q.create_time, q.query_string, json.dumps(list(q.log_groups)), q.status,
                     json.dumps(q.results, separators=(",", ":")), json.dumps(q.statistics), q.duration_ms,
                     q.statistics.get("bytesScanned", 0.0)),
                )
                self._c.execute("COMMIT")
            except sqlite3.OperationalError as e:
                if self._c.in_transaction:
                    self._c.execute("ROLLBACK")
                raise StateError(f"{self.path}: cannot store the query ({e})") from e

    @staticmethod
    def _row(r: tuple[Any, ...]) -> StoredQuery:
        return StoredQuery(r[0], int(r[2]), r[3], tuple(json.loads(r[4])), r[5], json.loads(r[6]), json.loads(r[7]),
                           int(r[8]))

    def get(self, query_id: str) -> StoredQuery | None:
        with self._lock:
            r = self._c.execute("SELECT * FROM queries WHERE query_id=?", (query_id,)).fetchone()
        return None if r is None else self._row(r)

    def newest_first(self, *, log_group: str | None, status: str | None, after_seq: int | None,
                     limit: int) -> tuple[list[StoredQuery], int | None]:
        """Queries, newest first, optionally of one log group and status; and the seq to continue from."""
        sql = "SELECT * FROM queries WHERE 1=1"
        args: list[Any] = []
        if status is not None:
            sql += " AND status=?"
            args.append(status)
        if after_seq is not None:
            sql += " AND seq<?"
            args.append(after_seq)
        with self._lock:
            rows = self._c.execute(sql + " ORDER BY seq DESC", args).fetchall()
        picked = [r for r in rows if log_group is None or log_group in json.loads(r[4])]
        page = picked[:limit]
        more = int(page[-1][1]) if len(picked) > limit else None
        return [self._row(r) for r in page], more
