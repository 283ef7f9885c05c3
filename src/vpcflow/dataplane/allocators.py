"""How a run's memory is allocated (issue 10: peak memory follows the work, not the allocators).

Two settings, made when a run starts (``tune_allocators``; the CLI limits the arenas even earlier,
before its first thread):

* **Arrow's pool**: pyarrow's default (mimalloc) keeps the pages of freed record tables in
  per-thread heaps and purges them with many ``madvise`` calls. A run's record tables are made on
  the aggregation thread and freed on another, the case per-thread heaps handle worst: on a
  1,000,000-packet slice of the 1m-flows workload it held about 130 MB more at the peak than the C
  library's allocator and spent about 0.9 s more system time. A run uses the system allocator.
* **One malloc arena** (glibc; ``limit_malloc_arenas``): glibc gives each thread that allocates
  its own arena, and an arena keeps the memory freed in it for its own thread's later use. A run
  has four such threads (the engine, the read-ahead of the next batch, aggregation and delivery,
  compression), each freeing column arrays of a few MB per batch: every arena then held its own
  high-water mark. With one arena the same 1,000,000-packet capture peaked at 505 MiB instead of
  577 MiB, a 2,500,000-packet one at 743 MiB instead of 836 MiB, for the same CPU time (the large
  arrays are allocated a few times per batch, so the shared lock is not contended). Elsewhere
  than glibc nothing is changed.

Not done: fixing glibc's mmap threshold (``mallopt(M_MMAP_THRESHOLD)``) so that large freed arrays go
back to the system saved 50-120 MB at the peak of the 1m-flows workload but cost 0.3 s of system time
(page faults of fresh mappings) on the 5,000,000-packet run, 13% of its wall time: speed won. A
fixed trim threshold (1 MiB) did as well for memory and cost more system time still. Measured again
on 2026-12-05 after the morning's changes (1m-flows, single runs): a fixed mmap threshold of 1 MiB
gave 506-512 MiB instead of 565-580 MiB but 1.3-1.5 s more system time (a fresh page costs a fault
on these virtual machines); 256 KiB 492 MiB for +2.3 s; glibc's transparent huge pages
(``glibc.malloc.hugetlb``) +4 s; Arrow's jemalloc or mimalloc pool for the held records, or
``malloc_trim`` when a group closes: no smaller peak. Tried again later that morning with the
smaller working set below: mmap thresholds of 2, 4 and 8 MiB (and a 64 MiB trim threshold) gave
515-569 MiB for 0.5-1.1 s more system time, Arrow's jemalloc pool no lower peak, its mimalloc pool
a higher one and 1.1 s more system time, ``malloc_trim`` before a group's sort no lower peak.

What brought the 1m-flows peak under 512 MiB (468 MiB) was less memory in use, not another
allocator: batches of 65,536 packets and flow-cache resets at 65,536 flows, the flow cache keeping
its room across resets, each batch folded straight into the open windows, the reorder buffer no
longer copying each batch, and held records in 8-bit dictionaries (docs/benchmarks.md, "2026-12-05,
late morning: 1m-flows under 512 MiB").

Figures in docs/benchmarks.md, "Records path, 2026-12-04 evening" and "Memory of a run with a
million flows".
"""

from __future__ import annotations

import ctypes
import os

#: glibc's ``mallopt`` parameter for the most arenas (``M_ARENA_MAX`` in malloc.h).
M_ARENA_MAX = -8

_arenas_limited = False


def _is_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):  # not a glibc system: the name is unknown there
        return False


def limit_malloc_arenas() -> bool:
    """One malloc arena for every thread made from now on (glibc); whether it is in force. Idempotent."""
    global _arenas_limited
    if _arenas_limited:
        return True
    if not _is_glibc():
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _arenas_limited = bool(mallopt(M_ARENA_MAX, 1) == 1)
    return _arenas_limited


def use_system_pool() -> None:
    """Make the system allocator Arrow's default pool from now on (idempotent)."""
    import pyarrow as pa  # here: the CLI calls limit_malloc_arenas before its slower imports

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def tune_allocators() -> None:
    """The settings above; called when a run starts."""
    limit_malloc_arenas()
    use_system_pool()
