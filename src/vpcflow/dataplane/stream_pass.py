"""The streaming pass: observation rows handed from the decision pass to the fold inside the core.

The generic hand-over materialises each batch's observations as an ``ObservationBatch`` (about
twenty numpy columns: the decision pass's output, then a gather per flow-point field) only for
every flow log's fold to read them back. With the pipeline's ``single_pass`` switch
(``run_pipeline(single_pass=True)``; ``vpcflow run`` sets it unless a tap wants the observation
batches) the engine's ``observe_native`` gathers the decision rows straight into core-owned
buffers (``_native.decide_observe``, GIL released) and each flow log folds them there, straight
into its open partial records (``FoldState.fold``): Python sees only the records of the windows
that close, with the deciding rule of each (the side channel's), and the same records come out (``tests/unit/dataplane/
test_single_pass.py`` compares the two paths). ``native/src/stream/`` is the native half.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from vpcflow import _native
from vpcflow.dataplane.packets import PacketBatch


@dataclass(frozen=True, slots=True)
class FoldPackets:
    """The packet columns the fold reads (``aggregate/aggregator._packet_columns``): 19 of a packet's
    58 bytes. A batch waiting for aggregation keeps only these (``NativeObservations.for_fold``):
    the addresses, ICMP, fragment and interface columns go when the engine is done with the batch,
    about 2.5 MB per queued batch of 65,536 packets (docs/benchmarks.md, "Memory of a run with a
    million flows")."""

    ts_ns: npt.NDArray[np.int64]
    protocol: npt.NDArray[np.uint8]
    src_port: npt.NDArray[np.uint16]
    dst_port: npt.NDArray[np.uint16]
    ip_version: npt.NDArray[np.uint8]
    ip_len: npt.NDArray[np.uint32]
    tcp_flags: npt.NDArray[np.uint8]

    @classmethod
    def of(cls, batch: PacketBatch) -> FoldPackets:
        return cls(ts_ns=batch.ts_ns, protocol=batch.protocol, src_port=batch.src_port, dst_port=batch.dst_port,
                   ip_version=batch.ip_version, ip_len=batch.ip_len, tcp_flags=batch.tcp_flags)

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])


@dataclass(frozen=True, slots=True)
class NativeObservations:
    """One batch's observations held by the native core, plus what aggregation maps them with."""

    packets: PacketBatch | FoldPackets
    rows: _native.Observations
    enis: tuple[str, ...]  # engine ENI index -> interface id
    rules: tuple[str, ...]  # rule index -> rule text
    services: tuple[str, ...]  # service code -> ip-ranges service name

    def __len__(self) -> int:
        return len(self.rows)

    def for_fold(self) -> NativeObservations:
        """The same observations holding only the packet columns the fold reads (``FoldPackets``)."""
        if isinstance(self.packets, FoldPackets):
            return self
        return replace(self, packets=FoldPackets.of(self.packets))


__all__ = ["FoldPackets", "NativeObservations"]
