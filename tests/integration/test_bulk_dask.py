"""Bulk replay on Dask (issue 12 item 4, docs/bulk.md): ``vpcflow run CONFIG --cluster ADDRESS / --workers N``.

A real cluster on loopback, started with Dask's own CLI (``dask scheduler``, two ``dask worker``
processes, unique ports, stopped after each test). The inputs are one pcap per ENI of the demo
scenario (``bulk_kit``); the reference is a single-process run of the same config. Each distributed
run gets a data directory holding a copy of the reference's ``state.db`` (so the flow logs, whose ids
are in the object keys, are the same ones) and must deliver exactly the reference's S3 objects (keys
and bytes) and CloudWatch events (group, stream, timestamp, message, in the store's order).

A worker killed mid-job: both workers hold at a fault point of delivery (the ``wait`` action:
``VPCFLOW_FAULT_MARKER`` appears when one gets there, after its first object or batch was
delivered); the test SIGKILLs that worker; Dask reruns its tasks on the other one; the output is
still exactly the reference.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from tests.integration.bulk_kit import snapshot, write_bulk_inputs
from tests.integration.run_kit import cli

ROOT = Path(__file__).resolve().parents[2]
#: Dask's own CLI, from the environment running the tests.
DASK_CLI = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
DASK = [DASK_CLI, "scheduler"]
WORKER = [DASK_CLI, "worker"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPCFLOW_FAULT")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "dask scheduler exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


class Cluster:
    """``dask scheduler`` and two ``dask worker`` processes on loopback (no nanny: a killed worker stays dead)."""

    def __init__(self, folder: Path, worker_env: list[dict[str, str]]) -> None:
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        log = open(folder / "scheduler.log", "wb")  # noqa: SIM115 - closed with the process
        self.scheduler = subprocess.Popen(
            [*DASK, "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], env=_env(),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(self.scheduler)
        _wait_listening(self.port, self.scheduler)
        self.workers = []
        for i, extra in enumerate(worker_env):
            wlog = open(folder / f"worker{i}.log", "wb")  # noqa: SIM115
            w = subprocess.Popen(
                [*WORKER, self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                 "--name", f"w{i}"], env=_env(**extra), stdout=wlog, stderr=subprocess.STDOUT,
                start_new_session=True)
            self.workers.append(w)
            self.procs.append(w)
        self._wait_workers(len(worker_env))

    def _wait_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=60) as c:
            c.wait_for_workers(n, timeout=120)

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, reference data directory): the single-process run."""
    folder = tmp_path_factory.mktemp("bulk")
    config = write_bulk_inputs(folder / "in", duration_s=420)
    ref = folder / "reference"
    done = subprocess.run(cli("run", config, "--data-dir", ref, "--quiet"), env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return config, ref


def _fresh(ref: Path, where: Path) -> Path:
    where.mkdir(parents=True)
    shutil.copy(ref / "state.db", where / "state.db")
    return where


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, [{}, {}])
    try:
        yield c
    finally:
        c.stop()


def test_a_run_on_a_dask_cluster_delivers_the_single_process_objects_and_events_byte_for_byte(
        inputs: tuple[Path, Path], cluster: Cluster, tmp_path: Path) -> None:
    config, ref = inputs
    data = _fresh(ref, tmp_path / "dask")
    done = subprocess.run(cli("run", config, "--data-dir", data, "--quiet", "--cluster", cluster.address),
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    objects, events = snapshot(data)
    want_objects, want_events = snapshot(ref)
    assert len(want_objects) >= 2 and len(want_events) > 100  # two 5-minute periods, many streams
    assert objects == want_objects
    assert events == want_events


def test_workers_n_starts_a_local_cluster_with_the_same_output(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    config, ref = inputs
    data = _fresh(ref, tmp_path / "local")
    done = subprocess.run(cli("run", config, "--data-dir", data, "--quiet", "--workers", "2"),
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert snapshot(data) == snapshot(ref)


@pytest.mark.parametrize("point", ["s3.after_upload", "cwl.after_batch"])
def test_a_worker_killed_mid_delivery_changes_nothing_in_the_output(
        inputs: tuple[Path, Path], tmp_path: Path, point: str) -> None:
    config, ref = inputs
    markers = [tmp_path / "held-0", tmp_path / "held-1"]
    envs = [{"VPCFLOW_FAULT_POINT": f"{point}:1:wait", "VPCFLOW_FAULT_MARKER": str(m)} for m in markers]
    c = Cluster(tmp_path, envs)
    try:
        data = _fresh(ref, tmp_path / "killed")
        run = subprocess.Popen(cli("run", config, "--data-dir", data, "--quiet", "--cluster", c.address),
                               env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while not any(m.exists() for m in markers):
            assert run.poll() is None, run.communicate()[1]
            assert time.monotonic() < deadline, "no worker reached the fault point"
            time.sleep(0.05)
        victim = next(i for i, m in enumerate(markers) if m.exists())
        os.killpg(c.workers[victim].pid, signal.SIGKILL)  # mid-delivery: one object/batch already delivered
        c.workers[victim].wait(timeout=30)
        survivor = markers[1 - victim]
        while run.poll() is None:  # the other worker must not stay held when it gets there
            if survivor.exists():
                survivor.unlink()
            assert time.monotonic() < deadline, "the run did not finish after the kill"
            time.sleep(0.05)
        _, err = run.communicate()
        assert run.returncode == 0, err
    finally:
        c.stop()
    assert snapshot(data) == snapshot(ref)


def _run_releasing(cmd: list[str], markers: list[Path], *, signal_when_held: int | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; whenever a worker holds at its fault point, release it (after sending the run
    ``signal_when_held`` the first time, if given)."""
    run = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    pending_signal = signal_when_held
    while run.poll() is None:
        held = [m for m in markers if m.exists()]
        if held and pending_signal is not None:
            run.send_signal(pending_signal)
            pending_signal = None
            run.wait(timeout=60)
        for m in held:
            m.unlink()
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.05)
    out, err = run.communicate()
    return subprocess.CompletedProcess(cmd, run.returncode, out, err)


def test_ctrl_c_during_a_cluster_run_then_the_same_command_delivers_exactly_once(
        inputs: tuple[Path, Path], tmp_path: Path) -> None:
    config, ref = inputs
    markers = [tmp_path / "held-0", tmp_path / "held-1"]
    envs = [{"VPCFLOW_FAULT_POINT": "s3.after_upload:1:wait", "VPCFLOW_FAULT_MARKER": str(m)} for m in markers]
    c = Cluster(tmp_path, envs)
    try:
        data = _fresh(ref, tmp_path / "interrupted")
        cmd = cli("run", config, "--data-dir", data, "--quiet", "--cluster", c.address)
        stopped = _run_releasing(cmd, markers, signal_when_held=signal.SIGINT)
        assert stopped.returncode == 130, stopped.stderr
        # The handler's notice, then the one-line account (as for a single-process run).
        assert stopped.stderr.strip().splitlines()[-1].startswith("interrupted by SIGINT: stopped after"), stopped.stderr
        again = _run_releasing(cmd, markers)
        assert again.returncode == 0, again.stderr
    finally:
        c.stop()
    assert snapshot(data) == snapshot(ref)


def test_the_python_api_runs_on_a_local_cluster_with_the_same_output(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    from vpcflow import Workspace

    config, ref = inputs
    ws = Workspace(_fresh(ref, tmp_path / "ws"))
    result = ws.run(config, workers=1)
    assert result.stats.records > 0 and result.stats.total("delivered") == result.stats.records
    assert snapshot(tmp_path / "ws") == snapshot(ref)


def test_workers_deliver_to_an_s3_endpoint_the_objects_a_single_process_run_puts_there(
        inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``delivery.s3_endpoint_url``: the workers put through boto3 (moto's server on loopback)."""
    boto3 = pytest.importorskip("boto3")
    from tests.helpers.moto_endpoint import moto_endpoint
    from tests.integration.bulk_kit import write_config

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    config, ref = inputs
    captures = {p.stem: p for p in sorted(config.parent.glob("eni-*.pcap"))}
    got: dict[str, dict[str, bytes]] = {}
    for mode, extra in (("single", []), ("dask", ["--workers", "1"])):
        server = moto_endpoint()
        url = next(server)
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        try:
            s3.create_bucket(Bucket="vpcflow-demo-logs")
            cfg = write_config(tmp_path, captures, s3_endpoint=url, name=f"{mode}.yaml")
            done = subprocess.run(cli("run", cfg, "--data-dir", _fresh(ref, tmp_path / mode), "--quiet", *extra),
                                  env=_env(), capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr
            listed = s3.list_objects_v2(Bucket="vpcflow-demo-logs").get("Contents", [])
            got[mode] = {o["Key"]: s3.get_object(Bucket="vpcflow-demo-logs", Key=o["Key"])["Body"].read()
                         for o in listed}
        finally:
            # moto keeps its state per process, whatever the server: leave no bucket to other tests.
            for o in s3.list_objects_v2(Bucket="vpcflow-demo-logs").get("Contents", []):
                s3.delete_object(Bucket="vpcflow-demo-logs", Key=o["Key"])
            s3.delete_bucket(Bucket="vpcflow-demo-logs")
            server.close()
    assert len(got["single"]) >= 2
    assert got["dask"] == got["single"]
