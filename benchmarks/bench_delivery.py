"""Delivery throughput: records into S3-layout files and the embedded log store, and back.

    python benchmarks/bench_delivery.py [--records 2000000] [--dir /tmp/x]

Measures (records/s, wall clock) the local bucket sink as gzip text and as Parquet, the embedded
CloudWatch Logs sink, and the readers over each. Targets (issue 6): >= 500,000 records/s to
S3-layout files, >= 200,000 events/s into the log store, >= 1,000,000 records/s reading back.
Prints figures; never asserts on speed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from vpcflow.codecs.records import record_table
from vpcflow.dataplane.sinks.embedded_logs import EmbeddedLogsSink
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
from vpcflow.model.fields import DEFAULT_FIELDS
from vpcflow.model.flowlog import DestinationOptions, FlowLog
from vpcflow.query.readers import read_bucket_store, read_log_store
from vpcflow.storage.bucketstore import BucketStore
from vpcflow.storage.logstore import LogStore

T0 = 1_700_000_000
CREATED = datetime(2023, 1, 1, tzinfo=UTC)


def make_records(n: int, seed: int = 1) -> pa.Table:
    """Realistic default-format records over 2 hours and 200 ENIs, in end-time order."""
    rng = np.random.default_rng(seed)
    end = T0 + np.sort(rng.integers(0, 7200, n))
    octet = rng.integers(0, 256, (n, 2))
    src = pa.array(np.char.add(np.char.add("10.0.", octet[:, 0].astype(str)), np.char.add(".", octet[:, 1].astype(str))))
    enis = pa.array([f"eni-{i:017x}" for i in range(200)]).take(pa.array(rng.integers(0, 200, n)))
    return record_table(DEFAULT_FIELDS, {
        "version": 2, "account_id": "123456789012", "interface_id": enis, "srcaddr": src, "dstaddr": "10.1.2.3",
        "srcport": rng.integers(1024, 65535, n), "dstport": rng.choice([22, 80, 443, 3306], n), "protocol": 6,
        "packets": rng.integers(1, 1000, n), "bytes": rng.integers(40, 1_000_000, n),
        "start": end - rng.integers(0, 59, n), "end": end,
        "action": pa.array(rng.choice(["ACCEPT", "REJECT"], n)), "log_status": "OK",
    })


def s3_flow_log(fmt: str) -> FlowLog:
    return FlowLog("fl-0123456789abcdef0", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
                   log_destination=f"arn:aws:s3:::bench-{fmt}",
                   destination_options=DestinationOptions(fmt, False, False))  # type: ignore[arg-type]


def deliver(sink: LocalBucketSink | EmbeddedLogsSink, fl: FlowLog, table: pa.Table, chunk: int = 200_000) -> float:
    """Write in pipeline-sized chunks with advancing watermarks; seconds until everything is delivered."""
    ends = np.asarray(table.column("end"))
    t = time.perf_counter()
    for a in range(0, table.num_rows, chunk):
        sink.write(fl, table.slice(a, chunk))
        sink.flush(int(ends[min(a + chunk, len(ends)) - 1]) + 600)
    sink.close()
    return time.perf_counter() - t


def timed_read(it: object) -> tuple[float, int]:
    t = time.perf_counter()
    rows = sum(tbl.num_rows for tbl in it)  # type: ignore[attr-defined]
    return time.perf_counter() - t, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--gzip-level", type=int, default=None,
                    help="compression level of .log.gz objects (default: the sink's; ISA-L 0-3, zlib 0-9)")
    args = ap.parse_args()
    n = args.records
    root = Path(args.dir or tempfile.mkdtemp(prefix="vpcflow-bench-"))
    table = make_records(n)
    print(f"{n:,} records, {table.nbytes / 1e6:.0f} MB in memory; data in {root}")
    buckets = BucketStore(root / "s3")
    results = []
    for fmt in ("plain-text", "parquet"):
        buckets.create_bucket(f"bench-{fmt}")
        secs = deliver(LocalBucketSink(buckets, compresslevel=args.gzip_level), s3_flow_log(fmt), table)
        size = sum(o.size for o in buckets.list_objects(f"bench-{fmt}"))
        results.append((f"local bucket, {fmt}", n / secs, f"{len(buckets.list_keys(f'bench-{fmt}'))} objects, "
                                                          f"{size / 1e6:.1f} MB"))
        rsecs, rows = timed_read(read_bucket_store(buckets, f"bench-{fmt}"))
        assert rows == n, rows
        results.append((f"read back, {fmt}", rows / rsecs, ""))
    store = LogStore(root / "logs.db")
    fl = FlowLog("fl-0123456789abcdef1", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "cloud-watch-logs",
                 CREATED, log_group_name="bench", deliver_logs_permission_arn="arn:aws:iam::123456789012:role/r")
    secs = deliver(EmbeddedLogsSink(store), fl, table)
    results.append(("embedded log store", n / secs, f"{(root / 'logs.db').stat().st_size / 1e6:.0f} MB db"))
    rsecs, rows = timed_read(read_log_store(store, "bench"))
    assert rows == n, rows
    results.append(("read back, log store", rows / rsecs, ""))
    store.close()
    cpu = time.process_time()
    print(f"{'path':28s} {'records/s':>12s}  notes (process CPU {cpu:.1f} s in total)")
    for name, rate, note in results:
        print(f"{name:28s} {rate:12,.0f}  {note}")
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
