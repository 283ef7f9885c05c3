"""Kill `vpcflow run` (fault-injection points and a real SIGKILL at several moments), run it again:
the destinations hold exactly the records of an uninterrupted run, none lost, none doubled (issue 6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.logstore import LogStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("killrun")
    cfg = d / "run.yaml"
    cfg.write_text(f"""
topology: {ROOT / 'examples' / 'topology' / 'three-tier.yaml'}
flow_logs:
  create:
    - {{ResourceIds: [vpc-097d5b620001373d6], ResourceType: VPC, TrafficType: ALL, LogDestinationType: s3,
       LogDestination: "arn:aws:s3:::vpcflow-demo-logs"}}
    - {{ResourceIds: [subnet-06deebad8d3065b74], ResourceType: Subnet, TrafficType: ALL,
       LogDestinationType: cloud-watch-logs, LogGroupName: /vpcflow/kill,
       DeliverLogsPermissionArn: "arn:aws:iam::123456789012:role/flow-logs-delivery"}}
    - {{ResourceIds: [eni-0d141998882628620], ResourceType: NetworkInterface, TrafficType: ALL,
       LogDestinationType: s3, LogDestination: "arn:aws:s3:::vpcflow-demo-logs/bastion/",
       DestinationOptions: {{FileFormat: parquet}}}}
sources:
  - scenario: {ROOT / 'examples' / 'scenarios' / 'demo.yaml'}
    duration_s: 600
""")
    return cfg


def _cmd(config: Path, data: Path) -> list[str]:
    return [sys.executable, "-m", "vpcflow.cli.main", "run", str(config), "--data-dir", str(data), "--quiet"]


def _env(fault: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VPCFLOW_FAULT_POINT"}
    if fault:
        env["VPCFLOW_FAULT_POINT"] = fault
    return env


def _flow_log_names(dd: DataDir) -> Callable[[str], str]:
    """Text with flow-log ids replaced by their resource ids (runs on fresh directories get new ids)."""
    with dd.state() as st:
        names = {f.flow_log_id: f.resource_id for f in st.list_flow_logs()}

    def norm(text: str) -> str:
        for fid, rid in names.items():
            text = text.replace(fid, rid)
        return text

    return norm


def _objects(data: Path, *, skip_temp: bool = True) -> dict[str, bytes]:
    """The S3 objects delivered so far, keys normalised by ``_flow_log_names``; ``skip_temp``: leave out a
    killed write's temporary file."""
    dd = DataDir.resolve(data)
    norm = _flow_log_names(dd)
    return {
        norm(p.relative_to(dd.s3_root).as_posix()): p.read_bytes()
        for p in dd.s3_root.rglob("*")
        if p.is_file() and ".vpcflow-meta" not in p.parts and not (skip_temp and ".vpcflow-tmp" in p.parts)
    }


def _snapshot(data: Path) -> dict[str, object]:
    """Objects (keys with flow-log ids replaced by their resource), events per stream, side channel."""
    dd = DataDir.resolve(data)
    norm = _flow_log_names(dd)
    objects = _objects(data)
    events: dict[str, list[tuple[int, str]]] = {}
    store = LogStore(dd.logs_path)
    try:
        for stream in store.stream_names("/vpcflow/kill"):
            got = store.get_log_events(logGroupName="/vpcflow/kill", logStreamName=stream, startFromHead=True,
                                       limit=10000)["events"]
            events[stream] = [(e["timestamp"], e["message"]) for e in got]
    finally:
        store.close()
    side = {norm(p.name): p.read_text() for p in (data / "rejects").glob("*.jsonl")} if (data / "rejects").exists() \
        else {}
    spooled = [p for p in dd.spool.rglob("*") if p.is_file() and p.suffix not in (".db", ".db-wal", ".db-shm")]
    return {"objects": objects, "events": events, "side": side, "spooled": len(spooled)}


@pytest.fixture(scope="module")
def reference(config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data = tmp_path_factory.mktemp("reference") / "data"
    r = subprocess.run(_cmd(config, data), env=_env(None), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    snap = _snapshot(data)
    assert len(snap["objects"]) > 5 and sum(len(v) for v in snap["events"].values()) > 10  # type: ignore[attr-defined]
    assert snap["spooled"] == 0
    return snap


def _same(a: dict[str, object], b: dict[str, object]) -> None:
    assert sorted(a["objects"]) == sorted(b["objects"])  # type: ignore[call-overload]
    assert a["objects"] == b["objects"]
    assert a["events"] == b["events"]
    assert a["side"] == b["side"]
    assert b["spooled"] == 0


@pytest.mark.parametrize("fault", ["s3.before_upload:1", "s3.after_upload:4", "cwl.before_batch:2",
                                   "cwl.after_batch:1", "status.before_callback:1"])
def test_fault_point_kill_then_rerun(config: Path, reference: dict[str, object], tmp_path: Path, fault: str) -> None:
    data = tmp_path / "data"
    killed = subprocess.run(_cmd(config, data), env=_env(fault), capture_output=True, text=True, timeout=300)
    assert killed.returncode == 137, (fault, killed.returncode, killed.stderr[-2000:])
    again = subprocess.run(_cmd(config, data), env=_env(None), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    _same(reference, _snapshot(data))


def _objects_delivered(data: Path) -> int:
    root = DataDir.resolve(data).s3_root
    if not root.exists():
        return 0
    return sum(1 for p in root.rglob("*.log.gz") if ".vpcflow-meta" not in p.parts)


@pytest.mark.parametrize("after_objects", [0, 1, 3])
def test_sigkill_from_outside_after_progress_then_rerun(config: Path, reference: dict[str, object], tmp_path: Path,
                                                        after_objects: int) -> None:
    """A real SIGKILL sent from outside once the run has delivered N objects (0: as soon as it has created
    its flow logs): the moment is defined by progress, not by the clock (issue 14), so the test kills a
    running delivery on any machine, and the re-run completes it exactly."""
    data = tmp_path / "data"
    proc = subprocess.Popen(_cmd(config, data), env=_env(None), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            ready = (_objects_delivered(data) >= after_objects if after_objects
                     else (data / "state.db").exists())
            if ready:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before the kill: the test killed nothing"
    assert _objects_delivered(data) < len(reference["objects"])  # type: ignore[arg-type]
    again = subprocess.run(_cmd(config, data), env=_env(None), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    _same(reference, _snapshot(data))
