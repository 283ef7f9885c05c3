"""A table of evaluator cases: every condition operator, the missing-key rules, NotAction/NotResource,
wildcards with '.' and '?', principals (incl. service principals), policy variables, IfExists,
ForAnyValue/ForAllValues and unknown operators (spec aws-wire-and-iam.md 1.3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vpcflow.iam.world import IamWorld

ACCT = "123456789012"
OTHER = "210987654321"
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def world(statements: list[dict[str, Any]], *, version: str | None = "2012-10-17", tags: Any = None) -> IamWorld:
    doc: dict[str, Any] = {"Statement": statements}
    if version is not None:
        doc["Version"] = version
    section = {
        "users": [
            {
                "name": "alice",
                "access_keys": [{"access_key_id": "AKIAEXAMPLEALICE0001", "secret_access_key": "secret-alice-key"}],
                "policies": [{"name": "p", "document": doc}],
                "tags": tags or {"team": "net", "Dept": "ops"},
            }
        ],
        "roles": [
            {
                "name": "app",
                "path": "/svc/",
                "trust_policy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                },
                "policies": [{"name": "p", "document": doc}],
            }
        ],
    }
    return IamWorld.from_section(section, account_id=ACCT, clock=lambda: NOW)


def allow(**extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "*", "Resource": "*", **extra}


def cond(op: str, key: str, value: Any) -> dict[str, Any]:
    return allow(Condition={op: {key: value}})


ALICE = f"arn:aws:iam::{ACCT}:user/alice"
R = f"arn:aws:ec2:us-east-1:{ACCT}:vpc/vpc-1"

# (id, statements, action, resource, context, expected effect)
CASES: list[tuple[str, list[dict[str, Any]], str, str, dict[str, Any] | None, str]] = [
    # --- decision logic
    (
        "no-policy-implicit-deny",
        [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "ImplicitDeny",
    ),
    ("allow", [allow()], "ec2:CreateFlowLogs", R, None, "Allow"),
    (
        "deny-beats-allow",
        [allow(), {"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Deny",
    ),
    (
        "deny-other-action-no-effect",
        [allow(), {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Allow",
    ),
    # --- Action globs, case-insensitive
    (
        "action-case-insensitive",
        [{"Effect": "Allow", "Action": "EC2:createflowLOGS", "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Allow",
    ),
    (
        "action-star-middle",
        [{"Effect": "Allow", "Action": "ec2:*FlowLogs", "Resource": "*"}],
        "ec2:DeleteFlowLogs",
        R,
        None,
        "Allow",
    ),
    (
        "action-star-no-match",
        [{"Effect": "Allow", "Action": "ec2:*FlowLogs", "Resource": "*"}],
        "ec2:CreateTags",
        R,
        None,
        "ImplicitDeny",
    ),
    (
        "action-question",
        [{"Effect": "Allow", "Action": "ec2:?reateFlowLogs", "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Allow",
    ),
    (
        "action-question-one-char",
        [{"Effect": "Allow", "Action": "ec2:?FlowLogs", "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "ImplicitDeny",
    ),
    (
        "action-list",
        [{"Effect": "Allow", "Action": ["s3:*", "ec2:CreateFlowLogs"], "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Allow",
    ),
    (
        "action-service-prefix-exact",
        [{"Effect": "Allow", "Action": "ec:*", "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "ImplicitDeny",
    ),
    # --- NotAction
    (
        "notaction-allow-others",
        [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Allow",
    ),
    (
        "notaction-allow-excluded",
        [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        "iam:PassRole",
        R,
        None,
        "ImplicitDeny",
    ),
    (
        "notaction-deny",
        [allow(), {"Effect": "Deny", "NotAction": ["ec2:Describe*"], "Resource": "*"}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Deny",
    ),
    (
        "notaction-deny-excluded",
        [allow(), {"Effect": "Deny", "NotAction": ["ec2:Describe*"], "Resource": "*"}],
        "ec2:DescribeFlowLogs",
        "*",
        None,
        "Allow",
    ),
    # --- Resource globs, case-sensitive, '.' and '?' escaped properly
    ("resource-exact", [{"Effect": "Allow", "Action": "*", "Resource": R}], "ec2:CreateFlowLogs", R, None, "Allow"),
    (
        "resource-case-sensitive",
        [{"Effect": "Allow", "Action": "*", "Resource": R.upper()}],
        "ec2:CreateFlowLogs",
        R,
        None,
        "ImplicitDeny",
    ),
    (
        "resource-star-crosses-colon",
        [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:logs:*"}],
        "logs:PutLogEvents",
        f"arn:aws:logs:us-east-1:{ACCT}:log-group:g:log-stream:s",
        None,
        "Allow",
    ),
    (
        "resource-dot-literal",
        [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::my.bucket/*"}],
        "s3:GetObject",
        "arn:aws:s3:::myxbucket/k",
        None,
        "ImplicitDeny",
    ),
    (
        "resource-dot-literal-match",
        [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::my.bucket/*"}],
        "s3:GetObject",
        "arn:aws:s3:::my.bucket/k",
        None,
        "Allow",
    ),
    (
        "resource-question",
        [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/key?"}],
        "s3:GetObject",
        "arn:aws:s3:::b/key1",
        None,
        "Allow",
    ),
    (
        "resource-question-exactly-one",
        [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/key?"}],
        "s3:GetObject",
        "arn:aws:s3:::b/key12",
        None,
        "ImplicitDeny",
    ),
    (
        "resource-dollar-plus-literal",
        [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/a+b$"}],
        "s3:GetObject",
        "arn:aws:s3:::b/a+b$",
        None,
        "Allow",
    ),
    (
        "resource-dollar-plus-no-regex",
        [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/a+b$"}],
        "s3:GetObject",
        "arn:aws:s3:::b/aab",
        None,
        "ImplicitDeny",
    ),
    # --- NotResource
    (
        "notresource-allow-others",
        [{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret/*"}],
        "s3:GetObject",
        "arn:aws:s3:::public/x",
        None,
        "Allow",
    ),
    (
        "notresource-allow-excluded",
        [{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret/*"}],
        "s3:GetObject",
        "arn:aws:s3:::secret/x",
        None,
        "ImplicitDeny",
    ),
    (
        "notresource-deny",
        [allow(), {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::ok/*"}],
        "s3:GetObject",
        "arn:aws:s3:::other/x",
        None,
        "Deny",
    ),
    # --- String operators
    (
        "StringEquals-match",
        [cond("StringEquals", "iam:PassedToService", "vpc-flow-logs.amazonaws.com")],
        "iam:PassRole",
        R,
        {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"},
        "Allow",
    ),
    (
        "StringEquals-case",
        [cond("StringEquals", "iam:PassedToService", "VPC-flow-logs.amazonaws.com")],
        "iam:PassRole",
        R,
        {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"},
        "ImplicitDeny",
    ),
    (
        "StringEquals-other-value",
        [cond("StringEquals", "iam:PassedToService", "ec2.amazonaws.com")],
        "iam:PassRole",
        R,
        {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"},
        "ImplicitDeny",
    ),
    (
        "StringEquals-values-ored",
        [cond("StringEquals", "iam:PassedToService", ["ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com"])],
        "iam:PassRole",
        R,
        {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"},
        "Allow",
    ),
    (
        "StringEquals-missing-key",
        [cond("StringEquals", "iam:PassedToService", "x")],
        "iam:PassRole",
        R,
        None,
        "ImplicitDeny",
    ),
    (
        "key-name-case-insensitive",
        [cond("StringEquals", "IAM:passedtoservice", "x")],
        "iam:PassRole",
        R,
        {"iam:PassedToService": "x"},
        "Allow",
    ),
    (
        "StringNotEquals-match",
        [cond("StringNotEquals", "ec2:Region", "us-east-1")],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "eu-west-1"},
        "Allow",
    ),
    (
        "StringNotEquals-equal",
        [cond("StringNotEquals", "ec2:Region", ["eu-west-1", "us-east-1"])],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "us-east-1"},
        "ImplicitDeny",
    ),
    (
        "StringNotEquals-missing-true",
        [cond("StringNotEquals", "ec2:Region", "us-east-1")],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Allow",
    ),
    (
        "StringEqualsIgnoreCase",
        [cond("StringEqualsIgnoreCase", "ec2:Region", "US-EAST-1")],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "us-east-1"},
        "Allow",
    ),
    (
        "StringNotEqualsIgnoreCase",
        [cond("StringNotEqualsIgnoreCase", "ec2:Region", "US-EAST-1")],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "us-east-1"},
        "ImplicitDeny",
    ),
    (
        "StringNotEqualsIgnoreCase-missing",
        [cond("StringNotEqualsIgnoreCase", "ec2:Region", "x")],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Allow",
    ),
    (
        "StringLike-star",
        [cond("StringLike", "s3:prefix", "home/*")],
        "s3:ListBucket",
        R,
        {"s3:prefix": "home/alice/x"},
        "Allow",
    ),
    (
        "StringLike-question",
        [cond("StringLike", "s3:prefix", "v?")],
        "s3:ListBucket",
        R,
        {"s3:prefix": "v12"},
        "ImplicitDeny",
    ),
    (
        "StringLike-dot-literal",
        [cond("StringLike", "s3:prefix", "a.b*")],
        "s3:ListBucket",
        R,
        {"s3:prefix": "axb"},
        "ImplicitDeny",
    ),
    ("StringLike-missing", [cond("StringLike", "s3:prefix", "*")], "s3:ListBucket", R, None, "ImplicitDeny"),
    (
        "StringNotLike",
        [cond("StringNotLike", "s3:prefix", "private/*")],
        "s3:ListBucket",
        R,
        {"s3:prefix": "private/x"},
        "ImplicitDeny",
    ),
    (
        "StringNotLike-nomatch",
        [cond("StringNotLike", "s3:prefix", "private/*")],
        "s3:ListBucket",
        R,
        {"s3:prefix": "public/x"},
        "Allow",
    ),
    (
        "StringNotLike-missing-true",
        [cond("StringNotLike", "s3:prefix", "private/*")],
        "s3:ListBucket",
        R,
        None,
        "Allow",
    ),
    # --- Arn operators (segment-wise)
    (
        "ArnLike-flowlog",
        [cond("ArnLike", "aws:SourceArn", f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/*")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/fl-1"},
        "Allow",
    ),
    (
        "ArnLike-other-account",
        [cond("ArnLike", "aws:SourceArn", f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/*")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{OTHER}:vpc-flow-log/fl-1"},
        "ImplicitDeny",
    ),
    (
        "ArnLike-star-does-not-cross-segment",
        [cond("ArnLike", "aws:SourceArn", "arn:aws:ec2:*:vpc-flow-log/*")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/fl-1"},
        "ImplicitDeny",
    ),
    (
        "ArnLike-per-segment-wildcards",
        [cond("ArnLike", "aws:SourceArn", "arn:aws:ec2:*:*:vpc-flow-log/*")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/fl-1"},
        "Allow",
    ),
    (
        "ArnLike-resource-keeps-colons",
        [cond("ArnLike", "aws:SourceArn", "arn:aws:logs:*:*:log-group:g:*")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": "arn:aws:logs:us-east-1:1:log-group:g:log-stream:s"},
        "Allow",
    ),
    (
        "ArnLike-not-an-arn",
        [cond("ArnLike", "aws:SourceArn", "*")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": "not-an-arn"},
        "ImplicitDeny",
    ),
    (
        "ArnEquals-wildcards-too",
        [cond("ArnEquals", "aws:SourceArn", "arn:aws:ec2:us-east-1:*:vpc-flow-log/fl-?")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/fl-1"},
        "Allow",
    ),
    (
        "ArnNotLike-match",
        [cond("ArnNotLike", "aws:SourceArn", "arn:aws:ec2:*:*:vpc-flow-log/*")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/fl-1"},
        "ImplicitDeny",
    ),
    (
        "ArnNotLike-missing-true",
        [cond("ArnNotLike", "aws:SourceArn", "arn:aws:ec2:*:*:*")],
        "sts:AssumeRole",
        R,
        None,
        "Allow",
    ),
    (
        "ArnNotEquals-other",
        [cond("ArnNotEquals", "aws:SourceArn", "arn:aws:ec2:us-east-1:1:x")],
        "sts:AssumeRole",
        R,
        {"aws:SourceArn": "arn:aws:ec2:us-east-1:2:x"},
        "Allow",
    ),
    # --- Bool, Null
    ("Bool-true", [cond("Bool", "aws:SecureTransport", "true")], "s3:GetObject", R, None, "Allow"),
    (
        "Bool-json-bool",
        [cond("Bool", "aws:SecureTransport", False)],
        "s3:GetObject",
        R,
        {"aws:SecureTransport": "false"},
        "Allow",
    ),
    ("Bool-false-vs-true", [cond("Bool", "aws:SecureTransport", "false")], "s3:GetObject", R, None, "ImplicitDeny"),
    ("Bool-missing", [cond("Bool", "aws:MultiFactorAuthPresent", "false")], "s3:GetObject", R, None, "ImplicitDeny"),
    (
        "BoolIfExists-missing",
        [cond("BoolIfExists", "aws:MultiFactorAuthPresent", "true")],
        "s3:GetObject",
        R,
        None,
        "Allow",
    ),
    (
        "BoolIfExists-present-false",
        [cond("BoolIfExists", "aws:MultiFactorAuthPresent", "true")],
        "s3:GetObject",
        R,
        {"aws:MultiFactorAuthPresent": "false"},
        "ImplicitDeny",
    ),
    ("Null-true-absent", [cond("Null", "aws:TokenIssueTime", "true")], "s3:GetObject", R, None, "Allow"),
    (
        "Null-true-present",
        [cond("Null", "aws:TokenIssueTime", "true")],
        "s3:GetObject",
        R,
        {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"},
        "ImplicitDeny",
    ),
    (
        "Null-false-present",
        [cond("Null", "aws:TokenIssueTime", "false")],
        "s3:GetObject",
        R,
        {"aws:TokenIssueTime": "x"},
        "Allow",
    ),
    ("Null-false-absent", [cond("Null", "aws:TokenIssueTime", False)], "s3:GetObject", R, None, "ImplicitDeny"),
    # --- Numeric
    (
        "NumericEquals",
        [cond("NumericEquals", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "10.0"},
        "Allow",
    ),
    (
        "NumericEquals-json-number",
        [cond("NumericEquals", "s3:max-keys", 10)],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "10"},
        "Allow",
    ),
    (
        "NumericNotEquals",
        [cond("NumericNotEquals", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "10"},
        "ImplicitDeny",
    ),
    ("NumericNotEquals-missing", [cond("NumericNotEquals", "s3:max-keys", "10")], "s3:ListBucket", R, None, "Allow"),
    (
        "NumericLessThan",
        [cond("NumericLessThan", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "9"},
        "Allow",
    ),
    (
        "NumericLessThan-equal",
        [cond("NumericLessThan", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "10"},
        "ImplicitDeny",
    ),
    (
        "NumericLessThanEquals",
        [cond("NumericLessThanEquals", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "10"},
        "Allow",
    ),
    (
        "NumericGreaterThan",
        [cond("NumericGreaterThan", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "11"},
        "Allow",
    ),
    (
        "NumericGreaterThan-no",
        [cond("NumericGreaterThan", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "10"},
        "ImplicitDeny",
    ),
    (
        "NumericGreaterThanEquals",
        [cond("NumericGreaterThanEquals", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "10"},
        "Allow",
    ),
    (
        "Numeric-not-a-number",
        [cond("NumericEquals", "s3:max-keys", "10")],
        "s3:ListBucket",
        R,
        {"s3:max-keys": "ten"},
        "ImplicitDeny",
    ),
    ("Numeric-missing", [cond("NumericLessThan", "s3:max-keys", "10")], "s3:ListBucket", R, None, "ImplicitDeny"),
    # --- Date (aws:CurrentTime is filled from the world's clock: 2026-06-01T12:00:00Z)
    (
        "DateLessThan-now",
        [cond("DateLessThan", "aws:CurrentTime", "2027-01-01T00:00:00Z")],
        "s3:GetObject",
        R,
        None,
        "Allow",
    ),
    (
        "DateLessThan-past",
        [cond("DateLessThan", "aws:CurrentTime", "2026-01-01")],
        "s3:GetObject",
        R,
        None,
        "ImplicitDeny",
    ),
    (
        "DateGreaterThan-epoch",
        [cond("DateGreaterThan", "aws:CurrentTime", "1700000000")],
        "s3:GetObject",
        R,
        None,
        "Allow",
    ),
    (
        "DateGreaterThanEquals-same",
        [cond("DateGreaterThanEquals", "aws:CurrentTime", "2026-06-01T12:00:00Z")],
        "s3:GetObject",
        R,
        None,
        "Allow",
    ),
    (
        "DateLessThanEquals-same",
        [cond("DateLessThanEquals", "aws:CurrentTime", "2026-06-01T14:00:00+02:00")],
        "s3:GetObject",
        R,
        None,
        "Allow",
    ),
    ("DateEquals", [cond("DateEquals", "aws:EpochTime", "2026-06-01T12:00:00Z")], "s3:GetObject", R, None, "Allow"),
    (
        "DateNotEquals",
        [cond("DateNotEquals", "aws:CurrentTime", "2026-06-01T12:00:00Z")],
        "s3:GetObject",
        R,
        None,
        "ImplicitDeny",
    ),
    (
        "Date-invalid-policy-value",
        [cond("DateLessThan", "aws:CurrentTime", "soon")],
        "s3:GetObject",
        R,
        None,
        "ImplicitDeny",
    ),
    # --- IpAddress
    (
        "IpAddress-in",
        [cond("IpAddress", "aws:SourceIp", "203.0.113.0/24")],
        "s3:GetObject",
        R,
        {"aws:SourceIp": "203.0.113.7"},
        "Allow",
    ),
    (
        "IpAddress-out",
        [cond("IpAddress", "aws:SourceIp", "203.0.113.0/24")],
        "s3:GetObject",
        R,
        {"aws:SourceIp": "198.51.100.7"},
        "ImplicitDeny",
    ),
    (
        "IpAddress-single",
        [cond("IpAddress", "aws:SourceIp", "203.0.113.7")],
        "s3:GetObject",
        R,
        {"aws:SourceIp": "203.0.113.7"},
        "Allow",
    ),
    (
        "IpAddress-v6",
        [cond("IpAddress", "aws:SourceIp", "2001:db8::/32")],
        "s3:GetObject",
        R,
        {"aws:SourceIp": "2001:db8::1"},
        "Allow",
    ),
    ("IpAddress-missing", [cond("IpAddress", "aws:SourceIp", "0.0.0.0/0")], "s3:GetObject", R, None, "ImplicitDeny"),
    (
        "NotIpAddress-in",
        [cond("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8", "203.0.113.0/24"])],
        "s3:GetObject",
        R,
        {"aws:SourceIp": "203.0.113.7"},
        "ImplicitDeny",
    ),
    (
        "NotIpAddress-out",
        [cond("NotIpAddress", "aws:SourceIp", "10.0.0.0/8")],
        "s3:GetObject",
        R,
        {"aws:SourceIp": "203.0.113.7"},
        "Allow",
    ),
    ("NotIpAddress-missing", [cond("NotIpAddress", "aws:SourceIp", "10.0.0.0/8")], "s3:GetObject", R, None, "Allow"),
    # --- Binary
    ("BinaryEquals", [cond("BinaryEquals", "k:bin", "QmluYXJ5")], "s3:GetObject", R, {"k:bin": "QmluYXJ5"}, "Allow"),
    (
        "BinaryEquals-different",
        [cond("BinaryEquals", "k:bin", "QmluYXJ5")],
        "s3:GetObject",
        R,
        {"k:bin": "QmluYXJ6"},
        "ImplicitDeny",
    ),
    # --- IfExists
    (
        "StringEqualsIfExists-missing",
        [cond("StringEqualsIfExists", "ec2:Region", "us-east-1")],
        "ec2:CreateFlowLogs",
        R,
        None,
        "Allow",
    ),
    (
        "StringEqualsIfExists-wrong",
        [cond("StringEqualsIfExists", "ec2:Region", "us-east-1")],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "eu-west-1"},
        "ImplicitDeny",
    ),
    (
        "ArnLikeIfExists-missing",
        [cond("ArnLikeIfExists", "aws:SourceArn", "arn:aws:ec2:*:*:*")],
        "sts:AssumeRole",
        R,
        None,
        "Allow",
    ),
    (
        "NumericLessThanIfExists-missing",
        [cond("NumericLessThanIfExists", "s3:max-keys", "5")],
        "s3:ListBucket",
        R,
        None,
        "Allow",
    ),
    # --- ForAnyValue / ForAllValues
    (
        "ForAnyValue-one",
        [cond("ForAnyValue:StringEquals", "aws:TagKeys", ["team", "env"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["owner", "env"]},
        "Allow",
    ),
    (
        "ForAnyValue-none",
        [cond("ForAnyValue:StringEquals", "aws:TagKeys", ["team"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["owner", "env"]},
        "ImplicitDeny",
    ),
    (
        "ForAnyValue-missing-false",
        [cond("ForAnyValue:StringEquals", "aws:TagKeys", ["team"])],
        "ec2:CreateTags",
        R,
        None,
        "ImplicitDeny",
    ),
    (
        "ForAnyValue-empty-false",
        [cond("ForAnyValue:StringEquals", "aws:TagKeys", ["team"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": []},
        "ImplicitDeny",
    ),
    (
        "ForAllValues-all",
        [cond("ForAllValues:StringEquals", "aws:TagKeys", ["team", "env"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["env", "team"]},
        "Allow",
    ),
    (
        "ForAllValues-one-outside",
        [cond("ForAllValues:StringEquals", "aws:TagKeys", ["team", "env"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["env", "owner"]},
        "ImplicitDeny",
    ),
    (
        "ForAllValues-missing-vacuous",
        [cond("ForAllValues:StringEquals", "aws:TagKeys", ["team"])],
        "ec2:CreateTags",
        R,
        None,
        "Allow",
    ),
    (
        "ForAllValues-empty-vacuous",
        [cond("ForAllValues:StringEquals", "aws:TagKeys", ["team"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": []},
        "Allow",
    ),
    (
        "ForAllValues-StringLike",
        [cond("ForAllValues:StringLike", "aws:TagKeys", ["app-*"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["app-a", "app-b"]},
        "Allow",
    ),
    (
        "ForAnyValue-StringNotEquals",
        [cond("ForAnyValue:StringNotEquals", "aws:TagKeys", ["team"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["team", "x"]},
        "Allow",
    ),
    (
        "ForAllValues-StringNotEquals",
        [cond("ForAllValues:StringNotEquals", "aws:TagKeys", ["team"])],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["team", "x"]},
        "ImplicitDeny",
    ),
    (
        "ForAnyValue-IfExists-missing",
        [cond("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["team"])],
        "ec2:CreateTags",
        R,
        None,
        "Allow",
    ),
    (
        "single-valued-op-multi-key-any",
        [cond("StringEquals", "aws:TagKeys", "team")],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["x", "team"]},
        "Allow",
    ),
    # --- unknown operators never match (a typo in a Deny is a silent no-op, as in AWS)
    (
        "unknown-operator-allow",
        [cond("StringEqualz", "ec2:Region", "us-east-1")],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "us-east-1"},
        "ImplicitDeny",
    ),
    (
        "unknown-operator-deny-noop",
        [allow(), {**cond("StringEqualz", "ec2:Region", "us-east-1"), "Effect": "Deny"}],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "us-east-1"},
        "Allow",
    ),
    (
        "unknown-set-qualifier",
        [cond("ForSomeValues:StringEquals", "aws:TagKeys", "a")],
        "ec2:CreateTags",
        R,
        {"aws:TagKeys": ["a"]},
        "ImplicitDeny",
    ),
    (
        "operator-case-sensitive",
        [cond("stringequals", "ec2:Region", "us-east-1")],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "us-east-1"},
        "ImplicitDeny",
    ),
    ("Null-with-IfExists-unknown", [cond("NullIfExists", "k", "true")], "s3:GetObject", R, None, "ImplicitDeny"),
    # --- condition block: AND over operators and keys
    (
        "and-over-keys",
        [allow(Condition={"StringEquals": {"ec2:Region": "us-east-1", "k:x": "1"}})],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "us-east-1"},
        "ImplicitDeny",
    ),
    (
        "and-over-operators",
        [allow(Condition={"StringEquals": {"ec2:Region": "us-east-1"}, "Bool": {"aws:SecureTransport": "true"}})],
        "ec2:CreateFlowLogs",
        R,
        {"ec2:Region": "us-east-1"},
        "Allow",
    ),
    # --- policy variables
    (
        "var-username-resource",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}],
        "s3:GetObject",
        "arn:aws:s3:::home/alice/f",
        None,
        "Allow",
    ),
    (
        "var-username-other",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}],
        "s3:GetObject",
        "arn:aws:s3:::home/bob/f",
        None,
        "ImplicitDeny",
    ),
    (
        "var-principal-tag",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::team-${aws:PrincipalTag/team}/*"}],
        "s3:GetObject",
        "arn:aws:s3:::team-net/f",
        None,
        "Allow",
    ),
    (
        "var-missing-key-no-match",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::x/${aws:PrincipalTag/missing}/*"}],
        "s3:GetObject",
        "arn:aws:s3:::x//f",
        None,
        "ImplicitDeny",
    ),
    (
        "var-default-value",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::x/${aws:PrincipalTag/missing, 'none'}/*"}],
        "s3:GetObject",
        "arn:aws:s3:::x/none/f",
        None,
        "Allow",
    ),
    (
        "var-escape-star-literal",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${*}"}],
        "s3:GetObject",
        "arn:aws:s3:::b/abc",
        None,
        "ImplicitDeny",
    ),
    (
        "var-escape-star-literal-match",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${*}"}],
        "s3:GetObject",
        "arn:aws:s3:::b/*",
        None,
        "Allow",
    ),
    (
        "var-escape-question-dollar",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${?}${$}"}],
        "s3:GetObject",
        "arn:aws:s3:::b/?$",
        None,
        "Allow",
    ),
    (
        "var-in-condition",
        [cond("StringEquals", "s3:prefix", "home/${aws:username}")],
        "s3:ListBucket",
        R,
        {"s3:prefix": "home/alice"},
        "Allow",
    ),
    (
        "var-in-condition-like",
        [cond("StringLike", "s3:prefix", "home/${aws:username}/*")],
        "s3:ListBucket",
        R,
        {"s3:prefix": "home/alice/docs"},
        "Allow",
    ),
    (
        "var-principal-account",
        [cond("StringEquals", "aws:ResourceAccount", "${aws:PrincipalAccount}")],
        "s3:ListBucket",
        R,
        {"aws:ResourceAccount": ACCT},
        "Allow",
    ),
    (
        "var-userid",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:userid}"}],
        "s3:GetObject",
        "arn:aws:s3:::b/WRONG",
        None,
        "ImplicitDeny",
    ),
    (
        "var-in-condition-missing-negated",
        [cond("StringNotEquals", "s3:prefix", "${aws:PrincipalTag/missing}")],
        "s3:ListBucket",
        R,
        {"s3:prefix": "x"},
        "ImplicitDeny",
    ),
    (
        "var-value-is-literal",
        [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/Dept}"}],
        "s3:GetObject",
        "arn:aws:s3:::b/ops",
        None,
        "Allow",
    ),
]


@pytest.mark.parametrize(
    ("case", "statements", "action", "resource", "context", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_evaluator_case(
    case: str,
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, Any] | None,
    expected: str,
) -> None:
    w = world(statements)
    d = w.authorize(ALICE, action, resource, context)
    assert d.effect == expected, d.explain()
    assert d.allowed == (expected == "Allow")


def test_version_2008_makes_variables_literal() -> None:
    stmts = [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}"}]
    w = world(stmts, version="2008-10-17")
    assert not w.authorize(ALICE, "s3:GetObject", "arn:aws:s3:::home/alice").allowed
    assert w.authorize(ALICE, "s3:GetObject", "arn:aws:s3:::home/${aws:username}").allowed
    assert world(stmts, version=None).authorize(ALICE, "s3:GetObject", "arn:aws:s3:::home/${aws:username}").allowed


def test_variables_use_role_context_for_roles() -> None:
    # aws:username exists only for IAM users: a role's request leaves the element unmatched.
    w = world([{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}])
    role = f"arn:aws:iam::{ACCT}:role/svc/app"
    assert not w.authorize(role, "s3:GetObject", "arn:aws:s3:::home/app/x").allowed
    assert not w.authorize(role, "s3:GetObject", "arn:aws:s3:::home//x").allowed


def test_userid_variable_matches_generated_id() -> None:
    w = world([{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:userid}"}])
    uid = w.user("alice").userid
    assert uid.startswith("AIDA") and len(uid) == 21
    assert w.authorize(ALICE, "s3:GetObject", f"arn:aws:s3:::b/{uid}").allowed


def test_decision_names_policy_and_statement() -> None:
    w = world(
        [
            {"Sid": "Mine", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {"Sid": "No", "Effect": "Deny", "Action": "ec2:DeleteFlowLogs", "Resource": "*"},
        ]
    )
    ok = w.authorize(ALICE, "ec2:CreateFlowLogs", R)
    assert ok.sid == "Mine" and ok.statement is not None and ok.statement["Sid"] == "Mine"
    assert ok.policy == "user alice inline policy p"
    no = w.authorize(ALICE, "ec2:DeleteFlowLogs", R)
    assert no.effect == "Deny" and no.sid == "No"
    assert 'Sid "No"' in no.reason and "Deny" in no.explain()


def test_all_resources_must_be_allowed() -> None:
    w = world([{"Effect": "Allow", "Action": "ec2:CreateFlowLogs", "Resource": f"arn:aws:ec2:*:{ACCT}:vpc-flow-log/*"}])
    fl = f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/fl-1"
    assert w.authorize(ALICE, "ec2:CreateFlowLogs", [fl]).allowed
    d = w.authorize(ALICE, "ec2:CreateFlowLogs", [fl, R])
    assert not d.allowed and d.resource == R


def test_condition_failure_is_explained() -> None:
    w = world([cond("StringEquals", "iam:PassedToService", "vpc-flow-logs.amazonaws.com")])
    d = w.authorize(ALICE, "iam:PassRole", R, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not d.allowed
    assert any("iam:PassedToService" in n and "ec2.amazonaws.com" in n for n in d.notes)


# ------------------------------------------------------------------ resource policies and principals
BUCKET = "arn:aws:s3:::b/key"


def bucket_policy(principal: Any, effect: str = "Allow", *, not_principal: bool = False) -> dict[str, Any]:
    key = "NotPrincipal" if not_principal else "Principal"
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, key: principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
    }


NOTHING: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "sqs:Nothing", "Resource": "*"}]

PRINCIPAL_CASES: list[tuple[str, str, Any, list[dict[str, Any]], str]] = [
    # (id, caller, bucket policy, caller's identity statements, expected)
    ("star", ALICE, bucket_policy("*"), NOTHING, "Allow"),
    ("aws-star", ALICE, bucket_policy({"AWS": "*"}), NOTHING, "Allow"),
    ("user-arn", ALICE, bucket_policy({"AWS": ALICE}), NOTHING, "Allow"),
    ("user-arn-list", ALICE, bucket_policy({"AWS": ["arn:aws:iam::1:user/x", ALICE]}), NOTHING, "Allow"),
    ("other-user-arn", ALICE, bucket_policy({"AWS": f"arn:aws:iam::{ACCT}:user/bob"}), NOTHING, "ImplicitDeny"),
    (
        "role-arn",
        f"arn:aws:iam::{ACCT}:role/svc/app",
        bucket_policy({"AWS": f"arn:aws:iam::{ACCT}:role/svc/app"}),
        NOTHING,
        "Allow",
    ),
    (
        "assumed-role-session",
        f"arn:aws:sts::{ACCT}:assumed-role/app/s1",
        bucket_policy({"AWS": f"arn:aws:iam::{ACCT}:role/svc/app"}),
        NOTHING,
        "Allow",
    ),
    # Naming only the account delegates to it: a user still needs an identity allow (same account).
    ("account-id-user-needs-identity", ALICE, bucket_policy({"AWS": ACCT}), NOTHING, "ImplicitDeny"),
    (
        "account-root-arn-user-with-identity",
        ALICE,
        bucket_policy({"AWS": f"arn:aws:iam::{ACCT}:root"}),
        [allow()],
        "Allow",
    ),
    ("account-deny-applies-to-users", ALICE, bucket_policy({"AWS": ACCT}, "Deny"), [allow()], "Deny"),
    (
        "service-principal-not-a-user",
        ALICE,
        bucket_policy({"Service": "delivery.logs.amazonaws.com"}),
        NOTHING,
        "ImplicitDeny",
    ),
    (
        "service-principal",
        "delivery.logs.amazonaws.com",
        bucket_policy({"Service": "delivery.logs.amazonaws.com"}),
        NOTHING,
        "Allow",
    ),
    (
        "service-principal-other",
        "vpc-flow-logs.amazonaws.com",
        bucket_policy({"Service": "delivery.logs.amazonaws.com"}),
        NOTHING,
        "ImplicitDeny",
    ),
    (
        "service-principal-list",
        "vpc-flow-logs.amazonaws.com",
        bucket_policy({"Service": ["ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com"]}),
        NOTHING,
        "Allow",
    ),
    (
        "service-principal-account-id-no",
        "delivery.logs.amazonaws.com",
        bucket_policy({"AWS": ACCT}),
        NOTHING,
        "ImplicitDeny",
    ),
    ("federated", ALICE, bucket_policy({"Federated": "cognito-identity.amazonaws.com"}), NOTHING, "ImplicitDeny"),
    (
        "notprincipal-allow-others",
        ALICE,
        bucket_policy({"AWS": f"arn:aws:iam::{ACCT}:user/bob"}, not_principal=True),
        NOTHING,
        "Allow",
    ),
    ("notprincipal-excludes-me", ALICE, bucket_policy({"AWS": ALICE}, not_principal=True), NOTHING, "ImplicitDeny"),
    (
        "notprincipal-deny",
        ALICE,
        bucket_policy({"AWS": f"arn:aws:iam::{ACCT}:user/bob"}, "Deny", not_principal=True),
        [allow()],
        "Deny",
    ),
    ("identity-allow-alone-same-account", ALICE, None, [allow()], "Allow"),
    ("resource-deny-beats-identity-allow", ALICE, bucket_policy({"AWS": ALICE}, "Deny"), [allow()], "Deny"),
    ("root-own-account", f"arn:aws:iam::{ACCT}:root", None, NOTHING, "Allow"),
    ("root-bucket-deny", f"arn:aws:iam::{ACCT}:root", bucket_policy("*", "Deny"), NOTHING, "Deny"),
    ("root-account-id-form", ACCT, None, NOTHING, "Allow"),
    ("other-root-no-policy", f"arn:aws:iam::{OTHER}:root", None, NOTHING, "ImplicitDeny"),
]


@pytest.mark.parametrize(
    ("case", "caller", "policy", "identity", "expected"), PRINCIPAL_CASES, ids=[c[0] for c in PRINCIPAL_CASES]
)
def test_principal_case(case: str, caller: str, policy: Any, identity: list[dict[str, Any]], expected: str) -> None:
    w = world(identity)
    d = w.authorize(caller, "s3:GetObject", BUCKET, None, policy)
    assert d.effect == expected, d.explain()


def test_cross_account_needs_both_sides() -> None:
    w = world([allow()])
    resource = f"arn:aws:logs:us-east-1:{OTHER}:log-group:g"
    assert not w.authorize(ALICE, "logs:GetLogEvents", resource).allowed  # identity only: not enough
    rp = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "logs:*", "Resource": "*"}],
    }
    assert w.authorize(ALICE, "logs:GetLogEvents", resource, None, rp).allowed
    w2 = world(NOTHING)
    assert not w2.authorize(ALICE, "logs:GetLogEvents", resource, None, rp).allowed  # resource only: not enough
    # the account root of the other account with that account's bucket policy
    assert w.authorize(
        f"arn:aws:iam::{OTHER}:root", "s3:GetObject", BUCKET, None, bucket_policy({"AWS": OTHER}), resource_account=ACCT
    ).allowed


def test_get_log_data_alias_grants_both_read_actions() -> None:
    w = world([{"Effect": "Allow", "Action": "logs:GetLogData", "Resource": "*"}])
    g = f"arn:aws:logs:us-east-1:{ACCT}:log-group:g"
    assert w.authorize(ALICE, "logs:GetLogEvents", g).allowed
    assert w.authorize(ALICE, "logs:FilterLogEvents", g).allowed
    assert not w.authorize(ALICE, "logs:PutLogEvents", g).allowed
    deny = world([allow(), {"Effect": "Deny", "Action": "logs:getlogdata", "Resource": "*"}])
    assert deny.authorize(ALICE, "logs:GetLogEvents", g).effect == "Deny"
