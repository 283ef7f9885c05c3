"""``--output json|text|table|yaml`` and ``--query`` on ``vpcflow ec2`` / ``vpcflow logs`` (issue 11, item 3).

The renderers are checked against the AWS CLI v1's own formatters (the ``awscli`` package, a dev
dependency) on arbitrary JSON-shaped responses; the commands are checked through click. The comparison
with the real ``aws`` command against ``vpcflow serve`` is tests/api/test_api_cli_output.py.
"""

from __future__ import annotations

import io
import json
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vpcflow.cli._aws_render import render, render_table
from vpcflow.cli.main import cli

KEYS = st.sampled_from(["FlowLogId", "Name", "Values", "Tags", "a", "Key", "Value", "日本", "x" * 30])
SCALARS = st.one_of(st.text(alphabet="abcXYZ-_:/ 0é漢", max_size=12), st.integers(-5, 10**12), st.booleans(),
                    st.none())


def _json_values(depth: int = 3) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
        max_leaves=depth * 6,
    )


def _awscli_text(data: Any) -> str:
    from awscli import text

    out = io.StringIO()
    text.format_text(data, out)
    return out.getvalue()


def _awscli_table(data: Any, title: str) -> str:
    from awscli.formatter import TableFormatter

    out = io.StringIO()
    TableFormatter(Namespace(color="off", query=None))(title, data, out)
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(_json_values())
def test_text_output_is_the_aws_clis(data: Any) -> None:
    try:
        expected = _awscli_text(data)
    except Exception:  # shapes the AWS CLI itself cannot print are not a contract
        assume(False)
    assert render(data, "text", title="Op") == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(_json_values())
def test_table_output_is_the_aws_clis(data: Any) -> None:
    try:
        expected = _awscli_table(data, "DescribeFlowLogs")
    except Exception:
        assume(False)
    assert render_table(data, "DescribeFlowLogs", 80) == expected


def test_wide_tables_turn_single_rows_into_key_value_pairs_like_the_aws_cli() -> None:
    wide = {"FlowLogs": [{"FlowLogId": "fl-0123456789abcdef0", "LogDestination": "arn:aws:s3:::" + "b" * 40,
                          "ResourceId": "vpc-0a1b2c3d4e5f60718", "TrafficType": "ALL"}]}
    mine = render_table(wide, "DescribeFlowLogs", 80)
    assert mine == _awscli_table(wide, "DescribeFlowLogs")
    assert "|  FlowLogId" in mine and max(len(line) for line in mine.splitlines()) < 100


def test_yaml_is_block_style_sorted_and_round_trips() -> None:
    data = {"FlowLogs": [{"ResourceId": "vpc-1", "CreationTime": "2026-01-01T00:00:00+00:00", "Tags": []}]}
    out = render(data, "yaml", title="Op")
    assert out.splitlines()[:3] == ["FlowLogs:", "- CreationTime: '2026-01-01T00:00:00+00:00'", "  ResourceId: vpc-1"]
    assert yaml.safe_load(out) == data
    assert render({}, "yaml", title="Op") == "" and render({}, "json", title="Op") == ""


# -- the commands ---------------------------------------------------------------------------------


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    dd = tmp_path / "data"
    topo = tmp_path / "topology.yaml"
    topo.write_text(
        "account_id: '123456789012'\nregion: us-east-1\n"
        "vpcs:\n  - name: main\n    id: vpc-0a1b2c3d4e5f60718\n    cidr_block: 10.0.0.0/16\n"
        "    subnets:\n      - {name: a, id: subnet-0a1b2c3d4e5f60719, cidr_block: 10.0.1.0/24, "
        "availability_zone: us-east-1a}\n"
        "s3_buckets:\n  - name: out-bucket\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["topology", "load", str(topo), "--data-dir", str(dd)])
    assert r.exit_code == 0, r.output
    for resource, kind in (("vpc-0a1b2c3d4e5f60718", "VPC"), ("subnet-0a1b2c3d4e5f60719", "Subnet")):
        r = CliRunner().invoke(cli, ["ec2", "create-flow-logs", "--data-dir", str(dd), "--resource-ids", resource,
                                     "--resource-type", kind, "--traffic-type", "ALL", "--log-destination-type", "s3",
                                     "--log-destination", "arn:aws:s3:::out-bucket/p/",
                                     "--tag-specifications", "ResourceType=vpc-flow-log,Tags=[{Key=team,Value=net}]"])
        assert r.exit_code == 0, r.output
    return dd


def _run(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, [args[0], "--data-dir", str(data_dir), *args[1:]], env=env)


def test_describe_flow_logs_table_of_ids_is_the_aws_clis(data_dir: Path) -> None:
    r = _run(data_dir, "ec2", "describe-flow-logs", "--output", "table", "--query", "FlowLogs[].FlowLogId")
    assert r.exit_code == 0, r.output
    ids = json.loads(_run(data_dir, "ec2", "describe-flow-logs", "--query", "FlowLogs[].FlowLogId").output)
    assert len(ids) == 2
    assert r.output == _awscli_table(ids, "DescribeFlowLogs")
    assert r.output.splitlines()[1] == "|" + "DescribeFlowLogs".center(len(r.output.splitlines()[0]) - 2)[:-1] + " |"


def test_text_output_and_query_on_ec2_and_logs(data_dir: Path) -> None:
    r = _run(data_dir, "ec2", "describe-flow-logs", "--output", "text", "--query", "FlowLogs[].[ResourceId,TrafficType]")
    assert r.exit_code == 0, r.output
    assert sorted(r.output.splitlines()) == ["subnet-0a1b2c3d4e5f60719\tALL", "vpc-0a1b2c3d4e5f60718\tALL"]
    r = _run(data_dir, "ec2", "describe-flow-logs", "--output", "text")
    assert [line.split("\t")[0] for line in r.output.splitlines()].count("TAGS") == 2
    assert _run(data_dir, "logs", "create-log-group", "--log-group-name", "g1").exit_code == 0
    r = _run(data_dir, "logs", "describe-log-groups", "--query", "logGroups[0].logGroupName", "--output", "text")
    assert r.exit_code == 0 and r.output == "g1\n"


def test_group_level_flags_and_environment_default(data_dir: Path) -> None:
    r = CliRunner().invoke(cli, ["ec2", "--output", "yaml", "describe-flow-logs", "--data-dir", str(data_dir)])
    assert r.exit_code == 0 and r.output.startswith("FlowLogs:\n- CreationTime: '")
    r = _run(data_dir, "ec2", "describe-flow-logs", "--query", "length(FlowLogs)", env={"AWS_DEFAULT_OUTPUT": "text"})
    assert r.output == "2\n"
    r = _run(data_dir, "ec2", "describe-flow-logs", "--query", "FlowLogs[].TrafficType", "--output", "json",
             env={"AWS_DEFAULT_OUTPUT": "text"})
    assert json.loads(r.output) == ["ALL", "ALL"]


def test_bad_query_and_bad_output_are_one_line_errors(data_dir: Path) -> None:
    from vpcflow.cli.main import main

    for args, env, needle in (
        (["--query", "FlowLogs[?"], {}, "--query"),
        (["--output", "xml"], {}, "--output"),
        ([], {"AWS_DEFAULT_OUTPUT": "xml"}, "$AWS_DEFAULT_OUTPUT"),
    ):
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            err = io.StringIO()
            mp.setattr("sys.stderr", err)
            with pytest.raises(SystemExit) as e:
                main(["ec2", "describe-flow-logs", "--data-dir", str(data_dir), *args])
            assert e.value.code == 2
            lines = [line for line in err.getvalue().splitlines() if line.strip()]
            assert any(needle in line for line in lines), err.getvalue()
            assert "Traceback" not in err.getvalue()


def test_shell_completion_offers_commands_and_output_styles() -> None:
    """README's completion recipe: click completes subcommands and ``--output`` choices."""
    env = {"_VPCFLOW_COMPLETE": "bash_complete", "COMP_WORDS": "vpcflow ec2 describe-flow-logs --output ",
           "COMP_CWORD": "4"}
    r = CliRunner().invoke(cli, [], env=env, prog_name="vpcflow")
    assert r.output.split() == ["plain,json", "plain,text", "plain,table", "plain,yaml"]
    env.update(COMP_WORDS="vpcflow ec2 desc", COMP_CWORD="2")
    assert CliRunner().invoke(cli, [], env=env, prog_name="vpcflow").output.split() == ["plain,describe-flow-logs"]


def test_a_query_that_fails_on_the_data_is_a_one_line_error(data_dir: Path) -> None:
    from vpcflow.cli.main import main

    for output in ("json", "text"):
        with pytest.MonkeyPatch.context() as mp:
            err = io.StringIO()
            mp.setattr("sys.stderr", err)
            with pytest.raises(SystemExit) as e:
                main(["ec2", "describe-flow-logs", "--data-dir", str(data_dir), "--output", output,
                      "--query", "length(FlowLogs[0].MaxAggregationInterval)"])
            assert e.value.code == 2
            assert err.getvalue().count("\n") == 1 and "In function length()" in err.getvalue(), err.getvalue()


def test_a_bad_default_output_stops_a_create_before_it_runs(data_dir: Path) -> None:
    r = _run(data_dir, "ec2", "create-flow-logs", "--resource-ids", "vpc-0a1b2c3d4e5f60718", "--resource-type", "VPC",
             "--traffic-type", "REJECT", "--log-destination-type", "s3",
             "--log-destination", "arn:aws:s3:::out-bucket/other/", env={"AWS_DEFAULT_OUTPUT": "xml"})
    assert r.exit_code == 2 and "$AWS_DEFAULT_OUTPUT" in r.output
    assert _run(data_dir, "ec2", "describe-flow-logs", "--query", "length(FlowLogs)").output == "2\n"
