"""A memory-mapped capture costs resident memory for what is still to be read, not for the whole file
(issue 10 item 3): the readers hand consumed ranges back to the kernel (``MappedFile.release``).

Measured from ``/proc/self/smaps``: the ``Rss`` of the capture's own mapping while batches are read.
"""

from __future__ import annotations

import struct
from pathlib import Path

import _sources_capture_bytes as cb
import pytest

from vpcflow.dataplane.sources.capture import open_capture

FRAME = cb.eth(0x0800, cb.ipv4("10.0.1.5", "10.0.2.9", 6, cb.tcp(40000, 443, 0x10, b"x" * 1200)))
PACKETS = 24_000  # about 30 MB of capture
BATCH = 1_000  # about 1.25 MB of records per batch
T0 = 1_700_000_000_000_000_000


def _pcap(path: Path) -> None:
    head = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    recs = (struct.pack("<IIII", *divmod(T0 + i * 1000, 1_000_000_000), len(FRAME), len(FRAME)) + FRAME
            for i in range(PACKETS))
    path.write_bytes(head + b"".join(recs))


def _pcapng(path: Path) -> None:
    blocks = [cb.shb(), cb.idb(1, tsresol=9)]
    blocks += [cb.epb(0, T0 + i * 1000, FRAME) for i in range(PACKETS)]
    path.write_bytes(b"".join(blocks))


def _mapping_rss_kib(path: Path) -> int:
    """Resident KiB of every mapping of ``path`` in this process (0 when it is not mapped)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            inside = line.rstrip().endswith(str(path))
        elif inside and first == "Rss:":
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps")
@pytest.mark.parametrize("write", [_pcap, _pcapng], ids=["pcap", "pcapng"])
def test_consumed_pages_of_a_mapped_capture_leave_the_resident_set(tmp_path: Path, write: object) -> None:
    path = tmp_path / "big.cap"
    write(path)  # type: ignore[operator]
    size_kib = path.stat().st_size // 1024
    src = open_capture(str(path), batch_packets=BATCH, reorder_window_s=0.0)
    peak, packets = 0, 0
    for batch in src.batches():
        packets += len(batch)
        peak = max(peak, _mapping_rss_kib(path))
    assert packets == PACKETS
    # Without releasing, the mapping's RSS grows to the whole file (about 30 MB) by the end.
    assert peak < size_kib // 4, f"mapping resident {peak} KiB of a {size_kib} KiB capture"
