"""`vpcflow run` on a live interface that goes quiet (issue 10 item 6): real UDP between two network
namespaces for 30 s, then silence. The run's wall-clock watermark (the live source's heartbeats) must
close and deliver every window, the busy ones and NODATA for the quiet ones, while the capture keeps
running; stopping the run afterwards delivers the last open window and nothing twice.

Progress decides: the test polls the embedded CloudWatch Logs store until the first entirely quiet
window's NODATA has arrived (a generous deadline, two intervals after that window ends, only guards
against hanging). Without the heartbeat nothing after the last packet is delivered before the run
stops, so the poll would run out. Needs root (CI runs as root)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from netns_kit import ENI_A, ENI_B, lab_network_yaml  # noqa: E402
from run_kit import cli, cwl_events, env  # noqa: E402
from test_netns_capture_crosscheck import namespaces  # noqa: E402

pytestmark = [pytest.mark.privileged, pytest.mark.slow]
__all__ = ["namespaces"]  # the fixture, re-used

GROUP = "/vpcflow/live-quiet"
INTERVAL = 60
TRAFFIC_S = 30

SENDER = r"""
import socket, sys, time
host, seconds = sys.argv[1], float(sys.argv[2])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + seconds
i = 0
while time.time() < end:
    u.sendto(b"q" * (50 + i % 200), (host, 5301 + i % 3))
    i += 1
    time.sleep(0.25)
"""


def _config(tmp_path: Path, ip_a: str, ip_b: str, device: str) -> Path:
    topo = tmp_path / "lab.yaml"
    topo.write_text(lab_network_yaml(ip_a, ip_b) + f"""log_groups:
  - {{name: {GROUP}, region: us-east-1}}
iam:
  roles:
    - name: flow-logs-delivery
      trust_policy:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Principal: {{Service: vpc-flow-logs.amazonaws.com}}, Action: sts:AssumeRole}}
      policies:
        - name: deliver
          document:
            Version: "2012-10-17"
            Statement:
              - {{Effect: Allow, Action: [logs:CreateLogStream, logs:PutLogEvents, logs:DescribeLogGroups,
                                        logs:DescribeLogStreams], Resource: "*"}}
""")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"""
topology: {topo}
flow_logs:
  create:
    - {{ResourceIds: [vpc-0000000000000000a], ResourceType: VPC, TrafficType: ALL,
       LogDestinationType: cloud-watch-logs, LogGroupName: {GROUP}, MaxAggregationInterval: {INTERVAL},
       DeliverLogsPermissionArn: "arn:aws:iam::123456789012:role/flow-logs-delivery"}}
sources:
  - live: {device}
    interface: {ENI_B}
""")
    return cfg


def _windows(data: Path) -> dict[tuple[str, int], list[str]]:
    """(interface-id, window start) -> log-status of each record there (default format)."""
    out: dict[tuple[str, int], list[str]] = {}
    for (_stream, _ts, message), n in cwl_events(data, GROUP).items():
        f = message.split()
        start = int(f[10]) - int(f[10]) % INTERVAL
        out.setdefault((f[2], start), []).extend([f[13]] * n)
    return out


def test_quiet_interface_windows_are_delivered_while_the_capture_runs(
        namespaces: tuple[str, str, str, str, str, str], tmp_path: Path) -> None:
    ns_a, ns_b, _veth_a, veth_b, ip_a, ip_b = namespaces
    cfg = _config(tmp_path, ip_a, ip_b, veth_b)
    data = tmp_path / "data"
    run = subprocess.Popen(["ip", "netns", "exec", ns_b, *cli("run", cfg, "--data-dir", data, "--quiet")],
                           env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # the run is capturing by then; packets sent earlier would only be missed, not wrong
        sender = subprocess.run(["ip", "netns", "exec", ns_a, sys.executable, "-c", SENDER, ip_b, str(TRAFFIC_S)],
                                capture_output=True, text=True, timeout=TRAFFIC_S + 30)
        assert sender.returncode == 0, sender.stderr
        # the first window without any traffic (2 s clear of the last datagram and its ICMP answer)
        quiet = ((int(time.time()) + 2) // INTERVAL + 1) * INTERVAL
        _poll(lambda: (ENI_B, quiet) in _windows(data), run, deadline=quiet + 3 * INTERVAL,
              what=f"NODATA of the quiet window {quiet}")
        before = cwl_events(data, GROUP)
        assert run.poll() is None, "the capture must still be running"
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
        _out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err

    windows = _windows(data)
    first = min(ws for _eni, ws in windows)
    for ws in range(first, quiet + INTERVAL, INTERVAL):  # every window up to the quiet one, both ENIs
        assert windows.get((ENI_A, ws)) == ["NODATA"], (ws, windows.get((ENI_A, ws)))  # saw nothing of A's
        statuses = windows.get((ENI_B, ws))
        assert statuses and (statuses == ["NODATA"] or set(statuses) == {"OK"}), (ws, statuses)
    assert windows[(ENI_B, quiet)] == ["NODATA"]
    busy = [ws for (eni, ws), s in windows.items() if eni == ENI_B and s != ["NODATA"]]
    assert busy and max(busy) < quiet
    after = cwl_events(data, GROUP)
    assert before - after == Counter(), "records delivered during the capture must stay"
    assert max(after.values()) == 1 and len({m for _s, _t, m in after}) == len(after), "nothing twice"


def _poll(done: object, run: subprocess.Popen[str], *, deadline: float, what: str) -> None:
    assert callable(done)
    while not done():
        if run.poll() is not None:
            pytest.fail(f"vpcflow run ended before {what} was delivered: {run.stderr.read() if run.stderr else ''}")
        if time.time() > deadline:
            pytest.fail(f"{what} not delivered while the capture ran (the watermark did not move on)")
        time.sleep(1)
