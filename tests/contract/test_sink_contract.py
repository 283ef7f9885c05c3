"""Every embedded sink: write -> flush -> read back through the readers gives the same records.

Also the sink contract itself: groups wait for the watermark, receipts count every record once,
AWS's key layouts and stream names, 75 MB parts (scaled down), custom formats with steering columns.
"""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vpcflow.codecs import s3keys
from vpcflow.codecs.records import record_table
from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.sinks.base import DeliveryReceipt
from vpcflow.dataplane.sinks.embedded_logs import EmbeddedLogsSink
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
from vpcflow.dataplane.sinks.spool import Spool
from vpcflow.model.fields import DEFAULT_FIELDS, DEFAULT_FORMAT
from vpcflow.model.flowlog import DestinationOptions, FlowLog
from vpcflow.query.readers import read_all, read_bucket_store, read_log_store, record_batches
from vpcflow.storage.bucketstore import BucketStore
from vpcflow.storage.logstore import LogStore

T0 = 1_700_000_100  # 2023-11-14T22:15:00Z
V5 = "${version} ${interface-id} ${srcaddr} ${dstport} ${packets} ${action} ${flow-direction} ${traffic-path}"


def records(n: int, *, seed: int = 1, enis: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = T0 + np.sort(rng.integers(0, 1800, n))
    return record_table(DEFAULT_FIELDS, {
        "version": 2, "account_id": "123456789012",
        "interface_id": pa.array([f"eni-{i:017x}" for i in rng.integers(0, enis, n)]),
        "srcaddr": pa.array([f"10.0.{i % 250}.{i % 200}" for i in range(n)]), "dstaddr": "10.0.9.9",
        "srcport": rng.integers(1024, 65535, n), "dstport": rng.choice([22, 80, 443], n), "protocol": 6,
        "packets": rng.integers(1, 100, n), "bytes": rng.integers(40, 90000, n),
        "start": start, "end": start + rng.integers(0, 59, n),
        "action": rng.choice(["ACCEPT", "REJECT"], n), "log_status": "OK",
    })


def s3_flow_log(fmt: str = "plain-text", hive: bool = False, hourly: bool = False, dest: str = "arn:aws:s3:::flow-bucket",
                fid: str = "fl-00000000000000001", log_format: str = DEFAULT_FORMAT) -> FlowLog:
    return FlowLog(fid, "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", datetime(2023, 1, 1, tzinfo=UTC),
                   log_destination=dest, log_format=log_format,
                   destination_options=DestinationOptions(fmt, hive, hourly))  # type: ignore[arg-type]


def cwl_flow_log(fid: str = "fl-00000000000000002", log_format: str = DEFAULT_FORMAT) -> FlowLog:
    return FlowLog(fid, "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "cloud-watch-logs",
                   datetime(2023, 1, 1, tzinfo=UTC), log_group_name="flow-logs", log_format=log_format,
                   deliver_logs_permission_arn="arn:aws:iam::123456789012:role/flow")


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


@pytest.fixture
def bucket(tmp_path: Path) -> BucketStore:
    store = BucketStore(tmp_path / "s3", fsync=False)
    store.create_bucket("flow-bucket")
    return store


@pytest.mark.parametrize(("fmt", "hive", "hourly"), [
    ("plain-text", False, False), ("plain-text", True, False), ("plain-text", False, True),
    ("parquet", True, True), ("parquet", False, False),
])
def test_local_bucket_round_trip_every_layout(bucket: BucketStore, fmt: str, hive: bool, hourly: bool) -> None:
    fl = s3_flow_log(fmt, hive, hourly, dest="arn:aws:s3:::flow-bucket/team/")
    table = records(2000)
    sink = LocalBucketSink(bucket)
    sink.write(fl, table.slice(0, 1200))
    sink.write(fl, table.slice(1200))
    receipts = sink.flush(None)
    assert sum(r.records for r in receipts) == 2000
    keys = bucket.list_keys("flow-bucket")
    assert len(keys) == len(receipts) == len({int(e) - int(e) % 300 for e in table.column("end").to_pylist()})
    for k in keys:
        pk = s3keys.parse_key(k)
        assert pk is not None and pk.prefix == "team/" and pk.hive == hive and pk.per_hour == hourly
        assert pk.parquet == (fmt == "parquet") and pk.flow_log_id == fl.flow_log_id
        assert bucket.head_object("flow-bucket", k).acl == "bucket-owner-full-control"
    back = read_all(read_bucket_store(bucket, "flow-bucket", "team/"))
    assert back is not None
    assert _sorted(back).equals(_sorted(table))


def test_text_objects_have_the_header_line(bucket: BucketStore) -> None:
    sink = LocalBucketSink(bucket)
    sink.write(s3_flow_log(), records(10))
    sink.close()
    first = bucket.list_keys("flow-bucket")[0]
    text = gzip.decompress(bucket.get_object("flow-bucket", first)).decode()
    assert text.splitlines()[0] == "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def _one_gzip_member(data: bytes) -> bytes:
    """The text of ``data``, checked to be one whole gzip member with mtime 0."""
    assert data[:4] == b"\x1f\x8b\x08\x00" and data[4:8] == b"\x00\x00\x00\x00"  # no name, mtime 0
    z = zlib.decompressobj(31)
    text = z.decompress(data)
    assert z.eof and z.unused_data == b""
    return text


def test_text_objects_are_one_gzip_member_named_by_their_text(bucket: BucketStore) -> None:
    # docs/delivery.md "Compression": ISA-L level 1 (zlib level 3 where isal is missing); the name's
    # hash is taken from the text, so it does not depend on the compressor.
    sink = LocalBucketSink(bucket)
    table = records(500)
    sink.write(s3_flow_log(), table)
    sink.close()
    keys = bucket.list_keys("flow-bucket")
    assert keys
    lines = 0
    for key in keys:
        text = _one_gzip_member(bucket.get_object("flow-bucket", key))
        assert s3keys.parse_key(key).digest == s3keys.content_hash(text)
        lines += text.count(b"\n") - 1  # the header line
    assert lines == table.num_rows


def test_a_text_object_has_the_same_name_whichever_compressor_wrote_it(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from vpcflow.codecs import gzip_stream

    if gzip_stream.BACKEND != "isal":
        pytest.skip("isal is not installed here: only zlib compresses")
    objects = {}
    for backend in ("isal", "zlib"):
        if backend == "zlib":
            monkeypatch.setattr(gzip_stream, "_isal", None)
        store = BucketStore(tmp_path / backend)
        store.create_bucket("flow-bucket")
        sink = LocalBucketSink(store)
        sink.write(s3_flow_log(), records(2_000, seed=5))
        sink.close()
        objects[backend] = {k: store.get_object("flow-bucket", k) for k in store.list_keys("flow-bucket")}
    assert objects["isal"].keys() == objects["zlib"].keys()
    for key, data in objects["isal"].items():
        assert data != objects["zlib"][key]  # another compressor, other bytes
        assert _one_gzip_member(data) == _one_gzip_member(objects["zlib"][key])


@pytest.mark.parametrize("slice_rows", [1, 7, 1 << 18])
def test_text_objects_are_compressed_slice_by_slice_to_the_same_text(
    monkeypatch: pytest.MonkeyPatch, slice_rows: int,
) -> None:
    # A 5-minute group of a capture with a million flows is hundreds of MB of text: it is rendered and
    # compressed a slice at a time, never held whole, also when a thread compresses (and hashes) each
    # slice while the next one renders (more than one slice). Same slices, same bytes.
    from vpcflow.codecs import text
    from vpcflow.dataplane.sinks import s3_common
    from vpcflow.dataplane.sinks.s3_common import gzip_text

    monkeypatch.setattr(s3_common, "COMPRESS_SLICE_ROWS", slice_rows)
    table = records(300, seed=slice_rows)
    hasher = s3keys.content_hasher("run-1")
    data = gzip_text(table, hasher=hasher)
    whole = text.render_text(table, header=True)
    assert _one_gzip_member(data) == whole
    assert s3keys.content_digest(hasher) == s3keys.content_hash(whole, "run-1")
    assert gzip_text(table) == data
    assert _one_gzip_member(gzip_text(table.slice(0, 0))) == text.render_text(table.slice(0, 0))


def test_a_compression_error_while_slices_render_is_raised_and_stops_the_rendering() -> None:
    from vpcflow.dataplane.sinks.s3_common import compress_alongside

    rendered: list[int] = []

    def chunks():
        for i in range(100):
            rendered.append(i)
            yield b"x" * 10

    def compress(chunk: bytes) -> bytes:
        if len(rendered) > 3:
            raise OSError("disk full")
        return chunk

    with pytest.raises(OSError, match="disk full"):
        compress_alongside(compress, chunks())
    assert len(rendered) < 100  # the producer stopped soon after the failure
    assert compress_alongside(lambda c: c[:1], iter([b"ab", b"cd"])) == [b"a", b"c"]


def test_groups_wait_for_the_watermark(bucket: BucketStore) -> None:
    fl = s3_flow_log()
    table = records(500)
    sink = LocalBucketSink(bucket)
    sink.write(fl, table)
    assert sink.flush(T0) == []
    # Periods ending at or before watermark - 600 (max aggregation interval) are final.
    wm = T0 + 900 + 600
    first = sink.flush(wm)
    ends = np.asarray(table.column("end"))
    expected = int(((ends - ends % 300) + 300 <= wm - 600).sum())
    assert sum(r.records for r in first) == expected > 0
    rest = sink.flush(None)
    assert sum(r.records for r in first + rest) == 500
    assert sink.flush(None) == []


def test_content_named_objects_make_reruns_idempotent(bucket: BucketStore) -> None:
    for _ in range(2):
        sink = LocalBucketSink(bucket)
        sink.write(s3_flow_log(), records(300))
        sink.close()
    back = read_all(read_bucket_store(bucket, "flow-bucket"))
    assert back is not None and back.num_rows == 300


def test_75mb_split_scaled_down(bucket: BucketStore) -> None:
    sink = LocalBucketSink(bucket, max_object_bytes=4000)
    table = records(3000)
    table = table.set_column(table.column_names.index("end"), "end", pa.array([T0 + 10] * 3000, pa.int64()))
    sink.write(s3_flow_log(), table)
    receipts = sink.flush(None)
    assert len(receipts) > 3 and sum(r.records for r in receipts) == 3000
    assert all(r.bytes <= 4000 for r in receipts)
    names = bucket.list_keys("flow-bucket")
    assert len({s3keys.parse_key(k).period_start_s for k in names}) == 1  # type: ignore[union-attr]
    assert len(set(names)) == len(receipts)
    back = read_all(read_bucket_store(bucket, "flow-bucket"))
    assert back is not None and _sorted(back).equals(_sorted(table))


def test_custom_format_uses_steering_columns_but_never_writes_them(bucket: BucketStore) -> None:
    fl = s3_flow_log(log_format=V5)
    n = 50
    table = record_table(["version", "interface-id", "srcaddr", "dstport", "packets", "action", "flow-direction",
                          "traffic-path", "end"], {
        "version": 5, "interface_id": "eni-1", "srcaddr": "10.0.0.1", "dstport": 443, "packets": np.arange(n),
        "action": "ACCEPT", "flow_direction": "egress", "traffic_path": None, "end": T0 + np.arange(n) * 20})
    sink = LocalBucketSink(bucket)
    sink.write(fl, table)
    sink.close()
    back = read_all(read_bucket_store(bucket, "flow-bucket"))
    assert back is not None and back.column_names == ["version", "interface_id", "srcaddr", "dstport", "packets",
                                                      "action", "flow_direction", "traffic_path"]
    assert back.num_rows == n
    with pytest.raises(ConfigError, match="'end'"):
        LocalBucketSink(bucket).write(fl, table.drop(["end"]))


def test_reader_prunes_and_filters(bucket: BucketStore) -> None:
    sink = LocalBucketSink(bucket)
    table = records(1000)
    sink.write(s3_flow_log(), table)
    sink.close()
    lo, hi = T0 + 600, T0 + 900
    got = read_all(read_bucket_store(bucket, "flow-bucket", start_s=lo, end_s=hi, where=pc.field("action") == "REJECT"))
    s, e, a = (np.asarray(table.column(c)) for c in ("start", "end", "action"))
    expected = int(((e >= lo) & (s < hi) & (a == "REJECT")).sum())
    assert got is not None and got.num_rows == expected > 0
    assert read_all(read_bucket_store(bucket, "flow-bucket", account_ids=["999999999999"])) is None
    assert read_all(read_bucket_store(bucket, "flow-bucket", regions=["eu-west-1"])) is None
    assert read_all(read_bucket_store(bucket, "flow-bucket", start_s=T0 + 86400 * 3)) is None


def test_embedded_logs_round_trip_streams_and_timestamps(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    fl = cwl_flow_log()
    table = records(3000, enis=4)
    sink = EmbeddedLogsSink(store, max_batch_events=700)
    sink.write(fl, table)
    receipts = sink.flush(T0)
    assert sum(r.records for r in receipts) == 3000
    streams = [s["logStreamName"] for s in store.describe_log_streams(logGroupName="flow-logs")["logStreams"]]
    enis = sorted(set(table.column("interface_id").to_pylist()))
    assert streams == [f"{e}-all" for e in enis]
    ev = store.get_log_events(logGroupName="flow-logs", logStreamName=streams[0], startFromHead=True, limit=1)
    first = ev["events"][0]
    mine = table.filter(pc.equal(table.column("interface_id"), enis[0]))
    assert first["timestamp"] == int(pc.min(mine.column("start")).as_py()) * 1000
    back = read_all(read_log_store(store, "flow-logs"))
    assert back is not None and _sorted(back).equals(_sorted(table))
    rejects = read_all(read_log_store(store, "flow-logs", filter_pattern="[..., action = REJECT, status]"))
    assert rejects is not None
    assert rejects.num_rows == int(pc.sum(pc.equal(table.column("action"), "REJECT")).as_py())


def test_embedded_logs_group_needs_create_permission(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    statuses: list[tuple[str, str, str | None]] = []
    seen: list[bool] = []

    def authorize(fl: FlowLog, exists: bool) -> str | None:
        seen.append(exists)
        return None if exists else "Access error"  # the role lacks logs:CreateLogGroup

    sink = EmbeddedLogsSink(store, authorize=authorize, spool=Spool(tmp_path / "spool"),
                            status=lambda *a: statuses.append(a))
    sink.write(cwl_flow_log(), records(20))
    receipts = sink.flush(None)
    assert {r.status for r in receipts} == {"spooled"} and seen == [False]
    assert statuses == [("fl-00000000000000002", "FAILED", "Access error")]
    assert store.describe_log_groups()["logGroups"] == []
    store.create_log_group(logGroupName="flow-logs")  # someone creates the group: delivery may proceed
    redone = sink.flush(None)
    assert sum(r.records for r in redone if r.status == "redelivered") == 20
    assert statuses[-1] == ("fl-00000000000000002", "SUCCESS", None)


def test_receipt_shape() -> None:
    r = DeliveryReceipt("fl-1", "s3://b/k", 3, 10)
    assert r.status == "delivered"


def test_readers_stream_record_batches(bucket: BucketStore) -> None:
    sink = LocalBucketSink(bucket)
    sink.write(s3_flow_log(), records(700))
    sink.close()
    batches = list(record_batches(read_bucket_store(bucket, "flow-bucket"), max_chunksize=100))
    assert all(isinstance(b, pa.RecordBatch) and b.num_rows <= 100 for b in batches)
    assert sum(b.num_rows for b in batches) == 700


@pytest.mark.parametrize("fmt", ["plain-text", "parquet"])
def test_same_records_same_keys_however_they_were_batched(tmp_path: Path, fmt: str) -> None:
    table = records(1500)
    keys = []
    for i, sizes in enumerate([[1500], [1, 700, 799], [300] * 5]):
        store = BucketStore(tmp_path / f"s3-{i}", fsync=False)
        store.create_bucket("flow-bucket")
        sink = LocalBucketSink(store)
        a = 0
        for n in sizes:
            sink.write(s3_flow_log(fmt), table.slice(a, n))
            a += n
        sink.close()
        keys.append(store.list_keys("flow-bucket"))
    assert keys[0] == keys[1] == keys[2]


def test_spec3_accept_and_reject_flow_logs_share_one_stream_per_eni(tmp_path: Path) -> None:
    """Two flow logs of one ENI into one log group: one combined ``<eni>-all`` stream (spec 3)."""
    from dataclasses import replace

    store = LogStore(tmp_path / "logs.db")
    table = records(400, enis=2)
    accept = replace(cwl_flow_log("fl-0000000000000000a"), traffic_type="ACCEPT")
    reject = replace(cwl_flow_log("fl-0000000000000000b"), traffic_type="REJECT")
    sink = EmbeddedLogsSink(store, run_id="r")
    sink.write(accept, table.filter(pc.equal(table.column("action"), "ACCEPT")))
    sink.write(reject, table.filter(pc.equal(table.column("action"), "REJECT")))
    sink.close()
    streams = [s["logStreamName"] for s in store.describe_log_streams(logGroupName="flow-logs")["logStreams"]]
    assert streams == sorted({f"{e}-all" for e in table.column("interface_id").to_pylist()})
    back = read_all(read_log_store(store, "flow-logs"))
    assert back is not None and _sorted(back).equals(_sorted(table))
    # A re-run of the same run delivers nothing twice, for either flow log.
    again = EmbeddedLogsSink(store, run_id="r")
    again.write(accept, table.filter(pc.equal(table.column("action"), "ACCEPT")))
    again.write(reject, table.filter(pc.equal(table.column("action"), "REJECT")))
    assert {r.status for r in again.flush(None)} == {"already-delivered"}


def test_another_sinks_spool_items_do_not_hold_back_delivery(bucket: BucketStore, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", fsync=False)
    fl = s3_flow_log()
    spool.put(fl.flow_log_id, "foreign", b"x", {"kind": "s3", "bucket": "elsewhere", "key": "k",
                                                "content_type": "x", "records": 1})
    sink = LocalBucketSink(bucket, spool=spool)
    sink.write(fl, records(50))
    assert {r.status for r in sink.flush(None)} == {"delivered"}
    assert [i.item_id for i in spool.items(fl.flow_log_id)] == ["foreign"]  # left for the sink that owns it
