"""Large buffers reach the kernel in pieces of at most 1 MiB (``core/filewrite.py``: one big
``write`` into a new ext4 file cost ~35x the kernel time of the same bytes in 1 MiB pieces)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.core.filewrite import WRITE_PIECE, write_all
from vpcflow.dataplane import side_channel
from vpcflow.storage.bucketstore import BucketStore


class _Spy(io.RawIOBase):
    """A raw file that records the size of each ``write`` call and may take fewer bytes than offered."""

    def __init__(self, take: int | None = None) -> None:
        self.sizes: list[int] = []
        self.data = bytearray()
        self.take = take

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        mv = memoryview(b).cast("B")
        n = len(mv) if self.take is None else min(self.take, len(mv))
        self.sizes.append(len(mv))
        self.data += mv[:n]
        return n


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 3 * WRITE_PIECE + 17), take=st.one_of(st.none(), st.integers(4096, 2 * WRITE_PIECE)))
def test_write_all_writes_every_byte_in_pieces_of_at_most_a_mebibyte(size: int, take: int | None) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    spy = _Spy(take)
    assert write_all(spy, data) == size
    assert bytes(spy.data) == data
    assert all(0 < s <= WRITE_PIECE for s in spy.sizes)


class _SpyFile:
    """Wraps a real file object, recording the sizes its ``write`` is called with."""

    sizes: ClassVar[list[int]] = []

    def __init__(self, f: Any) -> None:
        self._f = f

    def write(self, b: Any) -> int:
        n = len(memoryview(b).cast("B"))
        _SpyFile.sizes.append(n)
        return int(self._f.write(b))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _SpyFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


@pytest.fixture
def spy_sizes() -> Iterator[list[int]]:
    _SpyFile.sizes = []
    yield _SpyFile.sizes


def test_the_local_bucket_store_writes_an_object_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            spy_sizes: list[int]) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: _SpyFile(real_fdopen(*a, **k)))
    store = BucketStore(tmp_path / "s3")
    store.create_bucket("flow-logs-bucket")
    data = os.urandom(3 * WRITE_PIECE + 5)
    store.put_object("flow-logs-bucket", "AWSLogs/x.log.gz", data)
    assert store.get_object("flow-logs-bucket", "AWSLogs/x.log.gz") == data
    assert sum(spy_sizes) >= len(data)  # the object, then its metadata sidecar
    assert max(spy_sizes) <= WRITE_PIECE


def test_the_side_channel_writes_its_lines_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     spy_sizes: list[int]) -> None:
    monkeypatch.setattr(side_channel, "open", lambda *a, **k: _SpyFile(open(*a, **k)),  # noqa: SIM115
                        raising=False)  # the spy closes it
    n = 40_000  # about 3 MB of JSON lines in slices larger than a piece
    rows = pa.table({"interface_id": pa.array(["eni-0123456789abcdef0"] * n),
                     "srcaddr": pa.array([f"10.{i % 250}.{i % 200}.{i % 100}" for i in range(n)]),
                     "rule": pa.array(["sg-0123456789abcdef0 ingress: no rule allows this traffic " * 2] * n),
                     "record_index": pa.array(range(n), pa.int64())})
    side_channel.SideChannel(tmp_path).write("fl-1", rows)
    text = (tmp_path / "fl-1.rejects.jsonl").read_bytes()
    assert text.count(b"\n") == n
    assert sum(spy_sizes) == len(text) > 2 * WRITE_PIECE
    assert max(spy_sizes) <= WRITE_PIECE
