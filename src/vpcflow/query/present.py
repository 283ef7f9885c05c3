"""How report values read for people: ISO-8601 UTC times, byte units, short cells.

Shared by the terminal form of ``report`` / ``read --aggregate`` and the HTML page, so both show the
same text. Machine outputs (json, csv) keep the raw values (epoch seconds, byte counts).
"""

from __future__ import annotations

import datetime as dt

#: Columns that hold epoch seconds (AWS's start/end and the reports' aggregates of them).
TIME_COLUMNS = frozenset({"start", "end", "first_start", "last_end", "t", "window"})
#: Columns that hold byte counts.
BYTE_COLUMNS = frozenset({"bytes"})
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def iso_time(epoch_s: int | float) -> str:
    """``2026-11-26T12:00:00Z``."""
    return dt.datetime.fromtimestamp(int(epoch_s), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_bytes(n: int | float) -> str:
    """``950 B``, ``1.5 KiB``, ``12.3 MiB`` (binary units, one decimal from KiB up)."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def display(column: str, value: object) -> str:
    """The text a person reads for ``value`` in ``column``."""
    if value is None:
        return "-"
    if column in TIME_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
        return iso_time(value)
    if column in BYTE_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
        return human_bytes(value)
    if isinstance(value, int) and not isinstance(value, bool) and column not in _PLAIN_INTS:
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


#: Integers that are identifiers, not quantities: no thousands separators.
_PLAIN_INTS = frozenset({"srcport", "dstport", "port", "protocol", "version", "tcp_flags", "type"})
