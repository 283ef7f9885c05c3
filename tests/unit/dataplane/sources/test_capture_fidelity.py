"""Fidelity defects of real captures (issue 10 item 5, issue 13 item 11), each reproduced by a capture
built byte by byte: what libpcap and tshark read, vpcflow reads the same way, and nothing is dropped
without being counted."""

from __future__ import annotations

import struct
from pathlib import Path

import _sources_capture_bytes as cb
import numpy as np
import pytest

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources.capture import CaptureSource
from vpcflow.dataplane.sources.pcap import CaptureConfig

T0 = 1_700_000_000_000_000_000
SEC = 1_700_000_000
SYN = cb.eth(0x0800, cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(40000, 22, 0x02)))


def read(tmp_path: Path, data: bytes, name: str = "c.pcap", **opts: object) -> tuple[PacketBatch, CaptureSource]:
    p = tmp_path / name
    p.write_bytes(data)
    src = CaptureSource(CaptureConfig(str(p), **opts))  # type: ignore[arg-type]
    batches = list(src.batches())
    return (PacketBatch.concat(batches) if batches else PacketBatch.empty()), src


def record(sec: int, frac: int, frame: bytes, *, incl: int | None = None, orig: int | None = None) -> bytes:
    n = len(frame) if incl is None else incl
    return struct.pack("<IIII", sec, frac, n, len(frame) if orig is None else orig) + frame


def pcap_header(ns: bool = False) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B23C4D if ns else 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


# ---- a timestamp fraction of exactly one second (issue 10 item 5)


@pytest.mark.parametrize("ns", [False, True])
def test_fraction_of_exactly_one_second_is_carried_into_the_next_second(tmp_path: Path, ns: bool) -> None:
    one = 1_000_000_000 if ns else 1_000_000
    data = pcap_header(ns) + record(SEC, one - 1, SYN) + record(SEC, one, SYN) + record(SEC + 1, 1, SYN)
    b, src = read(tmp_path, data)
    unit = 1 if ns else 1000
    assert b.ts_ns.tolist() == [SEC * 10**9 + (one - 1) * unit, (SEC + 1) * 10**9, (SEC + 1) * 10**9 + unit]
    assert src.stats.repaired_timestamps == 1 and src.stats.packets == 3


def test_fraction_above_one_second_is_still_refused(tmp_path: Path) -> None:
    data = pcap_header() + record(SEC, 1_000_001, SYN)
    with pytest.raises(SourceError, match="timestamp fraction out of range"):
        read(tmp_path, data)


# ---- broken IP headers are counted with the first offset (issue 10 item 5)


def broken_ihl() -> bytes:
    ip = bytearray(cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(1, 2, 0x02)))
    ip[0] = 0x44  # IHL 4: under the minimum of 5
    return cb.eth(0x0800, bytes(ip))


def broken_total_length() -> bytes:
    return cb.eth(0x0800, cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(1, 2, 0x02), total=12))


def test_broken_ip_headers_are_counted_with_the_first_offset(tmp_path: Path) -> None:
    first = record(SEC, 0, SYN)
    data = pcap_header() + first + record(SEC, 1, broken_ihl()) + record(SEC, 2, broken_total_length())
    b, src = read(tmp_path, data)
    assert len(b) == 1
    assert src.stats.malformed == 2
    assert src.stats.first_malformed_offset == 24 + len(first)
    assert src.stats.as_dict()["first_malformed_offset"] == 24 + len(first)


def test_pcapng_malformed_frames_name_their_block(tmp_path: Path) -> None:
    head = cb.shb() + cb.idb(1, name="eth0", tsresol=9)
    data = head + cb.epb(0, T0, SYN) + cb.epb(0, T0 + 1, broken_ihl())
    _b, src = read(tmp_path, data, name="c.pcapng")
    assert src.stats.malformed == 1
    assert src.stats.first_malformed_offset == len(head) + len(cb.epb(0, T0, SYN))


def test_no_malformed_frames_means_no_offset(tmp_path: Path) -> None:
    _b, src = read(tmp_path, pcap_header() + record(SEC, 0, SYN))
    assert src.stats.malformed == 0 and src.stats.first_malformed_offset is None


# ---- --skip-bad and a record length past the end of the file (issue 10 item 5)


def test_skip_bad_resynchronises_after_a_length_past_the_end_of_file(tmp_path: Path) -> None:
    good = [record(SEC, i, SYN) for i in range(6)]
    # a plausible header (caplen within the snapshot length) whose length runs past the end
    bad = struct.pack("<IIII", SEC, 9, 60_000, 60_000)
    data = pcap_header() + b"".join(good[:2]) + bad + b"".join(good[2:])
    with pytest.raises(SourceError, match="file ends inside a packet record"):
        read(tmp_path, data)
    b, src = read(tmp_path, data, skip_bad=True)
    assert len(b) == 6 and src.stats.bad_records == 1 and src.stats.skipped_bytes == 16


def test_skip_bad_resynchronises_after_a_pcapng_block_past_the_end_of_file(tmp_path: Path) -> None:
    head = cb.shb() + cb.idb(1, name="eth0", tsresol=9)
    blocks = [cb.epb(0, T0 + i, SYN) for i in range(5)]
    bad = struct.pack("<II", 6, 1 << 20) + b"\0" * 20  # enhanced packet block claiming 1 MiB
    b, src = read(tmp_path, head + blocks[0] + bad + b"".join(blocks[1:]), name="c.pcapng", skip_bad=True)
    assert len(b) == 5 and src.stats.bad_records == 1


def test_a_truncated_last_record_is_still_one_bad_record(tmp_path: Path) -> None:
    data = pcap_header() + record(SEC, 0, SYN) + record(SEC, 1, SYN)[:-5]
    b, src = read(tmp_path, data, skip_bad=True)
    assert len(b) == 1 and src.stats.bad_records == 1


# ---- IPv6 extension headers and TCP cut after the ports (issue 13 item 11)


@pytest.mark.parametrize("count", [1, 16, 17, 40])
def test_every_ipv6_extension_header_is_walked(tmp_path: Path, count: int) -> None:
    chain = b"".join(cb.ext(60) for _ in range(count - 1)) + cb.ext(6)
    frame = cb.eth(0x86DD, cb.ipv6("2001:db8::1", "2001:db8::2", 60, chain + cb.tcp(40000, 443, 0x12)))
    b, src = read(tmp_path, pcap_header() + record(SEC, 0, frame))
    assert (int(b.protocol[0]), int(b.src_port[0]), int(b.dst_port[0]), int(b.tcp_flags[0])) == (6, 40000, 443, 0x12)
    assert src.stats.truncated_l4 == 0


def test_mixed_extension_headers_with_authentication_and_a_first_fragment(tmp_path: Path) -> None:
    chain = cb.ext(43) + cb.ext(51) + cb.ah(44) + cb.frag6(17, 0, True)
    frame = cb.eth(0x86DD, cb.ipv6("2001:db8::1", "2001:db8::2", 0, chain + cb.udp(53, 5353)))
    b, _src = read(tmp_path, pcap_header() + record(SEC, 0, frame))
    assert (int(b.protocol[0]), int(b.src_port[0]), int(b.dst_port[0]), int(b.fragment[0])) == (17, 53, 5353, 1)


def test_extension_headers_cut_by_the_snaplen_count_a_truncation(tmp_path: Path) -> None:
    chain = b"".join(cb.ext(60) for _ in range(29)) + cb.ext(6)
    frame = cb.eth(0x86DD, cb.ipv6("2001:db8::1", "2001:db8::2", 60, chain + cb.tcp(1, 2, 0x02)))
    cut = 14 + 40 + 8 * 20  # inside the chain
    data = pcap_header() + record(SEC, 0, frame[:cut], orig=len(frame))
    b, src = read(tmp_path, data)
    assert len(b) == 1 and int(b.src_port[0]) == 0 and src.stats.truncated_l4 == 1
    assert int(b.ip_len[0]) == len(frame) - 14


def test_snaplen_after_the_ports_keeps_them_for_ipv6_too(tmp_path: Path) -> None:
    frame = cb.eth(0x86DD, cb.ipv6("2001:db8::1", "2001:db8::2", 6, cb.tcp(22, 50000, 0x18, b"x" * 100)))
    data = pcap_header() + record(SEC, 0, frame[: 14 + 40 + 6], orig=len(frame))
    b, src = read(tmp_path, data)
    assert (int(b.src_port[0]), int(b.dst_port[0]), int(b.tcp_flags[0])) == (22, 50000, 0)
    assert src.stats.truncated_l4 == 1
    assert np.all(b.ip_len == len(frame) - 14)
