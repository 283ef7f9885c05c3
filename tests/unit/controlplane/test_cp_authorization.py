"""Authorization of the flow-log operations (spec wire 1.4): CreateFlowLogs + PassRole + CreateLogDelivery,
Describe/Delete/Tags, DryRun, the encoded failure message, and delivery-time trust checks."""

from __future__ import annotations

import pytest
from cp_helpers import (
    ALICE,
    BOB,
    CAROL,
    ENI,
    ERIN,
    ROLE,
    UNTRUSTED_ROLE,
    VPC,
    cwl_params,
    make_service,
    make_topology,
    s3_params,
)

from vpcflow.controlplane.authorization import decode_authorization_message
from vpcflow.controlplane.errors import UNAUTHORIZED_MESSAGE
from vpcflow.controlplane.service import FlowLogService
from vpcflow.core.errors import ApiError


def refused(call: object, *args: object, **kwargs: object) -> ApiError:
    with pytest.raises(ApiError) as ei:
        call(*args, **kwargs)  # type: ignore[operator]
    return ei.value


def test_root_may_do_everything(svc: FlowLogService) -> None:
    out = svc.create_flow_logs(None, **cwl_params())
    assert out["FlowLogIds"]
    out2 = svc.create_flow_logs("123456789012", **s3_params())
    assert out2["FlowLogIds"]


def test_missing_pass_role_is_unauthorized(svc: FlowLogService) -> None:
    e = refused(svc.create_flow_logs, BOB, **cwl_params())
    assert e.code == "UnauthorizedOperation" and e.http_status == 403
    assert e.message.startswith(UNAUTHORIZED_MESSAGE + " Encoded authorization failure message: ")
    decoded = decode_authorization_message(e.message.rsplit(" ", 1)[1])
    assert decoded["allowed"] is False
    assert decoded["context"]["action"] == "iam:PassRole"
    assert decoded["context"]["resource"] == ROLE
    assert decoded["context"]["conditions"]["iam:PassedToService"] == "vpc-flow-logs.amazonaws.com"
    assert svc.describe_flow_logs(None)["FlowLogs"] == []  # nothing created


def test_pass_role_condition_must_name_the_service(tmp_path: object) -> None:
    topo = make_topology()
    iam = topo.iam
    # alice's PassRole is conditioned on iam:PassedToService = vpc-flow-logs: it works for flow logs
    svc = make_service(tmp_path, topo)  # type: ignore[arg-type]
    assert svc.create_flow_logs(ALICE, **cwl_params())["FlowLogIds"]
    # change the condition to another service: refused
    stmt = iam["users"][0]["policies"][0]["document"]["Statement"][3]
    stmt["Condition"]["StringEquals"]["iam:PassedToService"] = "ec2.amazonaws.com"
    svc.load_topology("{}", fmt="json", source="changed")
    e = refused(svc.create_flow_logs, ALICE, **cwl_params(TrafficType="REJECT"))
    assert e.code == "UnauthorizedOperation"


def test_s3_needs_create_log_delivery(svc: FlowLogService) -> None:
    e = refused(svc.create_flow_logs, BOB, **s3_params())
    decoded = decode_authorization_message(e.message.rsplit(" ", 1)[1])
    assert decoded["context"]["action"] == "logs:CreateLogDelivery"
    assert svc.create_flow_logs(ALICE, **s3_params())["FlowLogIds"]


def test_create_flow_logs_checked_on_flow_log_and_target_arns(tmp_path: object) -> None:
    topo = make_topology()
    doc = topo.iam["users"][0]["policies"][0]["document"]
    # alice may create flow logs only on the ENI, and on any flow log
    doc["Statement"][0] = {
        "Effect": "Allow",
        "Action": "ec2:CreateFlowLogs",
        "Resource": [f"arn:aws:ec2:us-east-1:123456789012:network-interface/{ENI}", "arn:aws:ec2:*:*:vpc-flow-log/*"],
    }
    svc = make_service(tmp_path, topo)  # type: ignore[arg-type]
    e = refused(svc.create_flow_logs, ALICE, **s3_params())
    decoded = decode_authorization_message(e.message.rsplit(" ", 1)[1])
    assert decoded["context"]["resource"] == f"arn:aws:ec2:us-east-1:123456789012:vpc/{VPC}"
    out = svc.create_flow_logs(ALICE, **s3_params(ResourceType="NetworkInterface", ResourceIds=[ENI]))
    assert out["FlowLogIds"]


def test_resource_tag_and_vpc_condition_keys(tmp_path: object) -> None:
    topo = make_topology()
    doc = topo.iam["users"][0]["policies"][0]["document"]
    doc["Statement"][0] = {
        "Effect": "Allow",
        "Action": "ec2:CreateFlowLogs",
        "Resource": "*",
        "Condition": {"StringEquals": {"ec2:ResourceTag/env": "prod"}},
    }
    svc = make_service(tmp_path, topo)  # type: ignore[arg-type]
    # the ENI is tagged env=prod; the VPC is not
    assert svc.create_flow_logs(ALICE, **s3_params(ResourceType="NetworkInterface", ResourceIds=[ENI]))["FlowLogIds"]
    assert refused(svc.create_flow_logs, ALICE, **s3_params()).code == "UnauthorizedOperation"


def test_tag_on_create_needs_create_tags(svc: FlowLogService) -> None:
    tags = [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "team", "Value": "net"}]}]
    # erin has ec2:CreateFlowLogs and logs:CreateLogDelivery but not ec2:CreateTags
    e = refused(svc.create_flow_logs, ERIN, **s3_params(TagSpecifications=tags))
    decoded = decode_authorization_message(e.message.rsplit(" ", 1)[1])
    assert decoded["context"]["action"] == "ec2:CreateTags"
    assert decoded["context"]["conditions"]["ec2:CreateAction"] == "CreateFlowLogs"
    assert svc.create_flow_logs(ERIN, **s3_params())["FlowLogIds"]
    assert svc.create_flow_logs(ALICE, **s3_params(TagSpecifications=tags, TrafficType="ACCEPT"))["FlowLogIds"]


def test_dry_run(svc: FlowLogService) -> None:
    e = refused(svc.create_flow_logs, ALICE, **cwl_params(DryRun=True))
    assert (e.code, e.http_status) == ("DryRunOperation", 412)
    assert e.message == "Request would have succeeded, but DryRun flag is set."
    assert svc.describe_flow_logs(None)["FlowLogs"] == []
    e = refused(svc.create_flow_logs, BOB, **cwl_params(DryRun=True))
    assert e.code == "UnauthorizedOperation"
    # DryRun still validates parameters first
    e = refused(svc.create_flow_logs, ALICE, **cwl_params(DryRun=True, MaxAggregationInterval=1))
    assert e.code == "InvalidParameter"
    assert refused(svc.describe_flow_logs, ALICE, DryRun=True).code == "DryRunOperation"
    fl = svc.create_flow_logs(None, **cwl_params())["FlowLogIds"][0]
    assert refused(svc.delete_flow_logs, ALICE, FlowLogIds=[fl], DryRun=True).code == "DryRunOperation"
    assert refused(svc.delete_flow_logs, CAROL, FlowLogIds=[fl], DryRun=True).code == "UnauthorizedOperation"
    assert len(svc.describe_flow_logs(None)["FlowLogs"]) == 1


def test_describe_and_delete_permissions(svc: FlowLogService) -> None:
    fl = svc.create_flow_logs(None, **cwl_params())["FlowLogIds"][0]
    assert len(svc.describe_flow_logs(CAROL)["FlowLogs"]) == 1
    e = refused(svc.delete_flow_logs, CAROL, FlowLogIds=[fl])  # explicit Deny beats ec2:* allow
    assert e.code == "UnauthorizedOperation"
    decoded = decode_authorization_message(e.message.rsplit(" ", 1)[1])
    assert decoded["explicitDeny"] is True
    unknown = "arn:aws:iam::123456789012:user/nobody"
    assert refused(svc.describe_flow_logs, unknown).code == "NoSuchEntity"
    assert svc.delete_flow_logs(ALICE, FlowLogIds=[fl]) == {"Unsuccessful": []}


def test_access_key_principal(svc: FlowLogService) -> None:
    assert svc.create_flow_logs("AKIAIOSFODNN7ALICE01", **cwl_params())["FlowLogIds"]
    assert refused(svc.describe_flow_logs, "AKIAIOSFODNN7NOBODY1").code == "AuthFailure"


def test_tags_permissions(svc: FlowLogService) -> None:
    fl = svc.create_flow_logs(None, **cwl_params())["FlowLogIds"][0]
    assert refused(svc.create_tags, BOB, Resources=[fl], Tags=[{"Key": "a", "Value": "b"}]).code == (
        "UnauthorizedOperation"
    )
    # carol may tag only with team=net (aws:RequestTag condition)
    assert refused(svc.create_tags, CAROL, Resources=[fl], Tags=[{"Key": "team", "Value": "web"}]).code == (
        "UnauthorizedOperation"
    )
    assert svc.create_tags(CAROL, Resources=[fl], Tags=[{"Key": "team", "Value": "net"}]) == {}


# --- delivery-time checks (spec 3, wire 1.4) -----------------------------------------------------


def test_untrusting_role_fails_later_with_access_error(tmp_path: object) -> None:
    svc = make_service(tmp_path, make_topology())  # type: ignore[arg-type]
    fl = svc.create_flow_logs(ALICE, **cwl_params(DeliverLogsPermissionArn=UNTRUSTED_ROLE))["FlowLogIds"][0]
    item = svc.describe_flow_logs(None)["FlowLogs"][0]
    assert item["DeliverLogsStatus"] == "SUCCESS" and "DeliverLogsErrorMessage" not in item
    checks = svc.check_delivery()
    assert not checks[fl].ok and checks[fl].aws_message == "Access error"
    item = svc.describe_flow_logs(None)["FlowLogs"][0]
    assert (item["DeliverLogsStatus"], item["DeliverLogsErrorMessage"]) == ("FAILED", "Access error")
    assert svc.describe_flow_logs(None, Filter=[{"Name": "deliver-log-status", "Values": ["FAILED"]}])["FlowLogs"]
    # fix the trust policy (reload the topology): SUCCESS on the next check
    svc.holder["topo"] = make_topology(trusted_service="vpc-flow-logs.amazonaws.com")  # type: ignore[attr-defined]
    svc.load_topology("{}", fmt="json", source="fixed")
    assert svc.check_delivery()[fl].ok
    item = svc.describe_flow_logs(None)["FlowLogs"][0]
    assert item["DeliverLogsStatus"] == "SUCCESS" and "DeliverLogsErrorMessage" not in item


def test_nonexistent_role_fails_at_delivery(svc: FlowLogService) -> None:
    role = "arn:aws:iam::123456789012:role/ghost"
    fl = svc.create_flow_logs(None, **cwl_params(DeliverLogsPermissionArn=role))["FlowLogIds"][0]
    assert svc.check_delivery([fl])[fl].aws_message == "Access error"


def test_check_delivery_unknown_id(svc: FlowLogService) -> None:
    e = refused(svc.check_delivery, ["fl-00000000000000000"])
    assert e.code == "InvalidFlowLogId.NotFound"


def test_deleting_s3_flow_log_needs_delete_log_delivery(svc: FlowLogService) -> None:
    s3 = svc.create_flow_logs(None, **s3_params())["FlowLogIds"][0]
    cwl = svc.create_flow_logs(None, **cwl_params())["FlowLogIds"][0]
    e = refused(svc.delete_flow_logs, BOB, FlowLogIds=[s3])
    assert decode_authorization_message(e.message.rsplit(" ", 1)[1])["context"]["action"] == "logs:DeleteLogDelivery"
    assert svc.delete_flow_logs(BOB, FlowLogIds=[cwl]) == {"Unsuccessful": []}
    assert svc.delete_flow_logs(ALICE, FlowLogIds=[s3]) == {"Unsuccessful": []}


def test_pass_role_associated_resource_arn(tmp_path: object) -> None:
    topo = make_topology()
    stmt = topo.iam["users"][0]["policies"][0]["document"]["Statement"][3]
    stmt["Condition"]["ArnLike"] = {"iam:AssociatedResourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"}
    svc = make_service(tmp_path, topo)  # type: ignore[arg-type]
    assert svc.create_flow_logs(ALICE, **cwl_params())["FlowLogIds"]
    stmt["Condition"]["ArnLike"] = {"iam:AssociatedResourceArn": "arn:aws:ec2:eu-west-1:*:vpc-flow-log/*"}
    svc.load_topology("{}", fmt="json", source="changed")
    assert refused(svc.create_flow_logs, ALICE, **cwl_params(TrafficType="REJECT")).code == "UnauthorizedOperation"
