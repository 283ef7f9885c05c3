"""`vpcflow demo` from a clean data directory: what it delivered, where, in which format; the attacks
appear as REJECT with the rules that decided them; query, every report and the Athena DDL run on it."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from vpcflow.cli._sources import open_database
from vpcflow.cli.main import cli
from vpcflow.model.fields import DEFAULT_FIELDS, to_column
from vpcflow.query.duck import FlowLogDatabase
from vpcflow.query.reports import ADMIN_PORTS, REPORTS
from vpcflow.query.selection import prepare_flows
from vpcflow.runtime.datadir import DataDir
from vpcflow.runtime.examples import example_path
from vpcflow.storage.logstore import LogStore

BASTION = "eni-0d141998882628620"
ACCOUNT = "123456789012"
NAME = re.compile(rf"^{ACCOUNT}_vpcflowlogs_us-east-1_(fl-[0-9a-f]{{17}})_(\d{{8}}T\d{{4}}Z)_[0-9a-f]{{8}}\.log\.(gz|parquet)$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data = tmp_path_factory.mktemp("demo") / "data"
    r = CliRunner().invoke(cli, ["demo", "--data-dir", str(data), "--quiet"])
    assert r.exit_code == 0, r.output
    with DataDir.resolve(data).state() as st:
        flow_logs = {f.resource_type + ":" + f.resource_id: f for f in st.list_flow_logs()}
    return {"data": data, "output": r.output, "flow_logs": flow_logs}


def _q(data: Path, sql: str) -> list[dict[str, object]]:
    r = CliRunner().invoke(cli, ["query", "--data-dir", str(data), "-o", "json", sql])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)  # type: ignore[no-any-return]


def test_demo_tour_is_printed(demo: dict[str, object]) -> None:
    out = str(demo["output"])
    for text in ("records per flow log", "where the logs are", "brute-force candidates", "port-scan candidates",
                 "rules that rejected", "not captured: amazon_dns"):
        assert text in out, text


def test_vpc_flow_log_is_gzip_text_in_hive_hourly_keys(demo: dict[str, object]) -> None:
    data = Path(str(demo["data"]))
    fl = demo["flow_logs"]["VPC:vpc-097d5b620001373d6"]  # type: ignore[index]
    root = data / "s3" / "vpcflow-demo-logs" / "AWSLogs"
    files = sorted(p for p in root.rglob(f"*_{fl.flow_log_id}_*"))
    assert files
    for p in files:
        rel = p.relative_to(root).as_posix()
        assert re.match(rf"aws-account-id={ACCOUNT}/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/"
                        r"month=11/day=26/hour=1[23]/", rel), rel
        m = NAME.match(p.name)
        assert m and m.group(1) == fl.flow_log_id and m.group(3) == "gz"
        lines = gzip.decompress(p.read_bytes()).decode().splitlines()
        assert lines[0] == " ".join(DEFAULT_FIELDS)
        assert all(len(line.split(" ")) == 14 for line in lines[1:])
        # one file per 5-minute period of record end time (spec 4)
        period = m.group(2)
        ends = {int(line.split(" ")[11]) for line in lines[1:]}
        assert all(e // 300 == min(ends) // 300 for e in ends), period


def test_bastion_flow_log_is_parquet_in_its_v5_format(demo: dict[str, object]) -> None:
    data = Path(str(demo["data"]))
    fl = demo["flow_logs"][f"NetworkInterface:{BASTION}"]  # type: ignore[index]
    files = sorted((data / "s3" / "vpcflow-demo-logs" / "bastion" / "AWSLogs" / ACCOUNT / "vpcflowlogs"
                    / "us-east-1" / "2026" / "11" / "26").glob("*.log.parquet"))
    assert files and all(NAME.match(p.name) for p in files)
    expected = [to_column(n) for n in fl.field_names]
    assert len(expected) == 29
    for p in files:
        table = pq.read_table(p)
        assert table.column_names == expected
        assert set(table.column("version").to_pylist()) == {5}
        assert set(table.column("interface_id").to_pylist()) == {BASTION}


def test_db_subnet_flow_logs_are_reject_only_streams_per_eni(demo: dict[str, object]) -> None:
    data = Path(str(demo["data"]))
    dd = DataDir.resolve(data)
    store = LogStore(dd.logs_path)
    try:
        streams = sorted(store.stream_names("/vpcflow/demo"))
        assert streams and all(re.fullmatch(r"eni-[0-9a-f]{17}-all", s) for s in streams)
        statuses: Counter[tuple[str, str]] = Counter()
        for s in streams:
            events = store.get_log_events(logGroupName="/vpcflow/demo", logStreamName=s, startFromHead=True,
                                          limit=10000)["events"]
            for e in events:
                f = e["message"].split(" ")
                assert len(f) == 14 and e["timestamp"] == int(f[10]) * 1000
                statuses[(f[12], f[13])] += 1
    finally:
        store.close()
    assert statuses[("REJECT", "OK")] > 0 and statuses[("-", "NODATA")] > 0
    assert ("ACCEPT", "OK") not in statuses


def test_brute_force_and_port_scan_are_rejected_with_their_rules(demo: dict[str, object]) -> None:
    data = Path(str(demo["data"]))
    attacks = _q(data, "SELECT srcaddr, dstaddr, dstport, action, count(*) AS n FROM vpc_flow_logs "
                       "WHERE log_status = 'OK' AND flow_direction IS NULL AND "
                       "(srcaddr LIKE '45.155.205.%' OR srcaddr LIKE '185.220.101.%') GROUP BY ALL")
    assert {str(r["srcaddr"])[:7] for r in attacks} == {"45.155.", "185.220"}
    # Everything is rejected but what the network really offers: the load balancer's listeners on 80/443.
    accepted = {(r["dstaddr"], r["dstport"]) for r in attacks if r["action"] == "ACCEPT"}
    assert accepted <= {("10.0.0.10", 80), ("10.0.0.10", 443)}
    assert sum(int(r["n"]) for r in attacks if r["action"] == "REJECT") > 5000  # type: ignore[call-overload]
    r = CliRunner().invoke(cli, ["report", "rejected-flows", "--data-dir", str(data), "--limit", "1000000",
                                 "-o", "json"])
    assert r.exit_code == 0, r.output
    rules = Counter((str(x["srcaddr"])[:7], str(x["rule"]).split(" ")[0]) for x in json.loads(r.output))
    # The brute force (SSH from outside the office) stops at the public NACL; the scan also meets the
    # bastion's and the load balancer's security groups on the ports the NACL lets through.
    assert rules[("45.155.", "acl-023f13920c335ffd3")] > 0
    assert rules[("185.220", "acl-023f13920c335ffd3")] > 0
    assert rules[("185.220", "sg-0c5bcc4c7b59e45e9")] + rules[("185.220", "sg-0ee1dcc13865d9a78")] > 0


def test_query_text_and_parquet_agree(demo: dict[str, object]) -> None:
    """The bastion's traffic is recorded twice: by the VPC flow log (text) and its own (Parquet)."""
    data = Path(str(demo["data"]))
    fls = demo["flow_logs"]
    vpc, eni = fls["VPC:vpc-097d5b620001373d6"], fls[f"NetworkInterface:{BASTION}"]  # type: ignore[index]
    sql = ("SELECT srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, \"end\", action, log_status "
           f"FROM vpc_flow_logs WHERE interface_id = '{BASTION}' AND flow_log_id = '{{}}' ORDER BY ALL")
    text = _q(data, sql.format(vpc.flow_log_id))
    parquet = _q(data, sql.format(eni.flow_log_id))
    assert text and text == parquet


_OK = "log_status = 'OK'"
_ADMIN = ", ".join(str(p) for p in ADMIN_PORTS)
#: What each report's rows add up to, from a plain query of the selected records (``flows``): the
#: column summed over the rows (None: the number of rows) and the SQL that gives the same number.
_TOTALS: dict[str, tuple[tuple[str, ...], str]] = {
    "accepted": ((), "SELECT COUNT(*) FROM flows WHERE action = 'ACCEPT'"),
    "rejected": ((), "SELECT COUNT(*) FROM flows WHERE action = 'REJECT'"),
    "ipv4": ((), f"SELECT COUNT(*) FROM flows WHERE {_OK} AND srcaddr NOT LIKE '%:%'"),
    "ipv6": ((), f"SELECT COUNT(*) FROM flows WHERE {_OK} AND srcaddr LIKE '%:%'"),
    "traffic-from": ((), "SELECT COUNT(*) FROM flows WHERE srcaddr = '10.0.0.20'"),
    "traffic-to": ((), "SELECT COUNT(*) FROM flows WHERE dstaddr = '10.0.0.20'"),
    "rejected-tcp": (("records",), "SELECT COUNT(*) FROM flows WHERE action = 'REJECT' AND protocol = 6"),
    "admin-port": (("records",), f"SELECT COUNT(*) FROM flows WHERE {_OK} AND dstport IN ({_ADMIN})"),
    "ssh-rdp": (("records",), f"SELECT COUNT(*) FROM flows WHERE {_OK} AND dstport IN (22, 3389)"),
    "top-tcp": (("bytes",), f"SELECT SUM(bytes) FROM flows WHERE {_OK} AND protocol = 6"),
    "top-talkers": (("bytes",), f"SELECT SUM(bytes) FROM flows WHERE {_OK}"),
    "bytes-transferred": (("packets",), f"SELECT SUM(packets) FROM flows WHERE {_OK}"),
    "top-talkers-packet-level": (("bytes",), f"SELECT SUM(bytes) FROM flows WHERE {_OK} AND pkt_srcaddr IS NOT NULL"),
    "bytes-transferred-packet-level": (
        ("packets",), f"SELECT SUM(packets) FROM flows WHERE {_OK} AND pkt_srcaddr IS NOT NULL"),
    "top-talking-instances": (("bytes",), f"SELECT SUM(bytes) FROM flows WHERE {_OK} AND instance_id IS NOT NULL"),
    "top-talking-subnets": (("packets",), f"SELECT SUM(packets) FROM flows WHERE {_OK} AND subnet_id IS NOT NULL"),
    "log-status-health": (("ok", "nodata", "skipdata"), "SELECT COUNT(*) FROM selected_flow_logs"),
    "rejected-by-rule": (("records",), "SELECT COUNT(*) FROM rejections"),
    "rejected-flows": ((), "SELECT COUNT(*) FROM rejections"),
}
#: The detections find the demo's attackers (scanner 185.220.x, SSH brute force 45.155.x) and nobody else;
#: the scanner probes from one address, so there is no distributed scan.
_DETECTED = {"port-scan": "185.220.", "brute-force": "45.155.", "distributed-scan": None}


def test_every_report_is_checked_on_the_demo() -> None:
    assert set(_TOTALS) | set(_DETECTED) == set(REPORTS)


@pytest.fixture(scope="module")
def demo_flows(demo: dict[str, object]) -> FlowLogDatabase:
    db = open_database(Path(str(demo["data"])), ())
    prepare_flows(db)
    return db


@pytest.mark.parametrize("name", sorted(_TOTALS))
def test_every_report_on_the_demo_adds_up(demo: dict[str, object], demo_flows: FlowLogDatabase, name: str) -> None:
    r = CliRunner().invoke(cli, ["report", name, "--data-dir", str(demo["data"]), "-o", "json", "--limit",
                                 "1000000", "--addr", "10.0.0.20"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    columns, sql = _TOTALS[name]
    expected = demo_flows.query(sql).to_pylist()[0]
    total = sum(int(row[c]) for row in rows for c in columns) if columns else len(rows)
    assert total == next(iter(expected.values())) and total > 0, (name, total, expected)


@pytest.mark.parametrize("name", sorted(_DETECTED))
def test_detections_on_the_demo_find_its_attackers(demo: dict[str, object], name: str) -> None:
    r = CliRunner().invoke(cli, ["report", name, "--data-dir", str(demo["data"]), "-o", "json"])
    assert r.exit_code == 0, r.output
    sources = [str(row.get("srcaddr", "")) for row in json.loads(r.output)]
    attacker = _DETECTED[name]
    if attacker is None:
        assert sources == []
    else:
        assert sources and all(s.startswith(attacker) for s in sources), sources


def test_athena_ddl_of_each_s3_flow_log(demo: dict[str, object]) -> None:
    fls = demo["flow_logs"]
    vpc, eni = fls["VPC:vpc-097d5b620001373d6"], fls[f"NetworkInterface:{BASTION}"]  # type: ignore[index]
    r = CliRunner().invoke(cli, ["query", "--data-dir", str(demo["data"]), "--athena-ddl", "--flow-log-id",
                                 vpc.flow_log_id])
    assert r.exit_code == 0, r.output
    assert "`aws-account-id` string" in r.output and "`hour` string" in r.output
    assert "LOCATION 's3://vpcflow-demo-logs/AWSLogs/'" in r.output and "`end` bigint" in r.output
    r = CliRunner().invoke(cli, ["query", "--data-dir", str(demo["data"]), "--athena-ddl", "--flow-log-id",
                                 eni.flow_log_id])
    assert r.exit_code == 0, r.output
    assert "ParquetHiveSerDe" in r.output and "pkt_dst_aws_service string" in r.output
    assert f"LOCATION 's3://vpcflow-demo-logs/bastion/AWSLogs/{ACCOUNT}/vpcflowlogs/'" in r.output


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    r = CliRunner().invoke(cli, ["demo", "--data-dir", str(tmp_path)])
    assert r.exit_code != 0 and (tmp_path / "precious.txt").exists()
    own = tmp_path / "own"
    DataDir.resolve(own).init(account_id="111122223333")  # a user's own data directory
    r = CliRunner().invoke(cli, ["demo", "--data-dir", str(own)])
    assert r.exit_code != 0 and (own / "state.db").exists()


def test_demo_again_starts_clean(tmp_path: Path) -> None:
    data = tmp_path / "again"
    for _ in range(2):
        r = CliRunner().invoke(cli, ["demo", "--data-dir", str(data), "--quiet"])
        assert r.exit_code == 0, r.output
    with DataDir.resolve(data).state() as st:
        assert len(st.list_flow_logs()) == 4


def test_examples_are_where_the_readme_says() -> None:
    assert example_path("run", "demo-run.yaml").parent.parent.name == "examples"


def test_read_a_flow_log_prints_exactly_its_delivered_lines(demo: dict[str, object]) -> None:
    data = Path(str(demo["data"]))
    fl = demo["flow_logs"]["VPC:vpc-097d5b620001373d6"]  # type: ignore[index]
    files = (data / "s3" / "vpcflow-demo-logs" / "AWSLogs").rglob(f"*_{fl.flow_log_id}_*.log.gz")
    delivered = sorted(line for p in files for line in gzip.decompress(p.read_bytes()).decode().splitlines()[1:])
    r = CliRunner().invoke(cli, ["read", "--data-dir", str(data), "--flow-log-id", fl.flow_log_id])
    assert r.exit_code == 0, r.output
    assert sorted(r.output.splitlines()) == delivered


def _report_json(data: Path, name: str, *args: str) -> list[dict[str, object]]:
    r = CliRunner().invoke(cli, ["report", name, "--data-dir", str(data), "--limit", "1000", "-o", "json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)  # type: ignore[no-any-return]


def test_scan_and_brute_force_found_on_every_selection(demo: dict[str, object]) -> None:
    """The VPC's default-format flow log alone (no flow-direction), the bastion's own log, and all of them."""
    data = Path(str(demo["data"]))
    fls = demo["flow_logs"]
    vpc, eni = fls["VPC:vpc-097d5b620001373d6"], fls[f"NetworkInterface:{BASTION}"]  # type: ignore[index]
    # independently: the scanner's distinct ports at the load balancer 10.0.0.10, from the raw records
    raw = _q(data, "SELECT srcaddr, COUNT(DISTINCT dstport) AS ports FROM vpc_flow_logs WHERE "
                   f"flow_log_id = '{vpc.flow_log_id}' AND dstaddr = '10.0.0.10' AND srcaddr LIKE '185.220.101.%' "
                   "GROUP BY srcaddr")
    assert len(raw) == 1 and int(raw[0]["ports"]) == 2028  # type: ignore[call-overload]
    scanner = raw[0]["srcaddr"]
    # the scan never gets an answer: every port it tried is a probe
    ports = _q(data, "SELECT COUNT(DISTINCT dstport) AS n FROM vpc_flow_logs WHERE "
                     f"flow_log_id = '{vpc.flow_log_id}' AND srcaddr = '{scanner}'")[0]["n"]
    for sel in ((), ("--flow-log-id", vpc.flow_log_id)):
        scans = _report_json(data, "port-scan", *sel)
        assert scans[0]["srcaddr"] == scanner and scans[0]["distinct_ports"] == ports, sel
        assert scans[0]["targets"] == 2  # the load balancer 10.0.0.10 and the bastion
        # no internal address is a scanner: reply flows to clients' ephemeral ports are answered traffic
        assert all(not str(r["srcaddr"]).startswith("10.") for r in scans), scans
    for sel in ((), ("--flow-log-id", vpc.flow_log_id), ("--flow-log-id", eni.flow_log_id)):
        brute = _report_json(data, "brute-force", *sel)
        assert [(str(r["srcaddr"])[:11], r["dstport"]) for r in brute] == [("45.155.205.", 22)], sel


def test_no_interface_counted_twice(demo: dict[str, object]) -> None:
    """The VPC's flow log covers every interface once; the others record subsets of the same traffic.
    Over all flow logs, de-duplicated, every report must therefore equal the VPC log's own numbers."""
    data = Path(str(demo["data"]))
    vpc = demo["flow_logs"]["VPC:vpc-097d5b620001373d6"]  # type: ignore[index]
    talkers = {(r["srcaddr"], r["dstaddr"]): r["bytes"] for r in _report_json(data, "top-talkers")}
    independent = {(r["srcaddr"], r["dstaddr"]): r["bytes"] for r in _q(
        data, "SELECT srcaddr, dstaddr, SUM(bytes) AS bytes FROM vpc_flow_logs WHERE log_status = 'OK' AND "
              f"flow_log_id = '{vpc.flow_log_id}' GROUP BY ALL ORDER BY bytes DESC LIMIT 1000")}
    assert talkers == independent
    n = _q(data, f"SELECT COUNT(*) AS n FROM vpc_flow_logs WHERE flow_log_id = '{vpc.flow_log_id}'")[0]["n"]
    r = CliRunner().invoke(cli, ["report", "top-talkers", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert f"records:             {int(n):,} (" in r.output  # type: ignore[call-overload]
    # the charts read the same de-duplicated table: the top-talkers chart's bars are these sums
    from vpcflow.cli._sources import open_flows

    db, _ = open_flows(data, ())
    per_src = db.query("SELECT srcaddr, SUM(bytes) AS b FROM flows WHERE log_status = 'OK' GROUP BY srcaddr").to_pylist()
    raw = {r["srcaddr"]: r["b"] for r in _q(data, "SELECT srcaddr, SUM(bytes) AS b FROM vpc_flow_logs WHERE "
                                                  f"log_status = 'OK' AND flow_log_id = '{vpc.flow_log_id}' GROUP BY srcaddr")}
    assert {r["srcaddr"]: r["b"] for r in per_src} == raw


def test_report_all_in_the_terminal_is_short_and_80_columns(demo: dict[str, object]) -> None:
    r = CliRunner().invoke(cli, ["report", "all", "--data-dir", str(demo["data"])])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("flow logs:") and max(len(x) for x in lines) <= 80
    assert len(lines) < 300  # was 2,381 lines
    assert any(x.startswith("port scanners:       185.220.101.") for x in lines)
    assert any(x.startswith("brute-forcers:       45.155.205.") for x in lines)


def test_scan_found_from_the_files_alone(demo: dict[str, object], tmp_path: Path) -> None:
    """The VPC log's files read with --path and no topology: interface addresses inferred from the records."""
    root = Path(str(demo["data"])) / "s3" / "vpcflow-demo-logs" / "AWSLogs"
    r = CliRunner().invoke(cli, ["report", "port-scan", "--path", str(root), "--data-dir", str(tmp_path / "none"),
                                 "-o", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [str(x["srcaddr"])[:12] for x in rows] == ["185.220.101."]
