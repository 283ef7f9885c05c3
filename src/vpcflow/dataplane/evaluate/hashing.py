# numba kernels: numpy scalar arithmetic does not type as ``int`` and njit is an untyped decorator.
# mypy: disable-error-code="untyped-decorator,return-value,no-any-return"
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


@njit(cache=True, inline="always")
def _map_slot(table: U64, vals: I32, keys: U64, i: int, mask: np.uint64) -> np.uint64:
    """The slot of row ``i`` of ``keys`` in the map: where it is stored, or the empty slot that ends its probe."""
    width = keys.shape[1]
    pos = _hash_row(keys, i) & mask
    while vals[pos] >= 0:
        same = True
        for w in range(width):
            if table[pos, w] != keys[i, w]:
                same = False
                break
        if same:
            break
        pos = (pos + np.uint64(1)) & mask
    return pos


@njit(cache=True)
def _map_lookup(table: U64, vals: I32, keys: U64, out: I32) -> None:
    mask = np.uint64(table.shape[0] - 1)
    for i in range(keys.shape[0]):
        out[i] = vals[_map_slot(table, vals, keys, i, mask)]  # -1 at an empty slot: not present


@njit(cache=True)
def _map_insert(table: U64, vals: I32, keys: U64, new_vals: I32) -> None:
    mask = np.uint64(table.shape[0] - 1)
    for i in range(keys.shape[0]):
        pos = _map_slot(table, vals, keys, i, mask)
        if vals[pos] < 0:
            for w in range(keys.shape[1]):
                table[pos, w] = keys[i, w]
        vals[pos] = new_vals[i]


class PersistentMap:
    """key rows (fixed width) -> int32 >= 0, kept across batches; grows by rehashing."""

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self.width = width
        self.count = 0
        self._alloc(max(16, capacity))

    def _alloc(self, cap: int) -> None:
        # Probing masks positions with `cap - 1`: the capacity must be a power of two, or some slots are
        # unreachable and a probe can cycle forever among occupied ones.
        cap = 1 << max(4, (cap - 1).bit_length())
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


@njit(cache=True, inline="always")
def map_get2(table: U64, vals: I32, a: np.uint64, b: np.uint64) -> np.int32:
    """Value of the 2-word key (a, b) in a ``PersistentMap(2)``'s arrays, or -1 (usable from kernels)."""
    cap = table.shape[0]
    mask = np.uint64(cap - 1)
    h = np.uint64(0x9E3779B97F4A7C15)
    h ^= a
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(31)
    h ^= b
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(31)
    pos = h & mask
    while True:
        v = vals[pos]
        if v < 0:
            return np.int32(-1)
        if table[pos, 0] == a and table[pos, 1] == b:
            return v
        pos = (pos + np.uint64(1)) & mask


@njit(cache=True, inline="always")
def _flow_words(label: np.int32, proto: np.uint8, frag2: np.bool_, sport: np.uint16, dport: np.uint16,
                itype: np.int16, icode: np.int16) -> tuple[np.uint64, np.uint64]:
    k0 = (np.uint64(label + 1) << np.uint64(48)) | (np.uint64(proto) << np.uint64(40)) \
        | (np.uint64(1 if frag2 else 0) << np.uint64(39))
    k1 = (np.uint64(sport) << np.uint64(48)) | (np.uint64(dport) << np.uint64(32)) \
        | (np.uint64((itype + 1) & 0xFFFF) << np.uint64(16)) | np.uint64((icode + 1) & 0xFFFF)
    return k0, k1


@njit(cache=True)
def flow_keys(label, proto, frag2, sport, dport, itype, icode, s_hi, s_lo, d_hi, d_lo):  # type: ignore[no-untyped-def]
    """The 6-word flow key of each packet (capture ENI, protocol, ports/ICMP, addresses)."""
    n = label.shape[0]
    out = np.empty((n, 6), np.uint64)
    for i in range(n):
        k0, k1 = _flow_words(label[i], proto[i], frag2[i], sport[i], dport[i], itype[i], icode[i])
        out[i, 0] = k0
        out[i, 1] = k1
        out[i, 2] = s_hi[i]
        out[i, 3] = s_lo[i]
        out[i, 4] = d_hi[i]
        out[i, 5] = d_lo[i]
    return out


@njit(cache=True)
def flow_lookup(label, proto, frag2, sport, dport, itype, icode, s_hi, s_lo, d_hi, d_lo,  # type: ignore[no-untyped-def]
                table, vals):
    """Flow id of each packet in a ``PersistentMap(6)`` of flow keys, -1 when new (no key matrix built)."""
    n = label.shape[0]
    out = np.empty(n, np.int32)
    cap = table.shape[0]
    mask = np.uint64(cap - 1)
    for i in range(n):
        k0, k1 = _flow_words(label[i], proto[i], frag2[i], sport[i], dport[i], itype[i], icode[i])
        h = np.uint64(0x9E3779B97F4A7C15)
        for w in (k0, k1, s_hi[i], s_lo[i], d_hi[i], d_lo[i]):
            h ^= w
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(31)
        pos = h & mask
        out[i] = -1
        while True:
            v = vals[pos]
            if v < 0:
                break
            if table[pos, 0] == k0 and table[pos, 1] == k1 and table[pos, 2] == s_hi[i] \
                    and table[pos, 3] == s_lo[i] and table[pos, 4] == d_hi[i] and table[pos, 5] == d_lo[i]:
                out[i] = v
                break
            pos = (pos + np.uint64(1)) & mask
    return out
