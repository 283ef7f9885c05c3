"""Capture edge cases of issue 13 item 11, pinned precisely (the parse kernels will be ported; these
tests are their contract):

* an IPv6 extension-header chain of any length is walked to the upper-layer protocol (the walk used to
  stop after 16 headers and report protocol 60 with ports 0);
* a capture cut inside the TCP header keeps what it has: ports when the first 4 bytes are there, the
  flags byte (offset 13) only when 14 bytes are; anything cut is counted in ``truncated_l4``.
"""

from __future__ import annotations

from pathlib import Path

import _sources_capture_bytes as cb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources.pcap import CaptureConfig, PcapSource

T0 = 1_700_000_000_000_000_000
SRC6, DST6 = "2001:db8::a", "2001:db8::b"


def read(path: Path, data: bytes) -> tuple[PacketBatch, PcapSource]:
    path.write_bytes(data)
    src = PcapSource(CaptureConfig(str(path)))
    return PacketBatch.concat(list(src.batches())), src


def chain(kinds: list[int], upper: int) -> bytes:
    """Extension headers of the given kinds (0, 43, 60 generic; 44 first fragment; 51 AH), then ``upper``."""
    out = b""
    for k, nxt in zip(kinds, [*kinds[1:], upper], strict=True):
        if k == 44:
            out += cb.frag6(nxt, 0, False)
        elif k == 51:
            out += cb.ah(nxt)
        else:
            out += cb.ext(nxt)
    return out


@pytest.mark.parametrize("count", [15, 16, 17, 40, 1000])
def test_every_extension_header_is_walked(tmp_path: Path, count: int) -> None:
    kinds = [60] * count
    payload = chain(kinds, 6) + cb.tcp(2222, 22, 0x02, b"s" * 3)
    pkt = cb.ipv6(SRC6, DST6, kinds[0], payload)
    b, src = read(tmp_path / "c.pcap", cb.pcap([(T0, cb.eth(0x86DD, pkt))]))
    assert (int(b.protocol[0]), int(b.src_port[0]), int(b.dst_port[0]), int(b.tcp_flags[0])) == (6, 2222, 22, 0x02)
    assert int(b.ip_len[0]) == 40 + len(payload) and src.stats.truncated_l4 == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([0, 43, 60, 51, 44]), min_size=1, max_size=60), st.sampled_from([6, 17]))
def test_any_chain_of_extension_headers_reaches_the_transport_header(tmp_path_factory: pytest.TempPathFactory,
                                                                     kinds: list[int], upper: int) -> None:
    transport = cb.tcp(4000, 443, 0x18, b"x") if upper == 6 else cb.udp(5353, 53, b"q")
    pkt = cb.ipv6(SRC6, DST6, kinds[0], chain(kinds, upper) + transport)
    b, _ = read(tmp_path_factory.mktemp("c") / "c.pcap", cb.pcap([(T0, cb.eth(0x86DD, pkt))]))
    assert (int(b.protocol[0]), int(b.src_port[0])) == (upper, 4000 if upper == 6 else 5353)


def test_a_chain_cut_by_the_snaplen_reports_the_header_it_stopped_at(tmp_path: Path) -> None:
    payload = chain([60] * 30, 6) + cb.tcp(2222, 22, 0x02)
    pkt = cb.ipv6(SRC6, DST6, 60, payload)
    b, src = read(tmp_path / "c.pcap", cb.pcap([(T0, cb.eth(0x86DD, pkt))], snaplen=14 + 40 + 8 * 20))
    assert (int(b.protocol[0]), int(b.src_port[0]), int(b.dst_port[0])) == (60, 0, 0)
    assert int(b.ip_len[0]) == 40 + len(payload) and src.stats.truncated_l4 == 1


@pytest.mark.parametrize(
    ("tcp_bytes", "ports", "flags", "truncated"),
    [
        (0, (0, 0), 0, 1),  # nothing of the TCP header
        (3, (0, 0), 0, 1),  # inside the ports
        (4, (40000, 22), 0, 1),  # the ports, nothing more
        (13, (40000, 22), 0, 1),  # everything but the flags byte
        (14, (40000, 22), 0x12, 0),  # the flags byte: not truncated for our purposes
        (20, (40000, 22), 0x12, 0),
    ],
)
def test_tcp_cut_after_the_ports_keeps_the_ports(tmp_path: Path, tcp_bytes: int, ports: tuple[int, int],
                                                 flags: int, truncated: int) -> None:
    pkt = cb.ipv4("10.0.1.5", "10.0.2.9", 6, cb.tcp(40000, 22, 0x12, b"x" * 100))
    b, src = read(tmp_path / "c.pcap", cb.pcap([(T0, cb.eth(0x0800, pkt))], snaplen=14 + 20 + tcp_bytes))
    assert (int(b.src_port[0]), int(b.dst_port[0])) == ports and int(b.tcp_flags[0]) == flags
    assert int(b.ip_len[0]) == 20 + 20 + 100 and src.stats.truncated_l4 == truncated


def test_ipv6_tcp_cut_after_the_ports_behind_extension_headers(tmp_path: Path) -> None:
    payload = chain([0, 60], 6) + cb.tcp(40000, 22, 0x02)
    pkt = cb.ipv6(SRC6, DST6, 0, payload)
    b, src = read(tmp_path / "c.pcap", cb.pcap([(T0, cb.eth(0x86DD, pkt))], snaplen=14 + 40 + 16 + 6))
    assert (int(b.protocol[0]), int(b.src_port[0]), int(b.dst_port[0]), int(b.tcp_flags[0])) == (6, 40000, 22, 0)
    assert src.stats.truncated_l4 == 1
