"""The reorder buffer hands its held rows over without a copy when a batch follows them in order.

It then holds the batch whole, where merging would have let its settled part go out too: batch
boundaries differ from merging every push, the rows do not. On rows in time order the rows, their
order and timestamps are merging's exactly (no row late); on any rows the output is in time order,
every row comes out once, no more rows stay held than ``max_held``, and no more are late than merging
makes late (a row still held can yet be put in its place).
"""

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


def rows_out(out: list[tuple[list[int], list[int]] | None]) -> tuple[list[int], list[int]]:
    """The emitted rows as one list of timestamps and one of ids, in order."""
    ts = [t for b in out if b is not None for t in b[0]]
    ids = [i for b in out if b is not None for i in b[1]]
    return ts, ids


@settings(max_examples=300, deadline=None)
@given(
    pushes=st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=12), min_size=1, max_size=12),
    sorted_runs=st.booleans(), window=st.integers(0, 20), max_held=st.integers(1, 16),
)
def test_hand_over_gives_the_rows_of_merging(pushes: list[list[int]], sorted_runs: bool, window: int,
                                             max_held: int) -> None:
    if sorted_runs:  # in order, as real captures mostly are: the hand-over path
        flat = sorted(t for p in pushes for t in p)
        sizes = [len(p) for p in pushes]
        pushes = [flat[sum(sizes[:i]):sum(sizes[:i + 1])] for i in range(len(sizes))]
    fast, ref = Reorderer(window, max_held), MergingReorderer(window, max_held)
    got, expected = rows_out(run(fast, pushes)), rows_out(run(ref, pushes))
    assert got[0] == sorted(got[0])
    assert sorted(got[1]) == list(range(sum(len(p) for p in pushes)))
    assert fast.late <= ref.late
    if sorted_runs:
        assert got == expected and fast.late == 0


@settings(max_examples=100, deadline=None)
@given(pushes=st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=12), min_size=1, max_size=12),
       window=st.integers(1, 20), max_held=st.integers(1, 16))
def test_no_more_rows_stay_held_than_max_held(pushes: list[list[int]], window: int, max_held: int) -> None:
    r = Reorderer(window, max_held)
    for i, ts in enumerate(pushes):
        r.push(batch(ts, 100 * i))
        assert r.pending is None or len(r.pending) <= max_held


def test_batches_spanning_more_than_the_window_are_handed_over_not_copied() -> None:
    # each batch spans 4 ns, the window 2: merging copied every one (the settled part of each went
    # out with the held rows); now each goes out whole, one push later, as the same array
    r = Reorderer(window_ns=2, max_held=4)
    first, second, third = batch([1, 2, 3, 4], 0), batch([5, 6, 7, 8], 4), batch([9, 10, 11, 12], 8)
    out = r.push(first)
    assert out is not None and out.ts_ns.tolist() == [1, 2]  # up to the newest minus the window
    out = r.push(second)
    assert out is not None and np.shares_memory(out.ts_ns, first.ts_ns)
    out = r.push(third)
    assert out is not None and np.shares_memory(out.ts_ns, second.ts_ns)


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
