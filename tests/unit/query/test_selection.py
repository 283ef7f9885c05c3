"""The records reports are computed on (query.selection), checked against an independent computation in
plain Python on a small known input: two overlapping flow logs (a VPC's, default format, and one ENI's,
with flow-direction), a port scan, an SSH brute force, and a client whose replies arrive on 40
ephemeral ports (reply traffic, not a scan)."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpcflow.cli.main import cli
from vpcflow.core.errors import ConfigError
from vpcflow.query.duck import FlowLogDatabase
from vpcflow.query.reports import REPORTS, render_sql
from vpcflow.query.selection import prepare_flows

ENI_A, ENI_B = "eni-0aaaaaaaaaaaaaaaa", "eni-0bbbbbbbbbbbbbbbb"
ADDR = {ENI_A: "10.0.0.5", ENI_B: "10.0.0.9"}
VPC_LOG, ENI_LOG = "fl-0aaaaaaaaaaaaaaa1", "fl-0aaaaaaaaaaaaaaa2"
T = 1700000000
SUBNET_A, INSTANCE_A = "subnet-0aaaaaaaaaaaaaaaa", "i-0aaaaaaaaaaaaaaaa"


def _records() -> list[tuple[str, str, str, int, int, int, int, str]]:
    """(eni, src, dst, sport, dport, packets, bytes, action) of every record, each once."""
    recs = []
    for p in range(1, 31):  # the scan
        recs.append((ENI_A, "198.51.100.7", ADDR[ENI_A], 40000, p, 1, 44, "REJECT"))
    for i in range(25):  # the brute force
        recs.append((ENI_A, "203.0.113.9", ADDR[ENI_A], 50000 + i, 22, 3, 180, "REJECT"))
    for i in range(40):  # B calls A:8080 forty times: requests and replies on both interfaces
        eph = 33000 + i
        for eni in (ENI_A, ENI_B):
            recs.append((eni, ADDR[ENI_B], ADDR[ENI_A], eph, 8080, 5, 900, "ACCEPT"))
            recs.append((eni, ADDR[ENI_A], ADDR[ENI_B], 8080, eph, 6, 5000, "ACCEPT"))
    return recs


def _direction(eni: str, src: str, dst: str) -> str:
    return "ingress" if dst == ADDR[eni] else "egress"


def _write(folder: Path) -> list[Path]:
    recs = _records()
    default = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
               "action log-status"]
    default += [f"2 123456789012 {e} {s} {d} {sp} {dp} 6 {pk} {by} {T} {T + 59} {a} OK"
                for e, s, d, sp, dp, pk, by, a in recs]
    rich = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
            "action log-status vpc-id subnet-id instance-id pkt-srcaddr pkt-dstaddr flow-direction"]
    rich += [f"5 123456789012 {e} {s} {d} {sp} {dp} 6 {pk} {by} {T} {T + 59} {a} OK vpc-0aaaaaaaaaaaaaaaa "
             f"{SUBNET_A} {INSTANCE_A} {s} {d} {_direction(e, s, d)}"
             for e, s, d, sp, dp, pk, by, a in recs if e == ENI_A]
    paths = []
    for fid, lines in ((VPC_LOG, default), (ENI_LOG, rich)):
        p = folder / f"123456789012_vpcflowlogs_us-east-1_{fid}_20231114T2210Z_00000000.log.gz"
        p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
        paths.append(p)
    return paths


@pytest.fixture()
def files(tmp_path: Path) -> list[Path]:
    return _write(tmp_path)


def _db(files: list[Path], ids: tuple[str, ...] = (), known: bool = True) -> FlowLogDatabase:
    db = FlowLogDatabase()
    db.add_files(files)
    db.create_view()
    prepare_flows(db, flow_log_ids=ids, eni_addresses={e: [a] for e, a in ADDR.items()} if known else {})
    return db


def _run(db: FlowLogDatabase, name: str, **kw: object) -> list[dict[str, object]]:
    cols = {c for c, _ in db.columns()}
    return db.query(render_sql(REPORTS[name], cols, **kw)).to_pylist()  # type: ignore[arg-type]


def test_overlapping_flow_logs_count_once_preferring_the_richer_format(files: list[Path]) -> None:
    db = _db(files)
    expected = len(_records())  # every record once, though ENI A's are in both flow logs
    assert db.query("SELECT COUNT(*) AS n FROM flows").column("n")[0].as_py() == expected
    by_log = Counter(r["flow_log_id"] for r in db.query("SELECT flow_log_id FROM flows").to_pylist())
    assert by_log == {ENI_LOG: sum(1 for r in _records() if r[0] == ENI_A),
                      VPC_LOG: sum(1 for r in _records() if r[0] == ENI_B)}


@pytest.mark.parametrize("known", [True, False], ids=["topology-addresses", "inferred-addresses"])
def test_direction_from_the_interface_addresses_on_the_default_format(files: list[Path], known: bool) -> None:
    db = _db(files, (VPC_LOG,), known=known)
    got = Counter((r["interface_id"], r["srcaddr"], r["dstaddr"], r["direction"])
                  for r in db.query("SELECT interface_id, srcaddr, dstaddr, direction FROM flows").to_pylist())
    want = Counter((e, s, d, _direction(e, s, d)) for e, s, d, *_ in _records())
    assert got == want


@pytest.mark.parametrize("ids", [(), (VPC_LOG,), (ENI_LOG,)], ids=["all", "vpc-default-format", "eni-log"])
def test_port_scan_finds_the_scanner_not_the_replies(files: list[Path], ids: tuple[str, ...]) -> None:
    rows = _run(_db(files, ids), "port-scan", min_ports=20)
    # independent: the scanner touched 30 ports, all rejected; the server's replies reached 40 ports of B
    assert [(r["srcaddr"], r["distinct_ports"], r["rejected_records"]) for r in rows] == [("198.51.100.7", 30, 30)]


def test_brute_force_counted_once(files: list[Path]) -> None:
    rows = _run(_db(files), "brute-force", min_attempts=20)
    assert [(r["srcaddr"], r["dstport"], r["attempts"], r["rejected_records"]) for r in rows] == [("203.0.113.9", 22, 25, 25)]


def test_top_talkers_match_a_python_sum(files: list[Path]) -> None:
    sums: Counter[tuple[str, str]] = Counter()
    for _e, s, d, _sp, _dp, _pk, by, _a in _records():
        sums[(s, d)] += by
    rows = _run(_db(files), "top-talkers", limit=100)
    assert {(r["srcaddr"], r["dstaddr"]): r["bytes"] for r in rows} == dict(sums)


def test_log_status_health_is_per_flow_log(files: list[Path]) -> None:
    rows = _run(_db(files), "log-status-health", limit=100)
    assert {(r["flow_log_id"], r["interface_id"]): r["ok"] for r in rows} == {
        (VPC_LOG, ENI_A): 30 + 25 + 80, (VPC_LOG, ENI_B): 80, (ENI_LOG, ENI_A): 30 + 25 + 80}


def test_unknown_flow_log_id_is_a_clear_error(files: list[Path]) -> None:
    with pytest.raises(ConfigError, match="fl-0ffffffffffffffff"):
        _db(files, ("fl-0ffffffffffffffff",))


def test_read_aggregate_collapses_the_brute_force_and_lists_each_flow_once(files: list[Path]) -> None:
    args = ["read", "--aggregate", "-o", "json"] + [a for f in files for a in ("--path", str(f))]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    import json

    rows = json.loads(r.stdout)
    keys = [(x["srcaddr"], x["dstaddr"], x["port"], x["action"]) for x in rows]
    assert len(keys) == len(set(keys))
    brute = [x for x in rows if x["srcaddr"] == "203.0.113.9"]
    assert [(x["port"], x["connections"], x["records"], x["packets"]) for x in brute] == [(22, 25, 25, 75)]
    calls = [x for x in rows if x["srcaddr"] == ADDR[ENI_B]]  # B's requests, seen on both interfaces
    assert [(x["port"], x["connections"], x["records"]) for x in calls] == [(8080, 40, 80)]


def test_report_terminal_form_fits_80_columns_and_summarizes_first(files: list[Path]) -> None:
    args = ["report", "all"] + [a for f in files for a in ("--path", str(f))]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("flow logs:")
    assert max(len(x) for x in lines) <= 80
    text = r.stdout
    assert "port scanners:       198.51.100.7 (30 ports)" in text
    assert "brute-forcers:       203.0.113.9 (25 attempts)" in text
    assert "2023-11-14T22:13:20Z" in text  # ISO-8601 UTC, not epoch seconds


def _one_flow(folder: Path, fid: str, header: str, lines: list[str]) -> Path:
    p = folder / f"123456789012_vpcflowlogs_us-east-1_{fid}_20231114T2210Z_00000000.log.gz"
    p.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode()))
    return p


@pytest.mark.parametrize("richer", ["60s", "600s"])
def test_different_aggregation_intervals_count_once(tmp_path: Path, richer: str) -> None:
    """A VPC flow log with 10-minute windows and an ENI's with 1-minute windows record the same flow:
    the richer log's records are kept, the other's overlapping ones dropped (no double count)."""
    base = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    rich = base + " vpc-id"
    tail = " vpc-0aaaaaaaaaaaaaaaa"
    flow = f"{ADDR[ENI_B]} {ADDR[ENI_A]} 33000 8080 6"
    minutes = [f"2 123456789012 {ENI_A} {flow} 10 1000 {T + 60 * i} {T + 60 * i + 59} ACCEPT OK" for i in range(10)]
    window = [f"2 123456789012 {ENI_A} {flow} 100 10000 {T} {T + 599} ACCEPT OK"]
    other = [f"2 123456789012 {ENI_A} {ADDR[ENI_B]} {ADDR[ENI_A]} 33001 8080 6 1 1 {T + 700} {T + 759} ACCEPT OK"]
    files = [
        _one_flow(tmp_path, VPC_LOG, rich if richer == "600s" else base,
                  [x + (tail if richer == "600s" else "") for x in window + other]),
        _one_flow(tmp_path, ENI_LOG, rich if richer == "60s" else base,
                  [x + (tail if richer == "60s" else "") for x in minutes]),
    ]
    db = _db(files)
    rows = db.query("SELECT flow_log_id, srcport, bytes FROM flows ORDER BY start").to_pylist()
    kept = [r for r in rows if r["srcport"] == 33000]
    assert len(kept) == (10 if richer == "60s" else 1)
    assert {r["flow_log_id"] for r in kept} == {ENI_LOG if richer == "60s" else VPC_LOG}
    assert sum(int(r["bytes"]) for r in kept) == 10000
    # a flow only one log recorded (after the ENI log's hour) stays, whatever the ranking
    assert [r["srcport"] for r in rows].count(33001) == 1


def _sum(keys: list[tuple[object, ...]], values: list[tuple[int, ...]]) -> dict[tuple[object, ...], list[int]]:
    out: dict[tuple[object, ...], list[int]] = {}
    for k, v in zip(keys, values, strict=True):
        acc = out.setdefault(k, [0] * len(v))
        for i, x in enumerate(v):
            acc[i] += x
    return out


def _expected(name: str) -> dict[tuple[object, ...], list[int]]:
    """Each named report computed in plain Python from the records (each once)."""
    recs = _records()
    rich = [r for r in recs if r[0] == ENI_A]  # only the ENI's own log has subnet, instance, pkt-* fields
    if name in ("accepted", "rejected"):
        act = "ACCEPT" if name == "accepted" else "REJECT"
        return _sum([(s, sp, d, dp) for _e, s, d, sp, dp, _p, _b, a in recs if a == act],
                    [(1,) for *_, a in recs if a == act])
    if name in ("ipv4", "traffic-from", "traffic-to"):
        keep = [r for r in recs if name == "ipv4" or (r[1] if name == "traffic-from" else r[2]) == "203.0.113.9"]
        return _sum([(s, sp, d, dp) for _e, s, d, sp, dp, *_ in keep], [(1,)] * len(keep))
    if name in ("admin-port", "ssh-rdp"):
        ports = (22, 23, 3389, 5985, 5986, 5900) if name == "admin-port" else (22, 3389)
        keep = [r for r in recs if r[4] in ports]
        return _sum([(dp, a, s, d) for _e, s, d, _sp, dp, _p, _b, a in keep], [(p, b, 1) for *_, p, b, _a in keep])
    if name == "rejected-tcp":
        keep = [r for r in recs if r[7] == "REJECT"]
        return _sum([(s, d, dp) for _e, s, d, _sp, dp, *_ in keep], [(p, 1) for *_, p, _b, _a in keep])
    if name == "top-tcp":
        return _sum([(s, d, sp, dp) for _e, s, d, sp, dp, *_ in recs], [(b, p) for *_, p, b, _a in recs])
    if name in ("top-talkers", "bytes-transferred"):
        return _sum([(s, d) for _e, s, d, *_ in recs], [(b, p) for *_, p, b, _a in recs])
    if name in ("top-talkers-packet-level", "bytes-transferred-packet-level"):
        return _sum([(s, d) for _e, s, d, *_ in rich], [(b, p) for *_, p, b, _a in rich])
    if name in ("top-talking-instances", "top-talking-subnets"):
        key = INSTANCE_A if name == "top-talking-instances" else SUBNET_A
        return _sum([(key,) for _ in rich], [(b, p) for *_, p, b, _a in rich])
    raise AssertionError(name)


_COLUMNS = {
    "accepted": ("srcaddr", "srcport", "dstaddr", "dstport"), "rejected": ("srcaddr", "srcport", "dstaddr", "dstport"),
    "ipv4": ("srcaddr", "srcport", "dstaddr", "dstport"), "traffic-from": ("srcaddr", "srcport", "dstaddr", "dstport"),
    "traffic-to": ("srcaddr", "srcport", "dstaddr", "dstport"),
    "admin-port": ("dstport", "action", "srcaddr", "dstaddr"), "ssh-rdp": ("dstport", "action", "srcaddr", "dstaddr"),
    "rejected-tcp": ("srcaddr", "dstaddr", "dstport"), "top-tcp": ("srcaddr", "dstaddr", "srcport", "dstport"),
    "top-talkers": ("srcaddr", "dstaddr"), "bytes-transferred": ("srcaddr", "dstaddr"),
    "top-talkers-packet-level": ("pkt_srcaddr", "pkt_dstaddr"),
    "bytes-transferred-packet-level": ("pkt_srcaddr", "pkt_dstaddr"),
    "top-talking-instances": ("instance_id",), "top-talking-subnets": ("subnet_id",),
}
_VALUES = {"accepted": (), "rejected": (), "ipv4": (), "traffic-from": (), "traffic-to": (),
           "admin-port": ("packets", "bytes", "records"), "ssh-rdp": ("packets", "bytes", "records"),
           "rejected-tcp": ("packets", "records")}


@pytest.mark.parametrize("name", list(_COLUMNS))
def test_named_report_matches_a_python_computation(files: list[Path], name: str) -> None:
    rows = _run(_db(files), name, limit=100_000, addr="203.0.113.9")
    values = _VALUES.get(name, ("bytes", "packets"))
    got: dict[tuple[object, ...], list[int]] = {}
    for r in rows:
        key = tuple(r[c] for c in _COLUMNS[name])
        if values:
            assert key not in got, f"{name}: {key} listed twice"
            got[key] = [int(r[v]) for v in values]  # type: ignore[call-overload]
        else:  # record listings: each record once
            got[key] = [got.get(key, [0])[0] + 1]
    assert got == _expected(name)
    if values and values[0] == "bytes":  # the "top" reports rank by bytes, largest first (AWS's queries)
        ranked = [int(r["bytes"]) for r in rows]
        assert ranked == sorted(ranked, reverse=True), f"{name} is not ranked by bytes"
