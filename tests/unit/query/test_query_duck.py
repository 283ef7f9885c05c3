"""The vpc_flow_logs DuckDB view over text and Parquet files (spec 8.1 column types)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vpcflow.core.errors import ConfigError, ReadError
from vpcflow.query.duck import FlowLogDatabase, find_log_files, flow_log_id_of

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
LINES = [
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
]
NAME = "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20141214T0405Z_abcdef12"


def _write_text(folder: Path) -> Path:
    p = folder / f"{NAME}.log.gz"
    p.write_bytes(gzip.compress(("\n".join([HEADER, *LINES]) + "\n").encode()))
    return p


def _write_parquet(folder: Path) -> Path:
    p = folder / f"{NAME.replace('abcdef12', '12345678')}.log.parquet"
    table = pa.table({
        "version": pa.array([2, 2, 2], pa.int32()),
        "account_id": ["123456789010"] * 3,
        "interface_id": ["eni-1235b8ca123456789"] * 3,
        "srcaddr": ["172.31.16.139", "172.31.9.69", None],
        "dstaddr": ["172.31.16.21", "172.31.9.12", None],
        "srcport": pa.array([20641, 49761, None], pa.int32()),
        "dstport": pa.array([22, 3389, None], pa.int32()),
        "protocol": pa.array([6, 6, None], pa.int32()),
        "packets": pa.array([20, 20, None], pa.int64()),
        "bytes": pa.array([4249, 4249, None], pa.int64()),
        "start": pa.array([1418530010, 1418530010, 1431280876], pa.int64()),
        "end": pa.array([1418530070, 1418530070, 1431280934], pa.int64()),
        "action": ["ACCEPT", "REJECT", None],
        "log_status": ["OK", "OK", "NODATA"],
    })
    pq.write_table(table, p, compression="gzip")
    return p


def _db(*paths: Path) -> FlowLogDatabase:
    db = FlowLogDatabase()
    db.add_files(list(paths))
    db.create_view()
    return db


def test_view_types_match_athena_ddl(tmp_path: Path) -> None:
    db = _db(_write_text(tmp_path))
    types = dict(db.columns())
    assert types["version"] == "INTEGER" and types["protocol"] == "BIGINT" and types["srcport"] == "INTEGER"
    assert types["packets"] == "BIGINT" and types["end"] == "BIGINT" and types["log_status"] == "VARCHAR"
    assert types["date"] == "DATE"


def test_dash_is_null_and_flow_log_id_from_file_name(tmp_path: Path) -> None:
    db = _db(_write_text(tmp_path))
    rows = db.query("SELECT srcaddr, packets, log_status, flow_log_id FROM vpc_flow_logs ORDER BY start").to_pylist()
    assert rows[-1] == {"srcaddr": None, "packets": None, "log_status": "NODATA", "flow_log_id": "fl-0123456789abcdef0"}
    assert flow_log_id_of(tmp_path / f"{NAME}.log.gz") == "fl-0123456789abcdef0"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT action, COUNT(*) n, SUM(bytes) b FROM vpc_flow_logs GROUP BY action ORDER BY action",
        "SELECT dstport, SUM(packets) p FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6 GROUP BY 1",
        "SELECT interface_id, log_status, MIN(start), MAX(\"end\") FROM vpc_flow_logs GROUP BY ALL ORDER BY ALL",
    ],
)
def test_text_and_parquet_give_the_same_answers(tmp_path: Path, sql: str) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "p").mkdir()
    text = _db(_write_text(tmp_path / "t"))
    parquet = _db(_write_parquet(tmp_path / "p"))
    assert text.query(sql).to_pylist() == parquet.query(sql).to_pylist()


def test_formats_mix_by_name(tmp_path: Path) -> None:
    other = tmp_path / "x_vpcflowlogs_us-east-1_fl-00000000000000001_20240101T0000Z_00000000.log.gz"
    other.write_bytes(gzip.compress(b"version srcaddr tcp-flags log-status\n3 10.0.0.1 18 OK\n"))
    db = _db(_write_text(tmp_path), other)
    rows = db.query("SELECT srcaddr, tcp_flags, account_id FROM vpc_flow_logs WHERE tcp_flags IS NOT NULL").to_pylist()
    assert rows == [{"srcaddr": "10.0.0.1", "tcp_flags": 18, "account_id": None}]


def test_bad_header_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.log"
    bad.write_text("hello world\n")
    with pytest.raises(ReadError, match=r"bad\.log:1"):
        _db(bad)


def test_bad_sql_is_a_clear_error(tmp_path: Path) -> None:
    db = _db(_write_text(tmp_path))
    with pytest.raises(ConfigError, match="query failed"):
        db.query("SELECT nope FROM vpc_flow_logs")


def test_find_log_files_ignores_other_files(tmp_path: Path) -> None:
    _write_text(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in find_log_files(tmp_path)] == [f"{NAME}.log.gz"]


def test_empty_view_has_default_columns() -> None:
    db = FlowLogDatabase()
    cols = db.create_view()
    assert cols[:3] == ["version", "account_id", "interface_id"]
    assert db.query("SELECT COUNT(*) AS n FROM vpc_flow_logs").to_pylist() == [{"n": 0}]
