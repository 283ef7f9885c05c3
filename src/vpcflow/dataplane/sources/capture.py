"""Open any capture file: classic pcap or pcapng, plain or gzip-compressed, sniffed by magic number.

``CaptureSource(CaptureConfig(path, interface=..., interface_map=...))`` delegates to ``PcapSource`` or
``PcapngSource`` and exposes the same ``batches()``/``stats``/``interfaces``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

import numpy as np

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import Heartbeat, PacketBatch, pair_to_ip
from vpcflow.dataplane.sources._stream import SourceStats, open_capture_file
from vpcflow.dataplane.sources.pcap import MAGIC_NS, MAGIC_US, CaptureConfig, PcapSource
from vpcflow.dataplane.sources.pcapng import PcapngSource

PCAPNG_MAGIC = 0x0A0D0D0A


def sniff_format(path: str) -> str:
    """``"pcap"`` or ``"pcapng"`` from the first bytes (after gzip decompression); SourceError otherwise."""
    f = open_capture_file(path)
    try:
        try:
            head = f.read(4)
        except (OSError, EOFError) as e:
            raise SourceError(f"cannot read: {e}", path=path, offset=0) from e
    finally:
        f.close()
    if len(head) < 4:
        raise SourceError(f"file too short to be a capture ({len(head)} bytes)", path=path, offset=0)
    (le,) = struct.unpack("<I", head)
    (be,) = struct.unpack(">I", head)
    if le == PCAPNG_MAGIC:
        return "pcapng"
    if le in (MAGIC_US, MAGIC_NS) or be in (MAGIC_US, MAGIC_NS):
        return "pcap"
    raise SourceError(f"not a pcap or pcapng file (magic 0x{be:08x})", path=path, offset=0)


class CaptureSource:
    """Any capture file; the format is decided when ``batches()`` starts."""

    def __init__(self, config: CaptureConfig) -> None:
        self.config = config
        self._inner: PcapSource | PcapngSource | None = None
        self.format: str | None = None

    def _open(self) -> PcapSource | PcapngSource:
        if self._inner is None:
            self.format = sniff_format(self.config.path)
            self._inner = PcapSource(self.config) if self.format == "pcap" else PcapngSource(self.config)
        return self._inner

    @property
    def stats(self) -> SourceStats:
        return self._inner.stats if self._inner is not None else SourceStats()

    @property
    def interfaces(self) -> tuple[str, ...]:
        return self._open().interfaces

    def batches(self) -> Iterator[PacketBatch]:
        return self._open().batches()


def open_capture(path: str, **options: object) -> CaptureSource:
    """Shorthand: ``CaptureSource(CaptureConfig(path, **options))``."""
    return CaptureSource(CaptureConfig(path, **options))  # type: ignore[arg-type]


def five_tuple_totals(
    batches: Iterable[PacketBatch | Heartbeat],
) -> dict[tuple[str, str, int, int, int], tuple[int, int]]:
    """Packets and IP bytes per (src, dst, protocol, src port, dst port) over batches: a capture summary
    (and the form the cross-checks against tshark compare). Grouped columnar; one dict entry per flow.
    A live source's heartbeats carry no packets and are passed over."""
    keys: list[np.ndarray] = []
    pk: list[np.ndarray] = []
    by: list[np.ndarray] = []
    for b in batches:
        if isinstance(b, Heartbeat) or len(b) == 0:
            continue
        k = np.empty(len(b), dtype=_KEY)
        for name in ("src_hi", "src_lo", "dst_hi", "dst_lo", "protocol", "src_port", "dst_port"):
            k[name] = getattr(b, name)
        # partial sums per batch keep memory bounded by flows, not packets
        u, inv = np.unique(k, return_inverse=True)
        keys.append(u)
        pk.append(np.bincount(inv, minlength=len(u)).astype(np.int64))
        by.append(np.bincount(inv, weights=b.ip_len, minlength=len(u)).astype(np.int64))
    if not keys:
        return {}
    u, inv = np.unique(np.concatenate(keys), return_inverse=True)
    packets = np.bincount(inv, weights=np.concatenate(pk), minlength=len(u)).astype(np.int64)
    nbytes = np.bincount(inv, weights=np.concatenate(by), minlength=len(u)).astype(np.int64)
    out = {}
    for i, r in enumerate(u):
        src = str(pair_to_ip(int(r["src_hi"]), int(r["src_lo"])))
        dst = str(pair_to_ip(int(r["dst_hi"]), int(r["dst_lo"])))
        out[(src, dst, int(r["protocol"]), int(r["src_port"]), int(r["dst_port"]))] = (int(packets[i]), int(nbytes[i]))
    return out


_KEY = np.dtype(
    [
        ("src_hi", "u8"),
        ("src_lo", "u8"),
        ("dst_hi", "u8"),
        ("dst_lo", "u8"),
        ("protocol", "u1"),
        ("src_port", "u2"),
        ("dst_port", "u2"),
    ]
)
