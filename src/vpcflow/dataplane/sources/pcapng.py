"""pcapng source: section headers (either byte order, several sections), interface descriptions
(link type, snaplen, ``if_name``, ``if_tsresol``, ``if_tsoffset``), enhanced, simple and obsolete packet
blocks; every other block type is skipped (counted).

Packet blocks are walked by the native core (``_native_capture.pcapng_scan``); it stops at section headers and
interface descriptions, whose options this module parses, then resumes. Interface labels: the file's
``interface`` option if given (every packet counts for it), else ``interface_map[if_name]``, else the
``if_name`` itself; an interface without a name has no label (``iface`` -1). Labels are deduplicated
across sections; the ``interfaces`` table only grows, so an index keeps its meaning across batches.

Simple packet blocks carry no timestamp: they take the timestamp of the packet block read just before
them (0 if none), and are counted as ``untimed`` (docs/sources.md).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources import _native_capture as K
from vpcflow.dataplane.sources._stream import CaptureConfig, CaptureReader, ChunkStream, SourceStats

BYTE_ORDER_MAGIC = 0x1A2B3C4D
#: Blocks larger than this are garbage (a packet block of the largest snapshot length is ~256 KiB).
MAX_BLOCK = 16 << 20

OPT_END = 0
OPT_IF_NAME = 2
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14


def _options(body: bytes, big: bool) -> Iterator[tuple[int, bytes]]:
    """(code, value) pairs of an option list; stops quietly at opt_endofopt or a short tail."""
    e = ">" if big else "<"
    p = 0
    while p + 4 <= len(body):
        code, length = struct.unpack_from(e + "HH", body, p)
        p += 4
        if code == OPT_END:
            return
        if p + length > len(body):
            return
        yield code, body[p : p + length]
        p += (length + 3) & ~3


def tsresol_params(value: int) -> tuple[int, int]:
    """(mode, k) for ``_native_capture.ts_to_ns`` from an ``if_tsresol`` byte (default 6: microseconds)."""
    exp = value & 0x7F
    if value & 0x80:  # negative power of two
        return 2, min(exp, 63)
    if exp <= 9:
        return 0, 10 ** (9 - exp)
    return 1, 10 ** min(exp - 9, 18)


class PcapngSource(CaptureReader):
    """Packets of a pcapng file (optionally gzip-compressed) as time-ordered ``PacketBatch``es."""

    def __init__(self, config: CaptureConfig) -> None:
        self.config = config
        self.stats = SourceStats()
        self._labels: list[str] = [config.interface] if config.interface else []
        # per interface of the current section
        self._lt: list[int] = []
        self._mode: list[int] = []
        self._k: list[int] = []
        self._off: list[int] = []
        self._snap: list[int] = []
        self._label: list[int] = []
        self.linktypes: list[int] = []  # every interface's link type, in file order

    @property
    def interfaces(self) -> tuple[str, ...]:
        return tuple(self._labels)

    def _account(self, batch: PacketBatch) -> PacketBatch:
        # the table may have grown since the batch was cut: later labels only append, so indexes hold
        return super()._account(PacketBatch(**{k: getattr(batch, k) for k in _COLS}, interfaces=self.interfaces))

    # ---- blocks parsed in Python (a handful per file)
    def _section(self, s: ChunkStream, pos: int) -> tuple[int, bool]:
        """Parse a section header at ``pos``; returns (position after it, big-endian)."""
        path = self.config.path
        if s.end - pos < 12 and not s.eof:
            pos = s.refill(pos, 4096)
        if s.end - pos < 12:
            raise SourceError("file ends inside a section header block", path=path, offset=s.base + pos)
        (bom_le,) = struct.unpack_from("<I", s.buf.data, pos + 8)
        if bom_le == BYTE_ORDER_MAGIC:
            big = False
        elif struct.unpack_from(">I", s.buf.data, pos + 8)[0] == BYTE_ORDER_MAGIC:
            big = True
        else:
            raise SourceError(f"bad byte-order magic 0x{bom_le:08x} in section header", path=path, offset=s.base + pos)
        blen = struct.unpack_from(">I" if big else "<I", s.buf.data, pos + 4)[0]
        if blen < 28 or blen % 4 or blen > MAX_BLOCK:
            raise SourceError(f"bad section header block length {blen}", path=path, offset=s.base + pos)
        pos = self._need(s, pos, blen)
        if struct.unpack_from(">I" if big else "<I", s.buf.data, pos + blen - 4)[0] != blen:
            raise SourceError("section header block: trailing length mismatch", path=path, offset=s.base + pos)
        major = struct.unpack_from(">H" if big else "<H", s.buf.data, pos + 12)[0]
        if major != 1:
            raise SourceError(f"unsupported pcapng major version {major}", path=path, offset=s.base + pos)
        # a new section: interface ids start again from 0
        self._lt, self._mode, self._k, self._off, self._snap, self._label = [], [], [], [], [], []
        return pos + blen, big

    def _interface(self, s: ChunkStream, pos: int, big: bool) -> int:
        path = self.config.path
        blen = struct.unpack_from(">I" if big else "<I", s.buf.data, pos + 4)[0]
        if blen < 20 or blen % 4 or blen > MAX_BLOCK:
            raise SourceError(f"bad interface description block length {blen}", path=path, offset=s.base + pos)
        pos = self._need(s, pos, blen)
        if struct.unpack_from(">I" if big else "<I", s.buf.data, pos + blen - 4)[0] != blen:
            raise SourceError("interface description block: trailing length mismatch", path=path, offset=s.base + pos)
        lt, _res, snap = struct.unpack_from(">HHI" if big else "<HHI", s.buf.data, pos + 8)
        name: str | None = None
        mode, k, off = 0, 1000, 0
        for code, value in _options(s.read_exact(pos + 16, blen - 20), big):
            if code == OPT_IF_NAME:
                name = value.split(b"\0", 1)[0].decode("utf-8", "replace")
            elif code == OPT_IF_TSRESOL and len(value) >= 1:
                mode, k = tsresol_params(value[0])
            elif code == OPT_IF_TSOFFSET and len(value) >= 8:
                (seconds,) = struct.unpack_from(">q" if big else "<q", value)
                off = seconds * 1_000_000_000
        self._lt.append(lt)
        self._mode.append(mode)
        self._k.append(k)
        self._off.append(off)
        self._snap.append(snap)
        self._label.append(self._label_index(name))
        self.linktypes.append(lt)
        return int(pos + blen)

    def _label_index(self, name: str | None) -> int:
        cfg = self.config
        if cfg.interface:
            return 0
        label = cfg.interface_map.get(name, name) if name is not None else None
        if label is None:
            return -1
        if label not in self._labels:
            self._labels.append(label)
        return self._labels.index(label)

    def _need(self, s: ChunkStream, pos: int, n: int) -> int:
        if pos + n > s.end and not s.eof:
            pos = s.refill(pos, n)
        if pos + n > s.end:
            raise SourceError(f"file ends inside a block of {n} bytes", path=self.config.path, offset=s.base + pos)
        return pos

    # ---- the streaming loop
    def _raw_batches(self, s: ChunkStream) -> Iterator[PacketBatch]:
        cfg, path = self.config, self.config.path
        s.refill(0)
        if s.end < 4 or struct.unpack_from("<I", s.buf.data, 0)[0] != K.PCAPNG_SHB:
            raise SourceError("not a pcapng file (no section header block)", path=path, offset=0)
        pos, big = self._section(s, 0)
        stats = K.new_stats()
        last_ts = 0
        arrays = self._arrays()
        while True:
            cols, pos, code, last_ts = K.pcapng_scan(
                s.buf, pos, s.end, big, MAX_BLOCK, arrays, last_ts, cfg.batch_packets, s.base, stats, path
            )
            self.stats.add_kernel_stats(stats)
            s.consumed(pos)
            if cols["ts_ns"].shape[0]:
                yield PacketBatch(**cols, interfaces=self.interfaces)
            if code == K.FULL:
                continue
            if code == K.NEED_MORE:
                if s.eof:
                    if pos >= s.end:
                        return
                    msg = f"file ends inside a block ({s.end - pos} bytes left)"
                    if not cfg.skip_bad:
                        raise SourceError(msg, path=path, offset=s.base + pos)
                    # a length past the end of the file may cover valid blocks: resynchronise
                    pos = self._resync(s, pos + 1, big, s.base + pos, msg)
                    if pos < 0:
                        return
                    continue
                need = 12
                if pos + 8 <= s.end:
                    need = max(need, struct.unpack_from(">I" if big else "<I", s.buf.data, pos + 4)[0])
                pos = s.refill(pos, min(need, MAX_BLOCK))
                continue
            if code == K.PYTHON:
                abs_pos = s.base + pos
                try:
                    btype = struct.unpack_from(">I" if big else "<I", s.buf.data, pos)[0]
                    if btype == K.PCAPNG_SHB:
                        pos, big = self._section(s, pos)
                    else:
                        pos = self._interface(s, pos, big)
                except SourceError as e:
                    if not cfg.skip_bad:
                        raise
                    # the block parser may have refilled the buffer: work from the absolute offset
                    pos = self._resync(s, abs_pos - s.base + 1, big, abs_pos, e.reason)
                    if pos < 0:
                        return
                arrays = self._arrays()
                continue
            # BAD block
            reason = self._why_bad(s, pos, big)
            if not cfg.skip_bad:
                raise SourceError(reason, path=path, offset=s.base + pos)
            pos = self._resync(s, pos + 1, big, s.base + pos, reason)
            if pos < 0:
                return

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (
            np.array(self._lt, dtype=np.int64),
            np.array(self._mode, dtype=np.int64),
            np.array(self._k, dtype=np.int64),
            np.array(self._off, dtype=np.int64),
            np.array(self._snap, dtype=np.int64),
            np.array(self._label, dtype=np.int16),
        )

    def _why_bad(self, s: ChunkStream, pos: int, big: bool) -> str:
        btype, blen = struct.unpack_from(">II" if big else "<II", s.buf.data, pos)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            return f"bad block length {blen} (block type 0x{btype:08x})"
        if pos + blen <= s.end and struct.unpack_from(">I" if big else "<I", s.buf.data, pos + blen - 4)[0] != blen:
            return f"block type 0x{btype:08x}: trailing length does not match {blen}"
        if btype in (K.PCAPNG_EPB, K.PCAPNG_PB):
            ifid = struct.unpack_from(
                (">I" if big else "<I") if btype == K.PCAPNG_EPB else (">H" if big else "<H"), s.buf.data, pos + 8
            )[0]
            if ifid >= len(self._lt):
                return f"packet block names interface {ifid}, but the section has {len(self._lt)}"
            if btype == K.PCAPNG_EPB and blen >= 32:
                hi, lo = struct.unpack_from(">II" if big else "<II", s.buf.data, pos + 12)
                ns = K.ts_to_ns((hi << 32) | lo, self._mode[ifid], self._k[ifid])
                if ns is None or not -(1 << 63) <= ns + self._off[ifid] < (1 << 63):
                    return "packet block timestamp beyond the year 2262 (it does not fit a 64-bit count of ns)"
            return f"packet block length {blen} too small for its captured length"
        if btype == K.PCAPNG_SPB:
            return "simple packet block before any interface description, or too short"
        return f"malformed block of type 0x{btype:08x}"

    def _resync(self, s: ChunkStream, pos: int, big: bool, bad_offset: int, msg: str) -> int:
        while True:
            status, at = K.pcapng_resync(s.buf, pos, s.end, s.eof, big, MAX_BLOCK, self.config.path, s.base)
            if status == 0:
                skipped = s.base + at - bad_offset
                self.stats.record_bad(f"byte {bad_offset}: {msg}; skipped {skipped} bytes", skipped)
                return int(at)
            if status == K.NEED_MORE and not s.eof:
                pos = s.refill(at, s.end - at + (1 << 16))
                continue
            skipped = s.base + s.end - bad_offset
            self.stats.record_bad(f"byte {bad_offset}: {msg}; skipped the last {skipped} bytes", skipped)
            return -1


_COLS = (*K.ROW_COLUMNS, "iface")
