"""The streaming pass: observation rows handed from the decision pass to the fold inside the core.

The generic hand-over materialises each batch's observations as an ``ObservationBatch`` (about
twenty numpy columns: the decision pass's output, then a gather per flow-point field) only for
every flow log's fold to read them back. With the pipeline's ``single_pass`` switch
(``run_pipeline(single_pass=True)``; ``vpcflow run`` sets it unless a tap wants the observation
batches) the engine's ``observe_native`` gathers the decision rows straight into core-owned
buffers (``_native.decide_observe``, GIL released) and each flow log folds them there
(``_native.fold_observations``): Python sees only the partial records the fold emits, with the
deciding rule of each (the side channel's), and the same records come out (``tests/unit/dataplane/
test_single_pass.py`` compares the two paths). ``native/src/stream/`` is the native half.
"""

from __future__ import annotations

from dataclasses import dataclass

from vpcflow import _native
from vpcflow.dataplane.packets import PacketBatch


@dataclass(frozen=True, slots=True)
class NativeObservations:
    """One batch's observations held by the native core, plus what aggregation maps them with."""

    packets: PacketBatch
    rows: _native.Observations
    enis: tuple[str, ...]  # engine ENI index -> interface id
    rules: tuple[str, ...]  # rule index -> rule text
    services: tuple[str, ...]  # service code -> ip-ranges service name

    def __len__(self) -> int:
        return len(self.rows)


__all__ = ["NativeObservations"]
