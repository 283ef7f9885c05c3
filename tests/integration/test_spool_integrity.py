"""Spool items are whole or absent, checked on read, and a deleted one is never lost for good (issue 13 item 7).

Before: an S3 item was two files (deleting one left the other forever) and a deleted CloudWatch
item's events were skipped for good (the items after it advanced the checkpoint past them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

from vpcflow.core.errors import StateError
from vpcflow.dataplane.sinks.embedded_logs import EmbeddedLogsSink
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
from vpcflow.dataplane.sinks.spool import Spool
from vpcflow.query.readers import read_all, read_bucket_store, read_log_store
from vpcflow.storage.bucketstore import BucketStore
from vpcflow.storage.logstore import LogStore

sys.path.insert(0, str(Path(__file__).parent))

from delivery_scenario import BUCKET, FLOW_LOGS, GROUP, record_stream

CWL = FLOW_LOGS[2]
S3 = FLOW_LOGS[0]


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


def _cwl_run(tmp: Path, run_id: str, *, broken: bool, table: pa.Table) -> EmbeddedLogsSink:
    logs = LogStore(tmp / "logs.db")
    sink = EmbeddedLogsSink(logs, run_id=run_id, spool=Spool(tmp / "spool", fsync=False),
                            authorize=lambda fl, exists: "Access error" if broken else None, max_batch_events=40)
    sink.adopt(CWL)
    for start in range(0, table.num_rows, 250):  # as a pipeline would: several flushes
        sink.write(CWL, table.slice(start, 250))
        sink.flush(None)
    sink.close()
    logs.close()
    return sink


def _events(tmp: Path) -> pa.Table:
    logs = LogStore(tmp / "logs.db")
    try:
        got = read_all(read_log_store(logs, GROUP))
    finally:
        logs.close()
    assert got is not None
    return _sorted(got)


def test_spool_item_is_one_checked_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", fsync=False)
    spool.put("fl-1", "a", b"payload bytes", {"kind": "s3"})
    files = list((tmp_path / "spool" / "fl-1").iterdir())
    assert [f.name for f in files] == ["a.spool"]
    (item,) = spool.items("fl-1")
    assert spool.payload(item) == b"payload bytes"
    raw = files[0].read_bytes()
    files[0].write_bytes(raw[:-1] + b"X")
    with pytest.raises(StateError, match=r"spool item .*a\.spool is damaged.*checksum"):
        spool.payload(spool.items("fl-1")[0])
    files[0].write_bytes(b"\xff\xfe not a header")
    with pytest.raises(StateError, match=r"a\.spool is damaged .*header"):
        spool.items("fl-1")


def test_legacy_item_missing_its_data_half_is_reported(tmp_path: Path) -> None:
    d = tmp_path / "spool" / "fl-1"
    d.mkdir(parents=True)
    (d / "x.meta.json").write_text('{"flow_log_id": "fl-1", "item_id": "x", "kind": "s3"}')
    with pytest.raises(StateError, match=r"x\.meta\.json is damaged \(its data file x\.data is missing\)"):
        Spool(tmp_path / "spool").items("fl-1")
    (d / "x.data").write_bytes(b"old")
    (item,) = Spool(tmp_path / "spool").items("fl-1")
    assert Spool(tmp_path / "spool").payload(item) == b"old"


def test_deleted_cloudwatch_item_is_rederived_by_the_same_run(tmp_path: Path) -> None:
    table = record_stream(900)
    ref = tmp_path / "ref"
    _cwl_run(ref, "r1", broken=False, table=table)
    expected = _events(ref)
    assert expected.num_rows == 900

    work = tmp_path / "work"
    _cwl_run(work, "r1", broken=True, table=table)  # everything spooled
    items = sorted((work / "spool").rglob("*.spool"))
    assert len(items) > 10
    items[len(items) // 2].unlink()  # a user "cleans up" one item in the middle
    _cwl_run(work, "r1", broken=False, table=table)  # the same run again, destination fixed
    assert _events(work).equals(expected)
    assert not list((work / "spool").rglob("*.spool"))


def test_a_gap_another_run_cannot_fill_is_a_clear_error(tmp_path: Path) -> None:
    table = record_stream(900)
    _cwl_run(tmp_path, "r1", broken=True, table=table)
    items = sorted((tmp_path / "spool").rglob("*.spool"))
    items[len(items) // 2].unlink()
    with pytest.raises(StateError, match=r"lacks events .* for run r1 \(a spool item was deleted\); run that run's"):
        _cwl_run(tmp_path, "r2", broken=False, table=table.slice(0, 10))


def test_deleted_s3_item_is_rederived_by_the_same_run(tmp_path: Path) -> None:
    table = record_stream(900)
    buckets = BucketStore(tmp_path / "s3", fsync=False)

    def run() -> None:
        sink = LocalBucketSink(buckets, spool=Spool(tmp_path / "spool", fsync=False), run_id="r1")
        sink.adopt(S3)
        sink.write(S3, table)
        sink.close()

    run()  # the bucket does not exist yet: every object spooled
    items = sorted((tmp_path / "spool").rglob("*.spool"))
    assert len(items) > 2
    items[0].unlink()
    buckets.create_bucket(BUCKET)
    run()
    back = read_all(read_bucket_store(buckets, BUCKET, "text/"))
    assert back is not None and _sorted(back).equals(_sorted(table.select(back.column_names)))
    assert not list((tmp_path / "spool").rglob("*.spool"))
