"""Classic pcap reader: every link type, VLANs, IPv4 options, IPv6 extension headers, fragments,
snaplen truncation, VXLAN, byte orders, timestamp resolutions, malformed input, gzip, ordering, chunking."""

from __future__ import annotations

import gzip
import ipaddress
from pathlib import Path

import _sources_capture_bytes as cb
import numpy as np
import pytest

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch, ip_to_pair, pair_to_ip
from vpcflow.dataplane.sources import make_source
from vpcflow.dataplane.sources.capture import CaptureSource, open_capture
from vpcflow.dataplane.sources.pcap import CaptureConfig, PcapSource
from vpcflow.dataplane.sources.pcap_writer import CaptureWriteError, write_pcap

T0 = 1_700_000_000_123_456_000
TCP_V4 = cb.ipv4("10.0.1.5", "10.0.2.9", 6, cb.tcp(40000, 443, 0x12, b"x" * 10))


def read(tmp_path: Path, data: bytes, name: str = "c.pcap", **opts: object) -> tuple[PacketBatch, PcapSource]:
    p = tmp_path / name
    p.write_bytes(data)
    src = PcapSource(CaptureConfig(str(p), **opts))  # type: ignore[arg-type]
    batches = list(src.batches())
    return (PacketBatch.concat(batches) if batches else PacketBatch.empty()), src


def addr(hi: np.uint64, lo: np.uint64) -> str:
    return str(pair_to_ip(int(hi), int(lo)))


def row(b: PacketBatch, i: int = 0) -> dict[str, object]:
    return {
        "src": addr(b.src_hi[i], b.src_lo[i]),
        "dst": addr(b.dst_hi[i], b.dst_lo[i]),
        "proto": int(b.protocol[i]),
        "sport": int(b.src_port[i]),
        "dport": int(b.dst_port[i]),
        "len": int(b.ip_len[i]),
        "flags": int(b.tcp_flags[i]),
        "frag": int(b.fragment[i]),
        "icmp": (int(b.icmp_type[i]), int(b.icmp_code[i])),
        "v": int(b.ip_version[i]),
    }


EXPECTED_TCP_V4 = {
    "src": "10.0.1.5",
    "dst": "10.0.2.9",
    "proto": 6,
    "sport": 40000,
    "dport": 443,
    "len": 50,
    "flags": 0x12,
    "frag": 0,
    "icmp": (-1, -1),
    "v": 4,
}


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("ns", [False, True])
def test_byte_orders_and_resolutions(tmp_path: Path, big: bool, ns: bool) -> None:
    data = cb.pcap([(T0, cb.eth(0x0800, TCP_V4)), (T0 + 1_000_000, cb.eth(0x0800, TCP_V4))], big=big, ns=ns)
    b, src = read(tmp_path, data)
    assert row(b) == EXPECTED_TCP_V4
    assert b.ts_ns.tolist() == [T0, T0 + 1_000_000]
    assert src.stats.packets == 2 and src.stats.bytes == 100 and src.stats.frames == 2
    assert b.interfaces == () and b.iface.tolist() == [-1, -1]


def test_nanosecond_precision_kept(tmp_path: Path) -> None:
    b, _ = read(tmp_path, cb.pcap([(T0 + 789, cb.eth(0x0800, TCP_V4))], ns=True))
    assert b.ts_ns.tolist() == [T0 + 789]


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [
        (1, cb.eth(0x0800, TCP_V4)),
        (113, cb.sll(0x0800, TCP_V4)),
        (276, cb.sll2(0x0800, TCP_V4)),
        (101, TCP_V4),
        (228, TCP_V4),
        (0, b"\x02\0\0\0" + TCP_V4),  # BSD loopback, little-endian family
        (108, b"\0\0\0\x02" + TCP_V4),  # OpenBSD loopback, big-endian family
        (1, cb.eth(0x8100, TCP_V4, vlans=())[:12] + b"\x81\x00\x00\x0a\x08\x00" + TCP_V4),  # 802.1Q
        (1, cb.eth(0x0800, TCP_V4, vlans=(0x88A8, 0x8100))),  # QinQ
        (1, cb.eth(0x0800, TCP_V4, vlans=(0x9100,))),
        (113, cb.sll(0x8100, b"\0\x0a\x08\x00" + TCP_V4)),  # VLAN inside SLL
    ],
    ids=["eth", "sll", "sll2", "raw", "ipv4", "null", "loop", "dot1q", "qinq", "9100", "sll-vlan"],
)
def test_link_types_and_vlans(tmp_path: Path, linktype: int, frame: bytes) -> None:
    b, src = read(tmp_path, cb.pcap([(T0, frame)], linktype=linktype))
    assert len(b) == 1, src.stats
    assert row(b) == EXPECTED_TCP_V4


@pytest.mark.parametrize("linktype", [101, 229])
def test_raw_ipv6(tmp_path: Path, linktype: int) -> None:
    pkt = cb.ipv6("2001:db8::1", "2001:db8::2", 17, cb.udp(5353, 53, b"q" * 12))
    b, _ = read(tmp_path, cb.pcap([(T0, pkt)], linktype=linktype))
    assert row(b) == {
        "src": "2001:db8::1",
        "dst": "2001:db8::2",
        "proto": 17,
        "sport": 5353,
        "dport": 53,
        "len": 40 + 20,
        "flags": 0,
        "frag": 0,
        "icmp": (-1, -1),
        "v": 6,
    }


def test_ipv4_options_shift_the_transport_header(tmp_path: Path) -> None:
    pkt = cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(1111, 22, 0x02), options=b"\x94\x04\0\0" + b"\x01" * 8)
    b, _ = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, pkt))]))
    r = row(b)
    assert (r["sport"], r["dport"], r["flags"], r["len"]) == (1111, 22, 2, 20 + 12 + 20)


def test_ipv6_extension_header_chain(tmp_path: Path) -> None:
    # hop-by-hop -> routing -> destination options -> AH -> TCP
    payload = cb.ext(43) + cb.ext(60, 1) + cb.ext(51) + cb.ah(6) + cb.tcp(2000, 8443, 0x18, b"d" * 7)
    pkt = cb.ipv6("2001:db8::a", "2001:db8::b", 0, payload)
    b, _ = read(tmp_path, cb.pcap([(T0, cb.eth(0x86DD, pkt))]))
    r = row(b)
    assert (r["proto"], r["sport"], r["dport"], r["flags"], r["len"]) == (6, 2000, 8443, 0x18, 40 + len(payload))


def test_icmp_and_icmpv6(tmp_path: Path) -> None:
    p4 = cb.ipv4("10.0.0.1", "10.0.0.2", 1, cb.icmp(8, 0, b"p" * 56))
    p6 = cb.ipv6("fe80::1", "fe80::2", 58, cb.icmp(129, 0))
    b, _ = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, p4)), (T0 + 1, cb.eth(0x86DD, p6))], ns=True))
    assert row(b, 0)["icmp"] == (8, 0) and row(b, 0)["len"] == 84 and row(b, 0)["sport"] == 0
    assert row(b, 1)["icmp"] == (129, 0) and row(b, 1)["proto"] == 58


def test_ipv4_fragments_only_first_has_ports_all_count(tmp_path: Path) -> None:
    first = cb.ipv4("10.0.0.1", "10.0.0.2", 17, cb.udp(5000, 6000, b"a" * 1472), mf=True)
    middle = cb.ipv4("10.0.0.1", "10.0.0.2", 17, b"b" * 1480, frag_off=185, mf=True)
    last = cb.ipv4("10.0.0.1", "10.0.0.2", 17, b"c" * 100, frag_off=370)
    b, src = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, f)) for f in (first, middle, last)], snaplen=200))
    assert [row(b, i)["frag"] for i in range(3)] == [1, 2, 2]
    assert [(row(b, i)["sport"], row(b, i)["dport"]) for i in range(3)] == [(5000, 6000), (0, 0), (0, 0)]
    assert b.ip_len.tolist() == [1500, 1500, 120]
    assert src.stats.bytes == 3120


def test_ipv6_fragments(tmp_path: Path) -> None:
    first = cb.ipv6("2001:db8::1", "2001:db8::2", 44, cb.frag6(17, 0, True) + cb.udp(7, 9, b"x" * 100))
    later = cb.ipv6("2001:db8::1", "2001:db8::2", 44, cb.frag6(17, 14, False) + b"y" * 40)
    b, _ = read(tmp_path, cb.pcap([(T0, cb.eth(0x86DD, first)), (T0 + 5000, cb.eth(0x86DD, later))]))
    assert [(row(b, i)["frag"], row(b, i)["proto"], row(b, i)["sport"]) for i in range(2)] == [(1, 17, 7), (2, 17, 0)]
    assert b.ip_len.tolist() == [40 + 8 + 108, 40 + 8 + 40]


def test_snaplen_truncated_bytes_come_from_ip_length(tmp_path: Path) -> None:
    big_pkt = cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(1, 2, 0x10, b"z" * 1400))
    tiny = cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(3, 4, 0x10, b"z" * 1400))
    data = cb.pcap([(T0, cb.eth(0x0800, big_pkt))], snaplen=64)
    b, _src = read(tmp_path, data)
    assert row(b)["len"] == 1440 and row(b)["sport"] == 1
    # a snaplen that cuts the TCP header after the ports: the packet counts with the ports it has, the
    # flags are unknown and the truncation is counted (issue 13 item 11: never zeroed ports)
    b2, src2 = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, tiny))], snaplen=40), name="t.pcap")
    assert row(b2)["len"] == 1440 and (row(b2)["sport"], row(b2)["dport"]) == (3, 4)
    assert int(b2.tcp_flags[0]) == 0 and src2.stats.truncated_l4 == 1
    # cut inside the ports: nothing of them is known
    b3, src3 = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, tiny))], snaplen=36), name="u.pcap")
    assert row(b3)["sport"] == 0 and row(b3)["dport"] == 0 and src3.stats.truncated_l4 == 1


def test_offloaded_segment_with_zero_total_length_uses_wire_length(tmp_path: Path) -> None:
    pkt = cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(5, 6, 0x18, b"q" * 30), total=0)
    b, _ = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, pkt), 14 + 9000)], snaplen=96))
    assert row(b)["len"] == 9000


def test_vxlan_mirror_is_decapsulated(tmp_path: Path) -> None:
    inner = cb.eth(0x0800, TCP_V4)
    outer = cb.ipv4("10.9.0.1", "10.9.0.2", 17, cb.udp(33333, 4789, cb.vxlan(inner)))
    b, src = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, outer))]))
    assert row(b) == EXPECTED_TCP_V4
    assert src.stats.vxlan_decapsulated == 1


def test_non_ip_and_malformed_frames_are_counted_not_emitted(tmp_path: Path) -> None:
    arp = cb.eth(0x0806, b"\0" * 28)
    bad_version = cb.eth(0x0800, b"\x55" + TCP_V4[1:])
    short = cb.eth(0x0800, TCP_V4[:12])
    data = cb.pcap([(T0, arp), (T0 + 1000, bad_version), (T0 + 2000, short), (T0 + 3000, cb.eth(0x0800, TCP_V4))])
    b, src = read(tmp_path, data)
    assert len(b) == 1 and src.stats.non_ip == 1 and src.stats.malformed == 2 and src.stats.frames == 4


def test_unsupported_link_type_counted(tmp_path: Path) -> None:
    b, src = read(tmp_path, cb.pcap([(T0, TCP_V4)], linktype=147))
    assert len(b) == 0 and src.stats.unsupported_link == 1


def test_fcs_bits_of_the_link_type_field_are_ignored(tmp_path: Path) -> None:
    b, _ = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, TCP_V4))], linktype=1 | (1 << 26) | (1 << 28)))
    assert len(b) == 1


def test_bad_magic(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as e:
        read(tmp_path, b"\x00" * 64)
    assert e.value.offset == 0 and "not a pcap" in str(e.value) and "c.pcap" in str(e.value)


def test_file_shorter_than_header(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="too short"):
        read(tmp_path, cb.pcap([])[:10])


def test_truncated_last_record(tmp_path: Path) -> None:
    data = cb.pcap([(T0, cb.eth(0x0800, TCP_V4))] * 2)
    with pytest.raises(SourceError) as e:
        read(tmp_path, data[:-5])
    rec = 16 + 14 + len(TCP_V4)
    assert e.value.offset == 24 + rec and "ends inside a packet record" in e.value.reason
    b, src = read(tmp_path, data[:-5], skip_bad=True)
    assert len(b) == 1 and src.stats.bad_records == 1


def test_garbage_mid_file_raises_with_offset_then_skip_bad_resynchronises(tmp_path: Path) -> None:
    recs = [(T0 + i * 1000, cb.eth(0x0800, TCP_V4)) for i in range(10)]
    good = cb.pcap(recs)
    rec = 16 + 14 + len(TCP_V4)
    cut = 24 + 4 * rec
    garbage = bytes(range(256))[::-1] * 2
    data = good[:cut] + garbage + good[cut:]
    with pytest.raises(SourceError) as e:
        read(tmp_path, data)
    assert e.value.offset == cut and "bad packet record header" in str(e.value)
    b, src = read(tmp_path, data, skip_bad=True)
    assert len(b) == 10 and src.stats.bad_records == 1 and src.stats.skipped_bytes == len(garbage)
    assert b.ts_ns.tolist() == [r[0] for r in recs]


def test_absurd_caplen_is_bad(tmp_path: Path) -> None:
    data = bytearray(cb.pcap([(T0, cb.eth(0x0800, TCP_V4))]))
    data[24 + 8 : 24 + 12] = (10_000_000).to_bytes(4, "little")
    with pytest.raises(SourceError, match="captured length") as e:
        read(tmp_path, bytes(data))
    assert e.value.offset == 24
    b, src = read(tmp_path, bytes(data), skip_bad=True)
    assert len(b) == 0 and src.stats.bad_records == 1


def test_gzip_is_transparent(tmp_path: Path) -> None:
    data = cb.pcap([(T0 + i, cb.eth(0x0800, TCP_V4)) for i in range(100)], ns=True)
    b, _ = read(tmp_path, gzip.compress(data), name="c.pcap.gz")
    assert len(b) == 100


def test_corrupt_gzip_is_a_source_error(tmp_path: Path) -> None:
    data = gzip.compress(cb.pcap([(T0 + i, cb.eth(0x0800, TCP_V4)) for i in range(100)], ns=True))
    with pytest.raises(SourceError):
        read(tmp_path, data[: len(data) // 2], name="cut.pcap.gz")


def test_out_of_order_packets_are_sorted_within_the_window(tmp_path: Path) -> None:
    order = [0, 3, 1, 2, 5, 4]
    data = cb.pcap([(T0 + k * 100_000_000, cb.eth(0x0800, TCP_V4)) for k in order], ns=True)
    b, src = read(tmp_path, data, batch_packets=2)
    assert b.ts_ns.tolist() == [T0 + k * 100_000_000 for k in sorted(order)]
    assert src.stats.late_packets == 0


def test_packets_later_than_the_window_are_clamped_and_counted(tmp_path: Path) -> None:
    data = cb.pcap([(T0 + k * 1_000_000_000, cb.eth(0x0800, TCP_V4)) for k in (0, 10, 12, 2)], ns=True)
    b, src = read(tmp_path, data, batch_packets=1, reorder_window_s=1.0)
    assert b.ts_ns.tolist() == [T0, T0 + 10 * 10**9, T0 + 10 * 10**9, T0 + 12 * 10**9]
    assert src.stats.late_packets == 1 and src.stats.packets == 4


def test_chunk_and_batch_boundaries_do_not_change_the_result(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    recs = []
    for i in range(3000):
        n = int(rng.integers(0, 1400))
        pkt = cb.ipv4("10.0.0.1", f"10.0.{i % 200}.{i % 250}", 6, cb.tcp(1024 + i, 80, 0x18, b"p" * n))
        recs.append((T0 + i * 1000, cb.eth(0x0800, pkt)))
    data = cb.pcap(recs)
    ref, _ = read(tmp_path, data)
    small, _ = read(tmp_path, data, name="s.pcap", chunk_bytes=1 << 16, batch_packets=97)
    for k in PACKET_DTYPES:
        assert np.array_equal(getattr(ref, k), getattr(small, k)), k
    assert len(ref) == 3000


def test_interface_option_labels_every_packet(tmp_path: Path) -> None:
    b, _ = read(tmp_path, cb.pcap([(T0, cb.eth(0x0800, TCP_V4))]), interface="eni-0123456789abcdef0")
    assert b.interfaces == ("eni-0123456789abcdef0",) and b.iface.tolist() == [0]


def test_capture_source_sniffs_and_registry_builds(tmp_path: Path) -> None:
    p = tmp_path / "x.cap"
    p.write_bytes(gzip.compress(cb.pcap([(T0, cb.eth(0x0800, TCP_V4))])))
    src = make_source("capture", path=str(p))
    assert isinstance(src, CaptureSource)
    assert len(PacketBatch.concat(list(src.batches()))) == 1 and src.format == "pcap"
    with pytest.raises(KeyError, match="known"):
        make_source("nope", path="x")
    bad = tmp_path / "bad.cap"
    bad.write_bytes(b"hello world!")
    with pytest.raises(SourceError, match="not a pcap or pcapng"):
        list(open_capture(str(bad)).batches())
    with pytest.raises(SourceError, match="cannot open"):
        list(open_capture(str(tmp_path / "missing.pcap")).batches())


# ---- the writer, read back by the reader


def _batch(rows: list[dict[str, object]]) -> PacketBatch:
    cols = {k: np.zeros(len(rows), dtype=t) for k, t in PACKET_DTYPES.items()}
    for i, r in enumerate(rows):
        s, d = ip_to_pair(str(r["src"])), ip_to_pair(str(r["dst"]))
        cols["src_hi"][i], cols["src_lo"][i] = s
        cols["dst_hi"][i], cols["dst_lo"][i] = d
        cols["ip_version"][i] = ipaddress.ip_address(str(r["src"])).version
        for k in ("ts_ns", "protocol", "src_port", "dst_port", "ip_len", "tcp_flags", "fragment"):
            cols[k][i] = r.get(k, 0)  # type: ignore[call-overload]
        cols["icmp_type"][i] = r.get("icmp_type", -1)  # type: ignore[call-overload]
        cols["icmp_code"][i] = r.get("icmp_code", -1)  # type: ignore[call-overload]
        cols["iface"][i] = -1
    return PacketBatch(**cols)


WRITER_ROWS: list[dict[str, object]] = [
    {
        "ts_ns": T0,
        "src": "10.0.0.1",
        "dst": "10.0.0.2",
        "protocol": 6,
        "src_port": 1,
        "dst_port": 2,
        "ip_len": 40,
        "tcp_flags": 2,
    },
    {
        "ts_ns": T0 + 1,
        "src": "10.0.0.2",
        "dst": "10.0.0.1",
        "protocol": 6,
        "src_port": 2,
        "dst_port": 1,
        "ip_len": 1500,
        "tcp_flags": 0x18,
    },
    {
        "ts_ns": T0 + 2,
        "src": "2001:db8::1",
        "dst": "2001:db8::2",
        "protocol": 17,
        "src_port": 53,
        "dst_port": 99,
        "ip_len": 300,
    },
    {"ts_ns": T0 + 3, "src": "10.0.0.1", "dst": "8.8.8.8", "protocol": 1, "ip_len": 84, "icmp_type": 8, "icmp_code": 0},
    {
        "ts_ns": T0 + 4,
        "src": "2001:db8::1",
        "dst": "2001:db8::2",
        "protocol": 58,
        "ip_len": 104,
        "icmp_type": 128,
        "icmp_code": 0,
    },
    {
        "ts_ns": T0 + 5,
        "src": "10.0.0.1",
        "dst": "10.0.0.2",
        "protocol": 17,
        "src_port": 7,
        "dst_port": 8,
        "ip_len": 1500,
        "fragment": 1,
    },
    {"ts_ns": T0 + 6, "src": "10.0.0.1", "dst": "10.0.0.2", "protocol": 17, "ip_len": 600, "fragment": 2},
    {
        "ts_ns": T0 + 7,
        "src": "2001:db8::1",
        "dst": "2001:db8::2",
        "protocol": 6,
        "src_port": 5,
        "dst_port": 6,
        "ip_len": 1280,
        "fragment": 1,
        "tcp_flags": 16,
    },
    {"ts_ns": T0 + 8, "src": "2001:db8::1", "dst": "2001:db8::2", "protocol": 6, "ip_len": 500, "fragment": 2},
    {"ts_ns": T0 + 9, "src": "10.0.0.1", "dst": "10.0.0.2", "protocol": 47, "ip_len": 200},
]


@pytest.mark.parametrize("linktype", [1, 101])
@pytest.mark.parametrize("snaplen", [96, 128, 65535])
@pytest.mark.parametrize("suffix", [".pcap", ".pcap.gz"])
def test_writer_round_trip(tmp_path: Path, linktype: int, snaplen: int, suffix: str) -> None:
    batch = _batch(WRITER_ROWS)
    p = tmp_path / f"w{suffix}"
    assert write_pcap(p, batch, snaplen=snaplen, linktype=linktype) == len(WRITER_ROWS)
    b = PacketBatch.concat(list(open_capture(str(p)).batches()))
    for k in PACKET_DTYPES:
        assert np.array_equal(getattr(b, k), getattr(batch, k)), k


def test_writer_microsecond_mode_rounds_down(tmp_path: Path) -> None:
    batch = _batch([{**WRITER_ROWS[0], "ts_ns": T0 + 999}])
    p = tmp_path / "us.pcap"
    write_pcap(p, batch, nanosecond=False)
    assert PacketBatch.concat(list(open_capture(str(p)).batches())).ts_ns.tolist() == [T0]


def test_writer_rejects_impossible_rows(tmp_path: Path) -> None:
    with pytest.raises(CaptureWriteError, match="row 0: ip_len 30"):
        write_pcap(tmp_path / "x.pcap", _batch([{**WRITER_ROWS[0], "ip_len": 30}]))
    with pytest.raises(CaptureWriteError, match="32-bit seconds"):
        write_pcap(tmp_path / "z.pcap", _batch([{**WRITER_ROWS[0], "ts_ns": 2**32 * 10**9}]))
    with pytest.raises(CaptureWriteError, match="snaplen"):
        write_pcap(tmp_path / "y.pcap", _batch(WRITER_ROWS), snaplen=10)


def test_reorder_buffer_bounds_what_it_holds() -> None:
    from vpcflow.dataplane.sources._order import Reorderer

    def batch(ts: list[int]) -> PacketBatch:
        cols = {k: np.zeros(len(ts), dtype=t) for k, t in PACKET_DTYPES.items()}
        cols["ts_ns"][:] = ts
        return PacketBatch(**cols)

    r = Reorderer(window_ns=10**12, max_held=3)  # a huge window: only the row cap releases packets
    out = [r.push(batch([5, 1, 4])), r.push(batch([2, 9])), r.push(batch([3])), r.push(batch([0])), r.flush()]
    got = [b.ts_ns.tolist() if b is not None else None for b in out]
    # [5,1,4] held (3 rows); +[2,9] -> [1,2,4,5,9]: 2 released; +[3] -> [3,4,5,9]: 1 released;
    # +[0]: older than what was emitted, raised to 3 (late) and released; the rest at the end
    assert got == [None, [1, 2], [3], [3], [4, 5, 9]]
    assert r.late == 1


@pytest.mark.parametrize("where", [65536 - 20, 65536 + 5, 3 * 65536])
def test_resync_across_chunk_boundaries(tmp_path: Path, where: int) -> None:
    recs = [
        (T0 + i * 1000, cb.eth(0x0800, cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(i, 80, 16, b"x" * (i % 900)))))
        for i in range(1000)
    ]
    data = cb.pcap(recs)
    pos = 24
    while pos < where:
        pos += 16 + int.from_bytes(data[pos + 8 : pos + 12], "little")
    bad = data[:pos] + b"\xff" * 77 + data[pos:]
    with pytest.raises(SourceError) as e:
        read(tmp_path, bad, chunk_bytes=1 << 16)
    assert e.value.offset == pos
    b, src = read(tmp_path, bad, skip_bad=True, chunk_bytes=1 << 16)
    assert len(b) == 1000 and src.stats.skipped_bytes == 77 and src.stats.bad_records == 1


def test_reading_twice_gives_the_same_batches_and_stats(tmp_path: Path) -> None:
    p = tmp_path / "twice.pcap"
    p.write_bytes(
        cb.pcap([(T0 + i, cb.eth(0x0800, TCP_V4)) for i in range(5)] + [(T0 + 9, cb.eth(0x0806, b"\0" * 28))])
    )
    src = open_capture(str(p))
    first = PacketBatch.concat(list(src.batches()))
    stats1 = src.stats.as_dict()
    second = PacketBatch.concat(list(src.batches()))
    assert np.array_equal(first.ts_ns, second.ts_ns) and src.stats.as_dict() == stats1
    assert stats1["packets"] == 5 and stats1["non_ip"] == 1
