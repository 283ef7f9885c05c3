"""``vpcflow ec2`` end to end: AWS CLI flags and JSON, exit 254 on API errors, and the seed's scenario on
examples/topology/three-tier.yaml (no PassRole -> refused; an untrusting role -> created, later FAILED /
Access error; trust fixed and topology reloaded -> SUCCESS)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from vpcflow.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "topology" / "three-tier.yaml"
VPC = "vpc-097d5b620001373d6"
ENI = "eni-07ed21d013c48757d"
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"
ROLE = "arn:aws:iam::123456789012:role/flow-logs-delivery"


def run(dd: Path, *args: str, principal: str | None = None) -> tuple[int, Any, str]:
    argv = list(args)
    if argv[0] == "ec2":
        argv = ["ec2", "--data-dir", str(dd)] + (["--principal", principal] if principal else []) + argv[1:]
    elif argv[:2] == ["topology", "load"]:
        argv = [*argv, "--data-dir", str(dd)]
    res = CliRunner().invoke(cli, argv, catch_exceptions=False)
    out = res.stdout.strip()
    return res.exit_code, json.loads(out) if out else None, res.stderr


@pytest.fixture
def dd(tmp_path: Path) -> Path:
    d = tmp_path / "dd"
    code, out, err = run(d, "topology", "load", str(EXAMPLE))
    assert code == 0, err
    assert out["AccountId"] == "123456789012" and out["Vpcs"] == 2
    assert (d / "s3" / "vpcflow-demo-logs").is_dir()  # the file's buckets exist locally
    return d


def test_help_everywhere() -> None:
    for args in (["ec2", "--help"], ["ec2", "create-flow-logs", "--help"], ["ec2", "describe-flow-logs", "--help"],
                 ["ec2", "delete-flow-logs", "--help"], ["ec2", "create-tags", "--help"],
                 ["ec2", "check-delivery", "--help"], ["init", "--help"]):  # fmt: skip
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0 and "Usage" in res.stdout


def test_fresh_data_dir_is_an_empty_account(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path / "new", "ec2", "describe-flow-logs")
    assert (code, out) == (0, {"FlowLogs": []})


def test_create_s3_with_shorthand_and_describe(dd: Path) -> None:
    code, out, err = run(
        dd, "ec2", "create-flow-logs", "--resource-ids", VPC, "--resource-type", "VPC", "--traffic-type", "ALL",
        "--log-destination-type", "s3", "--log-destination", "arn:aws:s3:::vpcflow-demo-logs/flows/",
        "--destination-options", "FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=true",
        "--tag-specifications", "ResourceType=vpc-flow-log,Tags=[{Key=team,Value=net},{Key=env,Value=demo}]",
        "--max-aggregation-interval", "60", "--log-format", "${version} ${srcaddr} ${dstaddr} ${action}",
    )  # fmt: skip
    assert code == 0, err
    assert out["Unsuccessful"] == [] and len(out["FlowLogIds"]) == 1
    code, desc, _ = run(dd, "ec2", "describe-flow-logs", "--filter", "Name=tag:team,Values=net")
    (fl,) = desc["FlowLogs"]
    assert fl["DestinationOptions"] == {
        "FileFormat": "parquet",
        "HiveCompatiblePartitions": True,
        "PerHourPartition": True,
    }
    assert fl["Tags"] == [{"Key": "env", "Value": "demo"}, {"Key": "team", "Value": "net"}]
    assert fl["MaxAggregationInterval"] == 60 and fl["LogFormat"] == "${version} ${srcaddr} ${dstaddr} ${action}"
    assert fl["CreationTime"].endswith("+00:00") and "T" in fl["CreationTime"]  # AWS CLI's ISO form


def test_json_forms_and_lists(dd: Path) -> None:
    code, out, err = run(
        dd, "ec2", "create-flow-logs", "--resource-ids", f'["{VPC}", "vpc-0000000000000000f"]',
        "--resource-type", "VPC", "--traffic-type", "REJECT", "--log-destination-type", "s3",
        "--log-destination", "arn:aws:s3:::vpcflow-demo-logs",
        "--destination-options", '{"FileFormat": "plain-text", "PerHourPartition": false}',
        "--tag-specifications", '[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "a", "Value": "b"}]}]',
    )  # fmt: skip
    assert code == 0, err
    assert len(out["FlowLogIds"]) == 1
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcID.NotFound"
    code, desc, _ = run(dd, "ec2", "describe-flow-logs", "--filter", '{"Name": "traffic-type", "Values": ["REJECT"]}')
    assert [f["FlowLogId"] for f in desc["FlowLogs"]] == out["FlowLogIds"]


def test_api_error_prints_like_aws_cli(dd: Path) -> None:
    code, out, err = run(
        dd, "ec2", "create-flow-logs", "--resource-ids", VPC, "--resource-type", "VPC", "--traffic-type", "ALL",
        "--log-group-name", "g", "--log-destination", "arn:aws:logs:us-east-1:123456789012:log-group:g",
    )  # fmt: skip
    assert code == 254 and out is None
    assert err.strip() == (
        "An error occurred (InvalidParameter) when calling the CreateFlowLogs operation: "
        "Please only provide LogGroupName or only provide LogDestination."
    )


def test_seed_scenario_end_to_end(tmp_path: Path) -> None:
    dd = tmp_path / "dd"
    # the delivery role does not trust the flow-logs service (it trusts EC2)
    doc = yaml.safe_load(EXAMPLE.read_text())
    role = next(r for r in doc["iam"]["roles"] if r["name"] == "flow-logs-delivery")
    fixed_trust = role["trust_policy"]
    role["trust_policy"] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(doc))
    assert run(dd, "topology", "load", str(broken))[0] == 0
    create = (
        "ec2", "create-flow-logs", "--resource-ids", VPC, "--resource-type", "VPC", "--traffic-type", "ALL",
        "--log-group-name", "/vpcflow/demo", "--deliver-logs-permission-arn", ROLE,
    )  # fmt: skip

    # 1. bob has ec2:CreateFlowLogs but not iam:PassRole: refused
    code, out, err = run(dd, *create, principal=BOB)
    assert code == 254
    assert err.strip().startswith(
        "An error occurred (UnauthorizedOperation) when calling the CreateFlowLogs operation: "
        "You are not authorized to perform this operation. Encoded authorization failure message: "
    )
    assert run(dd, "ec2", "describe-flow-logs")[1] == {"FlowLogs": []}

    # 2. alice may pass the role: created; the status is SUCCESS until delivery checks
    code, out, err = run(dd, *create, principal=ALICE)
    assert code == 0, err
    (fl_id,) = out["FlowLogIds"]
    (fl,) = run(dd, "ec2", "describe-flow-logs")[1]["FlowLogs"]
    assert fl["DeliverLogsStatus"] == "SUCCESS"

    # 3. a delivery-status check: FAILED / Access error
    code, out, err = run(dd, "ec2", "check-delivery")
    assert code == 0, err
    assert out["FlowLogs"][0]["DeliverLogsStatus"] == "FAILED"
    (fl,) = run(dd, "ec2", "describe-flow-logs", "--flow-log-ids", fl_id)[1]["FlowLogs"]
    assert (fl["DeliverLogsStatus"], fl["DeliverLogsErrorMessage"]) == ("FAILED", "Access error")
    code, failed, _ = run(dd, "ec2", "describe-flow-logs", "--filter", "Name=deliver-log-status,Values=FAILED")
    assert [f["FlowLogId"] for f in failed["FlowLogs"]] == [fl_id]

    # 4. fix the trust policy and reload the topology: SUCCESS on the next check
    role["trust_policy"] = fixed_trust
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(yaml.safe_dump(doc))
    assert run(dd, "topology", "load", str(fixed))[0] == 0
    assert run(dd, "ec2", "check-delivery")[1]["FlowLogs"][0]["DeliverLogsStatus"] == "SUCCESS"
    (fl,) = run(dd, "ec2", "describe-flow-logs")[1]["FlowLogs"]
    assert fl["DeliverLogsStatus"] == "SUCCESS" and "DeliverLogsErrorMessage" not in fl


def test_tags_delete_and_modify_refused(dd: Path) -> None:
    code, out, _ = run(
        dd, "ec2", "create-flow-logs", "--resource-ids", ENI, "--resource-type", "NetworkInterface",
        "--traffic-type", "ACCEPT", "--log-destination-type", "s3", "--log-destination", "arn:aws:s3:::vpcflow-demo-logs",
    )  # fmt: skip
    (fl_id,) = out["FlowLogIds"]
    code, out, err = run(dd, "ec2", "create-tags", "--resources", fl_id, "--tags", "Key=a,Value=1", "Key=b,Value=2")
    assert (code, out) == (0, None), err
    assert run(dd, "ec2", "delete-tags", "--resources", fl_id, "--tags", "Key=a")[0] == 0
    (fl,) = run(dd, "ec2", "describe-flow-logs")[1]["FlowLogs"]
    assert fl["Tags"] == [{"Key": "b", "Value": "2"}]
    code, out, err = run(dd, "ec2", "modify-flow-logs", "--flow-log-ids", fl_id, "--traffic-type", "ALL")
    assert code == 254 and "cannot be modified" in err
    code, out, _ = run(dd, "ec2", "delete-flow-logs", "--flow-log-ids", fl_id, "fl-doesnotexist")
    assert code == 0 and [u["ResourceId"] for u in out["Unsuccessful"]] == ["fl-doesnotexist"]
    assert run(dd, "ec2", "describe-flow-logs")[1] == {"FlowLogs": []}


def test_pagination_flags(dd: Path) -> None:
    for i in range(7):
        run(
            dd, "ec2", "create-flow-logs", "--resource-ids", VPC, "--resource-type", "VPC", "--traffic-type", "ALL",
            "--log-destination-type", "s3", "--log-destination", f"arn:aws:s3:::vpcflow-demo-logs/p{i}/",
        )  # fmt: skip
    code, page, _ = run(dd, "ec2", "describe-flow-logs", "--max-results", "5")
    assert len(page["FlowLogs"]) == 5 and page["NextToken"]
    code, page2, _ = run(dd, "ec2", "describe-flow-logs", "--max-results", "5", "--next-token", page["NextToken"])
    assert code == 0
    assert len(page2["FlowLogs"]) == 2 and "NextToken" not in page2
    assert len(run(dd, "ec2", "describe-flow-logs")[1]["FlowLogs"]) == 7  # no --max-results: every page


def test_access_key_principal_and_env(dd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VPCFLOW_PRINCIPAL", "AKIAIOSFODNN7BOB0001")
    code, out, err = run(dd, "ec2", "describe-flow-logs")
    assert (code, out) == (0, {"FlowLogs": []}), err
    monkeypatch.setenv("VPCFLOW_PRINCIPAL", "AKIAIOSFODNN7NOBODY1")
    code, _, err = run(dd, "ec2", "describe-flow-logs")
    assert code == 254 and "(AuthFailure)" in err


def test_real_process_exit_code(dd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vpcflow.cli.main", "ec2", "--data-dir", str(dd), "delete-flow-logs", "--flow-log-ids", ""],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 254
    assert "An error occurred (InvalidParameterValue) when calling the DeleteFlowLogs operation" in proc.stderr


def test_init_command(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["init", "--data-dir", str(tmp_path / "x"), "--account-id", "111122223333"])
    assert res.exit_code == 0 and json.loads(res.stdout)["AccountId"] == "111122223333"


def test_topology_load_errors(dd: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('account_id: "123"\n')
    res = CliRunner().invoke(cli, ["topology", "load", str(bad), "--data-dir", str(tmp_path / "x")])
    assert res.exit_code != 0
    # another account's topology into an account that holds flow logs is refused
    run(
        dd, "ec2", "create-flow-logs", "--resource-ids", VPC, "--resource-type", "VPC", "--traffic-type", "ALL",
        "--log-destination-type", "s3", "--log-destination", "arn:aws:s3:::vpcflow-demo-logs",
    )  # fmt: skip
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE.read_text().replace("123456789012", "111122223333"))
    proc = subprocess.run(
        [sys.executable, "-m", "vpcflow.cli.main", "topology", "load", str(other), "--data-dir", str(dd)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "111122223333" in proc.stderr and "123456789012" in proc.stderr
    assert len(run(dd, "ec2", "describe-flow-logs")[1]["FlowLogs"]) == 1  # nothing lost


def test_topology_load_adopts_account_of_fresh_data_dir(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE.read_text().replace("123456789012", "111122223333"))
    code, out, err = run(tmp_path / "dd", "topology", "load", str(other))
    assert code == 0, err
    assert out["AccountId"] == "111122223333"
    code, out, err = run(
        tmp_path / "dd", "ec2", "create-flow-logs", "--resource-ids", VPC, "--resource-type", "VPC",
        "--traffic-type", "ALL", "--log-destination-type", "s3", "--log-destination", "arn:aws:s3:::vpcflow-demo-logs",
    )  # fmt: skip
    assert code == 0, err
    assert out["FlowLogIds"] and out["Unsuccessful"] == []
