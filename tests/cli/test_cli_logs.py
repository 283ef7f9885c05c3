"""``vpcflow logs``: AWS CLI flags and JSON output over the embedded log store, with IAM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from vpcflow.cli.main import cli
from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.logstore import LogStore

T = 1_418_530_010_000
LINES = [
    "2 123456789010 eni-abc123de 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 eni-abc123de 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530011 1418530070 REJECT OK",
    "2 123456789010 eni-abc123de - - - - - - - 1418530012 1418530070 - NODATA",
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    dd = DataDir.resolve(tmp_path / "data")
    dd.ensure()
    store = LogStore(dd.logs_path)
    store.create_log_group(logGroupName="vpc-flow-logs")
    store.create_log_stream(logGroupName="vpc-flow-logs", logStreamName="eni-abc123de-all")
    store.create_log_stream(logGroupName="vpc-flow-logs", logStreamName="eni-other-all")
    # 2014 events (spec 7 samples): a replay, so the 14-day age rule is off as in the embedded sink.
    store.put_events("vpc-flow-logs", "eni-abc123de-all", np.arange(3, dtype=np.int64) * 1000 + T, pa.array(LINES),
                     enforce_age=False)
    store.close()
    return dd.path


def _logs(data_dir: Path, *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    res = CliRunner().invoke(cli, ["logs", "--data-dir", str(data_dir), *args])
    body = json.loads(res.stdout) if res.exit_code == 0 and res.stdout.strip() else {}
    return res.exit_code, body, res.stderr if hasattr(res, "stderr") else res.output


def test_describe_log_groups_and_streams(data_dir: Path) -> None:
    code, body, _ = _logs(data_dir, "describe-log-groups")
    assert code == 0
    assert [g["logGroupName"] for g in body["logGroups"]] == ["vpc-flow-logs"]
    assert body["logGroups"][0]["arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:vpc-flow-logs:*"
    code, body, _ = _logs(data_dir, "describe-log-streams", "--log-group-name", "vpc-flow-logs",
                          "--order-by", "LastEventTime", "--descending")
    assert code == 0
    assert [s["logStreamName"] for s in body["logStreams"]] == ["eni-abc123de-all", "eni-other-all"]
    code, body, _ = _logs(data_dir, "describe-log-streams", "--log-group-name", "vpc-flow-logs", "--limit", "1")
    assert code == 0 and len(body["logStreams"]) == 1 and "nextToken" in body


def test_get_log_events_tokens(data_dir: Path) -> None:
    code, body, _ = _logs(data_dir, "get-log-events", "--log-group-name", "vpc-flow-logs",
                          "--log-stream-name", "eni-abc123de-all", "--start-from-head", "--limit", "2")
    assert code == 0
    assert [e["message"] for e in body["events"]] == LINES[:2]
    assert set(body) == {"events", "nextForwardToken", "nextBackwardToken"}
    code, nxt, _ = _logs(data_dir, "get-log-events", "--log-group-name", "vpc-flow-logs",
                         "--log-stream-name", "eni-abc123de-all", "--next-token", body["nextForwardToken"])
    assert [e["message"] for e in nxt["events"]] == LINES[2:]
    code, end, _ = _logs(data_dir, "get-log-events", "--log-group-name", "vpc-flow-logs",
                         "--log-stream-name", "eni-abc123de-all", "--next-token", nxt["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == nxt["nextForwardToken"]
    code, win, _ = _logs(data_dir, "get-log-events", "--log-group-name", "vpc-flow-logs", "--log-stream-name",
                         "eni-abc123de-all", "--start-time", str(T + 1000), "--end-time", str(T + 2000))
    assert [e["message"] for e in win["events"]] == LINES[1:2]


def test_filter_log_events_patterns(data_dir: Path) -> None:
    code, body, _ = _logs(data_dir, "filter-log-events", "--log-group-name", "vpc-flow-logs", "--filter-pattern",
                          "[version, accountid, interfaceid, srcaddr, dstaddr, srcport, dstport, protocol, packets, "
                          "bytes, start, end, action = REJECT, logstatus]")
    assert code == 0
    assert [e["message"] for e in body["events"]] == [LINES[1]]
    assert body["events"][0]["logStreamName"] == "eni-abc123de-all" and "eventId" in body["events"][0]
    code, body, _ = _logs(data_dir, "filter-log-events", "--log-group-name", "vpc-flow-logs",
                          "--filter-pattern", "?NODATA ?ACCEPT", "--log-stream-names", "eni-abc123de-all")
    assert [e["message"] for e in body["events"]] == [LINES[0], LINES[2]]
    code, body, _ = _logs(data_dir, "filter-log-events", "--log-group-name", "vpc-flow-logs")
    assert len(body["events"]) == 3 and "nextToken" not in body


def test_errors_are_aws_cli_style(data_dir: Path) -> None:
    res = CliRunner().invoke(cli, ["logs", "--data-dir", str(data_dir), "get-log-events", "--log-group-name", "nope",
                                   "--log-stream-name", "x"])
    assert res.exit_code == 254
    assert "An error occurred (ResourceNotFoundException) when calling the GetLogEvents operation: " \
           "The specified log group does not exist." in res.output
    res = CliRunner().invoke(cli, ["logs", "--data-dir", str(data_dir), "filter-log-events", "--log-group-name",
                                   "vpc-flow-logs", "--filter-pattern", "[a, b"])
    assert res.exit_code == 254 and "InvalidParameterException" in res.output


def test_reading_needs_iam_permission(data_dir: Path, tmp_path: Path) -> None:
    from vpcflow.runtime.client import Ec2Client

    topo = tmp_path / "topology.yaml"
    topo.write_text(
        "account_id: '123456789012'\nregion: us-east-1\n"
        "iam:\n  users:\n"
        "    - name: reader\n      policies:\n        - name: read\n          document:\n"
        "            Version: '2012-10-17'\n            Statement:\n"
        "              - {Effect: Allow, Action: ['logs:GetLogEvents', 'logs:DescribeLogStreams'], Resource: '*'}\n"
        "    - name: nobody\n"
    )
    with Ec2Client(data_dir) as c:
        try:
            c.load_topology(topo)
        except Exception as e:  # the topology loader's schema is the topology engineer's
            pytest.skip(f"cannot load a topology with IAM users here: {e}")
    reader = "arn:aws:iam::123456789012:user/reader"
    nobody = "arn:aws:iam::123456789012:user/nobody"
    res = CliRunner().invoke(cli, ["logs", "--data-dir", str(data_dir), "--principal", reader, "get-log-events",
                                   "--log-group-name", "vpc-flow-logs", "--log-stream-name", "eni-abc123de-all"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["logs", "--data-dir", str(data_dir), "--principal", reader, "filter-log-events",
                                   "--log-group-name", "vpc-flow-logs"])
    assert res.exit_code == 254 and "AccessDeniedException" in res.output and "logs:FilterLogEvents" in res.output
    res = CliRunner().invoke(cli, ["logs", "--data-dir", str(data_dir), "--principal", nobody, "describe-log-groups"])
    assert res.exit_code == 254 and f"User: {nobody} is not authorized to perform: logs:DescribeLogGroups" in res.output


def test_help_lists_subcommands() -> None:
    res = CliRunner().invoke(cli, ["logs", "--help"])
    assert res.exit_code == 0
    for name in ["describe-log-groups", "describe-log-streams", "get-log-events", "filter-log-events"]:
        assert name in res.output


def test_group_management_commands(data_dir: Path) -> None:
    def run(*args: str) -> tuple[int, str]:
        res = CliRunner().invoke(cli, ["logs", "--data-dir", str(data_dir), *args])
        return res.exit_code, res.output

    assert run("create-log-group", "--log-group-name", "new-group") == (0, "")
    code, out = run("create-log-group", "--log-group-name", "new-group")
    assert code == 254 and "ResourceAlreadyExistsException" in out
    assert run("put-retention-policy", "--log-group-name", "new-group", "--retention-in-days", "7")[0] == 0
    code, body, _ = _logs(data_dir, "describe-log-groups", "--log-group-name-prefix", "new")
    assert body["logGroups"][0]["retentionInDays"] == 7
    code, out = run("put-retention-policy", "--log-group-name", "new-group", "--retention-in-days", "2")
    assert code == 254 and "InvalidParameterException" in out
    assert run("delete-retention-policy", "--log-group-name", "new-group")[0] == 0
    code, body, _ = _logs(data_dir, "describe-log-groups", "--log-group-name-prefix", "new")
    assert "retentionInDays" not in body["logGroups"][0]
    assert run("delete-log-group", "--log-group-name", "new-group") == (0, "")
    code, out = run("delete-log-group", "--log-group-name", "new-group")
    assert code == 254 and "ResourceNotFoundException" in out
