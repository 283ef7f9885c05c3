"""The capture half of the native core (``vpcflow._native``) as the readers call it: typed wrappers and
the constants both sides share.

The per-packet work (record scan, frame decoding, resynchronisation, the writer's encoder) is Rust
(``native/src/capture``, ``native/src/synth``); this module only names it for Python. The constants are
checked against the core's own at import, so the two sides cannot drift apart.

Conventions of the scans (shared with ``pcap.py``, ``pcapng.py``): ``buf`` holds file bytes ``base ..
base + end``; a scan stops when the next record is not wholly in ``buf[:end]`` (``NEED_MORE``), when
``cap`` rows are out (``FULL``), on a malformed record header or block (``BAD``, the position points at
it) or, for pcapng, on a block Python parses (``PYTHON``: section header, interface description).
``stats`` (int64, ``N_STATS`` counters indexed by ``ST_*``) is updated in place. ``path`` names the
capture: a panic in the core (a bug) reaches Python as ``SourceError`` naming it and the file offset where
the call started, never as another exception.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

import vpcflow._native as _native

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

# counters
ST_FRAMES = 0
ST_NON_IP = 1
ST_MALFORMED = 2
ST_UNSUPPORTED_LINK = 3
ST_TRUNCATED_L4 = 4
ST_VXLAN = 5
ST_UNTIMED = 6  # pcapng simple packet blocks (no timestamp)
ST_SKIPPED_BLOCKS = 7  # pcapng blocks of other types, skipped
ST_REPAIRED_TS = 8  # pcap fractions of exactly one second, carried into the next second
ST_FIRST_MALFORMED = 9  # file offset of the first malformed frame's record (-1: none)
N_STATS = 10

# scan stop codes
NEED_MORE = 0
FULL = 1
BAD = 2
PYTHON = 3

PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_IDB = 1
PCAPNG_PB = 2
PCAPNG_SPB = 3
PCAPNG_EPB = 6

Columns = dict[str, np.ndarray]

#: A packet row's columns in the order the native encoder takes them (the capture writer); readers add
#: ``iface``.
ROW_COLUMNS = ("ts_ns", "ip_version", "src_hi", "src_lo", "dst_hi", "dst_lo", "protocol", "src_port", "dst_port",
               "icmp_type", "icmp_code", "ip_len", "tcp_flags", "fragment")


def _check_constants() -> None:
    ours = globals()
    for name, value in _native.capture_constants().items():
        if ours.get(name) != value:
            raise ImportError(f"vpcflow._native disagrees on {name} ({value}): rebuild the native core")


_check_constants()


def new_stats() -> np.ndarray:
    stats = np.zeros(N_STATS, dtype=np.int64)
    stats[ST_FIRST_MALFORMED] = -1
    return stats


MappedFile = _native.MappedFile


def mapped_bytes(mapping: Any) -> np.ndarray:
    """A ``MappedFile``'s bytes as a read-only uint8 array (no copy)."""
    return np.frombuffer(cast(Any, mapping), dtype=np.uint8)


def map_file(path: str) -> np.ndarray:
    """The whole file as a read-only uint8 array backed by a memory map (no copy)."""
    return mapped_bytes(_native.MappedFile(path))


def pcap_header_ok(buf: np.ndarray, pos: int, big: bool, nanos: bool, max_caplen: int) -> int:
    """0 when the record header at ``pos`` is plausible, else the reason code (1..3)."""
    return int(_native.pcap_header_ok(buf, pos, big, nanos, max_caplen))


def pcap_scan(
    buf: np.ndarray, pos: int, end: int, big: bool, nanos: bool, linktype: int, max_caplen: int, cap: int,
    base: int, iface: int, stats: np.ndarray, path: str,
) -> tuple[Columns, int, int]:
    """Decode pcap records from ``pos``: (columns of ``PacketBatch``, next position, stop code)."""
    cols, nxt, code = _native.pcap_scan(
        buf, pos, end, big, nanos, linktype, max_caplen, cap, base, iface, stats, path
    )
    return cols, int(nxt), int(code)


def pcap_resync(
    buf: np.ndarray, pos: int, end: int, eof: bool, big: bool, nanos: bool, max_caplen: int, chain: int,
    path: str, base: int,
) -> tuple[int, int]:
    """(0, offset) found; (NEED_MORE, offset to resume from) read more; (-1, end) nothing left."""
    status, at = _native.pcap_resync(buf, pos, end, eof, big, nanos, max_caplen, chain, path, base)
    return int(status), int(at)


def pcapng_scan(
    buf: np.ndarray, pos: int, end: int, big: bool, max_block: int, interfaces: tuple[np.ndarray, ...],
    last_ts: int, cap: int, base: int, stats: np.ndarray, path: str,
) -> tuple[Columns, int, int, int]:
    """Walk pcapng blocks: (columns, next position, stop code, last packet timestamp)."""
    cols, nxt, code, last = _native.pcapng_scan(
        buf, pos, end, big, max_block, *interfaces, last_ts, cap, base, stats, path
    )
    return cols, int(nxt), int(code), int(last)


def pcapng_resync(
    buf: np.ndarray, pos: int, end: int, eof: bool, big: bool, max_block: int, path: str, base: int
) -> tuple[int, int]:
    status, at = _native.pcapng_resync(buf, pos, end, eof, big, max_block, path, base)
    return int(status), int(at)


def ts_to_ns(raw: int, mode: int, k: int) -> int | None:
    """A pcapng timestamp in interface units -> ns (mode 0: x*k; 1: x//k; 2: binary fraction of k bits);
    None when it is beyond an int64 count of ns (the block is malformed)."""
    ns = _native.pcapng_ts_to_ns(raw, mode, k)
    return None if ns is None else int(ns)
