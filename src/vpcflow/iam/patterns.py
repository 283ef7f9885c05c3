"""Glob patterns and policy variables, the two string mini-languages of IAM policies.

Spec (aws-wire-and-iam.md section 1.3):

* ``*`` is any run of characters (it may cross ``:``), ``?`` exactly one character; everything else
  is literal, so ``.``, ``$``, ``^``, ``+``, ``(`` ... are escaped before building a regex (moto does not).
* Policy variables ``${key}`` (Version 2012-10-17 only) are replaced by the request-context value of
  ``key``; ``${*}``, ``${?}`` and ``${$}`` are the literal characters ``*``, ``?`` and ``$``.
  ``${key, 'default'}`` falls back to the quoted default. A variable whose key is missing (or
  multi-valued) makes the element it sits in not match: the functions here return ``None`` then.
* A substituted value is literal text: a ``*`` inside a user name is not a wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

#: A request context after normalisation: lower-cased key -> tuple of values.
Context = Mapping[str, tuple[str, ...]]

_VAR = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def has_variables(text: str) -> bool:
    """True when ``text`` contains ``${...}`` (a variable or an escape)."""
    return "${" in text


def _lookup(body: str, context: Context) -> str | None:
    m = _DEFAULT.match(body)
    key, default = (m.group(1), m.group(2)) if m else (body.strip(), None)
    values = context.get(key.lower())
    if values is None or len(values) == 0:
        return default
    if len(values) != 1:
        return None  # a multi-valued key cannot be substituted (AWS: the element does not match)
    return values[0]


def substitute(text: str, context: Context) -> str | None:
    """Replace variables and escapes by plain text; ``None`` if a variable's key is missing."""
    if "${" not in text:
        return text
    out: list[str] = []
    pos = 0
    for m in _VAR.finditer(text):
        out.append(text[pos : m.start()])
        body = m.group(1)
        if body in _ESCAPES:
            out.append(_ESCAPES[body])
        else:
            value = _lookup(body, context)
            if value is None:
                return None
            out.append(value)
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _glob_fragment(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=4096)
def _compile_static(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(_glob_fragment(pattern), flags)


def glob_regex(pattern: str, context: Context | None = None, *, ignore_case: bool = False) -> re.Pattern[str] | None:
    """The regex of an IAM glob, with variables substituted as literal text.

    ``context`` None means variables are not substituted (policy Version 2008-10-17 or absent):
    ``${...}`` is then ordinary text. Returns ``None`` when a variable's key is missing.
    """
    if context is None or "${" not in pattern:
        return _compile_static(pattern, ignore_case)
    parts: list[str] = []
    pos = 0
    for m in _VAR.finditer(pattern):
        parts.append(_glob_fragment(pattern[pos : m.start()]))
        body = m.group(1)
        if body in _ESCAPES:
            parts.append(re.escape(_ESCAPES[body]))
        else:
            value = _lookup(body, context)
            if value is None:
                return None
            parts.append(re.escape(value))
        pos = m.end()
    parts.append(_glob_fragment(pattern[pos:]))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def glob_match(pattern: str, text: str, context: Context | None = None, *, ignore_case: bool = False) -> bool:
    """Whether ``text`` matches the IAM glob ``pattern`` in full (False if a variable is missing)."""
    rx = glob_regex(pattern, context, ignore_case=ignore_case)
    return rx is not None and rx.fullmatch(text) is not None


def normalize_context(context: Mapping[str, str | Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """Lower-case the keys (condition key names are case-insensitive) and make every value a tuple."""
    out: dict[str, tuple[str, ...]] = {}
    for key, value in (context or {}).items():
        if isinstance(value, str):
            out[key.lower()] = (value,)
        else:
            out[key.lower()] = tuple(str(v) for v in value)
    return out
