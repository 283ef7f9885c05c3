"""Time order for capture sources: a bounded reorder buffer.

Captures are not always in time order (several capture queues, pcapng files merging interfaces, clock
steps). Sources promise non-decreasing ``ts_ns``, so each reader passes its batches through a
``Reorderer``: packets are held until the newest timestamp seen is ``window_ns`` past them, then emitted
stably sorted. A packet older than what was already emitted (later than the window allows) cannot be put
in its place any more: its timestamp is raised to the last emitted one and it is counted as ``late``
(never dropped, so packet and byte counts are conserved).
"""

from __future__ import annotations

import numpy as np

from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch


class Reorderer:
    def __init__(self, window_ns: int, max_held: int = 1 << 18) -> None:
        self.window_ns = max(0, int(window_ns))
        self.max_held = max(1, int(max_held))
        self.pending: PacketBatch | None = None
        self.emitted_max = np.iinfo(np.int64).min
        self.late = 0

    def push(self, batch: PacketBatch) -> PacketBatch | None:
        """Add a batch; return what can be emitted now (or None)."""
        if len(batch) == 0:
            return None
        pending = self.pending
        if pending is not None and pending.interfaces != batch.interfaces:
            # pcapng interface tables only grow (indexes keep their meaning): relabel what is held
            cols = {k: getattr(pending, k) for k in PACKET_DTYPES}
            pending = PacketBatch(**cols, interfaces=batch.interfaces)
        if pending is not None and (handed := self._hand_over(pending, batch)) is not None:
            return handed
        merged = batch if pending is None else PacketBatch.concat([pending, batch])
        self.pending = None
        ts = merged.ts_ns
        if ts.shape[0] > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
            merged = merged.take(np.argsort(ts, kind="stable"))
            ts = merged.ts_ns
        if ts[0] < self.emitted_max:
            # sorted, so the late packets are a prefix
            k = int(np.searchsorted(ts, self.emitted_max, side="left"))
            self.late += k
            ts[:k] = self.emitted_max
        if self.window_ns == 0:
            out = merged
        else:
            cut = self._emitted(int(np.searchsorted(ts, ts[-1] - self.window_ns, side="right")), ts.shape[0])
            if cut < ts.shape[0]:
                self.pending = merged.take(slice(cut, None))  # type: ignore[arg-type]
            if cut == 0:
                return None
            out = merged.take(slice(0, cut)) if cut < ts.shape[0] else merged  # type: ignore[arg-type]
        self.emitted_max = int(out.ts_ns[-1])
        return out

    def _emitted(self, settled: int, total: int) -> int:
        """How many of ``total`` sorted rows go out now: the ``settled`` ones (at or before the newest
        timestamp minus the window), and never so few that more than ``max_held`` stay held: at high
        packet rates a time window alone would make every push re-copy seconds of traffic."""
        return max(settled, total - self.max_held)

    def _hand_over(self, pending: PacketBatch, batch: PacketBatch) -> PacketBatch | None:
        """``push``'s result without copying: the held rows, when ``batch`` is in order, not before
        them, no larger than ``max_held``, and every held row may go out now. ``batch`` is then held
        whole, even where part of it could go out too (it goes out with the next push, a batch later):
        merging copied every batch once more here, a copy per batch whenever a batch spans more than
        the window (a 65,536-packet batch at 8,000 packets a second spans 8 s, the window 2 s).
        Otherwise None, and ``push`` merges."""
        ts, held = batch.ts_ns, pending.ts_ns
        if self.window_ns == 0 or int(held[-1]) > int(ts[0]) or ts.shape[0] > self.max_held:
            return None
        if ts.shape[0] > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
            return None
        n_held = held.shape[0]
        bound = int(ts[-1]) - self.window_ns
        # the cut over the two (sorted) as one: how many rows are at or before ``bound``
        cut = int(np.searchsorted(held, bound, side="right"))
        if cut == n_held:
            cut += int(np.searchsorted(ts, bound, side="right"))
        if self._emitted(cut, n_held + ts.shape[0]) < n_held:
            return None
        self.pending = batch
        self.emitted_max = int(held[-1])
        return pending

    def flush(self) -> PacketBatch | None:
        """Everything still held (end of the source)."""
        rest, self.pending = self.pending, None
        if rest is not None and len(rest):
            self.emitted_max = int(rest.ts_ns[-1])
            return rest
        return None
