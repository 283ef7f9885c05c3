"""Every CloudWatch Logs Insights query of spec 8.2, run through the endpoint (real boto3 client), the
``vpcflow logs`` CLI and ``runtime.insights.run_insights_query``, each compared with a hand-written
DuckDB SQL over the same events (records read back with the project's log-store reader)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from api_helpers import ACCT, ALICE, CAROL, GROUP, REGION, ROOT, VPC, Endpoint, cwl_params, endpoint_fixture
from botocore.exceptions import ClientError
from click.testing import CliRunner

from vpcflow.cli.main import cli
from vpcflow.query.readers import read_all, read_log_store
from vpcflow.runtime.insights import run_insights_query
from vpcflow.storage.logstore import LogStore

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
START, END = T0 - 60, T0 + 4 * 3600
# near misses of 192.0.2.0/24 on both sides keep the subnet test honest
SOURCES = [f"192.0.2.{i}" for i in (5, 17, 33, 200)] + ["198.51.100.7", "203.0.113.9", "192.0.3.4", "192.0.1.250"]


def _lines() -> list[tuple[int, str, str]]:
    """(event timestamp ms, stream, message): 3 hours of flows on two ENIs, SKIPDATA/NODATA among them."""
    out = []
    for i in range(240):
        eni = ("eni-0a1b2c3d4e5f6071b", "eni-0f0e0d0c0b0a09080")[i % 2]
        start = T0 + i * 45
        if i % 37 == 5:
            msg = f"2 {ACCT} {eni} - - - - - - - {start} {start + 59} - SKIPDATA"
        elif i % 53 == 7:
            msg = f"2 {ACCT} {eni} - - - - - - - {start} {start + 59} - NODATA"
        else:
            src, dst = SOURCES[i % len(SOURCES)], f"10.0.{i % 3}.{10 + i % 5}"
            proto = 17 if i % 4 == 1 else 6
            packets = 3 + (i * i) % 97 + i
            action = "REJECT" if i % 6 == 0 else "ACCEPT"
            msg = (f"2 {ACCT} {eni} {src} {dst} {40000 + i} {(53, 443, 22)[i % 3]} {proto} {packets} "
                   f"{packets * (40 + i % 50)} {start} {start + 59} {action} OK")
        out.append((start * 1000, f"{eni}-all", msg))
    out.append(((END + 10) * 1000, "eni-0a1b2c3d4e5f6071b-all",  # after the query's range: never counted
                f"2 {ACCT} eni-0a1b2c3d4e5f6071b 192.0.2.5 10.0.0.10 1 53 17 999999 1 {END + 10} {END + 70} ACCEPT OK"))
    return out


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Any:
    for endpoint in endpoint_fixture(tmp_path_factory):
        with LogStore(endpoint.data_dir / "logs.db", account_id=ACCT, region=REGION) as store:
            store.create_log_group(logGroupName=GROUP)
            lines = _lines()
            for stream in sorted({s for _t, s, _m in lines}):
                store.create_log_stream(logGroupName=GROUP, logStreamName=stream)
                mine = [(t, m) for t, s, m in lines if s == stream]
                store.put_events(GROUP, stream, np.array([t for t, _ in mine], dtype=np.int64),
                                 pa.array([m for _, m in mine]), enforce_age=False)
        yield endpoint


# ---------------------------------------------------------------------------------------- spec 8.2
SPEC_82 = [
    ("stats sum(packets) as packetsTransferred by srcAddr, dstAddr | sort packetsTransferred desc | limit 15",
     # ties: vpcflow orders equal sums by the group keys (docs/insights.md)
     "SELECT srcaddr AS srcAddr, dstaddr AS dstAddr, sum(packets) AS packetsTransferred FROM records "
     "GROUP BY srcaddr, dstaddr ORDER BY packetsTransferred DESC NULLS LAST, srcaddr, dstaddr LIMIT 15", True),
    ('filter isIpv4InSubnet(srcAddr, "192.0.2.0/24") | stats sum(bytes) as bytesTransferred by dstAddr '
     "| sort bytesTransferred desc | limit 15",
     "SELECT dstaddr AS dstAddr, sum(bytes) AS bytesTransferred FROM records WHERE srcaddr LIKE '192.0.2.%' "
     "GROUP BY dstaddr ORDER BY bytesTransferred DESC, dstaddr LIMIT 15", True),
    ("filter protocol=17 | stats count(*) by srcAddr",
     'SELECT srcaddr AS srcAddr, count(*) AS "count(*)" FROM records WHERE protocol = 17 GROUP BY srcaddr', False),
    ('filter logStatus="SKIPDATA" | stats count(*) by bin(1h) as t | sort t',
     "SELECT strftime(time_bucket(INTERVAL 1 HOUR, make_timestamp(start * 1000000)), '%Y-%m-%d %H:%M:%S.000') AS t,"
     " count(*) AS \"count(*)\" FROM records WHERE log_status = 'SKIPDATA' GROUP BY 1 ORDER BY 1", True),
]


def _expected(data_dir: Path, sql: str) -> list[dict[str, str]]:
    """The hand-written SQL over the records of the events in [START, END] (event timestamp = start)."""
    with LogStore(data_dir / "logs.db", account_id=ACCT, region=REGION) as store:
        records = read_all(read_log_store(store, GROUP))
    assert records is not None
    con = duckdb.connect()
    con.register("all_records", records)
    con.execute(f"CREATE VIEW records AS SELECT * FROM all_records WHERE start BETWEEN {START} AND {END}")
    rel = con.sql(sql)
    return [{k: str(v) for k, v in zip(rel.columns, row, strict=True) if v is not None} for row in rel.fetchall()]


def _rows(results: list[list[dict[str, str]]]) -> list[dict[str, str]]:
    return [{f["field"]: f["value"] for f in row if f["field"] != "@ptr"} for row in results]


def _same(got: list[dict[str, str]], want: list[dict[str, str]], ordered: bool) -> None:
    assert want, "the SQL side found nothing: the data does not exercise the query"
    if ordered:
        assert got == want
    else:
        key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
        assert sorted(got, key=key) == sorted(want, key=key)


@pytest.mark.parametrize(("query", "sql", "ordered"), SPEC_82, ids=[f"spec8.2-{i + 1}" for i in range(4)])
def test_spec_82_query_on_the_endpoint(ep: Endpoint, query: str, sql: str, ordered: bool) -> None:
    logs = ep.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=START, endTime=END, queryString=query)["queryId"]
    answer = logs.get_query_results(queryId=qid)
    assert answer["status"] == "Complete"
    _same(_rows(answer["results"]), _expected(ep.data_dir, sql), ordered)
    stats = answer["statistics"]
    assert stats["recordsScanned"] == 240.0  # the event after END is outside the range
    assert 0 < stats["recordsMatched"] <= 240.0 and stats["bytesScanned"] > 0


@pytest.mark.parametrize(("query", "sql", "ordered"), SPEC_82, ids=[f"spec8.2-{i + 1}" for i in range(4)])
def test_spec_82_query_through_the_cli(ep: Endpoint, query: str, sql: str, ordered: bool) -> None:
    base = ["logs", "--data-dir", str(ep.data_dir)]
    started = CliRunner().invoke(cli, [*base, "start-query", "--log-group-name", GROUP, "--start-time", str(START),
                                       "--end-time", str(END), "--query-string", query])
    assert started.exit_code == 0, started.output
    qid = json.loads(started.stdout)["queryId"]
    got = CliRunner().invoke(cli, [*base, "get-query-results", "--query-id", qid])
    assert got.exit_code == 0, got.output
    body = json.loads(got.stdout)
    assert body["status"] == "Complete"
    _same(_rows(body["results"]), _expected(ep.data_dir, sql), ordered)


def _cell(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.") + f"{v.microsecond // 1000:03d}"
    return str(v)


@pytest.mark.parametrize(("query", "sql", "ordered"), SPEC_82, ids=[f"spec8.2-{i + 1}" for i in range(4)])
def test_spec_82_query_from_python(ep: Endpoint, query: str, sql: str, ordered: bool) -> None:
    table = run_insights_query(ep.data_dir, GROUP, query, START, END)
    got = [{k: _cell(v) for k, v in row.items() if v is not None} for row in table.to_pylist()]
    _same(got, _expected(ep.data_dir, sql), ordered)


# ---------------------------------------------------------------------------------------- API behaviour
def test_results_survive_the_process_that_ran_the_query(ep: Endpoint) -> None:
    logs = ep.client("logs")
    qid = logs.start_query(logGroupNames=[GROUP], startTime=START, endTime=END,
                           queryString="fields @timestamp, srcAddr, action | filter action = 'REJECT' | limit 5")[
        "queryId"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "logs", "--data-dir", str(ep.data_dir),
                          "get-query-results", "--query-id", qid], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    rows = body["results"]
    assert len(rows) == 5
    assert all([f["field"] for f in row] == ["@timestamp", "srcAddr", "action", "@ptr"] for row in rows)
    stamps = [row[0]["value"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)  # no sort given: newest first
    listed = logs.describe_queries(logGroupName=GROUP)["queries"]
    assert listed[0]["queryId"] == qid and listed[0]["status"] == "Complete"


def test_malformed_query_is_aws_error_with_position(ep: Endpoint) -> None:
    logs = ep.client("logs")
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName=GROUP, startTime=START, endTime=END, queryString="fields srcAddr | fitler x")
    err = e.value.response["Error"]
    assert err["Code"] == "MalformedQueryException"
    assert "line 1 and position 18" in err["Message"]
    assert e.value.response["queryCompileError"]["location"] == {"startCharOffset": 17, "endCharOffset": 23}


def test_stop_query_and_missing_things(ep: Endpoint) -> None:
    logs = ep.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=START, endTime=END, queryString="stats count(*)")["queryId"]
    with pytest.raises(ClientError) as e:
        logs.stop_query(queryId=qid)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName="/no/such/group", startTime=START, endTime=END, queryString="stats count(*)")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName=GROUP, startTime=START, endTime=END, queryLanguage="SQL",
                         queryString="SELECT count(*) FROM x")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName=GROUP, logGroupNames=[GROUP], startTime=START, endTime=END,
                         queryString="stats count(*)")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_start_query_needs_logs_start_query_permission(ep: Endpoint) -> None:
    carol = ep.client("logs", CAROL)  # may read events of GROUP, but not run Insights queries
    with pytest.raises(ClientError) as e:
        carol.start_query(logGroupName=GROUP, startTime=START, endTime=END, queryString="stats count(*)")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "logs:StartQuery" in e.value.response["Error"]["Message"]


def _aws_cli() -> list[str]:
    try:
        import awscli  # noqa: F401

        return [sys.executable, "-m", "awscli"]
    except ImportError:
        import shutil

        found = shutil.which("aws")
        if found is None:
            pytest.skip("the AWS CLI is not installed (pip install awscli)")
        return [found]


def test_aws_cli_runs_insights_and_prints_what_vpcflow_prints(ep: Endpoint) -> None:
    query, sql, _ordered = SPEC_82[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ROOT[0], AWS_SECRET_ACCESS_KEY=ROOT[1], AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1")
    aws = [*_aws_cli(), "logs", "--endpoint-url", ep.url, "--output", "json"]

    def run(*args: str) -> dict[str, Any]:
        out = subprocess.run([*aws, *args], capture_output=True, text=True, env=env, timeout=120, check=False)
        assert out.returncode == 0, out.stderr
        body: dict[str, Any] = json.loads(out.stdout)
        return body

    qid = run("start-query", "--log-group-name", GROUP, "--start-time", str(START), "--end-time", str(END),
              "--query-string", query)["queryId"]
    theirs = run("get-query-results", "--query-id", qid)
    assert theirs["status"] == "Complete"
    _same(_rows(theirs["results"]), _expected(ep.data_dir, sql), False)
    ours = CliRunner().invoke(cli, ["logs", "--data-dir", str(ep.data_dir), "get-query-results", "--query-id", qid])
    assert json.loads(ours.stdout) == theirs  # same JSON document, key for key


CUSTOM_GROUP = "/vpcflow/custom-format"
CUSTOM = "${version} ${vpc-id} ${interface-id} ${srcaddr} ${dstaddr} ${tcp-flags} ${flow-direction} ${action}"


def test_custom_format_fields_are_discovered_from_the_flow_log(ep: Endpoint) -> None:
    ep.client("ec2", ALICE).create_flow_logs(**cwl_params(LogGroupName=CUSTOM_GROUP, LogFormat=CUSTOM))
    lines = [f"5 {VPC} eni-0a1b2c3d4e5f6071b 10.0.0.{i % 4} 172.31.0.10 {(2, 18, 1)[i % 3]} "
             f"{('ingress', 'egress')[i % 2]} {('ACCEPT', 'REJECT')[i % 5 == 0]}" for i in range(30)]
    with LogStore(ep.data_dir / "logs.db", account_id=ACCT, region=REGION) as store:
        store.create_log_group(logGroupName=CUSTOM_GROUP)
        store.create_log_stream(logGroupName=CUSTOM_GROUP, logStreamName="eni-0a1b2c3d4e5f6071b-all")
        store.put_events(CUSTOM_GROUP, "eni-0a1b2c3d4e5f6071b-all", np.arange(30, dtype=np.int64) * 1000 + T0 * 1000,
                         pa.array(lines), enforce_age=False)
        records = read_all(read_log_store(store, CUSTOM_GROUP, log_format=CUSTOM))
    query = ('filter flowDirection = "ingress" and tcpFlags = 2 | stats count(*) as syns by srcAddr, vpcId '
             "| sort syns desc, srcAddr")
    logs = ep.client("logs")
    qid = logs.start_query(logGroupIdentifiers=[f"arn:aws:logs:{REGION}:{ACCT}:log-group:{CUSTOM_GROUP}"],
                           startTime=T0, endTime=T0 + 60, queryString=query)["queryId"]
    got = _rows(logs.get_query_results(queryId=qid)["results"])
    con = duckdb.connect()
    con.register("records", records)
    rel = con.sql("SELECT srcaddr AS srcAddr, vpc_id AS vpcId, count(*) AS syns FROM records "
                  "WHERE flow_direction = 'ingress' AND tcp_flags = 2 GROUP BY 1, 2 ORDER BY 3 DESC, 1")
    want = [{k: str(v) for k, v in zip(rel.columns, row, strict=True)} for row in rel.fetchall()]
    assert want and got == want


def test_get_query_results_pages(ep: Endpoint) -> None:
    logs = ep.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=START, endTime=END, queryString="fields srcAddr")["queryId"]
    sizes, token, seen = [], None, []
    while True:
        page = logs.get_query_results(queryId=qid, maxItems=100, **({"nextToken": token} if token else {}))
        sizes.append(len(page["results"]))
        seen += [f["value"] for row in page["results"] for f in row if f["field"] == "@ptr"]
        token = page.get("nextToken")
        if not token:
            break
    assert sizes == [100, 100, 40] and len(set(seen)) == 240
    # The CLI merges the pages, as the AWS CLI does for paginated commands.
    out = CliRunner().invoke(cli, ["logs", "--data-dir", str(ep.data_dir), "get-query-results", "--query-id", qid])
    assert len(json.loads(out.stdout)["results"]) == 240


def test_cli_prints_aws_errors(ep: Endpoint) -> None:
    base = ["logs", "--data-dir", str(ep.data_dir), "start-query", "--log-group-name", GROUP]
    bad = CliRunner().invoke(cli, [*base, "--start-time", str(START), "--end-time", str(END),
                                   "--query-string", "stats count(*) by"])
    assert bad.exit_code == 254
    assert ("An error occurred (MalformedQueryException) when calling the StartQuery operation: "
            "expected a value, found the end of the query at line 1 and position 18") in bad.output
    backwards = CliRunner().invoke(cli, [*base, "--start-time", str(END), "--end-time", str(START),
                                         "--query-string", "stats count(*)"])
    assert backwards.exit_code == 254 and "InvalidParameterException" in backwards.output
    listed = CliRunner().invoke(cli, ["logs", "--data-dir", str(ep.data_dir), "describe-queries", "--log-group-name",
                                      GROUP, "--status", "Complete", "--max-results", "2"])
    body = json.loads(listed.stdout)
    assert len(body["queries"]) == 2 and "nextToken" in body
    assert all(q["logGroupName"] == GROUP and q["status"] == "Complete" for q in body["queries"])
    assert body["queries"][0]["createTime"] >= body["queries"][1]["createTime"]
