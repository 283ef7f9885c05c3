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

Files ending in ``.gz`` are gzip-compressed. The encoding runs in the native core
(``native/src/synth/writer.rs``), one pass per batch; this module checks the rows and owns the files.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterable
from types import TracebackType
from typing import IO, cast

import numpy as np

import vpcflow._native as _native
from vpcflow.core.errors import VpcflowError
from vpcflow.core.filewrite import write_all
from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch
from vpcflow.dataplane.sources._native_capture import ROW_COLUMNS
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
    seqn, ackn = seq.numbers(batch)
    c: dict[str, np.ndarray] = {k: np.ascontiguousarray(getattr(batch, k), dtype=PACKET_DTYPES[k]) for k in _ENCODED}
    out = _native.encode_records(
        *c.values(),
        np.ascontiguousarray(seqn, dtype=np.int64),
        np.ascontiguousarray(ackn, dtype=np.int64),
        np.ascontiguousarray(caplen, dtype=np.int64),
        np.ascontiguousarray(ifid if ifid is not None else np.zeros(n, np.int64), dtype=np.int64),
        first,
        eth,
        ns,
        ifid is not None,
    )
    return cast(np.ndarray, out)


#: the batch columns the encoder reads, in its argument order
_ENCODED = ROW_COLUMNS


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
            self._f = cast(IO[bytes], gzip.open(self.path, "wb", compresslevel=3))  # noqa: SIM115 - closed in close()
        else:
            self._f = open(self.path, "wb")  # noqa: SIM115
        magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
        self._f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, batch: PacketBatch) -> None:
        if len(batch) == 0:
            return
        out = _encode_batch(batch, self.snaplen, self.linktype, self.nanosecond, None, self._seq, self.packets)
        write_all(self._f, out.data)  # the buffer itself: no copy
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
            self._f = cast(IO[bytes], gzip.open(self.path, "wb", compresslevel=3))  # noqa: SIM115 - closed in close()
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
        write_all(self._f, out.data)
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
