"""The ``vpcflow`` command keeps OpenBLAS to one thread (docs/benchmarks.md, "Single pass").

vpcflow does no linear algebra, but numpy loads OpenBLAS, whose worker threads (one per core) spun
for about 0.15 s of CPU per run on the 2-core benchmark machine. The command asks for one thread
unless the user set ``OPENBLAS_NUM_THREADS`` themselves.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = ("import os, vpcflow.cli.main, numpy; "
         "print(os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))")


def _probe(env_value: str | None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    setting, threads = out.stdout.split()
    return setting, int(threads)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
def test_the_command_loads_numpy_with_one_blas_thread() -> None:
    setting, threads = _probe(None)
    assert setting == "1"
    assert threads == 1  # OpenBLAS started no worker threads


def test_a_users_own_setting_is_kept() -> None:
    setting, _ = _probe("3")
    assert setting == "3"
