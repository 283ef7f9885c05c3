"""pcapng reader: sections in both byte orders, interface options, EPB/SPB/PB, skipped blocks, labels,
several interfaces with different link types and resolutions, malformed blocks."""

from __future__ import annotations

import gzip
from pathlib import Path

import _sources_capture_bytes as cb
import pytest

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PacketBatch, pair_to_ip
from vpcflow.dataplane.sources.capture import CaptureSource
from vpcflow.dataplane.sources.pcap import CaptureConfig
from vpcflow.dataplane.sources.pcapng import PcapngSource, tsresol_params

T0_S = 1_700_000_000
TCP_V4 = cb.ipv4("10.0.1.5", "10.0.2.9", 6, cb.tcp(40000, 443, 0x02))
UDP_V6 = cb.ipv6("2001:db8::1", "2001:db8::2", 17, cb.udp(1000, 53, b"q" * 20))


def read(tmp_path: Path, data: bytes, **opts: object) -> tuple[PacketBatch, PcapngSource]:
    p = tmp_path / "c.pcapng"
    p.write_bytes(data)
    src = PcapngSource(CaptureConfig(str(p), **opts))  # type: ignore[arg-type]
    batches = list(src.batches())
    return (PacketBatch.concat(batches) if batches else PacketBatch.empty(src.interfaces)), src


@pytest.mark.parametrize("big", [False, True])
def test_one_interface_default_microseconds(tmp_path: Path, big: bool) -> None:
    data = cb.shb(big) + cb.idb(1, name="eth0", big=big)
    data += cb.epb(0, T0_S * 1_000_000 + 250, cb.eth(0x0800, TCP_V4), big=big)
    b, src = read(tmp_path, data)
    assert b.ts_ns.tolist() == [T0_S * 10**9 + 250_000]
    assert str(pair_to_ip(int(b.src_hi[0]), int(b.src_lo[0]))) == "10.0.1.5"
    assert (int(b.src_port[0]), int(b.dst_port[0]), int(b.tcp_flags[0]), int(b.ip_len[0])) == (40000, 443, 2, 40)
    assert b.interfaces == ("eth0",) and b.iface.tolist() == [0]
    assert src.stats.packets == 1 and src.linktypes == [1]


def test_interfaces_with_different_link_types_and_resolutions(tmp_path: Path) -> None:
    data = cb.shb()
    data += cb.idb(1, name="eth0", tsresol=9)  # ns
    data += cb.idb(101, name="tun0", tsresol=0x80 | 20, tsoffset=100)  # 2^-20 s, +100 s
    data += cb.idb(113, name="any", tsresol=3)  # ms
    data += cb.epb(0, T0_S * 10**9 + 7, cb.eth(0x0800, TCP_V4))
    data += cb.epb(1, (T0_S - 100) * 2**20 + 2**19, UDP_V6)  # + 0.5 s
    data += cb.epb(2, T0_S * 1000 + 999, cb.sll(0x0800, TCP_V4))
    data += cb.block(4, b"\x00" * 8)  # name resolution block: skipped
    data += cb.block(5, b"\x00" * 12)  # interface statistics: skipped
    b, src = read(tmp_path, data)
    assert b.ts_ns.tolist() == [T0_S * 10**9 + 7, T0_S * 10**9 + 500_000_000, T0_S * 10**9 + 999_000_000]
    assert b.interfaces == ("eth0", "tun0", "any") and b.iface.tolist() == [0, 1, 2]
    assert b.protocol.tolist() == [6, 17, 6]
    assert src.stats.skipped_blocks == 2 and src.linktypes == [1, 101, 113]


def test_interface_map_and_unnamed_interfaces(tmp_path: Path) -> None:
    data = cb.shb() + cb.idb(1, name="eth0") + cb.idb(1) + cb.idb(1, name="eth1")
    data += cb.epb(0, T0_S * 10**6, cb.eth(0x0800, TCP_V4)) + cb.epb(1, T0_S * 10**6 + 1, cb.eth(0x0800, TCP_V4))
    data += cb.epb(2, T0_S * 10**6 + 2, cb.eth(0x0800, TCP_V4))
    b, _ = read(tmp_path, data, interface_map={"eth0": "eni-0aaa", "eth1": "eni-0bbb"})
    assert b.interfaces == ("eni-0aaa", "eni-0bbb") and b.iface.tolist() == [0, -1, 1]
    b2, _ = read(tmp_path, data, interface="eni-0ccc")
    assert b2.interfaces == ("eni-0ccc",) and b2.iface.tolist() == [0, 0, 0]


def test_simple_packet_blocks_take_the_previous_timestamp(tmp_path: Path) -> None:
    data = cb.shb() + cb.idb(1, snaplen=64)
    data += cb.spb(cb.eth(0x0800, TCP_V4))  # before any timed packet: 0
    data += cb.epb(0, T0_S * 10**6, cb.eth(0x0800, TCP_V4))
    big = cb.eth(0x0800, cb.ipv4("10.0.0.1", "10.0.0.2", 17, cb.udp(1, 2, b"u" * 200)))
    data += cb.spb(big[:64], wire=len(big))
    b, src = read(tmp_path, data)
    assert b.ts_ns.tolist() == [0, T0_S * 10**9, T0_S * 10**9]
    assert b.ip_len.tolist() == [40, 40, 228] and src.stats.untimed == 2


def test_obsolete_packet_block(tmp_path: Path) -> None:
    import struct

    frame = cb.eth(0x0800, TCP_V4)
    ts = T0_S * 10**6
    body = struct.pack("<HHIIII", 0, 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame
    b, _ = read(tmp_path, cb.shb() + cb.idb(1) + cb.block(2, body))
    assert b.ts_ns.tolist() == [T0_S * 10**9] and len(b) == 1


def test_several_sections_byte_orders_and_interface_reset(tmp_path: Path) -> None:
    s1 = cb.shb(False) + cb.idb(1, name="a") + cb.epb(0, T0_S * 10**6, cb.eth(0x0800, TCP_V4))
    s2 = cb.shb(True) + cb.idb(101, name="b", big=True) + cb.idb(1, name="a", big=True)
    s2 += cb.epb(0, (T0_S + 1) * 10**6, UDP_V6, big=True) + cb.epb(
        1, (T0_S + 2) * 10**6, cb.eth(0x0800, TCP_V4), big=True
    )
    b, src = read(tmp_path, s1 + s2)
    assert b.interfaces == ("a", "b") and b.iface.tolist() == [0, 1, 0]
    assert b.ip_version.tolist() == [4, 6, 4] and src.linktypes == [1, 101, 1]


def test_interleaved_interfaces_come_out_in_time_order(tmp_path: Path) -> None:
    data = cb.shb() + cb.idb(1, name="x", tsresol=9) + cb.idb(1, name="y", tsresol=9)
    for t, ifid in [(5, 0), (1, 1), (6, 0), (2, 1), (9, 1)]:
        data += cb.epb(ifid, T0_S * 10**9 + t * 10**6, cb.eth(0x0800, TCP_V4))
    b, _ = read(tmp_path, data, batch_packets=2)
    assert b.ts_ns.tolist() == [T0_S * 10**9 + t * 10**6 for t in (1, 2, 5, 6, 9)]
    assert b.iface.tolist() == [1, 1, 0, 0, 1]


def test_gzip_pcapng_through_capture_source(tmp_path: Path) -> None:
    data = cb.shb() + cb.idb(1, name="eth0") + cb.epb(0, T0_S * 10**6, cb.eth(0x0800, TCP_V4))
    p = tmp_path / "x.pcapng.gz"
    p.write_bytes(gzip.compress(data))
    src = CaptureSource(CaptureConfig(str(p), interface_map={"eth0": "eni-1"}))
    b = PacketBatch.concat(list(src.batches()))
    assert src.format == "pcapng" and b.interfaces == ("eni-1",) and src.stats.packets == 1


def test_tsresol_parameters() -> None:
    assert tsresol_params(6) == (0, 1000)
    assert tsresol_params(9) == (0, 1)
    assert tsresol_params(12) == (1, 1000)
    assert tsresol_params(0x80 | 10) == (2, 10)


GOOD = cb.shb() + cb.idb(1) + b"".join(cb.epb(0, T0_S * 10**6 + i, cb.eth(0x0800, TCP_V4)) for i in range(6))
EPB_LEN = len(cb.epb(0, 0, cb.eth(0x0800, TCP_V4)))
HEAD = len(cb.shb() + cb.idb(1))


def test_bad_block_length_names_the_offset_and_skip_bad_resynchronises(tmp_path: Path) -> None:
    data = bytearray(GOOD)
    at = HEAD + 2 * EPB_LEN
    data[at + 4 : at + 8] = (13).to_bytes(4, "little")
    with pytest.raises(SourceError) as e:
        read(tmp_path, bytes(data))
    assert e.value.offset == at and "bad block length 13" in e.value.reason
    b, src = read(tmp_path, bytes(data), skip_bad=True)
    assert len(b) == 5 and src.stats.bad_records == 1 and src.stats.skipped_bytes == EPB_LEN


def test_trailing_length_mismatch_and_unknown_interface(tmp_path: Path) -> None:
    data = bytearray(GOOD)
    at = HEAD + EPB_LEN
    data[at + EPB_LEN - 4 : at + EPB_LEN] = (8).to_bytes(4, "little")
    with pytest.raises(SourceError, match="trailing length") as e:
        read(tmp_path, bytes(data))
    assert e.value.offset == at
    data2 = bytearray(GOOD)
    data2[at + 8 : at + 12] = (3).to_bytes(4, "little")
    with pytest.raises(SourceError, match="names interface 3"):
        read(tmp_path, bytes(data2))
    b, src = read(tmp_path, bytes(data2), skip_bad=True)
    assert len(b) == 5 and src.stats.bad_records == 1


def test_garbage_between_blocks(tmp_path: Path) -> None:
    at = HEAD + 3 * EPB_LEN
    data = GOOD[:at] + b"\xff\xfe" * 37 + GOOD[at:]
    with pytest.raises(SourceError) as e:
        read(tmp_path, data)
    assert e.value.offset == at
    b, src = read(tmp_path, data, skip_bad=True)
    assert len(b) == 6 and src.stats.skipped_bytes == 74


def test_truncated_file_and_not_pcapng(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="ends inside a block") as e:
        read(tmp_path, GOOD[:-7])
    assert e.value.offset == len(GOOD) - EPB_LEN
    b, src = read(tmp_path, GOOD[:-7], skip_bad=True)
    assert len(b) == 5 and src.stats.bad_records == 1
    with pytest.raises(SourceError, match="not a pcapng"):
        read(tmp_path, b"\x00" * 40)
    bad_bom = bytearray(GOOD)
    bad_bom[8:12] = b"\0\0\0\0"
    with pytest.raises(SourceError, match="byte-order magic"):
        read(tmp_path, bytes(bad_bom))


def test_spb_before_any_interface_is_bad(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="simple packet block"):
        read(tmp_path, cb.shb() + cb.spb(cb.eth(0x0800, TCP_V4)))


# ---- the pcapng writer, read back by the reader (and by tshark when installed)


def _labelled(interfaces: tuple[str, ...], iface: list[int], t0: int) -> PacketBatch:
    import numpy as np

    from vpcflow.dataplane.packets import PACKET_DTYPES, ip_to_pair

    n = len(iface)
    cols = {k: np.zeros(n, dtype=t) for k, t in PACKET_DTYPES.items()}
    s, d = ip_to_pair("10.0.0.1"), ip_to_pair("10.0.0.2")
    cols["src_hi"][:], cols["src_lo"][:] = s
    cols["dst_hi"][:], cols["dst_lo"][:] = d
    cols["ip_version"][:] = 4
    cols["protocol"][:] = 6
    cols["src_port"][:] = np.arange(n) + 1000
    cols["dst_port"][:] = 443
    cols["tcp_flags"][:] = 0x18
    cols["ip_len"][:] = 100 + np.arange(n) * 50
    cols["icmp_type"][:] = -1
    cols["icmp_code"][:] = -1
    cols["ts_ns"][:] = t0 + np.arange(n) * 1001
    cols["iface"][:] = iface
    return PacketBatch(**cols, interfaces=interfaces)


def test_pcapng_writer_round_trip_keeps_labels(tmp_path: Path) -> None:
    import numpy as np

    from vpcflow.dataplane.sources.pcap_writer import write_pcapng

    t0 = T0_S * 10**9 + 123
    first = _labelled(("eni-a",), [0, -1, 0], t0)
    second = _labelled(("eni-a", "eni-b"), [1, 0, 1, -1], t0 + 10**6)
    p = tmp_path / "w.pcapng"
    assert write_pcapng(p, [first, second], snaplen=96) == 7
    src = PcapngSource(CaptureConfig(str(p)))
    b = PacketBatch.concat(list(src.batches()))
    assert b.interfaces == ("eni-a", "eni-b") and b.iface.tolist() == [0, -1, 0, 1, 0, 1, -1]
    assert b.ts_ns.tolist() == first.ts_ns.tolist() + second.ts_ns.tolist()
    assert np.array_equal(b.ip_len, np.concatenate([first.ip_len, second.ip_len]))
    assert b.src_port.tolist() == [1000, 1001, 1002, 1000, 1001, 1002, 1003]
    assert src.linktypes == [1, 1, 1]
    import shutil
    import subprocess

    if shutil.which("tshark"):
        out = subprocess.run(
            ["tshark", "-r", str(p), "-T", "fields", "-e", "frame.interface_name", "-e", "ip.len"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        assert out[0].split("\t") == ["eni-a", "100"] and len([x for x in out if x]) == 7


def _many(n: int) -> bytes:
    frames = []
    for i in range(n):
        pkt = cb.ipv4("10.0.0.1", f"10.0.{i % 200}.{i % 250}", 17, cb.udp(1024 + i % 5000, 53, b"d" * (i * 37 % 1400)))
        frames.append(cb.epb(i % 2, T0_S * 10**6 + i, cb.eth(0x0800, pkt)))
    return cb.shb() + cb.idb(1, name="a") + cb.idb(1, name="b") + b"".join(frames)


def test_chunk_and_batch_boundaries_do_not_change_the_result(tmp_path: Path) -> None:
    data = _many(3000)
    ref, _ = read(tmp_path, data)
    small, _ = read(tmp_path, data, chunk_bytes=1 << 16, batch_packets=97)
    for k in ("ts_ns", "src_lo", "dst_lo", "src_port", "ip_len", "iface"):
        assert getattr(ref, k).tolist() == getattr(small, k).tolist(), k
    assert len(ref) == 3000


@pytest.mark.parametrize("where", [65536 - 30, 65536 + 3, 2 * 65536 - 1])
def test_resync_across_chunk_boundaries(tmp_path: Path, where: int) -> None:
    data = _many(1500)
    # insert garbage right before the block starting at or after `where`
    pos = len(cb.shb() + cb.idb(1, name="a") + cb.idb(1, name="b"))
    while pos < where:
        pos += int.from_bytes(data[pos + 4 : pos + 8], "little")
    bad = data[:pos] + b"\x07" * 101 + data[pos:]
    b, src = read(tmp_path, bad, skip_bad=True, chunk_bytes=1 << 16)
    assert len(b) == 1500 and src.stats.bad_records == 1 and src.stats.skipped_bytes == 101


def test_a_timestamp_beyond_the_nanosecond_range_is_a_bad_block_not_a_wrapped_time(tmp_path: Path) -> None:
    # 2**63 microseconds overflows a nanosecond count (year 2262 and beyond): the block used to come out
    # with a wrapped, negative timestamp (found by the capture fuzz test); it is malformed instead.
    data = cb.shb() + cb.idb(1, name="eth0")
    data += cb.epb(0, T0_S * 1_000_000, cb.eth(0x0800, TCP_V4))
    bad_at = len(data)
    data += cb.epb(0, (1 << 63) + 5, cb.eth(0x0800, TCP_V4))
    data += cb.epb(0, T0_S * 1_000_000 + 2, cb.eth(0x0800, TCP_V4))
    with pytest.raises(SourceError, match="timestamp") as e:
        read(tmp_path, data)
    assert e.value.offset == bad_at
    b, src = read(tmp_path, data, skip_bad=True)
    assert b.ts_ns.tolist() == [T0_S * 10**9, T0_S * 10**9 + 2_000]
    assert src.stats.bad_records == 1
