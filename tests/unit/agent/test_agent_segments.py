"""A segment source ends once its feed vouches for the segment's end (watermark) or after the feed's
maximum delay; packets past the end are carried into the next segment, every packet journaled first."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from vpcflow.agent.feed import NS, Feed, SegmentSource
from vpcflow.agent.journal import journal_files, read_journal_file
from vpcflow.dataplane.packets import PACKET_DTYPES, Heartbeat, PacketBatch

END = 1_767_225_660


def batch(*ts: float) -> PacketBatch:
    cols = {k: np.zeros(len(ts), dtype=t) for k, t in PACKET_DTYPES.items()}
    cols["ts_ns"] = np.array([round(t * NS) for t in ts], dtype=np.int64)
    return PacketBatch(**cols, interfaces=("eni-0123456789abcdef0",))


class Quiet(Feed):
    max_delay_s = 120.0

    def produce(self) -> None:
        self.stop.wait()


def source(feed: Feed, folder: Path, clock: float) -> SegmentSource:
    return SegmentSource(feed, folder, 0, END, stop=lambda: False, clock=lambda: clock)


def test_a_feed_past_the_end_closes_the_segment_and_carries_the_rest(tmp_path: Path) -> None:
    feed = Quiet("eth0", ("eni-0123456789abcdef0",))
    feed.queue.put(batch(END - 5, END - 1, END + 1, END + 2))
    feed.watermark_ns = (END + 2) * NS
    got = list(source(feed, tmp_path, END - 10).batches())  # the clock has not even reached the end
    assert [list(b.ts_ns // NS) for b in got] == [[END - 5, END - 1]]
    assert [list(b.ts_ns // NS) for b in feed.carry] == [[END + 1, END + 2]]
    journaled = [b for p in journal_files(tmp_path, "eth0") for b in read_journal_file(p)]
    assert [list(b.ts_ns // NS) for b in journaled] == [[END - 5, END - 1]]
    # The next segment starts with the carried packets.
    nxt = SegmentSource(feed, tmp_path / "next", 0, END + 60, stop=lambda: False, clock=lambda: END + 200)
    assert [list(b.ts_ns // NS) for b in nxt.batches() if isinstance(b, PacketBatch)] == [[END + 1, END + 2]]


def test_a_feed_that_cannot_vouch_is_waited_for_its_maximum_delay(tmp_path: Path) -> None:
    feed = Quiet("eth0", ("eni-0123456789abcdef0",))
    assert not source(feed, tmp_path, END + 119)._caught_up()
    assert source(feed, tmp_path, END + 120)._caught_up()
    feed.watermark_ns = END * NS
    assert source(feed, tmp_path, END - 30)._caught_up()


def test_a_quiet_feed_gives_heartbeats_which_are_journaled_and_replayed_in_place(tmp_path: Path) -> None:
    feed = Quiet("eth0", ("eni-0123456789abcdef0",))
    feed.queue.put(batch(END - 50))
    feed.watermark_ns = (END - 50) * NS
    clock = [END - 40.0]
    src = SegmentSource(feed, tmp_path, 0, END, stop=lambda: False, clock=lambda: clock[0])
    it = src.batches()
    assert len(next(it)) == 1
    feed.watermark_ns = (END - 30) * NS  # the live source vouched for a quiet stretch
    assert next(it) == Heartbeat(END - 30)
    it.close()  # the agent is killed here
    again = SegmentSource(feed, tmp_path, 1, END, stop=lambda: False, clock=lambda: END + 300)
    replay = list(again.batches())
    assert [type(x).__name__ for x in replay] == ["PacketBatch", "Heartbeat"]
    assert replay[1] == Heartbeat(END - 30)


def test_a_packet_behind_a_heartbeat_counts_at_the_heartbeat_second(tmp_path: Path) -> None:
    feed = Quiet("eth0", ("eni-0123456789abcdef0",))
    feed.watermark_ns = (END - 30) * NS
    src = SegmentSource(feed, tmp_path, 0, END, stop=lambda: False, clock=lambda: END - 20.0)
    it = src.batches()
    assert next(it) == Heartbeat(END - 30)
    feed.queue.put(batch(END - 31.5, END - 10))  # stamped before the promise (a clock stepped back)
    got = next(it)
    assert list(got.ts_ns) == [(END - 30) * NS, (END - 10) * NS]
    it.close()


def _drain_within(src: SegmentSource, seconds: float) -> list[PacketBatch | Heartbeat]:
    """``src.batches()`` to its end, in a thread: a source that never ends fails instead of hanging."""
    got: list[PacketBatch | Heartbeat] = []
    t = threading.Thread(target=lambda: got.extend(src.batches()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the segment source did not end"
    return got


def test_a_batch_queued_after_the_one_crossing_the_end_is_carried_too(tmp_path: Path) -> None:
    # Traffic across a segment's end, then more within the grace period: the carried rest used to be
    # taken back and split again in a busy loop while the queued batch was never read (the agent hung).
    feed = Quiet("eth0", ("eni-0123456789abcdef0",))
    feed.queue.put(batch(END - 5, END + 1))
    feed.queue.put(batch(END + 3))
    feed.watermark_ns = (END + 2) * NS
    got = _drain_within(source(feed, tmp_path, END - 10), 10)
    assert [list(b.ts_ns // NS) for b in got] == [[END - 5]]
    assert [list(b.ts_ns // NS) for b in feed.carry] == [[END + 1], [END + 3]]
    nxt = SegmentSource(feed, tmp_path / "next", 0, END + 60, stop=lambda: False, clock=lambda: END + 200)
    assert [list(b.ts_ns // NS) for b in _drain_within(nxt, 10)] == [[END + 1], [END + 3]]
    assert not feed.carry


def test_a_batch_behind_the_split_one_still_gives_its_early_packets_to_the_segment(tmp_path: Path) -> None:
    # Frames of several CPUs reach the ring a little out of order: a later batch may still hold packets
    # stamped before the end; they are this segment's, the rest is carried in arrival order.
    feed = Quiet("eth0", ("eni-0123456789abcdef0",))
    feed.queue.put(batch(END - 5, END + 1))
    feed.queue.put(batch(END - 1, END + 2))
    clock = [END - 10.0]
    src = SegmentSource(feed, tmp_path, 0, END, stop=lambda: False, clock=lambda: clock[0])
    it = src.batches()
    assert list(next(it).ts_ns // NS) == [END - 5]
    assert list(next(it).ts_ns // NS) == [END - 1]
    clock[0] = END + 200.0  # past the feed's maximum delay
    assert list(it) == []
    assert [list(b.ts_ns // NS) for b in feed.carry] == [[END + 1], [END + 2]]
