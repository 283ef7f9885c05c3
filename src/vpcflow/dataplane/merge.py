"""The data plane's input side: sources merged into one time-ordered stream, and read ahead.

- **Merge** (``merge_sources``): every source yields ``PacketBatch``es in non-decreasing time; the
  merge interleaves them columnar-wise (the rows up to the earliest "last timestamp" among the sources'
  current batches, stably sorted), remapping each source's capture-interface labels into one table. A
  source may yield ``Heartbeat``s; once any has, the merged stream carries the minimum over the sources.
- **Read-ahead** (``prefetch``): a thread pulls the next batches while the current one is evaluated.

``pipeline.py`` chains these with the policy engine, aggregation and the sinks.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vpcflow.dataplane.packets import PACKET_DTYPES, Heartbeat, PacketBatch


def _as_batches(source: Any) -> Iterator[PacketBatch]:
    if hasattr(source, "batches"):
        return iter(source.batches())
    return iter(source)


def _remap_interfaces(batch: PacketBatch, labels: dict[str, int], table: list[str]) -> npt.NDArray[np.int16]:
    """The batch's ``iface`` column as indexes into the merged interface table."""
    if not batch.interfaces:
        return batch.iface
    lut = np.empty(len(batch.interfaces), dtype=np.int16)
    for i, label in enumerate(batch.interfaces):
        idx = labels.get(label)
        if idx is None:
            idx = labels[label] = len(table)
            table.append(label)
        lut[i] = idx
    return np.where(batch.iface >= 0, lut[np.maximum(batch.iface, 0)], np.int16(-1)).astype(np.int16)



def merge_sources(sources: Sequence[Any]) -> Iterator[PacketBatch | Heartbeat]:
    """K-way merge of time-ordered sources into time-ordered batches (columnar, stable on ties).

    A source may yield ``Heartbeat``s between its batches. Once any source has, the merge yields a
    heartbeat whenever the time below which no source can still produce a row (the minimum over the
    sources of their next row, their last heartbeat or their last row) moves on a second.
    """
    iters = [_as_batches(s) for s in sources]
    labels: dict[str, int] = {}
    table: list[str] = []
    current: list[PacketBatch | None] = [None] * len(iters)
    done = [False] * len(iters)

    def pull(i: int) -> Heartbeat | None:
        """Source i's next non-empty batch into ``current[i]``, or its next heartbeat (returned)."""
        while True:
            try:
                b = next(iters[i])
            except StopIteration:
                done[i] = True
                return None
            if isinstance(b, Heartbeat):
                return b
            if len(b):
                cols = {k: getattr(b, k) for k in PACKET_DTYPES}
                cols["iface"] = _remap_interfaces(b, labels, table)
                current[i] = PacketBatch(**cols)
                return None

    if len(iters) == 1:
        # One source: nothing to interleave, only the interface table to carry.
        said_s: int | None = None
        while True:
            hb = pull(0)
            if hb is not None:
                if said_s is None or hb.watermark_s > said_s:  # a repeated promise says nothing new
                    said_s = hb.watermark_s
                    yield hb
                continue
            if (b := current[0]) is None:
                return
            current[0] = None
            yield PacketBatch(**{k: getattr(b, k) for k in PACKET_DTYPES}, interfaces=tuple(table))
    yield from _merge_many(pull, current, done, table)


def _merge_many(pull: Callable[[int], Heartbeat | None], current: list[PacketBatch | None], done: list[bool],
                table: list[str]) -> Iterator[PacketBatch | Heartbeat]:
    # bound[i]: no later row of source i is earlier than this (its last heartbeat or its last row, ns)
    bound: list[int] = [-(1 << 62)] * len(current)
    heard = False
    said_s: int | None = None
    while True:
        for i in range(len(current)):
            if current[i] is None and not done[i]:
                hb = pull(i)
                if hb is not None:
                    heard = True
                    bound[i] = max(bound[i], hb.watermark_s * 1_000_000_000)
        live = [i for i in range(len(current)) if not done[i] or current[i] is not None]
        if not live:
            return
        heads = {i: int(b.ts_ns[-1]) if (b := current[i]) is not None else bound[i] for i in live}
        cutoff = min(heads.values())
        parts: list[PacketBatch] = []
        for i in live:
            b = current[i]
            if b is None:
                continue
            k = int(np.searchsorted(b.ts_ns, cutoff, side="right"))
            if k == 0:
                continue
            parts.append(b.take(slice(0, k)) if k < len(b) else b)  # type: ignore[arg-type]
            if k < len(b):
                current[i] = b.take(np.arange(k, len(b)))
            else:
                bound[i] = max(bound[i], int(b.ts_ns[-1]))
                current[i] = None
        if parts:
            merged = PacketBatch.concat(parts)
            if len(parts) > 1:
                merged = merged.take(np.argsort(merged.ts_ns, kind="stable"))
            yield PacketBatch(**{k: getattr(merged, k) for k in PACKET_DTYPES}, interfaces=tuple(table))
        if heard:
            low = min(int(b.ts_ns[0]) if (b := current[i]) is not None else bound[i] for i in live)
            low_s = low // 1_000_000_000
            if low_s > 0 and (said_s is None or low_s > said_s):
                said_s = low_s
                yield Heartbeat(low_s)


_DONE = object()


def prefetch(batches: Iterator[PacketBatch | Heartbeat], depth: int) -> Iterator[PacketBatch | Heartbeat]:
    """Read ``batches`` in a background thread, ``depth`` batches ahead.

    Capture parsing (file reads, compiled kernels, numpy) mostly runs without the GIL, so reading the
    next batches overlaps with evaluating and aggregating the current one on a second core. An error
    in the source is re-raised here, in order, after the batches before it.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def work() -> None:
        try:
            for b in batches:
                while not stop.is_set():
                    try:
                        q.put(b, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as e:  # handed to the consumer, which re-raises it
            q.put(e)

    t = threading.Thread(target=work, name="vpcflow-source-prefetch", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=5)
