"""The files a user names: text inputs (topology, run config, scenario, change file) and outputs.

One place decides what a missing file, a directory or a file that is not UTF-8 looks like, and what an
output in a folder that does not exist looks like, so every command says it the same way: one
``ConfigError`` naming the file or option (and, for bad bytes, the line and byte offset), never a
traceback.
"""

from __future__ import annotations

from pathlib import Path

from vpcflow.core.errors import ConfigError


def input_file_problem(path: Path, what: str) -> str | None:
    """Why ``path`` cannot be read as a ``what`` ('topology file', 'scenario'), or None when it can."""
    if path.is_dir():
        return f"{what} {path} is a directory, not a file"
    if not path.exists():
        return f"{what} {path} does not exist"
    return None


def check_input_file(path: Path, what: str) -> None:
    """Refuse ``path`` unless it is an existing file (see :func:`input_file_problem`)."""
    if path.is_dir():
        raise ConfigError(f"the {what} is a directory, not a file", location=str(path))
    if not path.exists():
        raise ConfigError(f"the {what} does not exist", location=str(path))


def read_input_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of ``path``; a ``ConfigError`` naming the file (and line) for every way it can fail."""
    p = Path(path)
    check_input_file(p, what)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {what}: {e.strerror or e}", location=str(p)) from None
    return decode_utf8(data, source=str(p), what=what)


def decode_utf8(data: bytes, *, source: str, what: str) -> str:
    """``data`` decoded as UTF-8; bad bytes are named with their line and offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        bad = data[e.start : e.start + 1].hex()
        raise ConfigError(
            f"{what} is not UTF-8 text: byte 0x{bad} at offset {e.start} ({e.reason})", location=f"{source}:{line}"
        ) from None


def check_output_file(path: Path, what: str) -> None:
    """Refuse to start work whose output ``path`` cannot be created: its folder is missing or not a
    folder, or ``path`` itself is a directory. ``what`` names the option or argument (``--pcap``)."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"{what}: {path} is a directory, not a file", location=str(path))
    if not parent.exists():
        raise ConfigError(f"{what}: folder {parent} does not exist", location=str(path))
    if not parent.is_dir():
        raise ConfigError(f"{what}: {parent} is not a folder", location=str(path))
