"""One writer per data directory: the lock every `vpcflow run` / `vpcflow demo` holds while it delivers.

Two runs on one data directory would each keep delivery checkpoints in memory and deliver the same
events twice (issue 13 item 5). The lock is ``fcntl.flock`` on ``<data-dir>/run.lock``: the kernel
releases it when the holder exits, however it exits (SIGKILL included), so a stale lock cannot
outlive its process. The file holds the holder's pid and start time, for the message.

Decision: a second writer refuses at once with a one-line :class:`StateError` naming the holder's
pid (exit 2); ``wait_s`` (``prepare_run(lock_wait_s=...)``) waits up to that long first. ``vpcflow
demo`` takes the lock before it removes an earlier demo's directory. Commands that only read (query,
read, report, logs, ec2 describe-*) take no lock: SQLite's WAL lets them read while the run writes.
"""

from __future__ import annotations

import fcntl
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from vpcflow.core.errors import StateError
from vpcflow.storage.guard import storage_error

LOCK_NAME = "run.lock"
POLL_S = 0.2


class WriterLock:
    """An exclusive lock on a data directory; :meth:`release` (or process exit) frees it."""

    def __init__(self, data_dir: Path, *, wait_s: float = 0.0) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # a read-only file system, mostly: named as such
            raise storage_error(self.path, e) from e
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    raise StateError(
                        f"data directory {data_dir} is in use by another vpcflow run ({holder}); wait for it to "
                        "finish or use another --data-dir"
                    ) from None
                time.sleep(POLL_S)
        self._fd = fd
        stamp = f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, stamp, 0)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
