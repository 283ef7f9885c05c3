"""Live Linux interfaces: packets read from an ``AF_PACKET`` socket as they cross a network device.

Frames are received with kernel timestamps (``SO_TIMESTAMPNS``), cut at ``snaplen`` (bytes are counted
from the IP header's length, as for captures), laid out as pcap records in memory and parsed by the
same compiled kernels as capture files, so a live packet and a captured one give the same row. A batch
is handed over when it is full or every ``flush_s`` seconds, so records of closed windows flow while
the capture runs. It stops after ``duration_s`` seconds or ``max_packets`` packets, or on Ctrl-C
(a clean end: every open window is closed and delivered): a KeyboardInterrupt while reading, or,
under ``vpcflow run`` (which handles SIGINT and SIGTERM itself), ``stop_requested()`` turning true.

Both directions are read (incoming and the host's own outgoing frames). On a loopback device every
frame shows up twice (sent and received): the outgoing copy is dropped there. Reading needs root or
CAP_NET_RAW.
"""

from __future__ import annotations

import io
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources._stream import CaptureConfig, ChunkStream, SourceStats
from vpcflow.dataplane.sources.pcap import PcapSource

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35  # Linux <asm-generic/socket.h>; also SCM_TIMESTAMPNS
PACKET_OUTGOING = 4
SOL_PACKET, PACKET_STATISTICS = 263, 6
SO_RCVBUFFORCE = 33
RCVBUF_BYTES = 64 << 20
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772
_TIMESPEC = struct.Struct("@ll")
_PCAP_NS_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


@dataclass(frozen=True)
class LiveConfig:
    device: str  # the Linux network device, e.g. eth0
    interface: str | None = None  # the ENI these packets count for (as a capture's `interface`)
    duration_s: float | None = None
    max_packets: int | None = None
    snaplen: int = 256
    batch_packets: int = 65_536
    flush_s: float = 1.0


class LiveSource:
    """Packets of a live interface as time-ordered ``PacketBatch``es."""

    def __init__(self, config: LiveConfig) -> None:
        if config.snaplen < 64:
            raise SourceError("snaplen must be at least 64 bytes", path=f"live:{config.device}")
        self.config = config
        self.stats = SourceStats()
        self.interfaces: tuple[str, ...] = (config.interface,) if config.interface else ()
        self._parser = PcapSource(CaptureConfig(f"live:{config.device}", interface=config.interface,
                                                batch_packets=config.batch_packets))
        self._sock: socket.socket | None = None
        #: Checked between frames: a true result ends the capture cleanly, as Ctrl-C does (the runtime
        #: wires it to its SIGINT/SIGTERM handler: for a live capture a signal is the normal way to end).
        self.stop_requested: Callable[[], object] | None = None

    def open(self) -> None:
        """Start reading the device now (``batches`` otherwise opens it on first use)."""
        if self._sock is None:
            self._sock = self._open()

    def _open(self) -> socket.socket:
        cfg = self.config
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError as e:
            raise SourceError("reading a live interface needs root or CAP_NET_RAW", path=f"live:{cfg.device}") from e
        try:
            sock.bind((cfg.device, 0))
        except OSError as e:
            sock.close()
            raise SourceError(f"no such network device ({e.strerror})", path=f"live:{cfg.device}") from e
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # A deep receive queue rides out pauses (a batch being parsed, a kernel compiled on first use);
        # root may exceed the sysctl cap with SO_RCVBUFFORCE.
        for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, RCVBUF_BYTES)
                break
            except OSError:
                continue
        sock.settimeout(0.1)
        return sock

    @staticmethod
    def _kernel_drops(sock: socket.socket) -> int:
        """Frames the kernel dropped because the queue was full (PACKET_STATISTICS, reset on read)."""
        try:
            _packets, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        except OSError:
            return 0
        return int(drops)

    def _parse(self, records: bytearray) -> Iterator[PacketBatch]:
        """Our in-memory pcap (Ethernet, ns timestamps) through the capture kernels."""
        head = _PCAP_NS_HEADER.pack(0xA1B23C4D, 2, 4, 0, 0, self.config.snaplen, 1)
        data = head + bytes(records)
        stream = ChunkStream(io.BytesIO(data), f"live:{self.config.device}", len(data) + 16)
        for batch in self._parser._raw_batches(stream):
            if len(batch) > 1 and np.any(np.diff(batch.ts_ns) < 0):
                batch = batch.take(np.argsort(batch.ts_ns, kind="stable"))
            self.stats.packets += len(batch)
            self.stats.bytes += int(batch.ip_len.sum(dtype=np.int64))
            yield batch
        # the kernels count per parse call: add this call's frames, non-IP frames, ... to the totals
        got = self._parser.stats
        for name in ("frames", "non_ip", "malformed", "truncated_l4", "vxlan_decapsulated"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(got, name))

    def batches(self) -> Iterator[PacketBatch]:
        cfg = self.config
        self.stats = SourceStats()
        self.open()
        sock, self._sock = self._sock, None
        assert sock is not None
        buf = bytearray(cfg.snaplen)
        view = memoryview(buf)
        records = bytearray()
        pending = 0
        received = 0
        started = time.monotonic()
        last_flush = started
        last_ts = 0
        cmsg_space = socket.CMSG_SPACE(_TIMESPEC.size)
        try:
            while True:
                now = time.monotonic()
                if cfg.duration_s is not None and now - started >= cfg.duration_s:
                    break
                if cfg.max_packets is not None and received >= cfg.max_packets:
                    break
                if self.stop_requested is not None and self.stop_requested():
                    break
                if pending and (pending >= cfg.batch_packets or now - last_flush >= cfg.flush_s):
                    yield from self._parse(records)
                    records.clear()
                    pending = 0
                    last_flush = now
                try:
                    nbytes, anc, _flags, addr = sock.recvmsg_into([view], cmsg_space, socket.MSG_TRUNC)
                except TimeoutError:
                    continue
                hatype, pkttype = addr[3], addr[2]
                if pkttype == PACKET_OUTGOING and hatype == ARPHRD_LOOPBACK:
                    continue  # loopback delivers every frame twice: keep the received copy
                if hatype not in (ARPHRD_ETHER, ARPHRD_LOOPBACK):
                    self.stats.non_ip += 1
                    continue
                ts = next((_TIMESPEC.unpack(d[: _TIMESPEC.size]) for lvl, typ, d in anc
                           if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS), None)
                t_ns = ts[0] * 1_000_000_000 + ts[1] if ts else time.time_ns()
                t_ns = max(t_ns, last_ts)  # one socket's timestamps only move forward; guard anyway
                last_ts = t_ns
                caplen = min(nbytes, cfg.snaplen)
                records += _RECORD.pack(t_ns // 1_000_000_000, t_ns % 1_000_000_000, caplen, nbytes)
                records += view[:caplen]
                pending += 1
                received += 1
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the capture cleanly: what was read is still parsed and delivered
        finally:
            self.stats.kernel_drops += self._kernel_drops(sock)
            sock.close()
        if pending:
            yield from self._parse(records)
