"""A deterministic delivery run, used by the kill-and-rerun and recovery tests (run as a script).

``python delivery_scenario.py DATA_DIR [--broken]`` delivers the same record stream every time to
three flow logs of the data directory: S3 gzip text (per-hour), S3 Parquet (Hive) and the embedded
CloudWatch Logs store, flushing as a pipeline would. ``--broken`` starts with the bucket missing and
the log role refused, so everything goes to the spool.

``python delivery_scenario.py DATA_DIR --remote-logs ENDPOINT T0`` delivers the CloudWatch flow log
through boto3 to ``ENDPOINT`` instead (records start at ``T0``: CloudWatch refuses events older than
14 days), checkpointing in ``DATA_DIR/spool/checkpoints.db``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from vpcflow.codecs.records import record_table
from vpcflow.dataplane.sinks.embedded_logs import EmbeddedLogsSink
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
from vpcflow.dataplane.sinks.spool import Spool
from vpcflow.model.fields import DEFAULT_FIELDS
from vpcflow.model.flowlog import DestinationOptions, FlowLog
from vpcflow.storage.bucketstore import BucketStore
from vpcflow.storage.logstore import LogStore

T0 = 1_700_000_100
BUCKET = "flow-bucket"
GROUP = "flow-logs"
CREATED = datetime(2023, 1, 1, tzinfo=UTC)
FLOW_LOGS = (
    FlowLog("fl-0000000000000000a", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
            log_destination=f"arn:aws:s3:::{BUCKET}/text/",
            destination_options=DestinationOptions("plain-text", False, True)),
    FlowLog("fl-0000000000000000b", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
            log_destination=f"arn:aws:s3:::{BUCKET}/parquet/",
            destination_options=DestinationOptions("parquet", True, False)),
    FlowLog("fl-0000000000000000c", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "cloud-watch-logs",
            CREATED, log_group_name=GROUP, deliver_logs_permission_arn="arn:aws:iam::123456789012:role/flow"),
)


def record_stream(n: int = 3000, seed: int = 7, t0: int = T0) -> pa.Table:
    """Records in end-time order, as aggregation would hand them over."""
    rng = np.random.default_rng(seed)
    end = t0 + np.sort(rng.integers(0, 3600, n))
    return record_table(DEFAULT_FIELDS, {
        "version": 2, "account_id": "123456789012",
        "interface_id": pa.array([f"eni-{i:017x}" for i in rng.integers(0, 5, n)]),
        "srcaddr": pa.array([f"10.0.{i % 7}.{i % 251}" for i in range(n)]), "dstaddr": "10.0.9.9",
        "srcport": rng.integers(1024, 65535, n), "dstport": rng.choice([22, 80, 443], n), "protocol": 6,
        "packets": rng.integers(1, 100, n), "bytes": rng.integers(40, 90000, n),
        "start": end - rng.integers(0, 59, n), "end": end,
        "action": rng.choice(["ACCEPT", "REJECT"], n), "log_status": "OK",
    })


def run(data_dir: Path, *, broken: bool = False) -> dict[str, int]:
    buckets = BucketStore(data_dir / "s3")
    if not broken:
        buckets.create_bucket(BUCKET)
    logs = LogStore(data_dir / "logs.db")
    spool = Spool(data_dir / "spool")
    status_log = data_dir / "status.jsonl"

    def status(fid: str, st: str, msg: str | None) -> None:
        with status_log.open("a") as fh:
            fh.write(json.dumps([fid, st, msg]) + "\n")

    def authorize(fl: FlowLog, exists: bool) -> str | None:
        return "Access error" if broken else None

    s3_sink = LocalBucketSink(buckets, spool=spool, status=status)
    cwl_sink = EmbeddedLogsSink(logs, run_id="scenario", spool=spool, status=status, authorize=authorize,
                                max_batch_events=150)
    table = record_stream()
    ends = np.asarray(table.column("end"))
    counts = {"delivered": 0, "spooled": 0}
    for a in range(0, table.num_rows, 250):
        chunk = table.slice(a, 250)
        for fl in FLOW_LOGS:
            (cwl_sink if fl.log_destination_type == "cloud-watch-logs" else s3_sink).write(fl, chunk)
        watermark = int(ends[min(a + 249, len(ends) - 1)]) + 600
        for sink in (s3_sink, cwl_sink):
            for r in sink.flush(watermark):
                counts["spooled" if r.status == "spooled" else "delivered"] += r.records
    for sink in (s3_sink, cwl_sink):
        sink.close()
    logs.close()
    return counts


def snapshot(data_dir: Path) -> dict[str, object]:
    """Everything a reader can see: objects (key -> bytes) and events per stream (timestamp, message)."""
    out: dict[str, object] = {}
    buckets = BucketStore(data_dir / "s3")
    if buckets.bucket_exists(BUCKET):
        out["objects"] = {k: buckets.get_object(BUCKET, k) for k in buckets.list_keys(BUCKET)}
    logs = LogStore(data_dir / "logs.db")
    if logs.log_group_exists(GROUP):
        for name in logs.stream_names(GROUP):
            ev: list[tuple[int, str]] = []
            for ts, msgs in logs.iter_stream_batches(GROUP, name):
                ev += list(zip(ts.tolist(), msgs.to_pylist(), strict=True))
            out[name] = ev
    logs.close()
    return out


def run_remote_logs(data_dir: Path, endpoint: str, t0: int) -> int:
    import boto3

    from vpcflow.dataplane.sinks.cloudwatch_logs import CloudWatchLogsSink
    from vpcflow.dataplane.sinks.spool import CheckpointStore

    client = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    sink = CloudWatchLogsSink(client=client, checkpoints=CheckpointStore(data_dir / "spool" / "checkpoints.db"),
                              run_id="remote", spool=Spool(data_dir / "spool"), max_batch_events=150)
    table = record_stream(t0=t0)
    delivered = 0
    for a in range(0, table.num_rows, 250):
        sink.write(FLOW_LOGS[2], table.slice(a, 250))
        delivered += sum(r.records for r in sink.flush(None) if r.status == "delivered")
    sink.close()
    return delivered


if __name__ == "__main__":
    if "--remote-logs" in sys.argv:
        i = sys.argv.index("--remote-logs")
        print(run_remote_logs(Path(sys.argv[1]), sys.argv[i + 1], int(sys.argv[i + 2])))
    else:
        result = run(Path(sys.argv[1]), broken="--broken" in sys.argv[2:])
        print(json.dumps(result))
