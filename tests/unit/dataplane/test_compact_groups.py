"""The S3 sink holds its open 5-minute groups compact (issue 10) and still delivers the same bytes.

``sinks/compact.py`` dictionary-encodes the repeating string columns of the records a sink holds.
The properties: a compact table sorts (canonical order, docs/bulk.md) and renders exactly as the
text table it stands for, whatever the values, nulls and the split into writes (each with its own
dictionary); Parquet objects see the original schema; and the compact table is smaller.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.records import record_table
from vpcflow.codecs.text import render_text
from vpcflow.dataplane.sinks import s3_common
from vpcflow.dataplane.sinks.base import canonical_order
from vpcflow.dataplane.sinks.compact import canonical_rows, compact_records, concat_held, plain_records
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
from vpcflow.dataplane.sinks.s3_common import gzip_text, render_objects
from vpcflow.model.fields import DEFAULT_FIELDS
from vpcflow.model.flowlog import DestinationOptions, FlowLog
from vpcflow.storage.bucketstore import BucketStore

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
T0 = 1_700_000_000 - 1_700_000_000 % 300

# Values that sort differently as text than by first appearance, prefixes of each other, and nulls.
WORDS = st.sampled_from(["eni-b", "eni-a", "eni-ab", "eni-0", "ACCEPT", "REJECT", "x", None])
ROW = st.tuples(WORDS, WORDS, st.integers(0, 3), st.sampled_from(["10.0.0.9", "10.0.0.10", None]))


def _table(rows: list[tuple[str | None, str | None, int, str | None]]) -> pa.Table:
    return pa.table({
        "interface_id": pa.array([r[0] for r in rows], pa.string()),
        "action": pa.array([r[1] for r in rows], pa.string()),
        "packets": pa.array([r[2] for r in rows], pa.int64()),
        "srcaddr": pa.array([r[3] for r in rows], pa.string()),
    })


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, min_size=0, max_size=40), st.lists(st.integers(0, 40), max_size=4))
def test_compact_groups_sort_and_render_as_their_text(rows: list, cuts: list[int]) -> None:
    table = _table(rows)
    bounds = sorted({0, len(rows), *(c for c in cuts if c <= len(rows))})
    # One compact table per write, each with its own dictionary, as the sink holds them.
    held = pa.concat_tables([compact_records(table.slice(a, b - a)) for a, b in itertools.pairwise(bounds)]
                            or [compact_records(table)])
    assert pa.types.is_dictionary(held.schema.field("interface_id").type)
    assert pa.types.is_string(held.schema.field("srcaddr").type)  # addresses stay text
    expected = canonical_order(table)
    got = canonical_order(held)
    assert plain_records(got).equals(expected)
    filled = [c.fill_null("-") if pa.types.is_string(c.type) else c for c in table.columns]
    if rows and all(v is not None for v in table.column("packets").to_pylist()):
        assert render_text(canonical_order(pa.table(filled, names=table.column_names))) == \
            render_text(canonical_order(compact_records(pa.table(filled, names=table.column_names))))


def _records(n: int, minutes: int = 7) -> pa.Table:
    i = np.arange(n)
    return record_table(DEFAULT_FIELDS, {
        "version": 2, "account_id": "123456789012", "interface_id": np.char.add("eni-0", (i % 9).astype(str)),
        "srcaddr": np.char.add("10.0.", (i % 251).astype(str)), "dstaddr": "10.0.0.2", "srcport": 1024 + i,
        "dstport": 443, "protocol": 6, "packets": 1 + i % 3, "bytes": 60, "start": T0 + (i % minutes) * 60,
        "end": T0 + (i % minutes) * 60 + 59, "action": np.where(i % 5 == 0, "REJECT", "ACCEPT"), "log_status": "OK"})


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 400), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_closed_groups_render_a_slice_of_rows_at_a_time(gather: int, writes: int, seed: int) -> None:
    """A group rendered from its canonical rows (by row index, nothing gathered), ``gather`` rows at a
    time, in parts cut to a small object size: the objects of the sorted copy of the text records
    (issue 10)."""
    records = _records(900).take(pa.array(np.random.default_rng(seed).permutation(900)))
    bounds = np.linspace(0, 900, writes + 1).astype(int).tolist()
    held = pa.concat_tables([compact_records(records.slice(a, b - a)) for a, b in itertools.pairwise(bounds)])
    rows = np.flatnonzero(np.asarray(held.column("end")) < T0 + 300).astype(np.int64)
    expected = canonical_order(records.take(pa.array(rows)))
    old = s3_common.COMPRESS_SLICE_ROWS
    s3_common.COMPRESS_SLICE_ROWS = gather
    try:
        selection = canonical_rows(held, rows)
        assert gzip_text(selection) == gzip_text(expected)
        fl = _flow_log("plain-text")
        got = render_objects(fl, selection, T0, max_object_bytes=2_000, run_id="r")
    finally:
        s3_common.COMPRESS_SLICE_ROWS = old
    assert len(got) > 1
    assert got == render_objects(fl, expected, T0, max_object_bytes=2_000, run_id="r")


def test_compact_records_take_less_memory() -> None:
    records = _records(20_000)
    assert compact_records(records).nbytes < 0.8 * records.nbytes


def _flow_log(file_format: str) -> FlowLog:
    return FlowLog("fl-0000000000000000a", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
                   log_destination="arn:aws:s3:::bucket",
                   destination_options=DestinationOptions(file_format=file_format))  # type: ignore[arg-type]


def _delivered(folder: Path, fl: FlowLog, records: pa.Table) -> dict[str, bytes]:
    store = BucketStore(folder / "s3")
    store.create_bucket("bucket")
    sink = LocalBucketSink(store, run_id="r")
    for a in range(0, records.num_rows, 700):
        sink.write(fl, records.slice(a, 700))
    sink.close()
    return {p.name: p.read_bytes() for p in (folder / "s3" / "bucket").rglob("*.log.*")}


def test_s3_objects_are_those_of_the_text_tables(tmp_path: Path) -> None:
    """Text and Parquet objects: the bytes ``render_objects`` makes from the plain text records."""
    records = _records(3_000)
    ends = np.asarray(records.column("end"))
    for fmt in ("plain-text", "parquet"):
        fl = _flow_log(fmt)
        got = _delivered(tmp_path / fmt, fl, records)
        expected = {}
        for period in sorted(set((ends - ends % 300).tolist())):
            group = records.filter(pa.array(ends - ends % 300 == period))
            for obj in render_objects(fl, canonical_order(group), period, max_object_bytes=75 << 20, run_id="r"):
                expected[obj.key.rsplit("/", 1)[-1]] = obj.data
        assert got == expected
        assert len(got) == 2


def test_flushes_as_windows_close_deliver_the_objects_of_one_final_flush(tmp_path: Path) -> None:
    """Records written a window at a time (and a few writes spanning two periods), flushed after each
    write as a run does: every 5-minute group delivered once it cannot grow, the same objects as
    holding everything to the end."""
    records = _records(3_000, minutes=20)
    ends = np.asarray(records.column("end"))
    order = np.argsort(ends, kind="stable")
    records, ends = records.take(pa.array(order)), ends[order]
    fl = _flow_log("plain-text")
    store = BucketStore(tmp_path / "s3")
    store.create_bucket("bucket")
    sink = LocalBucketSink(store, run_id="r")
    delivered_at: list[int] = []
    for a in range(0, records.num_rows, 400):
        part = records.slice(a, 400)
        sink.write(fl, part)
        watermark = int(ends[min(a + 400, len(ends)) - 1]) + 1
        delivered_at.append(len(sink.flush(watermark)))
    sink.close()
    got = {p.name: p.read_bytes() for p in (tmp_path / "s3" / "bucket").rglob("*.log.*")}
    assert got == _delivered(tmp_path / "once", fl, records)
    assert sum(delivered_at) >= 2  # groups went before the end


def test_a_flush_with_no_closed_group_leaves_the_held_tables_alone(tmp_path: Path) -> None:
    records = _records(1_000)
    records = records.filter(pa.array(np.asarray(records.column("end")) < T0 + 300))  # one 5-minute group
    fl = _flow_log("plain-text")
    store = BucketStore(tmp_path / "s3")
    store.create_bucket("bucket")
    sink = LocalBucketSink(store, run_id="r")
    sink.write(fl, records.slice(0, 300))
    sink.write(fl, records.slice(300))
    held = list(sink._tables[fl.flow_log_id])
    assert sink.flush(T0 + 120) == []
    assert len(sink._tables[fl.flow_log_id]) == 2
    assert all(a is b for a, b in zip(sink._tables[fl.flow_log_id], held, strict=True))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3 * 300 - 1), max_size=200))
def test_a_flush_numbers_each_periods_rows_as_a_stable_sort_by_period_did(offsets: list[int]) -> None:
    # s3_common.period_rows: the rows of each 5-minute period in ascending order, periods ascending,
    # without the argsort's arrays (issue 10, memory when a group closes).
    ends = np.array([T0 + o for o in offsets], dtype=np.int64)
    periods = ends - ends % 300
    order = np.argsort(periods, kind="stable")
    expected = [(order[periods[order] == p].tolist(), int(p)) for p in sorted(set(periods.tolist()))]
    periods_rows = s3_common.period_rows(ends.copy())
    # a single period is every row (None): its rows are not numbered
    assert [rows is None for rows, _ in periods_rows] == ([True] if len(expected) == 1 else [False] * len(expected))
    got = [(list(range(len(ends))) if rows is None else rows.tolist(), p) for rows, p in periods_rows]
    assert got == expected


def test_held_records_are_narrow_and_plain_records_restores_the_record_types() -> None:
    records = _records(5_000)
    held = compact_records(records)
    assert held.schema.field("srcport").type == pa.uint16()
    # a window's record times repeat: a dictionary of 32-bit seconds, 8-bit indexes
    assert held.schema.field("end").type == pa.dictionary(pa.int8(), pa.uint32())
    assert held.schema.field("interface_id").type == pa.dictionary(pa.int8(), pa.string())
    assert held.nbytes < 0.6 * records.nbytes  # 94 -> about 46 bytes a record of the default format
    plain = plain_records(held)
    assert plain.schema == records.schema
    assert plain.equals(records)


def test_a_value_too_wide_for_its_held_type_is_held_wide_and_renders_the_same(tmp_path: Path) -> None:
    # A flow that moved 4 GB in one window, and a time after 2106: the table keeps int64 for them, and
    # the group (held tables of two types) sorts, renders and writes Parquet as the plain records do.
    records = _records(3_000)
    bytes_ = np.asarray(records.column("bytes")).copy()
    bytes_[7] = 5 * 2**32
    end = np.asarray(records.column("end")).copy()
    records = records.set_column(records.schema.get_field_index("bytes"), "bytes", pa.array(bytes_))
    wide = compact_records(records.slice(0, 1_000))
    assert wide.schema.field("bytes").type == pa.int64()
    assert compact_records(records.slice(1_000)).schema.field("bytes").type == pa.uint32()
    late = records.slice(0, 10).set_column(records.schema.get_field_index("end"), "end",
                                           pa.array(end[:10] + 2**32))
    assert compact_records(late).schema.field("end").type == pa.dictionary(pa.int8(), pa.int64())
    for fmt in ("plain-text", "parquet"):
        fl = _flow_log(fmt)
        objects = _delivered(tmp_path / fmt, fl, records)
        expected = {}
        ends = np.asarray(records.column("end"))
        for p in sorted(set((ends - ends % 300).tolist())):
            group = canonical_order(records.filter(pa.array(ends - ends % 300 == p)))
            for obj in render_objects(fl, group, p, max_object_bytes=75 << 20, run_id="r"):
                expected[obj.key.rsplit("/", 1)[-1]] = obj.data
        assert objects == expected


def test_a_group_mixing_8_and_16_bit_dictionary_indexes_sorts_and_renders_as_its_text() -> None:
    # One write with 300 distinct ENIs and record times (16-bit indexes), one with a few (8-bit):
    # the held group promotes the indexes, and sorts and renders exactly as the text records do.
    many = _records(3_000, minutes=10)
    i = np.arange(3_000)
    many = many.set_column(many.schema.get_field_index("interface_id"), "interface_id",
                           pa.array(np.char.add("eni-1", (i % 300).astype(str))))
    many = many.set_column(many.schema.get_field_index("start"), "start", pa.array(T0 + i % 300, pa.int64()))
    few = _records(500)
    held_many, held_few = compact_records(many), compact_records(few)
    assert held_many.schema.field("interface_id").type.index_type == pa.int16()
    assert held_many.schema.field("start").type.index_type == pa.int16()
    assert held_few.schema.field("start").type.index_type == pa.int8()
    group = concat_held([held_few, held_many])
    records = pa.concat_tables([few, many])
    assert render_text(canonical_order(group)) == render_text(canonical_order(records))
    assert plain_records(canonical_order(group)).equals(canonical_order(records))


def test_a_group_of_8_bit_writes_whose_values_need_more_than_8_bits_together_gathers() -> None:
    # Two writes of 100 distinct ENIs each, none shared: each held with 8-bit indexes, 200 values
    # together. Gathering the group (Parquet objects, base.canonical_order) unifies the dictionaries:
    # Arrow refused ("the unified dictionary requires a larger index type") before takeable().
    def enis(n: int, first: int) -> pa.Table:
        t = _records(n)
        return t.set_column(t.schema.get_field_index("interface_id"), "interface_id",
                            pa.array(np.char.add("eni-2", (first + np.arange(n) % 100).astype(str))))

    parts = [enis(1_000, 0), enis(1_000, 100)]
    held = [compact_records(p) for p in parts]
    assert all(h.schema.field("interface_id").type.index_type == pa.int8() for h in held)
    group, records = concat_held(held), pa.concat_tables(parts)
    assert plain_records(canonical_order(group)).equals(canonical_order(records))
    rows = canonical_rows(group)
    assert plain_records(rows.gather()).equals(canonical_order(records))
