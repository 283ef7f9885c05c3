"""The columnar batches the data-plane stages exchange.

``PacketBatch`` is the only thing sources emit: one row per IP packet, numpy arrays of equal length.
``ObservationBatch`` is what attribution + evaluation hand to aggregation: one row per (packet,
observing ENI), i.e. a packet between two modelled ENIs gives two rows (egress at the sender,
ingress at the receiver).

Addresses are 128-bit, split in two uint64 columns (``*_hi``, ``*_lo``); an IPv4 address is stored
IPv4-mapped (``::ffff:a.b.c.d``: hi = 0, lo = 0x0000_FFFF_0000_0000 | v4) so one code path serves
both families. ``ip_version`` says which family a row is.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

V4_MAPPED_LO = np.uint64(0x0000_FFFF_0000_0000)

U64 = npt.NDArray[np.uint64]


def _check_lengths(obj: Any) -> None:
    n = None
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            if n is None:
                n = len(v)
            elif len(v) != n:
                raise ValueError(f"{type(obj).__name__}.{f.name} has {len(v)} rows, expected {n}")


@dataclass(frozen=True, slots=True)
class PacketBatch:
    """Packets in non-decreasing ``ts_ns`` order (within a batch and across a source's batches).

    Columns:
      ts_ns        int64   capture timestamp, ns since the epoch (UTC)
      ip_version   uint8   4 or 6
      src_hi/lo    uint64  source address (IPv4-mapped for IPv4)
      dst_hi/lo    uint64  destination address
      protocol     uint8   IANA number (IPv6: the upper-layer protocol after extension headers)
      src_port     uint16  0 when the protocol has no ports, or for a non-first fragment
      dst_port     uint16
      icmp_type    int16   -1 unless ICMP/ICMPv6 (and the first fragment)
      icmp_code    int16   -1 unless ICMP/ICMPv6
      ip_len       uint32  bytes as AWS counts them: the IP total length (v4) / 40 + payload length (v6),
                           even when the capture truncated the packet (snaplen)
      tcp_flags    uint8   the raw TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, ...); 0 otherwise
      fragment     uint8   0 not a fragment, 1 first fragment, 2 a later fragment (no ports)
      iface        int16   capture interface: index into ``interfaces``; -1 when the capture did not say
    ``interfaces``: the labels of capture interfaces (an ENI id when the user mapped it, else the
    capture's own interface name), shared by every batch of a source.
    """

    ts_ns: npt.NDArray[np.int64]
    ip_version: npt.NDArray[np.uint8]
    src_hi: U64
    src_lo: U64
    dst_hi: U64
    dst_lo: U64
    protocol: npt.NDArray[np.uint8]
    src_port: npt.NDArray[np.uint16]
    dst_port: npt.NDArray[np.uint16]
    icmp_type: npt.NDArray[np.int16]
    icmp_code: npt.NDArray[np.int16]
    ip_len: npt.NDArray[np.uint32]
    tcp_flags: npt.NDArray[np.uint8]
    fragment: npt.NDArray[np.uint8]
    iface: npt.NDArray[np.int16]
    interfaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_lengths(self)

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    @classmethod
    def empty(cls, interfaces: tuple[str, ...] = ()) -> PacketBatch:
        return cls(**{k: np.zeros(0, dtype=t) for k, t in PACKET_DTYPES.items()}, interfaces=interfaces)

    def take(self, index: npt.NDArray[Any]) -> PacketBatch:
        """Rows selected by a boolean mask or an index array."""
        cols = {k: getattr(self, k)[index] for k in PACKET_DTYPES}
        return PacketBatch(**cols, interfaces=self.interfaces)

    @classmethod
    def concat(cls, batches: list[PacketBatch]) -> PacketBatch:
        if not batches:
            return cls.empty()
        interfaces = batches[0].interfaces
        if any(b.interfaces != interfaces for b in batches):
            raise ValueError("cannot concatenate PacketBatches with different interface tables")
        cols = {k: np.concatenate([getattr(b, k) for b in batches]) for k in PACKET_DTYPES}
        return cls(**cols, interfaces=interfaces)


PACKET_DTYPES: dict[str, type] = {
    "ts_ns": np.int64,
    "ip_version": np.uint8,
    "src_hi": np.uint64,
    "src_lo": np.uint64,
    "dst_hi": np.uint64,
    "dst_lo": np.uint64,
    "protocol": np.uint8,
    "src_port": np.uint16,
    "dst_port": np.uint16,
    "icmp_type": np.int16,
    "icmp_code": np.int16,
    "ip_len": np.uint32,
    "tcp_flags": np.uint8,
    "fragment": np.uint8,
    "iface": np.int16,
}

@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A promise from a source, yielded between its ``PacketBatch``es: no later packet of this source is
    earlier than ``watermark_s`` (Unix seconds).

    A live source says it when its interface is quiet, so windows close on the wall clock as AWS's do;
    the pipeline treats it like the end of a batch at that second (several sources: the minimum).
    """

    watermark_s: int


# Direction and action codes in ObservationBatch.
INGRESS, EGRESS = np.uint8(0), np.uint8(1)
ACCEPT, REJECT, NOT_CAPTURED = np.uint8(0), np.uint8(1), np.uint8(2)


@dataclass(frozen=True, slots=True)
class ObservationBatch:
    """One row per (packet, observing ENI): what attribution and evaluation decided.

    Columns:
      packet       int64   row index into ``packets``
      eni          int32   index into the run's ENI table (``enis``: network_interface_id strings)
      direction    uint8   INGRESS or EGRESS, relative to the ENI
      action       uint8   ACCEPT or REJECT (not-captured packets never appear here; they are counted)
      src_hi/lo, dst_hi/lo uint64  srcaddr/dstaddr as the record shows them (spec 2.6 address rules)
      pkt_src_hi/lo, pkt_dst_hi/lo uint64  pkt-srcaddr/pkt-dstaddr (the packet's own addresses)
      traffic_path int8    1..8, or -1 for `-` (ingress, or no path applies)
      rule         int32   index into ``rules`` (the rule that decided; side channel, never in records)
      peer_eni     int32   the other modelled ENI of the hop (next-hop fields), -1 when not modelled
      pkt_src_service, pkt_dst_service  int16 (optional, None when not computed)
                           pkt-src-aws-service / pkt-dst-aws-service: index into ``services``, -1 for `-`
    """

    packets: PacketBatch
    packet: npt.NDArray[np.int64]
    eni: npt.NDArray[np.int32]
    direction: npt.NDArray[np.uint8]
    action: npt.NDArray[np.uint8]
    src_hi: U64
    src_lo: U64
    dst_hi: U64
    dst_lo: U64
    pkt_src_hi: U64
    pkt_src_lo: U64
    pkt_dst_hi: U64
    pkt_dst_lo: U64
    traffic_path: npt.NDArray[np.int8]
    rule: npt.NDArray[np.int32]
    peer_eni: npt.NDArray[np.int32]
    enis: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()  # human-readable "sg-123 ingress rule sgr-..: tcp 22 from 0.0.0.0/0"
    pkt_src_service: npt.NDArray[np.int16] | None = None
    pkt_dst_service: npt.NDArray[np.int16] | None = None
    services: tuple[str, ...] = ()  # AWS ip-ranges service names ("S3", "AMAZON", ...)

    def __post_init__(self) -> None:
        _check_lengths(self)

    def __len__(self) -> int:
        return int(self.packet.shape[0])


def ip_to_pair(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[int, int]:
    """An address as (hi, lo) 64-bit halves, IPv4 mapped into ``::ffff:0:0/96``."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if ip.version == 4:
        return 0, int(V4_MAPPED_LO) | int(ip)
    value = int(ip)
    return value >> 64, value & 0xFFFF_FFFF_FFFF_FFFF


def pair_to_ip(hi: int, lo: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Inverse of ``ip_to_pair``: an IPv4-mapped pair comes back as an IPv4 address."""
    hi, lo = int(hi), int(lo)
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return ipaddress.IPv4Address(lo & 0xFFFF_FFFF)
    return ipaddress.IPv6Address((hi << 64) | lo)
