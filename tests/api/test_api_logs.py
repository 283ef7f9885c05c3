"""CloudWatch Logs JSON 1.1 over HTTP with real boto3 clients: the embedded log store's groups, streams
and events, paging tokens, filter patterns, modelled exceptions and IAM reader denials (wire 1.4, 2.3)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from api_helpers import (
    ACCT,
    CAROL,
    ERIN,
    GROUP,
    GROUP_ARN,
    REGION,
    Endpoint,
    endpoint_fixture,
    logs_headers,
    raw_request,
)
from botocore.exceptions import ClientError

from vpcflow.storage.logstore import LogStore

NOW_MS = int(time.time() * 1000)
LINES = [
    f"2 {ACCT} eni-0a1b2c3d4e5f6071b 172.31.0.10 10.0.0.{i} 443 {40000 + i} 6 {i + 1} {100 * (i + 1)} "
    f"{NOW_MS // 1000 - 60} {NOW_MS // 1000} {'REJECT' if i % 3 == 0 else 'ACCEPT'} OK"
    for i in range(10)
]


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Any:
    for endpoint in endpoint_fixture(tmp_path_factory):
        logs = endpoint.client("logs")
        logs.create_log_group(logGroupName=GROUP)
        for stream in ("eni-a-all", "eni-b-all"):
            logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName="eni-a-all",
            logEvents=[{"timestamp": NOW_MS - 10_000 + i, "message": m} for i, m in enumerate(LINES)],
        )
        logs.put_log_events(
            logGroupName=GROUP, logStreamName="eni-b-all",
            logEvents=[{"timestamp": NOW_MS - 5_000, "message": "2 - - - - - - - - - 1 2 - NODATA"}],
        )
        yield endpoint


def _error(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_describe_log_groups_matches_the_store(ep: Endpoint) -> None:
    wire = ep.client("logs").describe_log_groups(logGroupNamePrefix="/vpcflow/")
    with LogStore(ep.data_dir / "logs.db", account_id=ACCT, region=REGION) as store:
        direct = store.describe_log_groups(logGroupNamePrefix="/vpcflow/")
    assert wire["logGroups"] == direct["logGroups"]
    (group,) = wire["logGroups"]
    assert group["logGroupName"] == GROUP and group["logGroupArn"] == GROUP_ARN
    assert group["arn"] == GROUP_ARN + ":*"
    assert group["storedBytes"] == sum(len(m) for m in LINES) + len("2 - - - - - - - - - 1 2 - NODATA")
    assert wire["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"


def test_log_group_paginator_and_limits(ep: Endpoint) -> None:
    logs = ep.client("logs")
    names = [f"/paging/g{i}" for i in range(5)]
    for n in names:
        logs.create_log_group(logGroupName=n)
    pages = list(logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix="/paging/", PaginationConfig={"PageSize": 2}))
    assert [[g["logGroupName"] for g in p["logGroups"]] for p in pages] == [names[0:2], names[2:4], names[4:]]
    with pytest.raises(ClientError) as e:
        logs.describe_log_groups(limit=51)
    code, message, status = _error(e)
    assert (code, status) == ("InvalidParameterException", 400) and "less than or equal to 50" in message
    for n in names:
        logs.delete_log_group(logGroupName=n)
    assert logs.describe_log_groups(logGroupNamePrefix="/paging/")["logGroups"] == []


def test_describe_log_streams_pages_and_reports_event_times(ep: Endpoint) -> None:
    logs = ep.client("logs")
    pages = list(logs.get_paginator("describe_log_streams").paginate(
        logGroupName=GROUP, PaginationConfig={"PageSize": 1}))
    streams = [s for p in pages for s in p["logStreams"]]
    assert [s["logStreamName"] for s in streams] == ["eni-a-all", "eni-b-all"]
    assert len(pages) == 2
    a = streams[0]
    assert a["firstEventTimestamp"] == NOW_MS - 10_000 and a["lastEventTimestamp"] == NOW_MS - 10_000 + 9
    assert a["arn"] == f"{GROUP_ARN}:log-stream:eni-a-all"
    by_arn = logs.describe_log_streams(logGroupIdentifier=GROUP_ARN, logStreamNamePrefix="eni-b")
    assert [s["logStreamName"] for s in by_arn["logStreams"]] == ["eni-b-all"]


def test_get_log_events_pages_forward_until_the_same_token_returns(ep: Endpoint) -> None:
    logs = ep.client("logs")
    seen: list[str] = []
    token = None
    for _ in range(20):
        kw: dict[str, Any] = {"logGroupName": GROUP, "logStreamName": "eni-a-all", "limit": 4, "startFromHead": True}
        if token:
            kw["nextToken"] = token
        page = logs.get_log_events(**kw)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            assert page["events"] == []  # AWS's termination signal
            break
        token = page["nextForwardToken"]
    assert seen == LINES
    newest = logs.get_log_events(logGroupName=GROUP, logStreamName="eni-a-all", limit=3)
    assert [e["message"] for e in newest["events"]] == LINES[-3:]
    older = logs.get_log_events(logGroupName=GROUP, logStreamName="eni-a-all", limit=3,
                                nextToken=newest["nextBackwardToken"])
    assert [e["message"] for e in older["events"]] == LINES[-6:-3]
    event = newest["events"][0]
    assert event["timestamp"] == NOW_MS - 10_000 + 7 and event["ingestionTime"] >= event["timestamp"]


def test_filter_log_events_with_patterns_and_paging(ep: Endpoint) -> None:
    logs = ep.client("logs")
    rejects = logs.filter_log_events(logGroupName=GROUP, filterPattern="REJECT")
    assert [e["message"] for e in rejects["events"]] == [m for m in LINES if "REJECT" in m]
    assert {e["logStreamName"] for e in rejects["events"]} == {"eni-a-all"}
    pattern = ("[version, account, eni, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes >= 500,"
               " start, end, action = ACCEPT, status]")
    big = logs.filter_log_events(logGroupName=GROUP, filterPattern=pattern)
    assert [e["message"] for e in big["events"]] == [
        m for i, m in enumerate(LINES) if 100 * (i + 1) >= 500 and i % 3 != 0
    ]
    pages = list(logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, PaginationConfig={"PageSize": 4}))
    everything = [e["message"] for p in pages for e in p["events"]]
    assert sorted(everything) == sorted([*LINES, "2 - - - - - - - - - 1 2 - NODATA"])
    assert len(pages) >= 3
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName=GROUP, filterPattern="[version, account")
    assert _error(e)[0] == "InvalidParameterException" and "Invalid filter pattern" in _error(e)[1]


def test_put_log_events_rules_and_modelled_exceptions(ep: Endpoint) -> None:
    logs = ep.client("logs")
    logs.create_log_stream(logGroupName=GROUP, logStreamName="writes")
    with pytest.raises(logs.exceptions.InvalidParameterException) as e:
        logs.put_log_events(logGroupName=GROUP, logStreamName="writes",
                            logEvents=[{"timestamp": NOW_MS, "message": "b"}, {"timestamp": NOW_MS - 1, "message": "a"}])
    assert "chronological" in _error(e)[1]
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.get_log_events(logGroupName=GROUP, logStreamName="no-such-stream")
    assert _error(e) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.describe_log_streams(logGroupName="/no/such/group")
    assert _error(e)[1] == "The specified log group does not exist."
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException) as e:
        logs.create_log_group(logGroupName=GROUP)
    assert _error(e) == ("ResourceAlreadyExistsException", "The specified log group already exists", 400)
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=30)
    group = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]
    assert group["retentionInDays"] == 30
    logs.delete_retention_policy(logGroupName=GROUP)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]


def test_reader_permissions_are_enforced_per_resource(ep: Endpoint) -> None:
    carol = ep.client("logs", CAROL)
    events = carol.get_log_events(logGroupName=GROUP, logStreamName="eni-b-all")["events"]
    assert [e["message"] for e in events] == ["2 - - - - - - - - - 1 2 - NODATA"]
    assert carol.filter_log_events(logGroupName=GROUP, filterPattern="NODATA")["events"]
    with pytest.raises(ClientError) as e:
        carol.describe_log_groups()
    assert _error(e) == (
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/carol is not authorized to perform: logs:DescribeLogGroups "
        "on resource: arn:aws:logs:us-east-1:123456789012:log-group:*",
        400,
    )
    ep.client("logs").create_log_group(logGroupName="/other/group")
    with pytest.raises(ClientError) as e:
        carol.filter_log_events(logGroupName="/other/group")
    assert _error(e)[0] == "AccessDeniedException"
    assert _error(e)[1].endswith("logs:FilterLogEvents on resource: arn:aws:logs:us-east-1:123456789012:"
                                 "log-group:/other/group")
    with pytest.raises(ClientError) as e:
        carol.create_log_group(logGroupName="/carol/own")
    assert _error(e)[0] == "AccessDeniedException" and "logs:CreateLogGroup" in _error(e)[1]
    with pytest.raises(ClientError) as e:
        ep.client("logs", ERIN).put_log_events(
            logGroupName=GROUP, logStreamName="eni-a-all", logEvents=[{"timestamp": NOW_MS, "message": "x"}])
    assert _error(e)[1] == (
        "User: arn:aws:iam::123456789012:user/erin is not authorized to perform: logs:PutLogEvents on resource: "
        f"{GROUP_ARN}:log-stream:eni-a-all"
    )


def test_json_protocol_errors(ep: Endpoint) -> None:
    missing = raw_request(ep, b'{"logGroupName": "g"}', logs_headers("GetLogEvents"), service="logs")
    assert missing.status == 400
    assert missing.json() == {
        "__type": "InvalidParameterException",
        "message": "1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: "
                   "Member must not be null",
    }
    wrong_type = raw_request(ep, b'{"logGroupName": "g", "limit": "ten"}', logs_headers("DescribeLogStreams"),
                             service="logs")
    assert wrong_type.json()["__type"] == "InvalidParameterException" and "limit" in wrong_type.json()["message"]
    unknown = raw_request(ep, b"{}", logs_headers("DescribeMetricFilters"), service="logs")
    assert unknown.status == 400 and unknown.json()["__type"] == "UnknownOperationException"
    assert "DescribeMetricFilters" in unknown.json()["message"]
    bogus = raw_request(ep, b"{}", logs_headers("NoSuchThing"), service="logs")
    assert bogus.json()["__type"] == "UnknownOperationException"
    broken = raw_request(ep, b"{not json", logs_headers("DescribeLogGroups"), service="logs")
    assert broken.status == 400 and broken.json()["__type"] == "SerializationException"
    assert missing.headers.get("x-amzn-RequestId") or missing.headers.get("x-amzn-requestid")
    unsupported = raw_request(ep, b'{"logGroupNamePattern": "api"}', logs_headers("DescribeLogGroups"),
                              service="logs")
    assert unsupported.json()["__type"] == "InvalidParameterException"
    assert "logGroupNamePattern" in unsupported.json()["message"]


def test_aws_cli_reads_the_log_store(ep: Endpoint) -> None:
    import json
    import os
    import shutil
    import subprocess
    import sys

    try:
        import awscli  # noqa: F401

        cli = [sys.executable, "-m", "awscli"]
    except ImportError:
        found = shutil.which("aws")
        if found is None:
            pytest.skip("the AWS CLI is not installed (pip install awscli)")
        cli = [found]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=CAROL[0], AWS_SECRET_ACCESS_KEY=CAROL[1], AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1")
    out = subprocess.run(
        [*cli, "logs", "filter-log-events", "--endpoint-url", ep.url, "--log-group-name", GROUP,
         "--filter-pattern", "REJECT", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert [e["message"] for e in json.loads(out.stdout)["events"]] == [m for m in LINES if "REJECT" in m]


def test_hostile_bodies_and_patterns_are_aws_errors(ep: Endpoint) -> None:
    """Issue 13 item 8 over the wire: a body nested past Python's JSON parser is a SerializationException,
    a filter pattern over 1,024 characters AWS's validation error (botocore's logs model: max 1024)."""
    deep = raw_request(ep, b'{"logGroupName": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                       logs_headers("DescribeLogGroups"), service="logs")
    assert deep.status == 400 and deep.json()["__type"] == "SerializationException"
    body = json.dumps({"logGroupName": GROUP, "filterPattern": "?x " * 400}).encode()
    long = raw_request(ep, body, logs_headers("FilterLogEvents"), service="logs")
    assert long.status == 400 and long.json()["__type"] == "InvalidParameterException"
    assert "at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024" in (
        long.json()["message"])
    nested = json.dumps({"logGroupName": GROUP, "filterPattern": "[a, " + "(" * 500 + "a = 1" + ")" * 500 + "]"})
    ok = raw_request(ep, nested.encode(), logs_headers("FilterLogEvents"), service="logs")
    assert ok.status == 200 and ok.json()["events"] == []
