"""Fuzzing the capture readers: random bytes and mutations of valid captures give either a SourceError or
valid, time-ordered batches - never another exception, never a hang - with and without skip_bad."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import _sources_capture_bytes as cb
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch
from vpcflow.dataplane.sources.capture import CaptureSource
from vpcflow.dataplane.sources.pcap import CaptureConfig

T0 = 1_700_000_000_000_000_000
FRAMES = [
    cb.eth(0x0800, cb.ipv4("10.0.0.1", "10.0.0.2", 6, cb.tcp(1, 2, 0x18, b"a" * 30))),
    cb.eth(0x86DD, cb.ipv6("2001:db8::1", "2001:db8::2", 0, cb.ext(44) + cb.frag6(17, 0, True) + cb.udp(5, 6))),
    cb.eth(
        0x0800,
        cb.ipv4(
            "10.9.0.1",
            "10.9.0.2",
            17,
            cb.udp(9, 4789, cb.vxlan(cb.eth(0x0800, cb.ipv4("10.0.0.3", "10.0.0.4", 1, cb.icmp(8, 0))))),
        ),
    ),
    cb.eth(0x0806, b"\0" * 28),
    cb.eth(0x0800, cb.ipv4("10.0.0.1", "10.0.0.2", 17, b"x" * 50, frag_off=10), vlans=(0x8100,)),
]
VALID_PCAP = cb.pcap([(T0 + i * 1000, FRAMES[i % len(FRAMES)]) for i in range(20)])
VALID_PCAPNG = (
    cb.shb()
    + cb.idb(1, name="eth0", tsresol=9)
    + cb.idb(113, name="any")
    + b"".join(
        cb.epb(
            i % 2,
            T0 + i if i % 2 == 0 else (T0 // 1000) + i,
            FRAMES[0] if i % 2 == 0 else cb.sll(0x0800, FRAMES[0][14:]),
        )
        for i in range(12)
    )
    + cb.spb(FRAMES[1])
    + cb.block(5, b"\0" * 16)
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: bytes, skip_bad: bool, gz: bool = False) -> int:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f"
        p.write_bytes(gzip.compress(data) if gz else data)
        src = CaptureSource(CaptureConfig(str(p), skip_bad=skip_bad, chunk_bytes=1 << 16, batch_packets=7))
        try:
            total = 0
            last = np.iinfo(np.int64).min
            for b in src.batches():
                assert len(b) > 0
                for k in PACKET_DTYPES:
                    assert getattr(b, k).shape == (len(b),)
                assert bool(np.all(b.ts_ns[1:] >= b.ts_ns[:-1])) and int(b.ts_ns[0]) >= last
                last = int(b.ts_ns[-1])
                assert set(np.unique(b.ip_version).tolist()) <= {4, 6}
                assert int(b.iface.max()) < max(len(b.interfaces), 1)
                total += len(b)
            assert src.stats.packets == total
            return total
        except SourceError as e:
            assert e.path == str(p)
            assert e.offset is None or 0 <= e.offset <= len(data)
            return -1


@SETTINGS
@given(st.binary(max_size=400), st.booleans())
def test_random_bytes(data: bytes, skip_bad: bool) -> None:
    check(data, skip_bad)


@SETTINGS
@given(st.binary(max_size=300), st.booleans(), st.sampled_from([VALID_PCAP[:24], VALID_PCAPNG[:28]]))
def test_random_bytes_after_a_valid_header(tail: bytes, skip_bad: bool, head: bytes) -> None:
    check(head + tail, skip_bad)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([VALID_PCAP, VALID_PCAPNG])))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80]))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        else:
            del data[at : at + draw(st.integers(1, 40))]
    return bytes(data)


@SETTINGS
@given(mutated(), st.booleans(), st.booleans())
def test_mutations_of_valid_captures(data: bytes, skip_bad: bool, gz: bool) -> None:
    check(data, skip_bad, gz)


def test_valid_inputs_read_cleanly() -> None:
    assert check(VALID_PCAP, False) == 16  # 20 frames minus 4 ARP
    assert check(VALID_PCAPNG, False) == 13


@st.composite
def packet_rows(draw: st.DrawFn) -> PacketBatch:
    from vpcflow.dataplane.sources.pcap_writer import header_lengths

    n = draw(st.integers(1, 120))
    cols = {k: np.zeros(n, dtype=t) for k, t in PACKET_DTYPES.items()}
    ts = sorted(draw(st.lists(st.integers(0, 2**32 * 10**9 - 1), min_size=n, max_size=n)))
    cols["ts_ns"][:] = ts
    for i in range(n):
        if i and draw(st.integers(0, 2)) == 0:
            # many packets per flow: the previous row's 5-tuple again (the writer sequences TCP per flow)
            for k in PACKET_DTYPES:
                if k not in ("ts_ns", "ip_len"):
                    cols[k][i] = cols[k][i - 1]
            continue
        v6 = draw(st.booleans())
        proto = draw(st.sampled_from([6, 17, 132, 47, 50] + ([58] if v6 else [1])))
        frag = draw(st.sampled_from([0, 0, 0, 1, 2]))
        cols["ip_version"][i] = 6 if v6 else 4
        if v6:
            cols["src_hi"][i], cols["src_lo"][i] = draw(st.integers(0, 2**64 - 1)), draw(st.integers(0, 2**64 - 1))
            cols["dst_hi"][i], cols["dst_lo"][i] = draw(st.integers(0, 2**64 - 1)), draw(st.integers(0, 2**64 - 1))
        else:
            cols["src_lo"][i] = 0xFFFF_0000_0000 | draw(st.integers(0, 2**32 - 1))
            cols["dst_lo"][i] = 0xFFFF_0000_0000 | draw(st.integers(0, 2**32 - 1))
        cols["protocol"][i] = proto
        cols["fragment"][i] = frag
        has_ports = proto in (6, 17, 132) and frag != 2
        is_icmp = proto in (1, 58) and frag != 2
        cols["src_port"][i] = draw(st.integers(0, 65535)) if has_ports else 0
        cols["dst_port"][i] = draw(st.integers(0, 65535).filter(lambda p: p != 4789)) if has_ports else 0
        cols["tcp_flags"][i] = draw(st.integers(0, 255)) if proto == 6 and frag != 2 else 0
        cols["icmp_type"][i] = draw(st.integers(0, 255)) if is_icmp else -1
        cols["icmp_code"][i] = draw(st.integers(0, 255)) if is_icmp else -1
        cols["iface"][i] = -1
        cols["ip_len"][i] = 1  # set below, once header lengths are known
    b = PacketBatch(**cols)
    need = header_lengths(b)
    lens = [draw(st.integers(int(need[i]), 9000)) for i in range(n)]
    cols["ip_len"][:] = lens
    return PacketBatch(**cols)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet_rows(), st.sampled_from([128, 65535]), st.sampled_from([1, 101]), st.booleans(), st.booleans(),
       st.integers(1, 50))
def test_writer_reader_round_trip_property(
    batch: object, snaplen: int, linktype: int, ng: bool, gz: bool, batch_packets: int
) -> None:
    """Every column survives writer -> reader, across scan batches of any size and, for gzip, chunk
    boundaries of the smallest chunk (64 KiB) inside records."""
    from vpcflow.dataplane.sources.pcap_writer import write_pcap, write_pcapng

    assert isinstance(batch, PacketBatch)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / (("f.pcapng" if ng else "f.pcap") + (".gz" if gz else ""))
        if ng:
            write_pcapng(p, batch, snaplen=snaplen, linktype=linktype)
        else:
            write_pcap(p, batch, snaplen=snaplen, linktype=linktype)
        cfg = CaptureConfig(str(p), reorder_window_s=0, batch_packets=batch_packets, chunk_bytes=1 << 16)
        src = CaptureSource(cfg)
        back = PacketBatch.concat(list(src.batches()))
    for k in PACKET_DTYPES:
        assert np.array_equal(getattr(back, k), getattr(batch, k)), k
