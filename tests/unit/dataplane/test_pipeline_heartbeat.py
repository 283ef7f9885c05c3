"""Heartbeats (``packets.Heartbeat``) in the pipeline: a source's promise that no later packet is earlier
than a second closes windows and delivers their records (NODATA included) while the source is quiet,
like the end of a batch at that time; with several sources the merge promises the minimum (issue 10
item 6: AWS delivers on time whatever the traffic does)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from agg_testkit import flow_log, packets, topology
from hypothesis import given, settings
from hypothesis import strategies as st
from test_aggregate_pipeline import ENI1, T0, FakeEngine, RecordingSink, tcp

from vpcflow.dataplane.merge import merge_sources
from vpcflow.dataplane.packets import Heartbeat, PacketBatch
from vpcflow.dataplane.pipeline import run_pipeline

FMT = "${interface-id} ${packets} ${start} ${log-status}"
Item = PacketBatch | Heartbeat


def _fl():  # type: ignore[no-untyped-def]
    return flow_log(ENI1, "NetworkInterface", fmt=FMT, interval=60)


def test_a_heartbeat_delivers_the_closed_window_and_the_quiet_ones_nodata_before_the_source_ends() -> None:
    log: list = []

    def source() -> Iterator[Item]:
        yield packets([tcp(T0 + 5), tcp(T0 + 30)])
        log.append(("read", "beat 61"))
        yield Heartbeat(T0 + 61)
        log.append(("read", "beat 185"))
        yield Heartbeat(T0 + 185)
        log.append(("read", "end"))

    fl = _fl()
    stats = run_pipeline([source()], FakeEngine(), [fl], topology(), {fl.flow_log_id: RecordingSink(log)})
    first = log.index(("write", 1, [T0 + 5]))
    assert log.index(("read", "beat 61")) < first < log.index(("read", "beat 185"))
    assert log[first + 1] == ("flush", T0 + 61)
    # minutes 1 and 2 were quiet: their NODATA goes out at the second heartbeat, not at the end
    nodata = log.index(("write", 2, [T0 + 60, T0 + 120]))
    assert log.index(("read", "beat 185")) < nodata < log.index(("read", "end"))
    assert ("flush", T0 + 185) in log
    fs = stats.flow_logs[fl.flow_log_id]
    # the end of the run closes the window the last heartbeat reached (minute 3): NODATA once more
    assert (fs.ok, fs.nodata, stats.packets, stats.batches) == (1, 3, 2, 1)


def test_a_source_quiet_from_the_start_gets_nodata_from_its_first_heartbeat() -> None:
    log: list = []
    fl = _fl()
    beats = [Heartbeat(T0 + 10), Heartbeat(T0 + 70), Heartbeat(T0 + 130)]
    stats = run_pipeline([beats], FakeEngine(), [fl], topology(), {fl.flow_log_id: RecordingSink(log)})
    writes = [e for e in log if e[0] == "write"]
    assert writes == [("write", 1, [T0]), ("write", 1, [T0 + 60]), ("write", 1, [T0 + 120])]
    assert log.index(("write", 1, [T0])) < log.index(("flush", T0 + 130))
    assert stats.packets == 0 and stats.flow_logs[fl.flow_log_id].nodata == 3


def test_threaded_aggregation_gives_the_same_sink_calls_with_heartbeats() -> None:
    def source() -> Iterator[Item]:
        yield packets([tcp(T0 + 5)])
        yield Heartbeat(T0 + 60)
        yield Heartbeat(T0 + 200)
        yield packets([tcp(T0 + 201, sport=7)])

    fl = _fl()
    logs = []
    for threaded in (False, True):
        log: list = []
        run_pipeline([source()], FakeEngine(), [fl], topology(), {fl.flow_log_id: RecordingSink(log)},
                     threaded=threaded)
        logs.append(log)
    assert logs[0] == logs[1]
    assert ("write", 2, [T0 + 60, T0 + 120]) in logs[0]


def test_several_sources_promise_the_minimum_of_their_promises() -> None:
    a: list[Item] = [packets([tcp(T0 + 5)]), Heartbeat(T0 + 130)]
    b: list[Item] = [Heartbeat(T0 + 70), Heartbeat(T0 + 200)]
    out = list(merge_sources([a, b]))
    beats = [x.watermark_s - T0 for x in out if isinstance(x, Heartbeat)]
    # a's batch ends at 5 while b promised 70; then a promises 130 and b 200: the minimum each time
    assert beats == [5, 130]
    assert [len(x) for x in out if isinstance(x, PacketBatch)] == [1]


def test_without_heartbeats_a_multi_source_merge_yields_batches_only() -> None:
    a = [packets([tcp(T0 + t) for t in (1, 4)])]
    b = [packets([tcp(T0 + t) for t in (2, 3)])]
    assert all(isinstance(x, PacketBatch) for x in merge_sources([a, b]))


@st.composite
def _source(draw: st.DrawFn) -> list[Item]:
    """A time-ordered source: batches of packet seconds, heartbeats that keep their promise."""
    items: list[Item] = []
    t = 0
    for _ in range(draw(st.integers(0, 6))):
        t += draw(st.integers(0, 40))
        if draw(st.booleans()):
            items.append(Heartbeat(T0 + t))
        else:
            n = draw(st.integers(1, 4))
            secs = [t + d for d in sorted(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)))]
            t = secs[-1]
            items.append(packets([tcp(T0 + s, sport=1 + len(items)) for s in secs]))
    return items


@settings(max_examples=200, deadline=None)
@given(st.lists(_source(), min_size=1, max_size=4))
def test_merged_heartbeats_are_kept_promises(sources: list[list[Item]]) -> None:
    out = list(merge_sources(sources))
    seen: list[int] = []
    promise = None
    for x in out:
        if isinstance(x, Heartbeat):
            assert promise is None or x.watermark_s > promise  # strictly increasing
            promise = x.watermark_s
            continue
        assert len(x) and bool(np.all(np.diff(x.ts_ns) >= 0))
        if promise is not None:
            assert int(x.ts_ns[0]) >= promise * 1_000_000_000  # no packet behind a promise
        seen.extend((x.ts_ns // 1_000_000_000).tolist())
    want = sorted(int(s) for src in sources for b in src if isinstance(b, PacketBatch)
                  for s in (b.ts_ns // 1_000_000_000).tolist())
    assert seen == want  # every packet once, in time order
    assert (promise is not None) == any(isinstance(i, Heartbeat) for src in sources for i in src)
