"""Hand-built capture bytes for the source tests (struct only: independent of vpcflow's writer)."""

from __future__ import annotations

import ipaddress
import struct


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp(sp: int, dp: int, flags: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sp, dp, 1, 0, 0x50, flags, 65535, 0, 0) + payload


def udp(sp: int, dp: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload


def icmp(t: int, c: int, payload: bytes = b"") -> bytes:
    return struct.pack("!BBHHH", t, c, 0, 1, 1) + payload


def ipv4(
    src: str,
    dst: str,
    proto: int,
    payload: bytes,
    *,
    options: bytes = b"",
    frag_off: int = 0,
    mf: bool = False,
    total: int | None = None,
) -> bytes:
    ihl = 5 + len(options) // 4
    tl = total if total is not None else ihl * 4 + len(payload)
    flags = (0x2000 if mf else 0) | frag_off
    h = (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x40 | ihl,
            0,
            tl,
            7,
            flags,
            64,
            proto,
            0,
            ipaddress.IPv4Address(src).packed,
            ipaddress.IPv4Address(dst).packed,
        )
        + options
    )
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src: str, dst: str, nh: int, payload: bytes, *, plen: int | None = None) -> bytes:
    pl = plen if plen is not None else len(payload)
    return (
        struct.pack(
            "!IHBB16s16s", 0x60000000, pl, nh, 64, ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
        )
        + payload
    )


def ext(nh: int, body_len8: int = 0) -> bytes:
    """A hop-by-hop/routing/destination-options header of (body_len8 + 1) * 8 bytes."""
    return bytes([nh, body_len8]) + b"\x01\x04\0\0\0\0" + b"\0" * (8 * body_len8)


def frag6(nh: int, offset8: int, more: bool) -> bytes:
    return struct.pack("!BBHI", nh, 0, (offset8 << 3) | (1 if more else 0), 99)


def ah(nh: int) -> bytes:
    # 12 bytes of fixed AH + 12 bytes ICV = 24 bytes -> payload len field (24/4) - 2 = 4
    return bytes([nh, 4, 0, 0]) + b"\0" * 20


def eth(ethertype: int, payload: bytes, vlans: tuple[int, ...] = ()) -> bytes:
    h = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01"
    for tpid in vlans:
        h += struct.pack("!HH", tpid, 10)
    return h + struct.pack("!H", ethertype) + payload


def sll(ethertype: int, payload: bytes) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", ethertype) + payload


def sll2(ethertype: int, payload: bytes) -> bytes:
    return struct.pack("!HHIHBB8s", ethertype, 0, 2, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + payload


def vxlan(inner_frame: bytes) -> bytes:
    return struct.pack("!BBHI", 0x08, 0, 0, 100 << 8) + inner_frame


def pcap(
    records: list[tuple[int, bytes] | tuple[int, bytes, int]],
    *,
    linktype: int = 1,
    big: bool = False,
    ns: bool = False,
    snaplen: int = 65535,
) -> bytes:
    """records: (ts_ns, frame[, wire_len]); frames longer than snaplen are cut (wire_len kept)."""
    e = ">" if big else "<"
    out = struct.pack(e + "IHHiIII", 0xA1B23C4D if ns else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)
    for rec in records:
        ts, frame = rec[0], rec[1]
        wire = rec[2] if len(rec) > 2 else len(frame)  # type: ignore[misc]
        data = frame[:snaplen]
        sec, rem = divmod(ts, 1_000_000_000)
        frac = rem if ns else rem // 1000
        out += struct.pack(e + "IIII", sec, frac, len(data), wire) + data
    return out


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def block(btype: int, body: bytes, big: bool = False) -> bytes:
    e = ">" if big else "<"
    body = _pad(body)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def option(code: int, value: bytes, big: bool = False) -> bytes:
    e = ">" if big else "<"
    return struct.pack(e + "HH", code, len(value)) + _pad(value)


def shb(big: bool = False) -> bytes:
    e = ">" if big else "<"
    return block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), big)


def idb(
    linktype: int,
    *,
    name: str | None = None,
    tsresol: int | None = None,
    tsoffset: int | None = None,
    snaplen: int = 0,
    big: bool = False,
) -> bytes:
    e = ">" if big else "<"
    opts = b""
    if name is not None:
        opts += option(2, name.encode(), big)
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), big)
    if tsoffset is not None:
        opts += option(14, struct.pack(e + "q", tsoffset), big)
    if opts:
        opts += option(0, b"", big)
    return block(1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts, big)


def epb(ifid: int, ts_units: int, frame: bytes, wire: int | None = None, big: bool = False) -> bytes:
    e = ">" if big else "<"
    return block(
        6,
        struct.pack(
            e + "IIIII",
            ifid,
            ts_units >> 32,
            ts_units & 0xFFFFFFFF,
            len(frame),
            wire if wire is not None else len(frame),
        )
        + frame,
        big,
    )


def spb(frame: bytes, wire: int | None = None, big: bool = False) -> bytes:
    e = ">" if big else "<"
    return block(3, struct.pack(e + "I", wire if wire is not None else len(frame)) + frame, big)
