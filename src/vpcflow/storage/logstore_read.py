"""The reading half of the embedded CloudWatch Logs store: GetLogEvents, FilterLogEvents, streaming.

A mixin of :class:`vpcflow.storage.logstore.LogStore` (split to keep modules small): it uses the
store's connection, lock and stream lookup.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.core.api_errors import InvalidParameterExceptionError
from vpcflow.storage.logstore_common import (
    Matcher,
    bad_token,
    check_limit,
    locked,
    parse_pos,
    pos_token,
    stream_missing,
)
from vpcflow.storage.logstore_common import (
    group_missing as _group_missing,
)


class LogReads:
    """GetLogEvents / FilterLogEvents / stream batches over the store's tables."""

    _c: sqlite3.Connection
    _lock: threading.RLock

    def _stream_id(self, group: str, stream: str) -> int:
        raise NotImplementedError

    def log_group_exists(self, name: str) -> bool:
        raise NotImplementedError

    # -- reading ---------------------------------------------------------------------------------
    @locked
    def get_log_events(
        self,
        logGroupName: str,
        logStreamName: str,
        startTime: int | None = None,
        endTime: int | None = None,
        nextToken: str | None = None,
        limit: int | None = None,
        startFromHead: bool | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """GetLogEvents: up to ``limit`` (default 10,000) events of a stream, in time order.

        Without a token, the newest page (or the oldest with ``startFromHead``); a forward token
        continues after its position, a backward token ends before it. ``[startTime, endTime)``.
        """
        check_limit(limit, 10_000)
        n = limit or 10_000
        sid = self._stream_id(logGroupName, logStreamName)
        lo = -(2**62) if startTime is None else int(startTime)
        hi = 2**62 if endTime is None else int(endTime)
        base = "SELECT ts, message, ingestion_time, id FROM events WHERE stream_id=? AND ts>=? AND ts<?"
        if nextToken is not None:
            kind, pts, pid = parse_pos(nextToken)
            forward = kind == "f"
        else:
            forward = bool(startFromHead)
            pts, pid = (-(2**62), -1) if forward else (2**62, 2**62)
        if forward:
            rows = self._c.execute(base + " AND (ts>? OR (ts=? AND id>?)) ORDER BY ts, id LIMIT ?",
                                   (sid, lo, hi, pts, pts, pid, n)).fetchall()
        else:
            rows = self._c.execute(base + " AND (ts<? OR (ts=? AND id<?)) ORDER BY ts DESC, id DESC LIMIT ?",
                                   (sid, lo, hi, pts, pts, pid, n)).fetchall()
            rows.reverse()
        events = [{"timestamp": r[0], "message": r[1], "ingestionTime": r[2]} for r in rows]
        if rows:
            fwd = pos_token("f", rows[-1][0], rows[-1][3])
            back = pos_token("b", rows[0][0], rows[0][3])
        elif nextToken is not None:
            # The end (or the beginning) was reached: AWS returns the token it was given.
            fwd = nextToken if forward else pos_token("f", pts, pid)
            back = nextToken if not forward else pos_token("b", pts, pid)
        else:
            fwd, back = pos_token("f", 0, 0), pos_token("b", 0, 0)
        return {"events": events, "nextForwardToken": fwd, "nextBackwardToken": back}

    @locked
    def filter_log_events(
        self,
        logGroupName: str,
        logStreamNames: Sequence[str] | None = None,
        logStreamNamePrefix: str | None = None,
        startTime: int | None = None,
        endTime: int | None = None,
        nextToken: str | None = None,
        limit: int | None = None,
        *,
        matcher: Matcher | None = None,
        chunk: int = 20_000,
        **_: Any,
    ) -> dict[str, Any]:
        """FilterLogEvents over the chosen streams, in (timestamp, arrival) order.

        ``matcher`` is the compiled ``filterPattern`` (None: every event). Events are scanned in
        chunks and matched column-wise; ``nextToken`` resumes after the last event examined.
        """
        if logStreamNames and logStreamNamePrefix:
            raise InvalidParameterExceptionError("You cannot specify both LogStreamNames and LogStreamNamePrefix.")
        check_limit(limit, 10_000)
        n = limit or 10_000
        streams = self._chosen_streams(logGroupName, logStreamNames, logStreamNamePrefix)
        after = (-(2**62), -1)
        if nextToken is not None:
            kind, after_ts, after_id = parse_pos(nextToken)
            if kind != "f":
                raise bad_token()
            after = (after_ts, after_id)
        lo = -(2**62) if startTime is None else int(startTime)
        hi = 2**62 if endTime is None else int(endTime)
        ids = sorted(streams)
        out_events: list[dict[str, Any]] = []
        more = False
        if ids:
            more, after = self._scan_events(ids, streams, (lo, hi), after, n, matcher, chunk, out_events)
        result: dict[str, Any] = {
            "events": out_events,
            "searchedLogStreams": [{"logStreamName": streams[i], "searchedCompletely": not more} for i in ids],
        }
        if more:
            # Confirm something is left to scan before promising another page.
            after_ts, after_id = after
            probe = self._c.execute(
                f"SELECT 1 FROM events WHERE stream_id IN ({','.join('?' * len(ids))}) AND ts>=? AND ts<?"
                " AND (ts>? OR (ts=? AND id>?)) LIMIT 1", (*ids, lo, hi, after_ts, after_ts, after_id)).fetchone()
            if probe:
                result["nextToken"] = pos_token("f", after_ts, after_id)
        return result

    def _chosen_streams(self, group: str, names: Sequence[str] | None, prefix: str | None) -> dict[int, str]:
        """The streams FilterLogEvents reads, by id: all of the group's, the named ones or those with the prefix."""
        if not self.log_group_exists(group):
            raise _group_missing()
        q = "SELECT id, name FROM log_streams WHERE group_name=?"
        streams = {int(r[0]): str(r[1]) for r in self._c.execute(q, (group,))}
        if names:
            wanted = set(names)
            streams = {k: v for k, v in streams.items() if v in wanted}
            if len(streams) < len(wanted):
                raise stream_missing()
        elif prefix:
            streams = {k: v for k, v in streams.items() if v.startswith(prefix)}
        return streams

    def _scan_events(
        self, ids: list[int], streams: dict[int, str], time_range: tuple[int, int], after: tuple[int, int],
        n: int, matcher: Matcher | None, chunk: int, out_events: list[dict[str, Any]],
    ) -> tuple[bool, tuple[int, int]]:
        """Append up to ``n`` matching events after position ``after`` to ``out_events``.

        Returns whether the page filled up (more may follow) and the position of the last event examined.
        """
        lo, hi = time_range
        after_ts, after_id = after
        marks = ",".join("?" * len(ids))
        bounds = self._c.execute(f"SELECT MIN(ts), MAX(ts) FROM events WHERE stream_id IN ({marks})"
                                 " AND ts>=? AND ts<?", (*ids, lo, hi)).fetchone()
        if bounds[0] is None:
            return False, after
        # Scan in time windows: each window is a range read of the (stream, ts) index of every
        # stream, sorted in memory. The window adapts to hold about ``chunk`` events, so no
        # query ever sorts the whole remaining group.
        sql = (f"SELECT id, stream_id, ts, ingestion_time, message FROM events WHERE stream_id IN ({marks})"
               " AND ts>=? AND ts<? AND (ts>? OR (ts=? AND id>?)) ORDER BY ts, id")
        data_end = min(hi, int(bounds[1]) + 1)
        if after_ts < int(bounds[0]):
            after_ts, after_id = int(bounds[0]) - 1, 2**62
        window = 60_000
        while after_ts < data_end:
            w_hi = min(data_end, after_ts + window)
            args = (*ids, max(lo, after_ts), w_hi, after_ts, after_ts, after_id)
            rows = self._c.execute(sql, args).fetchall()
            window = max(1, window * 2) if len(rows) < chunk // 2 else \
                max(1, int(window * chunk / max(len(rows), 1)))
            if not rows:
                after_ts, after_id = w_hi - 1, 2**62  # everything before w_hi was examined
                continue
            msgs = pa.array([r[4] for r in rows], pa.string())
            mask = np.ones(len(rows), dtype=bool) if matcher is None else \
                np.asarray(matcher(msgs), dtype=bool)
            hits = np.flatnonzero(mask)
            full = len(hits) >= n - len(out_events)
            take = hits[: n - len(out_events)]
            for i in take.tolist():
                r = rows[i]
                out_events.append({
                    "logStreamName": streams[int(r[1])], "timestamp": r[2], "message": r[4],
                    "ingestionTime": r[3], "eventId": f"{r[2]:020d}{int(r[1]):06d}{r[0]:030d}",
                })
            if full:
                last = int(take[-1]) if len(take) else len(rows) - 1
                return True, (int(rows[last][2]), int(rows[last][0]))
            if w_hi >= data_end:
                break
            after_ts, after_id = w_hi - 1, 2**62
        return False, (after_ts, after_id)

    def iter_stream_batches(
        self, group: str, stream: str, *, start_ms: int | None = None, end_ms: int | None = None, batch: int = 65_536
    ) -> Iterator[tuple[npt.NDArray[np.int64], pa.Array]]:
        """Every event of a stream in time order as (timestamps, messages) column batches (readers)."""
        sid = self._stream_id(group, stream)
        lo = -(2**62) if start_ms is None else start_ms
        hi = 2**62 if end_ms is None else end_ms
        after_ts, after_id = -(2**62), -1
        while True:
            with self._lock:
                rows = self._c.execute(
                    "SELECT ts, id, message FROM events WHERE stream_id=? AND ts>=? AND ts<?"
                    " AND (ts>? OR (ts=? AND id>?)) ORDER BY ts, id LIMIT ?",
                    (sid, lo, hi, after_ts, after_ts, after_id, batch)).fetchall()
            if not rows:
                return
            ts = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ts, pa.array([r[2] for r in rows], pa.string())
            after_ts, after_id = int(rows[-1][0]), int(rows[-1][1])
            if len(rows) < batch:
                return

    def iter_stream_text(
        self, group: str, stream: str, *, start_ms: int | None = None, end_ms: int | None = None, batch: int = 65_536
    ) -> Iterator[bytes]:
        """Every event message of a stream as newline-terminated text, ``batch`` events per piece (readers).

        SQLite joins the messages itself (``group_concat``), so no Python object is made per event: about
        twice as fast as ``iter_stream_batches`` for readers that parse the text anyway. (The order inside a
        piece follows the ordered subquery; readers do not depend on it: records carry their own times.)
        """
        sid = self._stream_id(group, stream)
        lo = -(2**62) if start_ms is None else start_ms
        hi = 2**62 if end_ms is None else end_ms
        after_ts, after_id = -(2**62), -1
        page = ("FROM events WHERE stream_id=? AND ts>=? AND ts<? AND (ts>? OR (ts=? AND id>?)) "
                "ORDER BY ts, id LIMIT ?")
        while True:
            with self._lock:
                args = (sid, lo, hi, after_ts, after_ts, after_id, batch)
                text, count = self._c.execute(
                    f"SELECT group_concat(m, char(10)), count(*) FROM (SELECT message AS m {page})", args
                ).fetchone()
                last = self._c.execute(f"SELECT ts, id FROM (SELECT ts, id {page}) ORDER BY ts DESC, id DESC LIMIT 1",
                                       args).fetchone()
            if not count:
                return
            yield (text + "\n").encode("utf-8")
            after_ts, after_id = int(last[0]), int(last[1])
            if count < batch:
                return

    def iter_event_columns(
        self, group: str, stream: str, *, start_ms: int | None = None, end_ms: int | None = None,
        batch: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """Every event of a stream in ``[start_ms, end_ms]`` (both inclusive) as Arrow columns
        ``timestamp``, ``ingestion_time``, ``event_id`` (int64) and ``message`` (large_string) (Insights).

        SQLite concatenates each page's messages and their byte lengths (``group_concat``), and the
        string array is built from those buffers, so no Python object is made per event. All columns
        come from one aggregate pass, so they stay aligned whatever order SQLite concatenates in.
        """
        sid = self._stream_id(group, stream)
        lo = -(2**62) if start_ms is None else start_ms
        hi = 2**62 if end_ms is None else end_ms
        after_ts, after_id = -(2**62), -1
        sql = ("SELECT group_concat(m, ''), group_concat(n), group_concat(ts), group_concat(it), group_concat(id),"
               " count(*) FROM (SELECT message AS m, length(CAST(message AS BLOB)) AS n, ts, ingestion_time AS it,"
               " id FROM events WHERE stream_id=? AND ts>=? AND ts<=? AND (ts>? OR (ts=? AND id>?))"
               " ORDER BY ts, id LIMIT ?)")
        while True:
            with self._lock:
                row = self._c.execute(sql, (sid, lo, hi, after_ts, after_ts, after_id, batch)).fetchone()
            count = int(row[5])
            if not count:
                return
            lengths, ts, ingested, ids = (_ints(row[i]) for i in (1, 2, 3, 4))
            offsets = np.zeros(count + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            data = str(row[0]).encode("utf-8")
            messages = pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))
            yield pa.RecordBatch.from_arrays(
                [pa.array(ts), pa.array(ingested), pa.array(ids), messages],
                names=["timestamp", "ingestion_time", "event_id", "message"],
            )
            last = int(np.lexsort((ids, ts))[-1])
            after_ts, after_id = int(ts[last]), int(ids[last])
            if count < batch:
                return


def _ints(joined: str) -> npt.NDArray[np.int64]:
    """A ``group_concat`` of integers (comma-separated) as an int64 array, parsed by NumPy's C text reader
    (exact for int64; Arrow's split of one long string is hundreds of times slower)."""
    return np.fromstring(joined, dtype=np.int64, sep=",")
