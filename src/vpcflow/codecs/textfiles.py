"""Flow-log text files: ``.log`` and ``.log.gz``, read whole or in pieces, and written.

The line format itself lives in ``codecs/text.py``; this module adds files: gzip detected by its
magic bytes (concatenated members are read in turn, a truncated stream is a ``ReadError``),
pieces cut at line ends for bounded memory, and deterministic gzip output (``mtime=0``).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

import pyarrow as pa

from vpcflow.codecs.text import TextRead, decode_text, render_text
from vpcflow.core.errors import ReadError
from vpcflow.core.filewrite import write_all
from vpcflow.model.logformat import LogFormat


def write_text_file(path: str | Path, table: pa.Table, *, header: bool = True, compresslevel: int = 6) -> None:
    """Write a ``.log`` file, gzip-compressed when the name ends in ``.gz`` (as AWS's ``.log.gz``)."""
    data = render_text(table, header=header)
    p = Path(path)
    if p.name.endswith(".gz"):
        # mtime=0: the same records give the same bytes (deterministic output).
        data = gzip.compress(data, compresslevel=compresslevel, mtime=0)
    with open(p, "wb") as f:
        write_all(f, data)


def read_text_bytes(path: str | Path) -> bytes:
    """The (decompressed) bytes of a ``.log`` or ``.log.gz`` file; gzip is detected by its magic."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        # One zlib object per gzip member: AWS-style files have one, concatenated files several.
        out = []
        try:
            while raw:
                d = zlib.decompressobj(31)
                out.append(d.decompress(raw))
                if not d.eof:
                    raise zlib.error("truncated gzip stream")
                raw = d.unused_data
        except zlib.error as e:
            raise ReadError(f"not a valid gzip file ({e})", source=str(path), line_number=0, raw="") from e
        return b"".join(out)
    return raw


def iter_text_file(
    path: str | Path,
    log_format: LogFormat | str | None = None,
    *,
    lenient: bool = False,
    chunk_bytes: int = 64 << 20,
) -> Iterator[TextRead]:
    """Read a ``.log`` / ``.log.gz`` file in pieces of about ``chunk_bytes`` (memory stays bounded).

    Yields one ``TextRead`` per piece, cut at line ends; the first piece settles the format (from
    the header line when there is one) and every piece uses it. Line numbers in errors and in
    ``skipped_lines`` are those of the file.
    """
    source = str(path)
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw)
        fmt: LogFormat | None = None
        pending = b""
        lines_before = 0
        while True:
            try:
                block = stream.read(chunk_bytes)
            except (OSError, EOFError, zlib.error) as e:
                raise ReadError(f"not a valid gzip file ({e})", source=source, line_number=0, raw="") from e
            data = pending + block
            if block:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    pending = data
                    continue
                piece, pending = data[:cut], data[cut:]
            else:
                piece, pending = data, b""
            if piece or fmt is None:
                if fmt is None:
                    read = decode_text(piece, log_format, source=source, lenient=lenient)
                    fmt = read.log_format
                else:
                    read = decode_text(piece, fmt, source=source, lenient=lenient, header=False,
                                       line_offset=lines_before)
                lines_before += piece.count(b"\n") + (0 if piece.endswith(b"\n") or not piece else 1)
                yield read
            if not block:
                return


def read_text_file(path: str | Path, log_format: LogFormat | str | None = None, *, lenient: bool = False) -> TextRead:
    """Read a ``.log`` / ``.log.gz`` flow-log file (header optional, see ``decode_text``)."""
    return decode_text(read_text_bytes(path), log_format, source=str(path), lenient=lenient)


__all__ = ["iter_text_file", "read_text_bytes", "read_text_file", "write_text_file"]
