"""A plain-Python frame decoder: the oracle the native core's decoder is checked against (hypothesis, every
field). Written from docs/sources.md, not from the Rust code; slow and simple on purpose."""

from __future__ import annotations

import struct
from dataclasses import dataclass

V4_MAPPED = 0xFFFF_0000_0000
GENERIC_EXT = {0, 43, 60, 135, 139, 140}
PORT_PROTOCOLS = {6, 17, 132, 33, 136}


@dataclass
class Decoded:
    status: str  # ok, non_ip, malformed, unsupported_link
    truncated: bool = False
    vxlan: bool = False
    version: int = 0
    src: tuple[int, int] = (0, 0)
    dst: tuple[int, int] = (0, 0)
    protocol: int = 0
    sport: int = 0
    dport: int = 0
    itype: int = -1
    icode: int = -1
    ip_len: int = 0
    flags: int = 0
    fragment: int = 0


def _link(f: bytes, lt: int) -> tuple[int, int] | str:
    fixed = {1: (14, 12), 113: (16, 14), 276: (20, 0)}
    if lt in fixed:
        size, at = fixed[lt]
        if len(f) < size:
            return "malformed"
        et, q = struct.unpack_from("!H", f, at)[0], size
    elif lt == 101:
        if not f:
            return "malformed"
        et, q = {4: 0x0800, 6: 0x86DD}.get(f[0] >> 4, -1), 0
        if et < 0:
            return "non_ip"
    elif lt in (228, 229):
        et, q = (0x0800 if lt == 228 else 0x86DD), 0
    elif lt in (0, 108):
        if len(f) < 4:
            return "malformed"
        fams = set(struct.unpack_from("<I", f)) | set(struct.unpack_from(">I", f))
        if 2 in fams:
            et = 0x0800
        elif fams & {24, 28, 30}:
            et = 0x86DD
        else:
            return "non_ip"
        q = 4
    else:
        return "unsupported_link"
    while et in (0x8100, 0x88A8, 0x9100):
        if q + 4 > len(f):
            return "malformed"
        et = struct.unpack_from("!H", f, q + 2)[0]
        q += 4
    return et, q


def _transport(f: bytes, d: Decoded, l4: int) -> None:
    n, pr = len(f), d.protocol
    if d.fragment == 2 or d.truncated:
        return
    if pr in PORT_PROTOCOLS:
        if l4 + 4 > n:
            d.truncated = True
            return
        d.sport, d.dport = struct.unpack_from("!HH", f, l4)
        if pr == 6:
            if l4 + 14 > n:
                d.truncated = True
            else:
                d.flags = f[l4 + 13]
    elif (pr == 1 and d.version == 4) or (pr == 58 and d.version == 6):
        if l4 + 2 > n:
            d.truncated = True
        else:
            d.itype, d.icode = f[l4], f[l4 + 1]


def _ipv6_chain(f: bytes, d: Decoded, l4: int) -> int:
    while True:
        nh = d.protocol
        if nh in GENERIC_EXT or nh == 51:
            if l4 + 2 > len(f):
                d.truncated = True
                return l4
            d.protocol = f[l4]
            l4 += (f[l4 + 1] + 2) * 4 if nh == 51 else (f[l4 + 1] + 1) * 8
        elif nh == 44:
            if l4 + 8 > len(f):
                d.truncated = True
                return l4
            d.protocol = f[l4]
            off = struct.unpack_from("!H", f, l4 + 2)[0]
            l4 += 8
            if off >> 3:
                d.fragment = 2
                return l4
            if off & 1:
                d.fragment = 1
        else:
            return l4


def decode(f: bytes, orig_len: int, lt: int, depth: int = 0) -> Decoded:
    link = _link(f, lt)
    if isinstance(link, str):
        return Decoded(link)
    et, q = link
    d = Decoded("ok")
    if et == 0x0800:
        if q + 20 > len(f) or f[q] >> 4 != 4 or (f[q] & 15) < 5:
            return Decoded("malformed")
        ihl = (f[q] & 15) * 4
        total, frag = struct.unpack_from("!HxxH", f, q + 2)
        if total == 0:
            total = max(orig_len - q, ihl)
        elif total < ihl:
            return Decoded("malformed")
        d.version, d.protocol, d.ip_len = 4, f[q + 9], total
        d.fragment = 2 if frag & 0x1FFF else (1 if frag & 0x2000 else 0)
        s, t = struct.unpack_from("!II", f, q + 12)
        d.src, d.dst = (0, V4_MAPPED | s), (0, V4_MAPPED | t)
        l4 = q + ihl
        d.truncated = l4 > len(f)
    elif et == 0x86DD:
        if q + 40 > len(f) or f[q] >> 4 != 6:
            return Decoded("malformed")
        plen = struct.unpack_from("!H", f, q + 4)[0] or max(orig_len - q - 40, 0)
        d.version, d.protocol, d.ip_len = 6, f[q + 6], 40 + plen
        a = struct.unpack_from("!QQQQ", f, q + 8)
        d.src, d.dst = (a[0], a[1]), (a[2], a[3])
        l4 = _ipv6_chain(f, d, q + 40)
    else:
        return Decoded("non_ip")
    _transport(f, d, l4)
    inner = l4 + 16
    if (d.protocol == 17 and d.dport == 4789 and d.fragment == 0 and depth < 2 and inner + 14 <= len(f)
            and f[l4 + 8] & 0x08):
        r = decode(f[inner:], len(f) - inner, 1, depth + 1)
        r.vxlan = True
        return r
    return d
