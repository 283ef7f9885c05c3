"""`vpcflow agent` as a process (no root: it follows a directory of capture files): it records the
owned ENI for the endpoint's flow log, delivers, and stops cleanly on SIGTERM; bad flags are one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from agent_kit import (  # noqa: F401  (fleet_ep: the `ep` fixture)
    AGENT_KEY,
    ENI_A,
    IP_A,
    IP_B,
    bucket_lines,
    connection,
    create_s3_flow_log,
    fleet_endpoint,
    fleet_ep,
    flows,
    tcp_batch,
    use_root_credentials,
)
from api_helpers import Endpoint

from vpcflow.dataplane.sources.pcap_writer import write_pcap


def test_the_agent_command_records_a_followed_directory_and_stops_on_sigterm(ep: Endpoint, tmp_path: Path) -> None:
    create_s3_flow_log(ep, ENI_A)
    captures = tmp_path / "captures"
    captures.mkdir()
    now = time.time()
    write_pcap(captures / "cap-001.pcap", tcp_batch(ENI_A, connection(now - 0.9, IP_A, IP_B, 46000)))
    config = tmp_path / "agent.yaml"
    config.write_text(json.dumps({"follow": {"dir": str(captures), "interface": ENI_A, "settle_s": 0,
                                             "max_delay_s": 1}, "refresh_s": 1}))
    state = tmp_path / "state"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": AGENT_KEY[0], "AWS_SECRET_ACCESS_KEY": AGENT_KEY[1]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vpcflow.cli.main", "agent", "--config", str(config), "--endpoint-url", ep.url,
         "--region", "us-east-1", "--state-dir", str(state), "--agent-id", "cli"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        end = int(now) - int(now) % 60 + 60
        deadline = time.monotonic() + 180
        while True:  # progress, not time: the segment holding the packets delivered
            agent = state / "agent.json"
            if agent.exists() and (json.loads(agent.read_text()).get("delivered_until") or 0) >= end:
                break
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the agent delivered nothing in 180 s"
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "owns eni-0aaaaaaaaaaaaaaa1" in err
    got = flows(bucket_lines(ep))
    assert {k[3]: v for k, v in got.items() if k[1] == IP_A} == {"46000": 4}


@pytest.mark.parametrize(("args", "words"), [
    (["--device", "eth0"], "--device: expected DEVICE=ENI"),
    (["--device", "eth0=eni-0123456789abcdef0", "--segment-s", "90"], "segment_s: a segment is whole minutes"),
    (["--device", "eth0=eni-0123456789abcdef0", "--region", "nowhere"], "region: expected a region"),
])
def test_bad_agent_flags_are_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    base = ["--state-dir", str(tmp_path), "--region", "us-east-1"]
    r = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "agent", *base, *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
