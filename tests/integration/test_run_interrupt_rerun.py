"""Ctrl-C, SIGTERM and errors stop `vpcflow run` cleanly; the same command again completes it exactly.

Issue 13: an interrupted run used to deliver the open 5-minute S3 group as a partial object and the
re-run added the whole one under another name (records doubled); SIGTERM ended the run silently and
SIGINT printed "aborted". Now the stopped run delivers only what its watermark closed, says in one
line what was delivered and what is pending, and the re-run leaves exactly the objects (decompressed
bytes), events and side channel of an uninterrupted run. The interruption moments are placed by
progress (the N-th flush, batch, object or CloudWatch batch; ``VPCFLOW_FAULT_POINT=point:N:SIGINT``
makes the process signal itself there), plus real signals from outside at a few moments, whose
outcome must be exact whenever they land.
"""

from __future__ import annotations

import gzip
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import test_run_kill_rerun as killrun
from test_run_kill_rerun import _cmd, _env, _same, _snapshot

# The kill-and-rerun tests' config (three flow logs: S3 text, S3 Parquet, CloudWatch) and its
# uninterrupted reference run, computed once for this module too.
config = killrun.config
reference = killrun.reference

ROOT = Path(__file__).resolve().parents[2]


def _decompressed(snap: dict[str, object]) -> dict[str, bytes]:
    objects: dict[str, bytes] = snap["objects"]  # type: ignore[assignment]
    return {k: gzip.decompress(v) if k.endswith(".gz") else v for k, v in objects.items()}


def _objects(data: Path) -> dict[str, bytes]:
    """The S3 objects delivered so far, a clean stop's temporary files included (there must be none)."""
    return killrun._objects(data, skip_temp=False)


def _check_stopped(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "records delivered" in last and "run the same command again" in last, proc.stderr
    return last


@pytest.mark.parametrize(("fault", "code"), [
    ("pipeline.after_flush:1:SIGTERM", 143),
    ("pipeline.after_flush:2:SIGINT", 130),
    ("pipeline.after_flush:8:SIGINT", 130),
    ("cwl.before_batch:3:SIGTERM", 143),
    ("pipeline.after_flush:6:SIGTERM", 143),
    ("pipeline.after_batch:3:SIGINT", 130),
    # S3 groups of this 600-s run only close at the end of the input: a signal during that final
    # delivery lets the run complete (the input is done, every group final), exit 0.
    ("s3.after_upload:3:SIGTERM", 0),
    ("cwl.after_batch:2:SIGINT", 130),
    ("pipeline.after_batch:2:error", 1),
])
def test_interrupt_at_a_point_of_progress_then_rerun_equals_uninterrupted(
        config: Path, reference: dict[str, object], tmp_path: Path, fault: str, code: int) -> None:
    data = tmp_path / "data"
    stopped = subprocess.run(_cmd(config, data), env=_env(fault), capture_output=True, text=True, timeout=300)
    if code == 0:
        assert stopped.returncode == 0 and "Traceback" not in stopped.stderr, stopped.stderr
        last = ""
    else:
        last = _check_stopped(stopped, code)
    if code == 1:
        assert last.startswith("error: InjectedFault: fault injected at pipeline.after_batch")
    elif code:
        assert last.startswith(f"interrupted by {'SIGINT' if code == 130 else 'SIGTERM'}: stopped after ")
    # What the stopped run delivered is part of what an uninterrupted run delivers: no partial object.
    assert _objects(data).items() <= reference["objects"].items()  # type: ignore[attr-defined]
    again = subprocess.run(_cmd(config, data), env=_env(None), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    final = _snapshot(data)
    _same(reference, final)
    assert _decompressed(final) == _decompressed(reference)


@pytest.mark.parametrize(("sig", "point"), [(signal.SIGINT, "pipeline.after_batch:2"),
                                           (signal.SIGTERM, "pipeline.after_flush:3")])
def test_signal_from_outside_after_progress_then_rerun_equals_uninterrupted(
        config: Path, reference: dict[str, object], tmp_path: Path, sig: int, point: str) -> None:
    """A real signal from outside, sent while the run waits at a point of progress (the fault point's
    ``wait`` action), not after a number of seconds (issue 14): the run is mid-way on any machine."""
    data, marker = tmp_path / "data", tmp_path / "reached"
    env = {**_env(f"{point}:wait"), "VPCFLOW_FAULT_MARKER": str(marker)}
    proc = subprocess.Popen(_cmd(config, data), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None and not marker.exists():
        time.sleep(0.002)
    assert proc.poll() is None, "the run ended before reaching the point"
    os.kill(proc.pid, sig)
    time.sleep(0.05)  # the handler has run once the signal is delivered; then let the run go on
    marker.unlink()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, (proc.returncode, err[-2000:])  # stopped cleanly, mid-run
    assert "Traceback" not in err
    again = subprocess.run(_cmd(config, data), env=_env(None), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    _same(reference, _snapshot(data))


def _record_offsets(pcap: bytes) -> list[int]:
    """Byte offsets of the records of a little-endian classic pcap."""
    offsets, at = [], 24
    while at + 16 <= len(pcap):
        offsets.append(at)
        (incl,) = struct.unpack_from("<I", pcap, at + 8)
        at += 16 + incl
    return offsets


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's recipe: a capture with garbage in the middle, a config without --skip-bad."""
    d = tmp_path_factory.mktemp("damaged")
    cap = d / "traffic.pcap"
    gen = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "generate", str(ROOT / "examples" / "scenarios" /
                          "demo.yaml"), "--pcap", str(cap), "--duration", "600", "--snaplen", "64", "-q"],
                         capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stderr
    data = cap.read_bytes()
    offsets = _record_offsets(data)
    cut = offsets[len(offsets) * 4 // 5]  # past the first closed S3 groups, inside an open one
    cap.write_bytes(data[:cut] + b"\xff" * 16 + data[cut:])
    cfg = d / "run.yaml"
    cfg.write_text(f"""
topology: {ROOT / 'examples' / 'topology' / 'three-tier.yaml'}
flow_logs:
  create:
    - {{ResourceIds: [vpc-097d5b620001373d6], ResourceType: VPC, TrafficType: ALL, LogDestinationType: s3,
       LogDestination: "arn:aws:s3:::vpcflow-demo-logs", MaxAggregationInterval: 60}}
sources:
  - capture: {cap}
""")
    return cfg


def test_skip_bad_recipe_error_then_rerun_with_skip_bad_delivers_nothing_twice(damaged: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    ok = subprocess.run([*_cmd(damaged, clean), "--skip-bad"], env=_env(None), capture_output=True, text=True,
                        timeout=300)
    assert ok.returncode == 0, ok.stderr
    data = tmp_path / "data"
    failed = subprocess.run(_cmd(damaged, data), env=_env(None), capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2, failed.stderr
    delivered = _objects(data)
    assert delivered and delivered.items() <= _objects(clean).items()  # no partial object
    again = subprocess.run([*_cmd(damaged, data), "--skip-bad"], env=_env(None), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert _objects(data) == _objects(clean)
    last = _check_stopped(failed, 2)
    assert last.startswith(f"error: {damaged.parent / 'traffic.pcap'} at byte ")
