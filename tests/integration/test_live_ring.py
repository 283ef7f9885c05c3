"""The live source's TPACKET_V3 ring in the native core, on the loopback device: kernel timestamps, ports
and lengths of real UDP datagrams, the loopback's duplicate outgoing copies dropped, and a classic BPF
filter (as ``tcpdump -ddd`` prints it) applied in the kernel. Needs root (CI runs as root)."""

from __future__ import annotations

import os
import socket
import threading
import time

import numpy as np
import pytest

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources.live import LiveConfig, LiveSource, parse_bpf

pytestmark = pytest.mark.privileged
if os.geteuid() != 0:
    pytest.skip("reading a live interface needs root (CI runs as root)", allow_module_level=True)

PORTS = (47811, 47812)


def udp_dst_port_filter(port: int) -> str:
    """``ip and udp dst port PORT`` for Ethernet framing (IHL 5), in tcpdump -ddd's format."""
    prog = [(0x28, 0, 0, 12), (0x15, 0, 5, 0x0800), (0x30, 0, 0, 23), (0x15, 0, 3, 17), (0x28, 0, 0, 36),
            (0x15, 0, 1, port), (0x06, 0, 0, 65535), (0x06, 0, 0, 0)]
    return f"{len(prog)}\n" + "\n".join(" ".join(map(str, ins)) for ins in prog) + "\n"


def capture_while_sending(cfg: LiveConfig, counts: dict[int, int]) -> tuple[PacketBatch, LiveSource, int, int]:
    src = LiveSource(cfg)
    src.open()
    t0 = time.time_ns()

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for port, n in counts.items():
                for _ in range(n):
                    s.sendto(b"v" * 100, ("127.0.0.1", port))

    sender = threading.Thread(target=send)
    sender.start()
    batches = [b for b in src.batches() if isinstance(b, PacketBatch)]  # heartbeats: test_live_quiet_windows.py
    sender.join()
    t1 = time.time_ns()
    return (PacketBatch.concat(batches) if batches else PacketBatch.empty()), src, t0, t1


def test_ring_reads_loopback_datagrams_with_kernel_timestamps() -> None:
    b, src, t0, t1 = capture_while_sending(LiveConfig("lo", duration_s=1.5, flush_s=0.2), {PORTS[0]: 5})
    mine = b.take(b.dst_port == PORTS[0])
    assert len(mine) == 5  # once each: the loopback's outgoing copies are dropped
    assert np.all(mine.ip_len == 128) and np.all(mine.protocol == 17)
    assert np.all((mine.ts_ns >= t0) & (mine.ts_ns <= t1))
    assert bool(np.all(np.diff(b.ts_ns) >= 0)) and src.stats.kernel_drops == 0


def test_bpf_filter_runs_in_the_kernel() -> None:
    cfg = LiveConfig("lo", duration_s=1.5, flush_s=0.2, bpf=udp_dst_port_filter(PORTS[1]))
    b, src, _t0, _t1 = capture_while_sending(cfg, {PORTS[0]: 4, PORTS[1]: 6})
    assert len(b) == 6 and set(b.dst_port.tolist()) == {PORTS[1]}
    assert src.stats.frames == 6  # the other datagrams never reached vpcflow


def test_max_packets_stops_exactly() -> None:
    b, _src, _t0, _t1 = capture_while_sending(
        LiveConfig("lo", duration_s=3, max_packets=3, bpf=udp_dst_port_filter(PORTS[0])), {PORTS[0]: 8}
    )
    assert len(b) == 3


def test_bad_filter_and_missing_device_are_one_line_errors() -> None:
    with pytest.raises(SourceError, match="bpf"):
        parse_bpf("3\n1 2 3 4\n", "live:lo")
    with pytest.raises(SourceError, match="no such network device"):
        LiveSource(LiveConfig("nosuchdev0")).open()
