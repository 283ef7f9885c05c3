"""Columnar group-by used by aggregation: rows with equal key columns fold into one partial record.

A partial record holds the key columns (uint64, packed by ``aggregate``) and the running
aggregates: ``packets``, ``bytes``, ``first_s``, ``last_s``, ``flags`` (the OR of mapped TCP
flags, spec 1.4) and ``rule`` (the deciding rule of the earliest packet; side channel only).

The fold itself is native: each batch's rows fold into partials (``native/src/aggregate/observe.rs``)
and those into a flow log's open partials across batches (``_native.FoldState``, ``state.rs``); its
pure-numpy reference lives in the tests as the oracle it is checked against. Folding is associative,
so partials can be re-folded with new rows at any time: this is what keeps memory bounded by active
flows rather than by packets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
