"""Plumbing shared by the capture readers: opening (gzip transparently), chunked reading into one
reusable numpy buffer, the output column set, and the per-source statistics.

Memory stays bounded whatever the file size: one chunk buffer (grown only when a single record is larger
than it) and one set of output columns of ``batch_packets`` rows.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch
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
    batch_packets: int = 1 << 18
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
    malformed: int = 0  # IP header unreadable (too short, bad version/IHL, truncated before addresses)
    unsupported_link: int = 0  # frames on a link type vpcflow does not decode
    truncated_l4: int = 0  # emitted, but the capture cut the transport header: ports/flags unknown (0)
    vxlan_decapsulated: int = 0  # mirrored frames whose inner packet was used
    untimed: int = 0  # pcapng simple packet blocks (no timestamp of their own)
    skipped_blocks: int = 0  # pcapng blocks of types that carry no packets
    bad_records: int = 0  # malformed records/blocks skipped with skip_bad
    skipped_bytes: int = 0  # bytes jumped over while resynchronising
    late_packets: int = 0  # older than the reorder window allowed: timestamp raised (see docs/sources.md)
    kernel_drops: int = 0  # live sources: frames the kernel dropped before vpcflow could read them
    errors: list[str] = field(default_factory=list)  # one line per skipped bad record (first 100)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}

    def add_kernel_stats(self, stats: np.ndarray) -> None:
        from vpcflow.dataplane.sources import _kernels as k

        self.frames = int(stats[k.ST_FRAMES])
        self.non_ip = int(stats[k.ST_NON_IP])
        self.malformed = int(stats[k.ST_MALFORMED])
        self.unsupported_link = int(stats[k.ST_UNSUPPORTED_LINK])
        self.truncated_l4 = int(stats[k.ST_TRUNCATED_L4])
        self.vxlan_decapsulated = int(stats[k.ST_VXLAN])
        self.untimed = int(stats[k.ST_UNTIMED])
        self.skipped_blocks = int(stats[k.ST_SKIPPED_BLOCKS])

    def record_bad(self, message: str, skipped: int) -> None:
        self.bad_records += 1
        self.skipped_bytes += skipped
        if len(self.errors) < 100:
            self.errors.append(message)


class ChunkStream:
    """A file read in chunks into one numpy buffer; ``buf[0:end]`` holds file bytes ``base..base+end``."""

    def __init__(self, fileobj: IO[bytes], path: str, chunk_bytes: int) -> None:
        self.f = fileobj
        self.path = path
        self.buf = np.empty(max(chunk_bytes, 1 << 16), dtype=np.uint8)
        self.base = 0
        self.end = 0
        self.eof = False

    def refill(self, keep_from: int, need: int = 0) -> int:
        """Drop ``buf[:keep_from]``, then read until the buffer is full (or EOF).

        ``need``: bytes from ``keep_from`` the caller must see (grows the buffer for a huge record).
        Returns the new position of ``keep_from`` (always 0).
        """
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
        self.f.close()


class Columns:
    """Reusable output columns for one kernel call; ``batch(n)`` copies the first ``n`` rows out."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.cols: dict[str, np.ndarray] = {k: np.zeros(cap, dtype=t) for k, t in PACKET_DTYPES.items()}

    def kernel_args(self) -> tuple[np.ndarray, ...]:
        c = self.cols
        return (
            c["ip_version"],
            c["src_hi"],
            c["src_lo"],
            c["dst_hi"],
            c["dst_lo"],
            c["protocol"],
            c["src_port"],
            c["dst_port"],
            c["icmp_type"],
            c["icmp_code"],
            c["ip_len"],
            c["tcp_flags"],
            c["fragment"],
        )

    def batch(self, n: int, interfaces: tuple[str, ...], iface: int | None = None) -> PacketBatch:
        cols = {k: v[:n].copy() for k, v in self.cols.items()}
        if iface is not None:
            cols["iface"] = np.full(n, iface, dtype=np.int16)
        return PacketBatch(**cols, interfaces=interfaces)


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
        f = open_capture_file(cfg.path)
        try:
            for batch in self._raw_batches(ChunkStream(f, cfg.path, cfg.chunk_bytes)):
                out = reorder.push(batch)
                if out is not None:
                    yield self._account(out)
            out = reorder.flush()
            if out is not None:
                yield self._account(out)
        finally:
            self.stats.late_packets = reorder.late
            f.close()

    def _account(self, batch: PacketBatch) -> PacketBatch:
        self.stats.packets += len(batch)
        self.stats.bytes += int(batch.ip_len.sum(dtype=np.int64))
        return batch
