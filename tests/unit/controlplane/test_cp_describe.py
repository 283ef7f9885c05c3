"""DescribeFlowLogs (spec 6.3): every filter, FlowLogIds, MaxResults/NextToken, and every response field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cp_helpers import BUCKET, ENI, ROLE, SUBNET, VPC, cwl_params, s3_params

from vpcflow.controlplane.service import FlowLogService
from vpcflow.core.errors import ApiError
from vpcflow.model.fields import DEFAULT_FORMAT


def ids(out: dict[str, Any]) -> list[str]:
    return [f["FlowLogId"] for f in out["FlowLogs"]]


@pytest.fixture
def four(svc: FlowLogService) -> dict[str, str]:
    """s3 ALL on the VPC (tag team=net), cwl REJECT on the subnet (tags team=web, env), cwl ACCEPT on the ENI,
    s3 ACCEPT on the ENI with a custom format; the ENI's cwl flow log is FAILED."""
    tag = lambda *kv: [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": k, "Value": v} for k, v in kv]}]  # noqa: E731
    a = svc.create_flow_logs(None, **s3_params(TagSpecifications=tag(("team", "net"))))["FlowLogIds"][0]
    b = svc.create_flow_logs(
        None,
        **cwl_params(
            ResourceType="Subnet", ResourceIds=[SUBNET], TrafficType="REJECT",
            TagSpecifications=tag(("team", "web"), ("env", "prod")),
        ),
    )["FlowLogIds"][0]  # fmt: skip
    c = svc.create_flow_logs(
        None,
        **cwl_params(ResourceType="NetworkInterface", ResourceIds=[ENI], TrafficType="ACCEPT", LogGroupName="/other"),
    )["FlowLogIds"][0]
    d = svc.create_flow_logs(
        None,
        **s3_params(
            ResourceType="NetworkInterface", ResourceIds=[ENI], TrafficType="ACCEPT",
            LogFormat="${version} ${srcaddr} ${dstaddr}", MaxAggregationInterval=60,
        ),
    )["FlowLogIds"][0]  # fmt: skip
    svc.store.set_delivery_status(c, "FAILED", "Rate limited")
    return {"a": a, "b": b, "c": c, "d": d}


def q(svc: FlowLogService, *filters: tuple[str, list[str]], **kw: Any) -> list[str]:
    return ids(svc.describe_flow_logs(None, Filter=[{"Name": n, "Values": v} for n, v in filters], **kw))


def test_empty_account_describes_nothing(empty_svc: FlowLogService) -> None:
    assert empty_svc.describe_flow_logs(None) == {"FlowLogs": []}


def test_creation_order_and_flow_log_ids(svc: FlowLogService, four: dict[str, str]) -> None:
    assert ids(svc.describe_flow_logs(None)) == [four[k] for k in "abcd"]
    assert ids(svc.describe_flow_logs(None, FlowLogIds=[four["d"], four["a"]])) == [four["a"], four["d"]]
    # unknown ids filter to nothing (documented choice)
    assert ids(svc.describe_flow_logs(None, FlowLogIds=["fl-00000000000000000"])) == []


def test_every_filter(svc: FlowLogService, four: dict[str, str]) -> None:
    a, b, c, d = (four[k] for k in "abcd")
    assert q(svc, ("deliver-log-status", ["FAILED"])) == [c]
    assert q(svc, ("deliver-log-status", ["SUCCESS"])) == [a, b, d]
    assert q(svc, ("log-destination-type", ["s3"])) == [a, d]
    assert q(svc, ("log-destination-type", ["cloud-watch-logs"])) == [b, c]
    assert q(svc, ("flow-log-id", [b, d])) == [b, d]
    assert q(svc, ("log-group-name", ["/vpc/flow"])) == [b]
    assert q(svc, ("resource-id", [ENI])) == [c, d]
    assert q(svc, ("traffic-type", ["ACCEPT"])) == [c, d]
    assert q(svc, ("traffic-type", ["REJECT", "ALL"])) == [a, b]
    assert q(svc, ("tag:team", ["net"])) == [a]
    assert q(svc, ("tag:team", ["net", "web"])) == [a, b]
    assert q(svc, ("tag:env", ["prod"])) == [b]
    assert q(svc, ("tag-key", ["env"])) == [b]
    assert q(svc, ("tag-key", ["team"])) == [a, b]


def test_filters_and_values_semantics(svc: FlowLogService, four: dict[str, str]) -> None:
    # filters are AND-ed, values OR-ed; case-sensitive; wildcards * and ?
    assert q(svc, ("resource-id", [ENI]), ("log-destination-type", ["s3"])) == [four["d"]]
    assert q(svc, ("traffic-type", ["accept"])) == []
    assert q(svc, ("log-group-name", ["/o*"])) == [four["c"]]
    assert q(svc, ("resource-id", ["vpc-?a1b2c3d4e5f60718"])) == [four["a"]]
    assert q(svc, ("tag:team", ["w*"])) == [four["b"]]
    assert q(svc, ("resource-id", [])) == []


def test_unknown_filter(svc: FlowLogService) -> None:
    with pytest.raises(ApiError) as ei:
        svc.describe_flow_logs(None, Filter=[{"Name": "destination", "Values": ["x"]}])
    assert (ei.value.code, ei.value.message) == ("InvalidParameterValue", "The filter 'destination' is invalid")


def test_response_fields_s3(svc: FlowLogService, four: dict[str, str]) -> None:
    fl = svc.describe_flow_logs(None, FlowLogIds=[four["a"]])["FlowLogs"][0]
    assert fl == {
        "CreationTime": datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "DeliverLogsStatus": "SUCCESS",
        "FlowLogId": four["a"],
        "FlowLogStatus": "ACTIVE",
        "ResourceId": VPC,
        "TrafficType": "ALL",
        "LogDestinationType": "s3",
        "LogDestination": f"arn:aws:s3:::{BUCKET}",
        "LogFormat": DEFAULT_FORMAT,
        "Tags": [{"Key": "team", "Value": "net"}],
        "MaxAggregationInterval": 600,
        "DestinationOptions": {
            "FileFormat": "plain-text",
            "HiveCompatiblePartitions": False,
            "PerHourPartition": False,
        },
    }
    assert "DeliverLogsPermissionArn" not in fl and "LogGroupName" not in fl  # spec 6.3 observed S3 shape


def test_response_fields_cwl_and_failed(svc: FlowLogService, four: dict[str, str]) -> None:
    fl = svc.describe_flow_logs(None, FlowLogIds=[four["c"]])["FlowLogs"][0]
    assert fl["DeliverLogsStatus"] == "FAILED" and fl["DeliverLogsErrorMessage"] == "Rate limited"
    assert fl["DeliverLogsPermissionArn"] == ROLE
    assert fl["LogGroupName"] == "/other"
    assert fl["LogDestination"] == "arn:aws:logs:us-east-1:123456789012:log-group:/other"
    assert "DestinationOptions" not in fl and fl["Tags"] == []
    d = svc.describe_flow_logs(None, FlowLogIds=[four["d"]])["FlowLogs"][0]
    assert d["LogFormat"] == "${version} ${srcaddr} ${dstaddr}" and d["MaxAggregationInterval"] == 60
    assert list(svc.describe_flow_logs(None)["FlowLogs"][0]) == [
        "CreationTime", "DeliverLogsStatus", "FlowLogId", "FlowLogStatus", "ResourceId", "TrafficType",
        "LogDestinationType", "LogDestination", "LogFormat", "Tags", "MaxAggregationInterval", "DestinationOptions",
    ]  # fmt: skip


def test_pagination(svc: FlowLogService) -> None:
    made = []
    for i in range(12):
        made += svc.create_flow_logs(None, **s3_params(LogDestination=f"arn:aws:s3:::{BUCKET}/p{i}/"))["FlowLogIds"]
    seen: list[str] = []
    page = svc.describe_flow_logs(None, MaxResults=5)
    pages = 1
    while True:
        seen += ids(page)
        if "NextToken" not in page:
            break
        page = svc.describe_flow_logs(None, MaxResults=5, NextToken=page["NextToken"])
        pages += 1
    assert seen == made and pages == 3
    # a page boundary survives a deletion of an already-seen item
    first = svc.describe_flow_logs(None, MaxResults=5)
    svc.delete_flow_logs(None, FlowLogIds=[made[0]])
    second = svc.describe_flow_logs(None, MaxResults=5, NextToken=first["NextToken"])
    assert ids(second) == made[5:10]
    # pagination with a filter
    f = [{"Name": "log-destination-type", "Values": ["s3"]}]
    p1 = svc.describe_flow_logs(None, Filter=f, MaxResults=10)
    assert len(p1["FlowLogs"]) == 10 and "NextToken" in p1
    assert ids(svc.describe_flow_logs(None, Filter=f, MaxResults=10, NextToken=p1["NextToken"])) == [made[11]]


def test_pagination_errors(svc: FlowLogService) -> None:
    for bad in (0, 4, 1001):
        with pytest.raises(ApiError) as ei:
            svc.describe_flow_logs(None, MaxResults=bad)
        assert ei.value.code == "InvalidParameterValue" and "maxResults" in ei.value.message
    with pytest.raises(ApiError) as ei:
        svc.describe_flow_logs(None, NextToken="garbage!")
    assert ei.value.code == "InvalidParameterValue"
    svc.create_flow_logs(None, **s3_params())
    for i in range(6):
        svc.create_flow_logs(None, **s3_params(LogDestination=f"arn:aws:s3:::{BUCKET}/x{i}/"))
    token = svc.describe_flow_logs(None, MaxResults=5)["NextToken"]
    with pytest.raises(ApiError):  # a token from another request (different filters) is refused
        svc.describe_flow_logs(None, MaxResults=5, NextToken=token, Filter=[{"Name": "tag-key", "Values": ["a"]}])


def test_too_many_flow_log_ids(svc: FlowLogService) -> None:
    with pytest.raises(ApiError) as ei:
        svc.describe_flow_logs(None, FlowLogIds=[f"fl-{i:017x}" for i in range(1001)])
    assert "1000" in ei.value.message


def test_a_crafted_deeply_nested_next_token_is_invalid_not_a_crash(svc: FlowLogService) -> None:
    import base64

    token = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode()
    with pytest.raises(ApiError) as ei:
        svc.describe_flow_logs(None, MaxResults=5, NextToken=token)
    assert ei.value.code == "InvalidParameterValue" and "is invalid" in ei.value.message
