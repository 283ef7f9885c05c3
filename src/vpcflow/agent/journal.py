"""The capture journal: every packet an agent read, kept on disk before it is processed.

A live packet can be read once. So that a SIGKILLed agent loses nothing it had already read, each
batch is appended to ``<state>/journal/<segment-start>/<incarnation>-<source>.arrow`` (Arrow IPC
stream; written before the batch goes to the pipeline) and the restarted agent replays the open
segment's files before reading on. The heartbeats handed to the pipeline are journaled in place too
(``append_heartbeat``: an empty batch with the watermark in its metadata). A kill mid-write leaves a
torn last message: reading stops there (that batch never reached the pipeline either). A segment's
folder is removed once the segment after it is delivered (the last one warms connection tracking
after a restart).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from vpcflow.dataplane.packets import PACKET_DTYPES, Heartbeat, PacketBatch

SCHEMA = pa.schema([pa.field(k, pa.from_numpy_dtype(np.dtype(t))) for k, t in PACKET_DTYPES.items()])


class JournalWriter:
    """Appends one source's batches of one segment (one file per agent incarnation)."""

    def __init__(self, folder: Path, name: str, interfaces: tuple[str, ...]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        meta = {b"interfaces": "\n".join(interfaces).encode()}
        self._file = open(folder / f"{name}.arrow", "ab")  # noqa: SIM115 - kept open for the segment
        self._writer = ipc.new_stream(self._file, SCHEMA.with_metadata(meta))

    def append(self, batch: PacketBatch) -> None:
        arrays = [pa.array(getattr(batch, k)) for k in PACKET_DTYPES]
        self._writer.write_batch(pa.record_batch(arrays, schema=SCHEMA))
        self._file.flush()  # in the kernel's page cache: survives the process being killed

    def append_heartbeat(self, watermark_s: int) -> None:
        """A ``Heartbeat`` handed to the pipeline, in its place among the batches: a replay closes the
        same windows at the same points, so what it delivers is byte for byte what was delivered."""
        empty = [pa.array([], type=f.type) for f in SCHEMA]
        self._writer.write_batch(pa.record_batch(empty, schema=SCHEMA),
                                 custom_metadata={"heartbeat": str(int(watermark_s))})
        self._file.flush()

    def close(self) -> None:
        self._writer.close()
        self._file.close()


def read_journal_file(path: Path) -> Iterator[PacketBatch | Heartbeat]:
    """The batches (and heartbeats) of one journal file, up to a torn tail."""
    try:
        reader = ipc.open_stream(pa.OSFile(str(path), "rb"))
    except (pa.ArrowInvalid, OSError):
        return  # killed before the schema was whole: nothing was processed from it
    raw = (reader.schema.metadata or {}).get(b"interfaces", b"").decode()
    interfaces = tuple(raw.split("\n")) if raw else ()
    while True:
        try:
            rb, meta = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            return
        except (pa.ArrowInvalid, OSError):
            return  # a torn last message
        if meta is not None and b"heartbeat" in meta:
            yield Heartbeat(int(meta[b"heartbeat"]))
            continue
        cols = {k: rb.column(k).to_numpy(zero_copy_only=False).astype(t, copy=False)
                for k, t in PACKET_DTYPES.items()}
        yield PacketBatch(**cols, interfaces=interfaces)


def journal_files(folder: Path, source: str) -> list[Path]:
    """One source's files of a segment, oldest incarnation first."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*-{source}.arrow"), key=lambda p: int(p.name.split("-", 1)[0]))


def next_incarnation(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    nums = [int(p.name.split("-", 1)[0]) for p in folder.glob("*.arrow") if p.name.split("-", 1)[0].isdigit()]
    return max(nums, default=-1) + 1


def drop_segment(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
