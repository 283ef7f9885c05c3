"""Live Linux interfaces: packets read as they cross a network device, through the native core's
``AF_PACKET`` socket with a ``TPACKET_V3`` receive ring (``native/src/capture/live.rs``).

The kernel fills blocks of frames in memory shared with vpcflow (no copy, no system call per packet),
stamps each with its receive time in ns, and can run a classic BPF filter first (``bpf``: the output of
``tcpdump -ddd EXPRESSION``, so only matching frames reach vpcflow). Frames are cut at ``snaplen`` (bytes
are counted from the IP header's length, as for captures) and decoded by the same native decoder as capture
files, so a live packet and a captured one give the same row. A batch is handed over when it is full or
every ``flush_s`` seconds, so records of closed windows flow while the capture runs; after it, a
``Heartbeat`` from the wall clock (``HEARTBEAT_LAG_NS`` behind it) lets windows close and NODATA be
delivered on time while the interface is quiet (docs/sources.md, "Live interfaces"). It stops after
``duration_s`` seconds or ``max_packets`` packets, or on Ctrl-C (a clean end: every open window is closed
and delivered).
Under ``vpcflow run`` (which handles SIGINT and SIGTERM itself) ``stop_requested()`` turning true ends
the capture the same clean way.

Both directions are read (incoming and the host's own outgoing frames). On a loopback device every frame
shows up twice (sent and received): the outgoing copy is dropped there. Reading needs root or CAP_NET_RAW.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import vpcflow._native as _native
from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PACKET_DTYPES, Heartbeat, PacketBatch
from vpcflow.dataplane.sources import _native_capture as N
from vpcflow.dataplane.sources._stream import SourceStats

#: ring geometry: 64 blocks of 1 MiB ride out pauses (a batch being evaluated and delivered)
BLOCK_SIZE = 1 << 20
BLOCK_COUNT = 64
#: the kernel hands a block over after this long even when it is not full
BLOCK_TIMEOUT_MS = 50
POLL_MS = 100
#: How far a heartbeat stays behind the wall clock. Kernel timestamps are CLOCK_REALTIME, read here as
#: ``time.time_ns()``; a stamped frame sits in the ring's open block until the retire timer hands it
#: over: at most two block timeouts (the timer retires a block on its second tick, rounded up to
#: jiffies) plus scheduling. 500 ms leaves that bound a wide margin and costs nothing: windows are at
#: least 60 s long.
HEARTBEAT_LAG_NS = 500_000_000


@dataclass(frozen=True)
class LiveConfig:
    device: str  # the Linux network device, e.g. eth0
    interface: str | None = None  # the ENI these packets count for (as a capture's `interface`)
    duration_s: float | None = None
    max_packets: int | None = None
    snaplen: int = 256
    batch_packets: int = 65_536
    flush_s: float = 1.0
    bpf: str | None = None  # a classic BPF program as `tcpdump -ddd` prints it
    heartbeats: bool = True  # yield a Heartbeat every flush_s (wall clock), quiet interface or not


def parse_bpf(text: str, where: str) -> list[tuple[int, int, int, int]]:
    """``tcpdump -ddd`` output (a count line, then ``code jt jf k`` per line) -> instructions."""
    lines = [ln.split() for ln in text.strip().splitlines() if ln.strip()]
    try:
        count = int(lines[0][0]) if lines and len(lines[0]) == 1 else -1
        prog = [(int(a), int(b), int(c), int(d) & 0xFFFFFFFF) for a, b, c, d in lines[1:]]
    except ValueError as e:
        raise SourceError(f"bpf: not tcpdump -ddd output ({e})", path=where) from e
    if count != len(prog) or not 0 < count <= 4096:
        raise SourceError(f"bpf: expected a count line then {count} instructions, got {len(prog)}", path=where)
    if any(not (0 <= c < 1 << 16 and 0 <= t < 256 and 0 <= f < 256) for c, t, f, _k in prog):
        raise SourceError("bpf: an instruction field is out of range", path=where)
    return prog


class LiveSource:
    """Packets of a live interface as time-ordered ``PacketBatch``es."""

    def __init__(self, config: LiveConfig) -> None:
        self.where = f"live:{config.device}"
        if config.snaplen < 64:
            raise SourceError("snaplen must be at least 64 bytes", path=self.where)
        self.config = config
        self.stats = SourceStats()
        self.interfaces: tuple[str, ...] = (config.interface,) if config.interface else ()
        self._filter = parse_bpf(config.bpf, self.where) if config.bpf else None
        self._ring: Any = None
        #: Checked between frames: a true result ends the capture cleanly, as Ctrl-C does (the runtime
        #: wires it to its SIGINT/SIGTERM handler: for a live capture a signal is the normal way to end).
        self.stop_requested: Callable[[], object] | None = None

    def open(self) -> None:
        """Start reading the device now (``batches`` otherwise opens it on first use)."""
        if self._ring is None:
            self._ring = self._open()

    def _open(self) -> Any:
        cfg = self.config
        try:
            return _native.LiveRing(cfg.device, cfg.snaplen, BLOCK_SIZE, BLOCK_COUNT, BLOCK_TIMEOUT_MS, self._filter)
        except PermissionError as e:
            raise SourceError("reading a live interface needs root or CAP_NET_RAW", path=self.where) from e
        except FileNotFoundError as e:
            raise SourceError("no such network device", path=self.where) from e
        except OSError as e:
            raise SourceError(f"cannot capture: {e}", path=self.where) from e

    def _count(self, counters: list[int]) -> None:
        st = self.stats
        st.frames += counters[N.ST_FRAMES]
        st.non_ip += counters[N.ST_NON_IP]
        st.malformed += counters[N.ST_MALFORMED]
        st.unsupported_link += counters[N.ST_UNSUPPORTED_LINK]
        st.truncated_l4 += counters[N.ST_TRUNCATED_L4]
        st.vxlan_decapsulated += counters[N.ST_VXLAN]

    def _batch(self, parts: list[dict[str, np.ndarray]], promised_s: int = -1) -> PacketBatch:
        cols = {k: np.concatenate([p[k] for p in parts]) for k in PACKET_DTYPES}
        if promised_s >= 0:
            # Only a wall clock stepped back while capturing stamps a frame behind a heartbeat already
            # given; it counts at the promised second, so no delivered window is ever reopened.
            cols["ts_ns"] = np.maximum(cols["ts_ns"], np.int64(promised_s) * 1_000_000_000)
        batch = PacketBatch(**cols, interfaces=self.interfaces)
        if len(batch) > 1 and np.any(np.diff(batch.ts_ns) < 0):
            batch = batch.take(np.argsort(batch.ts_ns, kind="stable"))
        self.stats.packets += len(batch)
        self.stats.bytes += int(batch.ip_len.sum(dtype=np.int64))
        return batch

    def batches(self) -> Iterator[PacketBatch | Heartbeat]:
        cfg = self.config
        self.stats = SourceStats()
        self.open()
        ring, self._ring = self._ring, None
        iface = 0 if self.interfaces else -1
        parts: list[dict[str, np.ndarray]] = []
        pending = received = 0
        started = last_flush = time.monotonic()
        safe_ns: int | None = None  # every packet stamped before this has been read (set below)
        said_s = -1
        try:
            while True:
                now = time.monotonic()
                if cfg.duration_s is not None and now - started >= cfg.duration_s:
                    break
                if cfg.max_packets is not None and received >= cfg.max_packets:
                    break
                if self.stop_requested is not None and self.stop_requested():
                    break
                if now - last_flush >= cfg.flush_s or pending >= cfg.batch_packets:
                    if pending:
                        yield self._batch(parts, said_s)
                        parts, pending = [], 0
                    last_flush = now
                    # After the batch: the heartbeat promises nothing about packets already handed over.
                    if cfg.heartbeats and safe_ns is not None and safe_ns // 1_000_000_000 > said_s:
                        said_s = safe_ns // 1_000_000_000
                        yield Heartbeat(said_s)
                cap = cfg.batch_packets if cfg.max_packets is None else max(cfg.max_packets - received, 1)
                wall_ns = time.time_ns()
                cols, counters = ring.read(POLL_MS, cap, iface)
                self._count(counters)
                n = int(cols["ts_ns"].shape[0])
                if cfg.max_packets is not None and received + n > cfg.max_packets:
                    n = cfg.max_packets - received  # a ring block may hold more than asked for
                    cols = {k: v[:n] for k, v in cols.items()}
                if n:
                    parts.append(cols)
                    pending += n
                    received += n
                if int(cols["ts_ns"].shape[0]) < cap:
                    # The read stopped at a block the kernel still held, so every block retired before
                    # ``wall_ns`` was read: a packet stamped before wall_ns - lag is in hand.
                    safe_ns = wall_ns - HEARTBEAT_LAG_NS
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the capture cleanly: what was read is still delivered
        finally:
            self.stats.kernel_drops += int(ring.drops())
            ring.close()
        if pending:
            yield self._batch(parts, said_s)
