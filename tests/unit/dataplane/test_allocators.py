"""A run tunes its allocators (dataplane/allocators.py, issue 10): Arrow's record tables come from the
system allocator, and glibc's mmap threshold stays fixed instead of drifting up to 32 MiB."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

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


# In a fresh process: free a 16 MiB block (glibc then raises its threshold to 16 MiB), then allocate
# 2 MiB and report whether that block got its own mapping: the IS_MMAPPED bit (2) of the size word
# glibc keeps just before the block (its chunk header; other threads' allocations cannot blur it).
_PROBE = textwrap.dedent("""
    import ctypes, ctypes.util, sys
    from vpcflow.dataplane.allocators import fix_mmap_threshold
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    if sys.argv[1] == "tuned":
        assert fix_mmap_threshold()
    libc.free(libc.malloc(16 << 20))
    block = libc.malloc(2 << 20)
    print(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2 and 1)
    libc.free(block)
""")


def _glibc() -> bool:
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "gnu_get_libc_version")
    except OSError:
        return False


@pytest.mark.skipif(not _glibc(), reason="glibc's allocator only")
def test_fixed_mmap_threshold_gives_large_blocks_their_own_mapping() -> None:
    def mapped(mode: str) -> str:
        out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    assert mapped("default") == "0"  # the drift: 2 MiB came from the heap after a 16 MiB free
    assert mapped("tuned") == "1"
