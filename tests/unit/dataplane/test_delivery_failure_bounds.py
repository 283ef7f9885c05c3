"""Failed deliveries are reported truthfully and cost bounded time (issue 13, "Status is the truth").

* an unreachable endpoint is retried within ``RetryPolicy.max_elapsed_s``, then FAILED / ``Unknown error``
  and spooled (it used to be retried at every flush for minutes, silently);
* after a failure a sink with ``retry_after_s`` leaves the flow log alone (spooling) until that time
  has passed, with one last attempt at the final flush;
* no credentials and any 403 are ``Access error`` for S3 and CloudWatch Logs alike, never a traceback.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

botocore = pytest.importorskip("botocore")
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError  # noqa: E402
from test_delivery_boto_errors import FakeLogs, _flow_log, _table  # noqa: E402

from vpcflow.core.errors import DeliveryFailedError, DeliveryRetryableError  # noqa: E402
from vpcflow.dataplane.sinks.base import RetryPolicy  # noqa: E402
from vpcflow.dataplane.sinks.cloudwatch_logs import CloudWatchLogsSink  # noqa: E402
from vpcflow.dataplane.sinks.local_bucket import LocalBucketSink  # noqa: E402
from vpcflow.dataplane.sinks.s3 import map_client_error  # noqa: E402
from vpcflow.dataplane.sinks.s3_common import S3Object  # noqa: E402
from vpcflow.dataplane.sinks.spool import CheckpointStore, Spool  # noqa: E402
from vpcflow.model.flowlog import FlowLog  # noqa: E402
from vpcflow.storage.bucketstore import BucketStore  # noqa: E402

FL = FlowLog("fl-0000000000000000a", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3",
             _flow_log().creation_time, log_destination="arn:aws:s3:::bucket")


class Clock:
    """A monotonic clock that only the sink's sleeps move."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(time, "monotonic", c)
    return c


class Unreachable(LocalBucketSink):
    """An S3 sink whose endpoint refuses every connection until ``up`` (each call costs 3 s)."""

    def __init__(self, *a: Any, clock: Clock, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.calls = 0
        self.up = False
        self.clock = clock

    def _put(self, obj: S3Object) -> None:
        self.calls += 1
        if not self.up:
            self.clock.now += 3.0  # a connect timeout
            raise map_client_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), sink="s3",
                                   destination=obj.key)
        super()._put(obj)


def _sink(tmp_path: Path, clock: Clock, statuses: list[tuple[str, str, str | None]], **kw: Any) -> Unreachable:
    store = BucketStore(tmp_path / "s3", fsync=False)
    store.create_bucket("bucket")
    return Unreachable(store, clock=clock, spool=Spool(tmp_path / "spool", fsync=False),
                       status=lambda *a: statuses.append(a), sleep=clock.sleep,
                       retry=RetryPolicy(max_attempts=50, base_s=1.0, cap_s=4.0, max_elapsed_s=10.0), **kw)


def _records(start_minute: int, n: int = 4) -> Any:
    t = _table(n)
    base = 1_700_000_000 + 300 * start_minute
    import pyarrow as pa

    return t.set_column(t.column_names.index("end"), "end", pa.array([base + i for i in range(n)], pa.int64()))


def test_retry_policy_gives_up_on_attempts_or_elapsed_time() -> None:
    p = RetryPolicy(max_attempts=4, base_s=1.0, cap_s=2.0, max_elapsed_s=5.0)
    assert p.next_delay(1, 0.0, 0.999) == pytest.approx(0.999)
    assert p.next_delay(4, 0.0, 0.5) is None  # attempts spent
    assert p.next_delay(2, 4.5, 0.999) is None  # the wait would end past the budget
    assert p.next_delay(2, 2.0, 0.5) == pytest.approx(1.0)


def test_unreachable_endpoint_fails_within_the_budget_as_unknown_error_and_spools(tmp_path: Path,
                                                                                    clock: Clock) -> None:
    statuses: list[tuple[str, str, str | None]] = []
    sink = _sink(tmp_path, clock, statuses)
    sink.write(FL, _records(0))
    t0 = clock.now
    receipts = sink.flush(None)
    assert [r.status for r in receipts] == ["spooled"]
    assert statuses == [(FL.flow_log_id, "FAILED", "Unknown error")]
    assert clock.now - t0 <= 10.0 + 3.0  # the budget plus the last call's own timeout
    assert 2 <= sink.calls < 50


def test_after_a_failure_the_sink_spools_without_trying_until_retry_after_then_tries_at_the_end(
        tmp_path: Path, clock: Clock) -> None:
    statuses: list[tuple[str, str, str | None]] = []
    sink = _sink(tmp_path, clock, statuses, retry_after_s=60.0)
    sink.write(FL, _records(0))
    assert [r.status for r in sink.flush(10**10)] == ["spooled"]
    tried = sink.calls
    for minute in (1, 2, 3):  # later flushes of the same run: straight to the spool, no calls
        sink.write(FL, _records(minute))
        assert [r.status for r in sink.flush(10**10)] == ["spooled"]
    assert sink.calls == tried
    clock.now += 11.0  # the failure is older than one retry budget (max_elapsed_s=10)
    sink.flush(None)  # the final flush tries once more (still down)
    assert sink.calls > tried
    tried = sink.calls
    sink.close()  # ... and only once
    assert sink.calls == tried
    assert statuses[-1] == (FL.flow_log_id, "FAILED", "Unknown error")


def test_a_failure_in_the_final_flush_is_not_retried_at_once_by_close(tmp_path: Path, clock: Clock) -> None:
    statuses: list[tuple[str, str, str | None]] = []
    sink = _sink(tmp_path, clock, statuses, retry_after_s=60.0)
    sink.write(FL, _records(0))
    sink.write(FL, _records(1))
    assert [r.status for r in sink.flush(None)] == ["spooled", "spooled"]  # one retry round, the rest queued
    tried = sink.calls
    sink.close()
    assert sink.calls == tried


def test_after_retry_after_has_passed_the_spool_drains_and_status_is_success(tmp_path: Path, clock: Clock) -> None:
    statuses: list[tuple[str, str, str | None]] = []
    sink = _sink(tmp_path, clock, statuses, retry_after_s=60.0)
    sink.write(FL, _records(0))
    sink.flush(10**10)
    sink.up = True
    clock.now += 61.0
    sink.write(FL, _records(1))
    receipts = sink.flush(10**10)
    assert sorted(r.status for r in receipts) == ["delivered", "redelivered"]
    assert statuses[-1] == (FL.flow_log_id, "SUCCESS", None)
    assert Spool(tmp_path / "spool").count() == 0


@pytest.mark.parametrize("exc", [NoCredentialsError(),
                                 ClientError({"Error": {"Code": "AccessDeniedByPolicy", "Message": "no"},
                                              "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")])
def test_s3_no_credentials_and_any_403_are_access_errors(exc: Exception) -> None:
    err = map_client_error(exc, sink="s3", destination="s3://b/k")
    assert isinstance(err, DeliveryFailedError) and err.aws_message == "Access error"


def test_s3_connection_errors_are_retried_then_unknown_error() -> None:
    err = map_client_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), sink="s3", destination="x")
    assert isinstance(err, DeliveryRetryableError) and err.aws_message == "Unknown error"


class NoCredentialsLogs(FakeLogs):
    def describe_log_groups(self, logGroupNamePrefix: str) -> dict[str, Any]:
        raise NoCredentialsError()


class Forbidden(FakeLogs):
    def put_log_events(self, logGroupName: str, logStreamName: str, logEvents: list[dict[str, Any]]) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "NotAuthorizedForThisStream", "Message": "refused"},
                           "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutLogEvents")


@pytest.mark.parametrize("client", [NoCredentialsLogs(0), Forbidden(0)], ids=["no-credentials", "unlisted-403"])
def test_cloudwatch_no_credentials_and_unlisted_403_are_access_errors_and_spool(tmp_path: Path,
                                                                               client: FakeLogs) -> None:
    statuses: list[tuple[str, str, str | None]] = []
    sink = CloudWatchLogsSink(client=client, checkpoints=CheckpointStore(tmp_path / "c.db"), sleep=lambda s: None,
                              spool=Spool(tmp_path / "spool"), status=lambda *a: statuses.append(a))
    sink.write(_flow_log(), _table(5))
    assert [r.status for r in sink.flush(None)] == ["spooled"]
    assert statuses == [("fl-0000000000000000e", "FAILED", "Access error")]


def test_cloudwatch_unreachable_endpoint_is_unknown_error() -> None:
    class Down(FakeLogs):
        def describe_log_groups(self, logGroupNamePrefix: str) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    sink = CloudWatchLogsSink(client=Down(0), checkpoints=CheckpointStore(":memory:"), sleep=lambda s: None,
                              retry=RetryPolicy(max_attempts=2))
    sink.write(_flow_log(), _table(2))
    with pytest.raises(DeliveryFailedError) as info:  # no spool configured: the failure surfaces
        sink.flush(None)
    assert info.value.aws_message == "Unknown error"


@pytest.mark.parametrize("service", ["s3", "logs"])
def test_boto_clients_make_one_attempt_with_short_timeouts(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sink's RetryPolicy is the only retry loop: botocore's own ``max_attempts: 1`` (standard mode)
    still retried once, doubling every timeout against an endpoint that does not answer."""
    from vpcflow.dataplane.sinks.cloudwatch_logs import logs_client
    from vpcflow.dataplane.sinks.s3 import s3_client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = (s3_client if service == "s3" else logs_client)("http://127.0.0.1:9", "us-east-1")
    cfg = client.meta.config
    assert cfg.retries["total_max_attempts"] == 1
    assert (cfg.connect_timeout, cfg.read_timeout) == (3, 10)
