"""vpcflow's ``--output``/``--query`` print byte for byte what the AWS CLI v1 prints for the same
operation against ``vpcflow serve`` (issue 11, item 3).

Both read one data directory: ``aws ... --endpoint-url`` through the endpoint, ``vpcflow ec2|logs ...``
directly. The AWS CLI v1 prints timestamps as they came over the wire unless ``cli_timestamp_format =
iso8601``; vpcflow prints ISO-8601 (as the AWS CLI v2 does by default), so the AWS CLI here runs with
that setting. Both write to a pipe, so tables are laid out for 80 columns.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from api_helpers import ALICE, GROUP, REGION, ROOT, VPC, Endpoint, cwl_params, endpoint_fixture

pytest.importorskip("awscli")

CASES: list[tuple[str, list[str]]] = [
    ("ids-as-table", ["ec2", "describe-flow-logs", "--output", "table", "--query", "FlowLogs[].FlowLogId"]),
    ("whole-table", ["ec2", "describe-flow-logs", "--output", "table"]),
    ("whole-text", ["ec2", "describe-flow-logs", "--output", "text"]),
    ("whole-json", ["ec2", "describe-flow-logs", "--output", "json"]),
    ("columns-as-text", ["ec2", "describe-flow-logs", "--output", "text",
                         "--query", "FlowLogs[].[FlowLogId,ResourceId,LogDestinationType]"]),
    ("projection-json", ["ec2", "describe-flow-logs", "--output", "json",
                         "--query", "FlowLogs[?TrafficType=='REJECT'].{Id:FlowLogId,Tags:Tags}"]),
    ("one-item-table", ["ec2", "describe-flow-logs", "--filter", f"Name=resource-id,Values={VPC}",
                        "--output", "table", "--query", "FlowLogs[0]"]),
    ("scalar-text", ["ec2", "describe-flow-logs", "--output", "text", "--query", "length(FlowLogs)"]),
    ("unsuccessful-table", ["ec2", "delete-flow-logs", "--flow-log-ids", "fl-00000000000000000", "--output", "table"]),
    ("log-groups-table", ["logs", "describe-log-groups", "--output", "table"]),
    ("log-groups-text", ["logs", "describe-log-groups", "--output", "text"]),
    ("log-group-names", ["logs", "describe-log-groups", "--output", "text", "--query", "logGroups[].logGroupName"]),
]


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Any:
    for served in endpoint_fixture(tmp_path_factory):
        ec2 = served.client("ec2", ALICE)
        ec2.create_flow_logs(**cwl_params(
            TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "team", "Value": "net"}]}]))
        ec2.create_flow_logs(ResourceIds=[VPC], ResourceType="VPC", TrafficType="REJECT", LogDestinationType="s3",
                             LogDestination="arn:aws:s3:::api-test-logs/cli/",
                             DestinationOptions={"FileFormat": "parquet"},
                             TagSpecifications=[{"ResourceType": "vpc-flow-log",
                                                 "Tags": [{"Key": "team", "Value": "sec"}, {"Key": "env", "Value": "é"}]}])
        served.client("logs").create_log_group(logGroupName=GROUP)
        served.client("logs").create_log_group(logGroupName="/vpcflow/second")
        yield served


def _aws(ep: Endpoint, args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    config = tmp / "aws-config"
    config.write_text(f"[default]\nregion = {REGION}\ncli_timestamp_format = iso8601\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ROOT[0], AWS_SECRET_ACCESS_KEY=ROOT[1], AWS_CONFIG_FILE=str(config),
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1")
    return subprocess.run([sys.executable, "-m", "awscli", *args, "--endpoint-url", ep.url],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def _vpcflow(ep: Endpoint, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VPCFLOW_"))}
    env["VPCFLOW_DATA_DIR"] = str(ep.data_dir)
    return subprocess.run([sys.executable, "-m", "vpcflow.cli.main", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.parametrize(("name", "args"), CASES, ids=[c[0] for c in CASES])
def test_vpcflow_prints_what_the_aws_cli_prints(ep: Endpoint, tmp_path: Path, name: str, args: list[str]) -> None:
    theirs = _aws(ep, args, tmp_path)
    mine = _vpcflow(ep, args)
    assert theirs.returncode == 0, theirs.stderr
    assert mine.returncode == 0, mine.stderr
    assert theirs.stdout, name  # every case prints something
    assert mine.stdout == theirs.stdout


def test_text_output_is_rendered_page_by_page_like_the_aws_cli(ep: Endpoint, tmp_path: Path) -> None:
    """The AWS CLI v1 renders ``--output text`` one page at a time, applying ``--query`` to each page
    (DescribeLogGroups pages hold 50 groups); json and table see the merged response."""
    logs = ep.client("logs")
    for i in range(53):
        logs.create_log_group(logGroupName=f"/many/{i:02d}")
    for output, expected in (("text", "50\n3\n"), ("json", "53\n"), ("table", None)):
        args = ["logs", "describe-log-groups", "--log-group-name-prefix", "/many/", "--output", output,
                "--query", "length(logGroups)"]
        theirs, mine = _aws(ep, args, tmp_path), _vpcflow(ep, args)
        assert theirs.returncode == 0 and mine.returncode == 0, (theirs.stderr, mine.stderr)
        assert mine.stdout == theirs.stdout
        if expected is not None:
            assert mine.stdout == expected
    args = ["logs", "describe-log-groups", "--log-group-name-prefix", "/many/", "--output", "text"]
    assert _vpcflow(ep, args).stdout == _aws(ep, args, tmp_path).stdout
