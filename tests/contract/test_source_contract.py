"""The packet-source contract, for every source registered in ``SOURCES``: built by name from its config,
it yields PacketBatches with exactly the documented columns and dtypes, in non-decreasing time order
within and across batches, with consistent address families, ICMP/port columns, fragment codes and
interface labels, and its ``stats`` count what it emitted."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vpcflow.dataplane.packets import PACKET_DTYPES, Heartbeat, PacketBatch
from vpcflow.dataplane.sources import SOURCES, make_source
from vpcflow.dataplane.sources.pcap_writer import write_pcap, write_pcapng
from vpcflow.dataplane.sources.synthetic import SyntheticConfig, SyntheticSource

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "examples" / "scenarios" / "demo.yaml"


def _sample(tmp_path: Path) -> PacketBatch:
    """Two minutes of the demo scenario with interface labels on some rows, shuffled a little in time."""
    src = SyntheticSource(SyntheticConfig(str(SCENARIO), duration_s=120))
    b = PacketBatch.concat(list(src.batches()))
    iface = np.where(np.arange(len(b)) % 3 == 0, 0, np.where(np.arange(len(b)) % 3 == 1, 1, -1)).astype(np.int16)
    cols = {k: getattr(b, k) for k in PACKET_DTYPES}
    cols["iface"] = iface
    return PacketBatch(**cols, interfaces=("eni-0aaaaaaaaaaaaaaaa", "eth1"))


def _pcap(tmp_path: Path) -> dict[str, object]:
    p = tmp_path / "s.pcap"
    write_pcap(p, _sample(tmp_path), snaplen=128)
    return {"path": str(p), "interface": "eni-0bbbbbbbbbbbbbbbb"}


def _pcapng(tmp_path: Path) -> dict[str, object]:
    p = tmp_path / "s.pcapng.gz"
    write_pcapng(p, _sample(tmp_path), snaplen=96)
    return {"path": str(p), "interface_map": {"eth1": "eni-0ccccccccccccccccc"}}


def _capture(tmp_path: Path) -> dict[str, object]:
    return _pcapng(tmp_path)


def _synthetic(tmp_path: Path) -> dict[str, object]:
    return {"scenario": str(SCENARIO), "duration_s": 90, "seed": 3}


def _live(tmp_path: Path) -> dict[str, object]:
    """The loopback device, with UDP and TCP sent to 127.0.0.1 while the source reads (root only)."""
    if os.geteuid() != 0:
        pytest.skip("reading a live interface needs root (CI runs as root)")

    def traffic() -> None:
        # The source opens its socket when the test starts iterating, after however long its imports
        # take: UDP goes out in bursts over most of its 3 s, not once after a guessed delay (a fixed
        # 0.5 s wait sent everything before the socket existed on a loaded machine).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET,
                                                                                   socket.SOCK_DGRAM) as tx:
            rx.bind(("127.0.0.1", 0))
            rx.setblocking(False)
            end = time.monotonic() + 2.2
            while time.monotonic() < end:
                for i in range(300):
                    tx.sendto(b"x" * (i % 900), rx.getsockname())
                with contextlib.suppress(BlockingIOError):
                    while rx.recv(65536):  # keep the receive buffer from filling
                        pass
                time.sleep(0.05)
        with socket.create_server(("127.0.0.1", 0)) as srv, socket.create_connection(srv.getsockname()) as c:
            peer, _ = srv.accept()
            for _ in range(25):  # small exchanges: neither side ever waits on a full buffer
                c.sendall(b"y" * 8000)
                got = 0
                while got < 8000:
                    got += len(peer.recv(65536))
            peer.close()

    threading.Thread(target=traffic, daemon=True).start()
    return {"device": "lo", "interface": "eni-0dddddddddddddddd", "duration_s": 3.0, "flush_s": 0.5}


FIXTURES: dict[str, Callable[[Path], dict[str, object]]] = {
    "pcap": _pcap,
    "pcapng": _pcapng,
    "capture": _capture,
    "synthetic": _synthetic,
    "live": _live,
}


def test_every_registered_source_has_a_contract_fixture() -> None:
    assert set(FIXTURES) == set(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_source_contract(name: str, tmp_path: Path) -> None:
    src = make_source(name, **FIXTURES[name](tmp_path))
    total = nbytes = 0
    last = np.iinfo(np.int64).min
    seen_labels: tuple[str, ...] = ()
    heartbeats = 0
    for b in src.batches():
        if isinstance(b, Heartbeat):  # a promise: no later packet is earlier than its second
            last = max(last, b.watermark_s * 1_000_000_000)
            heartbeats += 1
            continue
        assert isinstance(b, PacketBatch) and len(b) > 0
        for k, t in PACKET_DTYPES.items():
            col = getattr(b, k)
            assert col.dtype == np.dtype(t) and col.shape == (len(b),), k
        assert bool(np.all(np.diff(b.ts_ns) >= 0)) and int(b.ts_ns[0]) >= last
        last = int(b.ts_ns[-1])
        assert set(np.unique(b.ip_version).tolist()) <= {4, 6}
        v4 = b.ip_version == 4
        assert bool(np.all(b.src_hi[v4] == 0)) and bool(np.all((b.src_lo[v4] >> np.uint64(32)) == 0xFFFF))
        assert bool(np.all(b.dst_hi[v4] == 0)) and bool(np.all((b.dst_lo[v4] >> np.uint64(32)) == 0xFFFF))
        assert bool(np.all(b.ip_len[v4] >= 20)) and bool(np.all(b.ip_len[~v4] >= 40))
        icmp = ((b.protocol == 1) & v4) | ((b.protocol == 58) & ~v4)
        assert bool(np.all(b.icmp_type[~icmp] == -1)) and bool(np.all(b.icmp_code[~icmp] == -1))
        assert bool(np.all(b.src_port[icmp] == 0)) and bool(np.all(b.dst_port[icmp] == 0))
        assert bool(np.all(b.tcp_flags[b.protocol != 6] == 0))
        assert set(np.unique(b.fragment).tolist()) <= {0, 1, 2}
        assert bool(np.all(b.src_port[b.fragment == 2] == 0))
        assert bool(np.all((b.iface >= -1) & (b.iface < len(b.interfaces))))
        # the interface table only grows: earlier labels keep their index
        assert b.interfaces[: len(seen_labels)] == seen_labels
        seen_labels = b.interfaces
        total += len(b)
        nbytes += int(b.ip_len.sum(dtype=np.int64))
    assert total > 1000
    assert src.stats.packets == total and src.stats.bytes == nbytes
    if name == "pcap":
        assert seen_labels == ("eni-0bbbbbbbbbbbbbbbb",)
    if name == "live":
        assert seen_labels == ("eni-0dddddddddddddddd",)
        assert heartbeats > 0  # the wall clock moved on during 3 s of capture
    else:
        assert heartbeats == 0
    if name in ("pcapng", "capture"):
        assert seen_labels == ("eni-0aaaaaaaaaaaaaaaa", "eni-0ccccccccccccccccc")
