"""Stream names, events and PutLogEvents batching limits (spec 3)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs import cloudwatch as cw


def test_spec3_stream_names() -> None:
    assert cw.stream_name("eni-1d47d21d") == "eni-1d47d21d-all"
    assert cw.stream_name("eni-051f33bea4b62cb7b") == "eni-051f33bea4b62cb7b-all"
    assert cw.interface_of_stream("eni-1d47d21d-all") == "eni-1d47d21d"


def test_stream_names_vectorised_with_fallback() -> None:
    ids = pa.array(["eni-1", None, None])
    res = pa.array(["r-x", "nat-0abc", None])
    assert cw.stream_names(ids, res).to_pylist() == ["eni-1-all", "nat-0abc-all", "unknown-all"]
    assert cw.stream_names(ids).to_pylist() == ["eni-1-all", "unknown-all", "unknown-all"]


def test_event_timestamp_is_start_times_1000() -> None:
    ts = cw.event_timestamps_ms(pa.array([1418530010, 1431280876], pa.int64()))
    assert ts.tolist() == [1418530010000, 1431280876000]


def test_event_size_counts_26_bytes_and_utf8() -> None:
    assert cw.event_sizes(pa.array(["abc", "é"])).tolist() == [29, 28]


def _check_plan(ts: np.ndarray, sizes: np.ndarray, plan: cw.BatchPlan, **limits: int) -> None:
    max_events = limits.get("max_events", cw.MAX_BATCH_EVENTS)
    max_bytes = limits.get("max_bytes", cw.MAX_BATCH_BYTES)
    covered = 0
    for a, b in plan.slices():
        assert a == covered and b > a
        covered = b
        assert b - a <= max_events
        assert int(sizes[a:b].sum()) <= max_bytes
        assert int(ts[b - 1] - ts[a]) <= cw.MAX_BATCH_SPAN_MS
        assert cw.validate_batch(ts[a:b], sizes[a:b]) is None or max_bytes < cw.MAX_BATCH_BYTES
    assert covered == len(ts)


def test_10000_event_limit() -> None:
    ts = np.zeros(25_001, dtype=np.int64)
    sizes = np.full(25_001, 30, dtype=np.int64)
    plan = cw.plan_batches(ts, sizes)
    assert [b - a for a, b in plan.slices()] == [10_000, 10_000, 5_001]
    _check_plan(ts, sizes, plan)


def test_1mb_limit_counts_26_bytes_per_event() -> None:
    # 126-byte messages + 26 = 152 bytes; 1,048,576 // 152 = 6898 events fit in one call.
    sizes = cw.event_sizes(pa.array(["x" * 126] * 7000))
    ts = np.zeros(7000, dtype=np.int64)
    plan = cw.plan_batches(ts, sizes)
    assert [b - a for a, b in plan.slices()] == [6898, 102]
    _check_plan(ts, sizes, plan)


def test_24_hour_span_limit() -> None:
    day = cw.MAX_BATCH_SPAN_MS
    ts = np.array([0, 1000, day, day + 1, 2 * day + 1], dtype=np.int64)
    plan = cw.plan_batches(ts, np.full(5, 40, dtype=np.int64))
    assert plan.slices() == [(0, 3), (3, 5)]


def test_plan_refuses_unsorted_and_oversized() -> None:
    with pytest.raises(ValueError, match="chronological"):
        cw.plan_batches(np.array([2, 1], dtype=np.int64), np.array([30, 30], dtype=np.int64))
    with pytest.raises(ValueError, match="too large"):
        cw.plan_batches(np.array([1], dtype=np.int64), np.array([cw.MAX_EVENT_BYTES + 1], dtype=np.int64))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3 * cw.MAX_BATCH_SPAN_MS), st.integers(27, 5000)), max_size=300),
    st.integers(1, 50),
    st.integers(5000, 40_000),
)
def test_plan_respects_every_limit(events: list[tuple[int, int]], max_events: int, max_bytes: int) -> None:
    events.sort()
    ts = np.array([e[0] for e in events], dtype=np.int64)
    sizes = np.array([e[1] for e in events], dtype=np.int64)
    plan = cw.plan_batches(ts, sizes, max_events=max_events, max_bytes=max_bytes)
    _check_plan(ts, sizes, plan, max_events=max_events, max_bytes=max_bytes)


def test_validate_batch_messages_in_aws_order() -> None:
    one = np.array([0], dtype=np.int64)
    assert cw.validate_batch(np.array([], dtype=np.int64), np.array([], dtype=np.int64)) == cw.MSG_EMPTY
    assert "less than or equal to 10000" in (cw.validate_batch(np.zeros(10_001, np.int64), np.full(10_001, 27)) or "")
    assert cw.validate_batch(one, np.array([cw.MAX_EVENT_BYTES + 1])) == cw.msg_event_too_large(cw.MAX_EVENT_BYTES + 1)
    big = np.full(5, 250_000, dtype=np.int64)
    assert cw.validate_batch(np.zeros(5, np.int64), big) == cw.msg_upload_too_large(1_250_000)
    assert cw.validate_batch(np.array([5, 4]), np.array([30, 30])) == cw.MSG_NOT_CHRONOLOGICAL
    assert cw.validate_batch(np.array([0, cw.MAX_BATCH_SPAN_MS + 1]), np.array([30, 30])) == cw.MSG_SPAN_24H
    assert cw.validate_batch(np.array([0, cw.MAX_BATCH_SPAN_MS]), np.array([30, 30])) is None


def test_rejected_events_too_old_expired_too_new() -> None:
    now = 100 * 86400 * 1000
    ts = np.array([now - 20 * 86400_000, now - 5 * 86400_000, now - 1000, now + 3 * 3600_000], dtype=np.int64)
    info = cw.classify_rejected(ts, now, retention_days=3)
    assert info.as_dict() == {"tooOldLogEventEndIndex": 0, "expiredLogEventEndIndex": 1, "tooNewLogEventStartIndex": 3}
    assert info.accepted_mask(4).tolist() == [False, False, True, False]
    assert cw.classify_rejected(ts, now, None, enforce_age=False).as_dict() == {"tooNewLogEventStartIndex": 3}
