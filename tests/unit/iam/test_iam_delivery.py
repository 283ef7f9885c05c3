"""Delivery-time checks (issue 4 item 6): CloudWatch role trust + logs permissions, S3 bucket policy
for delivery.logs.amazonaws.com, the auto-attached policy (spec 4) and merging it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vpcflow.core.api_errors import BucketPolicyTooLargeError
from vpcflow.iam.delivery import (
    ACCESS_ERROR,
    aws_log_delivery_bucket_policy,
    check_cloudwatch_delivery,
    check_s3_delivery,
    delivery_key_base,
    merge_bucket_policy,
)
from vpcflow.iam.world import IamWorld

ACCT = "123456789012"
REGION = "us-east-1"
FL = f"arn:aws:ec2:{REGION}:{ACCT}:vpc-flow-log/fl-0123456789abcdef0"
ALL_LOGS = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
]


def trust(service: str = "vpc-flow-logs.amazonaws.com", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [st]}


def role_world(
    trust_policy: dict[str, Any], actions: list[str], resource: Any = "*", extra: list[dict[str, Any]] | None = None
) -> IamWorld:
    stmts = [{"Effect": "Allow", "Action": actions, "Resource": resource}, *(extra or [])]
    sec = {
        "roles": [
            {
                "name": "fl",
                "trust_policy": trust_policy,
                "policies": [{"name": "p", "document": {"Version": "2012-10-17", "Statement": stmts}}],
            }
        ]
    }
    return IamWorld.from_section(sec, account_id=ACCT)


ROLE = f"arn:aws:iam::{ACCT}:role/fl"


def cw(world: IamWorld, exists: bool = False, streams: tuple[str, ...] = ()) -> Any:
    return check_cloudwatch_delivery(world, ROLE, FL, ACCT, REGION, "flow-logs", exists, streams)


def test_minimum_policy_of_spec_section_3_passes() -> None:
    c = cw(role_world(trust(), ALL_LOGS))
    assert c.ok and c.aws_message is None and c.allowed
    assert {d.action for d in c.decisions} == {"sts:AssumeRole", *ALL_LOGS}


def test_recommended_confused_deputy_conditions_pass() -> None:
    cond = {
        "StringEquals": {"aws:SourceAccount": ACCT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{REGION}:{ACCT}:vpc-flow-log/*"},
    }
    assert cw(role_world(trust(condition=cond), ALL_LOGS)).ok


def test_source_conditions_for_another_account_fail() -> None:
    cond = {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    c = cw(role_world(trust(condition=cond), ALL_LOGS))
    assert not c.ok and c.aws_message == ACCESS_ERROR
    assert "sts:AssumeRole" in c.reason


def test_untrusted_role_is_access_error() -> None:
    c = cw(role_world(trust("ec2.amazonaws.com"), ALL_LOGS))
    assert not c.ok and c.aws_message == "Access error"
    assert "vpc-flow-logs.amazonaws.com" in c.explain()


def test_missing_role_is_access_error() -> None:
    w = IamWorld.from_section({}, account_id=ACCT)
    c = check_cloudwatch_delivery(w, f"arn:aws:iam::{ACCT}:role/ghost", FL, ACCT, REGION, "g", False)
    assert not c.ok and c.aws_message == ACCESS_ERROR and "does not exist" in c.reason


@pytest.mark.parametrize("missing", ALL_LOGS)
def test_each_logs_action_is_needed(missing: str) -> None:
    actions = [a for a in ALL_LOGS if a != missing]
    c = cw(role_world(trust(), actions), exists=False)
    if missing == "logs:CreateLogGroup":
        assert not c.ok
        assert cw(role_world(trust(), actions), exists=True).ok  # not needed once the group exists
    else:
        assert not c.ok and missing in c.reason


def test_explicit_deny_on_put_log_events() -> None:
    deny = [{"Effect": "Deny", "Action": "logs:PutLogEvents", "Resource": "*"}]
    c = cw(role_world(trust(), ALL_LOGS, extra=deny))
    assert not c.ok and "explicitly denied" in c.reason


def test_scoped_to_the_group_and_its_streams() -> None:
    group = f"arn:aws:logs:{REGION}:{ACCT}:log-group:flow-logs"
    scoped = role_world(trust(), ALL_LOGS, resource=[group, f"{group}:*", f"arn:aws:logs:{REGION}:{ACCT}:log-group:*"])
    assert cw(scoped, streams=("eni-0123456789abcdef0-all",)).ok
    other = role_world(trust(), ALL_LOGS, resource=[f"arn:aws:logs:{REGION}:{ACCT}:log-group:other:*"])
    assert not cw(other).ok


def test_logs_full_access_managed_policy() -> None:
    sec = {
        "roles": [
            {
                "name": "fl",
                "trust_policy": trust(),
                "managed_policies": ["arn:aws:iam::aws:policy/CloudWatchLogsFullAccess"],
            }
        ]
    }
    assert cw(IamWorld.from_section(sec, account_id=ACCT)).ok


# ------------------------------------------------------------------ S3
W = IamWorld.from_section({}, account_id=ACCT)


def test_auto_policy_shape_matches_spec_4() -> None:
    p = aws_log_delivery_bucket_policy("my-bucket", "flows/", ACCT, REGION, hive=False)
    write, acl = p["Statement"]
    assert write["Sid"] == "AWSLogDeliveryWrite" and write["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert write["Resource"] == f"arn:aws:s3:::my-bucket/flows/AWSLogs/{ACCT}/*"
    assert write["Condition"]["StringEquals"] == {
        "aws:SourceAccount": ACCT,
        "s3:x-amz-acl": "bucket-owner-full-control",
    }
    assert write["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:logs:{REGION}:{ACCT}:*"}
    assert acl["Sid"] == "AWSLogDeliveryAclCheck" and acl["Resource"] == "arn:aws:s3:::my-bucket"
    assert acl["Action"] == ["s3:GetBucketAcl", "s3:ListBucket"]
    hive = aws_log_delivery_bucket_policy("my-bucket", None, ACCT, REGION, hive=True)
    assert hive["Statement"][0]["Resource"] == f"arn:aws:s3:::my-bucket/AWSLogs/aws-account-id={ACCT}/*"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [(None, "AWSLogs/1/"), ("", "AWSLogs/1/"), ("a/b/", "a/b/AWSLogs/1/"), ("/a", "a/AWSLogs/1/")],
)
def test_key_base(prefix: str | None, expected: str) -> None:
    assert delivery_key_base(prefix, "1", False) == expected


@pytest.mark.parametrize("hive", [False, True])
def test_s3_check_with_auto_policy(hive: bool) -> None:
    p = aws_log_delivery_bucket_policy("b", "x", ACCT, REGION, hive)
    assert check_s3_delivery(W, "b", p, "x", ACCT, REGION, hive, "fl-1").ok
    assert not check_s3_delivery(W, "b", p, "y", ACCT, REGION, hive, "fl-1").ok  # other prefix
    assert not check_s3_delivery(W, "b", p, "x", ACCT, REGION, not hive, "fl-1").ok  # other layout


def test_s3_check_needs_acl_condition_and_service() -> None:
    p = aws_log_delivery_bucket_policy("b", None, ACCT, REGION, False)
    no_acl = json.loads(json.dumps(p))
    no_acl["Statement"][0]["Condition"]["StringEquals"]["s3:x-amz-acl"] = "private"
    c = check_s3_delivery(W, "b", no_acl, None, ACCT, REGION, False)
    assert not c.ok and c.aws_message == ACCESS_ERROR and "s3:PutObject" in c.reason
    wrong_service = json.loads(json.dumps(p).replace("delivery.logs.amazonaws.com", "logs.amazonaws.com"))
    assert not check_s3_delivery(W, "b", wrong_service, None, ACCT, REGION, False).ok
    assert not check_s3_delivery(W, "b", None, None, ACCT, REGION, False).ok
    only_write = {**p, "Statement": [p["Statement"][0]]}
    c2 = check_s3_delivery(W, "b", only_write, None, ACCT, REGION, False)
    assert not c2.ok and "s3:GetBucketAcl" in c2.reason


def test_s3_deny_in_bucket_policy_wins() -> None:
    p = aws_log_delivery_bucket_policy("b", None, ACCT, REGION, False)
    p["Statement"].append(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
    )
    c = check_s3_delivery(W, "b", p, None, ACCT, REGION, False)
    assert not c.ok and "explicitly denied" in c.reason


def test_merge_into_none_and_existing() -> None:
    new = aws_log_delivery_bucket_policy("b", "one", ACCT, REGION, False)
    assert merge_bucket_policy(None, new) == new
    existing = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Mine",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteBucket",
                "Resource": "arn:aws:s3:::b",
            }
        ],
    }
    merged = merge_bucket_policy(existing, new)
    assert [s["Sid"] for s in merged["Statement"]] == ["Mine", "AWSLogDeliveryWrite", "AWSLogDeliveryAclCheck"]
    assert existing["Statement"][0]["Sid"] == "Mine" and len(existing["Statement"]) == 1  # not mutated
    again = merge_bucket_policy(merged, aws_log_delivery_bucket_policy("b", "two", ACCT, REGION, False))
    write = again["Statement"][1]
    assert write["Resource"] == [f"arn:aws:s3:::b/one/AWSLogs/{ACCT}/*", f"arn:aws:s3:::b/two/AWSLogs/{ACCT}/*"]
    assert again["Statement"][2]["Resource"] == "arn:aws:s3:::b"  # same bucket ARN not duplicated
    assert (
        merge_bucket_policy(again, aws_log_delivery_bucket_policy("b", "two", ACCT, REGION, False)) == again
    )  # idempotent
    assert check_s3_delivery(W, "b", again, "one", ACCT, REGION, False).ok
    assert check_s3_delivery(W, "b", again, "two", ACCT, REGION, False).ok


def test_merge_past_20kb_is_refused() -> None:
    policy = aws_log_delivery_bucket_policy("b", "p0", ACCT, REGION, False)
    with pytest.raises(BucketPolicyTooLargeError) as e:
        for i in range(1, 1000):
            policy = merge_bucket_policy(
                policy, aws_log_delivery_bucket_policy("b", f"prefix-{i:04d}", ACCT, REGION, False)
            )
    assert e.value.code == "LogDestinationPermissionIssueException"
    assert len(json.dumps(policy, separators=(",", ":"))) <= 20 * 1024
