"""Columnar group-by used by aggregation: rows with equal key columns fold into one partial record.

A partial record holds the key columns (uint64, packed by ``aggregate``) and the running
aggregates: ``packets``, ``bytes``, ``first_s``, ``last_s``, ``flags`` (the OR of mapped TCP
flags, spec 1.4) and ``rule`` (the deciding rule of the earliest packet; side channel only).

``fold`` runs the compiled single-pass hash-table kernel (``aggregate_kernels``). ``fold_numpy``
is its pure-numpy reference, kept and tested against it: it hashes the key columns into one uint64,
sorts that single column (quicksort on one array is far cheaper than a lexsort over ten) and then
VERIFIES that every row of a hash group has the same key columns; on a collision it falls back to
an exact lexsort. Neither result depends on the hash. Folding is associative, so partials can be
re-folded with new rows at any time: this is what keeps memory bounded by active flows rather than
by packets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_S29 = np.uint64(29)
_S32 = np.uint64(32)


@dataclass(slots=True)
class Partials:
    """Partial records: ``keys`` (equal-length uint64 columns) plus aggregates, one row per record."""

    keys: list[U64]
    packets: I64
    bytes: I64
    first_s: I64
    last_s: I64
    flags: npt.NDArray[np.uint8]
    rule: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.packets.shape[0])

    def take(self, index: npt.NDArray[np.generic]) -> Partials:
        return Partials(
            keys=[k[index] for k in self.keys],
            packets=self.packets[index],
            bytes=self.bytes[index],
            first_s=self.first_s[index],
            last_s=self.last_s[index],
            flags=self.flags[index],
            rule=self.rule[index],
        )

    @classmethod
    def concat(cls, parts: list[Partials]) -> Partials:
        if len(parts) == 1:
            return parts[0]
        nkeys = len(parts[0].keys)
        return cls(
            keys=[np.concatenate([p.keys[i] for p in parts]) for i in range(nkeys)],
            packets=np.concatenate([p.packets for p in parts]),
            bytes=np.concatenate([p.bytes for p in parts]),
            first_s=np.concatenate([p.first_s for p in parts]),
            last_s=np.concatenate([p.last_s for p in parts]),
            flags=np.concatenate([p.flags for p in parts]),
            rule=np.concatenate([p.rule for p in parts]),
        )

    @classmethod
    def empty(cls, nkeys: int) -> Partials:
        z64 = np.zeros(0, dtype=np.int64)
        return cls(
            keys=[np.zeros(0, dtype=np.uint64) for _ in range(nkeys)],
            packets=z64,
            bytes=z64.copy(),
            first_s=z64.copy(),
            last_s=z64.copy(),
            flags=np.zeros(0, dtype=np.uint8),
            rule=np.zeros(0, dtype=np.int32),
        )


def hash_keys(keys: list[U64]) -> U64:
    """A 64-bit mix of the key columns (splitmix-style); equal keys give equal hashes."""
    with np.errstate(over="ignore"):
        h = keys[0] * _M1
        h ^= h >> _S29
        for col in keys[1:]:
            h = (h ^ col) * _M2
            h ^= h >> _S32
    return h


def _group_order(keys: list[U64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(row order that makes groups contiguous, start offset of each group in that order)."""
    n = keys[0].shape[0]
    h = hash_keys(keys)
    order = np.argsort(h, kind="quicksort")
    hs = h[order]
    same = hs[1:] == hs[:-1]
    collision = False
    for col in keys:
        cs = col[order]
        if np.any((cs[1:] != cs[:-1]) & same):
            collision = True
            break
    if collision:
        # Exact fallback: lexsort on every key column (rare: a 64-bit hash collision in one fold).
        order = np.lexsort(tuple(reversed(keys)))
        diff = np.zeros(max(n - 1, 0), dtype=bool)
        for col in keys:
            cs = col[order]
            diff |= cs[1:] != cs[:-1]
    else:
        diff = ~same
    starts = np.concatenate(([0], np.flatnonzero(diff) + 1)).astype(np.intp)
    return order, starts


def fold(p: Partials) -> Partials:
    """Merge rows with equal keys (the compiled kernel; same result as ``fold_numpy`` up to row order).

    Groups come out in order of first appearance.
    """
    n = len(p)
    if n <= 1:
        return p
    from vpcflow.dataplane.aggregate_kernels import fold_rows

    keys = np.stack(p.keys, axis=1) if len(p.keys) > 1 else p.keys[0].reshape(-1, 1)
    _g, rep, packets, nbytes, first, last, flags, rule = fold_rows(
        np.ascontiguousarray(keys), p.packets, p.bytes, p.first_s, p.last_s, p.flags, p.rule)
    return Partials(keys=[k[rep] for k in p.keys], packets=packets, bytes=nbytes, first_s=first, last_s=last,
                    flags=flags, rule=rule)


def fold_numpy(p: Partials) -> Partials:
    """Merge rows with equal keys: sums, min/max seconds, OR of flags, the earliest row's rule.

    The pure-numpy reference of ``fold`` (hash sort + verified groups); groups in hash order.
    """
    n = len(p)
    if n <= 1:
        return p
    order, starts = _group_order(p.keys)
    first_sorted = p.first_s[order]
    first = np.minimum.reduceat(first_sorted, starts)
    # Rule of the earliest packet: among rows at the group's first second, the highest rule index
    # (deterministic whatever the sort order; rows of one second are indistinguishable in records).
    counts = np.diff(np.append(starts, n))
    at_first = first_sorted == np.repeat(first, counts)
    rule = np.maximum.reduceat(np.where(at_first, p.rule[order], np.int32(-1)), starts).astype(np.int32)
    return Partials(
        keys=[k[order][starts] for k in p.keys],
        packets=np.add.reduceat(p.packets[order], starts),
        bytes=np.add.reduceat(p.bytes[order], starts),
        first_s=first,
        last_s=np.maximum.reduceat(p.last_s[order], starts),
        flags=np.bitwise_or.reduceat(p.flags[order], starts),
        rule=rule,
    )
