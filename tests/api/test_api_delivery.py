"""vpcflow's own endpoint as a CloudWatch Logs destination: the boto3 CloudWatch Logs sink delivers flow
records to ``vpcflow serve`` (signed, authorized per principal), the records land in the data directory's
log store, and the boto3 reader reads them back unchanged through the same endpoint."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from api_helpers import ACCT, ALICE, REGION, ROOT, make_data_dir, serve

from vpcflow.codecs.records import record_table
from vpcflow.core.errors import DeliveryFailedError
from vpcflow.dataplane.sinks.cloudwatch_logs import CloudWatchLogsSink
from vpcflow.dataplane.sinks.spool import CheckpointStore
from vpcflow.model.fields import DEFAULT_FIELDS
from vpcflow.model.flowlog import FlowLog
from vpcflow.query.readers import read_all, read_cloudwatch
from vpcflow.storage.logstore import LogStore

GROUP = "/vpcflow/served-delivery"


def _flow_log() -> FlowLog:
    return FlowLog("fl-0000000000000a001", ACCT, REGION, "vpc-1", "VPC", "ALL", "cloud-watch-logs",
                   datetime(2026, 1, 1, tzinfo=UTC), log_group_name=GROUP,
                   deliver_logs_permission_arn=f"arn:aws:iam::{ACCT}:role/flow-logs-delivery")


def _records(n: int) -> pa.Table:
    rng = np.random.default_rng(11)
    start = int(time.time()) - 3600 + np.sort(rng.integers(0, 1200, n))
    return record_table(DEFAULT_FIELDS, {
        "version": 2, "account_id": ACCT,
        "interface_id": pa.array([f"eni-0{i}aa11bb22" for i in rng.integers(0, 2, n)]),
        "srcaddr": "172.31.0.10", "dstaddr": "10.1.2.3", "srcport": rng.integers(1024, 65535, n),
        "dstport": 443, "protocol": 6, "packets": 3, "bytes": 180, "start": start, "end": start + 60,
        "action": pa.array(["REJECT" if i % 4 == 0 else "ACCEPT" for i in range(n)]), "log_status": "OK",
    })


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


@pytest.fixture
def ep(tmp_path: Path) -> Any:
    endpoint = serve(make_data_dir(tmp_path))
    try:
        yield endpoint
    finally:
        endpoint.stop()


def test_boto3_sink_delivers_into_the_served_log_store(ep: Any, tmp_path: Path) -> None:
    table = _records(300)
    sink = CloudWatchLogsSink(client=ep.client("logs", ROOT), checkpoints=CheckpointStore(tmp_path / "c.db"),
                              run_id="served", max_batch_events=100)
    sink.write(_flow_log(), table)
    receipts = sink.flush(None)
    assert sum(r.records for r in receipts) == 300

    # Through the endpoint, with the project's boto3 reader (FilterLogEvents pages)...
    back = read_all(read_cloudwatch(ep.client("logs", ROOT), GROUP))
    assert back is not None and _sorted(back).equals(_sorted(table))
    rejects = read_all(read_cloudwatch(ep.client("logs", ROOT), GROUP, filter_pattern="REJECT"))
    assert rejects is not None and rejects.num_rows == sum(1 for i in range(300) if i % 4 == 0)
    # ...and in the data directory's embedded store, one stream per ENI (spec 3).
    with LogStore(ep.data_dir / "logs.db", account_id=ACCT, region=REGION) as store:
        assert store.stream_names(GROUP) == ["eni-00aa11bb22-all", "eni-01aa11bb22-all"]


def test_a_signer_without_logs_permissions_is_an_access_error(ep: Any, tmp_path: Path) -> None:
    statuses: list[tuple[str, str, str | None]] = []
    sink = CloudWatchLogsSink(client=ep.client("logs", ALICE), checkpoints=CheckpointStore(tmp_path / "c.db"),
                              run_id="denied", status=lambda *a: statuses.append(a))
    sink.write(_flow_log(), _records(5))
    with pytest.raises(DeliveryFailedError) as e:
        sink.flush(None)
    # alice may create flow logs but holds no logs:* permission: the endpoint answers
    # AccessDeniedException, which the sink reports as AWS's "Access error" (spec 5).
    assert e.value.aws_message == "Access error"
    assert statuses == [("fl-0000000000000a001", "FAILED", "Access error")]
    with LogStore(ep.data_dir / "logs.db", account_id=ACCT, region=REGION) as store:
        assert not store.log_group_exists(GROUP)
