"""Golden: a capture whose snaplen cuts every TCP header after the ports but before the flags gives
the same default-format records as the full capture - accepted SSH stays ACCEPT (issue 13 item 11:
the ports used to be zeroed, so no security-group rule matched and the flow became a false REJECT).

The policy engine decides by addresses, protocol and ports; TCP flags only move a tracked connection
to "closed" (RST, or FIN both ways), after which a non-SYN packet is rejected. A packet whose flags
were cut carries flags 0: it never opens, closes or reopens a tracked connection, so a capture cut
this way never closes one and never rejects on that ground. The ``tcp-flags`` field of such packets
contributes 0 (docs/sources.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_dataplane_golden import ENI, TOPOLOGY, V3, flow_log, records

from vpcflow.model.topology.loader import loads_topology
from vpcflow.model.topology.model import Topology

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "dataplane" / "sources"))
import _sources_capture_bytes as cb

CLIENT, SERVER = "203.0.113.9", "172.31.16.139"
T = 1418530000  # 600-s aligned
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


@pytest.fixture(scope="module")
def topology() -> Topology:
    return loads_topology(TOPOLOGY, source="golden-topology.yaml")


def ssh_session() -> list[tuple[int, bytes]]:
    """An inbound SSH connection: handshake, data both ways, FIN both ways (11 packets)."""
    steps = [(CLIENT, SYN, 0), (SERVER, SYN | ACK, 0), (CLIENT, ACK, 0), (CLIENT, PSH | ACK, 40),
             (SERVER, ACK, 0), (SERVER, PSH | ACK, 600), (CLIENT, ACK, 0), (CLIENT, FIN | ACK, 0),
             (SERVER, ACK, 0), (SERVER, FIN | ACK, 0), (CLIENT, ACK, 0)]
    out = []
    for i, (who, flags, data) in enumerate(steps):
        src, dst = (CLIENT, SERVER) if who == CLIENT else (SERVER, CLIENT)
        sp, dp = (50022, 22) if who == CLIENT else (22, 50022)
        pkt = cb.ipv4(src, dst, 6, cb.tcp(sp, dp, flags, b"d" * data))
        out.append(((T + 10 + i) * 1_000_000_000, cb.eth(0x0800, pkt)))
    return out


def test_flags_cut_by_the_snaplen_do_not_turn_accepted_ssh_into_reject(tmp_path: Path, topology: Topology) -> None:
    full, cut = tmp_path / "full.pcap", tmp_path / "cut.pcap"
    full.write_bytes(cb.pcap(ssh_session()))
    cut.write_bytes(cb.pcap(ssh_session(), snaplen=14 + 20 + 8))  # ports and sequence number, no flags
    expected = [
        f"2 123456789010 {ENI} {CLIENT} {SERVER} 50022 22 6 6 {6 * 40 + 40} {T + 10} {T + 20} ACCEPT OK",
        f"2 123456789010 {ENI} {SERVER} {CLIENT} 22 50022 6 5 {5 * 40 + 600} {T + 11} {T + 19} ACCEPT OK",
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert records(tmp_path / "a", topology, full, [flow_log()])["fl-00000000000000001"] == expected
    assert records(tmp_path / "b", topology, cut, [flow_log()])["fl-00000000000000001"] == expected


def test_cut_flags_contribute_zero_to_tcp_flags(tmp_path: Path, topology: Topology) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(cb.pcap(ssh_session(), snaplen=14 + 20 + 4))
    lines = records(tmp_path, topology, cut, [flow_log(fmt=V3)])["fl-00000000000000001"]
    assert [ln.split()[-3:] for ln in lines] == [["ACCEPT", "0", "OK"], ["ACCEPT", "0", "OK"]]
