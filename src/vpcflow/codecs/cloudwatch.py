"""CloudWatch Logs naming, events and PutLogEvents batching for flow logs (spec 3).

Shared by the embedded log store, the CloudWatch sinks and the readers:

* one stream per ENI, named ``<eni-id>-all`` (spec 3; observed for ALL flow logs, and vpcflow uses it
  for ACCEPT/REJECT-only flow logs too, so several flow logs of one ENI share one stream as AWS does);
* an event per record: ``timestamp`` = ``start`` x 1000 (ms), ``message`` = the record line, no header;
* PutLogEvents limits: at most 10,000 events and 1,048,576 bytes per call, where each event counts
  its UTF-8 message length plus 26 bytes; events in chronological order; one call spans at most 24 h.

Everything here is columnar: a batch plan is computed with cumulative sums and ``searchsorted``,
never with a Python loop per event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
#: Largest message (bytes, overhead included) of one event.
MAX_EVENT_BYTES = 262_144
#: Events more than 2 h in the future or older than 14 days are rejected (PutLogEvents).
MAX_FUTURE_MS = 2 * 3600 * 1000
MAX_AGE_MS = 14 * 86400 * 1000

# AWS's InvalidParameterException texts for PutLogEvents.
MSG_NOT_CHRONOLOGICAL = "Log events in a single PutLogEvents request must be in chronological order."
MSG_SPAN_24H = "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
MSG_EMPTY = "1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1"  # noqa: E501


def msg_too_many(n: int) -> str:
    return (
        f"1 validation error detected: Value '{n}' at 'logEvents' failed to satisfy constraint: "
        f"Member must have length less than or equal to {MAX_BATCH_EVENTS}"
    )


def msg_upload_too_large(size: int) -> str:
    return f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"


def msg_event_too_large(size: int) -> str:
    return f"Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}"


STREAM_SUFFIX = "-all"


def stream_name(interface_id: str) -> str:
    """``eni-051f33bea4b62cb7b`` -> ``eni-051f33bea4b62cb7b-all`` (spec 3)."""
    return interface_id + STREAM_SUFFIX


def stream_names(interface_ids: pa.Array | pa.ChunkedArray, fallback: pa.Array | None = None) -> pa.Array:
    """Stream names of many records at once.

    Records with no interface (``-``: regional NAT gateway flows, spec 9) go to the stream of their
    ``fallback`` value (the ``resource-id`` when the format has it) or ``unknown-all``: AWS does not say;
    documented in docs/delivery.md.
    """
    ids = interface_ids.combine_chunks() if isinstance(interface_ids, pa.ChunkedArray) else interface_ids
    ids = ids.cast(pa.string())
    if ids.null_count:
        if fallback is not None:
            ids = pc.coalesce(ids, fallback.cast(pa.string()))
        ids = ids.fill_null("unknown")
    return pc.binary_join_element_wise(ids, pa.scalar(STREAM_SUFFIX), "")


def interface_of_stream(name: str) -> str:
    """The ENI id of a stream name (inverse of :func:`stream_name`)."""
    return name.removesuffix(STREAM_SUFFIX)


def event_timestamps_ms(start_s: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Event timestamps: record ``start`` x 1000 (spec 3)."""
    arr = start_s.combine_chunks() if isinstance(start_s, pa.ChunkedArray) else start_s
    return np.asarray(arr.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64) * 1000


def event_sizes(messages: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Bytes each event counts towards the 1 MB limit: UTF-8 length + 26."""
    arr = messages.combine_chunks() if isinstance(messages, pa.ChunkedArray) else messages
    lengths = pc.binary_length(arr.cast(pa.string())).to_numpy(zero_copy_only=False)
    return np.asarray(lengths, dtype=np.int64) + EVENT_OVERHEAD_BYTES


def chronological_order(timestamps_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A stable permutation putting events in timestamp order (ties keep record order)."""
    return np.argsort(timestamps_ms, kind="stable").astype(np.int64)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Half-open ``[starts[i], ends[i])`` slices of a chronologically sorted event sequence."""

    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.starts)

    def slices(self) -> list[tuple[int, int]]:
        return list(zip(self.starts.tolist(), self.ends.tolist(), strict=True))


def plan_batches(
    timestamps_ms: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
    max_span_ms: int = MAX_BATCH_SPAN_MS,
) -> BatchPlan:
    """Split sorted events into PutLogEvents calls respecting every limit, greedily (fewest calls).

    One loop iteration per *batch* (not per event): the end of each batch is the tightest of the
    three limits found with ``searchsorted`` over cumulative sums.
    """
    n = len(timestamps_ms)
    if n != len(sizes):
        raise ValueError("timestamps and sizes differ in length")
    if n and bool(np.any(np.diff(timestamps_ms) < 0)):
        raise ValueError(MSG_NOT_CHRONOLOGICAL)
    if n and int(sizes.max()) > min(max_bytes, MAX_EVENT_BYTES):
        raise ValueError(msg_event_too_large(int(sizes.max())))
    cum = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < n:
        by_count = min(n, i + max_events)
        by_bytes = int(np.searchsorted(cum, cum[i] + max_bytes, side="right")) - 1
        by_span = int(np.searchsorted(timestamps_ms, timestamps_ms[i] + max_span_ms, side="right"))
        j = max(i + 1, min(by_count, by_bytes, by_span))
        starts.append(i)
        ends.append(j)
        i = j
    return BatchPlan(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64))


def validate_batch(timestamps_ms: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]) -> str | None:
    """AWS's InvalidParameterException message for a PutLogEvents batch, or None when valid.

    Checked in AWS's order: count, size of one event, total size, chronological order, span.
    """
    n = len(timestamps_ms)
    if n == 0:
        return MSG_EMPTY
    if n > MAX_BATCH_EVENTS:
        return msg_too_many(n)
    biggest = int(sizes.max())
    if biggest > MAX_EVENT_BYTES:
        return msg_event_too_large(biggest)
    total = int(sizes.sum())
    if total > MAX_BATCH_BYTES:
        return msg_upload_too_large(total)
    if bool(np.any(np.diff(timestamps_ms) < 0)):
        return MSG_NOT_CHRONOLOGICAL
    if int(timestamps_ms[-1]) - int(timestamps_ms[0]) > MAX_BATCH_SPAN_MS:
        return MSG_SPAN_24H
    return None


@dataclass(frozen=True, slots=True)
class RejectedInfo:
    """PutLogEvents ``rejectedLogEventsInfo``: indexes bounding events that were not stored."""

    too_new_start_index: int | None = None
    too_old_end_index: int | None = None
    expired_end_index: int | None = None

    def as_dict(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.too_new_start_index is not None:
            out["tooNewLogEventStartIndex"] = self.too_new_start_index
        if self.too_old_end_index is not None:
            out["tooOldLogEventEndIndex"] = self.too_old_end_index
        if self.expired_end_index is not None:
            out["expiredLogEventEndIndex"] = self.expired_end_index
        return out

    def accepted_mask(self, n: int) -> npt.NDArray[np.bool_]:
        keep = np.ones(n, dtype=bool)
        for end in (self.too_old_end_index, self.expired_end_index):
            if end is not None:
                keep[: end + 1] = False
        if self.too_new_start_index is not None:
            keep[self.too_new_start_index :] = False
        return keep


def classify_rejected(
    timestamps_ms: npt.NDArray[np.int64], now_ms: int, retention_days: int | None, *, enforce_age: bool = True
) -> RejectedInfo:
    """Which events of a sorted batch PutLogEvents would refuse (too new, too old, expired)."""
    n = len(timestamps_ms)
    new_idx = int(np.searchsorted(timestamps_ms, now_ms + MAX_FUTURE_MS, side="right"))
    too_new = new_idx if new_idx < n else None
    too_old = expired = None
    if enforce_age:
        old_count = int(np.searchsorted(timestamps_ms, now_ms - MAX_AGE_MS, side="left"))
        too_old = old_count - 1 if old_count else None
        if retention_days is not None:
            exp_count = int(np.searchsorted(timestamps_ms, now_ms - retention_days * 86400 * 1000, side="left"))
            if exp_count and (too_old is None or exp_count - 1 > too_old):
                expired = exp_count - 1
    return RejectedInfo(too_new, too_old, expired)
