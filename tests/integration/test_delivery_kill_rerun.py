"""Kill the delivering process at many points, run it again: nothing lost, nothing doubled.

A subprocess runs ``delivery_scenario.py`` with ``VPCFLOW_FAULT_POINT=name:count`` and dies with
exit code 137 (``os._exit``, as SIGKILL: no cleanup) at that point; the same run again without the
fault must leave exactly the objects and events of an uninterrupted run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from delivery_scenario import snapshot  # noqa: E402


def _run(data_dir: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("VPCFLOW_FAULT_POINT", None)
    if fault:
        env["VPCFLOW_FAULT_POINT"] = fault
    return subprocess.run([sys.executable, str(HERE / "delivery_scenario.py"), str(data_dir), *args],
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("reference")
    res = _run(d)
    assert res.returncode == 0, res.stderr
    snap = snapshot(d)
    objects = snap["objects"]
    assert isinstance(objects, dict) and len(objects) > 10
    assert sum(len(v) for k, v in snap.items() if k != "objects") == 3000  # type: ignore[arg-type]
    return snap


@pytest.mark.parametrize("fault", [
    "s3.before_upload:1", "s3.before_upload:7", "s3.after_upload:1", "s3.after_upload:12",
    "cwl.before_batch:1", "cwl.before_batch:9", "cwl.after_batch:3", "cwl.after_batch:20",
    "status.before_callback:1",
])
def test_kill_then_rerun_equals_uninterrupted(tmp_path: Path, reference: dict[str, object], fault: str) -> None:
    killed = _run(tmp_path, fault=fault)
    assert killed.returncode == 137, (killed.stdout, killed.stderr)
    again = _run(tmp_path)
    assert again.returncode == 0, again.stderr
    assert snapshot(tmp_path) == reference


@pytest.mark.parametrize("fault", ["spool.after_write:2", "spool.after_write:15", "spool.after_redeliver:3"])
def test_kill_during_spooling_then_recovered_run_equals_uninterrupted(
    tmp_path: Path, reference: dict[str, object], fault: str
) -> None:
    if fault.startswith("spool.after_redeliver"):
        first = _run(tmp_path, "--broken")
        assert first.returncode == 0, first.stderr
        killed = _run(tmp_path, fault=fault)  # dies while draining the spool
    else:
        killed = _run(tmp_path, "--broken", fault=fault)  # dies while spooling
    assert killed.returncode == 137, (killed.stdout, killed.stderr)
    again = _run(tmp_path)
    assert again.returncode == 0, again.stderr
    assert snapshot(tmp_path) == reference
    assert not any((tmp_path / "spool").rglob("*.spool")) and not any((tmp_path / "spool").rglob("*.meta.json"))
    # Every flow log went FAILED ("Access error") while broken and ends SUCCESS once delivered.
    import json

    last: dict[str, tuple[str, str | None]] = {}
    seen_failed: set[str] = set()
    for line in (tmp_path / "status.jsonl").read_text().splitlines():
        fid, status, message = json.loads(line)
        last[fid] = (status, message)
        if status == "FAILED":
            assert message == "Access error"
            seen_failed.add(fid)
    assert seen_failed and all(last[f] == ("SUCCESS", None) for f in seen_failed)


def test_double_kill(tmp_path: Path, reference: dict[str, object]) -> None:
    assert _run(tmp_path, fault="cwl.before_batch:4").returncode == 137
    assert _run(tmp_path, fault="s3.after_upload:5").returncode == 137
    assert _run(tmp_path).returncode == 0
    assert snapshot(tmp_path) == reference
