"""Hypothesis properties of IAM glob matching (spec aws-wire-and-iam.md 1.3) against a reference
matcher written independently (dynamic programming over characters, no regex)."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.iam.conditions import clause_holds
from vpcflow.iam.evaluator import action_matches
from vpcflow.iam.patterns import glob_match, normalize_context
from vpcflow.iam.policy import ConditionClause

# Alphabet rich in regex metacharacters and ARN separators, so escaping bugs show up.
ALPHABET = "ab.:/$^+()[]{}|\\-*?"
TEXT_ALPHABET = "ab.:/$^+()[]{}|\\-"


def reference(pattern: str, text: str, ignore_case: bool = False) -> bool:
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()

    @cache
    def m(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(text)
        c = pattern[i]
        if c == "*":
            return m(i + 1, j) or (j < len(text) and m(i, j + 1))
        if j == len(text):
            return False
        if c == "?" or c == text[j]:
            return m(i + 1, j + 1)
        return False

    return m(0, 0)


patterns = st.text(alphabet=ALPHABET, max_size=10)
texts = st.text(alphabet=TEXT_ALPHABET, max_size=12)


@settings(max_examples=200)
@given(patterns, texts)
def test_glob_matches_reference(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) == reference(pattern, text)


@settings(max_examples=150)
@given(st.text(alphabet="aAbB:*?", max_size=8), st.text(alphabet="aAbB:", max_size=10))
def test_action_match_is_case_insensitive_glob(pattern: str, action: str) -> None:
    assert action_matches(pattern, action) == reference(pattern, action, ignore_case=True)
    assert action_matches(pattern.upper(), action.lower()) == action_matches(pattern.lower(), action.upper())


@settings(max_examples=150)
@given(texts)
def test_literal_text_matches_only_itself(text: str) -> None:
    assert glob_match(text, text)
    assert not glob_match(text, text + "x")
    assert not glob_match(text + "x", text)


@settings(max_examples=150)
@given(texts, texts)
def test_star_suffix_is_prefix_test(prefix: str, rest: str) -> None:
    assert glob_match(prefix + "*", prefix + rest)
    assert glob_match("*", rest)


@settings(max_examples=150)
@given(texts)
def test_question_marks_count_characters(text: str) -> None:
    assert glob_match("?" * len(text), text)
    assert not glob_match("?" * (len(text) + 1), text)


@settings(max_examples=150)
@given(patterns, texts)
def test_string_like_equals_glob_and_not_like_is_its_negation(pattern: str, text: str) -> None:
    ctx = normalize_context({"k:x": text})
    like = clause_holds(ConditionClause("StringLike", "k:x", (pattern,)), ctx, variables=True)
    not_like = clause_holds(ConditionClause("StringNotLike", "k:x", (pattern,)), ctx, variables=True)
    if "${" not in pattern:
        assert like == reference(pattern, text)
        assert not_like == (not like)


@settings(max_examples=100)
@given(st.lists(texts, max_size=4), st.lists(texts, min_size=1, max_size=3))
def test_set_operators_against_definitions(values: list[str], policy_values: list[str]) -> None:
    ctx = normalize_context({"k:set": values})
    any_ = clause_holds(
        ConditionClause("ForAnyValue:StringEquals", "k:set", tuple(policy_values)), ctx, variables=False
    )
    all_ = clause_holds(
        ConditionClause("ForAllValues:StringEquals", "k:set", tuple(policy_values)), ctx, variables=False
    )
    assert any_ == any(v in policy_values for v in values)
    assert all_ == all(v in policy_values for v in values)


@settings(max_examples=150)
@given(st.text(alphabet="ab*?.$", min_size=1, max_size=8), texts)
def test_substituted_values_are_literal(value: str, other: str) -> None:
    ctx = normalize_context({"aws:PrincipalTag/x": value})
    pattern = "arn:aws:s3:::b/${aws:PrincipalTag/x}"
    assert glob_match(pattern, f"arn:aws:s3:::b/{value}", ctx)
    if other != value:
        assert not glob_match(pattern, f"arn:aws:s3:::b/{other}", ctx)
    assert not glob_match(pattern, "arn:aws:s3:::b/x", normalize_context({}))  # missing key: no match
