"""The native renderer (native/src/render) against the Arrow-kernel oracle (render_oracle.py): record
text and side-channel JSON lines byte for byte over random tables (nulls, slices with offsets, chunked
columns, dictionary columns, int extremes, unicode), and the values it refuses (spec 1.1: one space
between values, ``-`` for null; a value holding a space, a quote or a line break would corrupt the line)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import render_oracle
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.text import render_lines, render_text, render_text_chunks
from vpcflow.dataplane.side_channel import json_chunks, json_lines

INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
INDEX_TYPES = [pa.int8(), pa.int16(), pa.int32()]
#: text values a flow-log line can hold: no space, double quote, CR or LF; unicode welcome.
TEXT_OK = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=' "\r\n'), min_size=1, max_size=8)
#: anything Arrow holds (no lone surrogates): for JSON, every escape json.dumps makes.
TEXT_ANY = st.one_of(st.text(max_size=8), st.sampled_from(['a"b\\c', "\x00\x1f\x7f", "é€\u2028", "\U0001f600"]))


def _int_values(t: pa.DataType) -> st.SearchStrategy[int]:
    info = np.iinfo(t.to_pandas_dtype())
    lo, hi = int(info.min), int(info.max)
    return st.one_of(st.sampled_from([lo, hi, 0, -1 if lo < 0 else 1]), st.integers(lo, hi))


@st.composite
def _column(draw: Any, n: int, text: st.SearchStrategy[str]) -> pa.Array | pa.ChunkedArray:
    """A column of ``n`` values: an integer, string, large_string or dictionary column, with nulls,
    maybe a slice of a longer array (offset != 0), maybe in chunks."""
    kind = draw(st.sampled_from(["int", "string", "large_string", "dictionary"]))
    pad = draw(st.integers(0, 3))  # rows before the slice
    total = n + pad + draw(st.integers(0, 2))
    if kind == "int":
        t = draw(st.sampled_from(INT_TYPES))
        vals = draw(st.lists(st.one_of(st.none(), _int_values(t)), min_size=total, max_size=total))
        arr = pa.array(vals, type=t)
    else:
        vals = draw(st.lists(st.one_of(st.none(), text), min_size=total, max_size=total))
        arr = pa.array(vals, type=pa.large_string() if kind == "large_string" else pa.string())
        if kind == "dictionary":
            arr = pc.dictionary_encode(arr).cast(pa.dictionary(draw(st.sampled_from(INDEX_TYPES)), pa.string()))
    arr = arr.slice(pad, n)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    if not cuts:
        return arr
    bounds = [0, *cuts, n]
    return pa.chunked_array([arr.slice(a, b - a) for a, b in itertools.pairwise(bounds)], type=arr.type)


@st.composite
def _tables(draw: Any, text: st.SearchStrategy[str], min_columns: int = 1) -> pa.Table:
    n = draw(st.integers(0, 30))
    width = draw(st.integers(min_columns, 6))
    cols = [draw(_column(n, text)) for _ in range(width)]
    return pa.table(cols, names=[f"c_{i}" for i in range(width)])


@settings(max_examples=300, deadline=None)
@given(_tables(TEXT_OK))
def test_text_lines_equal_the_arrow_oracle(table: pa.Table) -> None:
    expected = render_oracle.text_lines(table)
    assert render_text(table, header=False) == expected
    assert render_text(table) == (" ".join(table.column_names).replace("_", "-") + "\n").encode() + expected
    assert b"".join(render_text_chunks(table, header=False, slice_rows=7)) == expected
    assert render_lines(table).to_pylist() == [ln.decode() for ln in expected.split(b"\n")[:-1]]


@settings(max_examples=200, deadline=None)
@given(_tables(TEXT_OK), st.data())
def test_rows_by_index_render_as_the_gathered_rows(table: pa.Table, data: st.DataObject) -> None:
    """A ``RowSelection`` renders by its row indexes: the text of ``table.take(rows)``."""
    rows = np.array(data.draw(st.lists(st.integers(0, max(table.num_rows - 1, 0)),
                                       max_size=40 if table.num_rows else 0)), dtype=np.int64)
    got = b"".join(render_text_chunks(table, header=False, slice_rows=5, rows=rows))
    assert got == render_oracle.text_lines(table.take(pa.array(rows, type=pa.int64())))


@settings(max_examples=300, deadline=None)
@given(_tables(TEXT_ANY, min_columns=0), st.integers(1, 9))
def test_json_lines_equal_json_dumps_of_each_row(table: pa.Table, slice_rows: int) -> None:
    expected = render_oracle.json_lines(table)
    assert json_lines(table) == expected
    assert b"".join(json_chunks(table, slice_rows)) == "".join(expected).encode()


def test_json_lines_of_other_types_are_json_dumps_too() -> None:
    table = pa.table({"f": pa.array([1.5, None, -0.0]), "b": pa.array([True, False, None]),
                      "k\u00e9y \"q\"": pa.array(["x", None, "\u00e9"])})
    assert json_lines(table) == render_oracle.json_lines(table)


def test_int_extremes_render_in_plain_decimal() -> None:
    table = pa.table({"a": pa.array([-(2**63), 2**63 - 1, None], pa.int64()),
                      "b": pa.array([0, 2**64 - 1, 7], pa.uint64()), "c": pa.array([-128, 127, 0], pa.int8())})
    text = b"-9223372036854775808 0 -128\n9223372036854775807 18446744073709551615 127\n- 7 0\n"
    assert render_text(table, header=False) == text == render_oracle.text_lines(table)


# ------------------------------------------------------------------------------------------- refusals

BAD = {"empty": "", "space": "a b", "quote": 'a"b', "newline": "a\nb", "carriage return": "a\rb"}


def _holding(value: str, kind: str) -> pa.Table:
    good = pa.array(["ok", value, None])
    col = {"string": good, "large_string": good.cast(pa.large_string()),
           "dictionary": pc.dictionary_encode(good), "chunked": pa.chunked_array([good.slice(0, 1), good.slice(1)])}[kind]
    return pa.table({"version": pa.array([2, 2, 2], pa.int32()), "rule_name": col})


@pytest.mark.parametrize("kind", ["string", "large_string", "dictionary", "chunked"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_values_a_line_cannot_hold_are_refused_naming_the_column(case: str, kind: str) -> None:
    table = _holding(BAD[case], kind)
    with pytest.raises(ValueError):
        render_oracle.text_lines(table)  # what the Arrow renderer refused, refused the same way
    for render in (lambda t: render_text(t), lambda t: render_lines(t),
                   lambda t: b"".join(render_text_chunks(t, rows=np.array([1], np.int64)))):
        with pytest.raises(ValueError, match="column 'rule_name'"):
            render(table)


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_refused_value_not_rendered_is_no_error(case: str) -> None:
    """Only rendered values count: a null slot, an unused dictionary entry, a row not selected."""
    table = _holding(BAD[case], "dictionary")
    assert render_text(table.slice(2), header=False) == b"2 -\n" == render_oracle.text_lines(table.slice(2))
    assert b"".join(render_text_chunks(table, header=False, rows=np.array([2, 0], np.int64))) == b"2 -\n2 ok\n"


def test_a_column_of_another_type_is_a_type_error_naming_it() -> None:
    table = pa.table({"version": [2], "score": pa.array([1.5])})
    with pytest.raises(TypeError, match="column 'score' has type double"):
        render_oracle.text_lines(table)
    with pytest.raises(TypeError, match="column 'score' has type double"):
        render_text(table)


def test_a_row_index_outside_the_table_is_a_value_error() -> None:
    table = pa.table({"version": pa.array([2, 2], pa.int32())})
    with pytest.raises(ValueError, match="row 5 is outside"):
        b"".join(render_text_chunks(table, rows=np.array([0, 5], np.int64)))


@pytest.mark.parametrize("seed", [0, 1])
def test_tables_longer_than_a_render_batch_equal_the_oracle(seed: int) -> None:
    """The renderer works a batch of rows (2,048) at a time: lines across batch and chunk edges."""
    rng = np.random.default_rng(seed)
    n = 5_000
    nulls = rng.random(n) < 0.1
    words = np.array(["eni-0a", "ACCEPT", "REJECT", "naïve", "x" * 40, "-"], dtype=object)
    text = pa.array(np.where(nulls, None, words[rng.integers(0, len(words), n)]), type=pa.string())
    ints = pa.array(rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64), mask=rng.random(n) < 0.1)
    bounds = [0, 7, 2_100, 2_100, 4_999, n]
    table = pa.table({
        "a": pa.chunked_array([ints.slice(a, b - a) for a, b in itertools.pairwise(bounds)]),
        "b": text, "c": pc.dictionary_encode(text), "d": pa.array(rng.integers(0, 65536, n).astype(np.uint16)),
    })
    expected = render_oracle.text_lines(table)
    assert render_text(table, header=False) == expected
    assert render_lines(table).to_pylist() == [ln.decode() for ln in expected.split(b"\n")[:-1]]
    rows = rng.integers(0, n, 7_000).astype(np.int64)
    got = b"".join(render_text_chunks(table, header=False, slice_rows=4_500, rows=rows))
    assert got == render_oracle.text_lines(table.take(pa.array(rows)))
    assert json_lines(table) == render_oracle.json_lines(table)


def test_row_indexes_of_any_integer_dtype_or_stride_are_taken() -> None:
    table = pa.table({"v": pa.array([10, 11, 12, 13], pa.int32())})
    rows = np.array([3, 9, 1, 9, 0], dtype=np.int32)[::2]  # a strided int32 view: 3, 1, 0
    assert b"".join(render_text_chunks(table, header=False, rows=rows)) == b"13\n11\n10\n"
