"""The AWS CLI's four output styles for a JSON-shaped response: ``json``, ``text``, ``table``, ``yaml``.

Written from the behaviour of the AWS CLI v1 (json, text, table) and v2 (yaml, which v1 lacks), so that
``vpcflow ec2 ... --output X`` prints what ``aws ec2 ... --output X`` prints against ``vpcflow serve``
(compared in tests/api/test_api_cli_output.py). The rules, in short:

* json: indent 4, non-ASCII kept; an empty object prints nothing.
* text: a scalar is one line; a list of scalars is one tab-separated line (or, under a key, one
  ``KEY<TAB>value`` line each); a dict prints its scalar values (keys sorted) on one line prefixed by the
  upper-cased key it sits under, then each nested list/dict the same way under its own key. In a list
  of dicts every element prints the sorted union of the list's scalar keys (missing ones empty).
* table: sections with a centred title; a list of dicts is one header row (sorted scalar keys) and one
  row per element, nested values become indented sub-sections titled by their key; a dict with one
  scalar prints ``key | value``. When the widest section does not fit the terminal (80 columns when
  stdout is not one), every single-row section is turned into ``key | value`` rows. No colours.
* yaml: block style, keys sorted, strings quoted only where YAML would read them as something else.

Every value must already be JSON-shaped (str, int, float, bool, None, list, dict).
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any, TextIO

import yaml

OUTPUT_STYLES = ("json", "text", "table", "yaml")
DEFAULT_TERMINAL_WIDTH = 80
_CELL_PADDING = 4  # two spaces each side of a cell's widest value


def render(data: Any, style: str, *, title: str, width: int | None = None) -> str:
    """``data`` rendered in ``style``; ``title`` is the operation name (the table's first section)."""
    if style == "json":
        return "" if data == {} else json.dumps(data, indent=4, ensure_ascii=False) + "\n"
    if style == "yaml":
        return "" if data == {} else yaml.safe_dump(data, default_flow_style=False, sort_keys=True,
                                                    allow_unicode=True)
    if style == "text":
        out: list[str] = []
        _text(data, out, None, None)
        return "".join(out)
    if style == "table":
        return render_table(data, title, DEFAULT_TERMINAL_WIDTH if width is None else width)
    raise ValueError(f"unknown output style {style!r}")


def terminal_width(stream: TextIO | None = None) -> int:
    """Columns of the terminal behind ``stream`` (stdout), or 80 when it is not a terminal."""
    try:
        return os.get_terminal_size((stream or sys.stdout).fileno()).columns
    except (OSError, ValueError, AttributeError):
        return DEFAULT_TERMINAL_WIDTH


# -- text -------------------------------------------------------------------------------------------


def _is_scalar(v: Any) -> bool:
    return not isinstance(v, list | dict)


def _text(item: Any, out: list[str], key: str | None, columns: list[str] | None) -> None:
    if isinstance(item, dict):
        _text_dict(item, out, key, columns)
    elif isinstance(item, list):
        _text_list(item, out, key)
    else:
        out.append(f"{item}\n")


def _text_list(items: list[Any], out: list[str], key: str | None) -> None:
    if not items:
        return
    if any(isinstance(v, dict) for v in items):
        # Every dict of the list prints the same columns: the union of their scalar keys.
        columns = sorted({k for d in items if isinstance(d, dict) for k, v in d.items() if _is_scalar(v)})
        for v in items:
            _text(v, out, key, columns)
        return
    scalars = [v for v in items if _is_scalar(v)]
    if scalars:
        if key is None:
            out.append("\t".join(str(v) for v in scalars) + "\n")
        else:
            out.extend(f"{key.upper()}\t{v}\n" for v in scalars)
    for v in items:
        if not _is_scalar(v):
            _text(v, out, key, None)


def _text_dict(d: dict[str, Any], out: list[str], key: str | None, columns: list[str] | None) -> None:
    if columns is None:
        cells = [str(v) for k, v in sorted(d.items()) if _is_scalar(v)]
        nested = [(k, v) for k, v in sorted(d.items()) if not _is_scalar(v)]
    else:
        cells = [str(d.get(k, "")) for k in columns]
        nested = [(k, d[k]) for k in sorted(set(d) - set(columns))]
    if cells:
        out.append("\t".join([key.upper(), *cells] if key is not None else cells) + "\n")
    for k, v in nested:
        _text(v, out, k, None)


# -- table ------------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Terminal columns of ``text``: wide, full-width and ambiguous East Asian characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in text)


@dataclass
class _Section:
    title: str
    indent: int
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)  # widest value per column, headers included

    def _measure(self, cells: list[str]) -> None:
        if not self.widths:
            self.widths = [display_width(c) for c in cells]
            return
        for i, c in enumerate(cells):
            if i < len(self.widths):
                self.widths[i] = max(self.widths[i], display_width(c))
            else:
                self.widths.append(display_width(c))

    def set_headers(self, headers: list[str]) -> None:
        self._measure(headers)
        self.headers = headers

    def add_row(self, values: list[Any]) -> None:
        cells = [str(v) for v in values]
        self.rows.append(cells)
        self._measure(cells)

    def natural_width(self) -> int:
        columns = sum(w + _CELL_PADDING for w in self.widths) + 2 + 2 * self.indent
        return max(display_width(self.title) + 2 + 2 * self.indent, columns)

    def column_widths(self, total: int) -> list[int]:
        """Column widths (edges included) stretched to add up to ``total``, rounding like the AWS CLI."""
        natural = [w + _CELL_PADDING for w in self.widths]
        if not natural:
            return []
        scale = total / float(sum(natural))
        scaled = [round(scale * w) for w in natural]  # Python's round: halves to even
        excess = sum(scaled) - total
        while excess:
            # Too wide: take from the first columns; too narrow: give to the last ones.
            order = range(len(scaled)) if excess > 0 else reversed(range(len(scaled)))
            for i in order:
                step = 1 if excess > 0 else -1
                scaled[i] -= step
                excess -= step
                if excess == 0:
                    break
        return scaled


class _TableBuilder:
    def __init__(self) -> None:
        self.sections: list[_Section] = []

    @property
    def current(self) -> _Section:
        return self.sections[-1]

    def build(self, title: str | None, value: Any, indent: int = 0) -> bool:
        if not value:
            return False
        if title is not None:
            self.sections.append(_Section(title, indent))
        if isinstance(value, list):
            if isinstance(value[0], dict):
                self._from_dicts(value, indent, title)
            else:
                for item in value:
                    if _is_scalar(item):
                        self.current.add_row([item])
                    elif all(_is_scalar(el) for el in item):
                        self.current.add_row(list(item))  # a dict contributes its keys, as the AWS CLI's does
                    else:
                        self.build(None, item)
        if isinstance(value, dict):
            self._from_dict(value, indent)
        return True

    def _from_dict(self, d: dict[str, Any], indent: int) -> None:
        scalars = sorted(k for k, v in d.items() if _is_scalar(v))
        nested = sorted(k for k, v in d.items() if not _is_scalar(v))
        if len(scalars) == 1:
            self.current.add_row([scalars[0], d[scalars[0]]])
        elif scalars:
            self.current.set_headers(scalars)
            self.current.add_row([d[k] for k in scalars])
        for k in nested:
            self.build(k, d[k], indent + 1)

    def _from_dicts(self, items: list[Any], indent: int, title: str | None) -> None:
        dicts = [d if isinstance(d, dict) else {} for d in items]  # a stray scalar has no columns
        headers = sorted({k for d in dicts for k, v in d.items() if _is_scalar(v)})
        nested = sorted({k for d in dicts for k, v in d.items() if not _is_scalar(v)})
        self.current.set_headers(headers)
        for n, d in enumerate(dicts):
            if n and nested:  # each element with nested values gets its own section
                self.sections.append(_Section(title or "", indent))
                self.current.set_headers(headers)
            self.current.add_row([d.get(h, "") for h in headers])
            for k in nested:
                if k in d:
                    self.build(k, d[k], indent + 1)


def _to_key_value(sections: list[_Section]) -> list[_Section]:
    out = []
    for s in sections:
        if len(s.rows) == 1 and s.headers:
            kv = _Section(s.title, s.indent)
            for h, v in zip(s.headers, s.rows[0], strict=False):
                kv.add_row([h, v])
            out.append(kv)
        else:
            out.append(s)
    return out


def _centred(text: str, width: int, left: str) -> str:
    start = width // 2 - display_width(text) // 2 - 1
    used = len(left) + start + display_width(text)
    return left + " " * start + text + " " * (width - 1 - used) + "|"


def _left_aligned(text: str, width: int, left: str) -> str:
    pad = 2 if width - (display_width(text) + 2 + len(left) + 1) >= 0 else 0
    used = len(left) + pad + display_width(text)
    return left + " " * pad + text + " " * (width - used - 1) + "|"


def _rule(widths: list[int]) -> str:
    return "".join(("+" + "-" * (w - 2) + "+") if i == 0 else ("-" * (w - 1) + "+") for i, w in enumerate(widths))


def _render_section(s: _Section, width: int) -> list[str]:
    inner = width - 2 * s.indent
    lines: list[str] = []
    if s.title:
        lines.append(_centred(s.title, inner, "|"))
        if not s.headers and not s.rows:
            lines.append("+" + "-" * (inner - 2) + "+")
    widths = s.column_widths(inner)
    if s.headers:
        lines.append(_rule(widths))
        lines.append("".join(_centred(h, w, "|" if i == 0 else "")
                             for i, (w, h) in enumerate(zip(widths, s.headers, strict=False))))
    if s.rows and widths:
        lines.append(_rule(widths))
        for row in s.rows:
            lines.append("".join(_left_aligned(c, w, "|" if i == 0 else "")
                                 for i, (w, c) in enumerate(zip(widths, row, strict=False))))
        lines.append(_rule(widths))
    bar = "|" * s.indent
    return [bar + line + bar for line in lines]


def render_table(data: Any, title: str, terminal_columns: int = DEFAULT_TERMINAL_WIDTH) -> str:
    """The AWS CLI's boxed table of ``data``; nothing at all for an empty or false value."""
    builder = _TableBuilder()
    if not builder.build(title, data):
        return ""
    sections = builder.sections
    width = max(s.natural_width() for s in sections)
    if width > terminal_columns:
        sections = _to_key_value(sections)
        width = max(s.natural_width() for s in sections)
    lines = ["-" * width]
    for s in sections:
        lines.extend(_render_section(s, width))
    return "\n".join(lines) + "\n"
