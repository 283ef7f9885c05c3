"""Fidelity defects found on real traffic (issue 10, item 5), each reproduced from a capture.

Captures are written with the project's pcap writer, read by the real capture source, attributed and
evaluated by the policy engine and aggregated through ``dataplane.pipeline``; the assertions are on
the flow-log lines and the REJECT side channel.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from vpcflow.codecs.text import render_lines
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions
from vpcflow.dataplane.attribute.engine import PolicyEngine
from vpcflow.dataplane.packets import PacketBatch, ip_to_pair
from vpcflow.dataplane.pipeline import run_pipeline
from vpcflow.dataplane.sinks.files import FilesSink
from vpcflow.dataplane.sources.capture import open_capture
from vpcflow.dataplane.sources.pcap_writer import write_pcap
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.loader import loads_topology
from vpcflow.model.topology.model import Topology

WEB = "eni-0aaaaaaaaaaaaaaa1"
WEB_IP = "10.0.1.10"
CLIENT = "198.51.100.7"
TOPOLOGY = """
account_id: "123456789010"
region: us-east-1
regions:
  - name: us-east-1
    availability_zones: [{name: us-east-1a, id: use1-az1}]
vpcs:
  - name: vpc
    id: vpc-abcdefab012345678
    cidr_block: 10.0.0.0/16
    subnets:
      - {name: sub, id: subnet-aaaaaaaa012345678, cidr_block: 10.0.1.0/24, availability_zone: us-east-1a}
network_interfaces:
  - name: web
    id: eni-0aaaaaaaaaaaaaaa1
    subnet: sub
    instance_id: i-01234567890123456
    private_ip: 10.0.1.10
    security_groups: [web-sg]
security_groups:
  - name: web-sg
    id: sg-0123456789abcdef0
    vpc: vpc
    # HTTP from the client network only (not 0.0.0.0/0): connections are tracked, responses ride them.
    ingress:
      - {protocol: tcp, ports: 80, cidr: 198.51.100.0/24}
    egress: []
route_tables:
  - name: rt
    id: rtb-0123456789abcdef0
    vpc: vpc
    main: true
    routes:
      - {destination: 0.0.0.0/0, internet_gateway: igw}
internet_gateways:
  - {name: igw, id: igw-0123456789abcdef0, vpc: vpc}
"""
FORMAT = "${interface-id} ${flow-direction} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${packets} ${action}"
T0 = 1700000040  # 60-s windows: the whole exchange lies in one window

FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


@pytest.fixture(scope="module")
def topology() -> Topology:
    return loads_topology(TOPOLOGY, source="fidelity-topology.yaml")


def flow_log() -> FlowLog:
    return FlowLog(flow_log_id="fl-00000000000000001", account_id="123456789010", region="us-east-1",
                   resource_id=WEB, resource_type="NetworkInterface", traffic_type="ALL",
                   log_destination_type="s3", creation_time=datetime(2015, 1, 1, tzinfo=UTC),
                   log_destination="arn:aws:s3:::fidelity", max_aggregation_interval=60, log_format=FORMAT)


def tcp_batch(rows: list[tuple[float, str, str, int, int, int]]) -> PacketBatch:
    """rows: (seconds after T0, src, dst, sport, dport, tcp flags)."""
    src = [ip_to_pair(r[1]) for r in rows]
    dst = [ip_to_pair(r[2]) for r in rows]
    n = len(rows)
    return PacketBatch(
        ts_ns=np.array([round((T0 + r[0]) * 1e9) for r in rows], np.int64), ip_version=np.full(n, 4, np.uint8),
        src_hi=np.array([s[0] for s in src], np.uint64), src_lo=np.array([s[1] for s in src], np.uint64),
        dst_hi=np.array([d[0] for d in dst], np.uint64), dst_lo=np.array([d[1] for d in dst], np.uint64),
        protocol=np.full(n, 6, np.uint8), src_port=np.array([r[3] for r in rows], np.uint16),
        dst_port=np.array([r[4] for r in rows], np.uint16), icmp_type=np.full(n, -1, np.int16),
        icmp_code=np.full(n, -1, np.int16), ip_len=np.full(n, 52, np.uint32),
        tcp_flags=np.array([r[5] for r in rows], np.uint8), fragment=np.zeros(n, np.uint8),
        iface=np.full(n, -1, np.int16),
    )


def records(tmp_path: Path, topology: Topology, capture: Path) -> tuple[list[str], list[str]]:
    """(flow-log lines, REJECT side-channel lines) of a capture."""
    lines: list[str] = []

    def tap(out) -> None:  # type: ignore[no-untyped-def]
        lines.extend(render_lines(out.table).to_pylist())

    fl = flow_log()
    run_pipeline([open_capture(str(capture))], PolicyEngine(topology), [fl], topology,
                 {fl.flow_log_id: FilesSink(tmp_path / "out")}, side_dir=tmp_path / "rejects",
                 taps={"aggregate": tap}, options=AggregateOptions())
    side = tmp_path / "rejects" / f"{fl.flow_log_id}.rejects.jsonl"
    return sorted(lines), side.read_text().splitlines() if side.exists() else []


def http_exchange(port: int) -> list[tuple[float, str, str, int, int, int]]:
    """Handshake, a request and a response of one HTTP connection from the client's ``port``."""
    c, s = (CLIENT, WEB_IP, port, 80), (WEB_IP, CLIENT, 80, port)
    return [(0.00, *c, SYN), (0.01, *s, SYN | ACK), (0.02, *c, ACK), (0.03, *c, PSH | ACK),
            (0.04, *s, ACK), (0.05, *s, PSH | ACK)]


def test_simultaneous_close_final_acks_belong_to_the_connection(tmp_path: Path, topology: Topology) -> None:
    # Both FINs cross on the wire, then each side ACKs the other's FIN: all of it is the connection.
    c, s = (CLIENT, WEB_IP, 40001, 80), (WEB_IP, CLIENT, 80, 40001)
    rows = [*http_exchange(40001), (0.06, *c, FIN | ACK), (0.0601, *s, FIN | ACK), (0.07, *c, ACK),
            (0.0701, *s, ACK)]
    cap = tmp_path / "simultaneous-close.pcap"
    write_pcap(cap, tcp_batch(rows))
    lines, side = records(tmp_path, topology, cap)
    assert lines == [f"{WEB} egress {WEB_IP} {CLIENT} 80 40001 5 ACCEPT",
                     f"{WEB} ingress {CLIENT} {WEB_IP} 40001 80 5 ACCEPT"]
    assert side == []


def test_packets_after_a_completed_close_are_rejected_spec_2_3(tmp_path: Path, topology: Topology) -> None:
    # The server closes first; the client's FIN carries the ACK; the server's final ACK completes the
    # close. A client data packet after that is "after the connection was closed" (spec 2.3) - and
    # so is a second final ACK from a side that already sent its own.
    c, s = (CLIENT, WEB_IP, 40002, 80), (WEB_IP, CLIENT, 80, 40002)
    rows = [*http_exchange(40002), (0.06, *s, FIN | ACK), (0.07, *c, FIN | ACK), (0.08, *s, ACK),
            (0.09, *s, ACK), (1.0, *c, PSH | ACK)]
    cap = tmp_path / "late-packets.pcap"
    write_pcap(cap, tcp_batch(rows))
    lines, side = records(tmp_path, topology, cap)
    assert lines == [f"{WEB} egress {WEB_IP} {CLIENT} 80 40002 1 REJECT",
                     f"{WEB} egress {WEB_IP} {CLIENT} 80 40002 5 ACCEPT",
                     f"{WEB} ingress {CLIENT} {WEB_IP} 40002 80 1 REJECT",
                     f"{WEB} ingress {CLIENT} {WEB_IP} 40002 80 4 ACCEPT"]
    assert len(side) == 2 and all("after the tracked connection was closed" in ln for ln in side)


# ------------------------------------------------------------- Windows activation, link-local traffic
PLATFORM_TOPOLOGY = TOPOLOGY.replace("""    security_groups: [web-sg]
security_groups:""", """    security_groups: [web-sg]
    link_local_ipv6: "fe80::4a3:cff:fe12:3456"
  - name: win
    id: eni-0bbbbbbbbbbbbbbb2
    subnet: sub
    instance_id: i-0bbbbbbbbbbbbbbbb
    private_ip: 10.0.1.20
    platform: windows
    security_groups: [web-sg]
security_groups:""").replace("      - {protocol: tcp, ports: 80, cidr: 198.51.100.0/24}\n",
                             "      - {protocol: tcp, ports: 80, cidr: 198.51.100.0/24}\n"
                             "      - {protocol: icmpv6, icmp_type: -1, ipv6_cidr: \"fe80::/10\"}\n"
                             ).replace("    egress: []\n", "    egress:\n      - {protocol: all, cidr: 0.0.0.0/0}\n"
                             "      - {protocol: all, ipv6_cidr: \"::/0\"}\n")
WIN = "eni-0bbbbbbbbbbbbbbb2"
KMS = "169.254.169.250"


def flow_log_on(eni: str) -> FlowLog:
    return FlowLog(flow_log_id="fl-00000000000000001", account_id="123456789010", region="us-east-1",
                   resource_id=eni, resource_type="NetworkInterface", traffic_type="ALL",
                   log_destination_type="s3", creation_time=datetime(2015, 1, 1, tzinfo=UTC),
                   log_destination="arn:aws:s3:::fidelity", max_aggregation_interval=60, log_format=FORMAT)


def engine_lines(topology: Topology, batch: PacketBatch, enis: list[str]) -> tuple[list[str], dict[str, int]]:
    """Flow-log lines of every ENI in ``enis`` for one batch, and the engine's not-captured counts."""
    from vpcflow.dataplane.aggregate.aggregator import Aggregator

    engine = PolicyEngine(topology)
    agg = Aggregator([flow_log_on(e) for e in enis], topology)
    agg.add(engine.observe(batch))
    lines = [ln for out in agg.finish() for ln in render_lines(out.table).to_pylist() if not ln.endswith(" -")]
    return sorted(lines), {k: v for k, v in engine.not_captured.items() if v}


def test_windows_activation_is_left_out_only_from_a_windows_instance_spec_2_7() -> None:
    topo = loads_topology(PLATFORM_TOPOLOGY, source="platform.yaml")
    assert topo.enis_by_id[WIN].platform == "windows" and topo.enis_by_id[WEB].platform == "linux"
    rows = [(0.0, "10.0.1.20", KMS, 49700, 1688, SYN), (0.01, KMS, "10.0.1.20", 1688, 49700, SYN | ACK),
            (0.1, WEB_IP, KMS, 49701, 1688, SYN), (0.11, KMS, WEB_IP, 1688, 49701, SYN | ACK)]
    lines, not_captured = engine_lines(topo, tcp_batch(rows), [WEB, WIN])
    # The Linux instance's packets to the KMS hosts are ordinary traffic; the Windows instance's are not captured.
    assert lines == [f"{WEB} egress {WEB_IP} {KMS} 49701 1688 1 ACCEPT",
                     f"{WEB} ingress {KMS} {WEB_IP} 1688 49701 1 ACCEPT"]
    assert not_captured == {"windows_activation": 2}


def icmp6_batch(rows: list[tuple[float, str, str, int]], iface: str) -> PacketBatch:
    """ICMPv6 rows (seconds after T0, src, dst, type) captured on ``iface``."""
    b = tcp_batch([(t, "10.0.0.1", "10.0.0.2", 0, 0, 0) for t, *_ in rows])
    src = [ip_to_pair(r[1]) for r in rows]
    dst = [ip_to_pair(r[2]) for r in rows]
    n = len(rows)
    return PacketBatch(
        ts_ns=b.ts_ns, ip_version=np.full(n, 6, np.uint8),
        src_hi=np.array([s[0] for s in src], np.uint64), src_lo=np.array([s[1] for s in src], np.uint64),
        dst_hi=np.array([d[0] for d in dst], np.uint64), dst_lo=np.array([d[1] for d in dst], np.uint64),
        protocol=np.full(n, 58, np.uint8), src_port=np.zeros(n, np.uint16), dst_port=np.zeros(n, np.uint16),
        icmp_type=np.array([r[3] for r in rows], np.int16), icmp_code=np.zeros(n, np.int16),
        ip_len=np.full(n, 72, np.uint32), tcp_flags=np.zeros(n, np.uint8), fragment=np.zeros(n, np.uint8),
        iface=np.zeros(n, np.int16), interfaces=(iface,),
    )


def test_ipv6_link_local_and_multicast_get_their_direction_from_the_addresses() -> None:
    topo = loads_topology(PLATFORM_TOPOLOGY, source="platform.yaml")
    own, router = "fe80::4a3:cff:fe12:3456", "fe80::1"
    rows = [(0.0, own, "ff02::2", 133),  # router solicitation FROM the ENI: egress
            (0.1, router, "ff02::1", 134),  # router advertisement to all nodes: received, ingress
            (0.2, router, "ff02::1:ff12:3456", 135),  # neighbour solicitation to its solicited-node group
            (0.3, own, router, 136),  # the ENI's neighbour advertisement: egress
            (0.4, router, own, 136)]  # the router's, to the ENI's own link-local address: ingress
    lines, _ = engine_lines(topo, icmp6_batch(rows, WEB), [WEB])
    # srcaddr/dstaddr keep the link-local addresses (they are the ENI's own or its peer's, spec 2.6).
    assert lines == sorted([f"{WEB} egress {own} ff02::2 0 0 1 ACCEPT",
                            f"{WEB} egress {own} {router} 0 0 1 ACCEPT",
                            f"{WEB} ingress {router} {own} 0 0 1 ACCEPT",
                            f"{WEB} ingress {router} ff02::1 0 0 1 ACCEPT",
                            f"{WEB} ingress {router} ff02::1:ff12:3456 0 0 1 ACCEPT"])


# ------------------------------------------------------------------------------ mirrored traffic
MIRROR_TOPOLOGY = TOPOLOGY.replace("""    security_groups: [web-sg]
security_groups:""", """    security_groups: [web-sg]
  - name: mirror-target
    id: eni-0ccccccccccccccc3
    subnet: sub
    instance_id: i-0cccccccccccccccc
    private_ip: 10.0.1.30
    security_groups: [web-sg]
  - name: router
    id: eni-0ddddddddddddddd4
    subnet: sub
    instance_id: i-0dddddddddddddddd
    private_ip: 10.0.1.40
    source_dest_check: false
    security_groups: [web-sg]
security_groups:""")
TARGET, ROUTER = "eni-0ccccccccccccccc3", "eni-0ddddddddddddddd4"


def _ipv4(src: str, dst: str, proto: int, l4: bytes) -> bytes:
    import ipaddress
    import struct

    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0x4000, 64, proto, 0,
                       ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed) + l4


def _tcp_syn(sport: int, dport: int) -> bytes:
    import struct

    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, SYN, 65535, 0, 0)


def _vxlan_copy(inner_ip: bytes, src: str, dst: str) -> bytes:
    """A traffic-mirroring copy: outer IPv4/UDP to port 4789, VXLAN header, the inner Ethernet frame."""
    import struct

    inner = bytes(6) + bytes(5) + b"\x01" + b"\x08\x00" + inner_ip
    vxlan = struct.pack("!BBHI", 0x08, 0, 0, 7 << 8)
    udp = struct.pack("!HHHH", 50000, 4789, 8 + len(vxlan) + len(inner), 0) + vxlan + inner
    return _ipv4(src, dst, 17, udp)


def _raw_pcap(path: Path, frames: list[tuple[float, bytes]]) -> None:
    import struct

    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for ts, frame in frames:
        sec = int(ts)
        out.append(struct.pack("<IIII", sec, round((ts - sec) * 1e6), len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))


def test_mirrored_copies_at_a_mirror_target_are_not_captured_spec_2_7(tmp_path: Path) -> None:
    from vpcflow.dataplane.aggregate.aggregator import Aggregator

    topo = loads_topology(MIRROR_TOPOLOGY, source="mirror.yaml")
    # The web server's traffic, mirrored to the target: VXLAN copies from the source's address.
    inner = [_ipv4(CLIENT, WEB_IP, 6, _tcp_syn(40003, 80)), _ipv4(CLIENT, WEB_IP, 6, _tcp_syn(40004, 80))]
    cap = tmp_path / "mirror-target.pcap"
    _raw_pcap(cap, [(T0 + i, _vxlan_copy(p, WEB_IP, "10.0.1.30")) for i, p in enumerate(inner)])
    source = open_capture(str(cap), interface=TARGET)
    engine = PolicyEngine(topo)
    agg = Aggregator([flow_log_on(TARGET), flow_log_on(WEB)], topo)
    for b in source.batches():
        agg.add(engine.observe(b))
    assert source.stats.vxlan_decapsulated == 2  # the inner packets are what the engine saw
    lines = [ln for out in agg.finish() for ln in render_lines(out.table).to_pylist() if not ln.endswith(" -")]
    assert lines == []  # no REJECTs on the target, nothing invented for the mirror source either
    assert {k: v for k, v in engine.not_captured.items() if v} == {"mirrored": 2}


def test_a_forwarding_appliance_still_records_traffic_it_forwards() -> None:
    # source_dest_check off: an interface may carry packets neither from nor to it (not a mirror copy).
    topo = loads_topology(MIRROR_TOPOLOGY, source="mirror.yaml")
    b = tcp_batch([(0.0, CLIENT, WEB_IP, 40005, 80, SYN)])
    b = PacketBatch(**{k: getattr(b, k) for k in b.__dataclass_fields__ if k not in ("iface", "interfaces")},
                    iface=np.zeros(1, np.int16), interfaces=(ROUTER,))
    lines, not_captured = engine_lines(topo, b, [ROUTER])
    # Egress into the VPC (spec 2.6: srcaddr shows the interface's primary address); web-sg has no egress rule.
    assert lines == [f"{ROUTER} egress 10.0.1.40 {WEB_IP} 40005 80 1 REJECT"] and not_captured == {}
