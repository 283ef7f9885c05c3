"""Which allocator Arrow's record tables use during a run (issue 10: peak memory).

pyarrow's default pool (mimalloc) keeps the pages of freed record tables in per-thread heaps and
purges them with many ``madvise`` calls: on the 1m-flows workload's 1,000,000-packet slice it held
about 130 MB more at the peak than the C library's allocator and spent about 0.9 s more system time
(docs/benchmarks.md, "Records path"). A run's record tables are made on one thread and freed on
another, the case per-thread heaps handle worst, so a run switches to the system allocator.
"""

from __future__ import annotations

import pyarrow as pa


def use_system_pool() -> None:
    """Make the system allocator Arrow's default pool from now on (idempotent)."""
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
