"""Issue 12, "What it must show": three hosts in network namespaces, real traffic, real agents.

``srv`` runs ``vpcflow serve``; hosts ``a`` and ``b`` each run ``vpcflow agent`` capturing their data
interface (a veth pair between them) and reach the endpoint over a management link. While traffic
flows: a second flow log is created and a security-group rule revoked (both take effect), agent A is
SIGKILLed and restarted, and the server is stopped for 30 s and started again. At the end the
records in the bucket equal, per ENI and 5-tuple, what tshark counts on each host's data interface
(nothing lost or doubled), and no ENI-window holds both NODATA and traffic records.

Needs root, ip, tcpdump and tshark; skipped with the reason otherwise. Progress decides, not time:
every wait polls the agents' state directories with generous deadlines.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import signal
import struct
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from netns_kit import ENI_A, ENI_B, require_root_and_tools
from tshark_totals import tshark_totals

pytestmark = pytest.mark.privileged

ACCT = "123456789012"
VPC, SUBNET = "vpc-0000000000000000c", "subnet-0000000000000000c"
SG_B = "sg-0000000000000000b"
BUCKET = "fleet-logs"
PORT = 4566

SERVER = r"""
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port)); s.listen(64)
    while True:
        c, _ = s.accept()
        data = b""
        while not data.endswith(b"\n"):
            d = c.recv(4096)
            if not d:
                break
            data += d
        c.sendall(b"ok " + data); c.close()
for p in (80, 81):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

CLIENT = r"""
import socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    c = socket.create_connection((host, port), timeout=10)
    c.sendall(b"x" * (100 + 37 * i) + b"\n")
    got = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        got += d
    assert got.startswith(b"ok "), got
    c.close()
"""

CALL = r"""
import json, sys, boto3
from botocore.config import Config
url, op, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = boto3.client("ec2", endpoint_url=url, region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
out = getattr(c, op)(**params); out.pop("ResponseMetadata", None)
print(json.dumps(out, default=str))
"""


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


def _topology(net: str, ip_a: str, ip_b: str) -> str:
    return f"""
account_id: "{ACCT}"
region: us-east-1
vpcs:
  - name: lab
    id: {VPC}
    cidr_block: {net}
    subnets:
      - {{name: lab-1a, id: {SUBNET}, cidr_block: {net}, availability_zone: us-east-1a}}
security_groups:
  - {{name: sg-a, id: sg-0000000000000000a, vpc: lab, ingress: []}}
  - name: sg-b
    id: {SG_B}
    vpc: lab
    ingress:
      - {{protocol: tcp, ports: 80, cidr: {net}}}
      - {{protocol: tcp, ports: 81, cidr: {net}}}
network_interfaces:
  - {{name: host-a, id: {ENI_A}, subnet: lab-1a, private_ip: {ip_a}, instance_id: i-0000000000000000a,
     security_groups: [sg-a]}}
  - {{name: host-b, id: {ENI_B}, subnet: lab-1a, private_ip: {ip_b}, instance_id: i-0000000000000000b,
     security_groups: [sg-b]}}
s3_buckets:
  - {{name: {BUCKET}}}
"""


@dataclass
class Lab:
    tag: str
    ns: dict[str, str]
    data: dict[str, str]  # host -> data interface
    ip: dict[str, str]  # host -> data address
    mgmt: dict[str, str]  # host -> the server's address on that host's management link
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)

    def exec(self, host: str, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[host], *cmd]


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_root_and_tools()
    tag = secrets.token_hex(3)
    ns = {h: f"vpcflow-{h}-{tag}" for h in ("srv", "a", "b")}
    octet = 100 + secrets.randbelow(100)
    lab = Lab(tag, ns, {"a": f"da{tag}", "b": f"db{tag}"}, {"a": f"10.{octet}.1.10", "b": f"10.{octet}.1.20"},
              {"a": f"10.{octet}.2.1", "b": f"10.{octet}.3.1"})
    try:
        r = _run("ip", "netns", "add", ns["srv"], check=False)
        if r.returncode != 0:
            pytest.skip(f"cannot create a network namespace here: {r.stderr.strip()}")
        for h in ("a", "b"):
            _run("ip", "netns", "add", ns[h])
        _run("ip", "link", "add", lab.data["a"], "type", "veth", "peer", "name", lab.data["b"])
        for h in ("a", "b"):
            _run("ip", "link", "set", lab.data[h], "netns", ns[h])
            host_m, srv_m = f"m{h}{tag}", f"s{h}{tag}"
            _run("ip", "link", "add", host_m, "type", "veth", "peer", "name", srv_m)
            _run("ip", "link", "set", host_m, "netns", ns[h])
            _run("ip", "link", "set", srv_m, "netns", ns["srv"])
            base = lab.mgmt[h][: lab.mgmt[h].rindex(".")]
            _run("ip", "-n", ns["srv"], "addr", "add", f"{lab.mgmt[h]}/24", "dev", srv_m)
            _run("ip", "-n", ns["srv"], "link", "set", srv_m, "up")
            _run("ip", "-n", ns[h], "addr", "add", f"{base}.2/24", "dev", host_m)
            _run("ip", "-n", ns[h], "link", "set", host_m, "up")
            _run("ip", "-n", ns[h], "addr", "add", f"{lab.ip[h]}/24", "dev", lab.data[h])
            _run("ip", "-n", ns[h], "link", "set", lab.data[h], "up")
        for h in ns:
            # IPv4 only: no IPv6 neighbour chatter on the captured links
            _run("ip", "netns", "exec", ns[h], "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
            _run("ip", "-n", ns[h], "link", "set", "lo", "up")
        yield lab
    finally:
        for p in lab.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for n in ns.values():
            _run("ip", "netns", "del", n, check=False)


def _wait(what: str, ready: Callable[[], bool], deadline_s: float = 240.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting {deadline_s:.0f} s for {what}")
        time.sleep(0.5)


def _read_until(proc: subprocess.Popen[str], text: str, what: str) -> None:
    assert proc.stderr is not None or proc.stdout is not None
    stream = proc.stdout if text.startswith("vpcflow endpoint") or text == "ready" else proc.stderr
    assert stream is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            pytest.fail(f"{what} ended before saying {text!r} (exit {proc.poll()})")
        if text in line:
            return
    pytest.fail(f"{what} did not say {text!r}")


class Fleet:
    def __init__(self, lab: Lab, root: Path) -> None:
        self.lab, self.root = lab, root
        self.data_dir = root / "server"
        self.env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "PYTHONUNBUFFERED": "1"}
        self.server: subprocess.Popen[str] | None = None
        self.agents: dict[str, subprocess.Popen[str]] = {}

    def start_server(self) -> None:
        cmd = self.lab.exec("srv", sys.executable, "-m", "vpcflow.cli.main", "serve", "--data-dir", str(self.data_dir),
                            "--host", "0.0.0.0", "--allow-remote", "--port", str(PORT), "--log-level", "warning")
        self.server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=self.env)
        self.lab.procs.append(self.server)
        _read_until(self.server, "vpcflow endpoint", "vpcflow serve")

    def stop_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGTERM)
        self.server.wait(timeout=30)

    def call(self, op: str, **params: Any) -> Any:
        url = f"http://127.0.0.1:{PORT}"
        out = subprocess.run(self.lab.exec("srv", sys.executable, "-c", CALL, url, op, json.dumps(params)),
                             capture_output=True, text=True, timeout=120, env=self.env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def state(self, host: str) -> Path:
        return self.root / f"agent-{host}"

    def start_agent(self, host: str) -> None:
        eni = {"a": ENI_A, "b": ENI_B}[host]
        cmd = self.lab.exec(host, sys.executable, "-m", "vpcflow.cli.main", "agent", "--endpoint-url",
                            f"http://{self.lab.mgmt[host]}:{PORT}", "--region", "us-east-1", "--device",
                            f"{self.lab.data[host]}={eni}", "--state-dir", str(self.state(host)),
                            "--segment-s", "60", "--refresh-s", "2", "--agent-id", f"host-{host}")
        log = self.root / f"agent-{host}.log"
        start = log.stat().st_size if log.exists() else 0
        with open(log, "a") as out:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=out, text=True, env=self.env)
        self.lab.procs.append(proc)
        self.agents[host] = proc

        def recording() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"agent {host} exited ({proc.returncode}): {log.read_text()[-2000:]}")
            return "flow log(s) cover owned ENIs" in log.read_text()[start:]

        _wait(f"agent {host} to record", recording, deadline_s=120)

    def agent_json(self, host: str) -> dict[str, Any]:
        path = self.state(host) / "agent.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def spooled(self, host: str) -> int:
        return len(list((self.state(host) / "spool").rglob("*.spool")))

    def traffic(self, port: int, count: int) -> None:
        out = _run(*self.lab.exec("a", sys.executable, "-c", CLIENT, self.lab.ip["b"], str(port), str(count)),
                   check=False)
        assert out.returncode == 0, out.stderr


def _records(data_dir: Path, prefix: str = "") -> list[list[str]]:
    root = data_dir / "s3" / BUCKET / (prefix + "AWSLogs") if prefix else data_dir / "s3" / BUCKET / "AWSLogs"
    out: list[list[str]] = []
    for path in sorted(root.rglob("*.log.gz")):
        out += [ln.split(" ") for ln in gzip.decompress(path.read_bytes()).decode().splitlines()[1:]]
    return out


def _pcap_packets_since(path: Path, start_s: int) -> int:
    """Whole packets of a pcap being written (tcpdump -U) stamped at or after ``start_s``."""
    data = path.read_bytes()
    n, off = 0, 24
    while off + 16 <= len(data):
        ts, incl = struct.unpack_from("<I", data, off)[0], struct.unpack_from("<I", data, off + 8)[0]
        if off + 16 + incl > len(data):
            break
        n += ts >= start_s
        off += 16 + incl
    return n


def _totals(records: list[list[str]], eni: str) -> dict[tuple[str, str, int, int, int], tuple[int, int]]:
    out: dict[tuple[str, str, int, int, int], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for f in records:
        if f[2] == eni and f[13] == "OK":
            p, b = out[(f[3], f[4], int(f[7]), int(f[5]), int(f[6]))]
            out[(f[3], f[4], int(f[7]), int(f[5]), int(f[6]))] = (p + int(f[8]), b + int(f[9]))
    return dict(out)


def test_three_hosts_agents_record_real_traffic_through_kill_outage_and_changes(lab: Lab, tmp_path: Path) -> None:
    from vpcflow.runtime.client import Ec2Client

    net = lab.ip["a"][: lab.ip["a"].rindex(".")] + ".0/24"
    topo = tmp_path / "lab.yaml"
    topo.write_text(_topology(net, lab.ip["a"], lab.ip["b"]))
    fleet = Fleet(lab, tmp_path)
    with Ec2Client(fleet.data_dir) as c:
        c.load_topology(topo)
    fleet.start_server()
    fleet.call("create_flow_logs", ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL",
               LogDestinationType="s3", LogDestination=f"arn:aws:s3:::{BUCKET}", MaxAggregationInterval=60)
    server = subprocess.Popen(lab.exec("b", sys.executable, "-c", SERVER, lab.ip["b"]), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lab.procs.append(server)
    _read_until(server, "ready", "the test's TCP server")
    for h in ("a", "b"):
        fleet.start_agent(h)
    pcaps = {h: tmp_path / f"{h}.pcap" for h in ("a", "b")}
    dumps = []
    for h in ("a", "b"):
        # --immediate-mode: each packet is in the file as it is seen, not up to a ring timeout later
        # (the kill below compares the agent's journal with this file).
        p = subprocess.Popen(lab.exec(h, "tcpdump", "-n", "-U", "--immediate-mode", "-s", "128", "-i", lab.data[h],
                                      "--time-stamp-precision=nano", "-w", str(pcaps[h])),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lab.procs.append(p)
        _read_until(p, "listening on", f"tcpdump on {h}")
        dumps.append(p)
    first_digest = {h: fleet.agent_json(h)["open"]["digest"] for h in ("a", "b")}

    fleet.traffic(80, 3)
    fleet.traffic(81, 2)
    # Changes while the agents run: a second flow log (B's ENI, its own prefix) and port 81 revoked.
    second = fleet.call("create_flow_logs", ResourceIds=[ENI_B], ResourceType="NetworkInterface",
                        TrafficType="ALL", LogDestinationType="s3", LogDestination=f"arn:aws:s3:::{BUCKET}/second/",
                        MaxAggregationInterval=60)["FlowLogIds"][0]
    fleet.call("revoke_security_group_ingress", GroupId=SG_B, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 81, "ToPort": 81, "IpRanges": [{"CidrIp": net}]}])
    _wait("both agents recording with the new snapshot", lambda: all(
        (fleet.agent_json(h).get("open") or {}).get("digest") not in (None, first_digest[h]) for h in ("a", "b")))
    changed_from = max(fleet.agent_json(h)["open"]["start"] for h in ("a", "b"))
    fleet.traffic(80, 2)
    fleet.traffic(81, 2)

    # SIGKILL agent A once it has read (journaled) every packet of its open segment that tcpdump saw:
    # what a killed process had not read yet is lost whatever it does. tcpdump's count must also have
    # stopped moving (two polls alike), or a packet of the last connection still on its way would be
    # missing from both and the agent killed before reading it.
    seen: list[int] = []

    def journaled() -> bool:
        from vpcflow.agent.journal import read_journal_file
        from vpcflow.dataplane.packets import PacketBatch

        seg = fleet.agent_json("a").get("open") or {}
        if not seg:
            return False
        folder = fleet.state("a") / "journal" / str(seg["start"])
        expected = _pcap_packets_since(pcaps["a"], seg["start"])
        seen.append(expected)
        got = sum(len(b) for p in folder.glob("*.arrow") for b in read_journal_file(p) if isinstance(b, PacketBatch))
        return got > 0 and got >= expected and seen[-2:] == [expected, expected]

    _wait("agent A to journal the open segment's packets", journaled)
    fleet.agents["a"].kill()
    fleet.agents["a"].wait()
    fleet.start_agent("a")
    fleet.traffic(80, 2)

    # The server stops for 30 s while traffic goes on; the agents spool and catch up.
    fleet.stop_server()
    stopped = time.monotonic()
    before = {h: fleet.agent_json(h).get("delivered_until") or 0 for h in ("a", "b")}
    fleet.traffic(80, 2)
    # Both agents close a segment with traffic while the server is down: its records are spooled.
    _wait("a segment closed during the outage", lambda: all(
        (fleet.agent_json(h).get("delivered_until") or 0) > before[h] for h in ("a", "b")) and all(
        fleet.spooled(h) > 0 for h in ("a", "b")), deadline_s=240)
    time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))
    fleet.start_server()
    fleet.traffic(80, 1)
    last = time.time()

    # ...and one quiet minute after it (its NODATA records), with the spools drained.
    _wait("every segment with traffic and a quiet one delivered, spools drained", lambda: all(
        (fleet.agent_json(h).get("delivered_until") or 0) >= last + 61 and fleet.spooled(h) == 0
        for h in ("a", "b")), deadline_s=300)
    for p in dumps:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
    for proc in fleet.agents.values():
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    fleet.stop_server()

    records = _records(fleet.data_dir)
    for host, eni in (("a", ENI_A), ("b", ENI_B)):
        theirs = tshark_totals(pcaps[host])
        assert len(theirs) == 2 * 14, host  # 14 connections, each direction a 5-tuple
        assert _totals(records, eni) == theirs, host
    states: dict[tuple[str, int], set[str]] = defaultdict(set)
    for f in records:
        states[(f[2], int(f[10]) - int(f[10]) % 60)].add(f[13])
    assert not [k for k, v in states.items() if "NODATA" in v and "OK" in v]
    assert {eni for (eni, _w), v in states.items() if v == {"NODATA"}} == {ENI_A, ENI_B}
    assert {f[2] for f in records} == {ENI_A, ENI_B}
    # The revoked rule: new connections to B:81 are refused after the change, accepted before it.
    b81 = {(int(f[10]) >= changed_from, f[12]) for f in records
           if f[2] == ENI_B and f[4] == lab.ip["b"] and f[6] == "81" and f[13] == "OK"}
    assert (False, "ACCEPT") in b81 and (True, "REJECT") in b81 and (False, "REJECT") not in b81
    # The flow log created while the agents ran records B's ENI from its first segment on, and only B's.
    later = _records(fleet.data_dir, "second/")
    assert later and {f[2] for f in later} == {ENI_B}
    assert min(int(f[10]) for f in later) >= changed_from - 60
    assert second.startswith("fl-")
