"""CloudWatch Logs filter patterns, compiled once and evaluated column-wise over messages.

Supported syntax (CloudWatch's, spec 8.3):

* unstructured terms: ``ERROR`` (the message contains it; case-sensitive), ``"quoted phrase"``,
  ``-term`` / ``-"phrase"`` (exclusions), ``?term`` (alternatives: at least one must match),
  ``%regex%`` (a regular expression, RE2 syntax); several plain terms must all match; an empty
  pattern matches every event;
* space-delimited patterns: ``[version, accountid, interfaceid, srcaddr = 10.0.2.*, dstaddr,
  srcport, dstport = 80 || dstport = 8080, protocol, packets, bytes >= 400, start, end,
  action = REJECT, logstatus]``: one name per field; conditions with ``=``, ``!=``, ``<``, ``<=``,
  ``>``, ``>=``, combined with ``&&`` and ``||`` (``&&`` binds tighter; parentheses allowed) and
  free to name any field of the pattern; ``*`` wildcards in string values; quoted values
  (``destport="22"``) compare as strings; bare numbers compare numerically; one ``...`` stands for
  any number of fields. Without ``...`` the message must have exactly as many fields as the pattern.

Decisions where AWS is silent (docs/delivery.md): a term matches as a substring; a numeric
comparison against a non-numeric value (``-`` in NODATA records) is false, also for ``!=``;
log fields are separated by runs of whitespace. JSON patterns (``{ $.x = 1 }``) are compiled by
``filter_json.py``.

Evaluation: messages are split with Arrow's C++ kernels and the needed fields gathered through the
list offsets (fields after ``...`` counted from the end), so no Python code runs per message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.core.api_errors import FilterPatternError
from vpcflow.query.filter_json import compile_json_pattern
from vpcflow.query.filter_syntax import MAX_PATTERN_LENGTH, check_length, parse_boolean
from vpcflow.query.filter_syntax import pattern_error as _err

Mask = npt.NDArray[np.bool_]


_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_NUMERIC_REGEX = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def _as_array(messages: pa.Array | pa.ChunkedArray | list[str]) -> pa.Array:
    if isinstance(messages, list):
        return pa.array(messages, pa.string())
    if isinstance(messages, pa.ChunkedArray):
        return messages.combine_chunks()
    return messages


def _np(mask: pa.Array | pa.ChunkedArray) -> Mask:
    arr = mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _wildcard_regex(value: str) -> str:
    return "^" + ".*".join(re.escape(p) for p in value.split("*")) + "$"


# ------------------------------------------------------------------------------ unstructured terms


@dataclass(frozen=True)
class _Term:
    text: str
    regex: bool = False

    def match(self, msgs: pa.Array) -> Mask:
        if self.regex:
            return _np(pc.match_substring_regex(msgs, self.text))
        return _np(pc.match_substring(msgs, self.text))


def _any_term(terms: list[_Term]) -> _Term:
    """One regular-expression term that matches where any of ``terms`` does."""
    if len(terms) == 1:
        return terms[0]
    return _Term("|".join(f"(?:{t.text})" if t.regex else re.escape(t.text) for t in terms), regex=True)


_TERM_RE = re.compile(r'\s*([-?]?)(?:"((?:[^"\\]|\\.)*)"|%((?:[^%\\]|\\.)+)%|([^\s"]+))')


def _parse_terms(text: str) -> tuple[list[_Term], list[_Term], list[_Term]]:
    required: list[_Term] = []
    excluded: list[_Term] = []
    optional: list[_Term] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TERM_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise _err(f"cannot read the term at character {pos + 1} of {text!r}")
        sign, quoted, regex, bare = m.groups()
        if quoted is not None:
            term = _Term(re.sub(r"\\(.)", r"\1", quoted))
        elif regex is not None:
            try:
                re.compile(regex)
            except re.error as e:
                raise _err(f"bad regular expression %{regex}%: {e}") from None
            term = _Term(regex, regex=True)
        else:
            term = _Term(bare)
        {"": required, "-": excluded, "?": optional}[sign].append(term)
        pos = m.end()
    return required, excluded, optional


# -------------------------------------------------------------------------- space-delimited patterns

_TOKEN_RE = re.compile(r'\s*(?:(\.\.\.)|("(?:[^"\\]|\\.)*")|(>=|<=|!=|=|<|>|&&|\|\||\(|\)|,)|([^\s,()=!<>&|"]+))')


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise _err(f"unexpected character {text[pos:pos + 1]!r} at {pos + 1} in [{text}]")
        tokens.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return tokens


@dataclass(frozen=True)
class _Cmp:
    name: str
    op: str
    value: str
    quoted: bool

    def evaluate(self, col: pa.Array) -> Mask:
        numeric = not self.quoted and bool(_NUMBER_RE.match(self.value))
        if self.op in ("<", "<=", ">", ">=") or (numeric and self.op in ("=", "!=")):
            if not numeric:
                raise _err(f"{self.name} {self.op} {self.value}: a numeric comparison needs a number")
            is_num = pc.fill_null(pc.match_substring_regex(col, _NUMERIC_REGEX), False)
            safe = pc.if_else(is_num, col, pa.scalar("0"))
            nums = pc.cast(safe, pa.float64())
            fn = {"<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal,
                  "=": pc.equal, "!=": pc.not_equal}[self.op]
            return _np(pc.and_(is_num, fn(nums, pa.scalar(float(self.value)))))
        if "*" in self.value:
            hit = _np(pc.match_substring_regex(col, _wildcard_regex(self.value)))
        else:
            hit = _np(pc.equal(col, pa.scalar(self.value)))
        return hit if self.op == "=" else ~hit


@dataclass(frozen=True)
class _BoolOp:
    op: str  # "&&" or "||"
    parts: tuple[_Expr, ...]

    def evaluate_with(self, cols: dict[str, pa.Array]) -> Mask:
        masks = [_eval(p, cols) for p in self.parts]
        out = masks[0]
        for m in masks[1:]:
            out = (out & m) if self.op == "&&" else (out | m)
        return out


_Expr = _Cmp | _BoolOp


def _eval(expr: _Expr, cols: dict[str, pa.Array]) -> Mask:
    if isinstance(expr, _Cmp):
        return expr.evaluate(cols[expr.name])
    return expr.evaluate_with(cols)


def _names(expr: _Expr) -> set[str]:
    if isinstance(expr, _Cmp):
        return {expr.name}
    out: set[str] = set()
    for p in expr.parts:
        out |= _names(p)
    return out


def _condition(tokens: list[str], i: int) -> tuple[_Cmp, int]:
    """One comparison ``name op value`` starting at ``tokens[i]``."""
    tok = tokens[i]
    if not _is_name(tok):
        raise _err(f"expected a field name, found {tok!r}")
    if i + 2 >= len(tokens):
        raise _err("the pattern ends too early")
    op, value = tokens[i + 1], tokens[i + 2]
    if op not in ("=", "!=", "<", "<=", ">", ">="):
        raise _err(f"expected a comparison after {tok!r}, found {op!r}")
    if value in ("&&", "||", "(", ")", ",", "=", "!=", "<", "<=", ">", ">="):
        raise _err(f"expected a value after {tok} {op}")
    quoted = value.startswith('"')
    if quoted:
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    if op in ("<", "<=", ">", ">=") and (quoted or not _NUMBER_RE.match(value)):
        raise _err(f"{tok} {op} {value}: a numeric comparison needs a number")
    return _Cmp(tok, op, value, quoted), i + 3


def _combine(op: str, parts: tuple[_Expr, ...]) -> _Expr:
    return _BoolOp(op, parts)


def _is_name(tok: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", tok) is not None


@dataclass
class _Slot:
    name: str | None  # None for "..."
    condition: _Expr | None = None


@dataclass
class FilterPattern:
    """A compiled filter pattern: ``match(messages) -> bool mask`` and ``matches(line) -> bool``."""

    text: str
    kind: str  # "all", "terms", "delimited" or "json"
    required: list[_Term] = field(default_factory=list)
    excluded: list[_Term] = field(default_factory=list)
    optional: list[_Term] = field(default_factory=list)
    slots: list[_Slot] = field(default_factory=list)
    json: Any = None  # a filter_json.JsonPattern for "json" patterns

    @property
    def field_names(self) -> tuple[str | None, ...]:
        """The names of a space-delimited pattern's fields (None for ``...``)."""
        return tuple(s.name for s in self.slots)

    def matches(self, line: str) -> bool:
        return bool(self.match(pa.array([line], pa.string()))[0])

    def match(self, messages: pa.Array | pa.ChunkedArray | list[str]) -> Mask:
        msgs = _as_array(messages).cast(pa.string())
        n = len(msgs)
        if self.kind == "all" or n == 0:
            return np.ones(n, dtype=bool)
        if self.kind == "json":
            return np.asarray(self.json.match(msgs), dtype=bool)
        if self.kind == "terms":
            out = np.ones(n, dtype=bool)
            for t in self.required:
                out &= t.match(msgs)
            # Alternatives and exclusions are each one RE2 alternation: one linear pass over the
            # messages however many terms the pattern lists.
            if self.excluded:
                out &= ~_any_term(self.excluded).match(msgs)
            if self.optional:
                out &= _any_term(self.optional).match(msgs)
            return out
        return self._match_delimited(msgs)

    def _match_delimited(self, msgs: pa.Array) -> Mask:
        n = len(msgs)
        parts = pc.ascii_split_whitespace(pc.fill_null(msgs, ""))
        offsets = np.asarray(parts.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
        lengths = np.diff(offsets)
        values = parts.values
        ellipsis = [i for i, s in enumerate(self.slots) if s.name is None]
        fixed = len(self.slots) - len(ellipsis)
        ok = lengths >= fixed if ellipsis else lengths == fixed
        if not ok.any():
            return ok
        starts = offsets[:-1]
        ends = offsets[1:]
        cols: dict[str, pa.Array] = {}
        cut = ellipsis[0] if ellipsis else len(self.slots)
        for i, slot in enumerate(self.slots):
            if slot.name is None or slot.name in cols:
                continue
            idx = starts + i if i < cut else ends - (len(self.slots) - i)
            idx = np.where(ok, idx, 0)  # rows of the wrong width read a dummy value, masked out below
            if len(values) == 0:
                cols[slot.name] = pa.nulls(n, pa.string())
            else:
                cols[slot.name] = values.take(pa.array(np.clip(idx, 0, len(values) - 1)))
        out = ok.copy()
        for slot in self.slots:
            if slot.condition is not None:
                out &= _eval(slot.condition, cols)
        return out

    def __call__(self, messages: pa.Array) -> Mask:
        return self.match(messages)


def compile_pattern(text: str | None) -> FilterPattern:
    """Compile a filter pattern (None or blank: match everything)."""
    check_length(text or "")
    src = (text or "").strip()
    if not src:
        return FilterPattern(text or "", "all")
    if src.startswith("{"):
        return FilterPattern(src, "json", json=compile_json_pattern(src))
    if src.startswith("["):
        if not src.endswith("]"):
            raise _err("a space-delimited pattern must end with ']'")
        return FilterPattern(src, "delimited", slots=_parse_slots(src[1:-1]))
    required, excluded, optional = _parse_terms(src)
    return FilterPattern(src, "terms", required=required, excluded=excluded, optional=optional)


def _parse_slots(inner: str) -> list[_Slot]:
    tokens = _tokenize(inner)
    if not tokens:
        raise _err("a space-delimited pattern needs at least one field")
    slots: list[_Slot] = []
    groups: list[list[str]] = [[]]
    depth = 0
    for tok in tokens:
        depth += tok == "("
        depth -= tok == ")"
        if tok == "," and depth == 0:
            groups.append([])
        else:
            groups[-1].append(tok)
    for g in groups:
        if not g:
            raise _err("empty field between commas")
        if g == ["..."]:
            slots.append(_Slot(None))
            continue
        if "..." in g:
            raise _err("'...' must be a field of its own")
        first = next((t for t in g if t != "("), "")
        if not _is_name(first):
            raise _err(f"expected a field name, found {first!r}")
        if len(g) == 1:
            slots.append(_Slot(first))
            continue
        cond, end = parse_boolean(g, 0, functools.partial(_condition, g), _combine)
        if end < len(g):
            raise _err(f"unexpected {g[end]!r} in field {first!r}")
        slots.append(_Slot(first, cond))
    if sum(s.name is None for s in slots) > 1:
        raise _err("vpcflow supports one '...' per pattern")
    names = {s.name for s in slots if s.name is not None}
    for s in slots:
        if s.condition is not None:
            unknown = _names(s.condition) - names
            if unknown:
                raise _err(f"condition names a field not in the pattern: {', '.join(sorted(unknown))}")
    return slots


def matcher(text: str | None) -> Callable[[pa.Array], Mask] | None:
    """The matcher the log store's ``filter_log_events`` takes (None when everything matches)."""
    pattern = compile_pattern(text)
    return None if pattern.kind == "all" else pattern.match


__all__ = ["MAX_PATTERN_LENGTH", "FilterPattern", "FilterPatternError", "compile_pattern", "matcher"]
