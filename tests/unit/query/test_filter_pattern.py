"""CloudWatch filter patterns: the grammar, with EVERY example of spec 8.3."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.query.filter_pattern import FilterPatternError, compile_pattern, matcher

# Spec 7.1-7.4 sample records (default format).
ACCEPT_SSH = "2 123456789010 eni-abc123de 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
REJECT_RDP = "2 123456789010 eni-abc123de 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK"
NODATA = "2 123456789010 eni-1a2b3c4d - - - - - - - 1431280876 1431280934 - NODATA"
SKIPDATA = "2 123456789010 eni-4b118871 - - - - - - - 1431280876 1431280934 - SKIPDATA"
FROM_1 = "2 123456789010 eni-1 10.0.0.1 10.0.1.5 5000 80 6 3 500 1 2 ACCEPT OK"
FROM_2 = "2 123456789010 eni-1 10.0.2.77 10.0.1.5 5000 8080 6 3 300 1 2 REJECT OK"
FROM_2B = "2 123456789010 eni-1 10.0.2.8 10.0.1.5 5000 8080 6 3 999 1 2 REJECT OK"
HTTP_BIG_REJECT = "2 123456789010 eni-1 10.0.3.1 10.0.1.5 5000 80 6 3 400 1 2 REJECT OK"
SSH_UDP_REJECT = "2 123456789010 eni-1 10.0.3.1 10.0.1.5 5000 22 17 3 400 1 2 REJECT OK"
ALL = [ACCEPT_SSH, REJECT_RDP, NODATA, SKIPDATA, FROM_1, FROM_2, FROM_2B, HTTP_BIG_REJECT, SSH_UDP_REJECT]

FIELDS = "version, accountid, interfaceid, {src}, dstaddr, srcport, {dst}, protocol, packets, {bytes}, start, end, {action}, logstatus"


def _pat(src: str = "srcaddr", dst: str = "dstport", bytes_: str = "bytes", action: str = "action") -> str:
    return "[" + FIELDS.format(src=src, dst=dst, bytes=bytes_, action=action) + "]"


def _matching(pattern: str) -> list[str]:
    mask = compile_pattern(pattern).match(pa.array(ALL))
    return [m for m, keep in zip(ALL, mask.tolist(), strict=True) if keep]


def test_spec83_all_fields_matches_every_record() -> None:
    assert _matching(_pat()) == ALL


def test_spec83_srcaddr_exact() -> None:
    assert _matching(_pat(src="srcaddr = 10.0.0.1")) == [FROM_1]


def test_spec83_srcaddr_wildcard() -> None:
    assert _matching(_pat(src="srcaddr = 10.0.2.*")) == [FROM_2, FROM_2B]


def test_spec83_dstport_or() -> None:
    assert _matching(_pat(dst="dstport = 80 || dstport = 8080")) == [FROM_1, FROM_2, FROM_2B, HTTP_BIG_REJECT]


def test_spec83_dstport_or_bytes_ge_400_action_reject() -> None:
    pattern = _pat(dst="dstport = 80 || dstport = 8080", bytes_="bytes >= 400", action="action = REJECT")
    assert _matching(pattern) == [FROM_2B, HTTP_BIG_REJECT]


def test_spec83_quoted_values_other_names() -> None:
    pattern = ('[version, account, eni, source, destination, srcport, destport="22", protocol="6", packets, '
               'bytes, windowstart, windowend, action="REJECT", flowlogstatus]')
    assert _matching(pattern) == []
    assert _matching(pattern.replace('action="REJECT"', 'action="ACCEPT"')) == [ACCEPT_SSH]
    assert _matching(pattern.replace('protocol="6"', 'protocol="17"')) == [SSH_UDP_REJECT]


def test_every_spec83_pattern_compiles() -> None:
    for p in [
        "[version, accountid, interfaceid, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, end, action, logstatus]",
        "[version, accountid, interfaceid, srcaddr = 10.0.0.1, dstaddr, srcport, dstport, protocol, packets, bytes, start, end, action, logstatus]",
        "[version, accountid, interfaceid, srcaddr = 10.0.2.*, dstaddr, srcport, dstport, protocol, packets, bytes, start, end, action, logstatus]",
        "[version, accountid, interfaceid, srcaddr, dstaddr, srcport, dstport = 80 || dstport = 8080, protocol, packets, bytes, start, end, action, logstatus]",
        "[version, accountid, interfaceid, srcaddr, dstaddr, srcport, dstport = 80 || dstport = 8080, protocol, packets, bytes >= 400, start, end, action = REJECT, logstatus]",
        '[version, account, eni, source, destination, srcport, destport="22", protocol="6", packets, bytes, windowstart, windowend, action="REJECT", flowlogstatus]',
    ]:
        assert compile_pattern(p).kind == "delimited"


def test_field_count_must_match_without_ellipsis() -> None:
    assert _matching("[a, b, c]") == []
    assert _matching("[version, ..., action = REJECT, status]") == [REJECT_RDP, FROM_2, FROM_2B, HTTP_BIG_REJECT, SSH_UDP_REJECT]
    assert _matching("[..., status = NODATA || status = SKIPDATA]") == [NODATA, SKIPDATA]
    assert _matching("[v, acct, eni = eni-abc*, ...]") == [ACCEPT_SSH, REJECT_RDP]


def test_numeric_comparisons_skip_dashes_and_compare_as_numbers() -> None:
    assert _matching("[..., bytes < 400, s, e, a, st]") == [FROM_2]
    assert _matching("[..., bytes != 400, s, e, a, st]") == [ACCEPT_SSH, REJECT_RDP, FROM_1, FROM_2, FROM_2B]
    assert _matching("[v, a, e, s, d, sp, dp = 22.0, ...]") == [ACCEPT_SSH, SSH_UDP_REJECT]
    assert _matching("[v, a, e, s, d, sp, dp > 80 && dp <= 8080, ...]") == [REJECT_RDP, FROM_2, FROM_2B]


def test_strings_not_equal_and_parentheses_and_cross_field_conditions() -> None:
    assert _matching("[..., a != ACCEPT && a != REJECT, st]") == [NODATA, SKIPDATA]
    pattern = "[v, acct, eni, src, dst, sp, dp = 22 && (proto = 17 || act = ACCEPT), proto, pk, b, s, e, act, st]"
    assert _matching(pattern) == [ACCEPT_SSH, SSH_UDP_REJECT]


def test_unstructured_terms() -> None:
    assert _matching("REJECT") == [REJECT_RDP, FROM_2, FROM_2B, HTTP_BIG_REJECT, SSH_UDP_REJECT]
    assert _matching("REJECT 10.0.2") == [FROM_2, FROM_2B]
    assert _matching("REJECT -10.0.2") == [REJECT_RDP, HTTP_BIG_REJECT, SSH_UDP_REJECT]
    assert _matching("?NODATA ?SKIPDATA") == [NODATA, SKIPDATA]
    assert _matching('"ACCEPT OK"') == [ACCEPT_SSH, FROM_1]
    assert _matching('-"ACCEPT OK" -REJECT') == [NODATA, SKIPDATA]
    assert _matching("reject") == []  # case-sensitive
    assert _matching(r"%eni-[0-9]+ %") == [FROM_1, FROM_2, FROM_2B, HTTP_BIG_REJECT, SSH_UDP_REJECT]
    assert _matching("") == ALL
    assert matcher("  ") is None


@pytest.mark.parametrize(
    "bad",
    ["[a, b", "[a = ]", "[a, , b]", "[..., x, ...]", "[a, b = 1 ||]", "[a >= x]", "[a, c = 1 && z = 2]",
     '"unterminated', "[a ... b]", "[a = (1]", "{ }", "{ x = 1 }", "{ $.x > abc }", "{ $.x IS MAYBE }",
     "{ $.x = 1 && }", "{ ($.x = 1 }", "{ $.x NOT THERE }", "{ $.x = 1"],
)
def test_invalid_patterns(bad: str) -> None:
    with pytest.raises(FilterPatternError, match="Invalid filter pattern"):
        compile_pattern(bad)


def test_scalar_and_vector_agree_and_messages_with_extra_spaces() -> None:
    p = compile_pattern("[v, ..., st = OK]")
    assert p.matches(ACCEPT_SSH)
    assert p.matches("2  x   OK")
    assert not p.matches("")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "10", "-", "7.5", "x*y"]), min_size=0, max_size=6), max_size=20),
       st.sampled_from(["[p, q = b, ...]", "[..., r >= 7]", "[p, q]", "[p = a* || p = -, ...]", "a -b", "?10 ?x"]))
def test_vectorised_equals_one_by_one(lines: list[list[str]], pattern: str) -> None:
    msgs = [" ".join(words) for words in lines]
    p = compile_pattern(pattern)
    assert p.match(pa.array(msgs, pa.string())).tolist() == [p.matches(m) for m in msgs]


JSON_MSGS = [
    '{"eventType": "UpdateTrail", "sourceIPAddress": "123.123.4.5", "status": 404, "flag": true, "n": null,'
    ' "users": [{"email": "John.Doe@example.com", "id": 1}], "actions": ["PUT", "POST", "GET"]}',
    '{"eventType": "CreateTrail", "sourceIPAddress": "10.0.0.1", "status": 200, "flag": false, "latency": 40}',
    'not json at all',
    '["a", "list"]',
    '{"status": "404"}',
]


@pytest.mark.parametrize(("pattern", "expected"), [
    ('{ $.eventType = "UpdateTrail" }', [0]),
    ("{ $.eventType = UpdateTrail }", [0]),
    ("{ $.sourceIPAddress != 123.123.* }", [1]),
    ("{ $.status = 404 }", [0]),
    ('{ $.status = "404" }', [4]),
    ("{ $.status >= 200 && $.status < 300 }", [1]),
    ("{ $.latency < 50 }", [1]),
    ("{ $.flag IS TRUE }", [0]),
    ("{ $.flag IS FALSE }", [1]),
    ("{ $.n IS NULL }", [0]),
    ("{ $.latency NOT EXISTS }", [0, 4]),
    ('{ $.users[0].email = "John.Doe@example.com" }', [0]),
    ('{ ($.users[0].id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', [0]),
    ("{ $.eventType = %Tr[a]il$% }", [0, 1]),
    ("{ $.eventType = *Trail }", [0, 1]),
    ("{ $.missing != 1 }", []),
])
def test_json_patterns(pattern: str, expected: list[int]) -> None:
    mask = compile_pattern(pattern).match(pa.array(JSON_MSGS))
    assert [i for i, m in enumerate(mask.tolist()) if m] == expected
