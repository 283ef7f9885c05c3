# numba kernels: numpy scalar arithmetic does not type as ``int`` and njit is an untyped decorator.
# mypy: disable-error-code="untyped-decorator,return-value,assignment,no-any-return"
"""Compiled (numba) kernels of the capture readers: record scan and header parse, one pass per chunk.

Everything per packet happens here, never in a Python loop: ``pcap_scan`` walks classic pcap record
headers, ``pcapng_scan`` walks pcapng blocks, and both call ``parse_frame`` which decodes one link-layer
frame down to the transport header and writes one row of the output columns.

Conventions shared with the Python readers (``pcap.py``, ``pcapng.py``):

* ``b`` is the chunk (uint8 array); ``pos``/``end`` delimit its unread part. A kernel stops when the next
  record is not wholly in the chunk (``NEED_MORE``), when the output columns are full (``FULL``), on a
  malformed record header (``BAD``, ``pos`` points at it) or, for pcapng, on a block Python must handle
  (``PYTHON``: section header, interface description).
* ``stats`` (int64) counts per-frame outcomes, indexes ``ST_*``.
* Addresses are written as (hi, lo) uint64 pairs, IPv4 mapped into ``::ffff:0:0/96`` (see ``packets.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Link types (tcpdump.org/linktypes.html).
LT_NULL = 0
LT_ETHERNET = 1
LT_RAW = 101
LT_LOOP = 108
LT_SLL = 113
LT_IPV4 = 228
LT_IPV6 = 229
LT_SLL2 = 276
SUPPORTED_LINKTYPES = (LT_NULL, LT_ETHERNET, LT_RAW, LT_LOOP, LT_SLL, LT_IPV4, LT_IPV6, LT_SLL2)

# parse_frame status (low byte) and flags.
FR_OK = 0
FR_NON_IP = 1
FR_MALFORMED = 2
FR_UNSUPPORTED_LINK = 3
FR_FLAG_TRUNCATED_L4 = 0x100
FR_FLAG_VXLAN = 0x200

# stats indexes
ST_FRAMES = 0
ST_NON_IP = 1
ST_MALFORMED = 2
ST_UNSUPPORTED_LINK = 3
ST_TRUNCATED_L4 = 4
ST_VXLAN = 5
ST_UNTIMED = 6  # pcapng simple packet blocks (no timestamp)
ST_SKIPPED_BLOCKS = 7  # pcapng blocks of other types, skipped
N_STATS = 8

# kernel return codes
NEED_MORE = 0
FULL = 1
BAD = 2
PYTHON = 3

VXLAN_PORT = 4789
MAX_VXLAN_DEPTH = 2
#: A wire length above this is garbage, not a packet (IPv6 jumbograms aside, which no capture here holds).
MAX_ORIG_LEN = 1 << 20

PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_IDB = 1
PCAPNG_PB = 2
PCAPNG_SPB = 3
PCAPNG_EPB = 6
#: Block types a resynchronising pcapng reader accepts as a plausible block start.
PCAPNG_KNOWN_TYPES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x0BAD, 0x40000BAD, PCAPNG_SHB)


@njit(cache=True, inline="always")
def _be16(b: np.ndarray, p: int) -> int:
    return (np.int64(b[p]) << 8) | np.int64(b[p + 1])


@njit(cache=True, inline="always")
def _be32(b: np.ndarray, p: int) -> int:
    return (np.int64(b[p]) << 24) | (np.int64(b[p + 1]) << 16) | (np.int64(b[p + 2]) << 8) | np.int64(b[p + 3])


@njit(cache=True, inline="always")
def _be64u(b: np.ndarray, p: int) -> np.uint64:
    v = np.uint64(0)
    for k in range(8):
        v = (v << np.uint64(8)) | np.uint64(b[p + k])
    return v


@njit(cache=True, inline="always")
def _u32(b: np.ndarray, p: int, big: bool) -> int:
    if big:
        return _be32(b, p)
    return (np.int64(b[p + 3]) << 24) | (np.int64(b[p + 2]) << 16) | (np.int64(b[p + 1]) << 8) | np.int64(b[p])


@njit(cache=True, inline="always")
def _u16(b: np.ndarray, p: int, big: bool) -> int:
    if big:
        return _be16(b, p)
    return (np.int64(b[p + 1]) << 8) | np.int64(b[p])


#: what ``parse_frame`` returns (see its docstring)
Parsed = tuple[int, int, np.uint64, np.uint64, np.uint64, np.uint64, int, int, int, int, int, int, int, int]


@njit(cache=True, inline="always")
def _fail(status: int) -> Parsed:
    z = np.uint64(0)
    return (status, 0, z, z, z, z, 0, 0, 0, -1, -1, 0, 0, 0)


@njit(cache=True)
def parse_frame(b: np.ndarray, p: int, caplen: int, orig_len: int, lt: int) -> Parsed:
    """Decode the frame ``b[p:p+caplen]`` of link type ``lt``.

    Returns (status FR_* | flags, ip version, src hi, src lo, dst hi, dst lo, protocol, src port, dst port,
    icmp type, icmp code, ip length, tcp flags, fragment). Scalars only, no output arrays: passing arrays
    to a compiled function costs a reference-count increment and decrement per array and call, which
    dominated the parse when the 13 output columns were arguments.
    """
    end = p + caplen
    q = p
    depth = 0
    extra = 0
    v4map = np.uint64(0x0000_FFFF_0000_0000)
    while True:
        # ---- link layer -> ethertype
        et = 0
        if lt == LT_ETHERNET:
            if q + 14 > end:
                return _fail(FR_MALFORMED | extra)
            et = _be16(b, q + 12)
            q += 14
        elif lt == LT_SLL:
            if q + 16 > end:
                return _fail(FR_MALFORMED | extra)
            et = _be16(b, q + 14)
            q += 16
        elif lt == LT_SLL2:
            if q + 20 > end:
                return _fail(FR_MALFORMED | extra)
            et = _be16(b, q)
            q += 20
        elif lt == LT_RAW:
            if q + 1 > end:
                return _fail(FR_MALFORMED | extra)
            v = np.int64(b[q]) >> 4
            if v == 4:
                et = 0x0800
            elif v == 6:
                et = 0x86DD
            else:
                return _fail(FR_NON_IP | extra)
        elif lt == LT_IPV4:
            et = 0x0800
        elif lt == LT_IPV6:
            et = 0x86DD
        elif lt in (LT_NULL, LT_LOOP):
            # 4-byte address family, host byte order of the capturing machine (NULL) or big-endian (LOOP).
            if q + 4 > end:
                return _fail(FR_MALFORMED | extra)
            fam_be = _be32(b, q)
            fam_le = _u32(b, q, False)
            q += 4
            if fam_be == 2 or fam_le == 2:
                et = 0x0800
            elif fam_be == 24 or fam_be == 28 or fam_be == 30 or fam_le == 24 or fam_le == 28 or fam_le == 30:
                et = 0x86DD
            else:
                return _fail(FR_NON_IP | extra)
        else:
            return _fail(FR_UNSUPPORTED_LINK | extra)
        # 802.1Q / 802.1ad / QinQ tags (any depth)
        while et == 0x8100 or et == 0x88A8 or et == 0x9100:
            if q + 4 > end:
                return _fail(FR_MALFORMED | extra)
            et = _be16(b, q + 2)
            q += 4
        link_hdr = q - p
        # ---- network layer
        fragv = 0
        truncated = False
        if et == 0x0800:
            if q + 20 > end:
                return _fail(FR_MALFORMED | extra)
            vihl = np.int64(b[q])
            if (vihl >> 4) != 4:
                return _fail(FR_MALFORMED | extra)
            ihl = (vihl & 15) * 4
            if ihl < 20:
                return _fail(FR_MALFORMED | extra)
            tot = _be16(b, q + 2)
            if tot == 0:
                # TSO/GSO offloaded segments are captured with total length 0: the wire length decides.
                tot = orig_len - link_hdr
                if tot < ihl:
                    tot = ihl
            elif tot < ihl:
                return _fail(FR_MALFORMED | extra)
            fo = _be16(b, q + 6)
            off = fo & 0x1FFF
            if off != 0:
                fragv = 2
            elif fo & 0x2000:
                fragv = 1
            pr = np.int64(b[q + 9])
            s_hi = np.uint64(0)
            s_lo = v4map | np.uint64(_be32(b, q + 12))
            d_hi = np.uint64(0)
            d_lo = v4map | np.uint64(_be32(b, q + 16))
            l4 = q + ihl
            if l4 > end:
                truncated = True
            version = 4
            length = tot
        elif et == 0x86DD:
            if q + 40 > end:
                return _fail(FR_MALFORMED | extra)
            if (np.int64(b[q]) >> 4) != 6:
                return _fail(FR_MALFORMED | extra)
            plen = _be16(b, q + 4)
            if plen == 0:
                # jumbogram or offloaded segment: take the wire length
                plen = orig_len - link_hdr - 40
                if plen < 0:
                    plen = 0
            nh = np.int64(b[q + 6])
            s_hi = _be64u(b, q + 8)
            s_lo = _be64u(b, q + 16)
            d_hi = _be64u(b, q + 24)
            d_lo = _be64u(b, q + 32)
            l4 = q + 40
            # Every extension header is walked, however many there are: each one moves l4 forward by at
            # least 8 bytes, so the walk ends at the packet's captured end (truncated) at the latest.
            while True:
                if nh == 0 or nh == 43 or nh == 60:  # hop-by-hop, routing, destination options
                    if l4 + 2 > end:
                        truncated = True
                        break
                    nxt = np.int64(b[l4])
                    l4 += (np.int64(b[l4 + 1]) + 1) * 8
                    nh = nxt
                elif nh == 44:  # fragment
                    if l4 + 8 > end:
                        truncated = True
                        break
                    fo = _be16(b, l4 + 2)
                    nh = np.int64(b[l4])
                    l4 += 8
                    if (fo >> 3) != 0:
                        fragv = 2
                        break  # a later fragment: what follows is payload, not headers
                    if fo & 1:
                        fragv = 1
                elif nh == 51:  # authentication header: length in 4-octet units minus 2
                    if l4 + 2 > end:
                        truncated = True
                        break
                    nxt = np.int64(b[l4])
                    l4 += (np.int64(b[l4 + 1]) + 2) * 4
                    nh = nxt
                else:
                    break
            pr = nh
            version = 6
            length = 40 + plen
        else:
            return _fail(FR_NON_IP | extra)
        # ---- transport layer
        sp = 0
        dp = 0
        it = -1
        ic = -1
        fl = 0
        if fragv != 2 and not truncated:
            if pr == 6:
                # A capture cut after the ports but before the flags keeps the ports (the flow is still
                # that flow) and records flags 0, counted as truncated (docs/sources.md).
                if l4 + 4 <= end:
                    sp = _be16(b, l4)
                    dp = _be16(b, l4 + 2)
                if l4 + 14 <= end:
                    fl = np.int64(b[l4 + 13])
                else:
                    truncated = True
            elif pr == 17 or pr == 132 or pr == 33 or pr == 136:  # UDP, SCTP, DCCP, UDP-Lite: ports first
                if l4 + 4 <= end:
                    sp = _be16(b, l4)
                    dp = _be16(b, l4 + 2)
                else:
                    truncated = True
            elif (pr == 1 and version == 4) or (pr == 58 and version == 6):
                if l4 + 2 <= end:
                    it = np.int64(b[l4])
                    ic = np.int64(b[l4 + 1])
                else:
                    truncated = True
        # VXLAN (traffic mirroring): the inner frame replaces the outer packet.
        vxlan = pr == 17 and dp == VXLAN_PORT and fragv == 0 and depth < MAX_VXLAN_DEPTH
        if vxlan and l4 + 16 + 14 <= end and (np.int64(b[l4 + 8]) & 0x08) != 0:
            q = l4 + 16
            lt = LT_ETHERNET
            orig_len = end - q
            depth += 1
            extra |= FR_FLAG_VXLAN
            p = q
            continue
        if truncated:
            extra |= FR_FLAG_TRUNCATED_L4
        return (FR_OK | extra, version, s_hi, s_lo, d_hi, d_lo, pr, sp, dp, it, ic, length, fl, fragv)


@njit(cache=True, inline="always")
def _store(
    r: tuple,
    i: int,
    ipver: np.ndarray,
    shi: np.ndarray,
    slo: np.ndarray,
    dhi: np.ndarray,
    dlo: np.ndarray,
    proto: np.ndarray,
    sport: np.ndarray,
    dport: np.ndarray,
    itype: np.ndarray,
    icode: np.ndarray,
    iplen: np.ndarray,
    tflags: np.ndarray,
    frag: np.ndarray,
) -> None:
    """Row ``i`` of the output columns from a ``parse_frame`` result (inlined: no per-call refcounts)."""
    ipver[i] = r[1]
    shi[i] = r[2]
    slo[i] = r[3]
    dhi[i] = r[4]
    dlo[i] = r[5]
    proto[i] = r[6]
    sport[i] = r[7]
    dport[i] = r[8]
    itype[i] = r[9]
    icode[i] = r[10]
    iplen[i] = r[11]
    tflags[i] = r[12]
    frag[i] = r[13]


@njit(cache=True, inline="always")
def _count(st: int, stats: np.ndarray) -> bool:
    stats[ST_FRAMES] += 1
    code = st & 0xFF
    if st & FR_FLAG_VXLAN:
        stats[ST_VXLAN] += 1
    if code == FR_OK:
        if st & FR_FLAG_TRUNCATED_L4:
            stats[ST_TRUNCATED_L4] += 1
        return True
    if code == FR_NON_IP:
        stats[ST_NON_IP] += 1
    elif code == FR_MALFORMED:
        stats[ST_MALFORMED] += 1
    else:
        stats[ST_UNSUPPORTED_LINK] += 1
    return False


@njit(cache=True, inline="always")
def pcap_header_ok(b: np.ndarray, pos: int, big: bool, nsres: bool, max_caplen: int) -> int:
    """0 when the 16-byte record header at ``pos`` is plausible, else a reason code (1..4)."""
    frac = _u32(b, pos + 4, big)
    incl = _u32(b, pos + 8, big)
    orig = _u32(b, pos + 12, big)
    if frac >= (1_000_000_000 if nsres else 1_000_000):
        return 1
    if incl > max_caplen:
        return 2
    if orig == 0 or orig > MAX_ORIG_LEN:
        return 3
    return 0


@njit(cache=True)
def pcap_scan(
    b: np.ndarray,
    pos: int,
    end: int,
    big: bool,
    nsres: bool,
    lt: int,
    max_caplen: int,
    cap: int,
    ts: np.ndarray,
    ipver: np.ndarray,
    shi: np.ndarray,
    slo: np.ndarray,
    dhi: np.ndarray,
    dlo: np.ndarray,
    proto: np.ndarray,
    sport: np.ndarray,
    dport: np.ndarray,
    itype: np.ndarray,
    icode: np.ndarray,
    iplen: np.ndarray,
    tflags: np.ndarray,
    frag: np.ndarray,
    stats: np.ndarray,
) -> tuple[int, int, int]:
    """Parse records from ``pos``; return (rows written, next position, NEED_MORE | FULL | BAD)."""
    n = 0
    mul = 1 if nsres else 1000
    while n < cap:
        if pos + 16 > end:
            return n, pos, NEED_MORE
        if pcap_header_ok(b, pos, big, nsres, max_caplen) != 0:
            return n, pos, BAD
        sec = _u32(b, pos, big)
        frac = _u32(b, pos + 4, big)
        incl = _u32(b, pos + 8, big)
        orig = _u32(b, pos + 12, big)
        if pos + 16 + incl > end:
            return n, pos, NEED_MORE
        r = parse_frame(b, pos + 16, incl, orig, lt)
        if _count(r[0], stats):
            ts[n] = sec * 1_000_000_000 + frac * mul
            _store(r, n, ipver, shi, slo, dhi, dlo, proto, sport, dport, itype, icode, iplen, tflags, frag)
            n += 1
        pos += 16 + incl
    return n, pos, FULL


@njit(cache=True)
def pcap_resync(
    b: np.ndarray, pos: int, end: int, eof: bool, big: bool, nsres: bool, max_caplen: int, chain: int
) -> tuple[int, int]:
    """Find the next plausible record start after a bad one.

    A candidate offset is accepted when its header and the ``chain`` headers that follow it are plausible
    (``pcap_header_ok`` and caplen <= wire length), or the chain ends exactly at end of file. Returns
    (0, offset) when found, (NEED_MORE, offset to resume scanning from) when the chunk ran out, (-1, end)
    when nothing plausible remains before end of file.
    """
    c = pos
    while c + 16 <= end:
        q = c
        good = 0
        verdict = 0  # 0 rejected, 1 accepted, 2 need more data
        for _ in range(chain + 1):
            if q + 16 > end:
                # the chain reached the end of the data: at end of file, a candidate with at least one
                # whole plausible record is accepted (a partial tail is reported later as truncated)
                verdict = (1 if good > 0 or q == end else 0) if eof else 2
                break
            if pcap_header_ok(b, q, big, nsres, max_caplen) != 0:
                break
            incl = _u32(b, q + 8, big)
            if incl > _u32(b, q + 12, big):
                break
            if q + 16 + incl > end:
                verdict = (1 if good > 0 else 0) if eof else 2
                break
            q += 16 + incl
            good += 1  # noqa: SIM113 - numba: a plain counter
        else:
            verdict = 1
        if verdict == 2:
            return NEED_MORE, c
        if verdict == 1:
            return 0, c
        c += 1
    if eof:
        return -1, end
    return NEED_MORE, c


@njit(cache=True)
def ts_to_ns(raw: np.uint64, mode: int, k: int) -> int:
    """A pcapng timestamp in interface units -> ns. mode 0: x*k; 1: x//k; 2: binary fraction of k bits."""
    if mode == 0:
        return np.int64(raw) * k
    if mode == 1:
        return np.int64(raw // np.uint64(k))
    whole = np.int64(raw >> np.uint64(k))
    frac = raw & ((np.uint64(1) << np.uint64(k)) - np.uint64(1))
    return whole * 1_000_000_000 + np.int64(np.float64(frac) * (1e9 / 2.0**k))


@njit(cache=True)
def pcapng_block_ok(b: np.ndarray, pos: int, end: int, big: bool, max_block: int) -> int:
    """0 when the block at ``pos`` has a sane length whose trailing copy matches; -1 when more data is
    needed to tell; else a reason code (1 bad length, 2 trailing length mismatch)."""
    if pos + 12 > end:
        return -1
    blen = _u32(b, pos + 4, big)
    if blen < 12 or (blen & 3) != 0 or blen > max_block:
        return 1
    if pos + blen > end:
        return -1
    if _u32(b, pos + blen - 4, big) != blen:
        return 2
    return 0


@njit(cache=True)
def pcapng_scan(
    b: np.ndarray,
    pos: int,
    end: int,
    big: bool,
    max_block: int,
    if_lt: np.ndarray,
    if_mode: np.ndarray,
    if_k: np.ndarray,
    if_off: np.ndarray,
    if_snap: np.ndarray,
    if_label: np.ndarray,
    last_ts: int,
    cap: int,
    ts: np.ndarray,
    iface: np.ndarray,
    ipver: np.ndarray,
    shi: np.ndarray,
    slo: np.ndarray,
    dhi: np.ndarray,
    dlo: np.ndarray,
    proto: np.ndarray,
    sport: np.ndarray,
    dport: np.ndarray,
    itype: np.ndarray,
    icode: np.ndarray,
    iplen: np.ndarray,
    tflags: np.ndarray,
    frag: np.ndarray,
    stats: np.ndarray,
) -> tuple[int, int, int, int]:
    """Walk blocks of one section from ``pos``; return (rows, next position, code, last timestamp).

    Section headers and interface descriptions stop the walk (``PYTHON``): the reader parses their options
    and resumes. Enhanced, simple and obsolete packet blocks become rows; other blocks are skipped.
    """
    n = 0
    n_if = if_lt.shape[0]
    while n < cap:
        ok = pcapng_block_ok(b, pos, end, big, max_block)
        if ok == -1:
            if pos + 8 <= end:
                btype = _u32(b, pos, big)
                if btype == PCAPNG_SHB:
                    return n, pos, PYTHON, last_ts
            return n, pos, NEED_MORE, last_ts
        btype = _u32(b, pos, big)
        if btype in (PCAPNG_SHB, PCAPNG_IDB):
            return n, pos, PYTHON, last_ts
        if ok != 0:
            return n, pos, BAD, last_ts
        blen = _u32(b, pos + 4, big)
        if btype in (PCAPNG_EPB, PCAPNG_PB):
            if blen < 32:
                return n, pos, BAD, last_ts
            if btype == PCAPNG_EPB:
                ifid = _u32(b, pos + 8, big)
            else:
                ifid = _u16(b, pos + 8, big)
            capl = _u32(b, pos + 20, big)
            orig = _u32(b, pos + 24, big)
            if ifid >= n_if or capl > blen - 32:
                return n, pos, BAD, last_ts
            raw = (np.uint64(_u32(b, pos + 12, big)) << np.uint64(32)) | np.uint64(_u32(b, pos + 16, big))
            t = ts_to_ns(raw, if_mode[ifid], if_k[ifid]) + if_off[ifid]
            r = parse_frame(b, pos + 28, capl, orig, if_lt[ifid])
            last_ts = t
            if _count(r[0], stats):
                ts[n] = t
                iface[n] = if_label[ifid]
                _store(r, n, ipver, shi, slo, dhi, dlo, proto, sport, dport, itype, icode, iplen, tflags, frag)
                n += 1
        elif btype == PCAPNG_SPB:
            if blen < 16 or n_if == 0:
                return n, pos, BAD, last_ts
            orig = _u32(b, pos + 8, big)
            capl = min(orig, blen - 16)
            if if_snap[0] > 0:
                capl = min(capl, if_snap[0])
            r = parse_frame(b, pos + 12, capl, orig, if_lt[0])
            stats[ST_UNTIMED] += 1
            if _count(r[0], stats):
                ts[n] = last_ts
                iface[n] = if_label[0]
                _store(r, n, ipver, shi, slo, dhi, dlo, proto, sport, dport, itype, icode, iplen, tflags, frag)
                n += 1
        else:
            stats[ST_SKIPPED_BLOCKS] += 1
        pos += blen
    return n, pos, FULL, last_ts


@njit(cache=True)
def pcapng_resync(b: np.ndarray, pos: int, end: int, eof: bool, big: bool, max_block: int) -> tuple[int, int]:
    """Find the next plausible block after a bad one: a known block type whose length is sane and whose
    trailing length copy matches. Same return convention as ``pcap_resync``."""
    c = pos
    while c + 8 <= end:
        btype = _u32(b, c, big)
        known = False
        for t in PCAPNG_KNOWN_TYPES:
            if btype == t:
                known = True
        if known:
            ok = pcapng_block_ok(b, c, end, big, max_block)
            if ok == 0:
                return 0, c
            if ok == -1 and not eof:
                return NEED_MORE, c
        c += 1
    if eof:
        return -1, end
    return NEED_MORE, c
