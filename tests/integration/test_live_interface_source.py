"""The live source on a real interface: real TCP, UDP and ICMP between two network namespaces, read by
vpcflow from an AF_PACKET socket while tcpdump records the same interface; the per-5-tuple packets and
bytes must equal tshark's dissection of tcpdump's file. Needs root (CI runs as root)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from test_netns_capture_crosscheck import (  # noqa: E402
    CLIENT,
    SERVER,
    _run,
    _start_capture,
    _stop,
    namespaces,
)
from tshark_totals import tshark_totals  # noqa: E402

pytestmark = pytest.mark.privileged
__all__ = ["namespaces"]  # the fixture, re-used

LIVE = r"""
import json, sys
from vpcflow.dataplane.sources.capture import five_tuple_totals
from vpcflow.dataplane.sources.live import LiveConfig, LiveSource
src = LiveSource(LiveConfig(sys.argv[1], duration_s=float(sys.argv[2]), snaplen=128, flush_s=0.5))
src.open()  # reading from now on: traffic starts only after "ready"
print("ready", flush=True)
tot = five_tuple_totals(src.batches())
assert src.stats.kernel_drops == 0, src.stats.kernel_drops
print(json.dumps([[list(k), list(v)] for k, v in tot.items()]), flush=True)
"""


def test_live_source_agrees_with_tcpdump(namespaces: tuple[str, str, str, str, str, str], tmp_path: Path) -> None:
    ns_a, ns_b, _veth_a, veth_b, ip_a, ip_b = namespaces
    pcap = tmp_path / "b.pcap"
    dump = _start_capture(["ip", "netns", "exec", ns_b, "tcpdump", "-n", "-U", "-s", "128", "-i", veth_b,
                           "--time-stamp-precision=nano", "-w", str(pcap)], pcap)
    live = subprocess.Popen(["ip", "netns", "exec", ns_b, sys.executable, "-c", LIVE, veth_b, "6"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = subprocess.Popen(["ip", "netns", "exec", ns_b, sys.executable, "-c", SERVER, ip_b, "5001", "5002"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert live.stdout is not None and live.stdout.readline().strip() == "ready", live.stderr
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = _run("ip", "netns", "exec", ns_a, sys.executable, "-c", CLIENT, ip_b, "5001", "5002", check=False)
        assert client.returncode == 0, client.stderr
        server.wait(timeout=30)
        out, err = live.communicate(timeout=60)
        assert live.returncode == 0, err
        time.sleep(0.3)
    finally:
        for p in (server, live):
            if p.poll() is None:
                p.kill()
        _stop(dump)
    ours = {tuple(k): tuple(v) for k, v in json.loads(out.strip().splitlines()[-1])}
    theirs = {k: v for k, v in tshark_totals(pcap).items() if {k[0], k[1]} == {ip_a, ip_b}}
    ours = {k: v for k, v in ours.items() if {k[0], k[1]} == {ip_a, ip_b}}
    assert {k[2] for k in ours} == {1, 6, 17}
    assert ours == theirs
