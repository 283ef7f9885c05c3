"""How a run's memory is allocated (issue 10: peak memory follows the work, not the allocators).

One setting, made once when a run starts (``tune_allocators``):

* **Arrow's pool**: pyarrow's default (mimalloc) keeps the pages of freed record tables in
  per-thread heaps and purges them with many ``madvise`` calls. A run's record tables are made on
  the aggregation thread and freed on another, the case per-thread heaps handle worst: on a
  1,000,000-packet slice of the 1m-flows workload it held about 130 MB more at the peak than the C
  library's allocator and spent about 0.9 s more system time. A run uses the system allocator.

Not done: fixing glibc's mmap threshold (``mallopt(M_MMAP_THRESHOLD)``) so that large freed arrays go
back to the system saved 50-120 MB at the peak of the 1m-flows workload but cost 0.3 s of system time
(page faults of fresh mappings) on the 5,000,000-packet run, 13% of its wall time: speed won.

Figures in docs/benchmarks.md, "Records path, 2026-12-04 evening".
"""

from __future__ import annotations

import pyarrow as pa


def use_system_pool() -> None:
    """Make the system allocator Arrow's default pool from now on (idempotent)."""
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def tune_allocators() -> None:
    """The setting above; called when a run starts."""
    use_system_pool()
