# numba kernels: njit is an untyped decorator and numpy scalars do not type as int.
# mypy: disable-error-code="untyped-decorator,no-any-return"
"""Compiled group-by of partial records: one pass with an open-addressing hash table.

``fold_rows`` merges rows with equal key rows (every key column compared, so hash collisions only
cost a probe, never a wrong merge) and aggregates them like ``aggregate_groupby.fold``: sums of
packets and bytes, min first second, max last second, OR of flags, and the rule of the earliest
row (highest rule index on a tie, the numpy path's rule). Groups come out in order of first
appearance, so the result is deterministic. Linear time, no sort: this is the hot loop of
aggregation. ``aggregate_groupby.fold_numpy`` is the tested reference it must agree with.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


@njit(cache=True, nogil=True)
def fold_rows(keys, packets, nbytes, first, last, flags, rule):  # type: ignore[no-untyped-def]
    n, k = keys.shape
    cap = 16
    while cap < 2 * n:
        cap <<= 1
    mask = np.uint64(cap - 1)
    table = np.full(cap, -1, np.int64)
    rep = np.empty(n, np.int64)
    o_packets = np.empty(n, np.int64)
    o_bytes = np.empty(n, np.int64)
    o_first = np.empty(n, np.int64)
    o_last = np.empty(n, np.int64)
    o_flags = np.empty(n, np.uint8)
    o_rule = np.empty(n, np.int32)
    g = 0
    for i in range(n):
        h = keys[i, 0] * _M1
        h ^= h >> np.uint64(29)
        for c in range(1, k):
            h = (h ^ keys[i, c]) * _M2
            h ^= h >> np.uint64(32)
        slot = h & mask
        while True:
            j = table[slot]
            if j == -1:
                table[slot] = g
                rep[g] = i
                o_packets[g] = packets[i]
                o_bytes[g] = nbytes[i]
                o_first[g] = first[i]
                o_last[g] = last[i]
                o_flags[g] = flags[i]
                o_rule[g] = rule[i]
                g += 1
                break
            r = rep[j]
            same = True
            for c in range(k):
                if keys[r, c] != keys[i, c]:
                    same = False
                    break
            if same:
                o_packets[j] += packets[i]
                o_bytes[j] += nbytes[i]
                if first[i] < o_first[j]:
                    o_first[j] = first[i]
                    o_rule[j] = rule[i]
                elif first[i] == o_first[j] and rule[i] > o_rule[j]:
                    o_rule[j] = rule[i]
                if last[i] > o_last[j]:
                    o_last[j] = last[i]
                o_flags[j] |= flags[i]
                break
            slot = (slot + np.uint64(1)) & mask
    return g, rep[:g], o_packets[:g], o_bytes[:g], o_first[:g], o_last[:g], o_flags[:g], o_rule[:g]
