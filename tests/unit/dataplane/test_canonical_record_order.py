"""Delivered bytes do not depend on how records reach a sink (docs/bulk.md, "Record order").

A bulk replay on Dask hands a flow log's records to its sink per partition (capture interface), all
at once; a single-process run hands them over window by window. Both must deliver the same S3
objects (names are content hashes) and the same CloudWatch events in the same order, so the sinks
sort: S3 groups by every format column, CloudWatch ties in time by message. The property: any split
of the same records into writes, in any order, delivers identical objects and events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.records import record_table
from vpcflow.dataplane.sinks.embedded_logs import EmbeddedLogsSink
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
from vpcflow.model.fields import DEFAULT_FIELDS
from vpcflow.model.flowlog import FlowLog
from vpcflow.storage.bucketstore import BucketStore
from vpcflow.storage.logstore import LogStore

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
S3_FL = FlowLog("fl-0000000000000000a", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
                log_destination="arn:aws:s3:::bucket")
CWL_FL = FlowLog("fl-0000000000000000b", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "cloud-watch-logs",
                 CREATED, log_group_name="g")
T0 = 1_700_000_000 - 1_700_000_000 % 300


def _records(n: int) -> pa.Table:
    """Records of two ENIs over two 5-minute periods, with many ties in start time."""
    i = np.arange(n)
    return record_table(DEFAULT_FIELDS, {
        "version": 2, "account_id": "123456789012", "interface_id": np.where(i % 2, "eni-1", "eni-2"),
        "srcaddr": "10.0.0.1", "dstaddr": "10.0.0.2", "srcport": 1024 + i, "dstport": 443, "protocol": 6,
        "packets": 1 + i % 3, "bytes": 60, "start": T0 + (i % 7) * 60, "end": T0 + (i % 7) * 60 + 59,
        "action": "ACCEPT", "log_status": "OK"})


def _deliver(folder: Path, table: pa.Table, cuts: list[int], order: list[int]) -> tuple[dict[str, bytes], list]:
    pieces = [table.slice(a, b - a) for a, b in zip([0, *cuts], [*cuts, table.num_rows], strict=True)]
    pieces = [pieces[i % len(pieces)] for i in order] if order else pieces
    store = BucketStore(folder / "s3")
    store.create_bucket("bucket")
    s3 = LocalBucketSink(store, run_id="r")
    logs = LogStore(folder / "logs.db", account_id="123456789012", region="us-east-1")
    cwl = EmbeddedLogsSink(logs, run_id="r")
    for piece in pieces:
        s3.write(S3_FL, piece)
        cwl.write(CWL_FL, piece)
    s3.close()
    cwl.close()
    objects = {p.name: p.read_bytes() for p in sorted((folder / "s3" / "bucket").rglob("*.log.gz"))}
    events = []
    for stream in logs.stream_names("g"):
        page = logs.get_log_events(logGroupName="g", logStreamName=stream, startFromHead=True, limit=10000)
        events += [(stream, e["timestamp"], e["message"]) for e in page["events"]]
    logs.close()
    return objects, events


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 60), data=st.data())
def test_any_split_and_order_of_writes_delivers_the_same_objects_and_events(tmp_path_factory, n, data) -> None:
    table = _records(n)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, n - 1), max_size=4))))
    perm = data.draw(st.permutations(list(range(len(cuts) + 1))))
    whole = _deliver(tmp_path_factory.mktemp("whole"), table, [], [])
    split = _deliver(tmp_path_factory.mktemp("split"), table, cuts, list(perm))
    assert split[0] == whole[0]
    assert split[1] == whole[1]
    assert sum(len(v) for v in whole[0].values()) > 0 and len(whole[1]) == n


def test_two_deliveries_of_one_run_racing_on_a_stream_store_each_event_once(tmp_path: Path) -> None:
    """A Dask task run twice (docs/bulk.md): both read the checkpoint before either delivered; the
    store's transaction drops what the other already stored (``put_events(first_seq=...)``)."""
    logs = LogStore(tmp_path / "logs.db", account_id="123456789012", region="us-east-1")
    table = _records(40)
    first, second = EmbeddedLogsSink(logs, run_id="r"), EmbeddedLogsSink(logs, run_id="r")
    for sink in (first, second):
        sink.write(CWL_FL, table)
    for stream in ("eni-1-all", "eni-2-all"):  # the second reads its checkpoints now: nothing delivered yet
        assert second._delivered_upto(f"r/{CWL_FL.flow_log_id}", "g", stream) == 0
    first.close()
    second.close()
    events = []
    for stream in logs.stream_names("g"):
        page = logs.get_log_events(logGroupName="g", logStreamName=stream, startFromHead=True, limit=10000)
        events += [e["message"] for e in page["events"]]
    logs.close()
    assert len(events) == 40
