# numba kernels: numpy scalar arithmetic does not type as ``int`` and njit is an untyped decorator.
# mypy: disable-error-code="untyped-decorator,return-value,assignment,no-any-return"
"""Write PacketBatches as a real capture any tool reads (tcpdump, tshark, Wireshark, vpcflow itself).

Each row becomes an Ethernet frame (or a raw-IP one with ``linktype=101``) with a real IPv4 or IPv6
header (correct total/payload length, IPv4 header checksum, DF set), a real TCP/UDP/ICMP/ICMPv6 header
(ports, flags, type/code; TCP options as Linux sends them when the length has room: MSS, SACK-permitted,
timestamps and window scale on SYNs, timestamps on other segments; sequence and acknowledgment numbers
from ``_tcpseq.TcpSequencer``)
and a zero-filled payload up to the row's ``ip_len``; the record keeps at most
``snaplen`` bytes and stores the wire length as the original length, so readers count ``ip_len`` bytes.
Transport checksums are computed for the full zero-filled payload, so they verify even though the
payload is cut. Fragments: ``fragment`` 1 writes a first fragment (MF set, transport header present),
2 a later fragment (offset 185 = 1480 bytes, no transport header); IPv6 fragments carry a fragment
extension header (inside ``ip_len``).

Files ending in ``.gz`` are gzip-compressed. The encoding runs in a compiled kernel, one pass per batch.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterable
from types import TracebackType
from typing import IO

import numpy as np
from numba import njit

from vpcflow.core.errors import VpcflowError
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources._tcpseq import TcpSequencer

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
_PORT_PROTOCOLS = (6, 17, 132, 33, 136)


class CaptureWriteError(VpcflowError):
    """A batch cannot be written as packets (e.g. an IP length too small for its headers)."""


def header_lengths(batch: PacketBatch) -> np.ndarray:
    """IP + transport header bytes each row needs (its ``ip_len`` must be at least this)."""
    v6 = batch.ip_version == 6
    ip = np.where(v6, 40, 20) + np.where(v6 & (batch.fragment > 0), 8, 0)
    p = batch.protocol
    l4 = np.where(p == 6, 20, np.where(np.isin(p, (17, 132, 33, 136)) | (p == 1) | (p == 58), 8, 0))
    l4 = np.where(batch.fragment == 2, 0, l4)
    return (ip + l4).astype(np.int64)


@njit(cache=True, inline="always")
def _csum_add(s: int, b: np.ndarray, p: int, n: int) -> int:
    for k in range(0, n - 1, 2):
        s += (np.int64(b[p + k]) << 8) | np.int64(b[p + k + 1])
    if n & 1:
        s += np.int64(b[p + n - 1]) << 8
    return s


@njit(cache=True, inline="always")
def _csum_fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


@njit(cache=True, inline="always")
def _put16(b: np.ndarray, p: int, v: int) -> None:
    b[p] = (v >> 8) & 0xFF
    b[p + 1] = v & 0xFF


@njit(cache=True, inline="always")
def _put32(b: np.ndarray, p: int, v: int) -> None:
    b[p] = (v >> 24) & 0xFF
    b[p + 1] = (v >> 16) & 0xFF
    b[p + 2] = (v >> 8) & 0xFF
    b[p + 3] = v & 0xFF


@njit(cache=True, inline="always")
def _put32le(b: np.ndarray, p: int, v: int) -> None:
    b[p] = v & 0xFF
    b[p + 1] = (v >> 8) & 0xFF
    b[p + 2] = (v >> 16) & 0xFF
    b[p + 3] = (v >> 24) & 0xFF


@njit(cache=True, inline="always")
def _put64(b: np.ndarray, p: int, v: np.uint64) -> None:
    for k in range(8):
        b[p + 7 - k] = np.uint8(v & np.uint64(0xFF))
        v = v >> np.uint64(8)


@njit(cache=True)
def _encode(
    out: np.ndarray,
    offs: np.ndarray,
    caplen: np.ndarray,
    ts: np.ndarray,
    ns: bool,
    eth: bool,
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
    ng: bool,
    ifid: np.ndarray,
    seqn: np.ndarray,
    ackn: np.ndarray,
    first: int,
) -> None:
    """Encode every row at ``offs``: a pcap record, or (``ng``) a pcapng enhanced packet block on
    interface ``ifid`` with nanosecond timestamps."""
    h = np.zeros(160, dtype=np.uint8)
    for i in range(ts.shape[0]):
        for k in range(128):  # element loops, not slices: a slice is a new array (a refcount) per packet
            h[k] = 0
        q = 0
        if eth:
            h[0] = 0x02  # locally administered MACs 02:00:00:00:00:02 <- 02:00:00:00:00:01
            h[5] = 0x02
            h[6] = 0x02
            h[11] = 0x01
            _put16(h, 12, 0x0800 if ipver[i] == 4 else 0x86DD)
            q = 14
        ip = q
        total = np.int64(iplen[i])
        pr = np.int64(proto[i])
        fr = np.int64(frag[i])
        if ipver[i] == 4:
            h[q] = 0x45
            _put16(h, q + 2, total)
            _put16(h, q + 4, (first + i) & 0xFFFF)  # identification: the packet's number in the file
            if fr == 1:
                _put16(h, q + 6, 0x2000)
            elif fr == 2:
                _put16(h, q + 6, 185)
            else:
                _put16(h, q + 6, 0x4000)  # DF
            h[q + 8] = 64
            h[q + 9] = pr
            _put32(h, q + 12, np.int64(slo[i] & np.uint64(0xFFFFFFFF)))
            _put32(h, q + 16, np.int64(dlo[i] & np.uint64(0xFFFFFFFF)))
            _put16(h, q + 10, _csum_fold(_csum_add(0, h, q, 20)))
            l4 = q + 20
            l4len = total - 20
        else:
            h[q] = 0x60
            _put16(h, q + 4, total - 40)
            h[q + 6] = 44 if fr > 0 else pr
            h[q + 7] = 64
            _put64(h, q + 8, shi[i])
            _put64(h, q + 16, slo[i])
            _put64(h, q + 24, dhi[i])
            _put64(h, q + 32, dlo[i])
            l4 = q + 40
            l4len = total - 40
            if fr > 0:
                h[l4] = pr
                _put16(h, l4 + 2, (185 << 3) if fr == 2 else 1)
                _put32(h, l4 + 4, (first + i) & 0xFFFFFFFF)
                l4 += 8
                l4len -= 8
        hl = 0
        if fr != 2:
            if pr == 6:
                _put16(h, l4, np.int64(sport[i]))
                _put16(h, l4 + 2, np.int64(dport[i]))
                _put32(h, l4 + 4, seqn[i])
                fl = np.int64(tflags[i])
                hl = 20
                # the options Linux sends, when the IP length has room for them: SYNs carry MSS,
                # SACK-permitted, timestamps and window scale; other segments carry timestamps
                if fl & 2 and l4len >= 40:
                    hl = 40
                    o = l4 + 20
                    h[o], h[o + 1] = 2, 4
                    _put16(h, o + 2, 1460)
                    h[o + 4], h[o + 5] = 4, 2
                    h[o + 6], h[o + 7] = 8, 10
                    _put32(h, o + 8, (ts[i] // 1_000_000) & 0xFFFFFFFF)  # TSval: a millisecond clock
                    h[o + 16], h[o + 17], h[o + 18], h[o + 19] = 1, 3, 3, 7
                elif fl & 2 and l4len >= 24:
                    hl = 24
                    h[l4 + 20], h[l4 + 21] = 2, 4
                    _put16(h, l4 + 22, 1460)
                elif fl & 16 and not fl & 4 and l4len >= 32:
                    hl = 32
                    o = l4 + 20
                    h[o], h[o + 1], h[o + 2], h[o + 3] = 1, 1, 8, 10
                    _put32(h, o + 4, (ts[i] // 1_000_000) & 0xFFFFFFFF)
                _put32(h, l4 + 8, ackn[i])
                h[l4 + 12] = (hl // 4) << 4
                h[l4 + 13] = fl
                _put16(h, l4 + 14, 65535)
                ck = 16
            elif pr == 17 or pr == 132 or pr == 33 or pr == 136:
                _put16(h, l4, np.int64(sport[i]))
                _put16(h, l4 + 2, np.int64(dport[i]))
                if pr == 17 or pr == 136:
                    _put16(h, l4 + 4, l4len)
                hl = 8
                ck = 6 if pr == 17 or pr == 136 else -1
            elif (pr == 1 and ipver[i] == 4) or (pr == 58 and ipver[i] == 6):
                h[l4] = max(itype[i], 0)
                h[l4 + 1] = max(icode[i], 0)
                hl = 8
                ck = 2
            else:
                ck = -1
            if hl > 0 and ck >= 0 and fr == 0:
                s = 0
                if not (pr == 1 and ipver[i] == 4):
                    # pseudo-header: addresses, upper-layer length, protocol
                    if ipver[i] == 4:
                        s = _csum_add(s, h, ip + 12, 8)
                    else:
                        s = _csum_add(s, h, ip + 8, 32)
                    s += (l4len >> 16) + (l4len & 0xFFFF) + pr
                s = _csum_add(s, h, l4, hl)  # the payload is zeros: adds nothing
                c = _csum_fold(s)
                if c == 0 and pr == 17:
                    c = 0xFFFF
                _put16(h, l4 + ck, c)
        hdr_end = l4 + hl
        o = offs[i]
        sec = ts[i] // 1_000_000_000
        frac = ts[i] - sec * 1_000_000_000
        if not ns:
            frac //= 1000
        wire = total + (14 if eth else 0)
        n = min(caplen[i], hdr_end)
        if ng:
            blen = 32 + ((caplen[i] + 3) & ~3)
            _put32le(out, o, 6)
            _put32le(out, o + 4, blen)
            _put32le(out, o + 8, ifid[i])
            _put32le(out, o + 12, ts[i] >> 32)
            _put32le(out, o + 16, ts[i] & 0xFFFFFFFF)
            _put32le(out, o + 20, caplen[i])
            _put32le(out, o + 24, wire)
            for k in range(n):
                out[o + 28 + k] = h[k]
            _put32le(out, o + blen - 4, blen)
        else:
            _put32le(out, o, sec)
            _put32le(out, o + 4, frac)
            _put32le(out, o + 8, caplen[i])
            _put32le(out, o + 12, wire)
            for k in range(n):
                out[o + 16 + k] = h[k]


def _check(batch: PacketBatch) -> None:
    need = header_lengths(batch)
    bad = np.flatnonzero(batch.ip_len.astype(np.int64) < need)
    if bad.size:
        i = int(bad[0])
        raise CaptureWriteError(
            f"row {i}: ip_len {int(batch.ip_len[i])} is smaller than its headers ({int(need[i])} bytes)"
        )
    bad = np.flatnonzero(~np.isin(batch.ip_version, (4, 6)))
    if bad.size:
        raise CaptureWriteError(f"row {int(bad[0])}: ip_version {int(batch.ip_version[bad[0]])} is not 4 or 6")
    if int(batch.ts_ns.min()) < 0:
        raise CaptureWriteError("timestamps before 1970 cannot be written")


def _encode_batch(
    batch: PacketBatch,
    snaplen: int,
    linktype: int,
    ns: bool,
    ifid: np.ndarray | None,
    seq: TcpSequencer,
    first: int,
) -> np.ndarray:
    """The bytes of a batch's records (pcap) or enhanced packet blocks (``ifid`` given: pcapng)."""
    _check(batch)
    if ifid is None and int(batch.ts_ns.max()) >= (1 << 32) * 1_000_000_000:
        raise CaptureWriteError("pcap stores 32-bit seconds: timestamps from 2106-02-07 on need pcapng")
    n = len(batch)
    eth = linktype == LINKTYPE_ETHERNET
    wire = batch.ip_len.astype(np.int64) + (14 if eth else 0)
    caplen = np.minimum(wire, snaplen)
    sizes = caplen + 16 if ifid is None else 32 + ((caplen + 3) & ~3)
    offs = np.zeros(n, dtype=np.int64)
    np.cumsum(sizes[:-1], out=offs[1:])
    out = np.zeros(int(sizes.sum()), dtype=np.uint8)
    seqn, ackn = seq.numbers(batch)
    _encode(
        out,
        offs,
        caplen,
        batch.ts_ns,
        ns,
        eth,
        batch.ip_version,
        batch.src_hi,
        batch.src_lo,
        batch.dst_hi,
        batch.dst_lo,
        batch.protocol,
        batch.src_port,
        batch.dst_port,
        batch.icmp_type,
        batch.icmp_code,
        batch.ip_len,
        batch.tcp_flags,
        batch.fragment,
        ifid is not None,
        ifid if ifid is not None else np.zeros(0, np.int64),
        seqn,
        ackn,
        first,
    )
    return out


class PcapWriter:
    """A little-endian pcap file (nanosecond timestamps unless ``nanosecond=False``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        snaplen: int = 65535,
        nanosecond: bool = True,
        linktype: int = LINKTYPE_ETHERNET,
    ) -> None:
        if linktype not in (LINKTYPE_ETHERNET, LINKTYPE_RAW):
            raise CaptureWriteError(f"pcap writer supports link types 1 (Ethernet) and 101 (raw IP), not {linktype}")
        if not 64 <= snaplen <= 262144:
            raise CaptureWriteError(f"snaplen must be within 64..262144, got {snaplen}")
        self.path = os.fspath(path)
        self.snaplen = snaplen
        self.nanosecond = nanosecond
        self.linktype = linktype
        self.packets = 0
        self.bytes_written = 0
        self._seq = TcpSequencer()
        self._f: IO[bytes]
        if self.path.endswith(".gz"):
            self._f = gzip.open(self.path, "wb", compresslevel=3)  # noqa: SIM115 - closed in close()
        else:
            self._f = open(self.path, "wb")  # noqa: SIM115
        magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
        self._f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, batch: PacketBatch) -> None:
        if len(batch) == 0:
            return
        out = _encode_batch(batch, self.snaplen, self.linktype, self.nanosecond, None, self._seq, self.packets)
        self._f.write(out.data)  # the buffer itself: no copy
        self.packets += len(batch)
        self.bytes_written += out.shape[0]

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class PcapngWriter:
    """A little-endian pcapng file: one section; an interface description per interface label of the
    batches (``if_name`` = the label, nanosecond ``if_tsresol``), written when the label first appears,
    plus one unnamed interface for rows without a label (``iface`` -1); enhanced packet blocks."""

    def __init__(
        self, path: str | os.PathLike[str], *, snaplen: int = 65535, linktype: int = LINKTYPE_ETHERNET
    ) -> None:
        if linktype not in (LINKTYPE_ETHERNET, LINKTYPE_RAW):
            raise CaptureWriteError(f"pcapng writer supports link types 1 (Ethernet) and 101 (raw IP), not {linktype}")
        if not 64 <= snaplen <= 262144:
            raise CaptureWriteError(f"snaplen must be within 64..262144, got {snaplen}")
        self.path = os.fspath(path)
        self.snaplen = snaplen
        self.linktype = linktype
        self.packets = 0
        self._seq = TcpSequencer()
        self._ids: dict[str | None, int] = {}
        self._f: IO[bytes]
        if self.path.endswith(".gz"):
            self._f = gzip.open(self.path, "wb", compresslevel=3)  # noqa: SIM115 - closed in close()
        else:
            self._f = open(self.path, "wb")  # noqa: SIM115
        body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        self._f.write(struct.pack("<II", 0x0A0D0D0A, 12 + len(body)) + body + struct.pack("<I", 12 + len(body)))

    def _interface(self, label: str | None) -> int:
        if label not in self._ids:
            opts = b""
            if label is not None:
                name = label.encode()
                opts += struct.pack("<HH", 2, len(name)) + name + b"\0" * (-len(name) % 4)
            opts += struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)  # if_tsresol = 10^-9
            body = struct.pack("<HHI", self.linktype, 0, self.snaplen) + opts
            self._f.write(struct.pack("<II", 1, 12 + len(body)) + body + struct.pack("<I", 12 + len(body)))
            self._ids[label] = len(self._ids)
        return self._ids[label]

    def write(self, batch: PacketBatch) -> None:
        if len(batch) == 0:
            return
        labels = [*batch.interfaces, None]  # index -1 -> the unnamed interface
        present = np.unique(batch.iface)
        table = np.zeros(len(labels), dtype=np.int64)
        for k in present.tolist():
            table[k] = self._interface(labels[k])
        out = _encode_batch(
            batch, self.snaplen, self.linktype, True, table[batch.iface.astype(np.int64)], self._seq, self.packets
        )
        self._f.write(out.data)
        self.packets += len(batch)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_pcapng(
    path: str | os.PathLike[str],
    batches: PacketBatch | Iterable[PacketBatch],
    *,
    snaplen: int = 65535,
    linktype: int = LINKTYPE_ETHERNET,
) -> int:
    """Write one batch or an iterable of batches as pcapng (interface labels kept); returns packets written."""
    items = [batches] if isinstance(batches, PacketBatch) else batches
    with PcapngWriter(path, snaplen=snaplen, linktype=linktype) as w:
        for b in items:
            w.write(b)
        return w.packets


def write_pcap(
    path: str | os.PathLike[str],
    batches: PacketBatch | Iterable[PacketBatch],
    *,
    snaplen: int = 65535,
    nanosecond: bool = True,
    linktype: int = LINKTYPE_ETHERNET,
) -> int:
    """Write one batch or an iterable of batches; returns the number of packets written."""
    items = [batches] if isinstance(batches, PacketBatch) else batches
    with PcapWriter(path, snaplen=snaplen, nanosecond=nanosecond, linktype=linktype) as w:
        for b in items:
            w.write(b)
        return w.packets
