"""Named reports: every report runs, finds what it should, and refuses logs that lack its fields."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from vpcflow.core.errors import ConfigError
from vpcflow.query.duck import FlowLogDatabase
from vpcflow.query.reports import REPORTS, render_sql
from vpcflow.query.selection import prepare_flows

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr flow-direction"


def _line(src: str, dst: str, sport: int, dport: int, action: str, *, pk: int = 1, by: int = 60, t: int = 1700000000,
          direction: str = "ingress") -> str:
    return (f"5 123456789012 eni-0aaaaaaaaaaaaaaaa {src} {dst} {sport} {dport} 6 {pk} {by} {t} {t + 5} {action} OK "
            f"vpc-0aaaaaaaaaaaaaaaa subnet-0aaaaaaaaaaaaaaaa i-0aaaaaaaaaaaaaaaa 2 IPv4 {src} {dst} {direction}")


@pytest.fixture()
def db(tmp_path: Path) -> FlowLogDatabase:
    lines = [HEADER]
    # a port scan: 30 distinct ports from one source, rejected
    lines += [_line("198.51.100.7", "10.0.1.10", 40000, p, "REJECT") for p in range(1, 31)]
    # an SSH brute force: 25 connections from distinct source ports
    lines += [_line("203.0.113.9", "10.0.1.10", 50000 + i, 22, "REJECT", pk=3, by=180) for i in range(25)]
    # ordinary accepted web traffic and an IPv6 flow
    lines += [_line("10.0.0.5", "10.0.1.10", 33000, 443, "ACCEPT", pk=100, by=150000)]
    lines += [_line("2001:db8::1", "2001:db8::2", 33001, 443, "ACCEPT", pk=10, by=1000).replace("IPv4", "IPv6")]
    lines += ["5 123456789012 eni-0bbbbbbbbbbbbbbbb - - - - - - - 1700000000 1700000059 - NODATA - - - - - - - -"]
    p = tmp_path / "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20231114T2210Z_00000000.log.gz"
    p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    side = tmp_path / "fl-0123456789abcdef0.rejects.jsonl"
    rule_sg = "sg-0c5bcc4c7b59e45e9 ingress: no rule allows tcp 22 from 203.0.113.9"
    rule_nacl = "acl-023f13920c335ffd3 inbound rule *: deny all traffic from 0.0.0.0/0"
    side.write_text("".join(
        json.dumps({"interface_id": "eni-0aaaaaaaaaaaaaaaa", "flow_direction": "ingress", "srcaddr": src,
                    "dstaddr": "10.0.1.10", "srcport": 50000 + i, "dstport": 22, "protocol": 6, "start": 1700000000,
                    "end": 1700000005, "packets": 3, "rule": rule}) + "\n"
        for i, (src, rule) in enumerate([("203.0.113.9", rule_sg)] * 3 + [("198.51.100.7", rule_nacl)])
    ))
    d = FlowLogDatabase()
    d.add_files([p])
    d.create_view()
    d.add_decisions([side])
    prepare_flows(d)
    return d


def _run(db: FlowLogDatabase, name: str, **kw: object) -> list[dict[str, object]]:
    cols = {c for c, _ in db.columns()}
    return db.query(render_sql(REPORTS[name], cols, **kw)).to_pylist()  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [n for n, r in REPORTS.items() if "addr" not in r.params])
def test_every_report_runs(db: FlowLogDatabase, name: str) -> None:
    _run(db, name)


def test_port_scan_candidates(db: FlowLogDatabase) -> None:
    rows = _run(db, "port-scan", min_ports=20)
    assert [(r["srcaddr"], r["distinct_ports"], r["rejected_records"]) for r in rows] == [("198.51.100.7", 30, 30)]


def test_brute_force_candidates(db: FlowLogDatabase) -> None:
    rows = _run(db, "brute-force", min_attempts=20)
    assert [(r["srcaddr"], r["dstport"], r["attempts"], r["rejected_records"]) for r in rows] == [("203.0.113.9", 22, 25, 25)]


def test_ipv4_ipv6_split(db: FlowLogDatabase) -> None:
    assert {r["srcaddr"] for r in _run(db, "ipv6")} == {"2001:db8::1"}
    assert "2001:db8::1" not in {r["srcaddr"] for r in _run(db, "ipv4", limit=100)}


def test_log_status_health_counts_nodata(db: FlowLogDatabase) -> None:
    rows = {r["interface_id"]: r for r in _run(db, "log-status-health")}
    assert rows["eni-0bbbbbbbbbbbbbbbb"]["nodata"] == 1
    assert rows["eni-0aaaaaaaaaaaaaaaa"]["ok"] == 57


def test_traffic_from_needs_addr_and_quotes_it(db: FlowLogDatabase) -> None:
    with pytest.raises(ConfigError, match="--addr"):
        _run(db, "traffic-from")
    assert len(_run(db, "traffic-from", addr="203.0.113.9", limit=100)) == 25
    assert _run(db, "traffic-to", addr="x' OR '1'='1") == []


def test_rejected_by_rule_reads_the_side_channel(db: FlowLogDatabase) -> None:
    rows = _run(db, "rejected-by-rule")
    assert [(r["records"], r["packets"], r["sources"]) for r in rows] == [(3, 9, 1), (1, 3, 1)]
    assert str(rows[0]["rule"]).startswith("sg-0c5bcc4c7b59e45e9")
    flows = _run(db, "rejected-flows")
    assert {r["flow_log_id"] for r in flows} == {"fl-0123456789abcdef0"} and len(flows) == 4


def test_side_channel_reports_need_the_side_channel() -> None:
    d = FlowLogDatabase()
    d.create_view()
    d.add_decisions([])
    with pytest.raises(ConfigError, match="rejects"):
        render_sql(REPORTS["rejected-by-rule"], {c for c, _ in d.columns()}, has_decisions=d.has_decisions)


def test_report_needing_absent_field_is_refused() -> None:
    d = FlowLogDatabase()
    d.create_view()
    with pytest.raises(ConfigError, match="instance-id"):
        render_sql(REPORTS["top-talking-instances"], {c for c, _ in d.columns()})
