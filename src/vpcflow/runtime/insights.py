"""CloudWatch Logs Insights on a data directory: StartQuery / GetQueryResults / StopQuery /
DescribeQueries with boto3's parameter names and result shapes, and ``run_insights_query`` for Python.

The events of the named log groups in ``[startTime, endTime]`` (seconds, both inclusive as AWS
documents; the end second is included whole) come from the embedded log store as Arrow columns; the
discovered fields are read with the formats of the flow logs that deliver to each log group (the
default format when none does). A query runs to completion inside StartQuery: its status is then
``Complete`` and its results are stored in ``<data-dir>/insights.db``. Authorization is the caller's
(the CLI and the endpoint check ``logs:StartQuery`` on each log group before calling).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from vpcflow.core.api_errors import InvalidParameterExceptionError, ResourceNotFoundError
from vpcflow.model.logformat import LogFormat, parse_log_format
from vpcflow.query.insights_events import GroupEvents, constant, events_table
from vpcflow.query.insights_exec import InsightsResult, run_query
from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.insights_store import InsightsStore, StoredQuery
from vpcflow.storage.logstore import LogStore

MAX_PAGE = 10_000  # GetQueryResults returns at most 10,000 rows per call (botocore model)
STATUSES = ("Scheduled", "Running", "Complete", "Failed", "Cancelled", "Timeout", "Unknown")


def flow_log_formats(data_dir: DataDir, log_group: str) -> tuple[LogFormat, ...]:
    """Formats of the flow logs delivering to ``log_group``, oldest flow log first, then the default format
    (events of a deleted flow log, or of one delivering elsewhere now, are still read if they use it)."""
    formats: list[LogFormat] = []
    if data_dir.state_path.exists():
        with data_dir.state() as st:
            for s in st.list_stored_flow_logs():
                fl = s.flow_log
                if fl.log_destination_type == "cloud-watch-logs" and fl.log_group_name == log_group:
                    fmt = parse_log_format(fl.log_format)
                    if fmt not in formats:
                        formats.append(fmt)
    default = parse_log_format(None)
    return tuple(formats) + (() if default in formats else (default,))


def load_events(data_dir: DataDir, store: LogStore, log_groups: Sequence[str], start_s: int | None,
                end_s: int | None) -> pa.Table:
    """The events of ``log_groups`` with ``start_s*1000 <= timestamp <= end_s*1000 + 999``."""
    lo = None if start_s is None else start_s * 1000
    hi = None if end_s is None else end_s * 1000 + 999
    groups = []
    for group in log_groups:
        if not store.log_group_exists(group):
            raise ResourceNotFoundError(f"Log group '{group}' does not exist for account ID '{store.account_id}'")
        batches = []
        for stream in store.stream_names(group):
            for b in store.iter_event_columns(group, stream, start_ms=lo, end_ms=hi):
                batches.append(pa.Table.from_batches([b]).append_column("stream", constant(stream, b.num_rows)))
        if batches:
            table = pa.concat_tables(batches)
        else:
            table = pa.table({"timestamp": pa.array([], pa.int64()), "ingestion_time": pa.array([], pa.int64()),
                              "event_id": pa.array([], pa.int64()), "message": pa.array([], pa.large_string()),
                              "stream": pa.array([], pa.string())})
        groups.append(GroupEvents(group, store.account_id, table, flow_log_formats(data_dir, group)))
    return events_table(groups)


def _open_store(data_dir: DataDir) -> LogStore:
    account, region = data_dir.settings()
    data_dir.ensure()
    return LogStore(data_dir.logs_path, account_id=account, region=region)


def run_insights_query(data_dir: DataDir | str | os.PathLike[str] | None, log_groups: str | Sequence[str], query: str,
                       start: int | None = None, end: int | None = None, *, limit: int | None = None) -> pa.Table:
    """Run an Insights query on a data directory's log groups; the displayed fields as a typed Arrow table.

    ``start``/``end``: epoch seconds, inclusive (None: unbounded). Raises ``MalformedQueryError``
    (an ``ApiError``) for a malformed query and ``ResourceNotFoundError`` for a missing log group.
    """
    dd = DataDir.resolve(data_dir)
    groups = [log_groups] if isinstance(log_groups, str) else list(log_groups)
    with _open_store(dd) as store:
        events = load_events(dd, store, groups, start, end)
    return run_query(events, query, limit=limit).table


def _group_name(ident: str, store: LogStore) -> str:
    if not ident.startswith("arn:"):
        return ident
    parts = ident.removesuffix(":*").split(":", 6)
    if len(parts) != 7 or parts[2] != "logs" or parts[5] != "log-group":
        raise InvalidParameterExceptionError(f"Invalid log group ARN: {ident}")
    if parts[3] != store.region or parts[4] != store.account_id:
        raise ResourceNotFoundError(f"Log group '{ident}' does not exist for account ID '{store.account_id}'")
    return parts[6]


class InsightsService:
    """The four Insights operations on a data directory (boto3 parameter names, AWS result shapes)."""

    def __init__(self, data_dir: DataDir, store: LogStore, clock_ms: Any = None) -> None:
        self.data_dir = data_dir
        self.store = store
        self._clock = clock_ms or (lambda: int(time.time() * 1000))

    def _queries(self) -> InsightsStore:
        self.data_dir.ensure()
        return InsightsStore(self.data_dir.path / "insights.db")

    def log_groups(self, params: dict[str, Any]) -> list[str]:
        """The log group names of a StartQuery request (exactly one of the three members)."""
        given = [k for k in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if params.get(k)]
        if len(given) != 1:
            raise InvalidParameterExceptionError(
                "Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be specified")
        value = params[given[0]]
        names = [value] if isinstance(value, str) else list(value)
        if len(names) > 50:
            raise InvalidParameterExceptionError("A query can name up to 50 log groups")
        return [_group_name(str(n), self.store) for n in names]

    def start_query(self, **p: Any) -> dict[str, Any]:
        language = p.get("queryLanguage") or "CWLI"
        if language != "CWLI":
            raise InvalidParameterExceptionError(
                f"vpcflow runs Logs Insights QL (CWLI) queries only, not {language} (docs/insights.md)")
        groups = self.log_groups(p)
        start, end = int(p["startTime"]), int(p["endTime"])
        if end < start:
            raise InvalidParameterExceptionError("End time should not be before the start time")
        began = self._clock()
        events = load_events(self.data_dir, self.store, groups, start, end)
        result: InsightsResult = run_query(events, str(p["queryString"]), limit=p.get("limit"))
        query_id = str(uuid.uuid4())
        stats = dict(result.statistics)
        stored = StoredQuery(query_id, began, str(p["queryString"]), tuple(groups), "Complete", result.rows(), stats,
                             max(0, self._clock() - began))
        with self._queries() as q:
            q.save(stored)
        return {"queryId": query_id}

    def _get(self, query_id: str) -> StoredQuery:
        with self._queries() as q:
            stored = q.get(query_id)
        if stored is None:
            raise ResourceNotFoundError(f"Query {query_id} does not exist.")
        return stored

    def get_query_results(self, queryId: str, nextToken: str | None = None, maxItems: int | None = None,
                          **_: Any) -> dict[str, Any]:
        stored = self._get(queryId)
        size = min(int(maxItems or MAX_PAGE), MAX_PAGE)
        offset = 0
        if nextToken is not None:
            if not nextToken.startswith("r/") or not nextToken[2:].isdigit():
                raise InvalidParameterExceptionError("The specified nextToken is invalid.")
            offset = int(nextToken[2:])
        rows = stored.results[offset : offset + size]
        stats = dict(stored.statistics)
        out: dict[str, Any] = {"queryLanguage": "CWLI", "results": rows, "statistics": stats, "status": stored.status}
        if offset + size < len(stored.results):
            out["nextToken"] = f"r/{offset + size}"
        return out

    def stop_query(self, queryId: str, **_: Any) -> dict[str, Any]:
        stored = self._get(queryId)
        # Queries finish inside StartQuery, so none is ever running (AWS: an error saying so).
        raise InvalidParameterExceptionError(f"Query {queryId} is not running (status {stored.status}).")

    def describe_queries(self, logGroupName: str | None = None, status: str | None = None,
                         maxResults: int | None = None, nextToken: str | None = None, **_: Any) -> dict[str, Any]:
        if status is not None and status not in STATUSES:
            raise InvalidParameterExceptionError(
                f"1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(STATUSES)}]")
        after = None
        if nextToken is not None:
            if not nextToken.startswith("q/") or not nextToken[2:].isdigit():
                raise InvalidParameterExceptionError("The specified nextToken is invalid.")
            after = int(nextToken[2:])
        with self._queries() as q:
            page, more = q.newest_first(log_group=logGroupName, status=status, after_seq=after,
                                        limit=int(maxResults or 1000))
        out: dict[str, Any] = {"queries": [s.info() for s in page]}
        if more is not None:
            out["nextToken"] = f"q/{more}"
        return out
