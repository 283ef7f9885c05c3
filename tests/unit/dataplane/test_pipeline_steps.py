"""A watermark that passes several window ends closes the windows one end at a time (issue 10: memory).

Records of closed windows are built in one native call per ``advance``. When a batch's watermark
jumps several minutes (the last packets of a capture, a quiet spell, a capture read in one batch),
every window it passed used to be built at once, so the memory of that build grew with the jump.
``Aggregator.steps`` gives the ends to
advance to first; these tests hold that each window then reaches the sinks in a write of its own,
flushed at its end, and that the records are the ones the same traffic gives in small batches.
"""

from __future__ import annotations

from collections.abc import Iterator

from agg_testkit import flow_log, packets, topology
from test_aggregate_pipeline import ENI1, T0, FakeEngine, RecordingSink, tcp

from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.pipeline import run_pipeline

FMT = "${interface-id} ${packets} ${start} ${end} ${log-status}"
MINUTES = 4
#: A write per window: one record each, starting at its first packet's second.
WRITES = [("write", 1, [T0 + 60 * m + 5]) for m in range(MINUTES)] + [("write", 1, [T0 + 60 * MINUTES + 30])]


def _traffic() -> list[dict[str, object]]:
    """Two packets in each of ``MINUTES`` minutes, then one 30 s into the next minute."""
    rows = [tcp(T0 + 60 * m + s) for m in range(MINUTES) for s in (5, 50)]
    return [*rows, tcp(T0 + 60 * MINUTES + 30)]


def _run(batches: list[PacketBatch], interval: int = 60) -> tuple[list, list[list[object]]]:
    log: list = []
    fl = flow_log(ENI1, "NetworkInterface", fmt=FMT, interval=interval)
    tables: list[list[object]] = []

    class Sink(RecordingSink):
        def write(self, fl, table):  # type: ignore[no-untyped-def]
            super().write(fl, table)
            tables.extend(table.to_pylist())

    run_pipeline([iter(batches)], FakeEngine(), [fl], topology(), {fl.flow_log_id: Sink(log)})
    return log, tables


def test_one_batch_over_several_minutes_delivers_each_window_in_its_own_write_flushed_at_its_end() -> None:
    log, _ = _run([packets(_traffic())])
    writes = [e for e in log if e[0] == "write"]
    # one write per window (before: the first MINUTES windows in one write of MINUTES records)
    assert writes == WRITES
    flushes = [log[log.index(w) + 1] for w in WRITES[:MINUTES]]
    # each step's end is its watermark; the last window the batch closed goes with the batch's own
    assert flushes == [("flush", T0 + 60 * (m + 1)) for m in range(MINUTES - 1)] + [("flush", T0 + 60 * MINUTES + 30)]


def test_stepped_windows_are_the_records_small_batches_give_in_the_same_order() -> None:
    rows = _traffic()
    _, at_once = _run([packets(rows)])
    _, one_by_one = _run([packets([r]) for r in rows])
    assert at_once == one_by_one
    assert [r["start"] for r in at_once] == sorted(r["start"] for r in at_once)


def test_windows_of_ten_minutes_step_by_their_own_ends() -> None:
    rows = [tcp(T0 + 600 * w + 7) for w in range(3)]
    log, _ = _run([packets(rows)], interval=600)
    starts = [e[2] for e in log if e[0] == "write"]
    assert len(starts) == 3 and starts == sorted(starts)


def test_a_source_read_in_one_batch_is_stepped_from_its_first_batch() -> None:
    def source() -> Iterator[PacketBatch]:
        yield packets(_traffic())

    log: list = []
    fl = flow_log(ENI1, "NetworkInterface", fmt=FMT, interval=60)
    run_pipeline([source()], FakeEngine(), [fl], topology(), {fl.flow_log_id: RecordingSink(log)},
                 threaded=True)
    assert [e for e in log if e[0] == "write"] == WRITES
