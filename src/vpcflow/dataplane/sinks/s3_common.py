"""What every S3-layout sink shares: 5-minute grouping, rendering, 75 MB parts, spool and status.

A flow log's records are grouped by the 5-minute period of their ``end`` time (spec 4). A group is
delivered once no record can join it any more (see ``base.py`` on watermarks) as one object, or
several when it exceeds ``max_object_bytes`` (75 MB, spec 4): the rows are cut into equal parts
until every part fits. Objects are gzip text with the header line (``.log.gz``) or Parquet with
GZIP (``.log.parquet``), bytes from the record codecs; names come from ``codecs/s3keys.py`` with a
content hash, so the same records always give the same key and a retried or re-run upload replaces
the object. Records inside an object are in canonical order (``base.canonical_order``: sorted by
every format column), so an object does not depend on how its records were written (one pass or
partitions on Dask workers, docs/bulk.md). Backends implement ``_put`` (and may raise ``DeliveryRetryableError`` or
``DeliveryFailedError``); everything else is here.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.codecs import s3keys
from vpcflow.codecs.gzip_stream import gzip_compressor
from vpcflow.codecs.parquet import parquet_bytes
from vpcflow.codecs.text import render_text_chunks
from vpcflow.core.errors import ConfigError, DeliveryFailedError, DeliveryRetryableError
from vpcflow.dataplane.sinks.base import (
    RATE_LIMITED,
    DeliveryReceipt,
    DeliveryStatusMixin,
    RetryPolicy,
    StatusCallback,
    flow_log_format,
    require,
    split_table,
)
from vpcflow.dataplane.sinks.compact import (
    RowSelection,
    canonical_rows,
    compact_records,
    concat_held,
    plain_records,
)
from vpcflow.dataplane.sinks.faults import fault_point
from vpcflow.dataplane.sinks.spool import Spool
from vpcflow.model.flowlog import FlowLog

TEXT_CONTENT_TYPE = "application/x-gzip"
PARQUET_CONTENT_TYPE = "application/octet-stream"

S3Authorizer = Callable[[FlowLog], str | None]
#: Record end times (epoch seconds) of held records: 32-bit when they fit (``_held_ends``).
Ends = npt.NDArray[np.integer[Any]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class S3Object:
    bucket: str
    key: str
    data: bytes | bytearray  # a text object's buffer as it was compressed into (never changed after)
    content_type: str
    records: int


#: Rows rendered at a time for a gzip text object: small enough that an object of a few tens of
#: thousands of records is several slices, whose compression overlaps the next one's rendering.
COMPRESS_SLICE_ROWS = 1 << 14


def _text_chunks(records: pa.Table | RowSelection) -> Iterator[bytes]:
    """The text of ``records``, header line first, a slice at a time. A ``RowSelection`` renders by
    its row indexes straight from the held table (nothing gathered: the native renderer reads any
    row of the table's chunks where it lies)."""
    if isinstance(records, pa.Table):
        yield from render_text_chunks(records, header=True, slice_rows=COMPRESS_SLICE_ROWS)
        return
    yield from render_text_chunks(records.table, header=True, slice_rows=COMPRESS_SLICE_ROWS, rows=records.rows)


def gzip_text(records: pa.Table | RowSelection, level: int | None = None, *,
              hasher: hashlib._Hash | None = None) -> bytearray:
    """The gzip text object of ``records`` (header line first; ``codecs/gzip_stream.py``, ``level``
    that compressor's), rendered and compressed a slice at a time without ever holding the whole text
    (hundreds of MB for a 5-minute group of a million flows), nor, for a ``RowSelection``, more than a
    slice of its rows. ``hasher`` (``s3keys.content_hasher``) is fed the text: the object's name.
    With more than one slice, a thread compresses (and hashes) each slice while this one renders the
    next (the compressor, hashlib and the renderer release the GIL)."""
    z = gzip_compressor(level)

    # One growing buffer, not a list of compressed slices joined at the end: the join held the
    # object twice (56 MB for a group of 1.6 million records, at a run's memory peak).
    out = bytearray()

    def compress(chunk: bytes) -> None:
        if hasher is not None:
            hasher.update(chunk)
        out.extend(z.compress(chunk))

    if records.num_rows <= COMPRESS_SLICE_ROWS:
        for chunk in _text_chunks(records):
            compress(chunk)
    else:
        compress_alongside(compress, _text_chunks(records))
    out.extend(z.flush())
    return out


def compress_alongside(compress: Callable[[bytes], T], chunks: Iterator[bytes]) -> list[T]:
    """``[compress(c) for c in chunks]``, the compressions in a thread of their own, in order, while
    ``chunks`` makes the next ones; an error on either side is raised here."""
    todo: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
    out: list[T] = []
    failed: list[BaseException] = []

    def work() -> None:
        while (chunk := todo.get()) is not None:
            if not failed:
                try:
                    out.append(compress(chunk))
                except BaseException as e:  # raised by the caller below
                    failed.append(e)

    t = threading.Thread(target=work, name="vpcflow-gzip", daemon=True)
    t.start()
    try:
        for chunk in chunks:
            if failed:
                break
            todo.put(chunk)
    finally:
        todo.put(None)
        t.join()
    if failed:
        raise failed[0]
    return out


def render_objects(
    flow_log: FlowLog, records: pa.Table | RowSelection, period_start_s: int, *, max_object_bytes: int,
    compresslevel: int | None = None, run_id: str = "",
) -> list[S3Object]:
    """The object(s) of one flow log's 5-minute group, split into parts that fit the size limit.
    A text object's name hashes its text (not the compressed bytes, which depend on the compressor:
    ``codecs/gzip_stream.py``), a Parquet object's its bytes."""
    bucket = flow_log.s3_bucket
    if not bucket:
        raise ConfigError(f"flow log {flow_log.flow_log_id} has no S3 destination")
    opts = flow_log.destination_options
    parquet = bool(opts and opts.file_format == "parquet")
    fmt = flow_log_format(flow_log)

    def encode(t: pa.Table | RowSelection) -> tuple[bytes | bytearray, str]:
        """The object's bytes and the hash of its name."""
        if parquet:
            # One chunk per column: Parquet pages must not depend on how the records were batched,
            # or the same records could get another content hash (a second object) on a re-run.
            whole = t if isinstance(t, pa.Table) else t.gather()
            data = parquet_bytes(plain_records(whole).combine_chunks(), log_format=fmt)
            return data, s3keys.content_hash(data, run_id)
        hasher = s3keys.content_hasher(run_id)
        text = gzip_text(t, compresslevel, hasher=hasher)
        return text, s3keys.content_digest(hasher)

    parts: list[tuple[pa.Table | RowSelection, bytes | bytearray, str]] = []
    pending = [records]
    while pending:
        t = pending.pop(0)
        data, digest = encode(t)
        if len(data) <= max_object_bytes or t.num_rows <= 1:
            parts.append((t, data, digest))
            continue
        pieces = min(t.num_rows, -(-len(data) // max_object_bytes) + 1)
        bounds = np.linspace(0, t.num_rows, pieces + 1).astype(np.int64)
        pending[:0] = [t.slice(int(a), int(b - a)) for a, b in itertools.pairwise(bounds.tolist()) if b > a]
    out = []
    for t, data, digest in parts:
        key = s3keys.object_key(
            flow_log.s3_prefix, flow_log.account_id, flow_log.region, flow_log.flow_log_id, period_start_s, data,
            hive=bool(opts and opts.hive_compatible_partitions), per_hour=bool(opts and opts.per_hour_partition),
            parquet=parquet, salt=run_id, digest=digest,
        )
        out.append(S3Object(bucket, key, data, PARQUET_CONTENT_TYPE if parquet else TEXT_CONTENT_TYPE, t.num_rows))
    return out


def period_rows(ends: Ends) -> list[tuple[npt.NDArray[np.int64] | None, int]]:
    """The rows of each 5-minute period of record end times ``ends`` (ascending row numbers; None:
    every row), with the period's start, periods in ascending order. ``ends`` becomes the periods (a
    flush's own array).

    A flush nearly always holds one period (the group that just closed): its rows are all the rows,
    not numbered at all (an array of 8 bytes a row, 13 MB for a group of 1.6 million records, at the
    moment a run's memory peaks). Several periods (the end of a run) are taken one at a time, where
    a stable argsort held five arrays (issue 10)."""
    if len(ends) == 0:
        return []
    ends -= ends % s3keys.PERIOD_S
    first, last = int(ends.min()), int(ends.max())
    if first == last:
        return [(None, first)]
    return [(np.flatnonzero(ends == p).astype(np.int64, copy=False), int(p)) for p in np.unique(ends).tolist()]


def _held_ends(ends: npt.NDArray[np.int64]) -> Ends:
    """Record end times as a held group keeps them: 32-bit seconds (until 2106) when they fit, half
    the room of a group's 64-bit ends (13 MB for 1.6 million records)."""
    if len(ends) and int(ends.min()) >= 0 and int(ends.max()) <= np.iinfo(np.uint32).max:
        return ends.astype(np.uint32)
    return ends.astype(np.int64)


class S3ObjectSink(DeliveryStatusMixin):
    """The S3-layout sink logic; subclasses provide the storage backend (``_put``)."""

    sink_name = "s3"

    def __init__(
        self,
        *,
        spool: Spool | None = None,
        status: StatusCallback | None = None,
        authorize: S3Authorizer | None = None,
        max_object_bytes: int = s3keys.MAX_OBJECT_BYTES,
        compresslevel: int | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        workers: int | None = None,
        retry_after_s: float = 0.0,
        run_id: str = "",
    ) -> None:
        self.retry_after_s = retry_after_s
        self.run_id = run_id  # salts object names: another run's records are another delivery
        self.workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self.spool = spool
        self.status = status
        self.authorize = authorize
        self.max_object_bytes = max_object_bytes
        self.compresslevel = compresslevel
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rand = random.Random()
        self._flow_logs: dict[str, FlowLog] = {}
        self._tables: dict[str, list[pa.Table]] = {}
        self._ends: dict[str, list[Ends]] = {}
        self._state: dict[str, str] = {}  # flow log id -> last status reported by this sink
        self._message: dict[str, str] = {}
        self._authorized: set[str] = set()  # flow logs whose delivery was authorized in this flush
        self._closed = False

    # -- the backend ------------------------------------------------------------------------------
    def _put(self, obj: S3Object) -> None:
        raise NotImplementedError

    def _destination(self, obj: S3Object) -> str:
        return f"s3://{obj.bucket}/{obj.key}"

    # -- RecordSink -------------------------------------------------------------------------------
    def write(self, flow_log: FlowLog, table: pa.Table) -> None:
        if self._closed:
            raise RuntimeError("write() on a closed sink")
        if flow_log.log_destination_type != "s3" or not flow_log.s3_bucket:
            raise ConfigError(f"flow log {flow_log.flow_log_id} does not deliver to S3")
        if table.num_rows == 0:
            return
        parts = split_table(flow_log, table)
        end = require(parts.end, flow_log, "S3 file naming (5-minute periods of record end time)", "end")
        ends = np.asarray(end.combine_chunks().fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False))
        fid = flow_log.flow_log_id
        self._flow_logs[fid] = flow_log
        # Held compact until the group closes (issue 10: a 5-minute group of a million flows).
        self._tables.setdefault(fid, []).append(compact_records(parts.records))
        self._ends.setdefault(fid, []).append(_held_ends(ends))

    def adopt(self, flow_log: FlowLog) -> None:
        """Take charge of a flow log without writing records (its spool is re-delivered on flush)."""
        self._flow_logs[flow_log.flow_log_id] = flow_log

    def flush(self, watermark_s: int | None = None) -> list[DeliveryReceipt]:
        receipts: list[DeliveryReceipt] = []
        self._authorized.clear()
        for fid in sorted(self._flow_logs):
            if not self._holding(fid, final=watermark_s is None):
                receipts += self._redeliver(fid)
            if fid in self._tables:
                receipts += self._flush_flow_log(self._flow_logs[fid], watermark_s)
        return receipts

    def close(self) -> None:
        if not self._closed:
            self.flush(None)
            self._closed = True

    def abandon(self) -> None:
        """Stop without delivering the groups still buffered: they could still have grown, and a
        partial object now would sit beside the whole one a re-run delivers (issue 13)."""
        self._tables.clear()
        self._ends.clear()
        self._closed = True

    # -- internals --------------------------------------------------------------------------------
    def _held_ready(self, fid: str, watermark_s: int | None,
                    interval_s: int) -> tuple[pa.Table, Ends] | None:
        """Take the held records whose 5-minute group can no longer grow (all of them at the end) out
        of the sink, with their end times; None when there are none. Decided table by table: each
        written table is one window's records, so it is nearly always wholly ready or wholly not, and
        only a table with both is split. Held records are never copied while their group stays open
        (a copy of everything held at each minute's flush cost CPU and, on a million flows, the
        memory of a second group)."""
        ready_t: list[pa.Table] = []
        ready_e: list[Ends] = []
        keep_t: list[pa.Table] = []
        keep_e: list[Ends] = []
        for t, e in zip(self._tables.pop(fid), self._ends.pop(fid), strict=True):
            if watermark_s is None:
                ready = np.ones(len(e), dtype=bool)
            else:
                ready = e - e % s3keys.PERIOD_S + s3keys.PERIOD_S <= watermark_s - interval_s
            if ready.all():
                ready_t.append(t)
                ready_e.append(e)
            elif not ready.any():
                keep_t.append(t)
                keep_e.append(e)
            else:
                ready_t.append(t.filter(pa.array(ready)))
                ready_e.append(e[ready])
                keep_t.append(t.filter(pa.array(~ready)))
                keep_e.append(e[~ready])
        if keep_t:
            self._tables[fid], self._ends[fid] = keep_t, keep_e
        if not ready_t:
            return None
        return concat_held(ready_t), np.concatenate(ready_e)

    def _flush_flow_log(self, fl: FlowLog, watermark_s: int | None) -> list[DeliveryReceipt]:
        fid = fl.flow_log_id
        held = self._held_ready(fid, watermark_s, fl.max_aggregation_interval)
        if held is None:
            return []
        table, ends = held
        groups = period_rows(ends)
        del ends

        def render(g: tuple[npt.NDArray[np.int64] | None, int]) -> list[S3Object]:
            # Each group in canonical order: its object is the same whatever writes brought its records.
            # Sorted when its turn comes and rendered from the held table a slice of rows at a time.
            return render_objects(fl, canonical_rows(table, g[0]), g[1], max_object_bytes=self.max_object_bytes,
                                  compresslevel=self.compresslevel, run_id=self.run_id)

        # gzip and Parquet encoding release the GIL: encode the period groups side by side; map()
        # keeps their order, so delivery order (and every byte) is the same as sequentially.
        if len(groups) > 1 and self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor  # only several periods need it (~5 ms to import)

            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                rendered = list(pool.map(render, groups))
        else:
            rendered = [render(g) for g in groups]
        return [self._deliver_or_spool(fl, obj) for objs in rendered for obj in objs]

    def _deliver_or_spool(self, fl: FlowLog, obj: S3Object) -> DeliveryReceipt:
        fid = fl.flow_log_id
        if self._state.get(fid) != "FAILED" and not self._spooled(fid):
            try:
                self._attempt(fl, obj)
            except DeliveryFailedError as e:
                self._set_status(fid, "FAILED", e.aws_message)
            else:
                self._set_status(fid, "SUCCESS", None)
                return DeliveryReceipt(fid, self._destination(obj), obj.records, len(obj.data))
        if self.spool is None:
            raise DeliveryFailedError(
                "delivery failed and no spool is configured", sink=self.sink_name, destination=self._destination(obj),
                aws_message=self._message.get(fid, "Unknown error"),
            )
        item_id = obj.key.rsplit("/", 1)[-1]
        self.spool.put(fid, item_id, obj.data, {"kind": self.sink_name, "bucket": obj.bucket, "key": obj.key,
                                                 "content_type": obj.content_type, "records": obj.records})
        return DeliveryReceipt(fid, self._destination(obj), obj.records, len(obj.data), "spooled")

    def _attempt(self, fl: FlowLog, obj: S3Object) -> None:
        if self.authorize is not None and fl.flow_log_id not in self._authorized:
            msg = self.authorize(fl)
            if msg is not None:
                raise DeliveryFailedError("delivery not authorized", sink=self.sink_name,
                                          destination=self._destination(obj), aws_message=msg)
            self._authorized.add(fl.flow_log_id)  # asked again at the next flush
        attempt = 0
        began = time.monotonic()
        while True:
            attempt += 1
            try:
                fault_point("s3.before_upload")
                self._put(obj)
                fault_point("s3.after_upload")
                return
            except DeliveryRetryableError as e:
                wait = self.retry.next_delay(attempt, time.monotonic() - began, self._rand.random())
                if wait is None:
                    raise DeliveryFailedError(f"gave up after {attempt} attempts: {e}", sink=self.sink_name,
                                              destination=self._destination(obj),
                                              aws_message=e.aws_message or RATE_LIMITED) from e
                self._sleep(wait)

    def _redeliver(self, fid: str) -> list[DeliveryReceipt]:
        if self.spool is None or not self._spooled(fid):
            return []
        fl = self._flow_logs[fid]
        receipts: list[DeliveryReceipt] = []
        for item in self.spool.items(fid):
            if item.meta.get("kind") != self.sink_name:
                continue
            obj = S3Object(str(item.meta["bucket"]), str(item.meta["key"]), self.spool.payload(item),
                           str(item.meta["content_type"]), int(item.meta["records"]))
            try:
                self._attempt(fl, obj)
            except (DeliveryFailedError, DeliveryRetryableError) as e:
                self._set_status(fid, "FAILED", getattr(e, "aws_message", RATE_LIMITED))
                return receipts
            self.spool.remove(item)
            fault_point("spool.after_redeliver")
            receipts.append(DeliveryReceipt(fid, self._destination(obj), obj.records, len(obj.data), "redelivered"))
        self._set_status(fid, "SUCCESS", None, force=True)
        return receipts
