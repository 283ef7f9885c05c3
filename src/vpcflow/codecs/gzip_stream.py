"""The gzip compressor of S3 text objects: ISA-L's deflate (the ``isal`` package) when installed, else zlib.

S3 text objects (``.log.gz``) are one gzip member compressed a slice of lines at a time
(``dataplane/sinks/s3_common.py``). On flow-log text ISA-L's level 1 writes objects the size of
zlib's level 3 about five times faster (a 171 MiB group of a million-flow run: 0.27 s against
1.47 s of CPU, 29.4 MB against 29.5 MB; docs/benchmarks.md, "2026-12-05, second half of the
morning"), so a 5-minute group's compression no longer holds up a run. ISA-L releases the GIL
while it compresses, as zlib does.

The compressed bytes depend on the compressor (and, for ISA-L, on how the text is fed to it), so
object names hash the text, never these bytes (``s3keys.content_hasher``): the same records get
the same name whichever compressor a machine has. ``isal`` ships wheels for the common platforms
(pyproject.toml installs it there); elsewhere zlib compresses at ``ZLIB_LEVEL``.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Protocol

_isal: ModuleType | None
try:  # the wheels' platforms: Linux, macOS and Windows on x86-64 and ARM64
    from isal import isal_zlib as _isal
except ImportError:  # pragma: no cover - a platform without isal's wheels
    _isal = None

#: ISA-L's levels are 0-3; 1 compresses flow-log text as tightly as zlib's 3, about 5x faster.
GZIP_LEVEL = 1
#: zlib's level when ISA-L is missing: about 4x faster than the gzip default 6 for 15% more bytes.
ZLIB_LEVEL = 3
#: Which library compresses: "isal" or "zlib".
BACKEND = "isal" if _isal is not None else "zlib"


class Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


def gzip_compressor(level: int | None = None) -> Compressor:
    """A streaming compressor writing one gzip member (``mtime`` 0). ``level`` is the backend's own
    (ISA-L 0-3, clamped; zlib 0-9); None: the default (``GZIP_LEVEL``, or ``ZLIB_LEVEL`` for zlib)."""
    if _isal is not None:
        lvl = GZIP_LEVEL if level is None else min(max(level, 0), 3)
        return _isal.compressobj(lvl, _isal.DEFLATED, 31)  # type: ignore[no-any-return]
    return zlib.compressobj(ZLIB_LEVEL if level is None else level, zlib.DEFLATED, 31)


__all__ = ["BACKEND", "GZIP_LEVEL", "ZLIB_LEVEL", "Compressor", "gzip_compressor"]
