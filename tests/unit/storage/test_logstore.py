"""The embedded CloudWatch Logs store: CloudWatch's operations, shapes, limits and paging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vpcflow.codecs import cloudwatch as cw
from vpcflow.core.api_errors import InvalidParameterExceptionError, ResourceAlreadyExistsError, ResourceNotFoundError
from vpcflow.storage.logstore import LogStore

NOW = 1_700_000_000_000


@pytest.fixture
def store(tmp_path: Path) -> LogStore:
    clock = {"now": NOW}
    s = LogStore(tmp_path / "logs.db", account_id="111122223333", region="eu-west-1", clock_ms=lambda: clock["now"])
    s.clock = clock  # type: ignore[attr-defined]
    return s


def _events(n: int, t0: int = NOW - 60_000) -> list[dict[str, object]]:
    return [{"timestamp": t0 + i, "message": f"m{i}"} for i in range(n)]


def test_groups_create_describe_prefix_paging(store: LogStore) -> None:
    for name in ["vpc-flow-logs", "vpc-b", "other", "vpc-a"]:
        store.create_log_group(logGroupName=name)
    with pytest.raises(ResourceAlreadyExistsError, match="The specified log group already exists"):
        store.create_log_group(logGroupName="vpc-a")
    with pytest.raises(InvalidParameterExceptionError):
        store.create_log_group(logGroupName="bad name")
    page = store.describe_log_groups(logGroupNamePrefix="vpc-", limit=2)
    assert [g["logGroupName"] for g in page["logGroups"]] == ["vpc-a", "vpc-b"]
    g = page["logGroups"][0]
    assert g["arn"] == "arn:aws:logs:eu-west-1:111122223333:log-group:vpc-a:*"
    assert g["logGroupArn"] == "arn:aws:logs:eu-west-1:111122223333:log-group:vpc-a"
    assert g["creationTime"] == NOW and g["storedBytes"] == 0 and "retentionInDays" not in g
    page2 = store.describe_log_groups(logGroupNamePrefix="vpc-", limit=2, nextToken=page["nextToken"])
    assert [g["logGroupName"] for g in page2["logGroups"]] == ["vpc-flow-logs"]
    assert "nextToken" not in page2
    with pytest.raises(InvalidParameterExceptionError, match="less than or equal to 50"):
        store.describe_log_groups(limit=51)
    with pytest.raises(InvalidParameterExceptionError, match="nextToken is invalid"):
        store.describe_log_groups(nextToken="garbage")


def test_streams_and_their_shapes(store: LogStore) -> None:
    store.create_log_group(logGroupName="g")
    with pytest.raises(ResourceNotFoundError, match=r"The specified log group does not exist\."):
        store.create_log_stream(logGroupName="nope", logStreamName="s")
    for s in ["eni-b-all", "eni-a-all", "eni-c-all"]:
        store.create_log_stream(logGroupName="g", logStreamName=s)
    with pytest.raises(ResourceAlreadyExistsError):
        store.create_log_stream(logGroupName="g", logStreamName="eni-a-all")
    store.put_log_events(logGroupName="g", logStreamName="eni-c-all", logEvents=_events(2, NOW - 5000))
    store.put_log_events(logGroupName="g", logStreamName="eni-a-all", logEvents=_events(3, NOW - 1000))
    res = store.describe_log_streams(logGroupName="g")
    assert [s["logStreamName"] for s in res["logStreams"]] == ["eni-a-all", "eni-b-all", "eni-c-all"]
    a = res["logStreams"][0]
    assert a["firstEventTimestamp"] == NOW - 1000 and a["lastEventTimestamp"] == NOW - 998
    assert a["lastIngestionTime"] == NOW and a["storedBytes"] == 6
    assert a["arn"] == "arn:aws:logs:eu-west-1:111122223333:log-group:g:log-stream:eni-a-all"
    assert "firstEventTimestamp" not in res["logStreams"][1]
    by_time = store.describe_log_streams(logGroupName="g", orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in by_time["logStreams"]] == ["eni-a-all", "eni-c-all", "eni-b-all"]
    p1 = store.describe_log_streams(logGroupName="g", logStreamNamePrefix="eni-", limit=2, descending=True)
    assert [s["logStreamName"] for s in p1["logStreams"]] == ["eni-c-all", "eni-b-all"]
    p2 = store.describe_log_streams(logGroupName="g", logStreamNamePrefix="eni-", limit=2, descending=True,
                                    nextToken=p1["nextToken"])
    assert [s["logStreamName"] for s in p2["logStreams"]] == ["eni-a-all"] and "nextToken" not in p2
    with pytest.raises(InvalidParameterExceptionError, match="Cannot order by LastEventTime with a logStreamNamePrefix"):
        store.describe_log_streams(logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="e")
    assert store.describe_log_groups()["logGroups"][0]["storedBytes"] == 10


def test_put_log_events_validation_messages(store: LogStore) -> None:
    store.create_log_group(logGroupName="g")
    store.create_log_stream(logGroupName="g", logStreamName="s")
    with pytest.raises(ResourceNotFoundError, match=r"The specified log stream does not exist\."):
        store.put_log_events(logGroupName="g", logStreamName="x", logEvents=_events(1))
    with pytest.raises(InvalidParameterExceptionError, match="chronological order"):
        store.put_log_events(logGroupName="g", logStreamName="s", logEvents=list(reversed(_events(2))))
    with pytest.raises(InvalidParameterExceptionError, match="less than or equal to 10000"):
        store.put_log_events(logGroupName="g", logStreamName="s", logEvents=_events(10_001))
    with pytest.raises(InvalidParameterExceptionError, match="span more than 24 hours"):
        store.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": NOW - cw.MAX_BATCH_SPAN_MS - 2, "message": "a"}, {"timestamp": NOW, "message": "b"}])
    with pytest.raises(InvalidParameterExceptionError, match="Upload too large"):
        store.put_log_events(logGroupName="g", logStreamName="s",
                             logEvents=[{"timestamp": NOW, "message": "x" * 200_000}] * 6)
    r = store.put_log_events(logGroupName="g", logStreamName="s", sequenceToken="stale-is-ignored", logEvents=[
        {"timestamp": NOW, "message": "ok"},
        {"timestamp": NOW + 3 * 3_600_000, "message": "too new"},
    ])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert "nextSequenceToken" in r
    r = store.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": NOW - 15 * 86_400_000, "message": "too old"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}
    assert [e["message"] for e in store.get_log_events(logGroupName="g", logStreamName="s")["events"]] == ["ok"]


def test_get_log_events_paging_and_termination_signal(store: LogStore) -> None:
    store.create_log_group(logGroupName="g")
    store.create_log_stream(logGroupName="g", logStreamName="s")
    store.put_log_events(logGroupName="g", logStreamName="s", logEvents=_events(25))
    # Default (startFromHead false): the newest page.
    tail = store.get_log_events(logGroupName="g", logStreamName="s", limit=10)
    assert [e["message"] for e in tail["events"]] == [f"m{i}" for i in range(15, 25)]
    assert set(tail["events"][0]) == {"timestamp", "message", "ingestionTime"}
    back = store.get_log_events(logGroupName="g", logStreamName="s", limit=10, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == [f"m{i}" for i in range(5, 15)]
    # Forward from the head until the same token comes back with no events.
    seen: list[str] = []
    token = None
    for _ in range(10):
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = store.get_log_events(logGroupName="g", logStreamName="s", limit=7, **kw)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            assert page["events"] == []
            break
        token = page["nextForwardToken"]
    else:
        pytest.fail("forward paging never ended")
    assert seen == [f"m{i}" for i in range(25)]
    # Backward to the beginning: same backward token and no events.
    first = store.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True, limit=5)
    again = store.get_log_events(logGroupName="g", logStreamName="s", nextToken=first["nextBackwardToken"])
    assert again["events"] == [] and again["nextBackwardToken"] == first["nextBackwardToken"]
    # Time bounds: [startTime, endTime).
    t0 = NOW - 60_000
    win = store.get_log_events(logGroupName="g", logStreamName="s", startTime=t0 + 3, endTime=t0 + 6, startFromHead=True)
    assert [e["message"] for e in win["events"]] == ["m3", "m4", "m5"]
    with pytest.raises(InvalidParameterExceptionError, match="nextToken is invalid"):
        store.get_log_events(logGroupName="g", logStreamName="s", nextToken="f/123")


def test_filter_log_events_streams_prefix_pattern_paging(store: LogStore) -> None:
    store.create_log_group(logGroupName="g")
    for s in ["eni-1-all", "eni-2-all", "x-all"]:
        store.create_log_stream(logGroupName="g", logStreamName=s)
    store.put_log_events(logGroupName="g", logStreamName="eni-1-all", logEvents=[
        {"timestamp": NOW - 30, "message": "a ACCEPT"}, {"timestamp": NOW - 10, "message": "b REJECT"}])
    store.put_log_events(logGroupName="g", logStreamName="eni-2-all", logEvents=[
        {"timestamp": NOW - 20, "message": "c REJECT"}, {"timestamp": NOW - 5, "message": "d ACCEPT"}])
    store.put_log_events(logGroupName="g", logStreamName="x-all", logEvents=[{"timestamp": NOW, "message": "e REJECT"}])
    every = store.filter_log_events(logGroupName="g")
    assert [e["message"] for e in every["events"]] == ["a ACCEPT", "c REJECT", "b REJECT", "d ACCEPT", "e REJECT"]
    e0 = every["events"][0]
    assert set(e0) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert e0["logStreamName"] == "eni-1-all"

    def reject(msgs: pa.Array) -> np.ndarray:
        return np.asarray(pc.match_substring(msgs, "REJECT").to_numpy(zero_copy_only=False), dtype=bool)

    res = store.filter_log_events(logGroupName="g", logStreamNamePrefix="eni-", matcher=reject)
    assert [e["message"] for e in res["events"]] == ["c REJECT", "b REJECT"]
    res = store.filter_log_events(logGroupName="g", logStreamNames=["x-all", "eni-1-all"], startTime=NOW - 15)
    assert [e["message"] for e in res["events"]] == ["b REJECT", "e REJECT"]
    # Paging: limit 1 with small chunks still returns every match once.
    got, token = [], None
    while True:
        page = store.filter_log_events(logGroupName="g", matcher=reject, limit=1, chunk=2,
                                       **({"nextToken": token} if token else {}))
        got += [e["message"] for e in page["events"]]
        token = page.get("nextToken")
        if token is None:
            break
    assert got == ["c REJECT", "b REJECT", "e REJECT"]
    with pytest.raises(InvalidParameterExceptionError, match="cannot specify both"):
        store.filter_log_events(logGroupName="g", logStreamNames=["x-all"], logStreamNamePrefix="e")
    with pytest.raises(ResourceNotFoundError):
        store.filter_log_events(logGroupName="g", logStreamNames=["missing"])


def test_retention_deletes_old_events(store: LogStore) -> None:
    store.create_log_group(logGroupName="g")
    store.create_log_stream(logGroupName="g", logStreamName="s")
    store.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": NOW - 3 * 86_400_000, "message": "old"}])
    store.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": NOW - 1000, "message": "new"}])
    with pytest.raises(InvalidParameterExceptionError, match="enum value set"):
        store.put_retention_policy(logGroupName="g", retentionInDays=2)
    store.put_retention_policy(logGroupName="g", retentionInDays=1)
    assert store.describe_log_groups()["logGroups"][0]["retentionInDays"] == 1
    msgs = [e["message"] for e in store.get_log_events(logGroupName="g", logStreamName="s")["events"]]
    assert msgs == ["new"]
    s = store.describe_log_streams(logGroupName="g")["logStreams"][0]
    assert s["firstEventTimestamp"] == NOW - 1000 and s["storedBytes"] == 3


def test_checkpoints_are_atomic_with_events(store: LogStore, tmp_path: Path) -> None:
    store.create_log_group(logGroupName="g")
    store.create_log_stream(logGroupName="g", logStreamName="s")
    ts = np.arange(5, dtype=np.int64) + NOW
    store.put_events("g", "s", ts, pa.array([f"e{i}" for i in range(5)]), checkpoint=("run-1", 5))
    assert store.checkpoint("run-1", "g", "s") == 5
    assert store.checkpoint("run-2", "g", "s") == 0
    with pytest.raises(InvalidParameterExceptionError):
        store.put_events("g", "s", ts[::-1].copy(), pa.array(["x"] * 5), checkpoint=("run-1", 10))
    assert store.checkpoint("run-1", "g", "s") == 5
    store.close()
    reopened = LogStore(tmp_path / "logs.db", clock_ms=lambda: NOW)
    assert reopened.checkpoint("run-1", "g", "s") == 5
    old = np.array([NOW - 30 * 86_400_000], dtype=np.int64)
    reopened.put_events("g", "s", old, pa.array(["replayed"]), enforce_age=False)
    assert len(reopened.get_log_events(logGroupName="g", logStreamName="s")["events"]) == 6


def test_delete_log_group(store: LogStore) -> None:
    store.create_log_group(logGroupName="g")
    store.create_log_stream(logGroupName="g", logStreamName="s")
    store.delete_log_group(logGroupName="g")
    assert store.describe_log_groups()["logGroups"] == []
    with pytest.raises(ResourceNotFoundError):
        store.delete_log_group(logGroupName="g")


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 300_000), st.booleans()), min_size=0, max_size=120),
    limit=st.integers(1, 40),
    chunk=st.integers(2, 50),
    start=st.one_of(st.none(), st.integers(0, 200_000)),
)
def test_filter_pages_equal_a_sorted_scan(tmp_path_factory: pytest.TempPathFactory, events: list[tuple[int, int, bool]],
                                          limit: int, chunk: int, start: int | None) -> None:
    store = LogStore(tmp_path_factory.mktemp("f") / "logs.db", clock_ms=lambda: NOW)
    store.create_log_group(logGroupName="g")
    expected: list[tuple[int, int, str]] = []
    for s in range(5):
        store.create_log_stream(logGroupName="g", logStreamName=f"s{s}")
        mine = sorted((ts, hit) for st_, ts, hit in events if st_ == s)
        if mine:
            msgs = [f"{'HIT' if hit else 'miss'} {s} {i}" for i, (_, hit) in enumerate(mine)]
            store.put_events("g", f"s{s}", np.array([NOW - 400_000 + ts for ts, _ in mine], dtype=np.int64),
                             pa.array(msgs))
            expected += [(NOW - 400_000 + ts, 0, m) for (ts, _), m in zip(mine, msgs, strict=True)]
    lo = None if start is None else NOW - 400_000 + start
    want = [m for ts, _, m in sorted(expected, key=lambda e: e[0]) if m.startswith("HIT") and (lo is None or ts >= lo)]

    def hits(msgs: pa.Array) -> np.ndarray:
        return np.asarray(pc.starts_with(msgs, "HIT").to_numpy(zero_copy_only=False), dtype=bool)

    got: list[str] = []
    token = None
    for _ in range(200):
        kw = {"nextToken": token} if token else {}
        if lo is not None:
            kw["startTime"] = lo  # type: ignore[assignment]
        page = store.filter_log_events(logGroupName="g", matcher=hits, limit=limit, chunk=chunk, **kw)
        got += [e["message"] for e in page["events"]]
        token = page.get("nextToken")
        if token is None:
            break
    # Same multiset, and time order (events with equal timestamps may come in any stream order).
    assert sorted(got) == sorted(want)
    ts_of = {m: ts for ts, _, m in expected}
    assert [ts_of[m] for m in got] == sorted(ts_of[m] for m in got)
    store.close()


def test_one_store_shared_by_threads(tmp_path: Path) -> None:
    """The API server shares one store between threads: transactions must not interleave."""
    import threading

    store = LogStore(tmp_path / "logs.db", clock_ms=lambda: NOW)
    store.create_log_group(logGroupName="g")
    for t in range(4):
        store.create_log_stream(logGroupName="g", logStreamName=f"s{t}")
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(40):
                store.put_events("g", f"s{t}", np.array([NOW - 1000 + i], dtype=np.int64), pa.array([f"{t}-{i}"]),
                                 checkpoint=(f"run{t}", i + 1))
                store.filter_log_events(logGroupName="g", limit=5)
                store.describe_log_streams(logGroupName="g")
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(store.filter_log_events(logGroupName="g")["events"]) == 160
    assert [store.checkpoint(f"run{t}", "g", f"s{t}") for t in range(4)] == [40] * 4


def test_iter_stream_text_pages_in_time_order_within_bounds(tmp_path: Path) -> None:
    st = LogStore(tmp_path / "logs.db")
    st.create_log_group(logGroupName="g")
    st.create_log_stream(logGroupName="g", logStreamName="s")
    ts = np.array([1000 * t for t in (5, 1, 3, 3, 9, 7, 2, 8, 6, 4)], dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    msgs = pa.array([f"m{int(t) // 1000}" for t in ts])
    st.put_events("g", "s", ts[order], msgs.take(pa.array(order)), enforce_age=False)
    pieces = list(st.iter_stream_text("g", "s", batch=3))
    assert [p.count(b"\n") for p in pieces] == [3, 3, 3, 1]
    assert b"".join(pieces).decode().split() == [f"m{t}" for t in (1, 2, 3, 3, 4, 5, 6, 7, 8, 9)]
    bounded = b"".join(st.iter_stream_text("g", "s", start_ms=3000, end_ms=7000, batch=2)).decode().split()
    assert bounded == ["m3", "m3", "m4", "m5", "m6"]
    assert list(st.iter_stream_text("g", "s", start_ms=10_000)) == []
    st.close()
