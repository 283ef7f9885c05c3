"""Read flow records back from every destination, as Arrow batches.

* S3 layouts: the local bucket store (:class:`BucketStoreLister`) or any S3 endpoint
  (:class:`S3Lister`, boto3). The key tree is walked level by level (account, service, region,
  year, month, day, hour; default and Hive layouts, with or without hours) and pruned from folder
  names before any object is listed, then by file-name timestamp (``codecs/s3keys.py``). Each object
  is parsed by the record codecs (gzip text with header, or Parquet) and filtered.
* CloudWatch Logs: the embedded log store or any CloudWatch Logs endpoint; event messages are
  parsed with the flow log's format (given, or the default format).

Filters: ``start_s``/``end_s`` keep records whose ``[start, end]`` overlaps ``[start_s, end_s)``
(when the format has those fields); ``where`` is a ``pyarrow.compute`` expression over record
columns (``pc.field("action") == "REJECT"``); ``filter_pattern`` (CloudWatch only) a filter pattern
evaluated before parsing. Every reader yields one ``pyarrow.Table`` per object / event page, so
memory stays bounded by the largest file.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.codecs import s3keys
from vpcflow.codecs.parquet import read_parquet
from vpcflow.codecs.text import decode_text
from vpcflow.core.errors import ReadError
from vpcflow.model.logformat import LogFormat, parse_log_format
from vpcflow.query.filter_pattern import compile_pattern
from vpcflow.storage.bucketstore import BucketStore
from vpcflow.storage.logstore import LogStore

#: A record may start this long before the period of its end time (the longest aggregation interval).
MAX_INTERVAL_S = 600


class Lister(Protocol):
    """What the S3 walker needs from a bucket: folders under a prefix, keys under a prefix, bytes."""

    def folders(self, prefix: str) -> list[str]: ...

    def keys(self, prefix: str) -> list[str]: ...

    def get(self, key: str) -> bytes: ...


class BucketStoreLister:
    def __init__(self, store: BucketStore, bucket: str) -> None:
        self.store = store
        self.bucket = bucket

    def folders(self, prefix: str) -> list[str]:
        return self.store.common_prefixes(self.bucket, prefix)

    def keys(self, prefix: str) -> list[str]:
        return [k for k in self.store.list_keys(self.bucket, prefix) if "/" not in k[len(prefix):]]

    def get(self, key: str) -> bytes:
        return self.store.get_object(self.bucket, key)


class S3Lister:
    """ListObjectsV2 with Delimiter='/' and GetObject through a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def _pages(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        yield from paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")

    def folders(self, prefix: str) -> list[str]:
        return sorted(p["Prefix"] for page in self._pages(prefix) for p in page.get("CommonPrefixes", []))

    def keys(self, prefix: str) -> list[str]:
        return sorted(o["Key"] for page in self._pages(prefix) for o in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())


@dataclass(frozen=True)
class RecordFilter:
    """Time and field filters applied to parsed records (and used for key pruning)."""

    start_s: int | None = None
    end_s: int | None = None
    where: pc.Expression | None = None

    def apply(self, table: pa.Table) -> pa.Table:
        mask = None
        names = table.column_names
        if self.start_s is not None and "end" in names:
            mask = pc.greater_equal(table.column("end"), self.start_s)
        if self.end_s is not None and "start" in names:
            m = pc.less(table.column("start"), self.end_s)
            mask = m if mask is None else pc.and_(mask, m)
        if mask is not None:
            table = table.filter(pc.fill_null(mask, False))
        if self.where is not None:
            table = table.filter(self.where)
        return table


def _gunzip(data: bytes, source: str) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    out = []
    try:
        while data:
            d = zlib.decompressobj(31)
            out.append(d.decompress(data))
            data = d.unused_data
    except zlib.error as e:
        raise ReadError(f"not a valid gzip object ({e})", source=source, line_number=0, raw="") from e
    return b"".join(out)


def decode_object(key: str, data: bytes, *, lenient: bool = False) -> pa.Table:
    """The records of one flow-log object (``.log.gz`` text with header, or ``.log.parquet``)."""
    if key.endswith(s3keys.PARQUET_SUFFIX):
        return read_parquet(data)
    return decode_text(_gunzip(data, key), source=key, lenient=lenient).table


def _within(values: list[str], wanted: frozenset[str] | None) -> list[str]:
    return values if wanted is None else [v for v in values if v in wanted]


def walk_flow_log_keys(lister: Lister, prefix: str = "", key_filter: s3keys.KeyFilter | None = None) -> Iterator[str]:
    """Flow-log object keys under ``prefix`` in every layout, pruned level by level."""
    kf = key_filter or s3keys.KeyFilter()
    # Time pruning must keep files whose records may START in range (they END up to 600 s later).
    time_kf = s3keys.KeyFilter(kf.account_ids, kf.regions, kf.flow_log_ids, kf.start_s,
                               None if kf.end_s is None else kf.end_s + MAX_INTERVAL_S)
    root = s3keys.normalize_prefix(prefix) + "AWSLogs/"
    for acct_dir in lister.folders(root):
        name = acct_dir[len(root):-1]
        hive = name.startswith("aws-account-id=")
        acct = name.removeprefix("aws-account-id=")
        if kf.account_ids is not None and acct not in kf.account_ids:
            continue
        service = acct_dir + ("aws-service=vpcflowlogs/" if hive else "vpcflowlogs/")
        for region_dir in lister.folders(service):
            region = region_dir[len(service):-1].removeprefix("aws-region=")
            if not _within([region], kf.regions):
                continue
            yield from _walk_dates(lister, region_dir, hive, time_kf)


def _walk_dates(lister: Lister, region_dir: str, hive: bool, kf: s3keys.KeyFilter) -> Iterator[str]:
    def level(d: str, tag: str) -> str:
        v = d.rstrip("/").rsplit("/", 1)[-1]
        return v.removeprefix(tag + "=") if hive else v

    for y in lister.folders(region_dir):
        for m in lister.folders(y):
            for d in lister.folders(m):
                try:
                    year, month, day = int(level(y, "year")), int(level(m, "month")), int(level(d, "day"))
                    day_start = int(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "s").astype(np.int64))
                except ValueError:
                    continue
                if not kf.day_may_match(day_start):
                    continue
                hours = lister.folders(d)
                for folder in ([d] if not hours else [d, *hours]):
                    if folder is not d:
                        try:
                            hour = int(level(folder, "hour"))
                        except ValueError:
                            continue
                        h0 = day_start + 3600 * hour
                        if (kf.start_s is not None and h0 + 3600 <= kf.start_s) or \
                                (kf.end_s is not None and h0 >= kf.end_s):
                            continue
                    for key in lister.keys(folder):
                        pk = s3keys.parse_key(key)
                        if pk is not None and kf.matches(pk):
                            yield key


def read_s3_layout(
    lister: Lister,
    prefix: str = "",
    *,
    account_ids: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    flow_log_ids: Iterable[str] | None = None,
    start_s: int | None = None,
    end_s: int | None = None,
    where: pc.Expression | None = None,
    lenient: bool = False,
    parallel: int = 2,
) -> Iterator[pa.Table]:
    """Records of every flow-log object under ``prefix`` passing the filters, one table per object.

    ``parallel`` objects are fetched and parsed at once (threads); tables come in key order.
    """
    kf = s3keys.KeyFilter(
        frozenset(account_ids) if account_ids is not None else None,
        frozenset(regions) if regions is not None else None,
        frozenset(flow_log_ids) if flow_log_ids is not None else None,
        start_s, end_s,
    )
    rf = RecordFilter(start_s, end_s, where)

    def load(key: str) -> pa.Table:
        return rf.apply(decode_object(key, lister.get(key), lenient=lenient))

    keys = walk_flow_log_keys(lister, prefix, kf)
    if parallel <= 1:
        for key in keys:
            table = load(key)
            if table.num_rows:
                yield table
        return
    # Decompression and parsing release the GIL: keep ``parallel`` objects in flight, yield in key order.
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        pending: deque[Future[pa.Table]] = deque()
        for key in keys:
            pending.append(pool.submit(load, key))
            if len(pending) > parallel:
                table = pending.popleft().result()
                if table.num_rows:
                    yield table
        while pending:
            table = pending.popleft().result()
            if table.num_rows:
                yield table


def read_bucket_store(store: BucketStore, bucket: str, prefix: str = "", **filters: Any) -> Iterator[pa.Table]:
    """Records from the embedded local bucket store (see :func:`read_s3_layout` for filters)."""
    return read_s3_layout(BucketStoreLister(store, bucket), prefix, **filters)


def read_s3(client: Any, bucket: str, prefix: str = "", **filters: Any) -> Iterator[pa.Table]:
    """Records from any S3 endpoint through a boto3 client."""
    return read_s3_layout(S3Lister(client, bucket), prefix, **filters)


def _fmt(log_format: LogFormat | str | None) -> LogFormat:
    return log_format if isinstance(log_format, LogFormat) else parse_log_format(log_format)


def _parse_messages(messages: pa.Array, fmt: LogFormat, source: str, lenient: bool) -> pa.Table:
    if len(messages) == 0:
        return decode_text(b"", fmt, source=source).table
    body = pc.binary_join_element_wise(pc.fill_null(messages.cast(pa.string()), ""), pa.scalar(""), "\n")
    if isinstance(body, pa.ChunkedArray):
        body = body.combine_chunks()
    # The joined lines are the array's value buffer between its first and last offsets.
    offsets = np.frombuffer(body.buffers()[1], dtype=np.int32)
    lo, hi = int(offsets[body.offset]), int(offsets[body.offset + len(body)])
    buf = body.buffers()[2]
    data = buf.slice(lo, hi - lo).to_pybytes() if buf is not None else b""
    return decode_text(data, fmt, source=source, lenient=lenient).table


def read_log_store(
    store: LogStore,
    log_group: str,
    *,
    log_format: LogFormat | str | None = None,
    streams: Iterable[str] | None = None,
    stream_prefix: str | None = None,
    start_s: int | None = None,
    end_s: int | None = None,
    filter_pattern: str | None = None,
    where: pc.Expression | None = None,
    lenient: bool = False,
    batch: int = 65_536,
) -> Iterator[pa.Table]:
    """Records from the embedded log store: events of the chosen streams, parsed with ``log_format``.

    Event timestamps are ``start`` x 1000, so the time range prunes on ``start`` first.
    """
    fmt = _fmt(log_format)
    pattern = compile_pattern(filter_pattern)
    rf = RecordFilter(start_s, end_s, where)
    names = list(streams) if streams is not None else store.stream_names(log_group)
    if stream_prefix:
        names = [n for n in names if n.startswith(stream_prefix)]
    lo = None if start_s is None else (start_s - MAX_INTERVAL_S) * 1000
    hi = None if end_s is None else end_s * 1000
    for name in names:
        if pattern.kind == "all":
            # No pattern to match per message: the store hands over joined text, parsed in one go.
            for text in store.iter_stream_text(log_group, name, start_ms=lo, end_ms=hi, batch=batch):
                table = rf.apply(decode_text(text, fmt, source=f"{log_group}:{name}", lenient=lenient).table)
                if table.num_rows:
                    yield table
            continue
        for _ts, msgs in store.iter_stream_batches(log_group, name, start_ms=lo, end_ms=hi, batch=batch):
            msgs = msgs.filter(pa.array(pattern.match(msgs)))
            table = rf.apply(_parse_messages(msgs, fmt, f"{log_group}:{name}", lenient))
            if table.num_rows:
                yield table


def read_cloudwatch(
    client: Any,
    log_group: str,
    *,
    log_format: LogFormat | str | None = None,
    streams: Iterable[str] | None = None,
    stream_prefix: str | None = None,
    start_s: int | None = None,
    end_s: int | None = None,
    filter_pattern: str | None = None,
    where: pc.Expression | None = None,
    lenient: bool = False,
) -> Iterator[pa.Table]:
    """Records from any CloudWatch Logs endpoint (FilterLogEvents pages through boto3)."""
    fmt = _fmt(log_format)
    rf = RecordFilter(start_s, end_s, where)
    kwargs: dict[str, Any] = {"logGroupName": log_group}
    if streams is not None:
        kwargs["logStreamNames"] = list(streams)
    if stream_prefix:
        kwargs["logStreamNamePrefix"] = stream_prefix
    if start_s is not None:
        kwargs["startTime"] = (start_s - MAX_INTERVAL_S) * 1000
    if end_s is not None:
        kwargs["endTime"] = end_s * 1000
    if filter_pattern:
        kwargs["filterPattern"] = filter_pattern
    for page in client.get_paginator("filter_log_events").paginate(**kwargs):
        msgs = pa.array([e["message"] for e in page.get("events", [])], pa.string())
        table = rf.apply(_parse_messages(msgs, fmt, log_group, lenient))
        if table.num_rows:
            yield table


def record_batches(tables: Iterable[pa.Table], *, max_chunksize: int | None = None) -> Iterator[pa.RecordBatch]:
    """What a reader yields, as Arrow record batches (for consumers that stream batches)."""
    for table in tables:
        yield from table.to_batches(max_chunksize=max_chunksize)


def read_all(tables: Iterable[pa.Table]) -> pa.Table | None:
    """Concatenate what a reader yields (None when nothing matched); formats must agree."""
    parts = list(tables)
    return pa.concat_tables(parts) if parts else None


def filter_log_events(store: LogStore, **params: Any) -> dict[str, Any]:
    """``FilterLogEvents`` on the embedded store with ``filterPattern`` compiled here (query layer)."""
    pattern = params.pop("filterPattern", None)
    compiled = compile_pattern(pattern)
    matcher = None if compiled.kind == "all" else compiled.match
    return store.filter_log_events(**params, matcher=matcher)
