"""`vpcflow iam simulate` and `vpcflow iam lint` end to end: output, exit codes, file:line findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpcflow.cli.main import cli

TOPOLOGY = """\
account_id: "123456789012"
region: us-east-1
s3_buckets:
  - name: logs-bucket
    owner: "123456789012"
    region: us-east-1
    policy:
      Version: "2012-10-17"
      Statement:
        - Sid: AWSLogDeliveryWrite
          Effect: Allow
          Principal: {Service: delivery.logs.amazonaws.com}
          Action: s3:PutObject
          Resource: arn:aws:s3:::logs-bucket/AWSLogs/123456789012/*
          Condition:
            StringEquals: {s3:x-amz-acl: bucket-owner-full-control}
iam:
  users:
    - name: alice
      access_keys:
        - {access_key_id: AKIAEXAMPLEALICE0001, secret_access_key: alice-secret-key}
      policies:
        - name: admin-flow-logs
          document:
            Version: "2012-10-17"
            Statement:
              - Sid: ManageFlowLogs
                Effect: Allow
                Action: ["ec2:*FlowLogs"]
                Resource: "*"
              - Sid: PassDeliveryRole
                Effect: Allow
                Action: iam:PassRole
                Resource: arn:aws:iam::123456789012:role/delivery
                Condition:
                  StringEquals: {iam:PassedToService: vpc-flow-logs.amazonaws.com}
              - Sid: NoDelete
                Effect: Deny
                Action: ec2:DeleteFlowLogs
                Resource: "*"
    - name: reader
      policies:
        - name: read
          document:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [logs:GetLogData, iam:PassRole]
                Resource: "*"
              - Effect: Deny
                Action: "*"
                Resource: "*"
                Condition:
                  StringEqualz: {aws:username: mallory}
  roles:
    - name: delivery
      trust_policy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: vpc-flow-logs.amazonaws.com}
            Action: sts:AssumeRole
      policies:
        - name: deliver
          document:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents, logs:DescribeLogGroups, logs:DescribeLogStreams]
                Resource: "*"
    - name: untrusted
      trust_policy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: ec2.amazonaws.com}
            Action: sts:AssumeRole
      policies:
        - name: deliver
          document:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [logs:CreateLogStream, logs:PutLogEvents]
                Resource: "*"
    - name: half
      trust_policy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: vpc-flow-logs.amazonaws.com}
            Action: sts:AssumeRole
      policies:
        - name: deliver
          document:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: logs:PutLogEvents
                Resource: "*"
"""

ROLE = "arn:aws:iam::123456789012:role/delivery"


@pytest.fixture
def topo(tmp_path: Path) -> Path:
    p = tmp_path / "topo.yaml"
    p.write_text(TOPOLOGY)
    return p


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout


def line_of(text: str) -> int:
    """1-based line of the first line of TOPOLOGY containing ``text``."""
    return next(i for i, line in enumerate(TOPOLOGY.splitlines(), 1) if text in line)


def test_simulate_allowed_names_the_statement(topo: Path) -> None:
    code, out = run(
        "iam",
        "simulate",
        "--topology",
        str(topo),
        "--principal",
        "AKIAEXAMPLEALICE0001",
        "--action",
        "iam:PassRole",
        "--resource",
        ROLE,
        "--context",
        "iam:PassedToService=vpc-flow-logs.amazonaws.com",
    )
    assert code == 0, out
    assert out.startswith(f"allowed  iam:PassRole  {ROLE}")
    assert 'Sid "PassDeliveryRole"' in out and "user alice inline policy admin-flow-logs" in out


def test_simulate_implicit_deny_explains_the_failed_condition(topo: Path) -> None:
    code, out = run(
        "iam",
        "simulate",
        "--topology",
        str(topo),
        "--principal",
        "arn:aws:iam::123456789012:user/alice",
        "--action",
        "iam:PassRole",
        "--resource",
        ROLE,
        "--context",
        "iam:PassedToService=ec2.amazonaws.com",
    )
    assert code == 1
    assert out.startswith("implicitDeny") and "iam:PassedToService" in out and "ec2.amazonaws.com" in out


def test_simulate_explicit_deny(topo: Path) -> None:
    code, out = run(
        "iam",
        "simulate",
        "--topology",
        str(topo),
        "--principal",
        "AKIAEXAMPLEALICE0001",
        "--action",
        "ec2:DeleteFlowLogs",
        "--resource",
        "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-1",
        "--json",
    )
    assert code == 1
    [d] = json.loads(out)
    assert d["effect"] == "Deny" and d["sid"] == "NoDelete" and d["allowed"] is False


def test_simulate_several_actions_and_resources_json(topo: Path) -> None:
    code, out = run(
        "iam",
        "simulate",
        "--topology",
        str(topo),
        "--principal",
        "AKIAEXAMPLEALICE0001",
        "--action",
        "ec2:CreateFlowLogs",
        "--action",
        "ec2:DescribeFlowLogs",
        "--resource",
        "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-1",
        "--resource",
        "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1",
        "--json",
    )
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 4 and all(r["allowed"] for r in rows)


def test_simulate_default_principal_is_root(topo: Path) -> None:
    code, out = run("iam", "simulate", "--topology", str(topo), "--action", "ec2:CreateFlowLogs")
    assert code == 0 and "root user" in out


def test_simulate_uses_bucket_policy_for_s3_resources(topo: Path) -> None:
    base = [
        "iam",
        "simulate",
        "--topology",
        str(topo),
        "--principal",
        "delivery.logs.amazonaws.com",
        "--action",
        "s3:PutObject",
    ]
    code, out = run(
        *base,
        "--resource",
        "arn:aws:s3:::logs-bucket/AWSLogs/123456789012/x.log.gz",
        "--context",
        "s3:x-amz-acl=bucket-owner-full-control",
    )
    assert code == 0 and "bucket policy of logs-bucket (s3_buckets[0].policy)" in out
    code, _ = run(*base, "--resource", "arn:aws:s3:::logs-bucket/AWSLogs/123456789012/x.log.gz")
    assert code == 1  # the acl condition is not met without s3:x-amz-acl


def test_simulate_resource_policy_file(topo: Path, tmp_path: Path) -> None:
    rp = tmp_path / "rp.json"
    rp.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Resource": "*",
                    }
                ],
            }
        )
    )
    code, out = run(
        "iam",
        "simulate",
        "--topology",
        str(topo),
        "--principal",
        "vpc-flow-logs.amazonaws.com",
        "--action",
        "sts:AssumeRole",
        "--resource",
        ROLE,
        "--resource-policy",
        str(rp),
    )
    assert code == 0 and str(rp) in out


def test_simulate_multi_valued_context(topo: Path, tmp_path: Path) -> None:
    rp = tmp_path / "deny-b.json"
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "*",
        "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "b"}},
    }
    rp.write_text(json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    base = [
        "iam",
        "simulate",
        "--topology",
        str(topo),
        "--principal",
        "AKIAEXAMPLEALICE0001",
        "--action",
        "ec2:CreateFlowLogs",
        "--resource-policy",
        str(rp),
    ]
    assert run(*base, "--context", "aws:TagKeys=a")[0] == 0
    code, out = run(*base, "--context", "aws:TagKeys=a", "--context", "aws:TagKeys=b", "--json")
    assert code == 1 and json.loads(out)[0]["effect"] == "Deny"


def test_simulate_errors(topo: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "iam",
            "simulate",
            "--topology",
            str(topo),
            "--principal",
            "arn:aws:iam::123456789012:user/nobody",
            "--action",
            "s3:GetObject",
        ],
    )
    assert r.exit_code != 0 and "The user with name nobody cannot be found." in str(r.exception)
    r = CliRunner().invoke(
        cli, ["iam", "simulate", "--topology", str(topo), "--action", "s3:GetObject", "--context", "novalue"]
    )
    assert r.exit_code == 2 and "KEY=VALUE" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("iam:\n  users:\n    - name: ok\n    - name: 'not ok'\n")
    r = CliRunner().invoke(cli, ["iam", "simulate", "--topology", str(bad), "--action", "s3:GetObject"])
    assert "bad.yaml:4" in str(r.exception) and "iam.users[1].name" in str(r.exception)


def test_simulate_from_data_dir(topo: Path, tmp_path: Path) -> None:
    from vpcflow.runtime.datadir import DataDir

    dd = DataDir.resolve(tmp_path / "data")
    with dd.state() as st, st.transaction() as t:
        t.put_topology(TOPOLOGY, "yaml", str(topo))
    code, out = run(
        "iam",
        "simulate",
        "--data-dir",
        str(tmp_path / "data"),
        "--principal",
        "AKIAEXAMPLEALICE0001",
        "--action",
        "ec2:CreateFlowLogs",
        "--resource",
        "*",
    )
    assert code == 0 and "ManageFlowLogs" in out
    # a fresh data directory is an account with only its root
    code, out = run("iam", "simulate", "--data-dir", str(tmp_path / "empty"), "--action", "ec2:CreateFlowLogs")
    assert code == 0 and "root" in out
    assert not (tmp_path / "empty").exists()  # simulating does not create a data directory


def test_lint_reports_with_lines(topo: Path) -> None:
    code, out = run("iam", "lint", str(topo))
    assert code == 1
    lines = out.splitlines()
    getlogdata = next(line for line in lines if "logs:GetLogData" in line)
    assert getlogdata.startswith(f"{topo}:{line_of('logs:GetLogData')}: error: [unknown-action]")
    op_line = line_of("StringEqualz")
    assert any(
        "[unknown-operator]" in line and "StringEqualz" in line and line.startswith(f"{topo}:{op_line}:")
        for line in lines
    )
    assert any("[passrole-any-role]" in line for line in lines)
    untrusted = next(line for line in lines if "[delivery-role-untrusted]" in line)
    trust_line = [i for i, line in enumerate(TOPOLOGY.splitlines(), 1) if "trust_policy:" in line][1]
    assert "role untrusted" in untrusted and untrusted.startswith(f"{topo}:{trust_line}:")
    missing = next(line for line in lines if "[delivery-role-missing-actions]" in line)
    assert (
        "delivery role half lacks logs:CreateLogGroup, logs:CreateLogStream, logs:DescribeLogGroups, logs:DescribeLogStreams"
        in missing
    )
    assert not any("role delivery looks like" in line for line in lines)


def test_lint_json_and_clean_file(topo: Path, tmp_path: Path) -> None:
    code, out = run("iam", "lint", str(topo), "--json")
    codes = {f["code"] for f in json.loads(out)}
    assert {"unknown-action", "unknown-operator", "passrole-any-role", "delivery-role-untrusted"} <= codes
    clean = tmp_path / "clean.json"
    clean.write_text(
        json.dumps(
            {
                "account_id": "123456789012",
                "iam": {
                    "users": [
                        {
                            "name": "a",
                            "policies": [
                                {
                                    "name": "p",
                                    "document": {
                                        "Version": "2012-10-17",
                                        "Statement": [
                                            {"Effect": "Allow", "Action": "ec2:DescribeFlowLogs", "Resource": "*"}
                                        ],
                                    },
                                }
                            ],
                        }
                    ]
                },
            },
            indent=2,
        )
    )
    code, out = run("iam", "lint", str(clean))
    assert code == 0 and out == ""


def test_lint_invalid_iam_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "iam:\n  roles:\n    - name: r\n      trust_policy:\n        Statement:\n          - Effect: Allow\n            Action: sts:AssumeRole\n"
    )
    code, out = run("iam", "lint", str(bad))
    assert code == 1 and "[invalid-iam]" in out and "Principal" in out
