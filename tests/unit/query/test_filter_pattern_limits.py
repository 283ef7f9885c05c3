"""Filter patterns under hostile input (issue 13, item 8): AWS's 1,024-character limit with AWS's
validation error, nesting without recursion, and ``?term`` alternatives matched in one pass.

The boolean parser is checked against Python's own ``and``/``or`` on random expressions.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.query.filter_pattern import MAX_PATTERN_LENGTH, FilterPatternError, compile_pattern

LINES = [f"{a} {b} {c}" for a in range(3) for b in range(3) for c in range(3)]


def _match(pattern: str, lines: list[str]) -> list[bool]:
    return [bool(x) for x in compile_pattern(pattern).match(pa.array(lines, pa.string())).tolist()]


@pytest.mark.parametrize("pattern", ["?x " * 40_000, "x" * 1025, "[a, " + "(" * 5000 + "b = 1" + ")" * 5000 + "]"])
def test_botocore_logs_model_limit_1024_characters(pattern: str) -> None:
    """botocore's logs model: FilterPattern has max length 1024; AWS answers with its validation error."""
    with pytest.raises(FilterPatternError) as e:
        compile_pattern(pattern)
    assert e.value.code == "InvalidParameterException"
    assert "at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024" in (
        e.value.message)


def test_a_pattern_of_exactly_1024_characters_is_accepted() -> None:
    pattern = ("ERROR " * 200)[:MAX_PATTERN_LENGTH]
    assert len(pattern) == MAX_PATTERN_LENGTH
    assert _match(pattern, ["ERROR", "OK"]) == [True, False]


def test_deep_parentheses_within_the_limit_parse_without_recursion() -> None:
    depth = 500
    pattern = "[a, " + "(" * depth + "b = 1" + ")" * depth + ", c]"
    assert len(pattern) <= MAX_PATTERN_LENGTH
    assert _match(pattern, LINES) == [line.split()[1] == "1" for line in LINES]
    json_pattern = "{ " + "(" * depth + "$.a = 1" + ")" * depth + " }"
    assert _match(json_pattern, ['{"a": 1}', '{"a": 2}', "not json"]) == [True, False, False]


def test_unbalanced_parentheses_are_errors() -> None:
    for bad in ("[a, ((b = 1)]", "[a, (b = 1))]", "{ ($.a = 1 }", "{ $.a = 1) }", "[a, ()]", "[a, (b = 1 ||)]"):
        with pytest.raises(FilterPatternError, match="Invalid filter pattern"):
            compile_pattern(bad)


def test_a_json_event_nested_deeper_than_the_json_parser_goes_matches_nothing() -> None:
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert _match("{ $.a NOT EXISTS }", [deep, '{"b": 1}']) == [False, True]


# ------------------------------------------------------------------------ boolean expressions

Expr = Any  # ("cmp", field, value) | ("and"|"or", [Expr, ...])

_cmp = st.tuples(st.just("cmp"), st.sampled_from(["a", "b", "c"]), st.integers(0, 2))
_expr = st.recursive(_cmp, lambda inner: st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=2,
                                                                                              max_size=3)),
                     max_leaves=10)


def _render(e: Expr, parens: bool) -> str:
    if e[0] == "cmp":
        return f"{e[1]} = {e[2]}"
    op = " && " if e[0] == "and" else " || "
    text = op.join(_render(p, True) for p in e[1])
    return f"({text})" if parens else text


def _python(e: Expr, row: dict[str, int]) -> bool:
    if e[0] == "cmp":
        return row[e[1]] == e[2]
    results = [_python(p, row) for p in e[1]]
    return all(results) if e[0] == "and" else any(results)


@settings(max_examples=150, deadline=None)
@given(_expr)
def test_and_or_parentheses_evaluate_like_python(e: Expr) -> None:
    """A condition may name any field of the pattern; the slot it sits in is named by its first name (d,
    always 0 here)."""
    pattern = f"[a, b, c, d = 0 && ({_render(e, parens=False)})]"
    lines = [line + " 0" for line in LINES]
    rows = [dict(zip("abc", map(int, line.split()), strict=True)) for line in LINES]
    assert _match(pattern, lines) == [_python(e, row) for row in rows]


def test_and_binds_tighter_than_or() -> None:
    pattern = "[a, b, c, d = 0 && (a = 1 || b = 1 && c = 1)]"
    rows = [tuple(map(int, line.split())) for line in LINES]
    assert _match(pattern, [line + " 0" for line in LINES]) == [a == 1 or (b == 1 and c == 1) for a, b, c in rows]


# ------------------------------------------------------------------------------ ?term alternatives

_chars = st.sampled_from(list("abc.*+()[]{}|^$\\-#?"))
_term = st.text(_chars, min_size=1, max_size=4).filter(lambda t: not t.startswith(("?", "-")))


@settings(max_examples=150, deadline=None)
@given(st.lists(_term, min_size=1, max_size=8), st.lists(_term, max_size=3),
       st.lists(st.text(st.sampled_from(list("abc.*+()[]{}|^$\\-#? ")), max_size=12), min_size=1, max_size=10))
def test_alternatives_and_exclusions_match_like_substrings(optional: list[str], excluded: list[str],
                                                           messages: list[str]) -> None:
    pattern = " ".join([*(f"?{t}" for t in optional), *(f"-{t}" for t in excluded)])
    expected = [any(t in m for t in optional) and not any(t in m for t in excluded) for m in messages]
    assert _match(pattern, messages) == expected


def test_hundreds_of_alternatives_are_one_pass_over_the_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """12,000 ``?term`` used to be 12,000 scans of every message; now alternatives (and exclusions) are
    one RE2 alternation each, so the messages are scanned once per group whatever the term count."""
    import vpcflow.query.filter_pattern as fp

    calls: list[str] = []
    for name in ("match_substring", "match_substring_regex"):
        real = getattr(fp.pc, name)
        monkeypatch.setattr(fp.pc, name, lambda *a, _real=real, _n=name, **k: (calls.append(_n), _real(*a, **k))[1])
    terms = [f"t{i:03d}" for i in range(160)]
    pattern = " ".join(f"?{t}" for t in terms) + " -x.y -z|"
    assert len(pattern) <= MAX_PATTERN_LENGTH
    messages = ["x t150 y", "t20", "nothing", "t159", "t001 x.y", "t002 z|"]
    assert _match(pattern, messages) == [True, False, False, True, False, False]
    assert calls == ["match_substring_regex", "match_substring_regex"]
