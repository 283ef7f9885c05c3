"""The reorder buffer hands its held rows over without a copy when a batch follows them in order, and
gives exactly the batches (rows, timestamps, late count and boundaries) of merging every push."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch
from vpcflow.dataplane.sources._order import Reorderer


class MergingReorderer(Reorderer):
    """The reference: every push merges the held rows with the batch (the buffer before the hand-over)."""

    def _hand_over(self, pending: PacketBatch, batch: PacketBatch) -> PacketBatch | None:
        return None


def batch(ts: list[int], first_id: int) -> PacketBatch:
    cols = {k: np.zeros(len(ts), dtype=t) for k, t in PACKET_DTYPES.items()}
    cols["ts_ns"][:] = ts
    cols["ip_len"][:] = np.arange(first_id, first_id + len(ts))  # tells rows apart
    return PacketBatch(**cols)


def run(r: Reorderer, pushes: list[list[int]]) -> list[tuple[list[int], list[int]] | None]:
    out = []
    first = 0
    for ts in pushes:
        b = r.push(batch(ts, first))
        first += len(ts)
        out.append(None if b is None else (b.ts_ns.tolist(), b.ip_len.tolist()))
    rest = r.flush()
    out.append(None if rest is None else (rest.ts_ns.tolist(), rest.ip_len.tolist()))
    return out


@settings(max_examples=300, deadline=None)
@given(
    pushes=st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=12), min_size=1, max_size=12),
    sorted_runs=st.booleans(), window=st.integers(0, 20), max_held=st.integers(1, 16),
)
def test_hand_over_gives_the_batches_of_merging(pushes: list[list[int]], sorted_runs: bool, window: int,
                                                max_held: int) -> None:
    if sorted_runs:  # mostly in order, as real captures are: the hand-over path
        flat = sorted(t for p in pushes for t in p)
        sizes = [len(p) for p in pushes]
        pushes = [flat[sum(sizes[:i]):sum(sizes[:i + 1])] for i in range(len(sizes))]
    fast, ref = Reorderer(window, max_held), MergingReorderer(window, max_held)
    assert run(fast, pushes) == run(ref, pushes)
    assert fast.late == ref.late


def test_full_batches_in_order_are_handed_over_not_copied() -> None:
    r = Reorderer(window_ns=10**12, max_held=4)
    first, second, third = batch([1, 2, 3, 4], 0), batch([5, 6, 7, 8], 4), batch([9, 9, 9, 9], 8)
    assert r.push(first) is None
    out = r.push(second)
    assert out is not None and np.shares_memory(out.ts_ns, first.ts_ns)  # the held rows themselves
    out = r.push(third)
    assert out is not None and np.shares_memory(out.ts_ns, second.ts_ns)
    rest = r.flush()
    assert rest is not None and np.shares_memory(rest.ts_ns, third.ts_ns)
