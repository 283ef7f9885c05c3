"""Classic pcap source (libpcap format): both byte orders, microsecond and nanosecond timestamps.

A plain file is memory-mapped, a gzip one streamed in chunks; the native core (``_native_capture.pcap_scan``)
walks record headers and decodes every frame (Ethernet, SLL, SLL2, raw IP, NULL/LOOP; VLAN tags; IPv4
options; IPv6 extension headers; fragments; VXLAN mirroring) into columns. ``CaptureConfig`` is shared by
every capture source.

A timestamp fraction of exactly one second (1,000,000 us or 1,000,000,000 ns), which libpcap and tshark
read, is carried into the next second and counted (``repaired_timestamps``). Malformed records (an absurd
length or larger fraction, a file cut inside a record) raise ``SourceError`` naming the file and the byte
offset (of the decompressed stream for gzip files). With ``skip_bad`` the reader counts the bad record,
resynchronises on the next offset where a chain of plausible record headers starts (see
``_native_capture.pcap_resync``), and goes on; nothing already emitted is lost. A record whose length runs
past the end of the file is such a bad record too: the valid records its length would swallow are found
again by the resynchronisation.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources import _native_capture as N
from vpcflow.dataplane.sources._stream import CaptureConfig as CaptureConfig  # re-exported: its historic home
from vpcflow.dataplane.sources._stream import CaptureReader, ChunkStream, SourceStats

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D
#: libpcap's largest snapshot length; record lengths above max(this, the file's snaplen) are garbage.
MAX_SNAPLEN = 262144
#: headers that must be plausible after a resynchronisation candidate before it is trusted
RESYNC_CHAIN = 3

_REASONS = {
    1: "timestamp fraction out of range",
    2: "captured length larger than any snapshot length",
    3: "wire length zero or absurd",
}


def parse_pcap_header(head: bytes, path: str) -> tuple[bool, bool, int, int]:
    """(big-endian, nanosecond, snaplen, link type) from the 24-byte global header."""
    if len(head) < 24:
        raise SourceError(f"file too short for a pcap header ({len(head)} bytes)", path=path, offset=0)
    (le_magic,) = struct.unpack("<I", head[:4])
    (be_magic,) = struct.unpack(">I", head[:4])
    if le_magic in (MAGIC_US, MAGIC_NS):
        big, ns = False, le_magic == MAGIC_NS
    elif be_magic in (MAGIC_US, MAGIC_NS):
        big, ns = True, be_magic == MAGIC_NS
    else:
        raise SourceError(f"not a pcap file (magic 0x{be_magic:08x})", path=path, offset=0)
    _major, _minor, _zone, _sig, snaplen, network = struct.unpack((">" if big else "<") + "HHiIII", head[4:24])
    # the upper bits of the link-type field carry FCS information; the link type is the low 16 bits
    return big, ns, snaplen, network & 0xFFFF


class PcapSource(CaptureReader):
    """Packets of a classic pcap file (optionally gzip-compressed) as time-ordered ``PacketBatch``es."""

    def __init__(self, config: CaptureConfig) -> None:
        self.config = config
        self.stats = SourceStats()
        self.linktype: int | None = None
        self.interfaces: tuple[str, ...] = (config.interface,) if config.interface else ()

    def _raw_batches(self, s: ChunkStream) -> Iterator[PacketBatch]:
        cfg, path = self.config, self.config.path
        s.refill(0)
        big, ns, snaplen, lt = parse_pcap_header(s.read_exact(0, min(24, s.end)), path)
        self.linktype = lt
        max_caplen = min(max(MAX_SNAPLEN, snaplen), 1 << 24)
        stats = N.new_stats()
        iface = 0 if self.interfaces else -1
        pos = 24
        while True:
            cols, pos, code = N.pcap_scan(
                s.buf, pos, s.end, big, ns, lt, max_caplen, cfg.batch_packets, s.base, iface, stats, path
            )
            self.stats.add_kernel_stats(stats)
            s.consumed(pos)
            if cols["ts_ns"].shape[0]:
                yield PacketBatch(**cols, interfaces=self.interfaces)
            if code == N.FULL:
                continue
            if code == N.NEED_MORE:
                if s.eof:
                    if pos >= s.end:
                        return
                    offset, msg = s.base + pos, self._tail_message(s, pos, big)
                    if not cfg.skip_bad:
                        raise SourceError(msg, path=path, offset=offset)
                    # a length past the end of the file may cover valid records: resynchronise
                    pos = self._resync(s, pos + 1, big, ns, max_caplen, offset, msg)
                    if pos < 0:
                        return
                    continue
                need = 16
                if pos + 16 <= s.end:
                    need += struct.unpack_from(">I" if big else "<I", s.buf.data, pos + 8)[0]
                pos = s.refill(pos, need)
                continue
            # BAD record header
            offset = s.base + pos
            sec, frac, incl, orig = struct.unpack_from(">IIII" if big else "<IIII", s.buf.data, pos)
            reason = N.pcap_header_ok(s.buf, pos, big, ns, max_caplen)
            msg = (
                f"bad packet record header: {_REASONS.get(reason, 'implausible')} "
                f"(ts {sec}.{frac}, caplen {incl}, len {orig})"
            )
            if not cfg.skip_bad:
                raise SourceError(msg, path=path, offset=offset)
            pos = self._resync(s, pos + 1, big, ns, max_caplen, offset, msg)
            if pos < 0:
                return

    def _resync(self, s: ChunkStream, pos: int, big: bool, ns: bool, max_caplen: int, bad_offset: int, msg: str) -> int:
        """Scan for the next plausible record; returns its position in the buffer (-1 at end of file)."""
        while True:
            status, at = N.pcap_resync(
                s.buf, pos, s.end, s.eof, big, ns, max_caplen, RESYNC_CHAIN, self.config.path, s.base
            )
            if status == 0:
                skipped = s.base + at - bad_offset
                self.stats.record_bad(f"byte {bad_offset}: {msg}; skipped {skipped} bytes", skipped)
                return int(at)
            if status == N.NEED_MORE and not s.eof:
                pos = s.refill(at, s.end - at + (1 << 16))
                continue
            skipped = s.base + s.end - bad_offset
            self.stats.record_bad(f"byte {bad_offset}: {msg}; skipped the last {skipped} bytes", skipped)
            return -1

    @staticmethod
    def _tail_message(s: ChunkStream, pos: int, big: bool) -> str:
        left = s.end - pos
        if left >= 16:
            incl = struct.unpack_from(">I" if big else "<I", s.buf.data, pos + 8)[0]
            return f"file ends inside a packet record (record needs {16 + incl} bytes, {left} left)"
        return f"file ends inside a packet record header ({left} of 16 bytes)"
