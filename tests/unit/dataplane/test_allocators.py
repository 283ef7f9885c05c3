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
# 2 MiB and report whether it got its own mapping (mallinfo2's count of mapped blocks grew).
_PROBE = textwrap.dedent("""
    import ctypes, ctypes.util, sys
    from vpcflow.dataplane.allocators import fix_mmap_threshold
    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallinfo2.restype = Info
    if sys.argv[1] == "tuned":
        assert fix_mmap_threshold()
    libc.free(libc.malloc(16 << 20))
    before = libc.mallinfo2().hblks
    block = libc.malloc(2 << 20)
    print(libc.mallinfo2().hblks - before)
    libc.free(block)
""")


def _has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not _has_mallinfo2(), reason="glibc 2.33+ only (mallinfo2)")
def test_fixed_mmap_threshold_gives_large_blocks_their_own_mapping() -> None:
    def mapped(mode: str) -> str:
        out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    assert mapped("default") == "0"  # the drift: 2 MiB came from the heap after a 16 MiB free
    assert mapped("tuned") == "1"
