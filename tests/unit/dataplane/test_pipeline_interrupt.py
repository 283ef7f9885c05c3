"""A run stopped early (stop request or an error in a stage) delivers no group that could still grow.

Issue 13: an interrupted run used to close its sinks, which flushed the open 5-minute S3 group as a
partial object; the re-run then delivered the whole group under another name (records doubled).
Now the pipeline delivers only what the watermark closed, abandons the rest, and a re-run completes
the destination to exactly what an uninterrupted run leaves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agg_testkit import flow_log, packets, topology
from hypothesis import given, settings
from hypothesis import strategies as st
from test_aggregate_pipeline import ENI1, T0, FakeEngine, RecordingSink, tcp

from vpcflow.core.errors import RunInterrupted, SourceError
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.pipeline import PipelineStats, run_pipeline
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
from vpcflow.storage.bucketstore import BucketStore

MINUTES = 24
FL = flow_log(ENI1, "NetworkInterface", interval=60)


def _minutes(n: int, fail_after: int | None = None) -> Iterator[PacketBatch]:
    """One batch per minute of traffic (two flows a minute); a malformed record after ``fail_after``."""
    for minute in range(n):
        if fail_after is not None and minute == fail_after:
            raise SourceError("truncated record", path="cap.pcap", offset=4096)
        yield packets([tcp(T0 + 60 * minute + 5, sport=1000 + minute), tcp(T0 + 60 * minute + 50, sport=7)])


def _objects(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*") if p.is_file() and ".vpcflow" not in p.as_posix()}


def _deliver(root: Path, *, stop_after: int | None = None, fail_after: int | None = None,
             threaded: bool = False, reason: str = "SIGINT") -> PipelineStats:
    store = BucketStore(root, fsync=False)
    if not store.bucket_exists("bucket"):
        store.create_bucket("bucket")
    checks = [0]

    def stop() -> str | None:
        checks[0] += 1
        return reason if stop_after is not None and checks[0] >= stop_after else None

    stats = PipelineStats()
    run_pipeline([_minutes(MINUTES, fail_after)], FakeEngine(), [FL], topology(),
                 {FL.flow_log_id: LocalBucketSink(store)}, stop=stop, threaded=threaded, stats=stats)
    return stats


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("reference")
    _deliver(root)
    objects = _objects(root)
    assert len(objects) >= MINUTES // 5  # one object per 5-minute period
    return objects


@settings(max_examples=30, deadline=None)
@given(stop_after=st.integers(1, MINUTES - 1), threaded=st.booleans(), error=st.booleans())
def test_stopped_run_delivers_only_closed_groups_and_rerun_completes_exactly(
        tmp_path_factory: pytest.TempPathFactory, reference: dict[str, bytes], stop_after: int, threaded: bool,
        error: bool) -> None:
    root = tmp_path_factory.mktemp("interrupted")
    expected = RunInterrupted if not error else SourceError
    with pytest.raises(expected):
        if error:
            _deliver(root, fail_after=stop_after, threaded=threaded)
        else:
            _deliver(root, stop_after=stop_after, threaded=threaded)
    partial = _objects(root)
    # Every object the stopped run delivered is one an uninterrupted run delivers, byte for byte.
    assert partial.items() <= reference.items()
    _deliver(root, threaded=threaded)  # the re-run
    assert _objects(root) == reference


def test_stop_request_raises_with_the_reason_and_stats_account_for_every_record(tmp_path: Path) -> None:
    with pytest.raises(RunInterrupted, match="SIGINT") as info:
        _deliver(tmp_path, stop_after=12)
    assert info.value.reason == "SIGINT"
    stats = _deliver_stats_of_stopped_run(tmp_path / "again", 12)
    fs = stats.flow_logs[FL.flow_log_id]
    assert fs.delivered > 0 and fs.pending > 0 and fs.spooled == 0
    assert fs.delivered + fs.pending == fs.records
    assert fs.delivered_items == len(_objects(tmp_path / "again"))


def _deliver_stats_of_stopped_run(root: Path, stop_after: int) -> PipelineStats:
    stats = PipelineStats()
    store = BucketStore(root, fsync=False)
    store.create_bucket("bucket")
    checks = [0]

    def stop() -> str | None:
        checks[0] += 1
        return "SIGTERM" if checks[0] >= stop_after else None

    with pytest.raises(RunInterrupted):
        run_pipeline([_minutes(MINUTES)], FakeEngine(), [FL], topology(), {FL.flow_log_id: LocalBucketSink(store)},
                     stop=stop, stats=stats)
    return stats


class AbandonRecordingSink(RecordingSink):
    def abandon(self) -> None:
        self.log.append(("abandon",))


@pytest.mark.parametrize("threaded", [False, True])
def test_sinks_are_abandoned_not_closed_when_the_run_stops(threaded: bool) -> None:
    log: list[tuple[object, ...]] = []
    fl = flow_log(ENI1, "NetworkInterface", fmt="${packets} ${start}")
    with pytest.raises(SourceError):
        run_pipeline([_minutes(6, fail_after=3)], FakeEngine(), [fl], topology(),
                     {fl.flow_log_id: AbandonRecordingSink(log)}, threaded=threaded)
    assert log[-1] == ("abandon",) and ("close",) not in log
    assert ("flush", None) not in log  # nothing was flushed as if the input had ended


@settings(max_examples=20, deadline=None)
@given(stops=st.lists(st.tuples(st.integers(1, MINUTES - 1), st.sampled_from(["SIGINT", "SIGTERM", "error"])),
                      min_size=1, max_size=4),
       threaded=st.booleans())
def test_any_sequence_of_interruptions_then_a_clean_run_equals_one_clean_run(
        tmp_path_factory: pytest.TempPathFactory, reference: dict[str, bytes],
        stops: list[tuple[int, str]], threaded: bool) -> None:
    """Issue 13's property, for one input set: run, interrupt (any signal or an error, any moment),
    re-run, ... then a clean run: the destination holds exactly what one clean run delivers."""
    root = tmp_path_factory.mktemp("sequence")
    for at, how in stops:
        with pytest.raises(SourceError if how == "error" else RunInterrupted):
            if how == "error":
                _deliver(root, fail_after=at, threaded=threaded)
            else:
                _deliver(root, stop_after=at, threaded=threaded, reason=how)
        assert _objects(root).items() <= reference.items()
    _deliver(root, threaded=threaded)
    assert _objects(root) == reference
