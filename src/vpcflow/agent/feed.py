"""Where an agent's packets come from, and how they are cut into wall-clock segments.

A *feed* per capture (a live device, or a directory of rotating capture files) runs in its own
thread and puts ``PacketBatch``es on a queue. For each segment ``[start, end)`` the runner makes a
``SegmentSource`` per feed: it first replays what the journal already holds for that segment (a
restart), then takes batches from the queue, appends each to the journal *before* handing it on,
hands on ``Heartbeat``s while the feed is quiet (so windows close, and NODATA is delivered, on
the wall clock within a segment; journaled in place, so a replay closes them at the same points),
and ends once the feed has shown that no packet stamped before ``end`` is still to come: its
*watermark* (the latest packet time it handed over, or a quiet interval it vouches for) reached
``end`` and the queue is drained. A feed that cannot vouch (a quiet live device before the first
packet after ``end``, a directory where no new file appears) is trusted after ``max_delay_s`` of
wall-clock time past ``end`` (live: ``GRACE_S``, the ring's block timeout and the source's flush
interval with margin; followed files: the configured ``max_delay_s``). Packets stamped at or after
``end`` are carried into the next segment; one stamped before ``end`` that arrives later still is
recorded by the next segment's run (never dropped; docs/agent.md "Guarantees").
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vpcflow.agent.journal import JournalWriter, journal_files, read_journal_file
from vpcflow.dataplane.packets import PACKET_DTYPES, Heartbeat, PacketBatch

#: after a segment's end, how long packets stamped before it may still be on their way (ring block
#: timeout 50 ms, the live source's flush interval, the queue)
GRACE_S = 2.0
NS = 1_000_000_000


class Feed:
    """A capture running in a thread; ``name`` is used in journal file names."""

    #: seconds past a segment's end after which the feed is trusted to have handed over its packets
    max_delay_s: float = GRACE_S

    def __init__(self, name: str, interfaces: tuple[str, ...]) -> None:
        self.name = name
        self.interfaces = interfaces
        #: ns: every packet stamped before it has been put on the queue (set after the put)
        self.watermark_ns = 0
        self.queue: queue.Queue[PacketBatch | BaseException] = queue.Queue(maxsize=256)
        self.carry: list[PacketBatch] = []
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._guarded, name=f"vpcflow-agent-{self.name}", daemon=True)
        self.thread.start()

    def _guarded(self) -> None:
        try:
            self.produce()
        except BaseException as e:  # handed to the segment source, which re-raises it
            self.queue.put(e)

    def produce(self) -> None:
        raise NotImplementedError

    def put(self, batch: PacketBatch) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


class LiveFeed(Feed):
    """A live device through the native ring (``dataplane/sources/live.py``), labelled with its ENI."""

    def __init__(self, device: str, eni: str) -> None:
        super().__init__(device, (eni,))
        from vpcflow.dataplane.sources.live import LiveConfig, LiveSource

        self.source = LiveSource(LiveConfig(device, interface=eni, flush_s=0.25))
        self.source.stop_requested = self.stop.is_set

    def start(self) -> None:
        self.source.open()  # errors (no device, no permission) now, in the caller's thread
        super().start()

    def produce(self) -> None:
        for batch in self.source.batches():
            if isinstance(batch, PacketBatch):
                if len(batch):
                    self.put(batch)
                    # A second of margin: frames of several CPUs reach the ring a little out of order.
                    self.watermark_ns = max(self.watermark_ns, int(batch.ts_ns[-1]) - NS)
            else:  # a Heartbeat (dataplane/packets.py): quiet up to its watermark
                self.watermark_ns = max(self.watermark_ns, int(batch.watermark_s) * NS)


class FollowFeed(Feed):
    """A directory of rotating capture files (pcap, pcapng, gzip), read in name order.

    A file is read once it is complete: a newer file exists beside it, or it has not changed for
    ``settle_s``. Progress (files done, packets of the file being read) lives in ``progress``, a
    callable pair the runner backs with the state directory, updated only after the packets were
    journaled, so a restart neither skips nor repeats a packet.
    """

    def __init__(self, directory: Path, eni: str, settle_s: float, done: Callable[[], dict[str, int]], *,
                 max_delay_s: float = 120.0) -> None:
        super().__init__("follow", (eni,))
        self.directory, self.eni, self.settle_s, self.done = directory, eni, settle_s, done
        self.max_delay_s = max_delay_s

    def _complete(self) -> list[Path]:
        files = sorted(p for p in self.directory.iterdir() if p.is_file() and not p.name.startswith("."))
        out = []
        for i, p in enumerate(files):
            if i + 1 < len(files) or time.time() - p.stat().st_mtime >= self.settle_s:
                out.append(p)
        return out

    def produce(self) -> None:
        from vpcflow.dataplane.sources.capture import CaptureSource
        from vpcflow.dataplane.sources.pcap import CaptureConfig

        seen = dict(self.done())
        while not self.stop.is_set():
            for path in self._complete():
                if seen.get(path.name) == -1:
                    continue
                skip = seen.get(path.name, 0)
                for batch in CaptureSource(CaptureConfig(str(path), interface=self.eni)).batches():
                    if skip >= len(batch):
                        skip -= len(batch)
                        continue
                    if skip:
                        batch, skip = batch.take(np.arange(skip, len(batch))), 0
                    self.put(_Tagged.tag(batch, path.name))
                    if self.stop.is_set():
                        return
                    last_ns = int(batch.ts_ns[-1]) if len(batch) else 0
                    # Files rotate in time order: the next file's packets come after this file's last one.
                    self.watermark_ns = max(self.watermark_ns, last_ns)
                self.put(_Tagged.tag(PacketBatch.empty(self.interfaces), path.name, last=True))
                seen[path.name] = -1
            self.stop.wait(0.5)


class _Tagged:
    """Which followed file a batch came from (for progress), kept beside the batch."""

    origin: ClassVar[dict[int, tuple[str, bool]]] = {}

    @classmethod
    def tag(cls, batch: PacketBatch, name: str, last: bool = False) -> PacketBatch:
        cls.origin[id(batch)] = (name, last)
        return batch

    @classmethod
    def pop(cls, batch: PacketBatch) -> tuple[str, bool] | None:
        return cls.origin.pop(id(batch), None)


def _not_before(batch: PacketBatch, said_s: int) -> PacketBatch:
    """A packet stamped before a heartbeat already handed on counts at that second (as the live
    source does with its own): a window the pipeline closed is never reopened."""
    floor = np.int64(said_s) * NS
    if int(batch.ts_ns[0]) >= floor:
        return batch
    cols = {k: getattr(batch, k) for k in PACKET_DTYPES}
    cols["ts_ns"] = np.maximum(batch.ts_ns, floor)
    return PacketBatch(**cols, interfaces=batch.interfaces)


class SegmentSource:
    """One feed's packets of one segment (see the module docstring)."""

    def __init__(self, feed: Feed, folder: Path, incarnation: int, end_s: int, *,
                 stop: Callable[[], bool], clock: Callable[[], float] = time.time,
                 journaled: Callable[[str, int, bool], None] | None = None) -> None:
        self.feed, self.folder, self.incarnation, self.end_s = feed, folder, incarnation, end_s
        self.stop, self.clock, self.journaled = stop, clock, journaled
        self.interfaces = feed.interfaces
        self._writer: JournalWriter | None = None
        self._said_s = -1  # the last heartbeat handed on
        self._pending: list[PacketBatch] = []  # carried from the previous segment, not yet handed on

    def _caught_up(self) -> bool:
        """No packet stamped before the end is still to come from the feed (module docstring)."""
        return (self.feed.watermark_ns >= self.end_s * NS
                or self.clock() >= self.end_s + self.feed.max_delay_s)

    def replayed(self) -> Iterator[PacketBatch | Heartbeat]:
        for path in journal_files(self.folder, self.feed.name):
            for item in read_journal_file(path):
                if isinstance(item, Heartbeat):
                    self._said_s = max(self._said_s, item.watermark_s)
                yield item

    def _writer_for(self) -> JournalWriter:
        if self._writer is None:
            self._writer = JournalWriter(self.folder, f"{self.incarnation}-{self.feed.name}", self.interfaces)
        return self._writer

    def _journal(self, batch: PacketBatch) -> None:
        self._writer_for().append(batch)

    def _heartbeat(self) -> Heartbeat | None:
        """While the feed is quiet: the second up to which it vouches (within the segment), once."""
        # Below the end: a heartbeat AT the end would count as a second of the next window (NODATA there).
        said = min(self.feed.watermark_ns // NS, self.end_s - 1)
        if said <= self._said_s or not self.feed.queue.empty() or self._pending:
            return None  # the watermark was read first: an empty queue then holds nothing before it
        self._said_s = said
        self._writer_for().append_heartbeat(said)
        return Heartbeat(said)

    def _split(self, batch: PacketBatch) -> PacketBatch:
        """The part of ``batch`` before the end; the rest is carried into the next segment."""
        cut = int(np.searchsorted(batch.ts_ns, self.end_s * NS, side="left"))
        if cut < len(batch):
            self.feed.carry.append(batch.take(np.arange(cut, len(batch))))
            batch = batch.take(np.arange(0, cut))
        return batch

    def _next(self) -> PacketBatch | None:
        # What the previous segment carried comes first; what this one splits off waits for the next
        # (taking it back here would split it again forever while the queue is never read).
        if self._pending:
            return self._pending.pop(0)
        try:
            item = self.feed.queue.get(timeout=0.2)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def batches(self) -> Iterator[Any]:
        yield from self.replayed()
        self._pending, self.feed.carry = self.feed.carry, []
        try:
            while not self.stop():
                if not self._pending and self._caught_up() and self.feed.queue.empty():
                    return  # the run's end closes the segment's last windows (AggregateOptions.end_s)
                got = self._next()
                if got is None:
                    hb = self._heartbeat()
                    if hb is not None:  # windows close on the wall clock while the interface is quiet
                        yield hb
                    continue
                origin = _Tagged.pop(got)
                part = self._split(got) if len(got) else got
                if origin is not None and len(part) < len(got):
                    _Tagged.tag(self.feed.carry[-1], origin[0])  # counted when the next segment journals it
                if len(part) and self._said_s >= 0:
                    part = _not_before(part, self._said_s)
                if len(part):
                    self._journal(part)
                if origin is not None and self.journaled is not None:
                    self.journaled(origin[0], len(part), origin[1])
                if len(part):
                    yield part
        finally:
            self.feed.carry[:0] = self._pending  # stopped early: still the next segment's first
            self._pending = []
            if self._writer is not None:
                self._writer.close()
