"""A run tunes its allocators (dataplane/allocators.py, issue 10): Arrow's record tables come from the
system allocator, and the threads share one malloc arena (glibc)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from vpcflow.dataplane.allocators import _is_glibc
from vpcflow.runtime.run import execute, prepare_run

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration"))
from run_kit import write_config, write_scenario


def test_a_run_switches_arrow_to_the_system_allocator(tmp_path: Path) -> None:
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    try:
        scenario = write_scenario(tmp_path / "scenario.yaml", seed=3)
        config = write_config(tmp_path / "run.yaml", scenario, duration_s=5)
        result = execute(prepare_run(config, data_dir=tmp_path / "data"))
        assert result is not None
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(before)


ARENAS_CHILD = r"""
import ctypes, sys, threading
from vpcflow.dataplane.allocators import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
together = threading.Barrier(4)
held = []
def work():
    together.wait()  # all four alive at once: none can take over an arena another left
    held.append(libc.malloc(64 * 1024))  # under the mmap threshold: from the thread's arena
    together.wait()
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc.malloc_stats()  # one "Arena N:" paragraph per arena, on stderr
"""


def _arenas(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", ARENAS_CHILD, mode], capture_output=True, text=True, check=True)
    return sum(1 for line in out.stderr.splitlines() if line.startswith("Arena "))


@pytest.mark.skipif(not _is_glibc(), reason="malloc arenas are glibc's")
def test_threads_share_one_malloc_arena_once_limited() -> None:
    assert _arenas("default") > 1  # each allocating thread got its own
    assert _arenas("limit") == 1
