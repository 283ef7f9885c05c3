"""boto3 sinks and readers against moto's ThreadedMotoServer on 127.0.0.1 (one server per session).

Objects land under AWS's keys with ``bucket-owner-full-control``; events land in ``<eni-id>-all``
streams with ``start x 1000`` timestamps; both read back through the readers unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from moto_endpoint import moto_endpoint

from vpcflow.codecs import s3keys
from vpcflow.codecs.records import record_table
from vpcflow.dataplane.sinks.cloudwatch_logs import CloudWatchLogsSink
from vpcflow.dataplane.sinks.s3 import S3Sink
from vpcflow.dataplane.sinks.spool import CheckpointStore, Intent, Spool
from vpcflow.model.fields import DEFAULT_FIELDS
from vpcflow.model.flowlog import DestinationOptions, FlowLog
from vpcflow.query.readers import read_all, read_cloudwatch, read_s3

boto3 = pytest.importorskip("boto3")

CREATED = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    yield from moto_endpoint()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _records(n: int, t0: int) -> pa.Table:
    rng = np.random.default_rng(3)
    start = t0 + np.sort(rng.integers(0, 1200, n))
    return record_table(DEFAULT_FIELDS, {
        "version": 2, "account_id": "123456789012",
        "interface_id": pa.array([f"eni-0{i}1d47d21d" for i in rng.integers(0, 3, n)]),
        "srcaddr": "172.31.16.139", "dstaddr": "172.31.16.21", "srcport": rng.integers(1024, 65535, n),
        "dstport": 22, "protocol": 6, "packets": 20, "bytes": 4249, "start": start, "end": start + 30,
        "action": "ACCEPT", "log_status": "OK",
    })


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


@pytest.mark.parametrize(("fmt", "hive", "hourly"), [("plain-text", False, False), ("parquet", True, True)])
def test_s3_objects_land_where_aws_puts_them(endpoint: str, fmt: str, hive: bool, hourly: bool) -> None:
    s3 = _client("s3", endpoint)
    bucket = f"flow-logs-{fmt}"
    s3.create_bucket(Bucket=bucket)
    fl = FlowLog("fl-1234abcd", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
                 log_destination=f"arn:aws:s3:::{bucket}/sub/",
                 destination_options=DestinationOptions(fmt, hive, hourly))  # type: ignore[arg-type]
    table = _records(400, 1_529_511_600)  # 2018-06-20T16:20Z, spec 4's example time
    sink = S3Sink(client=s3)
    sink.write(fl, table)
    receipts = sink.flush(None)
    assert sum(r.records for r in receipts) == 400
    assert all(r.destination.startswith(f"s3://{bucket}/sub/AWSLogs/") for r in receipts)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys and all(s3keys.parse_key(k) is not None for k in keys)
    first = s3keys.parse_key(keys[0])
    assert first is not None and first.prefix == "sub/" and first.hive == hive and first.per_hour == hourly
    if not hive and not hourly:
        assert keys[0].startswith("sub/AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/"
                                  "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_")
    acl = s3.get_object_acl(Bucket=bucket, Key=keys[0])
    assert any(g["Permission"] == "FULL_CONTROL" for g in acl["Grants"])
    back = read_all(read_s3(s3, bucket, "sub/"))
    assert back is not None and _sorted(back).equals(_sorted(table))


def test_s3_missing_bucket_is_access_error_and_spooled(endpoint: str, tmp_path: Path) -> None:
    s3 = _client("s3", endpoint)
    fl = FlowLog("fl-00000000000000009", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
                 log_destination="arn:aws:s3:::no-such-bucket-here")
    statuses: list[tuple[str, str, str | None]] = []
    sink = S3Sink(client=s3, spool=Spool(tmp_path / "spool"), status=lambda *a: statuses.append(a))
    sink.write(fl, _records(20, 1_529_511_600))
    assert {r.status for r in sink.flush(None)} == {"spooled"}
    assert statuses == [("fl-00000000000000009", "FAILED", "Access error")]
    s3.create_bucket(Bucket="no-such-bucket-here")
    assert {r.status for r in sink.flush(None)} == {"redelivered"}
    assert statuses[-1] == ("fl-00000000000000009", "SUCCESS", None)
    back = read_all(read_s3(s3, "no-such-bucket-here"))
    assert back is not None and back.num_rows == 20


def test_cloudwatch_events_land_in_eni_streams_and_read_back(endpoint: str, tmp_path: Path) -> None:
    logs = _client("logs", endpoint)
    fl = FlowLog("fl-00000000000000007", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "cloud-watch-logs",
                 CREATED, log_group_name="moto-flow-logs",
                 deliver_logs_permission_arn="arn:aws:iam::123456789012:role/flow")
    t0 = int(time.time()) - 3600  # moto, like AWS, refuses events older than 14 days
    table = _records(900, t0)
    ckpt = CheckpointStore(tmp_path / "checkpoints.db")
    sink = CloudWatchLogsSink(client=logs, checkpoints=ckpt, run_id="moto", max_batch_events=200)
    sink.write(fl, table)
    receipts = sink.flush(None)
    assert sum(r.records for r in receipts) == 900 and len(receipts) >= 5
    streams = logs.describe_log_streams(logGroupName="moto-flow-logs")["logStreams"]
    assert sorted(s["logStreamName"] for s in streams) == ["eni-001d47d21d-all", "eni-011d47d21d-all",
                                                             "eni-021d47d21d-all"]
    head = logs.get_log_events(logGroupName="moto-flow-logs", logStreamName="eni-001d47d21d-all",
                               startFromHead=True, limit=1)["events"][0]
    assert head["timestamp"] % 1000 == 0 and head["message"].startswith("2 123456789012 eni-001d47d21d ")
    back = read_all(read_cloudwatch(logs, "moto-flow-logs"))
    assert back is not None and _sorted(back).equals(_sorted(table))

    # Same run again (a re-run after a kill): the checkpoint skips everything, nothing doubles.
    again = CloudWatchLogsSink(client=logs, checkpoints=ckpt, run_id="moto", max_batch_events=200)
    again.write(fl, table)
    assert {r.status for r in again.flush(None)} == {"already-delivered"}
    back = read_all(read_cloudwatch(logs, "moto-flow-logs"))
    assert back is not None and back.num_rows == 900


def test_unfinished_intent_is_reconciled_against_the_stream(endpoint: str, tmp_path: Path) -> None:
    logs = _client("logs", endpoint)
    logs.create_log_group(logGroupName="intent-group")
    logs.create_log_stream(logGroupName="intent-group", logStreamName="eni-1-all")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="intent-group", logStreamName="eni-1-all",
                        logEvents=[{"timestamp": now, "message": "a"}, {"timestamp": now, "message": "b"}])
    ckpt = CheckpointStore(tmp_path / "c.db")
    sink = CloudWatchLogsSink(client=logs, checkpoints=ckpt, run_id="r")
    dest = sink.destination_id + "/intent-group"
    ckpt.begin("r/fl-1", dest, "eni-1-all", Intent(0, 2, now, "b"))  # killed after the put landed
    assert sink._checkpoint("r/fl-1", "intent-group", "eni-1-all") == 2
    ckpt.begin("r/fl-1", dest, "eni-1-all", Intent(2, 5, now, "never sent"))  # killed before the put
    assert sink._checkpoint("r/fl-1", "intent-group", "eni-1-all") == 2
    assert ckpt.intent("r/fl-1", dest, "eni-1-all") is None


@pytest.mark.parametrize("fault", ["cwl.after_put_before_checkpoint:3", "cwl.before_batch:5"])
def test_remote_kill_between_put_and_checkpoint_then_rerun(endpoint: str, tmp_path: Path, fault: str) -> None:
    """A subprocess delivering through boto3 is killed; the re-run reconciles its intent: no duplicates."""
    import os
    import subprocess
    import sys

    script = Path(__file__).with_name("delivery_scenario.py")
    t0 = int(time.time()) - 7200
    logs = _client("logs", endpoint)
    group = "flow-logs"
    env = {k: v for k, v in os.environ.items() if k != "VPCFLOW_FAULT_POINT"}
    for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.delete_log_group(logGroupName=g["logGroupName"])  # a fresh group per parameter
    killed = subprocess.run([sys.executable, str(script), str(tmp_path), "--remote-logs", endpoint, str(t0)],
                            env={**env, "VPCFLOW_FAULT_POINT": fault}, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 137, killed.stderr
    again = subprocess.run([sys.executable, str(script), str(tmp_path), "--remote-logs", endpoint, str(t0)],
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    messages = [e["message"] for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group)
                for e in page["events"]]
    assert len(messages) == 3000
    assert len(set(messages)) == len(messages)


def test_flowlogs_reader_reads_vpcflow_parquet_objects_from_s3(endpoint: str) -> None:
    """Issue 11 item 6: tools written for AWS's Parquet flow logs read vpcflow's. flowlogs-reader
    walks AWSLogs/<account>/vpcflowlogs/<region>/yyyy/mm/dd/, picks objects by the time in their
    file name and decodes them with the pure-Python ``parquet`` package (no RLE_DICTIONARY)."""
    flowlogs_reader = pytest.importorskip("flowlogs_reader")
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket="flowlogs-reader-parquet")
    fl = FlowLog("fl-0fedcba9876543210", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
                 log_destination="arn:aws:s3:::flowlogs-reader-parquet/team/",
                 destination_options=DestinationOptions("parquet", False, False))  # type: ignore[arg-type]
    table = _records(300, 1_529_511_600)
    sink = S3Sink(client=s3)
    sink.write(fl, table)
    assert sum(r.records for r in sink.flush(None)) == 300
    assert all(k["Key"].endswith(".log.parquet")
               for k in s3.list_objects_v2(Bucket="flowlogs-reader-parquet")["Contents"])
    reader = flowlogs_reader.S3FlowLogsReader(
        "flowlogs-reader-parquet/team/",
        start_time=datetime(2018, 6, 20), end_time=datetime(2018, 6, 21),
        boto_client=s3, raise_on_error=True,
    )
    got = sorted((r.interface_id, r.srcport, r.dstport, r.packets, r.bytes, r.start, r.end, r.action, r.log_status)
                 for r in reader)
    rows = table.to_pylist()
    want = sorted((r["interface_id"], r["srcport"], r["dstport"], r["packets"], r["bytes"],
                   datetime.fromtimestamp(r["start"], UTC).replace(tzinfo=None),
                   datetime.fromtimestamp(r["end"], UTC).replace(tzinfo=None), r["action"], r["log_status"])
                  for r in rows)
    assert got == want
    assert reader.skipped_records == 0
