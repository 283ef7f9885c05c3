"""The capture journal: batches come back as written, a torn tail (a kill mid-write) is where reading stops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.agent.journal import JournalWriter, journal_files, next_incarnation, read_journal_file
from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch


def batch(n: int, t0: int) -> PacketBatch:
    cols = {k: np.zeros(n, dtype=t) for k, t in PACKET_DTYPES.items()}
    cols["ts_ns"] = np.arange(t0, t0 + n, dtype=np.int64)
    cols["ip_len"] = np.full(n, 60, np.uint32)
    return PacketBatch(**cols, interfaces=("eni-0123456789abcdef0",))


def same(a: PacketBatch, b: PacketBatch) -> bool:
    return a.interfaces == b.interfaces and all(np.array_equal(getattr(a, k), getattr(b, k)) for k in PACKET_DTYPES)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 50), min_size=1, max_size=5), cut=st.integers(1, 400))
def test_a_torn_tail_loses_only_the_batch_being_written(tmp_path_factory, sizes: list[int], cut: int) -> None:
    folder: Path = tmp_path_factory.mktemp("j")
    w = JournalWriter(folder, "0-eth0", ("eni-0123456789abcdef0",))
    written = [batch(n, 1000 * i) for i, n in enumerate(sizes)]
    for b in written:
        w.append(b)
    w.close()
    path = folder / "0-eth0.arrow"
    back = list(read_journal_file(path))
    assert len(back) == len(written) and all(same(a, b) for a, b in zip(back, written, strict=True))
    data = path.read_bytes()
    path.write_bytes(data[: max(0, len(data) - cut)])
    torn = list(read_journal_file(path))
    assert len(torn) <= len(written) and all(same(a, b) for a, b in zip(torn, written, strict=False))


def test_incarnations_are_read_oldest_first(tmp_path: Path) -> None:
    for inc in (10, 2):
        w = JournalWriter(tmp_path, f"{inc}-eth0", ())
        w.append(batch(1, inc))
        w.close()
    assert [p.name for p in journal_files(tmp_path, "eth0")] == ["2-eth0.arrow", "10-eth0.arrow"]
    assert next_incarnation(tmp_path) == 11 and next_incarnation(tmp_path / "none") == 0
