"""Records of interfaces in an IPv6-only subnet (issue 10 item 5; docs/topology.md, "IPv6-only subnets"),
from a capture read by the real capture source, attributed, evaluated and aggregated by the pipeline.

AWS writes IPv6 records as any others (spec 7.4: `type` IPv6, the interface's own IPv6 address as
srcaddr/dstaddr, spec 2.6 and the srcaddr/dstaddr rows of the field table). An IPv6-only interface has
no IPv4 address, so no IPv4 packet is its traffic (AWS documents no IPv6-only case; decided).
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
from vpcflow.model.topology.loader import load_topology
from vpcflow.model.topology.model import Topology

TOPOLOGY = Path(__file__).resolve().parents[1] / "fixtures" / "topology" / "ipv6-only.yaml"
V6WEB, V6AUTO, DUAL = "eni-0e6e6e6e6e6e6e6e1", "eni-0e6e6e6e6e6e6e6e2", "eni-0d0d0d0d0d0d0d0d1"
WEB1, WEB2 = "2600:1f18:600:aa01::10", "2600:1f18:600:aa01::11"  # v6-web's primary and second IPv6
DUAL6 = "2600:1f18:600:aa00::10"
CLIENT = "2001:db8:77::5"
FORMAT = ("${interface-id} ${type} ${flow-direction} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
          "${pkt-srcaddr} ${pkt-dstaddr} ${packets} ${action} ${log-status}")
T0 = 1700000040  # one 60-s window
SYN, ACK = 2, 16


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(TOPOLOGY)


def _batch(rows: list[tuple[float, str, str, int, int, int]]) -> PacketBatch:
    """rows: (seconds after T0, src, dst, sport, dport, tcp flags); TCP, IPv6 or IPv4 by the addresses."""
    src = [ip_to_pair(r[1]) for r in rows]
    dst = [ip_to_pair(r[2]) for r in rows]
    v6 = np.array([":" in r[1] for r in rows])
    n = len(rows)
    return PacketBatch(
        ts_ns=np.array([round((T0 + r[0]) * 1e9) for r in rows], np.int64),
        ip_version=np.where(v6, 6, 4).astype(np.uint8),
        src_hi=np.array([s[0] for s in src], np.uint64), src_lo=np.array([s[1] for s in src], np.uint64),
        dst_hi=np.array([d[0] for d in dst], np.uint64), dst_lo=np.array([d[1] for d in dst], np.uint64),
        protocol=np.full(n, 6, np.uint8), src_port=np.array([r[3] for r in rows], np.uint16),
        dst_port=np.array([r[4] for r in rows], np.uint16), icmp_type=np.full(n, -1, np.int16),
        icmp_code=np.full(n, -1, np.int16), ip_len=np.where(v6, 72, 52).astype(np.uint32),
        tcp_flags=np.array([r[5] for r in rows], np.uint8), fragment=np.zeros(n, np.uint8),
        iface=np.full(n, -1, np.int16),
    )


def _records(tmp_path: Path, topology: Topology, rows: list[tuple[float, str, str, int, int, int]],
             interface: str | None = None) -> list[str]:
    cap = tmp_path / "v6only.pcap"
    write_pcap(cap, _batch(rows))
    fl = FlowLog(flow_log_id="fl-00000000000000006", account_id="123456789012", region="us-east-1",
                 resource_id="vpc-0a6a6a6a6a6a6a6a6", resource_type="VPC", traffic_type="ALL",
                 log_destination_type="s3", creation_time=datetime(2015, 1, 1, tzinfo=UTC),
                 log_destination="arn:aws:s3:::v6", max_aggregation_interval=60, log_format=FORMAT)
    lines: list[str] = []

    def tap(out) -> None:  # type: ignore[no-untyped-def]
        lines.extend(render_lines(out.table).to_pylist())

    source = open_capture(str(cap), interface=interface) if interface else open_capture(str(cap))
    run_pipeline([source], PolicyEngine(topology), [fl], topology, {fl.flow_log_id: FilesSink(tmp_path / "out")},
                 taps={"aggregate": tap}, options=AggregateOptions())
    return sorted(lines)


def test_an_ipv6_only_interface_records_its_own_ipv6_addresses_spec_7_4(tmp_path: Path, topology: Topology) -> None:
    rows = [
        (0.00, CLIENT, WEB1, 50000, 443, SYN), (0.01, WEB1, CLIENT, 443, 50000, SYN | ACK),
        (0.10, CLIENT, WEB2, 50001, 443, SYN), (0.11, WEB2, CLIENT, 443, 50001, SYN | ACK),  # second address
        (0.20, CLIENT, WEB1, 50002, 22, SYN),  # no rule allows 22: REJECT
        (0.30, DUAL6, WEB1, 50003, 443, SYN),  # from the dual-stack subnet: seen leaving and arriving
    ]
    lines = _records(tmp_path, topology, rows)
    nd = " ".join(["-"] * 10)
    assert lines == sorted([
        f"{DUAL} IPv6 egress {DUAL6} {WEB1} 50003 443 {DUAL6} {WEB1} 1 ACCEPT OK",
        f"{V6AUTO} {nd} NODATA",  # quiet, and IPv6-only: NODATA as any interface
        f"{V6WEB} IPv6 egress {WEB1} {CLIENT} 443 50000 {WEB1} {CLIENT} 1 ACCEPT OK",
        f"{V6WEB} IPv6 egress {WEB2} {CLIENT} 443 50001 {WEB2} {CLIENT} 1 ACCEPT OK",  # its own address, as is
        f"{V6WEB} IPv6 ingress {CLIENT} {WEB1} 50000 443 {CLIENT} {WEB1} 1 ACCEPT OK",
        f"{V6WEB} IPv6 ingress {CLIENT} {WEB1} 50002 22 {CLIENT} {WEB1} 1 REJECT OK",
        f"{V6WEB} IPv6 ingress {CLIENT} {WEB2} 50001 443 {CLIENT} {WEB2} 1 ACCEPT OK",
        f"{V6WEB} IPv6 ingress {DUAL6} {WEB1} 50003 443 {DUAL6} {WEB1} 1 ACCEPT OK",
    ])


def test_ipv4_captured_on_an_ipv6_only_interface_is_not_its_traffic_spec_2_7(
        tmp_path: Path, topology: Topology) -> None:
    # AWS never delivers IPv4 to an interface without an IPv4 address; a capture can still hold some. It
    # is neither from nor to the interface, so it is counted as not captured (docs/policy.md, the
    # `mirrored` row) and makes no record: the interface's window is NODATA.
    lines = _records(tmp_path, topology, [(0.0, "198.51.100.9", "10.99.0.1", 40000, 443, SYN)], interface=V6WEB)
    assert f"{V6WEB} {' '.join(['-'] * 10)} NODATA" in lines
    assert not [ln for ln in lines if "198.51.100.9" in ln]
