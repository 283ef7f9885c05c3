"""Columnar group-by used by aggregation: rows with equal key columns fold into one partial record.

A partial record holds the key columns (uint64, packed by ``aggregate``) and the running
aggregates: ``packets``, ``bytes``, ``first_s``, ``last_s``, ``flags`` (the OR of mapped TCP
flags, spec 1.4) and ``rule`` (the deciding rule of the earliest packet; side channel only).

``fold`` runs the native single-pass hash-table group-by (``native/src/aggregate/groups.rs``); its
pure-numpy reference lives in the tests as the oracle it is checked against. Folding is associative,
so partials can be re-folded with new rows at any time: this is what keeps memory bounded by active
flows rather than by packets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vpcflow import _native

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]



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


def fold(p: Partials) -> Partials:
    """Merge rows with equal keys: sums, min/max seconds, OR of flags, the earliest row's rule.

    Groups come out in order of first appearance.
    """
    n = len(p)
    if n <= 1:
        return p
    keys = np.stack(p.keys, axis=1) if len(p.keys) > 1 else p.keys[0].reshape(-1, 1)
    c = np.ascontiguousarray
    rep, packets, nbytes, first, last, flags, rule = _native.fold_rows(
        c(keys, np.uint64), c(p.packets, np.int64), c(p.bytes, np.int64), c(p.first_s, np.int64),
        c(p.last_s, np.int64), c(p.flags, np.uint8), c(p.rule, np.int32))
    return Partials(keys=[k[rep] for k in p.keys], packets=packets, bytes=nbytes, first_s=first, last_s=last,
                    flags=flags, rule=rule)


