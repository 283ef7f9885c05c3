"""Cross-check on real traffic: two network namespaces joined by a veth pair exchange real TCP, UDP and
ICMP; tcpdump (pcap, nanosecond) and dumpcap (pcapng) capture it; vpcflow's per-5-tuple packets and bytes
must equal tshark's independent dissection of the same files. Needs root and ip/tcpdump/tshark."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns_kit import lab_network_yaml, require_root_and_tools
from tshark_totals import tshark_totals

from vpcflow.dataplane.sources.capture import five_tuple_totals, open_capture

pytestmark = pytest.mark.privileged


SERVER = r"""
import socket, sys, threading
host, tport, uport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((host, uport))
def udp():
    for _ in range(10):
        data, peer = u.recvfrom(65535)
        u.sendto(data * 2, peer)
t = threading.Thread(target=udp, daemon=True); t.start()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, tport)); s.listen()
print("ready", flush=True)
for _ in range(3):
    c, _ = s.accept()
    need = int.from_bytes(c.recv(4), "big"); got = 0
    while got < need:
        got += len(c.recv(65536))
    c.sendall(b"r" * (2 * need)); c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
t.join(30)
"""

CLIENT = r"""
import socket, struct, sys, time
host, tport, uport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# ICMP echo through a raw socket (no dependency on a ping binary); the peer's kernel answers
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xFFFF) + (s >> 16); s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); r.settimeout(5)
for seq in range(4):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq) + b"p" * 300
    r.sendto(body[:2] + struct.pack("!H", csum(body)) + body[4:], (host, 0))
    while True:
        pkt = r.recv(2048)
        if pkt[20] == 0 and struct.unpack("!H", pkt[26:28])[0] == seq:
            break
for size in (1000, 50000, 300000):
    c = socket.create_connection((host, tport)); c.sendall(size.to_bytes(4, "big") + b"q" * size)
    got = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    assert got == 2 * size, got
    c.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
for i in range(10):
    u.sendto(b"u" * (20 + 100 * i), (host, uport)); u.recvfrom(65535)
"""


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str, str, str, str, str]]:
    require_root_and_tools()
    tag = secrets.token_hex(3)
    ns_a, ns_b, veth_a, veth_b = f"vpcflow-a-{tag}", f"vpcflow-b-{tag}", f"vfa{tag}", f"vfb{tag}"
    octet = 200 + secrets.randbelow(50)
    # .10 and .20: not among the five addresses AWS reserves in a subnet, so the same addresses can be
    # modelled as ENIs for the record-level check.
    ip_a, ip_b = f"10.{octet}.{secrets.randbelow(250)}.10", ""
    ip_b = ip_a[: ip_a.rindex(".")] + ".20"
    try:
        r = _run("ip", "netns", "add", ns_a, check=False)
        if r.returncode != 0:
            pytest.skip(f"cannot create a network namespace here: {r.stderr.strip()}")
        _run("ip", "netns", "add", ns_b)
        _run("ip", "link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        _run("ip", "link", "set", veth_a, "netns", ns_a)
        _run("ip", "link", "set", veth_b, "netns", ns_b)
        for ns, dev, ip in ((ns_a, veth_a, ip_a), (ns_b, veth_b, ip_b)):
            # IPv4 only: no IPv6 router/neighbour chatter with non-10.x addresses
            _run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
            _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "link", "set", dev, "up")
        yield ns_a, ns_b, veth_a, veth_b, ip_a, ip_b
    finally:
        for ns in (ns_a, ns_b):
            _run("ip", "netns", "del", ns, check=False)


def _start_capture(cmd: list[str], path: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    assert proc.stderr is not None
    line = b""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if b"listening on" in line or b"Capturing on" in line or not line:
            break
    if proc.poll() is not None:
        pytest.fail(f"capture did not start: {' '.join(cmd)}: {line!r}")
    time.sleep(0.3)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_vpcflow_and_tshark_agree_on_real_traffic(
    namespaces: tuple[str, str, str, str, str, str], tmp_path: Path
) -> None:
    ns_a, ns_b, veth_a, veth_b, ip_a, ip_b = namespaces
    pcap = tmp_path / "b.pcap"
    captures = [
        _start_capture(
            [
                "ip",
                "netns",
                "exec",
                ns_b,
                "tcpdump",
                "-n",
                "-U",
                "-s",
                "128",
                "-i",
                veth_b,
                "--time-stamp-precision=nano",
                "-w",
                str(pcap),
            ],
            pcap,
        )
    ]
    pcapng = tmp_path / "a.pcapng"
    if shutil.which("dumpcap"):
        captures.append(
            _start_capture(
                ["ip", "netns", "exec", ns_a, "dumpcap", "-q", "-i", veth_a, "-s", "200", "-w", str(pcapng)], pcapng
            )
        )
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns_b, sys.executable, "-c", SERVER, ip_b, "5001", "5002"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = _run("ip", "netns", "exec", ns_a, sys.executable, "-c", CLIENT, ip_b, "5001", "5002", check=False)
        assert client.returncode == 0, client.stderr
        server.wait(timeout=30)
        time.sleep(0.5)
    finally:
        if server.poll() is None:
            server.kill()
        for proc in captures:
            _stop(proc)
    files = [pcap] + ([pcapng] if pcapng.exists() else [])
    for path in files:
        src = open_capture(str(path))
        ours = five_tuple_totals(src.batches())
        theirs = tshark_totals(path)
        assert ours == theirs, path.name
        protos = {k[2] for k in ours if {k[0], k[1]} == {ip_a, ip_b}}
        assert protos == {1, 6, 17}, (path.name, protos)
        tcp = [v for k, v in ours.items() if k[2] == 6 and k[4] == 5001]
        assert sum(p for p, _ in tcp) >= 3 * 4  # three connections, handshakes and data
        assert src.stats.packets == sum(p for p, _ in ours.values())
    _records_agree_with_tshark(pcap, ip_a, ip_b, tmp_path)


def _records_agree_with_tshark(pcap: Path, ip_a: str, ip_b: str, tmp_path: Path) -> None:
    """Through the whole pipeline: the flow-log records of the capturing ENI, summed per 5-tuple, carry
    exactly the packets and bytes tshark counts (every packet counted once, at the ENI it was captured on)."""
    from vpcflow.query.duck import FlowLogDatabase, find_log_files
    from vpcflow.runtime.run import run

    topo = tmp_path / "lab.yaml"
    topo.write_text(lab_network_yaml(ip_a, ip_b) + """s3_buckets:
  - {name: lab-logs, owner: "123456789012", region: us-east-1}
""")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"""
topology: {topo}
flow_logs:
  create:
    - {{ResourceIds: [vpc-0000000000000000a], ResourceType: VPC, TrafficType: ALL, LogDestinationType: s3,
       LogDestination: "arn:aws:s3:::lab-logs"}}
sources:
  - capture: {pcap}
    interface: eni-0000000000000000b
""")
    data = tmp_path / "data"
    result = run(cfg, data_dir=data)
    assert result.stats.packets > 0
    db = FlowLogDatabase()
    db.add_files(find_log_files(data / "s3"))
    db.create_view()
    rows = db.query(
        "SELECT srcaddr, dstaddr, protocol, srcport, dstport, SUM(packets) AS p, SUM(bytes) AS b FROM vpc_flow_logs "
        "WHERE log_status = 'OK' GROUP BY ALL"
    ).to_pylist()
    assert {r["srcaddr"] for r in rows} <= {ip_a, ip_b} and rows
    ours = {(r["srcaddr"], r["dstaddr"], r["protocol"], r["srcport"], r["dstport"]): (r["p"], r["b"]) for r in rows}
    theirs = {k: v for k, v in tshark_totals(pcap).items() if {k[0], k[1]} == {ip_a, ip_b}}
    assert ours == theirs
