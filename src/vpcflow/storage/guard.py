"""What the storage layer says when the file system or a database file lets it down (issue 13 items 7, 9).

Every SQLite or file-system failure of the data directory becomes one :class:`StateError` line that
names the file and says what happened in the user's terms: locked by another process
(:class:`StateLockedError`, the only kind a delivery may retry), corrupt (with how to recover), no
space left on the device, a read-only file system. A corrupt database is never mistaken for a new
account: ``check_not_orphaned`` refuses an empty ``state.db`` beside delivered data.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from vpcflow.core.errors import StateError, StateLockedError

_CORRUPT = ("malformed", "not a database", "corrupt", "file is not a database", "could not decode")
_FULL = ("database or disk is full", "disk i/o error", "no space left")
_READONLY = ("readonly database", "read-only", "read only")


def storage_error(path: Path, e: BaseException, hint: str = "") -> StateError:
    """One line for ``e`` (an ``sqlite3.Error``, ``OSError`` or ``UnicodeDecodeError``) about ``path``."""
    if isinstance(e, StateError):
        return e
    text = str(e)
    low = text.lower()
    code = getattr(e, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT) or (any(k in low for k in _FULL) and _disk_full(path)):
        return StateError(f"{path}: no space left on the device; nothing past the last completed step was "
                          "kept. Free some space and run the same command again: it resumes exactly")
    if code == errno.EROFS or any(k in low for k in _READONLY):
        return StateError(f"{path}: the file system is read-only; vpcflow cannot write the data directory "
                          "there (use a writable --data-dir)")
    if isinstance(e, UnicodeDecodeError) or any(k in low for k in _CORRUPT):
        advice = hint or "restore it from a backup, or move the data directory away to start afresh"
        return StateError(f"{path}: the database file is corrupt ({text.splitlines()[0] if text else e!r}); "
                          f"nothing was changed. {advice}")
    if "locked" in low or "busy" in low:
        return StateLockedError(f"{path}: locked by another process ({text}); retry when the other vpcflow "
                                "command has finished")
    return StateError(f"{path}: {'database' if isinstance(e, sqlite3.Error) else 'file system'} error: {text}")


def _disk_full(path: Path) -> bool:
    """SQLite reports ENOSPC as SQLITE_FULL or as an I/O error; tell them apart by asking the file system."""
    import os

    try:
        st = os.statvfs(path.parent if not path.is_dir() else path)
    except OSError:
        return True
    return st.f_bavail * st.f_frsize < 1 << 20


def rollback_quietly(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; SQLite may already have rolled back itself (ENOSPC), and a
    second failure must not hide the first (``cannot rollback - no transaction is active``)."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _has_files(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return any(p.is_file() and ".vpcflow-tmp" not in p.parts for p in folder.rglob("*"))


def delivered_data(data_dir: Path) -> list[str]:
    """What in a data directory shows it has been used: delivered objects, a log store, spooled items."""
    found = []
    if _has_files(data_dir / "s3"):
        found.append("s3/")
    logs = data_dir / "logs.db"
    if logs.is_file() and logs.stat().st_size > 0:
        found.append("logs.db")
    spool = data_dir / "spool"
    if spool.is_dir() and any(p.is_file() and not p.name.startswith("checkpoints.db") and ".tmp" not in p.parts
                              for p in spool.rglob("*")):
        found.append("spool/")
    return found


def check_not_orphaned(state_path: Path) -> None:
    """Refuse an empty (0-byte) ``state.db`` beside delivered data: it was truncated, not new.

    A *missing* state.db is allowed: the log store may be used (``vpcflow logs``, the API) before any
    control-plane state exists, and SQLite never leaves a 0-byte file behind a completed creation.
    """
    if not state_path.is_file() or state_path.stat().st_size > 0:
        return
    data = delivered_data(state_path.parent)
    if not data:
        return
    raise StateError(
        f"{state_path} is empty (0 bytes) but the data directory holds delivered data ({', '.join(data)}); refusing to "
        "start a new account over it. Restore state.db from a backup, or move the data directory away "
        "to start afresh"
    )
