"""CloudWatch JSON filter patterns: ``{ $.eventType = "UpdateTrail" }`` and friends.

Syntax (CloudWatch's): a selector ``$.a.b[0].c`` compared with ``=``/``!=`` to a string (quoted or
bare, ``*`` wildcards, ``%regex%``) or with ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` to a number;
``$.x IS TRUE|FALSE|NULL``, ``$.x NOT EXISTS``; conditions combined with ``&&`` and ``||`` (``&&``
binds tighter) and parentheses.

Decisions where AWS is silent (docs/delivery.md): a message that is not a JSON object matches
nothing; a comparison on a missing selector is false (``!=`` too; use ``NOT EXISTS``); string
patterns match JSON strings and number patterns JSON numbers (never each other). Flow-log messages are
not JSON, so this path is a per-message Python loop rather than a vectorised one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.query.filter_syntax import parse_boolean
from vpcflow.query.filter_syntax import pattern_error as _err

_MISSING = object()
_TOKEN = re.compile(
    r'\s*(?:(&&|\|\||\(|\)|>=|<=|!=|=|<|>)|("(?:[^"\\]|\\.)*")|(%(?:[^%\\]|\\.)+%)|([^\s()=!<>&|"]+))'
)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_STEP = re.compile(r"\.([A-Za-z_$@-][\w$@-]*)|\[(\d+)\]")


def _path(selector: str) -> tuple[str | int, ...]:
    if not selector.startswith("$"):
        raise _err(f"a JSON selector starts with '$': {selector!r}")
    steps: list[str | int] = []
    pos = 1
    while pos < len(selector):
        m = _STEP.match(selector, pos)
        if m is None:
            raise _err(f"cannot read the selector {selector!r} at {selector[pos:]!r}")
        steps.append(m[1] if m[1] is not None else int(m[2]))
        pos = m.end()
    if not steps:
        raise _err(f"the selector {selector!r} names no property")
    return tuple(steps)


def _lookup(doc: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(doc, list) or step >= len(doc):
                return _MISSING
            doc = doc[step]
        else:
            if not isinstance(doc, dict) or step not in doc:
                return _MISSING
            doc = doc[step]
    return doc


@dataclass(frozen=True)
class _Cond:
    path: tuple[str | int, ...]
    op: str  # = != < <= > >= IS NOTEXISTS
    value: Any  # str, float, re.Pattern, True/False/None

    def test(self, doc: Any) -> bool:
        v = _lookup(doc, self.path)
        if self.op == "NOTEXISTS":
            return v is _MISSING
        if v is _MISSING:
            return False
        if self.op == "IS":
            return v is self.value
        if isinstance(self.value, float):
            if isinstance(v, bool) or not isinstance(v, int | float):
                return False
            return {"=": v == self.value, "!=": v != self.value, "<": v < self.value, "<=": v <= self.value,
                    ">": v > self.value, ">=": v >= self.value}[self.op]
        if not isinstance(v, str):
            return False
        hit = bool(self.value.fullmatch(v)) if isinstance(self.value, re.Pattern) else v == self.value
        return hit if self.op == "=" else not hit


@dataclass(frozen=True)
class _Bool:
    op: str
    parts: tuple[_Cond | _Bool, ...]

    def test(self, doc: Any) -> bool:
        if self.op == "&&":
            return all(p.test(doc) for p in self.parts)
        return any(p.test(doc) for p in self.parts)


class _Tokens:
    """Reads one condition (``$.x op value``, ``$.x IS TRUE``, ``$.x NOT EXISTS``) at a time."""

    def __init__(self, tokens: list[str]) -> None:
        self.t, self.i = tokens, 0

    def take(self) -> str:
        if self.i >= len(self.t):
            raise _err("the JSON pattern ends too early")
        self.i += 1
        return self.t[self.i - 1]

    def atom(self, i: int) -> tuple[_Cond, int]:
        self.i = i
        return self._condition(), self.i

    def _condition(self) -> _Cond:
        tok = self.take()
        path = _path(tok)
        op = self.take()
        if op.upper() == "IS":
            what = self.take().upper()
            if what not in ("TRUE", "FALSE", "NULL"):
                raise _err(f"IS must be followed by TRUE, FALSE or NULL, not {what!r}")
            return _Cond(path, "IS", {"TRUE": True, "FALSE": False, "NULL": None}[what])
        if op.upper() == "NOT":
            if self.take().upper() != "EXISTS":
                raise _err("NOT must be followed by EXISTS")
            return _Cond(path, "NOTEXISTS", None)
        if op not in ("=", "!=", "<", "<=", ">", ">="):
            raise _err(f"expected a comparison after {tok}, found {op!r}")
        raw = self.take()
        if raw in ("&&", "||", "(", ")"):
            raise _err(f"expected a value after {tok} {op}")
        if raw.startswith('"'):
            text = re.sub(r"\\(.)", r"\1", raw[1:-1])
            value: Any = text
            if "*" in text:
                value = re.compile(".*".join(re.escape(p) for p in text.split("*")), re.S)
        elif raw.startswith("%"):
            try:
                value = re.compile(".*(?:" + raw[1:-1] + ").*", re.S)
            except re.error as e:
                raise _err(f"bad regular expression {raw}: {e}") from None
        elif _NUMBER.match(raw):
            value = float(raw)
        else:
            value = re.compile(".*".join(re.escape(p) for p in raw.split("*")), re.S) if "*" in raw else raw
        if op in ("<", "<=", ">", ">=") and not isinstance(value, float):
            raise _err(f"{tok} {op} {raw}: a numeric comparison needs a number")
        return _Cond(path, op, value)


def _combine(op: str, parts: tuple[_Cond | _Bool, ...]) -> _Cond | _Bool:
    return _Bool(op, parts)


@dataclass(frozen=True)
class JsonPattern:
    text: str
    expr: _Cond | _Bool

    def match(self, messages: pa.Array) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(messages), dtype=bool)
        for i, msg in enumerate(messages.to_pylist()):
            if not msg or msg.lstrip()[:1] != "{":
                continue
            try:
                doc = json.loads(msg)
            except (ValueError, RecursionError):  # not JSON, or nested too deep to be an event of interest
                continue
            out[i] = isinstance(doc, dict) and self.expr.test(doc)
        return out


def compile_json_pattern(text: str) -> JsonPattern:
    """Compile ``{ ... }`` (braces included)."""
    src = text.strip()
    if not (src.startswith("{") and src.endswith("}")):
        raise _err("a JSON pattern is enclosed in { }")
    inner = src[1:-1].strip()
    tokens: list[str] = []
    pos = 0
    while pos < len(inner):
        m = _TOKEN.match(inner, pos)
        if m is None or m.end() == pos:
            if inner[pos:].strip() == "":
                break
            raise _err(f"unexpected character {inner[pos:pos + 1]!r} in {src!r}")
        tokens.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    if not tokens:
        raise _err("an empty JSON pattern")
    expr, end = parse_boolean(tokens, 0, _Tokens(tokens).atom, _combine)
    if end < len(tokens):
        raise _err(f"unexpected {tokens[end]!r} in {src!r}")
    return JsonPattern(src, expr)
