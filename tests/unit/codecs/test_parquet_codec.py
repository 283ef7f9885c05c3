"""Parquet codec: AWS column names and types, GZIP, text -> Parquet -> text byte-identical."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.parquet import parquet_bytes, read_parquet, read_parquet_format, write_parquet
from vpcflow.codecs.records import log_format_of, record_table
from vpcflow.codecs.text import decode_text, parse_text, render_text
from vpcflow.core.errors import ReadError
from vpcflow.model.fields import FIELDS, VPC_FIELD_NAMES, VPC_FIELDS, ValueType

ACCEPT = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
NODATA = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
_PHYSICAL = {"INT_32": "INT32", "INT_64": "INT64", "STRING": "BYTE_ARRAY"}


def test_schema_names_types_and_gzip(tmp_path: Path) -> None:
    every = [f.name for f in VPC_FIELDS]
    table = record_table(every, {"version": [11], "log-status": ["OK"]})
    path = tmp_path / "x.log.parquet"
    write_parquet(table, path)
    meta = pq.ParquetFile(path).metadata
    schema = meta.schema
    for i, f in enumerate(VPC_FIELDS):
        col = schema.column(i)
        assert col.name == f.column  # spec 4: '-' -> '_'
        assert col.physical_type == _PHYSICAL[f.parquet_type], f.name
        if f.value_type is ValueType.STRING:
            assert str(col.logical_type) == "String"
        assert col.max_definition_level == 1  # nullable
    assert {meta.row_group(0).column(i).compression for i in range(len(every))} == {"GZIP"}
    assert read_parquet_format(path).fields == tuple(every)


def test_text_parquet_text_round_trip_bytes() -> None:
    text = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
            f"action log-status\n{ACCEPT}\n{NODATA}\n").encode()
    table = decode_text(text).table
    back = read_parquet(parquet_bytes(table))
    assert back.equals(table)
    assert render_text(back) == text


def test_read_subset_and_file_object() -> None:
    table = parse_text(ACCEPT + "\n")
    buf = io.BytesIO()
    write_parquet(table, buf)
    buf.seek(0)
    sub = read_parquet(buf, columns=["log-status", "srcaddr"])
    assert sub.column_names == ["log_status", "srcaddr"]


def test_write_conforms_column_types() -> None:
    # int64 values for an int32 field are cast losslessly; a lossy cast fails.
    t = pa.table({"srcport": pa.array([80], pa.int64()), "log_status": ["OK"]})
    assert read_parquet(parquet_bytes(t)).schema.field("srcport").type == pa.int32()
    with pytest.raises(pa.ArrowInvalid):
        parquet_bytes(pa.table({"srcport": pa.array([2**40], pa.int64())}))


def test_not_flow_log_parquet(tmp_path: Path) -> None:
    p = tmp_path / "other.parquet"
    pq.write_table(pa.table({"colour": ["red"]}), p)
    with pytest.raises(ReadError, match="not a flow-log Parquet file"):
        read_parquet(p)
    q = tmp_path / "junk.parquet"
    q.write_bytes(b"not parquet")
    with pytest.raises(ReadError, match="not a readable Parquet file"):
        read_parquet(q)


def test_deterministic_bytes() -> None:
    table = parse_text(ACCEPT + "\n" + NODATA + "\n")
    assert parquet_bytes(table) == parquet_bytes(table)


_SAFE = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters='"')


def _values(name: str) -> st.SearchStrategy[Any]:
    f = FIELDS[name]
    if f.value_type is ValueType.STRING:
        base = st.sampled_from(f.values) if f.values else st.text(_SAFE, min_size=1, max_size=10).filter(lambda s: s != "-")
    else:
        base = st.integers(f.min_value or 0, f.max_value if f.max_value is not None else 2**31 - 1)
    return st.one_of(st.none(), base)


@st.composite
def record_tables(draw: st.DrawFn) -> pa.Table:
    names = draw(st.lists(st.sampled_from(VPC_FIELD_NAMES), min_size=1, max_size=12, unique=True))
    rows = draw(st.integers(0, 6))
    return record_table(names, {n: draw(st.lists(_values(n), min_size=rows, max_size=rows)) for n in names},
                        length=rows)


@settings(max_examples=100, deadline=None)
@given(record_tables())
def test_text_to_parquet_to_text_is_identity(table: pa.Table) -> None:
    text = render_text(table)
    from_text = decode_text(text).table
    back = read_parquet(parquet_bytes(from_text))
    assert back.equals(table)
    assert render_text(back) == text


def test_streaming_writer_and_reader(tmp_path: Path) -> None:
    from vpcflow.codecs.parquet import ParquetRecordWriter, iter_parquet
    from vpcflow.model.logformat import parse_log_format

    fmt = parse_log_format(None)
    t = parse_text(ACCEPT + "\n" + NODATA + "\n")
    p = tmp_path / "s.log.parquet"
    with ParquetRecordWriter(p, fmt) as w:
        for _ in range(5):
            w.write(t)
        w.write(t.slice(0, 0))
    assert w.rows == 10
    pieces = list(iter_parquet(p, batch_rows=3))
    assert sum(x.num_rows for x in pieces) == 10
    assert pa.concat_tables(pieces).equals(pa.concat_tables([t] * 5))
    empty = tmp_path / "e.parquet"
    with ParquetRecordWriter(empty, fmt):
        pass
    assert [x.num_rows for x in iter_parquet(empty)] == [0]
    assert read_parquet(empty).schema.names == list(fmt.columns)


def _page_encodings(meta: Any) -> set[str]:
    return {e for rg in range(meta.num_row_groups) for c in range(meta.num_columns)
            for e in meta.row_group(rg).column(c).encodings}


def _mixed_table() -> pa.Table:
    lines = [ACCEPT, NODATA, ACCEPT.replace("ACCEPT", "REJECT").replace("20641", "20642")] * 50
    return parse_text("\n".join(lines) + "\n")


def test_parquet_is_readable_by_old_readers_v1_pages_plain_dictionary() -> None:
    """Issue 11 item 6: AWS's Parquet objects are read by tools with old Parquet readers
    (flowlogs-reader's ``parquet`` package: version-1 data pages, PLAIN_DICTIONARY only)."""
    data = parquet_bytes(_mixed_table())
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert "RLE_DICTIONARY" not in _page_encodings(meta)
    assert "PLAIN_DICTIONARY" in _page_encodings(meta)  # dictionary encoding kept
    assert meta.format_version == "1.0"


def test_parquet_record_writer_writes_the_same_old_reader_encodings(tmp_path: Path) -> None:
    from vpcflow.codecs.parquet import ParquetRecordWriter

    table = _mixed_table()
    with ParquetRecordWriter(tmp_path / "x.parquet", log_format_of(table)) as w:
        w.write(table)
    meta = pq.ParquetFile(tmp_path / "x.parquet").metadata
    assert "RLE_DICTIONARY" not in _page_encodings(meta)
    assert meta.format_version == "1.0"


def test_old_parquet_reader_reads_every_value() -> None:
    """The pure-Python ``parquet`` package (what flowlogs-reader uses) reads the same values back."""
    parquet = pytest.importorskip("parquet")
    table = _mixed_table()
    rows = list(parquet.DictReader(io.BytesIO(parquet_bytes(table))))
    assert len(rows) == table.num_rows
    expected = table.to_pylist()
    for got, want in zip(rows, expected, strict=True):
        assert {k: got[k] for k in want} == want
