"""One writer per data directory (issue 13 item 5), with two real concurrent processes.

The first `vpcflow run` is paused mid-delivery (``VPCFLOW_FAULT_HOLD``, a progress-defined moment, not
wall time) while it holds the data directory. A second run and a demo on the same directory refuse with
one line naming the holder's pid (exit 2); read-only commands keep working meanwhile. Released, the
first run completes, and what was delivered equals one clean run: no event twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run_kit import GROUP, cli, delivered, env, run_cli, write_config, write_scenario


def _wait_for(path: Path, proc: subprocess.Popen[str], limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the first run never reached its hold point"
        time.sleep(0.05)


def test_second_writer_refuses_readers_read(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=21)
    cfg = write_config(tmp_path / "run.yaml", scenario)
    reference = tmp_path / "reference"
    assert run_cli(cfg, reference).returncode == 0
    data = tmp_path / "data"
    hold = tmp_path / "hold"
    hold.mkdir()
    first_env = env()
    first_env["VPCFLOW_FAULT_HOLD"] = f"cwl.before_batch:2:{hold}"
    first = subprocess.Popen(cli("run", cfg, "--data-dir", data, "--quiet"), env=first_env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(hold / "held", first)
        pid = (hold / "held").read_text()
        assert pid == str(first.pid)

        second = run_cli(cfg, data)
        assert second.returncode == 2, second.stderr[-3000:]
        line = second.stderr.strip()
        assert "\n" not in line and "Traceback" not in line
        assert f"pid {first.pid}" in line and "in use by another vpcflow run" in line and str(data) in line

        demo = subprocess.run(cli("demo", "--data-dir", data, "--keep", "--quiet"), env=env(),
                              capture_output=True, text=True, timeout=300)
        assert demo.returncode == 2 and f"pid {first.pid}" in demo.stderr, demo.stderr[-3000:]

        for args in (("ec2", "--data-dir", data, "describe-flow-logs"),
                     ("logs", "--data-dir", data, "filter-log-events", "--log-group-name", GROUP),
                     ("read", "--data-dir", data),
                     ("query", "--data-dir", data, "SELECT count(*) AS n FROM vpc_flow_logs")):
            r = subprocess.run(cli(*args), env=env(), capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, (args, r.stderr[-3000:])
    finally:
        (hold / "release").write_text("")
        _out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert delivered(data) == delivered(reference)

    again = run_cli(cfg, data)  # the lock went with its holder
    assert again.returncode == 0, again.stderr[-3000:]
    assert delivered(data) == delivered(reference)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=22)
    cfg = write_config(tmp_path / "run.yaml", scenario)
    data = tmp_path / "data"
    killed = run_cli(cfg, data, fault="cwl.before_batch:1")
    assert killed.returncode == 137
    assert (data / "run.lock").exists() and os.path.getsize(data / "run.lock") > 0
    r = run_cli(cfg, data)
    assert r.returncode == 0, r.stderr[-3000:]
