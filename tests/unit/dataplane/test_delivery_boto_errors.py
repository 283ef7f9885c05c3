"""boto3 sinks: AWS error codes mapped to retry / Access error / Rate limited / Unknown error."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

botocore = pytest.importorskip("botocore")
from botocore.exceptions import ClientError, EndpointConnectionError  # noqa: E402

from vpcflow.codecs.records import record_table  # noqa: E402
from vpcflow.core.errors import DeliveryFailedError, DeliveryRetryableError  # noqa: E402
from vpcflow.dataplane.sinks.base import RetryPolicy  # noqa: E402
from vpcflow.dataplane.sinks.cloudwatch_logs import CloudWatchLogsSink  # noqa: E402
from vpcflow.dataplane.sinks.s3 import map_client_error  # noqa: E402
from vpcflow.dataplane.sinks.spool import CheckpointStore, Spool  # noqa: E402
from vpcflow.model.fields import DEFAULT_FIELDS  # noqa: E402
from vpcflow.model.flowlog import FlowLog  # noqa: E402


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


@pytest.mark.parametrize(("code", "status", "kind", "aws"), [
    ("SlowDown", 503, DeliveryRetryableError, "Rate limited"),
    ("InternalError", 500, DeliveryRetryableError, "Rate limited"),
    ("RequestTimeout", 400, DeliveryRetryableError, "Rate limited"),
    ("NoSuchBucket", 404, DeliveryFailedError, "Access error"),
    ("AccessDenied", 403, DeliveryFailedError, "Access error"),
    ("InvalidAccessKeyId", 403, DeliveryFailedError, "Access error"),
    ("InvalidArgument", 400, DeliveryFailedError, "Unknown error"),
])
def test_s3_error_mapping(code: str, status: int, kind: type, aws: str | None) -> None:
    err = map_client_error(_client_error(code, status), sink="s3", destination="s3://b/k")
    assert type(err) is kind
    assert getattr(err, "aws_message", None) == aws
    assert code in str(err)


def test_connection_errors_are_retryable() -> None:
    err = map_client_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), sink="s3", destination="x")
    assert isinstance(err, DeliveryRetryableError)


class _Meta:
    endpoint_url = "http://fake"


class FakeLogs:
    """A CloudWatch Logs client that throttles the first ``throttle`` PutLogEvents calls."""

    meta = _Meta()

    def __init__(self, throttle: int, error: str = "ThrottlingException") -> None:
        self.throttle = throttle
        self.error = error
        self.groups: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.calls = 0

    def describe_log_groups(self, logGroupNamePrefix: str) -> dict[str, Any]:
        return {"logGroups": [{"logGroupName": g} for g in self.groups if g.startswith(logGroupNamePrefix)]}

    def create_log_group(self, logGroupName: str) -> None:
        self.groups.add(logGroupName)

    def create_log_stream(self, logGroupName: str, logStreamName: str) -> None:
        return None

    def get_log_events(self, **_: Any) -> dict[str, Any]:
        return {"events": self.events[-1:]}

    def put_log_events(self, logGroupName: str, logStreamName: str, logEvents: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.throttle:
            raise ClientError({"Error": {"Code": self.error, "Message": "Rate exceeded"}}, "PutLogEvents")
        self.events += logEvents
        return {"nextSequenceToken": "1"}


def _flow_log() -> FlowLog:
    return FlowLog("fl-0000000000000000e", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "cloud-watch-logs",
                   datetime(2024, 1, 1, tzinfo=UTC), log_group_name="g")


def _table(n: int) -> pa.Table:
    t0 = int(time.time()) - 600
    return record_table(DEFAULT_FIELDS, {
        "version": 2, "account_id": "123456789012", "interface_id": "eni-1", "srcaddr": "10.0.0.1",
        "dstaddr": "10.0.0.2", "srcport": np.arange(n) + 1024, "dstport": 443, "protocol": 6, "packets": 1,
        "bytes": 60, "start": t0 + np.arange(n), "end": t0 + np.arange(n) + 1, "action": "ACCEPT", "log_status": "OK"})


def test_throttling_is_retried_with_backoff_then_delivered(tmp_path: Path) -> None:
    client = FakeLogs(throttle=3)
    sleeps: list[float] = []
    sink = CloudWatchLogsSink(client=client, checkpoints=CheckpointStore(tmp_path / "c.db"), sleep=sleeps.append,
                              retry=RetryPolicy(max_attempts=5, base_s=0.1, cap_s=1.0))
    sink.write(_flow_log(), _table(10))
    receipts = sink.flush(None)
    assert [r.status for r in receipts] == ["delivered"] and len(client.events) == 10
    assert len(sleeps) == 3 and all(0 <= s <= 0.1 * 2 ** i for i, s in enumerate(sleeps))


@pytest.mark.parametrize(("error", "message"), [("ThrottlingException", "Rate limited"),
                                                  ("AccessDeniedException", "Access error"),
                                                  ("InvalidParameterException", "Unknown error")])
def test_terminal_errors_fail_with_aws_message_and_spool(tmp_path: Path, error: str, message: str) -> None:
    client = FakeLogs(throttle=10**6, error=error)
    statuses: list[tuple[str, str, str | None]] = []
    sink = CloudWatchLogsSink(client=client, checkpoints=CheckpointStore(tmp_path / "c.db"), sleep=lambda s: None,
                              retry=RetryPolicy(max_attempts=3), spool=Spool(tmp_path / "spool"),
                              status=lambda *a: statuses.append(a))
    sink.write(_flow_log(), _table(5))
    assert [r.status for r in sink.flush(None)] == ["spooled"]
    assert statuses == [("fl-0000000000000000e", "FAILED", message)]
    client.throttle = 0  # the destination recovers
    assert [r.status for r in sink.flush(None)] == ["redelivered"]
    assert len(client.events) == 5 and statuses[-1] == ("fl-0000000000000000e", "SUCCESS", None)


def test_a_refused_call_leaves_no_intent(tmp_path: Path) -> None:
    client = FakeLogs(throttle=1, error="InvalidParameterException")
    ckpt = CheckpointStore(tmp_path / "c.db")
    sink = CloudWatchLogsSink(client=client, checkpoints=ckpt, sleep=lambda s: None, spool=Spool(tmp_path / "s"))
    sink.write(_flow_log(), _table(3))
    sink.flush(None)
    assert ckpt.intent("default/fl-0000000000000000e", "http://fake/g", "eni-1-all") is None
