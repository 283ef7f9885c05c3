"""The Insights query language: parser (errors with positions), translation to DuckDB SQL (each command
checked against a hand-written SQL over the same small event table), discovered field names, and the
columnar event loading from the log store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.text import decode_lines
from vpcflow.core.api_errors import MalformedQueryError
from vpcflow.model.logformat import parse_log_format
from vpcflow.query.insights_ast import Binary, Call, FieldRef, InList, Literal, Period, Regex
from vpcflow.query.insights_events import GroupEvents, events_table, insights_name
from vpcflow.query.insights_exec import run_query
from vpcflow.query.insights_parse import parse_query
from vpcflow.storage.logstore import LogStore

ACCT = "123456789012"
T0 = 1_700_000_000


def _messages() -> list[str]:
    out = []
    for i in range(40):
        if i % 13 == 4:
            out.append(f"2 {ACCT} eni-1 - - - - - - - {T0 + i * 60} {T0 + i * 60 + 59} - NODATA")
            continue
        src = ("192.0.2.1", "192.0.2.130", "198.51.100.2", "2001:db8::7")[i % 4]
        out.append(f"2 {ACCT} eni-{i % 2} {src} 10.0.0.{i % 5} {1024 + i} {(22, 80, 443)[i % 3]} {(6, 17)[i % 2]} "
                   f"{i + 1} {(i + 1) * 100} {T0 + i * 60} {T0 + i * 60 + 59} {('ACCEPT', 'REJECT')[i % 3 == 0]} OK")
    return out


@pytest.fixture(scope="module")
def events() -> pa.Table:
    msgs = _messages()
    n = len(msgs)
    batch = pa.table({
        "timestamp": pa.array([(T0 + i * 60) * 1000 for i in range(n)], pa.int64()),
        "ingestion_time": pa.array([(T0 + 3600) * 1000] * n, pa.int64()),
        "event_id": pa.array(range(n), pa.int64()),
        "message": pa.array(msgs, pa.large_string()),
        "stream": pa.array([f"eni-{i % 2}-all" for i in range(n)]),
    })
    return events_table([GroupEvents("g", ACCT, batch, (parse_log_format(None),))])


def _sql(events: pa.Table, sql: str) -> list[dict[str, Any]]:
    con = duckdb.connect()
    con.register("ev", events)
    rel = con.sql(sql)
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def _insights(events: pa.Table, query: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = run_query(events, query).table.to_pylist()
    return rows


# ---------------------------------------------------------------------------------------- parser
def test_parser_builds_the_tree_with_spans() -> None:
    (f,) = parse_query('filter srcAddr like /^10\\./ and dstPort in [22, 443] or not action = "REJECT"')
    assert isinstance(f.condition, Binary) and f.condition.op == "or"
    left = f.condition.left
    assert isinstance(left, Binary) and left.op == "and"
    assert isinstance(left.left, Binary) and isinstance(left.left.right, Regex) and left.left.right.pattern == "^10\\."
    assert isinstance(left.right, InList) and [i.value for i in left.right.items if isinstance(i, Literal)] == [22, 443]
    (s, so, li) = parse_query("stats count(*) as n by bin(5m) # comment | not a command\n| sort n desc | limit 7")
    assert s.items[0].name == "n" and isinstance(s.by[0].expr, Call)
    period = s.by[0].expr.args[0]
    assert isinstance(period, Period) and (period.amount, period.unit) == (5, "m")
    assert s.by[0].name == "bin(5m)"  # AWS names an unaliased column by its text
    assert so.keys[0][1] is True and li.count == 7
    (p,) = parse_query('parse @message "* * *" as a, b, c')
    assert p.names == ("a", "b", "c") and isinstance(p.condition, FieldRef) and p.condition.name == "@message"


@pytest.mark.parametrize(("query", "offset", "fragment"), [
    ("fields a | fitler x", 11, "expected a command"),
    ("filter a = ", 11, "expected a value"),
    ("filter a like 5", 14, "expected a string or a /regular expression/"),
    ("stats count(*) by", 17, "expected a value"),
    ('fields "unterminated', 7, "unterminated string"),
    ("fields a |", 9, "ends with '|'"),
    ("", 0, "empty"),
    ("limit 0", 6, "between 1 and 100000"),
    ("limit 100001", 6, "between 1 and 100000"),
    ('parse @message "* *" as a', 15, "2 '*' but 1 names"),
    ("filter a = 1 b", 13, "separated by '|'"),
    ("sort a desc desc", 12, "separated by '|'"),
])
def test_malformed_queries_point_at_the_problem(query: str, offset: int, fragment: str) -> None:
    with pytest.raises(MalformedQueryError) as e:
        parse_query(query)
    assert e.value.code == "MalformedQueryException"
    assert e.value.start == offset, e.value.message
    assert fragment in e.value.message
    assert f"position {offset + 1}" in e.value.message
    assert e.value.compile_error()["location"]["startCharOffset"] == offset


def test_positions_count_lines() -> None:
    with pytest.raises(MalformedQueryError) as e:
        parse_query("fields a\n| filter b ==")
    assert "line 2 and position" in e.value.message


@pytest.mark.parametrize(("query", "fragment"), [
    ("filter count(*) > 1", "allowed only in stats"),
    ("stats srcAddr", "not an aggregation"),
    ("fields nosuch(a)", "unknown function"),
    ('filter isIpv4InSubnet(srcAddr, "10.0.0.0/33")', "not a CIDR block"),
    ('filter isIpv4InSubnet(srcAddr, "2001:db8::/32")', "needs an IPv4 CIDR"),
    ("fields a | stats sum(sum(bytes))", "allowed only in stats"),
    ("stats count(*) by bin(1h) | fields bin(5m)", "@timestamp is not available"),
])
def test_translation_errors_name_the_expression(events: pa.Table, query: str, fragment: str) -> None:
    with pytest.raises(MalformedQueryError) as e:
        run_query(events, query)
    assert fragment in e.value.message


@given(st.text(alphabet="abc|=()[]\"'/#*, 0123456789\n", max_size=30))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_fails_with_a_position_inside_it(text: str) -> None:
    try:
        parse_query(text)
    except MalformedQueryError as e:
        assert 0 <= e.start <= max(len(text), 1)
        assert e.end >= e.start


# ---------------------------------------------------------------------------------------- translation
def test_discovered_fields_and_default_order_and_limit(events: pa.Table) -> None:
    rows = run_query(events, "fields @timestamp, srcAddr, startTime").table.to_pylist()
    assert rows[0]["startTime"] == T0 + 39 * 60  # newest first without a sort
    assert len(rows) == 40
    assert run_query(events, "fields srcAddr", limit=3).table.num_rows == 3
    # "filter (duration>2000)" alone shows "the @timestamp and all log data in the @message field"
    assert run_query(events, "filter dstPort = 22").table.column_names == ["@timestamp", "@message"]
    where = run_query(events, "where dstPort = 22").table  # where: filter's alias
    assert where.equals(run_query(events, "filter dstPort = 22").table)
    assert where.num_rows == _sql(events, "SELECT count(*) AS n FROM ev WHERE dstPort = 22")[0]["n"]


@pytest.mark.parametrize(("query", "sql"), [
    ('filter srcAddr like "130" | stats count(*) as n',
     "SELECT count(*) AS n FROM ev WHERE contains(srcAddr, '130')"),
    ("filter srcAddr like /^192\\.0\\.2\\.1$/ | stats count(*) as n",
     "SELECT count(*) AS n FROM ev WHERE srcAddr = '192.0.2.1'"),
    ("filter srcAddr =~ /^198/ or dstPort in [22] | stats count(*) as n",
     "SELECT count(*) AS n FROM ev WHERE srcAddr LIKE '198%' OR dstPort = 22"),
    ("filter dstPort not in [22, 80] and action != 'ACCEPT' | stats count(*) as n",
     "SELECT count(*) AS n FROM ev WHERE dstPort NOT IN (22, 80) AND action <> 'ACCEPT'"),
    ('filter dstPort = "443" and not srcAddr like "2001" | stats sum(bytes) as b',
     "SELECT sum(bytes) AS b FROM ev WHERE dstPort = 443 AND srcAddr NOT LIKE '%2001%'"),
    ('filter isIpv4InSubnet(srcAddr, "192.0.2.128/25") | stats count(*) as n',
     "SELECT count(*) AS n FROM ev WHERE srcAddr = '192.0.2.130'"),
    ('filter isIpInSubnet(srcAddr, "2001:db8::/32") | stats count(*) as n',
     "SELECT count(*) AS n FROM ev WHERE srcAddr LIKE '2001:db8:%'"),
    ("stats avg(bytes / packets) as a, max(bytes) - min(bytes) as spread, count(srcAddr) as c",
     "SELECT avg(bytes / packets) AS a, max(bytes) - min(bytes) AS spread, count(srcAddr) AS c FROM ev"),
    ("stats count_distinct(dstAddr) as d, earliest(srcPort) as e, latest(srcPort) as l by interfaceId "
     "| sort interfaceId",
     "SELECT interfaceId, count(DISTINCT dstAddr) AS d, arg_min(srcPort, \"@timestamp\") AS e, "
     "arg_max(srcPort, \"@timestamp\") AS l FROM ev GROUP BY 1 ORDER BY 1 NULLS LAST"),
    ("stats pct(bytes, 50) as p, percentile(bytes, 90) as p90",
     "SELECT quantile_disc(bytes, 0.5) AS p, quantile_disc(bytes, 0.9) AS p90 FROM ev"),
    ('fields trim(concat("  ", action, " ")) as a, ltrim("xyZfooxyZ", "xyZ") as l, rtrim("xyZfooxyZ", "xyZ") as r, '
     'substr("xyZfooxyZ", 3, 3) as s | display a, l, r, s | limit 1',
     "SELECT action AS a, 'fooxyZ' AS l, 'xyZfoo' AS r, 'foo' AS s FROM ev ORDER BY \"@timestamp\" DESC LIMIT 1"),
    ("stats count(*) as n by bin(10m) as t | sort t desc | limit 2",
     "SELECT time_bucket(INTERVAL 10 MINUTE, \"@timestamp\") AS t, count(*) AS n FROM ev GROUP BY 1 "
     "ORDER BY 1 DESC LIMIT 2"),
    ("fields bytes * 8 as bits | filter bits > 10000 | stats sum(bits) as s",
     "SELECT sum(bytes * 8) AS s FROM ev WHERE bytes * 8 > 10000"),
    ('parse @message "* * * * *" as v, acct, eni, src, rest | filter src = "192.0.2.1" | stats count(*) as n',
     "SELECT count(*) AS n FROM ev WHERE srcAddr = '192.0.2.1'"),
    ("parse @message /^\\d+ \\d+ (?<eni>eni-\\d) / | stats count(*) as n by eni | sort eni",
     "SELECT interfaceId AS eni, count(*) AS n FROM ev GROUP BY 1 ORDER BY 1"),
    ("filter ispresent(srcAddr) and strlen(srcAddr) > 11 | stats count(*) as n",
     "SELECT count(*) AS n FROM ev WHERE length(srcAddr) > 11"),
    ("filter nosuchfield = 1 | stats count(*) as n", "SELECT 0 AS n"),
])
def test_commands_agree_with_hand_written_sql(events: pa.Table, query: str, sql: str) -> None:
    assert _insights(events, query) == _sql(events, sql)


def test_sort_dedup_display(events: pa.Table) -> None:
    got = _insights(events, "filter ispresent(dstPort) | sort bytes desc | dedup dstPort | display dstPort, bytes")
    want = _sql(events, "SELECT dstPort, max(bytes) AS bytes FROM ev WHERE dstPort IS NOT NULL GROUP BY 1 "
                        "ORDER BY 2 DESC")
    assert got == want
    kept = _insights(events, "dedup srcAddr | stats count(*) as n")
    # events without srcAddr (NODATA) are never duplicates (docs/insights.md)
    assert kept == _sql(events, "SELECT (SELECT count(DISTINCT srcAddr) FROM ev) + "
                                "(SELECT count(*) FROM ev WHERE srcAddr IS NULL) AS n")


def test_wire_rows_are_strings_without_empty_fields(events: pa.Table) -> None:
    r = run_query(events, 'filter logStatus = "NODATA" | fields @timestamp, srcAddr, logStatus | limit 1')
    (row,) = r.rows()
    assert [f["field"] for f in row] == ["@timestamp", "logStatus", "@ptr"]  # no srcAddr: "-" is no value
    assert row[0]["value"] == "2023-11-14 22:43:20.000"  # the newest NODATA event: T0 + 30 min
    assert r.statistics == {"recordsMatched": 3.0, "recordsScanned": 40.0,
                            "bytesScanned": float(sum(len(m) for m in _messages()))}
    (avg,) = run_query(events, "stats avg(packets) as a").rows()
    assert avg == [{"field": "a", "value": repr(766 / 37)}]  # NODATA events (no packets) are not averaged


# ---------------------------------------------------------------------------------------- fields and loading
@pytest.mark.parametrize(("field", "name"), [
    ("srcaddr", "srcAddr"), ("start", "startTime"), ("end", "endTime"), ("log-status", "logStatus"),
    ("account-id", "accountId"), ("vpc-id", "vpcId"), ("pkt-srcaddr", "pktSrcAddr"), ("tcp-flags", "tcpFlags"),
    ("pkt-dst-aws-service", "pktDstAwsService"), ("flow-direction", "flowDirection"),
])
def test_insights_field_names(field: str, name: str) -> None:
    assert insights_name(field) == name


def test_custom_and_default_formats_in_one_group() -> None:
    custom = parse_log_format("${version} ${vpc-id} ${srcaddr} ${dstaddr} ${tcp-flags} ${action}")
    msgs = ["5 vpc-0a1b2c3d srcaddr-bad 10.0.0.1 2 ACCEPT", "5 vpc-0a1b2c3d 10.0.0.9 10.0.0.1 18 ACCEPT",
            f"2 {ACCT} eni-1 10.0.0.2 10.0.0.3 1 2 6 1 2 3 4 REJECT OK", "not a record"]
    batch = pa.table({"timestamp": pa.array([1000, 2000, 3000, 4000], pa.int64()),
                      "ingestion_time": pa.array([5000] * 4, pa.int64()), "event_id": pa.array(range(4), pa.int64()),
                      "message": pa.array(msgs, pa.large_string()), "stream": pa.array(["s"] * 4)})
    ev = events_table([GroupEvents("g", ACCT, batch, (custom, parse_log_format(None)))])
    rows = run_query(ev, "fields @message, vpcId, srcAddr, tcpFlags, logStatus | sort @timestamp asc").table
    assert rows.column("srcAddr").to_pylist() == ["srcaddr-bad", "10.0.0.9", "10.0.0.2", None]
    assert rows.column("vpcId").to_pylist() == ["vpc-0a1b2c3d", "vpc-0a1b2c3d", None, None]
    assert rows.column("tcpFlags").to_pylist() == [2, 18, None, None]
    assert rows.column("logStatus").to_pylist() == [None, None, "OK", None]


def test_decode_lines_keeps_one_row_per_message() -> None:
    lines = pa.array([f"2 {ACCT} eni-1 10.0.0.1 10.0.0.2 1 2 6 1 2 3 4 ACCEPT OK", "2 bad", None,
                      f"2 {ACCT} eni-1 10.0.0.1 10.0.0.2 1 2 6 1 2 3 4 ACCEPT OK\nsecond line",
                      "2 - - - - - - - - - 1 2 - NODATA"])
    table, ok = decode_lines(lines, parse_log_format(None))
    assert ok.tolist() == [True, False, False, False, True]
    assert table.num_rows == 5
    assert table.column("srcaddr").to_pylist() == ["10.0.0.1", None, None, None, None]
    assert table.column("log_status").to_pylist() == ["OK", None, None, None, "NODATA"]


def test_event_columns_come_out_aligned(tmp_path: Path) -> None:
    with LogStore(tmp_path / "logs.db") as store:
        store.create_log_group(logGroupName="g")
        store.create_log_stream(logGroupName="g", logStreamName="s")
        msgs = [f"événement {i} ✓" * (1 + i % 3) for i in range(250)]
        ts = np.array([1000 + (i * 7919) % 500 for i in range(250)], dtype=np.int64)
        order = np.argsort(ts, kind="stable")  # PutLogEvents wants chronological order
        store.put_events("g", "s", ts[order], pa.array(msgs).take(pa.array(order)), enforce_age=False)
        batches = list(store.iter_event_columns("g", "s", start_ms=1100, end_ms=1399, batch=64))
    got = pa.Table.from_batches(batches)
    want = sorted((int(t), m) for t, m in zip(ts, msgs, strict=True) if 1100 <= t <= 1399)
    pairs = sorted(zip(got.column("timestamp").to_pylist(), got.column("message").to_pylist(), strict=True))
    assert pairs == want
    assert len(set(got.column("event_id").to_pylist())) == len(want)


def test_limits_default_and_explicit(events: pa.Table) -> None:
    many = pa.concat_tables([events] * 260)  # 10,400 events
    assert run_query(many, "fields @timestamp").table.num_rows == 10_000  # AWS's default
    assert run_query(many, "fields @timestamp | limit 10400").table.num_rows == 10_400  # up to 100,000 allowed
    assert run_query(many, "fields @timestamp | limit 50", limit=20).table.num_rows == 20  # the smaller wins
    assert run_query(many, "fields @timestamp", limit=10_300).table.num_rows == 10_300


@given(st.integers(0, 45), st.integers(0, 5000), st.sampled_from(["and", "or"]), st.booleans())
@settings(max_examples=60, deadline=None)
def test_filter_logic_matches_numpy(events: pa.Table, a: int, b: int, op: str, negate: bool) -> None:
    cond = f"packets > {a} {op} bytes <= {b}"
    query = f"filter {'not ' if negate else ''}({cond}) | stats count(*) as n"
    (row,) = run_query(events, query).table.to_pylist()
    packets = events.column("packets").to_numpy(zero_copy_only=False)
    byts = events.column("bytes").to_numpy(zero_copy_only=False)
    present = ~np.isnan(packets.astype(float))
    p, q = packets[present] > a, byts[present] <= b
    hit = (p & q) if op == "and" else (p | q)
    # events without packets/bytes (NODATA) match neither a comparison nor its negation (docs/insights.md)
    assert row["n"] == int((~hit if negate else hit).sum())


def test_no_events() -> None:
    empty = pa.table({"timestamp": pa.array([], pa.int64()), "ingestion_time": pa.array([], pa.int64()),
                      "event_id": pa.array([], pa.int64()), "message": pa.array([], pa.large_string()),
                      "stream": pa.array([], pa.string())})
    ev = events_table([GroupEvents("g", ACCT, empty, (parse_log_format(None),))])
    r = run_query(ev, "fields srcAddr | filter dstPort = 22")
    assert r.table.num_rows == 0 and r.rows() == []
    assert r.statistics == {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}
    assert run_query(events_table([]), "stats count(*) as n").table.to_pylist() == [{"n": 0}]


def test_parse_glob_with_special_characters_and_regex_groups() -> None:
    # The glob of CWL_QuerySyntax's parse example, with regex metacharacters around the stars.
    msgs = ["[ERROR] user=bob, method:GET, latency := 12 (a.b/c-d) $x^", "[INFO] user=al, method:PUT, latency := 7"]
    batch = pa.table({"timestamp": pa.array([1000, 2000], pa.int64()), "ingestion_time": pa.array([1, 2], pa.int64()),
                      "event_id": pa.array([1, 2], pa.int64()), "message": pa.array(msgs, pa.large_string()),
                      "stream": pa.array(["s", "s"])})
    ev = events_table([GroupEvents("g", ACCT, batch, (parse_log_format(None),))])
    got = run_query(ev, 'parse "[*] user=*, method:*, latency := * (*) $*^" as level, user, method, latency, p, d '
                        "| display level, user, latency, p, d").table.to_pylist()
    assert got == [{"level": None, "user": None, "latency": None, "p": None, "d": None},  # no match: no fields
                   {"level": "ERROR", "user": "bob", "latency": "12", "p": "a.b/c-d", "d": "x"}]
    rest = run_query(ev, 'parse @message "user=*, method:*, latency := *" as user, method, latency '
                         "| sort method | display method, latency").table.to_pylist()
    # the trailing * takes the rest of the message; the others as little as they can
    assert rest == [{"method": "GET", "latency": "12 (a.b/c-d) $x^"}, {"method": "PUT", "latency": "7"}]
    rx = run_query(ev, r"parse @message /\[(?<level>\w+)\] user=(?<user>\w+)/ | display level, user").table
    assert rx.to_pylist() == [{"level": "INFO", "user": "al"}, {"level": "ERROR", "user": "bob"}]


def test_several_log_groups_with_their_own_formats() -> None:
    custom = parse_log_format("${version} ${srcaddr} ${dstaddr} ${flow-direction}")

    def group(name: str, msgs: list[str], fmt: Any) -> GroupEvents:
        n = len(msgs)
        return GroupEvents(name, ACCT, pa.table({
            "timestamp": pa.array(range(n), pa.int64()), "ingestion_time": pa.array(range(n), pa.int64()),
            "event_id": pa.array(range(n), pa.int64()), "message": pa.array(msgs, pa.large_string()),
            "stream": pa.array(["s"] * n)}), (fmt,))

    ev = events_table([
        group("/a", [f"2 {ACCT} eni-1 10.0.0.{i} 10.0.0.9 1 2 6 1 2 3 4 ACCEPT OK" for i in range(3)],
              parse_log_format(None)),
        group("/b", [f"5 10.0.1.{i} 10.0.0.9 ingress" for i in range(2)], custom),
    ])
    got = run_query(ev, "stats count(*) as n, count(flowDirection) as d, count(action) as a by @log "
                        "| sort @log").table.to_pylist()
    assert got == [{"@log": f"{ACCT}:/a", "n": 3, "d": 0, "a": 3}, {"@log": f"{ACCT}:/b", "n": 2, "d": 2, "a": 0}]
    both = run_query(ev, 'filter isIpv4InSubnet(srcAddr, "10.0.0.0/23") | stats count(*) as n').table
    assert both.to_pylist() == [{"n": 5}]
