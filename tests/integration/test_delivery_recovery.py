"""Terminal failure -> FAILED with AWS's message -> records spooled -> problem fixed -> SUCCESS.

The status callback is the control plane's ``StateStore.set_delivery_status``, so the flow log's
``DeliverLogsStatus``/``DeliverLogsErrorMessage`` are what DescribeFlowLogs will show.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

from vpcflow.dataplane.sinks.embedded_logs import EmbeddedLogsSink
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink
from vpcflow.dataplane.sinks.spool import Spool
from vpcflow.model.flowlog import FlowLog
from vpcflow.query.readers import read_all, read_bucket_store, read_log_store
from vpcflow.storage.bucketstore import BucketStore
from vpcflow.storage.logstore import LogStore
from vpcflow.storage.state import StateStore

sys.path.insert(0, str(Path(__file__).parent))

from delivery_scenario import BUCKET, FLOW_LOGS, GROUP, record_stream


def _status(state: StateStore, fid: str) -> tuple[str, str | None]:
    s = next(s for s in state.list_stored_flow_logs() if s.flow_log.flow_log_id == fid)
    return s.deliver_logs_status, s.deliver_logs_error_message


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


def test_bucket_gone_then_back(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    fl = FLOW_LOGS[0]
    with state.transaction() as t:
        t.insert_flow_log(fl)
    buckets = BucketStore(tmp_path / "s3", fsync=False)
    buckets.create_bucket(BUCKET)
    spool = Spool(tmp_path / "spool", fsync=False)
    sink = LocalBucketSink(buckets, spool=spool, status=state.set_delivery_status)
    table = record_stream(600)
    sink.write(fl, table.slice(0, 300))
    assert {r.status for r in sink.flush(None)} == {"delivered"}
    assert _status(state, fl.flow_log_id) == ("SUCCESS", None)

    buckets.delete_bucket(BUCKET, force=True)  # bucket gone: AWS reports an access error
    sink.write(fl, table.slice(300))
    spooled = sink.flush(None)
    assert {r.status for r in spooled} == {"spooled"} and sum(r.records for r in spooled) == 300
    assert _status(state, fl.flow_log_id) == ("FAILED", "Access error")
    assert spool.count() == len(spooled)
    assert sink.flush(None) == []  # still broken: nothing is lost, nothing moves
    assert _status(state, fl.flow_log_id) == ("FAILED", "Access error")

    buckets.create_bucket(BUCKET)  # fixed
    again = sink.flush(None)
    assert {r.status for r in again} == {"redelivered"} and sum(r.records for r in again) == 300
    assert _status(state, fl.flow_log_id) == ("SUCCESS", None)
    assert spool.count() == 0
    sink.close()
    back = read_all(read_bucket_store(buckets, BUCKET, "text/"))
    assert back is not None and back.num_rows == 300  # the first 300 went with the deleted bucket
    assert _sorted(back).equals(_sorted(table.slice(300)))


def test_role_untrusted_then_fixed_across_processes(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    fl: FlowLog = FLOW_LOGS[2]
    with state.transaction() as t:
        t.insert_flow_log(fl)
    logs = LogStore(tmp_path / "logs.db")
    spool = Spool(tmp_path / "spool", fsync=False)
    allowed = {"ok": False}

    def authorize(flow_log: FlowLog, exists: bool) -> str | None:
        return None if allowed["ok"] else "Access error"

    table = record_stream(500)
    sink = EmbeddedLogsSink(logs, run_id="r1", spool=spool, status=state.set_delivery_status, authorize=authorize)
    sink.write(fl, table)
    sink.close()
    assert _status(state, fl.flow_log_id) == ("FAILED", "Access error")
    assert logs.describe_log_groups()["logGroups"] == [] and spool.count() > 0

    # A later process (new sink, same data dir) finds the role fixed and drains the spool.
    allowed["ok"] = True
    later = EmbeddedLogsSink(logs, run_id="r2", spool=spool, status=state.set_delivery_status, authorize=authorize)
    later.adopt(fl)
    receipts = later.flush(None)
    assert sum(r.records for r in receipts if r.status == "redelivered") == 500
    assert _status(state, fl.flow_log_id) == ("SUCCESS", None)
    back = read_all(read_log_store(logs, GROUP))
    assert back is not None and _sorted(back).equals(_sorted(table))
    assert spool.count() == 0


def test_throttled_forever_is_rate_limited(tmp_path: Path) -> None:
    from vpcflow.core.errors import DeliveryRetryableError
    from vpcflow.dataplane.sinks.base import RetryPolicy
    from vpcflow.dataplane.sinks.s3_common import S3Object

    class Throttled(LocalBucketSink):
        calls = 0

        def _put(self, obj: S3Object) -> None:
            Throttled.calls += 1
            raise DeliveryRetryableError("SlowDown", sink="test", destination=obj.key)

    statuses: list[tuple[str, str, str | None]] = []
    sleeps: list[float] = []
    buckets = BucketStore(tmp_path / "s3")
    buckets.create_bucket(BUCKET)
    sink = Throttled(buckets, spool=Spool(tmp_path / "spool"), status=lambda *a: statuses.append(a),
                     retry=RetryPolicy(max_attempts=4, base_s=0.5, cap_s=1.0), sleep=sleeps.append)
    sink.write(FLOW_LOGS[0], record_stream(10).slice(0, 1))
    assert [r.status for r in sink.flush(None)] == ["spooled"]
    assert Throttled.calls == 4 and len(sleeps) == 3 and all(0 <= s <= 1.0 for s in sleeps)
    assert statuses == [(FLOW_LOGS[0].flow_log_id, "FAILED", "Rate limited")]


def test_bucket_policy_revoked_then_restored(tmp_path: Path) -> None:
    """The delivery-time check is asked at every flush: a revoked bucket policy is noticed mid-run."""
    buckets = BucketStore(tmp_path / "s3", fsync=False)
    buckets.create_bucket(BUCKET)
    policy_ok = {"v": True}
    asked: list[str] = []

    def authorize(fl: FlowLog) -> str | None:
        asked.append(fl.flow_log_id)
        return None if policy_ok["v"] else "Access error"

    statuses: list[tuple[str, str, str | None]] = []
    sink = LocalBucketSink(buckets, spool=Spool(tmp_path / "spool", fsync=False), authorize=authorize,
                           status=lambda *a: statuses.append(a))
    fl = FLOW_LOGS[1]
    table = record_stream(900)
    sink.write(fl, table.slice(0, 300))
    first = sink.flush(None)
    assert {r.status for r in first} == {"delivered"} and len(asked) == 1  # once per flush, not per object
    policy_ok["v"] = False
    sink.write(fl, table.slice(300, 300))
    assert {r.status for r in sink.flush(None)} == {"spooled"}
    assert statuses[-1] == (fl.flow_log_id, "FAILED", "Access error")
    policy_ok["v"] = True
    sink.write(fl, table.slice(600))
    final = sink.flush(None)
    assert {r.status for r in final} == {"redelivered", "delivered"}
    assert statuses[-1] == (fl.flow_log_id, "SUCCESS", None)
    back = read_all(read_bucket_store(buckets, BUCKET, "parquet/"))
    assert back is not None and _sorted(back).equals(_sorted(table))
