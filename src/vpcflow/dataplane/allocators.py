"""How a run's memory is allocated (issue 10: peak memory follows the work, not the allocators).

Two settings, both made once when a run starts (``tune_allocators``):

* **Arrow's pool**: pyarrow's default (mimalloc) keeps the pages of freed record tables in
  per-thread heaps and purges them with many ``madvise`` calls. A run's record tables are made on
  the aggregation thread and freed on another, the case per-thread heaps handle worst: on a
  1,000,000-packet slice of the 1m-flows workload it held about 130 MB more at the peak than the C
  library's allocator and spent about 0.9 s more system time. A run uses the system allocator.
* **glibc's mmap threshold**: glibc serves an allocation above the threshold with its own mapping,
  returned to the system when freed; but each such free raises the threshold (up to 32 MiB), after
  which the run's many 1-30 MB column arrays come from the heap, whose free space fragments and is
  seldom given back. A fixed threshold (``MMAP_THRESHOLD``) stops that drift: about 90 MB less at
  the peak on the same slice, for some more system time (page faults of fresh mappings). Only on
  glibc; elsewhere nothing changes.

Figures in docs/benchmarks.md, "Records path, 2026-12-04 evening".
"""

from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa

#: Allocations at or above this many bytes get their own mapping (glibc ``M_MMAP_THRESHOLD``).
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def use_system_pool() -> None:
    """Make the system allocator Arrow's default pool from now on (idempotent)."""
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))


def tune_allocators() -> None:
    """Both settings above; called when a run starts."""
    use_system_pool()
    fix_mmap_threshold()
