"""The native frame decoder against the plain-Python oracle (``_frame_reference``), every field, on frames
built to reach the cases that matter: both address families, VLAN stacks, every link type, IPv6 extension
chains longer than 16, fragments, VXLAN, broken headers, and snaplen cuts at every byte."""

from __future__ import annotations

import struct

import _frame_reference as ref
import _sources_capture_bytes as cb
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpcflow.dataplane.sources import _native_capture as N

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def transport(draw: st.DrawFn, v6: bool) -> tuple[int, bytes]:
    proto = draw(st.sampled_from([6, 17, 132, 33, 136, 47, 50, 58 if v6 else 1, 1 if v6 else 58]))
    sp, dp = draw(st.integers(0, 65535)), draw(st.integers(0, 65535))
    if proto == 6:
        body = cb.tcp(sp, dp, draw(st.integers(0, 255)))
    elif proto in (17, 132, 33, 136):
        body = cb.udp(sp, dp)
    elif proto in (1, 58):
        body = cb.icmp(draw(st.integers(0, 255)), draw(st.integers(0, 255)))
    else:
        body = b""
    return proto, body + draw(st.binary(max_size=30))


@st.composite
def ip_packet(draw: st.DrawFn) -> bytes:
    v6 = draw(st.booleans())
    proto, body = draw(transport(v6))
    if not v6:
        opts = b"\x01" * 4 * draw(st.integers(0, 3))
        frag = draw(st.sampled_from([0, 0, 10]))
        mf = draw(st.booleans())
        total = draw(st.sampled_from([None, None, 0, 12]))
        return cb.ipv4("10.1.2.3", "192.0.2.9", proto, body, options=opts, frag_off=frag, mf=mf, total=total)
    chain, nh = b"", proto
    for kind in reversed(draw(st.lists(st.sampled_from([0, 43, 60, 135, 51, 44]), max_size=24))):
        if kind == 51:
            chain = cb.ah(nh) + chain
        elif kind == 44:
            chain = cb.frag6(nh, draw(st.sampled_from([0, 0, 3])), draw(st.booleans())) + chain
        else:
            chain = cb.ext(nh, draw(st.integers(0, 2))) + chain
        nh = kind
    plen = draw(st.sampled_from([None, None, 0]))
    return cb.ipv6("2001:db8::1", "fe80::2", nh, chain + body, plen=plen)


@st.composite
def frame(draw: st.DrawFn) -> tuple[bytes, int, int]:
    pkt = draw(ip_packet())
    if draw(st.integers(0, 9)) == 0:  # a VXLAN mirror copy around it
        pkt = cb.ipv4("10.9.0.1", "10.9.0.2", 17, cb.udp(1, 4789, cb.vxlan(cb.eth(0x0800 if pkt[0] >> 4 == 4
                                                                                   else 0x86DD, pkt))))
    et = 0x0800 if pkt[0] >> 4 == 4 else 0x86DD
    lt = draw(st.sampled_from([1, 1, 1, 113, 276, 101, 228, 229, 0, 108, 147]))
    vlans = tuple(draw(st.lists(st.sampled_from([0x8100, 0x88A8, 0x9100]), max_size=3)))
    if lt == 1:
        f = cb.eth(et, pkt, vlans)
    elif lt == 113:
        f = cb.sll(et, pkt)
    elif lt == 276:
        f = cb.sll2(et, pkt)
    elif lt in (0, 108):
        fam = 2 if et == 0x0800 else draw(st.sampled_from([24, 28, 30]))
        f = struct.pack("<I" if lt == 0 and draw(st.booleans()) else ">I", fam) + pkt
    else:
        f = pkt
    if draw(st.integers(0, 6)) == 0:  # a broken byte somewhere in the headers
        at = draw(st.integers(0, max(len(f) - 1, 0)))
        f = f[:at] + bytes([draw(st.integers(0, 255))]) + f[at + 1:]
    cut = draw(st.integers(0, len(f))) if draw(st.booleans()) else len(f)
    return f[:cut], len(f), lt


def native_decode(f: bytes, orig: int, lt: int) -> tuple[dict[str, int] | None, np.ndarray]:
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, lt)
    data += struct.pack("<IIII", 1, 0, len(f), max(orig, 1)) + f
    stats = N.new_stats()
    cols, _pos, _code = N.pcap_scan(np.frombuffer(data, np.uint8), 24, len(data), False, False, lt, 262144, 4, 0,
                                    -1, stats, "oracle.pcap")
    if cols["ts_ns"].shape[0] == 0:
        return None, stats
    return {k: int(v[0]) for k, v in cols.items()}, stats


@SETTINGS
@given(frame())
def test_native_decoder_matches_the_reference(case: tuple[bytes, int, int]) -> None:
    f, orig, lt = case
    want = ref.decode(f, max(orig, 1), lt)
    got, stats = native_decode(f, orig, lt)
    status_index = {"non_ip": N.ST_NON_IP, "malformed": N.ST_MALFORMED, "unsupported_link": N.ST_UNSUPPORTED_LINK}
    if want.status != "ok":
        assert got is None and stats[status_index[want.status]] == 1
        return
    assert got is not None
    assert (got["ip_version"], got["protocol"], got["ip_len"], got["fragment"]) == (
        want.version, want.protocol, want.ip_len, want.fragment)
    assert (got["src_hi"], got["src_lo"], got["dst_hi"], got["dst_lo"]) == (*want.src, *want.dst)
    assert (got["src_port"], got["dst_port"], got["tcp_flags"]) == (want.sport, want.dport, want.flags)
    assert (got["icmp_type"], got["icmp_code"]) == (want.itype, want.icode)
    assert stats[N.ST_TRUNCATED_L4] == int(want.truncated) and stats[N.ST_VXLAN] == int(want.vxlan)
