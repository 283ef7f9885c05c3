"""Plumbing shared by the capture readers: opening (gzip transparently), the bytes a reader scans (a
memory map of a plain file, or a chunked read of a gzip stream into one reusable numpy buffer), and the
per-source statistics.

Memory stays bounded whatever the file size: a plain file is mapped, not read (the page cache holds it),
and the readers hand every consumed range back (``ChunkStream.consumed``), so the mapping's resident pages
are only the ones still being scanned; a stream keeps one chunk buffer (grown only when a single record
is larger than it). The native core returns each batch's columns as fresh numpy arrays.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources import _native_capture as N
from vpcflow.dataplane.sources._order import Reorderer

GZIP_MAGIC = b"\x1f\x8b"


def open_capture_file(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a capture for binary reading, decompressing gzip (sniffed by magic, not by name)."""
    name = os.fspath(path)
    try:
        raw = open(name, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as e:
        raise SourceError(f"cannot open capture: {e.strerror or e}", path=name) from e
    head = raw.read(2)
    raw.seek(0)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


@dataclass(frozen=True)
class CaptureConfig:
    """Options of a capture file source (pcap, pcapng, or either: ``capture``).

    ``interface``: the label (normally an ENI id) of the interface the whole file was captured on; its
    packets then count only for that ENI. ``interface_map``: pcapng ``if_name`` -> label. ``skip_bad``:
    skip malformed records (counted) instead of raising. ``reorder_window_s``: see ``_order.Reorderer``.
    """

    path: str
    interface: str | None = None
    interface_map: Mapping[str, str] = field(default_factory=dict)
    skip_bad: bool = False
    chunk_bytes: int = 16 << 20
    #: 65,536: a run holds several batches at once (read ahead, in the engine, queued for and in
    #: aggregation, and their temporaries); 131,072 instead of 262,144 took a million-flow run's peak
    #: from about 790 to 700 MiB, 65,536 another 35-40 MiB off (5M packets: 146 instead of 182 MiB),
    #: at the same speed (docs/benchmarks.md).
    batch_packets: int = 1 << 16
    reorder_window_s: float = 2.0

    def __post_init__(self) -> None:
        if self.chunk_bytes < 1 << 16:
            raise ValueError(f"chunk_bytes must be at least 65536, got {self.chunk_bytes}")
        if self.batch_packets < 1:
            raise ValueError(f"batch_packets must be positive, got {self.batch_packets}")
        if self.reorder_window_s < 0:
            raise ValueError(f"reorder_window_s must be >= 0, got {self.reorder_window_s}")


@dataclass
class SourceStats:
    """What a source saw. ``packets``/``bytes`` are what it emitted (bytes as AWS counts: IP lengths)."""

    packets: int = 0
    bytes: int = 0
    frames: int = 0  # capture records / packet blocks read
    non_ip: int = 0  # ARP, LLDP, ... (not IP: never in flow logs)
    malformed: int = 0  # IP header unreadable (too short, bad version/IHL, total length under the header)
    first_malformed_offset: int | None = None  # file offset of the first malformed frame's record
    unsupported_link: int = 0  # frames on a link type vpcflow does not decode
    truncated_l4: int = 0  # emitted, but the capture cut the transport header: what it lacks is 0
    vxlan_decapsulated: int = 0  # mirrored frames whose inner packet was used
    untimed: int = 0  # pcapng simple packet blocks (no timestamp of their own)
    repaired_timestamps: int = 0  # pcap fractions of exactly one second, carried into the next second
    skipped_blocks: int = 0  # pcapng blocks of types that carry no packets
    bad_records: int = 0  # malformed records/blocks skipped with skip_bad
    skipped_bytes: int = 0  # bytes jumped over while resynchronising
    late_packets: int = 0  # older than the reorder window allowed: timestamp raised (see docs/sources.md)
    kernel_drops: int = 0  # live sources: frames the kernel dropped before vpcflow could read them
    errors: list[str] = field(default_factory=list)  # one line per skipped bad record (first 100)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}

    def add_kernel_stats(self, stats: np.ndarray) -> None:
        """Take the native core's counters (cumulative over the reader's scans)."""
        self.frames = int(stats[N.ST_FRAMES])
        self.non_ip = int(stats[N.ST_NON_IP])
        self.malformed = int(stats[N.ST_MALFORMED])
        first = int(stats[N.ST_FIRST_MALFORMED])
        self.first_malformed_offset = first if first >= 0 else None
        self.unsupported_link = int(stats[N.ST_UNSUPPORTED_LINK])
        self.truncated_l4 = int(stats[N.ST_TRUNCATED_L4])
        self.vxlan_decapsulated = int(stats[N.ST_VXLAN])
        self.untimed = int(stats[N.ST_UNTIMED])
        self.skipped_blocks = int(stats[N.ST_SKIPPED_BLOCKS])
        self.repaired_timestamps = int(stats[N.ST_REPAIRED_TS])

    def record_bad(self, message: str, skipped: int) -> None:
        self.bad_records += 1
        self.skipped_bytes += skipped
        if len(self.errors) < 100:
            self.errors.append(message)


class ChunkStream:
    """A file's bytes for the scans; ``buf[0:end]`` holds file bytes ``base..base+end``.

    Either read in chunks into one numpy buffer (a stream: gzip, an in-memory capture), or ``mapped``:
    the whole file as a memory map, ``eof`` from the start, ``refill`` a no-op.
    """

    def __init__(self, fileobj: IO[bytes] | None, path: str, chunk_bytes: int) -> None:
        self.f = fileobj
        self.path = path
        self.buf = np.empty(max(chunk_bytes, 1 << 16) if fileobj is not None else 0, dtype=np.uint8)
        self.base = 0
        self.end = 0
        self.eof = fileobj is None
        self.mapping: Any = None  # the MappedFile behind ``buf`` (mapped streams)

    @classmethod
    def mapped(cls, path: str) -> ChunkStream:
        s = cls(None, path, 0)
        try:
            s.mapping = N.MappedFile(path)
        except OSError as e:
            raise SourceError(f"cannot map capture: {e}", path=path) from e
        s.buf = N.mapped_bytes(s.mapping)
        s.end = int(s.buf.shape[0])
        return s

    def consumed(self, pos: int) -> None:
        """The reader is done with ``buf[:pos]``: a mapped file's pages there leave the resident set
        (they would otherwise count in the process's memory until the end: a whole capture)."""
        if self.mapping is not None and pos > 0:
            # only advice: a kernel refusing it costs memory, never correctness
            with contextlib.suppress(OSError):
                self.mapping.release(pos)

    def refill(self, keep_from: int, need: int = 0) -> int:
        """Drop ``buf[:keep_from]``, then read until the buffer is full (or EOF).

        ``need``: bytes from ``keep_from`` the caller must see (grows the buffer for a huge record).
        Returns the new position of ``keep_from`` (always 0).
        """
        if self.f is None:
            return keep_from  # mapped: everything is there already
        tail = self.end - keep_from
        if need > self.buf.shape[0]:
            grown = np.empty(need + (1 << 16), dtype=np.uint8)
            grown[:tail] = self.buf[keep_from : self.end]
            self.buf = grown
        elif tail > 0 and keep_from > 0:
            self.buf[:tail] = self.buf[keep_from : self.end]
        self.base += keep_from
        self.end = tail
        view = memoryview(self.buf)  # type: ignore[arg-type]
        try:
            while self.end < self.buf.shape[0] and not self.eof:
                got = self.f.readinto(view[self.end :])  # type: ignore[attr-defined]
                if not got:
                    self.eof = True
                    break
                self.end += got
        except (OSError, EOFError, gzip.BadGzipFile, io.UnsupportedOperation) as e:
            # a corrupt or cut gzip stream: what was decompressed so far is kept
            raise SourceError(f"cannot read: {e}", path=self.path, offset=self.base + self.end) from e
        return 0

    def read_exact(self, pos: int, n: int) -> bytes:
        return bytes(self.buf[pos : pos + n])

    def close(self) -> None:
        if self.f is not None:
            self.f.close()


def open_stream(path: str, chunk_bytes: int) -> ChunkStream:
    """The capture's bytes: a memory map of a plain file, a chunked stream of a gzip (or empty) one."""
    f = open_capture_file(path)
    if isinstance(f, gzip.GzipFile):
        return ChunkStream(f, path, chunk_bytes)
    try:
        size = os.fstat(f.fileno()).st_size
    except (OSError, io.UnsupportedOperation):
        size = 0
    if size == 0:  # nothing to map (an empty file, a pipe): read it as a stream
        return ChunkStream(f, path, chunk_bytes)
    f.close()
    return ChunkStream.mapped(path)


class CaptureReader:
    """What the pcap and pcapng readers share: time order through a bounded reorder buffer, the file's
    lifetime, and the counts. A reader implements ``_raw_batches`` (batches in file order)."""

    config: CaptureConfig
    stats: SourceStats

    def _raw_batches(self, s: ChunkStream) -> Iterator[PacketBatch]:
        raise NotImplementedError

    def batches(self) -> Iterator[PacketBatch]:
        cfg = self.config
        self.stats = SourceStats()  # each pass over the file counts afresh
        reorder = Reorderer(int(cfg.reorder_window_s * 1e9), cfg.batch_packets)
        stream = open_stream(cfg.path, cfg.chunk_bytes)
        try:
            for batch in self._raw_batches(stream):
                out = reorder.push(batch)
                if out is not None:
                    yield self._account(out)
            out = reorder.flush()
            if out is not None:
                yield self._account(out)
        finally:
            self.stats.late_packets = reorder.late
            stream.close()

    def _account(self, batch: PacketBatch) -> PacketBatch:
        self.stats.packets += len(batch)
        self.stats.bytes += int(batch.ip_len.sum(dtype=np.int64))
        return batch
