"""EC2 flow-log API over HTTP with real boto3 clients and the AWS CLI: values round-trip exactly,
errors surface as ClientError with AWS's code, message and HTTP status (wire spec 2.2-2.4, 1.4)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import (
    ALICE,
    BOB,
    ENI,
    ERIN,
    FORM,
    GROUP,
    REGION,
    ROOT,
    SUBNET,
    VPC,
    Endpoint,
    cwl_params,
    endpoint_fixture,
    raw_request,
)
from botocore.exceptions import ClientError

from vpcflow.controlplane.authorization import decode_authorization_message
from vpcflow.runtime.client import Ec2Client


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from endpoint_fixture(tmp_path_factory)


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "ResponseMetadata"}


def _error(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def _delete_all(ep: Endpoint) -> None:
    ec2 = ep.client("ec2")
    ids = [f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]]
    if ids:
        ec2.delete_flow_logs(FlowLogIds=ids)


def test_create_then_describe_round_trips_every_value(ep: Endpoint) -> None:
    _delete_all(ep)
    ec2 = ep.client("ec2", ALICE)
    before = datetime.now(UTC)
    created = ec2.create_flow_logs(
        **cwl_params(
            TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "team", "Value": "net"}]}],
            MaxAggregationInterval=60,
            ClientToken="api-token-1",
        )
    )
    assert created["ClientToken"] == "api-token-1"
    assert created["Unsuccessful"] == []
    assert len(created["FlowLogIds"]) == 1 and re.fullmatch(r"fl-[0-9a-f]{17}", created["FlowLogIds"][0])
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert created["ResponseMetadata"]["RequestId"]  # from <requestId>

    s3 = ec2.create_flow_logs(
        ResourceIds=[SUBNET],
        ResourceType="Subnet",
        TrafficType="REJECT",
        LogDestinationType="s3",
        LogDestination="arn:aws:s3:::api-test-logs/prefix/",
        LogFormat="${version} ${interface-id} ${srcaddr} ${dstaddr} ${action} ${flow-direction}",
        DestinationOptions={"FileFormat": "parquet", "HiveCompatiblePartitions": True, "PerHourPartition": True},
    )
    assert s3["Unsuccessful"] == [] and len(s3["FlowLogIds"]) == 1

    wire = ep.client("ec2", ALICE).describe_flow_logs()
    with Ec2Client(ep.data_dir) as direct:
        expected = direct.describe_flow_logs()
    # Whatever the control plane answers, boto3 reads back through the XML: nothing dropped or renamed.
    assert _strip(wire) == _strip(expected)
    by_id = {f["FlowLogId"]: f for f in wire["FlowLogs"]}
    cwl = by_id[created["FlowLogIds"][0]]
    assert cwl["ResourceId"] == VPC and cwl["TrafficType"] == "ALL" and cwl["LogGroupName"] == GROUP
    assert cwl["MaxAggregationInterval"] == 60
    assert cwl["Tags"] == [{"Key": "team", "Value": "net"}]
    assert cwl["LogDestinationType"] == "cloud-watch-logs"
    assert cwl["DeliverLogsStatus"] == "SUCCESS" and cwl["FlowLogStatus"] == "ACTIVE"
    created_at = cwl["CreationTime"]
    assert created_at.tzinfo is not None and created_at.microsecond % 1000 == 0  # ISO with milliseconds
    assert before - timedelta(seconds=1) <= created_at <= datetime.now(UTC) + timedelta(seconds=1)
    parquet = by_id[s3["FlowLogIds"][0]]
    assert parquet["DestinationOptions"] == {
        "FileFormat": "parquet",
        "HiveCompatiblePartitions": True,
        "PerHourPartition": True,
    }
    assert parquet["LogFormat"] == "${version} ${interface-id} ${srcaddr} ${dstaddr} ${action} ${flow-direction}"
    assert parquet["LogDestination"] == "arn:aws:s3:::api-test-logs/prefix/"


def test_client_token_replay_returns_the_same_ids(ep: Endpoint) -> None:
    _delete_all(ep)
    ec2 = ep.client("ec2", ALICE)
    first = ec2.create_flow_logs(**cwl_params(ClientToken="same"))
    again = ec2.create_flow_logs(**cwl_params(ClientToken="same"))
    assert again["FlowLogIds"] == first["FlowLogIds"]
    with pytest.raises(ClientError) as e:
        ec2.create_flow_logs(**cwl_params(ClientToken="same", TrafficType="REJECT"))
    assert _error(e)[0] == "IdempotentParameterMismatch" and _error(e)[2] == 400


def test_partial_success_is_data_with_unsuccessful_items(ep: Endpoint) -> None:
    _delete_all(ep)
    ec2 = ep.client("ec2")
    ec2.create_flow_logs(**cwl_params())
    again = ec2.create_flow_logs(**cwl_params(ResourceIds=[VPC, "vpc-0000000000000dead"]))
    assert again["FlowLogIds"] == []
    errors = {u["ResourceId"]: u["Error"] for u in again["Unsuccessful"]}
    assert errors[VPC]["Code"] == "FlowLogAlreadyExists"
    assert errors[VPC]["Message"] == (
        "Error. There is an existing Flow Log with the same configuration and log destination."
    )
    assert set(errors) == {VPC, "vpc-0000000000000dead"}
    assert errors["vpc-0000000000000dead"]["Code"] and errors["vpc-0000000000000dead"]["Message"]


def _make_many(ep: Endpoint, n_groups: int) -> list[str]:
    ec2 = ep.client("ec2")
    ids: list[str] = []
    for i in range(n_groups):
        for rid, rtype in ((VPC, "VPC"), (SUBNET, "Subnet"), (ENI, "NetworkInterface")):
            r = ec2.create_flow_logs(
                ResourceIds=[rid],
                ResourceType=rtype,
                TrafficType=("ACCEPT", "REJECT", "ALL")[i % 3],
                LogGroupName=f"/pages/{i}",
                DeliverLogsPermissionArn=cwl_params()["DeliverLogsPermissionArn"],
                TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "page", "Value": str(i)}]}],
            )
            ids += r["FlowLogIds"]
    return ids


def test_paginator_walks_every_flow_log_in_pages(ep: Endpoint) -> None:
    _delete_all(ep)
    ids = _make_many(ep, 4)  # 12 flow logs
    ec2 = ep.client("ec2")
    pages = list(ec2.get_paginator("describe_flow_logs").paginate(PaginationConfig={"PageSize": 5}))
    assert [len(p["FlowLogs"]) for p in pages] == [5, 5, 2]
    assert [f["FlowLogId"] for p in pages for f in p["FlowLogs"]] == ids  # creation order, no repeats
    assert "NextToken" in pages[0] and "NextToken" not in pages[-1]
    limited = ec2.get_paginator("describe_flow_logs").paginate(PaginationConfig={"PageSize": 5, "MaxItems": 7})
    assert [f["FlowLogId"] for f in limited.build_full_result()["FlowLogs"]] == ids[:7]


def test_filters_select_by_value_and_tag(ep: Endpoint) -> None:
    _delete_all(ep)
    ids = _make_many(ep, 2)
    ec2 = ep.client("ec2")

    def select(**kw: Any) -> list[str]:
        return [f["FlowLogId"] for f in ec2.describe_flow_logs(**kw)["FlowLogs"]]

    assert select(Filter=[{"Name": "resource-id", "Values": [SUBNET]}]) == [ids[1], ids[4]]
    assert select(Filter=[{"Name": "tag:page", "Values": ["1"]}]) == ids[3:6]
    assert select(Filter=[{"Name": "traffic-type", "Values": ["REJECT"]},
                          {"Name": "resource-id", "Values": [ENI, VPC]}]) == [ids[3], ids[5]]
    assert select(Filter=[{"Name": "log-group-name", "Values": ["/pages/*"]}]) == ids
    assert select(FlowLogIds=[ids[2], ids[0]]) == [ids[0], ids[2]]
    with pytest.raises(ClientError) as e:
        ec2.describe_flow_logs(Filter=[{"Name": "colour", "Values": ["red"]}])
    code, message, status = _error(e)
    assert (code, status) == ("InvalidParameterValue", 400) and "colour" in message


def test_delete_reports_unknown_ids_and_removes_known_ones(ep: Endpoint) -> None:
    _delete_all(ep)
    ec2 = ep.client("ec2")
    fl = ec2.create_flow_logs(**cwl_params())["FlowLogIds"][0]
    answer = ec2.delete_flow_logs(FlowLogIds=[fl, "fl-00000000000000000"])
    assert answer["Unsuccessful"] == [
        {
            "Error": {
                "Code": "InvalidFlowLogId.NotFound",
                "Message": "These flow log ids in the input list are not found: [TotalCount: 1] fl-00000000000000000",
            },
            "ResourceId": "fl-00000000000000000",
        }
    ]
    assert ec2.describe_flow_logs()["FlowLogs"] == []


def test_tags_are_created_and_deleted(ep: Endpoint) -> None:
    _delete_all(ep)
    ec2 = ep.client("ec2", ALICE)
    fl = ec2.create_flow_logs(**cwl_params())["FlowLogIds"][0]
    ec2.create_tags(Resources=[fl], Tags=[{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "net"}])
    tags = ec2.describe_flow_logs(FlowLogIds=[fl])["FlowLogs"][0]["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "prod"), ("owner", "net")]
    ec2.delete_tags(Resources=[fl], Tags=[{"Key": "env"}])
    assert ec2.describe_flow_logs(FlowLogIds=[fl])["FlowLogs"][0]["Tags"] == [{"Key": "owner", "Value": "net"}]
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=["fl-0123456789abcdef0"], Tags=[{"Key": "a", "Value": "b"}])
    code, message, status = _error(e)
    assert (code, status) == ("InvalidFlowLogId.NotFound", 400)
    assert message == "These flow log ids in the input list are not found: [TotalCount: 1] fl-0123456789abcdef0"


def test_dry_run_answers_412_when_allowed_and_403_when_not(ep: Endpoint) -> None:
    with pytest.raises(ClientError) as e:
        ep.client("ec2", ALICE).create_flow_logs(**cwl_params(DryRun=True))
    assert _error(e) == ("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
    with pytest.raises(ClientError) as e:
        ep.client("ec2", BOB).create_flow_logs(**cwl_params(DryRun=True))
    assert _error(e)[0] == "UnauthorizedOperation" and _error(e)[2] == 403
    with pytest.raises(ClientError) as e:
        ep.client("ec2", ERIN).describe_flow_logs(DryRun=True)
    assert _error(e)[0] == "UnauthorizedOperation"


def test_user_without_passrole_is_refused_with_an_encoded_message(ep: Endpoint) -> None:
    _delete_all(ep)
    with pytest.raises(ClientError) as e:
        ep.client("ec2", BOB).create_flow_logs(**cwl_params())
    code, message, status = _error(e)
    assert (code, status) == ("UnauthorizedOperation", 403)
    prefix = "You are not authorized to perform this operation. Encoded authorization failure message: "
    assert message.startswith(prefix)
    decoded = decode_authorization_message(message[len(prefix):])
    assert decoded["context"]["action"] == "iam:PassRole"
    assert decoded["context"]["principal"] == "arn:aws:iam::123456789012:user/bob"
    assert decoded["context"]["resource"] == "arn:aws:iam::123456789012:role/flow-logs-delivery"
    # Nothing was created by the refused call; bob may describe (his policy allows it).
    assert ep.client("ec2", BOB).describe_flow_logs()["FlowLogs"] == []


def test_invalid_values_surface_as_client_errors(ep: Endpoint) -> None:
    ec2 = ep.client("ec2", ALICE)
    with pytest.raises(ClientError) as e:
        ec2.create_flow_logs(**cwl_params(MaxAggregationInterval=61))
    assert _error(e) == ("InvalidParameter", "Invalid Flow Log Max Aggregation Interval", 400)
    with pytest.raises(ClientError) as e:
        ec2.describe_flow_logs(MaxResults=5, NextToken="not-a-token")
    assert _error(e)[:1] == ("InvalidParameterValue",) and "not-a-token" in _error(e)[1]


def _form(**fields: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"Version": "2016-11-15", **fields}).encode()


def test_query_parser_errors_name_the_wire_parameter(ep: Endpoint) -> None:
    cases = [
        (_form(Action="DescribeFlowLogs", Colour="red"), "UnknownParameter", "The parameter Colour is not recognized"),
        (_form(Action="CreateFlowLogs", ResourceType="VPC", TrafficType="ALL"), "MissingParameter",
         "The request must contain the parameter ResourceId"),
        (_form(Action="Bogus"), "InvalidAction", "The action Bogus is not valid for this web service."),
        (b"Version=2016-11-15", "MissingAction", "The request must contain the parameter Action"),
    ]
    for body, code, message in cases:
        answer = raw_request(ep, body, FORM)
        assert answer.status == 400, body
        assert answer.xml_error() == (code, message)
    bad_int = raw_request(ep, _form(Action="DescribeFlowLogs", MaxResults="lots"), FORM)
    code, message = bad_int.xml_error()
    assert (bad_int.status, code) == (400, "InvalidParameterValue") and "MaxResults" in message and "lots" in message
    other = raw_request(ep, _form(Action="DescribeInstances"), FORM)  # in the model, not served
    assert other.status == 400 and other.xml_error()[0] == "UnsupportedOperation"
    assert "DescribeFlowLogs" in other.xml_error()[1]


def test_query_lists_and_structures_parse_like_botocore_writes_them(ep: Endpoint) -> None:
    _delete_all(ep)
    fields = {
        "Action": "CreateFlowLogs",
        "ResourceId.1": VPC,
        "ResourceId.2": SUBNET,
        "ResourceType": "VPC",
        "TrafficType": "ACCEPT",
        "LogDestinationType": "s3",
        "LogDestination": "arn:aws:s3:::api-test-logs",
        "TagSpecification.1.ResourceType": "vpc-flow-log",
        "TagSpecification.1.Tag.1.Key": "k",
        "TagSpecification.1.Tag.1.Value": "v",
        "DestinationOptions.FileFormat": "plain-text",
        "DestinationOptions.PerHourPartition": "true",
    }
    answer = raw_request(ep, _form(**fields), FORM)
    assert answer.status == 200, answer.body
    text = answer.body.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert '<CreateFlowLogsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' in text
    assert re.search(r"<requestId>[0-9a-f-]{36}</requestId>", text)
    assert re.search(r"<flowLogIdSet><item>fl-[0-9a-f]{17}</item></flowLogIdSet>", text)
    # the subnet is not in the VPC's resource type: an <unsuccessful> item with error code/message
    assert re.search(r"<unsuccessful><item><error><code>[^<]+</code><message>[^<]+</message></error>"
                     rf"<resourceId>{SUBNET}</resourceId></item></unsuccessful>", text)
    described = ep.client("ec2").describe_flow_logs()["FlowLogs"]
    assert len(described) == 1
    assert described[0]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert described[0]["DestinationOptions"]["PerHourPartition"] is True


def test_get_query_string_requests_are_served(ep: Endpoint) -> None:
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = ep.url + "/?Action=DescribeFlowLogs&Version=2016-11-15&Filter.1.Name=resource-id&Filter.1.Value.1=" + VPC
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(*ROOT), "ec2", REGION).add_auth(req)
    with urllib.request.urlopen(urllib.request.Request(url, headers=dict(req.headers.items())), timeout=10) as r:
        body = r.read().decode()
    assert r.status == 200 and "<DescribeFlowLogsResponse" in body and "<flowLogSet" in body


def _aws_cli() -> list[str] | None:
    try:
        import awscli  # noqa: F401

        return [sys.executable, "-m", "awscli"]
    except ImportError:
        found = shutil.which("aws")
        return [found] if found else None


def test_aws_cli_describe_flow_logs(ep: Endpoint) -> None:
    cli = _aws_cli()
    if cli is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli)")
    _delete_all(ep)
    fl = ep.client("ec2", ALICE).create_flow_logs(**cwl_params())["FlowLogIds"][0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ALICE[0], AWS_SECRET_ACCESS_KEY=ALICE[1], AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1")
    out = subprocess.run(
        [*cli, "ec2", "describe-flow-logs", "--endpoint-url", ep.url, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert out.returncode == 0, out.stderr
    flow_logs = json.loads(out.stdout)["FlowLogs"]
    assert [(f["FlowLogId"], f["ResourceId"], f["LogGroupName"]) for f in flow_logs] == [(fl, VPC, GROUP)]
    denied = subprocess.run(
        [*cli, "ec2", "describe-flow-logs", "--endpoint-url", ep.url],
        capture_output=True, text=True, timeout=60, check=False,
        env={**env, "AWS_ACCESS_KEY_ID": ERIN[0], "AWS_SECRET_ACCESS_KEY": ERIN[1]},
    )
    assert denied.returncode == 255  # AWS CLI v1's exit status for a service error (v2 uses 254)
    assert "An error occurred (UnauthorizedOperation) when calling the DescribeFlowLogs operation" in denied.stderr


def test_concurrent_clients_are_served_consistently(ep: Endpoint) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _delete_all(ep)

    def create(i: int) -> list[str]:
        ec2 = ep.client("ec2", ALICE)
        ids: list[str] = ec2.create_flow_logs(**cwl_params(LogGroupName=f"/concurrent/{i}"))["FlowLogIds"]
        assert ec2.describe_flow_logs(FlowLogIds=ids)["FlowLogs"][0]["LogGroupName"] == f"/concurrent/{i}"
        return ids

    with ThreadPoolExecutor(max_workers=6) as pool:
        created = [fl for ids in pool.map(create, range(12)) for fl in ids]
    assert len(set(created)) == 12
    listed = ep.client("ec2").describe_flow_logs()["FlowLogs"]
    assert sorted(f["FlowLogId"] for f in listed) == sorted(created)
