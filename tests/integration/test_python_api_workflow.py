"""The public Python API end to end (issue 11, item 5), using only the names ``vpcflow`` exports:
a topology and a scenario as dicts (no file written by the test), flow logs created through the
boto3-shaped client, a run, records as Arrow and pandas, SQL, and the same for a capture."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import vpcflow
from vpcflow import ConfigError, Workspace, run_config_from_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VPC = "vpc-0a1b2c3d4e5f60718"
WEB_ENI = "eni-0a1b2c3d4e5f6071b"

SCENARIO: dict[str, Any] = {
    "start": "2026-11-26T12:00:00Z",
    "duration": "3m",
    "seed": 11,
    "workloads": [
        {"name": "https", "kind": "tcp", "from": "internet", "to": "web", "port": 443, "rate": 2},
        {"name": "ssh-guess", "kind": "bruteforce", "from": "internet", "to": "web", "port": 22, "rate": 1},
    ],
}


def _topology() -> dict[str, Any]:
    # A notebook would build this dict in code; the test reads the example so it stays valid.
    loaded: dict[str, Any] = json.loads((EXAMPLES / "topology" / "small.json").read_text(encoding="utf-8"))
    return loaded


def test_every_public_name_resolves_and_import_stays_lazy() -> None:
    assert set(vpcflow.__all__) == {"__version__", *vpcflow._PUBLIC}
    for name in vpcflow.__all__:
        assert getattr(vpcflow, name) is not None
    with pytest.raises(AttributeError):
        vpcflow.no_such_name  # noqa: B018


def test_import_vpcflow_does_not_load_the_engine() -> None:
    import subprocess

    code = "import sys, vpcflow; print(sorted(m for m in sys.modules if m.startswith(('vpcflow.', 'vpcflow._native', 'duckdb'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_scenario_workflow_from_dicts() -> None:
    with Workspace() as ws:
        topo = ws.load_topology(_topology())
        assert topo.account_id == "123456789012"
        created = ws.create_flow_logs(ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL",
                                      LogDestinationType="s3", LogDestination="arn:aws:s3:::vpcflow-small-logs/demo/")
        assert created["Unsuccessful"] == [], created
        (fl_id,) = created["FlowLogIds"]
        assert [f["FlowLogId"] for f in ws.describe_flow_logs()] == [fl_id]
        assert ws.client.describe_flow_logs(FlowLogIds=[fl_id])["FlowLogs"][0]["LogDestinationType"] == "s3"

        result = ws.run_scenario(SCENARIO, seed=5)
        assert result.stats.records > 0

        table = ws.records(fl_id)
        assert table.num_rows == result.stats.flow_logs[fl_id].records
        assert {"srcaddr", "dstport", "action", "flow_log_id"} <= set(table.column_names)
        traffic = {r["interface_id"] for r in table.to_pylist() if r["log_status"] == "OK"}
        assert traffic == {WEB_ENI}  # the other ENIs of the VPC only have NODATA records
        by_port = {r["dstport"]: r for r in ws.sql(
            "SELECT dstport, count(*) AS n, count(*) FILTER (WHERE action = 'REJECT') AS rejected "
            "FROM vpc_flow_logs WHERE log_status = 'OK' GROUP BY dstport").to_pylist()}
        assert by_port[22]["rejected"] == by_port[22]["n"] > 0  # web-sg has no SSH rule
        assert by_port[443]["rejected"] == 0

        frame = ws.records_df(fl_id)
        assert len(frame) == table.num_rows and list(frame.columns) == table.column_names


def test_a_capture_and_a_run_config_dict(tmp_path: Path) -> None:
    """run_capture on the bastion capture of the examples, then the same through a run-config dict."""
    capture = EXAMPLES / "run" / "captures" / "bastion.pcap"
    topology = vpcflow.load_topology(EXAMPLES / "topology" / "three-tier.yaml")  # a Topology object
    bastion = "eni-0d141998882628620"
    with Workspace(tmp_path / "data") as ws:
        ws.load_topology(topology)
        (fl_id,) = ws.create_flow_logs(ResourceIds=[bastion], ResourceType="NetworkInterface", TrafficType="ALL",
                                       LogDestinationType="s3",
                                       LogDestination="arn:aws:s3:::vpcflow-demo-logs")["FlowLogIds"]
        first = ws.run_capture(capture, interface=bastion)
        n = first.stats.flow_logs[fl_id].records
        assert n > 0 and ws.records(fl_id).num_rows == n
    cfg = run_config_from_dict({
        "topology": topology,
        "flow_logs": {"create": [{"ResourceIds": [bastion], "ResourceType": "NetworkInterface", "TrafficType": "ALL",
                                  "LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::vpcflow-demo-logs"}]},
        "sources": [{"capture": capture, "interface": bastion}],
    })
    with Workspace() as other:
        again = other.run(cfg)
        assert again.stats.records == n and other.records().num_rows == n


def test_missing_pandas_and_bad_input_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ConfigError, match="pandas is not installed"):
        vpcflow.to_pandas(pa.table({"a": [1]}))
    with Workspace() as ws:
        with pytest.raises(ConfigError, match="flow-log id"):
            ws.records("x'; DROP TABLE t; --")
        with pytest.raises(ConfigError):
            ws.load_topology({"account_id": "123456789012", "vpcs": [{"name": "v", "cidr_block": "not-a-cidr"}]})


def test_insights_goes_through_the_insights_module_when_present() -> None:
    """``Workspace.insights`` calls ``vpcflow.runtime.insights.run_insights_query`` (the Insights
    branch); it agrees with SQL over the same records. Without that module: a clear ConfigError."""
    try:
        import vpcflow.runtime.insights  # noqa: F401
    except ModuleNotFoundError:
        with Workspace() as ws, pytest.raises(ConfigError, match="Logs Insights is not part"):
            ws.insights("fields @message", "/some/group")
        pytest.skip("vpcflow.runtime.insights is not in this build (the Insights branch adds it)")
    with Workspace() as ws:
        ws.load_topology(_topology())
        (fl_id,) = ws.create_flow_logs(
            ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL", LogGroupName="/vpcflow/small",
            DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/flow-logs-delivery")["FlowLogIds"]
        ws.run_scenario(SCENARIO, seed=5)
        insights = ws.insights("stats count(*) as n by action", "/vpcflow/small")
        got = {r["action"]: int(r["n"]) for r in insights.to_pylist()}
        sql = ws.sql("SELECT action, count(*) AS n FROM vpc_flow_logs GROUP BY action")  # NODATA: action NULL
        assert got == {r["action"]: r["n"] for r in sql.to_pylist()} and got.get("REJECT", 0) > 0
        assert ws.records(fl_id).num_rows > 0


def test_the_guide_example_runs_as_written() -> None:
    """docs/python-api.md's notebook example, executed as written (so the guide cannot rot)."""
    import re

    guide = (Path(__file__).resolve().parents[2] / "docs" / "python-api.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", guide, re.S)
    assert code is not None
    scope: dict[str, Any] = {}
    exec(compile(code.group(1), "docs/python-api.md", "exec"), scope)  # our own documentation
    assert scope["records"].num_rows == scope["result"].stats.records > 0
    assert len(scope["df"]) == scope["records"].num_rows
    assert scope["top"].num_rows >= 1  # the SSH guesses are rejected: their source tops the list
