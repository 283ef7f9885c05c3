"""Property (issue 13): for random sequences of runs, interruptions at progress-defined moments, input edits
and re-runs, the destinations hold exactly the records of one clean run of every input set that was run.

Input sets: the scenario's seed (51 or 52, edited in place in the same file) with or without an edited
comment in the config and the scenario (a comment is not a new input set). Interruptions happen the
``count``-th time a delivery fault point is reached (``sinks/faults.py``), never at a wall-clock time.
``INTERRUPTIONS`` is the one list of interruption kinds (exit at the point, or a signal while the run is
held there): add a kind there.

After every clean run the delivered multiset lies between "each completed input set once" and that plus
"one more copy of each input set only interrupted so far"; at the end every input set touched is run
once more and the delivered multiset must equal the sum of clean references exactly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from run_kit import cli, delivered, env, run_cli, write_config, write_scenario

SEEDS = (51, 52)
POINTS = ("s3.before_upload", "s3.after_upload", "cwl.before_batch", "cwl.after_batch", "status.before_callback")
Delivery = tuple[Counter[str], Counter[tuple[str, int, str]]]


@dataclass(frozen=True)
class Interruption:
    """A way to stop a run the ``count``-th time it reaches fault point ``point``; returns the exit code."""

    name: str
    run: Callable[[Path, Path, str, int, Path], int]


def _fault_exit(cfg: Path, data: Path, point: str, count: int, scratch: Path) -> int:
    r = run_cli(cfg, data, fault=f"{point}:{count}")  # os._exit(137) at the point: SIGKILL's effect
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    return r.returncode


def _signal_at(sig: signal.Signals) -> Callable[[Path, Path, str, int, Path], int]:
    def run(cfg: Path, data: Path, point: str, count: int, scratch: Path) -> int:
        hold = Path(tempfile.mkdtemp(dir=scratch))
        e = env()
        e["VPCFLOW_FAULT_HOLD"] = f"{point}:{count}:{hold}"
        proc = subprocess.Popen(cli("run", cfg, "--data-dir", data, "--quiet"), env=e,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while proc.poll() is None and not (hold / "held").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None and (hold / "held").exists():
            os.kill(proc.pid, sig)
        (hold / "release").write_text("")  # a handled signal must not leave the run paused
        _, err = proc.communicate(timeout=300)
        assert "Traceback" not in err, err[-3000:]
        return proc.returncode

    return run


#: Every kind of interruption the property draws from: an exit at a fault point, and SIGKILL, SIGINT and
#: SIGTERM sent from outside while the run is held at one (SIGINT/SIGTERM: the clean interruption of
#: issue 13 - only groups that can no longer grow are delivered, the re-run completes exactly).
INTERRUPTIONS: list[Interruption] = [
    Interruption("exit-at-fault-point", _fault_exit),
    Interruption("sigkill", _signal_at(signal.SIGKILL)),
    Interruption("sigint", _signal_at(signal.SIGINT)),
    Interruption("sigterm", _signal_at(signal.SIGTERM)),
]


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Delivery]:
    tmp = tmp_path_factory.mktemp("property-ref")
    out = {}
    for seed in SEEDS:
        cfg = write_config(tmp / f"r{seed}.yaml", write_scenario(tmp / f"s{seed}.yaml", seed=seed))
        r = run_cli(cfg, tmp / f"data{seed}")
        assert r.returncode == 0, r.stderr[-3000:]
        out[seed] = delivered(tmp / f"data{seed}")
    return out


def _sum(refs: dict[int, Delivery], seeds: list[int]) -> Delivery:
    s3: Counter[str] = Counter()
    ev: Counter[tuple[str, int, str]] = Counter()
    for seed in seeds:
        s3 += refs[seed][0]
        ev += refs[seed][1]
    return s3, ev


def _check(got: Delivery, low: Delivery, high: Delivery, what: str) -> None:
    """``low <= got <= high`` as multisets, per destination, with a short message."""
    for g, lo, hi, name in ((got[0], low[0], high[0], "S3 records"), (got[1], low[1], high[1], "CloudWatch events")):
        missing = sum((lo - g).values())  # type: ignore[operator]
        extra = sum((g - hi).values())  # type: ignore[operator]
        assert not missing and not extra, f"{what}: {name}: {missing} missing, {extra} more than expected"


step = st.tuples(st.sampled_from(SEEDS), st.booleans(),
                 st.one_of(st.none(), st.tuples(st.sampled_from(range(len(INTERRUPTIONS))), st.sampled_from(POINTS),
                                                st.integers(1, 5))))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=2, max_size=4))
def test_delivered_equals_one_clean_run_of_each_input_set(references: dict[int, Delivery], tmp_path: Path,
                                                         steps: list[tuple[int, bool, tuple[int, str, int] | None]]
                                                         ) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    scenario, cfg, data = work / "scenario.yaml", work / "run.yaml", work / "data"
    completed: list[int] = []
    partial: list[int] = []

    def run(seed: int, commented: bool, cut: tuple[int, str, int] | None) -> None:
        note = f"edit {seed}" if commented else ""
        write_scenario(scenario, seed=seed, comment=note)
        write_config(cfg, scenario, comment=note)
        if cut is None:
            r = run_cli(cfg, data)
            assert r.returncode == 0, r.stderr[-3000:]
            code = 0
        else:
            kind, point, count = cut
            code = INTERRUPTIONS[kind].run(cfg, data, point, count, work)
        if code == 0:  # a clean run (or the moment never came): this input set is complete
            if seed not in completed:
                completed.append(seed)
            if seed in partial:
                partial.remove(seed)
            _check(delivered(data), _sum(references, completed), _sum(references, completed + partial),
                   f"after a clean run of seed {seed} (completed {completed}, interrupted {partial})")
        elif seed not in completed and seed not in partial:
            partial.append(seed)

    for seed, commented, cut in steps:
        run(seed, commented, cut)
    for seed in list(partial):  # the re-run of every input set left interrupted
        run(seed, False, None)
    final = _sum(references, completed)
    _check(delivered(data), final, final, f"at the end (input sets {completed})")
