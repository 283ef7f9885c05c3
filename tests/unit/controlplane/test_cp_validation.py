"""CreateFlowLogs parameter rules: every rule and exact message of spec 6.5, the recorded cases of 6.2 and
6.4, checked with boto3-shaped parameter dicts. Parameter rules come before resource look-ups: a fresh,
empty account answers them (not NotFound)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cp_helpers import (
    ALICE,
    BARE_BUCKET,
    BUCKET,
    CLASSIC_ENI,
    ENI,
    ERIN,
    FOREIGN_BUCKET,
    OTHER_REGION_VPC,
    OWN_PEER_VPC,
    PEER_VPC,
    ROLE,
    SUBNET,
    VPC,
    cwl_params,
    s3_params,
)

from vpcflow.controlplane.service import FlowLogService
from vpcflow.core.errors import ApiError


def err(svc: FlowLogService, params: dict[str, Any], principal: str | None = None) -> ApiError:
    with pytest.raises(ApiError) as ei:
        svc.create_flow_logs(principal, **params)
    return ei.value


# --- spec 6.5, AWS-RECORDED [A7] messages, checked on an EMPTY account (rules before resources) ------


def test_spec_6_5_log_group_and_destination_both_given(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, cwl_params(LogDestination="arn:aws:logs:us-east-1:123456789012:log-group:x"))
    assert (e.code, e.message) == (
        "InvalidParameter",
        "Please only provide LogGroupName or only provide LogDestination.",
    )


def test_spec_6_5_destination_empty_without_log_group(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, cwl_params(LogGroupName=None))
    assert (e.code, e.message) == ("InvalidParameter", "LogDestination can't be empty if LogGroupName is not provided.")
    e = err(empty_svc, s3_params(LogDestination=None))
    assert e.message == "LogDestination can't be empty if LogGroupName is not provided."
    e = err(empty_svc, s3_params(LogDestination=""))
    assert e.message == "LogDestination can't be empty if LogGroupName is not provided."


def test_spec_6_5_log_group_requires_cloud_watch_logs_type(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(LogDestination=None, LogGroupName="g"))
    assert (e.code, e.message) == (
        "InvalidParameter",
        "LogDestination type must be cloud-watch-logs if LogGroupName is provided.",
    )


def test_spec_6_5_role_required_for_cloud_watch_logs(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, cwl_params(DeliverLogsPermissionArn=None))
    assert (e.code, e.message) == (
        "InvalidParameter",
        "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.",
    )


def test_spec_6_5_role_not_applicable_for_s3(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(DeliverLogsPermissionArn=ROLE))
    assert e.message == "DeliverLogsPermissionArn is not applicable for s3 delivery"
    assert e.http_status == 400


@pytest.mark.parametrize("interval", [0, 1, 59, 61, 300, 601, 3600])
def test_spec_6_5_max_aggregation_interval(empty_svc: FlowLogService, interval: int) -> None:
    e = err(empty_svc, s3_params(MaxAggregationInterval=interval))
    assert (e.code, e.message) == ("InvalidParameter", "Invalid Flow Log Max Aggregation Interval")


@pytest.mark.parametrize("fmt", ["", "${version}  ${srcaddr}", " ${version}", "${version} ", "${nope}", "version"])
def test_spec_6_5_log_format_invalid(empty_svc: FlowLogService, fmt: str) -> None:
    e = err(empty_svc, s3_params(LogFormat=fmt))
    assert e.message.startswith(f"Value '{fmt}' at 'logFormat' has an invalid format")


def test_log_format_transit_gateway_field_refused_for_vpc(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(LogFormat="${version} ${tgw-id}"))
    assert "at 'logFormat' has an invalid format" in e.message


# --- ordering: parameter rules before resources ---------------------------------------------------


def test_parameter_rule_beats_missing_resource(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(ResourceIds=["vpc-doesnotexist"], MaxAggregationInterval=5))
    assert e.message == "Invalid Flow Log Max Aggregation Interval"


def test_recorded_order_both_given_checked_before_type(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(LogGroupName="g"))
    assert e.message == "Please only provide LogGroupName or only provide LogDestination."


# --- required parameters, enums, limits -----------------------------------------------------------


def test_resource_ids_and_type_required(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(ResourceIds=None))
    assert (e.code, e.message) == ("MissingParameter", "The request must contain the parameter ResourceIds")
    e = err(empty_svc, s3_params(ResourceIds=[]))
    assert e.code == "MissingParameter"
    e = err(empty_svc, s3_params(ResourceType=None))
    assert (e.code, e.message) == ("MissingParameter", "The request must contain the parameter ResourceType")


def test_traffic_type_required_and_enum(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(TrafficType=None))
    assert e.code == "MissingParameter" and "TrafficType" in e.message
    e = err(empty_svc, s3_params(TrafficType="all"))
    assert e.code == "InvalidParameterValue"
    assert e.message == "Value (all) for parameter TrafficType is invalid. Valid values: ACCEPT, REJECT, ALL"


def test_resource_type_enum_and_unsupported(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(ResourceType="Instance"))
    assert e.code == "InvalidParameterValue" and "ResourceType" in e.message
    for rtype in ("TransitGateway", "TransitGatewayAttachment", "RegionalNatGateway", "CoreNetwork"):
        e = err(empty_svc, s3_params(ResourceType=rtype))
        assert e.code == "UnsupportedOperation"
        assert rtype in e.message and "VPC, Subnet and NetworkInterface" in e.message


def test_at_most_300_resource_ids(svc: FlowLogService) -> None:
    e = err(svc, s3_params(ResourceIds=[f"vpc-{i:017x}" for i in range(301)]))
    assert e.code == "InvalidParameterValue"
    assert "Member must have length less than or equal to 300" in e.message
    # 300 is fine: all NotFound items, no request error
    out = svc.create_flow_logs(None, **s3_params(ResourceIds=[f"vpc-{i:017x}" for i in range(300)]))
    assert len(out["Unsuccessful"]) == 300 and out["FlowLogIds"] == []


def test_log_destination_type_enum_and_default(svc: FlowLogService) -> None:
    e = err(svc, s3_params(LogDestinationType="S3"))
    assert e.code == "InvalidParameterValue" and "LogDestinationType" in e.message
    out = svc.create_flow_logs(None, **cwl_params())  # no LogDestinationType: cloud-watch-logs
    fl = svc.describe_flow_logs(None, FlowLogIds=out["FlowLogIds"])["FlowLogs"][0]
    assert fl["LogDestinationType"] == "cloud-watch-logs"


def test_firehose_refused_clearly(empty_svc: FlowLogService) -> None:
    e = err(
        empty_svc,
        s3_params(
            LogDestinationType="kinesis-data-firehose",
            LogDestination="arn:aws:firehose:us-east-1:123456789012:deliverystream/x",
        ),
    )
    assert e.code == "UnsupportedOperation" and "Firehose" in e.message


def test_unknown_parameter(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, s3_params(Foo=1))
    assert e.code == "InvalidParameterValue" and '"Foo"' in e.message


def test_wrong_types(empty_svc: FlowLogService) -> None:
    assert err(empty_svc, s3_params(MaxAggregationInterval="60")).message.startswith(
        "Invalid type for parameter MaxAggregationInterval"
    )
    assert err(empty_svc, s3_params(ResourceIds="vpc-1")).message.startswith("Invalid type for parameter ResourceIds")


# --- destinations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dest",
    ["arn:aws:s3:::" + BUCKET + "/AWSLogs/", "arn:aws:s3:::" + BUCKET + "/AWSLogs", "arn:aws:s3:::b1b/x/AWSLogs/y/"],
)
def test_s3_awslogs_subfolder_reserved(empty_svc: FlowLogService, dest: str) -> None:
    e = err(empty_svc, s3_params(LogDestination=dest))
    assert e.code == "InvalidParameterValue" and "AWSLogs" in e.message


@pytest.mark.parametrize("dest", ["s3://bucket/", "arn:aws:s3:::", "arn:aws:s3:::UPPER", "bucket"])
def test_s3_destination_must_be_bucket_arn(empty_svc: FlowLogService, dest: str) -> None:
    e = err(empty_svc, s3_params(LogDestination=dest))
    assert e.code == "InvalidParameterValue" and dest in e.message


def test_s3_subfolder_allowed(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **s3_params(LogDestination=f"arn:aws:s3:::{BUCKET}/my/prefix/"))
    assert out["Unsuccessful"] == [] and len(out["FlowLogIds"]) == 1


def test_cwl_destination_arn_gives_group_name(svc: FlowLogService) -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/my/group"
    out = svc.create_flow_logs(None, **cwl_params(LogGroupName=None, LogDestination=arn))
    fl = svc.describe_flow_logs(None, FlowLogIds=out["FlowLogIds"])["FlowLogs"][0]
    assert fl["LogGroupName"] == "/my/group" and fl["LogDestination"] == arn


def test_cwl_log_group_name_gives_destination_arn(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **cwl_params())
    fl = svc.describe_flow_logs(None, FlowLogIds=out["FlowLogIds"])["FlowLogs"][0]
    assert fl["LogDestination"] == "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/flow"
    assert fl["DeliverLogsPermissionArn"] == ROLE


def test_cwl_star_arn_is_access_denied_item(svc: FlowLogService) -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:g:*"
    out = svc.create_flow_logs(None, **cwl_params(LogGroupName=None, LogDestination=arn))
    assert out["FlowLogIds"] == []
    assert out["Unsuccessful"][0]["Error"] == {
        "Code": "400",
        "Message": "Access Denied for LogDestination: g:*. Please check LogDestination permission",
    }


@pytest.mark.parametrize("group", ["bad group", "x" * 513, "a:b"])
def test_log_group_name_rules(empty_svc: FlowLogService, group: str) -> None:
    assert err(empty_svc, cwl_params(LogGroupName=group)).code == "InvalidParameterValue"


def test_role_arn_shape(empty_svc: FlowLogService) -> None:
    e = err(empty_svc, cwl_params(DeliverLogsPermissionArn="flow-logs-delivery"))
    assert e.code == "InvalidParameterValue" and "DeliverLogsPermissionArn" in e.message


# --- DestinationOptions and TagSpecifications -------------------------------------------------


def test_destination_options_s3_only_and_echoed(svc: FlowLogService) -> None:
    e = err(svc, cwl_params(DestinationOptions={"FileFormat": "parquet"}))
    assert e.code == "InvalidParameter" and "DestinationOptions" in e.message
    out = svc.create_flow_logs(
        None,
        **s3_params(DestinationOptions={"FileFormat": "parquet", "PerHourPartition": True}),
    )
    fl = svc.describe_flow_logs(None, FlowLogIds=out["FlowLogIds"])["FlowLogs"][0]
    assert fl["DestinationOptions"] == {
        "FileFormat": "parquet",
        "HiveCompatiblePartitions": False,
        "PerHourPartition": True,
    }
    e = err(svc, s3_params(DestinationOptions={"FileFormat": "csv"}))
    assert e.code == "InvalidParameterValue"


def test_tag_specifications_rules(empty_svc: FlowLogService) -> None:
    spec = lambda rt, tags: [{"ResourceType": rt, "Tags": tags}]  # noqa: E731
    e = err(empty_svc, s3_params(TagSpecifications=spec("vpc", [{"Key": "a", "Value": "b"}])))
    assert (e.code, e.message) == (
        "InvalidParameterValue",
        "'vpc' is not a valid taggable resource type for this operation.",
    )
    e = err(empty_svc, s3_params(TagSpecifications=spec("vpc-flow-log", [{"Key": "aws:x", "Value": "b"}])))
    assert "Tag keys starting with 'aws:' are reserved for internal use" in e.message
    e = err(empty_svc, s3_params(TagSpecifications=spec("vpc-flow-log", [{"Key": "k" * 128, "Value": "b"}])))
    assert e.code == "InvalidParameterValue" and "127" in e.message
    e = err(empty_svc, s3_params(TagSpecifications=spec("vpc-flow-log", [{"Key": "k", "Value": "v" * 257}])))
    assert e.code == "InvalidParameterValue" and "256" in e.message
    e = err(empty_svc, s3_params(TagSpecifications=spec("vpc-flow-log", [{"Key": "k", "Value": "1"}, {"Key": "k"}])))
    assert e.message == "Duplicate tag key 'k' specified."


def test_tag_limits_accept_boundaries(svc: FlowLogService) -> None:
    tags = [{"Key": "k" * 127, "Value": "v" * 256}]
    out = svc.create_flow_logs(None, **s3_params(TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": tags}]))
    fl = svc.describe_flow_logs(None, FlowLogIds=out["FlowLogIds"])["FlowLogs"][0]
    assert fl["Tags"] == tags


# --- recorded cases of 6.2 and per-resource failures --------------------------------------------


def test_spec_6_2_success_shape(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **s3_params())
    assert set(out) == {"ClientToken", "FlowLogIds", "Unsuccessful"}
    assert out["Unsuccessful"] == [] and re.fullmatch(r"fl-[0-9a-f]{17}", out["FlowLogIds"][0])
    assert isinstance(out["ClientToken"], str) and out["ClientToken"]  # generated when none was sent


def test_spec_6_2_missing_bucket(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **s3_params(LogDestination="arn:aws:s3:::no-such-bucket/sub/"))
    assert out["FlowLogIds"] == []
    assert out["Unsuccessful"] == [
        {"Error": {"Code": "400", "Message": "LogDestination: no-such-bucket does not exist"}, "ResourceId": VPC}
    ]


def test_spec_6_2_bucket_without_permission(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(ALICE, **s3_params(LogDestination=f"arn:aws:s3:::{FOREIGN_BUCKET}"))
    assert out["Unsuccessful"] == [
        {
            "Error": {
                "Code": "400",
                "Message": f"Access Denied for LogDestination: {FOREIGN_BUCKET}. Please check LogDestination permission",
            },
            "ResourceId": VPC,
        }
    ]


def test_spec_6_2_second_flow_log_other_destination_succeeds(svc: FlowLogService) -> None:
    assert svc.create_flow_logs(None, **s3_params())["FlowLogIds"]
    out = svc.create_flow_logs(None, **s3_params(LogDestination=f"arn:aws:s3:::{BUCKET}/subfolder/"))
    assert out["Unsuccessful"] == [] and len(out["FlowLogIds"]) == 1


def test_flow_log_already_exists(svc: FlowLogService) -> None:
    assert svc.create_flow_logs(None, **s3_params())["FlowLogIds"]
    out = svc.create_flow_logs(None, **s3_params(LogDestination=f"arn:aws:s3:::{BUCKET}/"))
    assert out["FlowLogIds"] == []
    assert out["Unsuccessful"] == [
        {
            "Error": {
                "Code": "FlowLogAlreadyExists",
                "Message": "Error. There is an existing Flow Log with the same configuration and log destination.",
            },
            "ResourceId": VPC,
        }
    ]
    # Another traffic type to the same destination is a different subscription (spec 3 combined streams).
    assert svc.create_flow_logs(None, **s3_params(TrafficType="REJECT"))["FlowLogIds"]


def test_resources_not_found_are_unsuccessful_items(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **s3_params(ResourceIds=[VPC, "vpc-0123456789abcdef0"]))
    assert len(out["FlowLogIds"]) == 1
    assert out["Unsuccessful"] == [
        {
            "Error": {"Code": "InvalidVpcID.NotFound", "Message": "The vpc ID 'vpc-0123456789abcdef0' does not exist"},
            "ResourceId": "vpc-0123456789abcdef0",
        }
    ]
    out = svc.create_flow_logs(None, **s3_params(ResourceType="Subnet", ResourceIds=["subnet-1", SUBNET]))
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidSubnetID.NotFound"
    out = svc.create_flow_logs(None, **s3_params(ResourceType="NetworkInterface", ResourceIds=["eni-1", ENI]))
    assert out["Unsuccessful"][0]["Error"] == {
        "Code": "InvalidNetworkInterfaceID.NotFound",
        "Message": "The networkInterface ID 'eni-1' does not exist",
    }
    # a VPC id given as a subnet is not a subnet
    out = svc.create_flow_logs(None, **s3_params(ResourceType="Subnet", ResourceIds=[VPC]))
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidSubnetID.NotFound"


def test_other_region_resource_not_found(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **s3_params(ResourceIds=[OTHER_REGION_VPC]))
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcID.NotFound"


def test_seed_limit_peered_vpc_of_other_account_refused(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **s3_params(ResourceIds=[PEER_VPC, OWN_PEER_VPC]))
    assert len(out["FlowLogIds"]) == 1  # the same-account peer is fine
    (item,) = out["Unsuccessful"]
    assert item["ResourceId"] == PEER_VPC and item["Error"]["Code"] == "InvalidVpcID.NotFound"
    assert "210987654321" in item["Error"]["Message"] and "pcx-0aaaaaaaaaaaaaaa1" in item["Error"]["Message"]


def test_seed_limit_ec2_classic_refused(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **s3_params(ResourceType="NetworkInterface", ResourceIds=[CLASSIC_ENI, ENI]))
    assert len(out["FlowLogIds"]) == 1
    (item,) = out["Unsuccessful"]
    assert item["ResourceId"] == CLASSIC_ENI and item["Error"]["Code"] == "UnsupportedOperation"
    assert "EC2-Classic" in item["Error"]["Message"]


def test_bucket_policy_auto_attached_for_owner(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(ALICE, **s3_params(LogDestination=f"arn:aws:s3:::{BARE_BUCKET}/logs/"))
    assert out["Unsuccessful"] == []
    policy = svc.store.get_bucket_policy(BARE_BUCKET)
    assert policy is not None
    write = next(s for s in policy["Statement"] if s["Sid"] == "AWSLogDeliveryWrite")
    assert write["Resource"] == f"arn:aws:s3:::{BARE_BUCKET}/logs/AWSLogs/123456789012/*"
    assert svc.check_delivery(out["FlowLogIds"])[out["FlowLogIds"][0]].ok


def test_bucket_policy_not_attached_without_put_bucket_policy(svc: FlowLogService) -> None:
    bob = "arn:aws:iam::123456789012:user/bob"
    # bob lacks logs:CreateLogDelivery: refused before anything else
    with pytest.raises(ApiError) as ei:
        svc.create_flow_logs(bob, **s3_params(LogDestination=f"arn:aws:s3:::{BARE_BUCKET}"))
    assert ei.value.code == "UnauthorizedOperation"
    assert svc.store.get_bucket_policy(BARE_BUCKET) is None
    # erin may create flow logs but not Get/PutBucketPolicy: AWS's access-denied item, no policy written
    out = svc.create_flow_logs(ERIN, **s3_params(LogDestination=f"arn:aws:s3:::{BARE_BUCKET}"))
    assert out["FlowLogIds"] == []
    assert out["Unsuccessful"][0]["Error"] == {
        "Code": "400",
        "Message": f"Access Denied for LogDestination: {BARE_BUCKET}. Please check LogDestination permission",
    }
    assert svc.store.get_bucket_policy(BARE_BUCKET) is None


def test_flow_log_ids_format_and_arn(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **s3_params())
    fl = svc.store.get_flow_log(out["FlowLogIds"][0])
    assert fl is not None
    assert fl.arn == f"arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/{fl.flow_log_id}"


def test_modify_is_refused(svc: FlowLogService) -> None:
    with pytest.raises(ApiError) as ei:
        svc.modify_flow_logs(None, FlowLogIds=["fl-1"], TrafficType="ALL")
    assert ei.value.code == "UnsupportedOperation"
    assert "cannot be modified" in ei.value.message


def test_flow_logs_per_resource_limit(svc: FlowLogService) -> None:
    svc.max_flow_logs_per_resource = 2  # the real quota (250, UNCONFIRMED) is too slow to reach in a test
    for t in ("ALL", "ACCEPT"):
        assert svc.create_flow_logs(None, **s3_params(TrafficType=t))["FlowLogIds"]
    out = svc.create_flow_logs(None, **s3_params(TrafficType="REJECT", ResourceIds=[VPC, SUBNET], ResourceType="VPC"))
    assert out["Unsuccessful"][0] == {
        "Error": {
            "Code": "FlowLogsLimitExceeded",
            "Message": "You've reached the limit on the number of flow logs you can create.",
        },
        "ResourceId": VPC,
    }


def test_log_group_of_another_account_is_access_denied_item(svc: FlowLogService) -> None:
    arn = "arn:aws:logs:us-east-1:210987654321:log-group:theirs"
    out = svc.create_flow_logs(None, **cwl_params(LogGroupName=None, LogDestination=arn))
    assert out["FlowLogIds"] == []
    assert out["Unsuccessful"][0]["Error"] == {
        "Code": "400",
        "Message": "Access Denied for LogDestination: theirs. Please check LogDestination permission",
    }


def test_log_group_in_another_region_refused(empty_svc: FlowLogService) -> None:
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:g"
    e = err(empty_svc, cwl_params(LogGroupName=None, LogDestination=arn))
    assert e.code == "InvalidParameterValue" and "eu-west-1" in e.message
