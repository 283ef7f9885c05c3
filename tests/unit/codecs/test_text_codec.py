"""Text codec: rendering exactly as AWS, parsing strict and lenient, header handling, properties."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.records import arrow_schema, empty_table, record_table
from vpcflow.codecs.text import (
    decode_text,
    explain_line,
    header_line,
    parse_text,
    render_lines,
    render_messages,
    render_text,
)
from vpcflow.codecs.textfiles import iter_text_file, read_text_file, write_text_file
from vpcflow.core.errors import ReadError
from vpcflow.model.fields import FIELDS, VPC_FIELD_NAMES, ValueType
from vpcflow.model.logformat import LogFormat, parse_log_format

DEFAULT = parse_log_format(None)
ACCEPT = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
NODATA = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"

# ------------------------------------------------------------------------------------------ strategies

_SAFE = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters='"')


def _values(name: str) -> st.SearchStrategy[Any]:
    f = FIELDS[name]
    if f.value_type is ValueType.STRING:
        base = st.sampled_from(f.values) if f.values else st.text(_SAFE, min_size=1, max_size=12).filter(lambda s: s != "-")
    else:
        base = st.integers(f.min_value or 0, f.max_value if f.max_value is not None else 2**31 - 1)
    return st.one_of(st.none(), base)


@st.composite
def record_tables(draw: st.DrawFn, names: list[str] | None = None) -> pa.Table:
    """A random record table: random fields (any version) in random order, random values and nulls."""
    if names is None:
        names = draw(st.lists(st.sampled_from(VPC_FIELD_NAMES), min_size=1, max_size=12, unique=True))
    rows = draw(st.integers(0, 8))
    cols = {n: draw(st.lists(_values(n), min_size=rows, max_size=rows)) for n in names}
    return record_table(names, cols, length=rows)


# ------------------------------------------------------------------------------------------- rendering


def test_render_default_records_exactly() -> None:
    table = parse_text(ACCEPT + "\n" + NODATA + "\n")
    assert render_lines(table).to_pylist() == [ACCEPT, NODATA]
    assert render_messages(table) == [ACCEPT, NODATA]
    assert render_text(table) == (HEADER + "\n" + ACCEPT + "\n" + NODATA + "\n").encode()
    assert render_text(table, header=False) == (ACCEPT + "\n" + NODATA + "\n").encode()


def test_header_line_spec_1_7() -> None:
    assert header_line(DEFAULT) == HEADER
    assert header_line(["pkt_srcaddr", "log-status"]) == "pkt-srcaddr log-status"


def test_render_built_from_numpy_columns() -> None:
    n = 3
    table = record_table(
        DEFAULT,
        {
            "version": 2,
            "account_id": "123456789010",
            "interface_id": "eni-1",
            "srcaddr": np.array(["10.0.0.1", "10.0.0.2", "10.0.0.3"], dtype=object),
            "dstaddr": None,
            "srcport": np.ma.MaskedArray(np.array([1, 2, 65535]), mask=[False, True, False]),
            "packets": np.array([0, 2**40, 7], dtype=np.int64),
            "start": np.arange(n),
            "end": np.arange(n) + 60,
            "action": pa.array(["ACCEPT", None, "REJECT"]),
            "log_status": "OK",
        },
    )
    assert table.schema == arrow_schema(DEFAULT)
    assert render_lines(table).to_pylist() == [
        "2 123456789010 eni-1 10.0.0.1 - 1 - - 0 - 0 60 ACCEPT OK",
        "2 123456789010 eni-1 10.0.0.2 - - - - 1099511627776 - 1 61 - OK",
        "2 123456789010 eni-1 10.0.0.3 - 65535 - - 7 - 2 62 REJECT OK",
    ]


@pytest.mark.parametrize("bad", ["a b", "", "x\ny", 'q"q'])
def test_render_refuses_values_that_would_break_the_line(bad: str) -> None:
    table = record_table(["account-id", "log-status"], {"account-id": [bad], "log-status": ["OK"]})
    with pytest.raises(ValueError):
        render_text(table)


def test_render_empty_table() -> None:
    assert render_text(empty_table(DEFAULT)) == (HEADER + "\n").encode()
    assert render_text(empty_table(DEFAULT), header=False) == b""
    assert render_lines(empty_table(DEFAULT)).to_pylist() == []


def test_render_chunked_columns() -> None:
    t = parse_text(ACCEPT + "\n")
    both = pa.concat_tables([t, t])
    assert render_lines(both).to_pylist() == [ACCEPT, ACCEPT]


# --------------------------------------------------------------------------------------------- parsing


def test_parse_types_and_nulls() -> None:
    read = decode_text(ACCEPT + "\n" + NODATA + "\n")
    assert not read.header
    assert read.log_format == DEFAULT
    rows = read.table.to_pylist()
    assert rows[0]["bytes"] == 4249 and rows[0]["srcport"] == 20641 and rows[0]["action"] == "ACCEPT"
    assert rows[1]["srcaddr"] is None and rows[1]["packets"] is None and rows[1]["log_status"] == "NODATA"
    assert read.table.schema == arrow_schema(DEFAULT)


def test_parse_reads_format_from_header() -> None:
    text = "version srcaddr log-status\n3 10.0.0.1 OK\n"
    read = decode_text(text)
    assert read.header
    assert read.log_format.fields == ("version", "srcaddr", "log-status")
    assert read.table.to_pylist() == [{"version": 3, "srcaddr": "10.0.0.1", "log_status": "OK"}]


def test_header_must_match_given_format() -> None:
    with pytest.raises(ReadError) as info:
        decode_text("version srcaddr\n2 10.0.0.1\n", "${version} ${dstaddr}", source="f.log")
    assert info.value.line_number == 1 and info.value.source == "f.log"


def test_header_only_and_empty_input() -> None:
    assert decode_text(HEADER + "\n").table.num_rows == 0
    assert decode_text(b"").table.num_rows == 0
    assert decode_text(HEADER).header


def test_no_trailing_newline_and_crlf() -> None:
    assert parse_text(ACCEPT).num_rows == 1
    t = parse_text(ACCEPT + "\r\n" + NODATA + "\r\n")
    assert render_lines(t).to_pylist() == [ACCEPT, NODATA]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (ACCEPT.replace(" 22 ", "  22 "), "found 15"),
        (ACCEPT + " ", "found 15"),
        (" " + ACCEPT, "found 15"),
        (ACCEPT.replace(" OK", ""), "found 13"),
        (ACCEPT.replace(" 20641 ", " 020641 "), "srcport"),
        (ACCEPT.replace(" 20641 ", " +20641 "), "srcport"),
        (ACCEPT.replace(" 20641 ", " -1 "), "srcport"),
        (ACCEPT.replace(" 20641 ", " 65536 "), "outside 0..65535"),
        (ACCEPT.replace(" 6 20 ", " 256 20 "), "protocol"),
        (ACCEPT.replace(" 4249 ", " 9223372036854775808 "), "bytes"),
        (ACCEPT.replace(" 4249 ", " 42.5 "), "bytes"),
        (ACCEPT.replace("ACCEPT", "ALLOW"), "action"),
        (ACCEPT.replace(" OK", " ok"), "log-status"),
        (ACCEPT.replace("2 ", "1 ", 1), "version"),
        ("", "found 1"),
    ],
)
def test_strict_mode_names_the_bad_line(line: str, why: str) -> None:
    text = f"{HEADER}\n{ACCEPT}\n{line}\n{NODATA}\n"
    with pytest.raises(ReadError) as info:
        decode_text(text, source="s3://b/k.log")
    err = info.value
    assert err.line_number == 3
    assert err.raw == line
    assert err.source == "s3://b/k.log"
    assert why in str(err)
    assert explain_line(line, DEFAULT) != ""


def test_largest_int64_is_accepted() -> None:
    line = ACCEPT.replace(" 4249 ", " 9223372036854775807 ")
    assert render_lines(parse_text(line)).to_pylist() == [line]


def test_lenient_mode_repairs_spaces_and_skips_the_rest() -> None:
    doubled = ACCEPT.replace(" 22 ", "  22 ")
    garbage = "this is not a record"
    text = f"{ACCEPT}\n{doubled}\n{garbage}\n{NODATA}\n{ACCEPT.replace('ACCEPT', 'MAYBE')}\n"
    read = decode_text(text, lenient=True)
    assert read.repaired == 1
    assert read.skipped == 2
    assert [n for n, _ in read.skipped_lines] == [3, 5]
    assert read.skipped_lines[0][1] == garbage
    assert render_lines(read.table).to_pylist() == [ACCEPT, ACCEPT, NODATA]


def test_lenient_mode_is_a_no_op_on_clean_input() -> None:
    read = decode_text(ACCEPT + "\n", lenient=True)
    assert (read.skipped, read.repaired, read.table.num_rows) == (0, 0, 1)


def test_invalid_utf8_is_malformed() -> None:
    bad = ACCEPT.encode().replace(b"eni-", b"en\xff-")
    with pytest.raises(ReadError) as info:
        decode_text(ACCEPT.encode() + b"\n" + bad + b"\n")
    assert info.value.line_number == 2
    read = decode_text(ACCEPT.encode() + b"\n" + bad + b"\n", lenient=True)
    assert read.skipped == 1 and read.table.num_rows == 1


def test_string_dash_reads_as_null() -> None:
    t = parse_text("- eni-1\n", "${instance-id} ${interface-id}")
    assert t.to_pylist() == [{"instance_id": None, "interface_id": "eni-1"}]


def test_files_plain_and_gzip(tmp_path: Path) -> None:
    table = parse_text(ACCEPT + "\n" + NODATA + "\n")
    for name in ("a.log", "a.log.gz"):
        p = tmp_path / name
        write_text_file(p, table)
        read = read_text_file(p)
        assert read.header and read.table.equals(table)
    raw = (tmp_path / "a.log.gz").read_bytes()
    assert gzip.decompress(raw) == render_text(table)
    # headerless and multi-member gzip
    p = tmp_path / "b.log.gz"
    p.write_bytes(gzip.compress((ACCEPT + "\n").encode()) + gzip.compress((NODATA + "\n").encode()))
    assert render_lines(read_text_file(p).table).to_pylist() == [ACCEPT, NODATA]
    q = tmp_path / "broken.log.gz"
    q.write_bytes(raw[:20])
    with pytest.raises(ReadError):
        read_text_file(q)


def test_large_input_with_one_bad_line_is_located_fast() -> None:
    n = 50_000
    lines = [ACCEPT] * n
    lines[31_337] = ACCEPT.replace("ACCEPT", "ACEPT")
    text = "\n".join(lines) + "\n"
    with pytest.raises(ReadError) as info:
        decode_text(text)
    assert info.value.line_number == 31_338
    read = decode_text(text, lenient=True)
    assert read.skipped == 1 and read.table.num_rows == n - 1


# ------------------------------------------------------------------------------------------ properties


@settings(max_examples=150, deadline=None)
@given(record_tables())
def test_render_then_parse_is_identity(table: pa.Table) -> None:
    fmt = LogFormat.from_fields(table.column_names)
    text = render_text(table)
    read = decode_text(text)
    assert read.log_format == fmt
    assert read.table.equals(table)
    assert render_text(read.table) == text
    # without header, with the format given
    assert parse_text(render_text(table, header=False), fmt).equals(table)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_non_canonical_integer_anywhere_is_caught_at_its_line(data: st.DataObject) -> None:
    """The fast path checks canonical integers by line length; the slow path must agree on the line."""
    fmt = parse_log_format("${version} ${srcport} ${packets} ${account-id} ${bytes}")
    rows = data.draw(st.lists(st.tuples(st.integers(2, 11), st.integers(0, 65535), st.integers(0, 2**40),
                                        st.integers(0, 2**62)), min_size=1, max_size=30))
    lines = [f"{v} {p} {n} 123456789012 {b}" for v, p, n, b in rows]
    target = data.draw(st.integers(0, len(lines) - 1))
    column = data.draw(st.sampled_from([0, 1, 2, 4]))
    prefix = data.draw(st.sampled_from(["0", "+", "00"]))
    tokens = lines[target].split(" ")
    tokens[column] = prefix + tokens[column]
    lines[target] = " ".join(tokens)
    with pytest.raises(ReadError) as info:
        decode_text("\n".join(lines) + "\n", fmt)
    assert info.value.line_number == target + 1
    read = decode_text("\n".join(lines) + "\n", fmt, lenient=True)
    assert read.skipped == 1 and read.table.num_rows == len(lines) - 1


@pytest.mark.parametrize("suffix", [".log", ".log.gz"])
def test_iter_text_file_in_small_pieces(tmp_path: Path, suffix: str) -> None:
    lines = [ACCEPT.replace("20641", str(1000 + i)) for i in range(200)]
    body = (HEADER + "\n" + "\n".join(lines)).encode()  # no final newline
    p = tmp_path / f"x{suffix}"
    p.write_bytes(gzip.compress(body) if suffix.endswith(".gz") else body)
    reads = list(iter_text_file(p, chunk_bytes=1000))
    assert len(reads) > 10
    assert all(r.log_format == DEFAULT for r in reads)
    got = [line for r in reads for line in render_lines(r.table).to_pylist()]
    assert got == lines


def test_iter_text_file_line_numbers_across_pieces(tmp_path: Path) -> None:
    lines = [ACCEPT] * 100
    lines[76] = "broken line"
    p = tmp_path / "x.log"
    p.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    with pytest.raises(ReadError) as info:
        list(iter_text_file(p, chunk_bytes=700))
    assert info.value.line_number == 78 and info.value.raw == "broken line"
    reads = list(iter_text_file(p, chunk_bytes=700, lenient=True))
    assert sum(r.skipped for r in reads) == 1
    assert [n for r in reads for n, _ in r.skipped_lines] == [78]
    assert sum(r.table.num_rows for r in reads) == 99


def test_iter_text_file_empty(tmp_path: Path) -> None:
    p = tmp_path / "e.log"
    p.write_bytes(b"")
    reads = list(iter_text_file(p))
    assert len(reads) == 1 and reads[0].table.num_rows == 0


def test_carriage_return_inside_a_line_is_malformed() -> None:
    bad = ACCEPT.replace("eni-", "en\ri-")
    with pytest.raises(ReadError) as info:
        decode_text(f"{ACCEPT}\n{bad}\n")
    assert info.value.line_number == 2 and "carriage return" in str(info.value)
    assert decode_text(f"{ACCEPT}\n{bad}\n", lenient=True).skipped == 1


_GARBAGE_LINES = st.lists(
    st.one_of(
        st.just(ACCEPT), st.just(NODATA), st.just(ACCEPT.replace(" 22 ", "  22 ")),
        st.text(st.sampled_from("0123456789 -abcAEIOUKCPT.:\r\t\u00e9"), max_size=40),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(_GARBAGE_LINES, st.booleans())
def test_arbitrary_input_reads_or_fails_cleanly(lines: list[str], crlf: bool) -> None:
    """Lenient reading never fails; strict reading fails only with ReadError; kept lines are valid."""
    text = ("\r\n" if crlf else "\n").join(lines)
    read = decode_text(text, DEFAULT, lenient=True, header=False)
    rendered = render_lines(read.table).to_pylist()
    assert all(explain_line(line, DEFAULT) == "" for line in rendered)
    assert read.table.num_rows + read.skipped == len(text.split("\n")) - (1 if text.endswith("\n") else 0) or not text
    try:
        strict = decode_text(text, DEFAULT, header=False)
    except ReadError as e:
        assert e.line_number >= 1
    else:
        assert strict.table.equals(read.table) and read.skipped == 0


def test_a_record_whose_values_are_field_names_is_a_record_when_the_format_is_given() -> None:
    """With the format given, a first line made of field names that is a valid record of that format
    is read as a record (a string value may happen to be a field name); one that is not valid is a
    header that does not match the format."""
    fmt = LogFormat.from_fields(["interface-id"])
    table = record_table(["interface-id"], {"interface-id": ["tgw-src-eni", "eni-1"]})
    assert parse_text(render_text(table, header=False), fmt).equals(table)
    with pytest.raises(ReadError, match="header line does not match"):
        parse_text(b"dstport\n80\n", parse_log_format("${srcport}"))
