"""Open-addressing hash tables over rows of uint64 words, compiled with numba.

Two uses: ``unique_rows`` gives dense ids to the distinct flow keys of a batch in O(n) (the
engine evaluates rules once per distinct flow, then broadcasts), and ``PersistentMap`` maps keys
to int32 values across batches (the attribution plan cache). Linear probing, power-of-two
capacity, load factor <= 1/2.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]


@njit(cache=True, inline="always")
def _hash_row(keys: U64, i: int) -> np.uint64:
    h = np.uint64(0x9E3779B97F4A7C15)
    for w in range(keys.shape[1]):
        h ^= keys[i, w]
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


@njit(cache=True)
def _unique_rows(keys: U64) -> tuple[I32, npt.NDArray[np.int64]]:
    n = keys.shape[0]
    width = keys.shape[1]
    cap = 16
    while cap < 2 * n:
        cap *= 2
    mask = np.uint64(cap - 1)
    slots = np.full(cap, -1, np.int64)  # -> first row index having that key
    slot_id = np.zeros(cap, np.int32)
    inv = np.empty(n, np.int32)
    first = np.empty(n, np.int64)
    count = 0
    for i in range(n):
        pos = _hash_row(keys, i) & mask
        while True:
            j = slots[pos]
            if j < 0:
                slots[pos] = i
                slot_id[pos] = count
                first[count] = i
                inv[i] = count
                count += 1
                break
            same = True
            for w in range(width):
                if keys[j, w] != keys[i, w]:
                    same = False
                    break
            if same:
                inv[i] = slot_id[pos]
                break
            pos = (pos + np.uint64(1)) & mask
    return inv, first[:count]


def unique_rows(keys: U64) -> tuple[I32, npt.NDArray[np.int64]]:
    """(inverse ids, first row of each id) for the rows of a 2-D uint64 array, ids in first-seen order."""
    if keys.shape[0] == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    return _unique_rows(np.ascontiguousarray(keys))  # type: ignore[no-any-return]


@njit(cache=True)
def _map_lookup(table: U64, vals: I32, keys: U64, out: I32) -> None:
    cap = table.shape[0]
    mask = np.uint64(cap - 1)
    width = keys.shape[1]
    for i in range(keys.shape[0]):
        pos = _hash_row(keys, i) & mask
        out[i] = -1
        while True:
            v = vals[pos]
            if v < 0:
                break
            same = True
            for w in range(width):
                if table[pos, w] != keys[i, w]:
                    same = False
                    break
            if same:
                out[i] = v
                break
            pos = (pos + np.uint64(1)) & mask


@njit(cache=True)
def _map_insert(table: U64, vals: I32, keys: U64, new_vals: I32) -> None:
    cap = table.shape[0]
    mask = np.uint64(cap - 1)
    width = keys.shape[1]
    for i in range(keys.shape[0]):
        pos = _hash_row(keys, i) & mask
        while True:
            if vals[pos] < 0:
                for w in range(width):
                    table[pos, w] = keys[i, w]
                vals[pos] = new_vals[i]
                break
            same = True
            for w in range(width):
                if table[pos, w] != keys[i, w]:
                    same = False
                    break
            if same:
                vals[pos] = new_vals[i]
                break
            pos = (pos + np.uint64(1)) & mask


class PersistentMap:
    """key rows (fixed width) -> int32 >= 0, kept across batches; grows by rehashing."""

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self.width = width
        self.count = 0
        self._alloc(max(16, capacity))

    def _alloc(self, cap: int) -> None:
        self.table = np.zeros((cap, self.width), np.uint64)
        self.vals = np.full(cap, -1, np.int32)

    def lookup(self, keys: U64) -> I32:
        out = np.empty(keys.shape[0], np.int32)
        if keys.shape[0]:
            _map_lookup(self.table, self.vals, np.ascontiguousarray(keys), out)
        return out

    def insert(self, keys: U64, values: I32) -> None:
        """Insert rows that are not present yet (callers look up first)."""
        need = self.count + keys.shape[0]
        if 2 * need > self.table.shape[0]:
            used = self.vals >= 0
            old_keys, old_vals = self.table[used], self.vals[used]
            cap = self.table.shape[0]
            while cap < 2 * need:
                cap *= 2
            self._alloc(cap)
            if old_keys.shape[0]:
                _map_insert(self.table, self.vals, old_keys, old_vals)
        if keys.shape[0]:
            _map_insert(self.table, self.vals, np.ascontiguousarray(keys), values.astype(np.int32))
        self.count = need
