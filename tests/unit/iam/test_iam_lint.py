"""iam lint findings on small sections (the CLI test covers file:line output)."""

from __future__ import annotations

from typing import Any

from vpcflow.iam.actions import canonical, expand, is_known
from vpcflow.iam.lint import lint_iam

ACCT = "123456789012"
TRUST_FL = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def user(statements: list[dict[str, Any]], version: str | None = "2012-10-17") -> dict[str, Any]:
    doc: dict[str, Any] = {"Statement": statements}
    if version:
        doc["Version"] = version
    return {"name": "u", "policies": [{"name": "p", "document": doc}]}


def codes(section: dict[str, Any], **kw: Any) -> list[str]:
    return [f.code for f in lint_iam(section, account_id=ACCT, **kw)]


def test_action_table() -> None:
    assert is_known("ec2:CreateFlowLogs") and is_known("EC2:createflowlogs") and is_known("ec2:*FlowLogs")
    assert not is_known("logs:GetLogData") and not is_known("ec2:CreateFlowLog") and not is_known("sts:Assume?")
    assert is_known("dynamodb:AnythingGoes")  # services outside the table are not judged
    assert set(expand("ec2:*FlowLogs")) == {"ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:DescribeFlowLogs"}
    assert canonical("logs:putlogevents") == "logs:PutLogEvents" and canonical("logs:*") is None


def test_clean_section_has_no_findings() -> None:
    sec = {
        "users": [user([{"Effect": "Allow", "Action": ["ec2:DescribeFlowLogs", "logs:GetLogEvents"], "Resource": "*"}])]
    }
    assert codes(sec) == []


def test_unknown_action_and_getlogdata_hint() -> None:
    f = lint_iam(
        {"users": [user([{"Effect": "Allow", "Action": ["logs:GetLogData"], "Resource": "*"}])]}, account_id=ACCT
    )
    assert [x.code for x in f] == ["unknown-action"]
    assert "logs:GetLogEvents + logs:FilterLogEvents" in f[0].message
    assert f[0].key_path == "iam.users[0].policies[0].document.Statement[0].Action[0]"


def test_unknown_operator_severity_by_effect() -> None:
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringEqual": {"aws:username": "x"}}}
    allow = {**deny, "Effect": "Allow"}
    f = lint_iam({"users": [user([deny, allow])]}, account_id=ACCT)
    assert [(x.code, x.severity) for x in f] == [("unknown-operator", "error"), ("unknown-operator", "warning")]


def test_passrole_on_every_role() -> None:
    sec = {"users": [user([{"Effect": "Allow", "Action": "iam:Pass*", "Resource": "arn:aws:iam::*:role/*"}])]}
    f = lint_iam(sec, account_id=ACCT)
    assert [x.code for x in f] == ["passrole-any-role"] and f[0].severity == "warning"
    scoped = {
        "users": [
            user(
                [
                    {
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}},
                    }
                ]
            )
        ]
    }
    assert "scoped by iam:PassedToService" in lint_iam(scoped, account_id=ACCT)[0].message
    one_role = {
        "users": [user([{"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCT}:role/x"}])]
    }
    assert codes(one_role) == []
    admin = {"users": [user([{"Effect": "Allow", "Action": "*", "Resource": "*"}])]}
    assert codes(admin) == []  # full admin is not reported as a PassRole problem


def test_role_passed_to_flow_logs_but_untrusted() -> None:
    passer = user(
        [
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:aws:iam::{ACCT}:role/r",
                "Condition": {"StringEquals": {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}},
            }
        ]
    )
    sec = {"users": [passer], "roles": [{"name": "r", "trust_policy": TRUST_EC2}]}
    f = lint_iam(sec, account_id=ACCT)
    assert [x.code for x in f] == ["delivery-role-untrusted", "delivery-role-missing-actions"]
    assert "user u may pass it" in f[0].message


def test_trusted_role_with_full_logs_is_clean_and_ec2_role_without_logs_is_ignored() -> None:
    full = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    sec = {
        "roles": [
            {"name": "d", "trust_policy": TRUST_FL, "policies": [{"name": "p", "document": full}]},
            {"name": "app", "trust_policy": TRUST_EC2},
        ]
    }
    assert codes(sec) == []


def test_literal_variable_without_version() -> None:
    sec = {
        "users": [
            user(
                [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"}],
                version=None,
            )
        ]
    }
    assert codes(sec) == ["literal-variable"]


def test_bucket_policies_and_invalid_sections() -> None:
    bp = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObjekt", "Resource": "*"}],
    }
    f = lint_iam(
        {},
        account_id=ACCT,
        bucket_policies={"s3_buckets[0].policy": bp},
        locate=lambda kp: "t.yaml:9" if kp.startswith("s3_buckets[0]") else None,
    )
    assert [(x.code, x.location) for x in f] == [("unknown-action", "t.yaml:9")]
    bad = lint_iam({"users": [{"nme": "x"}]}, account_id=ACCT, source="t.yaml")
    assert [x.code for x in bad] == ["invalid-iam"] and bad[0].key_path == "iam.users[0].nme"
