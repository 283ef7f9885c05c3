"""A run tunes its allocators (dataplane/allocators.py, issue 10): Arrow's record tables come from the
system allocator."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

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
