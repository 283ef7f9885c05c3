"""Named reports: every report runs, finds what it should, and refuses logs that lack its fields."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from vpcflow.core.errors import ConfigError
from vpcflow.query.duck import FlowLogDatabase
from vpcflow.query.reports import ADMIN_PORTS, REPORTS, render_sql
from vpcflow.query.selection import prepare_flows

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr flow-direction"


class Rec(NamedTuple):
    """One OK record of the fixture: protocol 6, inbound to eni-0aaaaaaaaaaaaaaaa, start 1700000000."""

    srcaddr: str
    dstaddr: str
    srcport: int
    dstport: int
    action: str
    packets: int = 1
    bytes: int = 60


RECORDS = (
    # a port scan: 30 distinct ports from one source, rejected
    [Rec("198.51.100.7", "10.0.1.10", 40000, p, "REJECT") for p in range(1, 31)]
    # an SSH brute force: 25 connections from distinct source ports
    + [Rec("203.0.113.9", "10.0.1.10", 50000 + i, 22, "REJECT", 3, 180) for i in range(25)]
    # ordinary accepted web traffic and an IPv6 flow
    + [Rec("10.0.0.5", "10.0.1.10", 33000, 443, "ACCEPT", 100, 150000),
       Rec("2001:db8::1", "2001:db8::2", 33001, 443, "ACCEPT", 10, 1000)]
)


def _line(src: str, dst: str, sport: int, dport: int, action: str, pk: int, by: int) -> str:
    t, family = 1700000000, "IPv6" if ":" in src else "IPv4"
    return (f"5 123456789012 eni-0aaaaaaaaaaaaaaaa {src} {dst} {sport} {dport} 6 {pk} {by} {t} {t + 5} {action} OK "
            f"vpc-0aaaaaaaaaaaaaaaa subnet-0aaaaaaaaaaaaaaaa i-0aaaaaaaaaaaaaaaa 2 {family} {src} {dst} ingress")


@pytest.fixture()
def db(tmp_path: Path) -> FlowLogDatabase:
    lines = [HEADER] + [_line(*r) for r in RECORDS]
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


_RECORD_KEY = ("srcaddr", "srcport", "dstaddr", "dstport")
#: Each report that lists or groups records: which records it reads, what it groups them by, what it ranks by.
_SHAPES: dict[str, tuple[Callable[[Rec], bool], tuple[str, ...], str | None]] = {
    "accepted": (lambda r: r.action == "ACCEPT", _RECORD_KEY, None),
    "rejected": (lambda r: r.action == "REJECT", _RECORD_KEY, None),
    "ipv4": (lambda r: ":" not in r.srcaddr, _RECORD_KEY, None),
    "ipv6": (lambda r: ":" in r.srcaddr, _RECORD_KEY, None),
    "traffic-from": (lambda r: r.srcaddr == "203.0.113.9", _RECORD_KEY, None),
    "traffic-to": (lambda r: r.dstaddr == "2001:db8::2", _RECORD_KEY, None),
    "rejected-tcp": (lambda r: r.action == "REJECT", ("srcaddr", "dstaddr", "dstport"), "records"),
    "admin-port": (lambda r: r.dstport in ADMIN_PORTS, ("dstport", "action", "srcaddr", "dstaddr"), "records"),
    "ssh-rdp": (lambda r: r.dstport in (22, 3389), ("srcaddr", "dstaddr", "dstport", "action"), "records"),
    "top-tcp": (lambda r: True, ("srcaddr", "dstaddr", "srcport", "dstport"), "bytes"),
    "top-talkers": (lambda r: True, ("srcaddr", "dstaddr"), "bytes"),
    "bytes-transferred": (lambda r: True, ("srcaddr", "dstaddr"), "bytes"),
    "top-talkers-packet-level": (lambda r: True, ("pkt_srcaddr", "pkt_dstaddr"), "bytes"),
    "bytes-transferred-packet-level": (lambda r: True, ("pkt_srcaddr", "pkt_dstaddr"), "bytes"),
    "top-talking-instances": (lambda r: True, ("instance_id",), "bytes"),
    "top-talking-subnets": (lambda r: True, ("subnet_id",), "bytes"),
}
_CONSTANT = {"instance_id": "i-0aaaaaaaaaaaaaaaa", "subnet_id": "subnet-0aaaaaaaaaaaaaaaa"}


def _column(r: Rec, name: str) -> object:
    """A record's value of a report column (the fixture's pkt-* addresses are the addresses)."""
    return _CONSTANT.get(name) or getattr(r, name.removeprefix("pkt_"))


def test_every_report_that_lists_or_groups_records_is_checked() -> None:
    others = {"log-status-health", "port-scan", "distributed-scan", "brute-force", "rejected-by-rule", "rejected-flows"}
    assert set(_SHAPES) | others == set(REPORTS)


@pytest.mark.parametrize("name", sorted(_SHAPES))
def test_report_output_matches_a_python_computation(db: FlowLogDatabase, name: str) -> None:
    keep, key, rank = _SHAPES[name]
    addr = "203.0.113.9" if name == "traffic-from" else "2001:db8::2"
    rows = _run(db, name, limit=1000, addr=addr)
    measures = [c for c in ("bytes", "packets", "records") if rows and c in rows[0]]
    expected: dict[tuple[object, ...], dict[str, int]] = {}
    for r in filter(keep, RECORDS):
        acc = expected.setdefault(tuple(_column(r, c) for c in key), dict.fromkeys(measures, 0))
        for c in measures:
            acc[c] += 1 if c == "records" else int(getattr(r, c))
    got: dict[tuple[object, ...], dict[str, int]] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        assert k not in got, f"{name}: {k} listed twice"
        got[k] = {c: int(row[c]) for c in measures}  # type: ignore[call-overload]
    assert got == expected
    if rank is not None:
        ranked = [int(row[rank]) for row in rows]  # type: ignore[call-overload]
        assert ranked == sorted(ranked, reverse=True), f"{name} is not ranked by {rank}"


def _distributed_scans(min_ports: int) -> dict[str, tuple[int, int, str, int]]:
    """Destinations probed on >= min_ports ports by several sources none of which probed min_ports ports itself.

    The fixture has no outbound records, so every inbound record is an unanswered probe.
    """
    ports_of: dict[str, set[int]] = {}
    for r in RECORDS:
        ports_of.setdefault(r.srcaddr, set()).add(r.dstport)
    small = {s for s, ports in ports_of.items() if len(ports) < min_ports}
    by_target: dict[str, list[Rec]] = {}
    for r in RECORDS:
        if r.srcaddr in small:
            by_target.setdefault(r.dstaddr, []).append(r)
    out = {}
    for dst, recs in by_target.items():
        ports, sources = {r.dstport for r in recs}, sorted({r.srcaddr for r in recs})
        if len(ports) >= min_ports and len(sources) > 1:
            out[dst] = (len(ports), len(sources), " ".join(sources), len(recs))
    return out


@pytest.mark.parametrize("min_ports", [1, 2, 3, 20])
def test_distributed_scan_matches_a_python_computation(db: FlowLogDatabase, min_ports: int) -> None:
    rows = _run(db, "distributed-scan", min_ports=min_ports)
    got = {r["dstaddr"]: (r["distinct_ports"], r["sources"], r["source_list"], r["records"]) for r in rows}
    assert got == _distributed_scans(min_ports)
    if min_ports == 2:  # 203.0.113.9 (port 22) and 10.0.0.5 (port 443) each probed one port of 10.0.1.10
        assert got == {"10.0.1.10": (2, 2, "10.0.0.5 203.0.113.9", 26)}


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
