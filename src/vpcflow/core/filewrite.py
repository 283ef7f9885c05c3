"""Writing large buffers to files a piece at a time.

Every file vpcflow writes that can be tens of MB (an S3 object in the local bucket store, the side
channel's JSON lines, a spooled object, a written capture) goes through ``write_all``, which hands
the kernel at most ``WRITE_PIECE`` bytes per ``write`` call.

Why: on the ext4 file systems of the project's machines (Linux 6.18), one ``write`` of 2 MiB or
more into a new file costs about 10 ms of kernel time per MB, and writes of 1 MiB or less cost
about 0.3 ms per MB: 200 MiB written in one call or in 8 MiB calls took 1.9-2.2 s, in 1 MiB or
256 KiB calls 0.05 s (docs/benchmarks.md, "2026-12-05, second half of the morning"). A run of
a million flows writes about 270 MB (its S3 objects and side channel): about 2.5 s of CPU saved on
a 2-core machine. Smaller pieces cost nothing measurable elsewhere (tmpfs, overwrites).
"""

from __future__ import annotations

from typing import Protocol

#: The largest piece handed to one ``write`` call.
WRITE_PIECE = 1 << 20


class _Writable(Protocol):
    def write(self, data: memoryview, /) -> int | None: ...


def write_all(f: _Writable, data: bytes | bytearray | memoryview) -> int:
    """Write every byte of ``data`` to ``f`` in pieces of at most ``WRITE_PIECE`` bytes (a raw,
    unbuffered ``f`` may take fewer bytes than offered: the rest is offered again). The byte count."""
    view = memoryview(data).cast("B")
    total = len(view)
    pos = 0
    while pos < total:
        n = f.write(view[pos:pos + WRITE_PIECE])
        pos += WRITE_PIECE if n is None else n
    return total


__all__ = ["WRITE_PIECE", "write_all"]
