"""`vpcflow read`: filters by time, address/CIDR, port, action, interface and filter pattern; aggregation."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpcflow.cli.main import cli

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
LINES = [
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
    "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
    "2 123456789010 eni-f41c42bf00000000a 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 10 1000 1418530080 1418530090 ACCEPT OK",
]


@pytest.fixture()
def logs(tmp_path: Path) -> Path:
    p = tmp_path / "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20141214T0405Z_abcdef12.log.gz"
    p.write_bytes(gzip.compress(("\n".join([HEADER, *LINES]) + "\n").encode()))
    return p


def _read(logs: Path, *args: str) -> list[str]:
    r = CliRunner().invoke(cli, ["read", "--path", str(logs), *args])
    assert r.exit_code == 0, r.output
    return r.output.splitlines()


def test_text_lines_are_the_records_verbatim_in_time_order(logs: Path) -> None:
    out = _read(logs)
    assert sorted(out) == sorted(LINES)
    assert _read(logs, "--header")[0] == HEADER


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--action", "REJECT"], [1, 4]),
        (["--port", "22"], [0, 5, 6]),
        (["--addr", "203.0.113.12"], [3, 4]),
        (["--src", "172.31.0.0/16", "--action", "ACCEPT"], [0, 6]),
        (["--dst", "2001:db8:1234:a102::/64"], [5]),
        (["--interface", "eni-f41c42bf00000000a"], [5]),
        (["--start", "1432917100", "--end", "1432917143"], [3, 4]),
        (["--start", "2015-05-29T16:31:00Z", "--end", "1432917143"], [3, 4]),
        (["--filter-pattern", '[version, account, eni, source, destination, srcport, destport="22", protocol="6", '
          'packets, bytes, windowstart, windowend, action="REJECT", flowlogstatus]'], []),
        (["--filter-pattern", "[version, accountid, interfaceid, srcaddr = 172.31.9.*, dstaddr, srcport, dstport, "
          "protocol, packets, bytes, start, end, action, logstatus]"], [1]),
        (["--filter-pattern", "NODATA"], [2]),
    ],
)
def test_filters(logs: Path, args: list[str], expected: list[int]) -> None:
    assert sorted(_read(logs, *args)) == sorted(LINES[i] for i in expected)


def test_aggregate_by_conversation(logs: Path) -> None:
    r = CliRunner().invoke(cli, ["read", "--path", str(logs), "--aggregate", "--port", "22", "-o", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert r.stderr.startswith("2 conversation(s) from 3 record(s)")  # the summary, outside the JSON
    by = {(r["srcaddr"], r["port"]): r for r in rows}
    ssh = by[("172.31.16.139", 22)]
    assert (ssh["packets"], ssh["bytes"], ssh["records"], ssh["connections"], ssh["start"], ssh["end"]) == (
        30, 5249, 2, 1, 1418530010, 1418530090)


def test_aggregate_table_summarizes_first_within_80_columns(logs: Path) -> None:
    out = _read(logs, "--aggregate", "-o", "table")
    assert out[0].startswith("5 conversation(s) from 6 record(s)")  # the NODATA record has no flow
    assert max(len(line) for line in out) <= 80
    ssh = next(line for line in out if line.startswith("172.31.16.139     172.31.16.21"))
    assert ssh.split()[2:8] == ["22", "6", "ACCEPT", "5.1", "KiB", "30"]  # bytes in binary units


def test_bad_inputs_are_one_line_errors(logs: Path) -> None:
    from vpcflow.cli.main import main

    for args, msg in ((["--addr", "nope"], "not an IP address"), (["--start", "yesterday"], "ISO 8601")):
        with pytest.raises(SystemExit) as e:
            main(["read", "--path", str(logs), *args])
        assert e.value.code == 2, msg
