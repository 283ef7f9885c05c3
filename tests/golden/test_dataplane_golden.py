"""Golden data-plane tests: tiny hand-made captures + a topology -> the EXACT flow-log lines.

Captures are written by the tests (the sources engineer's pcap writer for Ethernet/raw-IP pcap,
``struct`` for VLAN-tagged, Linux-cooked and pcapng files), read by the real capture sources,
attributed and evaluated by the real policy engine and aggregated by ``dataplane.aggregate`` through
``dataplane.pipeline``. Expected lines are AWS's samples of spec section 7 wherever our epoch-aligned
windows can reproduce them (7.1, 7.3, 7.4 with a non-Nitro ENI and 600-s windows), and the spec's
rules (7.5 tcp-flags sequence, 7.2 NODATA shape) otherwise.
"""

from __future__ import annotations

import ipaddress
import struct
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
from vpcflow.dataplane.sources.pcap_writer import LINKTYPE_RAW, write_pcap
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.loader import loads_topology

ENI = "eni-1235b8ca123456789"
IDLE = "eni-11111111aaaaaaaaa"
NITRO_ENI = "eni-0aaaaaaaaaaaaaaa1"
TOPOLOGY = """
account_id: "123456789010"
region: us-east-1
regions:
  - name: us-east-1
    availability_zones: [{name: us-east-1a, id: use1-az1}]
vpcs:
  - name: vpc
    id: vpc-abcdefab012345678
    cidr_block: 172.31.0.0/16
    ipv6_cidr_blocks: ["2001:db8:1234:a100::/56"]
    subnets:
      - {name: sub, id: subnet-aaaaaaaa012345678, cidr_block: 172.31.16.0/20, availability_zone: us-east-1a,
         ipv6_cidr_block: "2001:db8:1234:a102::/64"}
      - {name: sub2, id: subnet-bbbbbbbb012345678, cidr_block: 172.31.0.0/20, availability_zone: us-east-1a}
network_interfaces:
  - name: web
    id: eni-1235b8ca123456789
    subnet: sub
    instance_id: i-01234567890123456
    private_ip: 172.31.16.139
    ipv6_addresses: ["2001:db8:1234:a102:3304:8879:34cf:4071"]
    security_groups: [web-sg]
    nitro: false
  - name: idle
    id: eni-11111111aaaaaaaaa
    subnet: sub
    instance_id: i-0bbbbbbbbbbbbbbbb
    private_ip: 172.31.16.200
    security_groups: [web-sg]
    nitro: false
  - name: modern
    id: eni-0aaaaaaaaaaaaaaa1
    subnet: sub2
    instance_id: i-0cccccccccccccccc
    private_ip: 172.31.0.62
    security_groups: [web-sg]
security_groups:
  - name: web-sg
    id: sg-0123456789abcdef0
    vpc: vpc
    ingress:
      - {protocol: icmp, icmp_type: -1, cidr: 0.0.0.0/0}
      - {protocol: tcp, ports: 22, cidr: 0.0.0.0/0, ipv6_cidr: "::/0"}
      - {protocol: tcp, ports: 5001, cidr: 0.0.0.0/0}
network_acls:
  - name: nacl
    id: acl-0123456789abcdef0
    vpc: vpc
    subnets: [sub, sub2]
    ingress:
      - {rule: 100, protocol: all, action: allow, cidr: 0.0.0.0/0}
      - {rule: 101, protocol: all, action: allow, ipv6_cidr: "::/0"}
    egress:
      # TCP and UDP out, but no ICMP: the ping reply of spec 2.3/7.3 is dropped by the NACL.
      - {rule: 100, protocol: tcp, ports: 0-65535, action: allow, cidr: 0.0.0.0/0}
      - {rule: 110, protocol: udp, ports: 0-65535, action: allow, cidr: 0.0.0.0/0}
      - {rule: 101, protocol: all, action: allow, ipv6_cidr: "::/0"}
route_tables:
  - name: rt
    id: rtb-0123456789abcdef0
    vpc: vpc
    main: true
    routes:
      - {destination: 0.0.0.0/0, internet_gateway: igw}
      - {destination: "::/0", internet_gateway: igw}
internet_gateways:
  - {name: igw, id: igw-0123456789abcdef0, vpc: vpc}
"""
V3 = ("${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} "
      "${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} "
      "${action} ${tcp-flags} ${log-status}")


@pytest.fixture(scope="module")
def topology():
    return loads_topology(TOPOLOGY, source="golden-topology.yaml")


def flow_log(resource_id: str = ENI, resource_type: str = "NetworkInterface", *, fmt: str | None = None,
             interval: int = 600, traffic_type: str = "ALL") -> FlowLog:
    extra = {} if fmt is None else {"log_format": fmt}
    return FlowLog(flow_log_id="fl-00000000000000001", account_id="123456789010", region="us-east-1",
                   resource_id=resource_id, resource_type=resource_type,  # type: ignore[arg-type]
                   traffic_type=traffic_type,  # type: ignore[arg-type]
                   log_destination_type="s3", creation_time=datetime(2015, 1, 1, tzinfo=UTC),
                   log_destination="arn:aws:s3:::golden", max_aggregation_interval=interval, **extra)


def batch(rows: list[tuple]) -> PacketBatch:
    """rows: (ts_seconds, src, dst, proto, sport, dport, ip_len, tcp_flags[, icmp_type, fragment])."""
    n = len(rows)
    src = [ip_to_pair(r[1]) for r in rows]
    dst = [ip_to_pair(r[2]) for r in rows]
    icmp_type = [r[8] if len(r) > 8 else (8 if r[3] in (1, 58) else -1) for r in rows]
    return PacketBatch(
        ts_ns=np.array([round(r[0] * 1e9) for r in rows], np.int64),
        ip_version=np.array([6 if ":" in r[1] else 4 for r in rows], np.uint8),
        src_hi=np.array([s[0] for s in src], np.uint64), src_lo=np.array([s[1] for s in src], np.uint64),
        dst_hi=np.array([d[0] for d in dst], np.uint64), dst_lo=np.array([d[1] for d in dst], np.uint64),
        protocol=np.array([r[3] for r in rows], np.uint8),
        src_port=np.array([r[4] for r in rows], np.uint16), dst_port=np.array([r[5] for r in rows], np.uint16),
        icmp_type=np.array(icmp_type, np.int16),
        icmp_code=np.array([0 if t >= 0 else -1 for t in icmp_type], np.int16),
        ip_len=np.array([r[6] for r in rows], np.uint32), tcp_flags=np.array([r[7] for r in rows], np.uint8),
        fragment=np.array([r[9] if len(r) > 9 else 0 for r in rows], np.uint8),
        iface=np.full(n, -1, np.int16),
    )


def records(tmp_path: Path, topology, capture: Path, fls: list[FlowLog], **capture_opts) -> dict[str, list[str]]:
    sink = FilesSink(tmp_path / "out")
    collected: dict[str, list[str]] = {fl.flow_log_id: [] for fl in fls}

    def tap(out):
        collected[out.flow_log.flow_log_id] += render_lines(out.table).to_pylist()

    run_pipeline([open_capture(str(capture), **capture_opts)], PolicyEngine(topology), fls, topology,
                 {fl.flow_log_id: sink for fl in fls}, side_dir=tmp_path / "rejects", taps={"aggregate": tap},
                 options=AggregateOptions())
    # What the sink wrote is what the tap saw (header line + the same lines).
    for fl in fls:
        written = (tmp_path / "out" / fl.flow_log_id / "records.log")
        if collected[fl.flow_log_id]:
            assert written.read_text().splitlines()[1:] == collected[fl.flow_log_id]
    return collected


def spread(t0: int, t1: int, n: int) -> list[float]:
    """n timestamps from t0 to t1 inclusive (first and last exactly on those seconds)."""
    return [t0 + (t1 - t0) * i / (n - 1) + 0.25 for i in range(n)] if n > 1 else [t0 + 0.25]


def sizes(total: int, n: int) -> list[int]:
    base = total // n
    return [base + (1 if i < total - base * n else 0) for i in range(n)]


# ---------------------------------------------------------------------------------------------- 7.1


def test_spec_7_1_default_format_accept(tmp_path, topology):
    # 20 packets, 4249 bytes, SSH from the ENI to 172.31.16.21 between 1418530010 and 1418530070.
    rows = [(t, "172.31.16.139", "172.31.16.21", 6, 20641, 22, ln, 0x10)
            for t, ln in zip(spread(1418530010, 1418530070, 20), sizes(4249, 20), strict=True)]
    rows[0] = (*rows[0][:7], 0x02)
    cap = tmp_path / "ssh.pcap"
    write_pcap(cap, batch(rows))
    got = records(tmp_path, topology, cap, [flow_log()])
    assert got["fl-00000000000000001"] == [
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 "
        "ACCEPT OK"
    ]


# ---------------------------------------------------------------------------------------------- 7.3


def test_spec_7_3_ping_sg_accepts_request_nacl_rejects_reply(tmp_path, topology):
    req = [(t, "203.0.113.12", "172.31.16.139", 1, 0, 0, 84, 0, 8) for t in (1432917027, 1432917050, 1432917094,
                                                                             1432917142)]
    rep = [(t + 0.5, "172.31.16.139", "203.0.113.12", 1, 0, 0, 84, 0, 0) for t in (1432917094, 1432917100,
                                                                                   1432917120, 1432917142)]
    rows = sorted(req + rep)
    cap = tmp_path / "ping.pcap"
    write_pcap(cap, batch(rows))
    got = records(tmp_path, topology, cap, [flow_log()])
    assert got["fl-00000000000000001"] == [
        "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
    ]
    side = (tmp_path / "rejects" / "fl-00000000000000001.rejects.jsonl").read_text().splitlines()
    assert len(side) == 1 and "acl-0123456789abcdef0" in side[0]


# ---------------------------------------------------------------------------------------------- 7.4


def test_spec_7_4_ipv6(tmp_path, topology):
    a, b = "2001:db8:1234:a100:8d6e:3477:df66:f105", "2001:db8:1234:a102:3304:8879:34cf:4071"
    rows = [(t, a, b, 6, 34892, 22, ln, 0x10)
            for t, ln in zip(spread(1477913708, 1477913820, 54), sizes(8855, 54), strict=True)]
    rows[0] = (*rows[0][:7], 0x02)
    cap = tmp_path / "v6.pcap"
    write_pcap(cap, batch(rows))
    got = records(tmp_path, topology, cap, [flow_log()])
    assert got["fl-00000000000000001"] == [
        "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 "
        "2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK"
    ]


# ---------------------------------------------------------------------------------------------- 7.5


def test_spec_7_5_tcp_flag_sequence(tmp_path, topology):
    c, s = "52.213.180.42", "172.31.0.62"
    t0 = 1566848880  # a minute boundary: the Nitro ENI aggregates at 60 s (spec 2.1)
    rows = [
        # first window: SYN 2 (client), SYN-ACK 18 (server), then data (ACK/PSH not reported)
        (t0 + 15, c, s, 6, 43416, 5001, 60, 0x02), (t0 + 15.1, s, c, 6, 5001, 43416, 60, 0x12),
        (t0 + 16, c, s, 6, 43416, 5001, 52, 0x10), (t0 + 20, c, s, 6, 43416, 5001, 1500, 0x18),
        (t0 + 21, s, c, 6, 5001, 43416, 52, 0x10),
        # second window: teardown, FIN 1 both ways
        (t0 + 70, c, s, 6, 43416, 5001, 1500, 0x18), (t0 + 75, s, c, 6, 5001, 43416, 52, 0x11),
        (t0 + 75.1, c, s, 6, 43416, 5001, 52, 0x11), (t0 + 75.2, s, c, 6, 5001, 43416, 52, 0x10),
        # a short connection inside the second window: 3 = SYN+FIN, 19 = SYN-ACK+FIN
        (t0 + 80, c, s, 6, 43638, 5001, 60, 0x02), (t0 + 80.1, s, c, 6, 5001, 43638, 60, 0x12),
        (t0 + 80.2, c, s, 6, 43638, 5001, 52, 0x10), (t0 + 81, c, s, 6, 43638, 5001, 52, 0x11),
        (t0 + 81.1, s, c, 6, 5001, 43638, 52, 0x11), (t0 + 81.2, c, s, 6, 43638, 5001, 52, 0x10),
    ]
    cap = tmp_path / "tcp.pcap"
    write_pcap(cap, batch(rows))
    got = records(tmp_path, topology, cap, [flow_log(NITRO_ENI, fmt=V3)])
    h = "3 vpc-abcdefab012345678 subnet-bbbbbbbb012345678 i-0cccccccccccccccc eni-0aaaaaaaaaaaaaaa1 123456789010 IPv4"
    assert got["fl-00000000000000001"] == [
        f"{h} {c} {s} 43416 5001 {c} {s} 6 1612 3 {t0 + 15} {t0 + 20} ACCEPT 2 OK",
        f"{h} {s} {c} 5001 43416 {s} {c} 6 112 2 {t0 + 15} {t0 + 21} ACCEPT 18 OK",
        f"{h} {c} {s} 43416 5001 {c} {s} 6 1552 2 {t0 + 70} {t0 + 75} ACCEPT 1 OK",
        f"{h} {s} {c} 5001 43416 {s} {c} 6 104 2 {t0 + 75} {t0 + 75} ACCEPT 1 OK",
        f"{h} {c} {s} 43638 5001 {c} {s} 6 216 4 {t0 + 80} {t0 + 81} ACCEPT 3 OK",
        f"{h} {s} {c} 5001 43638 {s} {c} 6 112 2 {t0 + 80} {t0 + 81} ACCEPT 19 OK",
    ]


# ---------------------------------------------------------------------------------------------- 7.2


def test_spec_7_2_nodata_for_an_idle_eni_over_the_span_of_the_run(tmp_path, topology):
    t0 = 1431280800  # 600-s aligned
    rows = [(t0 + 76, "172.31.16.139", "172.31.16.21", 6, 20641, 22, 60, 0x02),
            (t0 + 676, "172.31.16.139", "172.31.16.21", 6, 20641, 22, 52, 0x10)]
    cap = tmp_path / "nodata.pcap"
    write_pcap(cap, batch(rows))
    got = records(tmp_path, topology, cap, [flow_log("subnet-aaaaaaaa012345678", "Subnet")])
    assert [ln for ln in got["fl-00000000000000001"] if ln.endswith("NODATA")] == [
        f"2 123456789010 {IDLE} - - - - - - - {t0} {t0 + 598} - NODATA",
        f"2 123456789010 {IDLE} - - - - - - - {t0 + 600} {t0 + 1198} - NODATA",
    ]


# ---------------------------------------------------------------------------------------------- fragments


def test_fragments_count_packets_and_bytes_on_the_first_fragments_flow(tmp_path, topology):
    t = 1600000000
    rows = [(t + 1, "172.31.16.139", "172.31.16.21", 17, 5000, 53, 1500, 0, -1, 1),
            (t + 1.001, "172.31.16.139", "172.31.16.21", 17, 0, 0, 600, 0, -1, 2)]
    cap = tmp_path / "frag.pcap"
    write_pcap(cap, batch(rows), linktype=LINKTYPE_RAW)
    got = records(tmp_path, topology, cap, [flow_log(fmt="${srcport} ${dstport} ${protocol} ${packets} ${bytes}")])
    # AWS counts every fragment. A later fragment carries no ports (the capture layer does not reassemble,
    # docs/sources.md), so it forms its own record with ports 0 0; packets and bytes are all counted.
    assert got["fl-00000000000000001"] == ["0 0 17 1 600", "5000 53 17 1 1500"]


# ---------------------------------------------------------------------------------------------- link layers


def _frame_ip(src: str, dst: str, sport: int, dport: int, payload_len: int = 20) -> bytes:
    """An IPv4/UDP packet (checksums zero: readers do not verify them)."""
    total = 20 + 8 + payload_len
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0, 64, 17, 0, ipaddress.IPv4Address(src).packed,
                     ipaddress.IPv4Address(dst).packed)
    return ip + struct.pack("!HHHH", sport, dport, 8 + payload_len, 0) + bytes(payload_len)


def _pcap(path: Path, linktype: int, frames: list[tuple[float, bytes]]) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for ts, frame in frames:
        sec = int(ts)
        out.append(struct.pack("<IIII", sec, round((ts - sec) * 1e6), len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))


UDP_EXPECTED = "172.31.16.139 172.31.16.21 40000 53 17 2 96"
UDP_FMT = "${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes}"


def test_vlan_and_qinq_tagged_ethernet(tmp_path, topology):
    ip = _frame_ip("172.31.16.139", "172.31.16.21", 40000, 53)
    macs = bytes(12)
    vlan = macs + struct.pack("!HHH", 0x8100, 10, 0x0800) + ip
    qinq = macs + struct.pack("!HHHHH", 0x88A8, 100, 0x8100, 10, 0x0800) + ip
    cap = tmp_path / "vlan.pcap"
    _pcap(cap, 1, [(1600000001.0, vlan), (1600000002.0, qinq)])
    got = records(tmp_path, topology, cap, [flow_log(fmt=UDP_FMT)])
    assert got["fl-00000000000000001"] == [UDP_EXPECTED]


def test_linux_cooked_sll_and_sll2(tmp_path, topology):
    ip = _frame_ip("172.31.16.139", "172.31.16.21", 40000, 53)
    sll = struct.pack("!HHH8sH", 4, 1, 6, bytes(8), 0x0800) + ip
    cap = tmp_path / "sll.pcap"
    _pcap(cap, 113, [(1600000001.0, sll), (1600000002.0, sll)])
    got = records(tmp_path, topology, cap, [flow_log(fmt=UDP_FMT)])
    assert got["fl-00000000000000001"] == [UDP_EXPECTED]
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 4, 6, bytes(8)) + ip
    cap2 = tmp_path / "sll2.pcap"
    _pcap(cap2, 276, [(1600000001.0, sll2), (1600000002.0, sll2)])
    got2 = records(tmp_path / "b", topology, cap2, [flow_log(fmt=UDP_FMT)])
    assert got2["fl-00000000000000001"] == [UDP_EXPECTED]


def _pcapng_block(btype: int, body: bytes) -> bytes:
    pad = (-len(body)) % 4
    length = 12 + len(body) + pad
    return struct.pack("<II", btype, length) + body + bytes(pad) + struct.pack("<I", length)


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes((-len(value)) % 4)


def test_pcapng_two_interfaces_mapped_to_enis(tmp_path, topology):
    ip_a = _frame_ip("172.31.16.139", "172.31.16.21", 40000, 53)
    ip_b = _frame_ip("172.31.0.62", "172.31.16.139", 40001, 22)
    shb = _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # Interface 0: Ethernet, microseconds (default); interface 1: raw IP, nanoseconds (if_tsresol 9).
    idb0 = _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535) + _opt(2, b"eth0") + _opt(0, b""))
    idb1 = _pcapng_block(1, struct.pack("<HHI", 101, 0, 65535) + _opt(2, b"eth1") + _opt(9, bytes([9]))
                         + _opt(0, b""))

    def epb(iface: int, ts_units: int, frame: bytes) -> bytes:
        return _pcapng_block(6, struct.pack("<IIIII", iface, ts_units >> 32, ts_units & 0xFFFFFFFF, len(frame),
                                            len(frame)) + frame)

    t = 1600000001
    eth = bytes(12) + struct.pack("!H", 0x0800)
    cap = tmp_path / "two.pcapng"
    cap.write_bytes(shb + idb0 + idb1 + epb(0, t * 10**6, eth + ip_a) + epb(1, (t + 1) * 10**9, ip_b)
                    + epb(0, (t + 2) * 10**6, eth + ip_a))
    fls = [flow_log("vpc-abcdefab012345678", "VPC", fmt="${interface-id} ${flow-direction} " + UDP_FMT)]
    got = records(tmp_path, topology, cap, fls, interface_map={"eth0": ENI, "eth1": NITRO_ENI})
    # Each packet counts only at the ENI its interface is mapped to (no double counting); the idle ENI of
    # the VPC gets its NODATA record. Order: window, then ENI in topology order.
    assert got["fl-00000000000000001"] == [
        f"{ENI} egress {UDP_EXPECTED}",
        f"{IDLE} - - - - - - - -",
        f"{NITRO_ENI} egress 172.31.0.62 172.31.16.139 40001 22 17 1 48",
    ]


# ---------------------------------------------------------------------------------------------- next hop


def test_next_hop_fields_name_the_other_eni_of_the_hop(tmp_path, topology):
    rows = [(1600000001, "172.31.16.139", "172.31.0.62", 6, 40000, 5001, 60, 0x02),
            (1600000001.5, "172.31.0.62", "172.31.16.139", 6, 5001, 40000, 60, 0x12)]
    cap = tmp_path / "hop.pcap"
    write_pcap(cap, batch(rows))
    fmt = ("${interface-id} ${flow-direction} ${srcaddr} ${dstaddr} ${traffic-path} ${next-hop-interface-id} "
           "${next-hop-subnet-id} ${next-hop-az-id} ${next-hop-vpc-id} ${next-hop-interface-type} ${log-status}")
    got = records(tmp_path, topology, cap, [flow_log("vpc-abcdefab012345678", "VPC", fmt=fmt)])
    a, b = "subnet-aaaaaaaa012345678", "subnet-bbbbbbbb012345678"
    v = "vpc-abcdefab012345678"
    # One packet each way between two modelled ENIs: four records (egress at the sender, ingress at the
    # receiver); traffic-path 1 (same VPC) on egress only; the idle ENI gets NODATA.
    assert got["fl-00000000000000001"] == [
        f"{ENI} ingress 172.31.0.62 172.31.16.139 - {NITRO_ENI} {b} use1-az1 {v} - OK",
        f"{ENI} egress 172.31.16.139 172.31.0.62 1 {NITRO_ENI} {b} use1-az1 {v} - OK",
        f"{IDLE} - - - - - - - - - NODATA",
        f"{NITRO_ENI} ingress 172.31.16.139 172.31.0.62 - {ENI} {a} use1-az1 {v} - OK",
        f"{NITRO_ENI} egress 172.31.0.62 172.31.16.139 1 {ENI} {a} use1-az1 {v} - OK",
    ]
