"""Tables for an 80-column terminal (the terminal form of ``report`` and ``read --aggregate``).

Values read as people read them (``query.present``: ISO times, byte units); columns are kept in order
while they fit, long text is cut with an ellipsis (addresses in the middle) except a rule's text,
which wraps, and a footer names the columns left out (``-o json`` or ``-o csv`` give every column).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pyarrow as pa

from vpcflow.query.present import display

WIDTH = 80
_MAX_CELL = 44
_GAP = "  "


_MIN_TEXT = 16  # text columns shrink down to this before columns are left out
_MIN_WRAP = 24  # a wrapping column narrower than this is left out instead


def _cut(text: str, width: int, middle: bool = False) -> str:
    """Cut to ``width`` with an ellipsis: at the end, or in the middle (addresses keep both ends)."""
    if len(text) <= width:
        return text
    if middle and width >= 5:
        head = (width - 1) // 2
        return text[:head] + "…" + text[len(text) - (width - 1 - head):]
    return text[: max(1, width - 1)] + "…"


def _shrink(widths: list[int], text_cols: list[int], width: int) -> None:
    """Narrow the widest text columns, one character at a time, until the row fits or all are narrow."""
    def total() -> int:
        return sum(widths) + len(_GAP) * (len(widths) - 1)

    while total() > width:
        wide = [i for i in text_cols if widths[i] > _MIN_TEXT]
        if not wide:
            return
        widest = max(wide, key=lambda i: widths[i])
        widths[widest] -= 1


def _wraps(column: str) -> bool:
    """Columns whose text wraps onto more lines (a rule's explanation is read whole)."""
    return column.endswith("rule") or column == "source_list"


def _numeric(table: pa.Table, column: str) -> bool:
    t = table.schema.field(column).type
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def render_table(table: pa.Table, *, title: str | None = None, width: int = WIDTH) -> list[str]:
    """The lines of ``table`` laid out within ``width`` characters."""
    names = table.column_names
    rows = [[display(c, r[c]) for c in names] for r in table.to_pylist()]
    widths = [min(_MAX_CELL, max([len(c), *(len(r[i]) for r in rows)])) for i, c in enumerate(names)]
    # Wrapping text (a rule) takes whatever width is left when its turn comes, so it is shrunk last.
    wrap_cols = [i for i, c in enumerate(names) if _wraps(c)]
    _shrink(widths, [i for i, c in enumerate(names) if not _numeric(table, c) and i not in wrap_cols], width)
    shown: list[int] = []
    used = 0
    for i, w in enumerate(widths):
        gap = len(_GAP) if shown else 0
        if i in wrap_cols and used + gap + w > width and width - used - gap >= _MIN_WRAP:
            widths[i] = w = width - used - gap
        if used + gap + w <= width:
            shown.append(i)
            used += gap + w
        elif not shown:  # one column wider than the terminal: cut it
            shown.append(i)
            widths[i] = width
            used = width
    lines: list[str] = []
    if title:
        lines.append(_cut(title, width))
    right = {i for i in shown if _numeric(table, names[i])}

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i in shown:
            text = _cut(cells[i], widths[i], middle="addr" in names[i])
            parts.append(text.rjust(widths[i]) if i in right else text.ljust(widths[i]))
        return _GAP.join(parts).rstrip()

    def row_lines(cells: Sequence[str]) -> list[str]:
        """A row; text in a wrapping column (a rule) continues on the next lines instead of being cut."""
        wrapped = {i: textwrap.wrap(cells[i], widths[i]) or [""] for i in shown if _wraps(names[i])}
        if not wrapped or all(len(w) == 1 for w in wrapped.values()):
            return [line(cells)]
        height = max(len(w) for w in wrapped.values())
        out = []
        for k in range(height):
            part = ["" if i in wrapped else (cells[i] if k == 0 else "") for i in range(len(cells))]
            for i, w in wrapped.items():
                part[i] = w[k] if k < len(w) else ""
            out.append(line(part))
        return out

    lines.append(line(names))
    lines.append(_GAP.join("-" * widths[i] for i in shown))
    for r in rows:
        lines += row_lines(r)
    if not rows:
        lines.append("(no rows)")
    left_out = [names[i] for i in range(len(names)) if i not in shown]
    if left_out:
        lines.append(_cut(f"(not shown at {width} columns: {', '.join(left_out)}; -o json shows all)", width))
    return lines
