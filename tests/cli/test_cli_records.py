"""CLI: `vpcflow fields`, `vpcflow format check`, `vpcflow convert` (exit codes and outputs)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpcflow.cli.main import cli, main
from vpcflow.codecs.parquet import read_parquet
from vpcflow.model.fields import VPC_FIELDS

ACCEPT = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
NODATA = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def run(*args: str) -> tuple[int, str, str]:
    """Run ``vpcflow`` through its real entry point (exit codes as a user sees them)."""
    proc = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", *args], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def test_fields_lists_every_vpc_field() -> None:
    result = CliRunner().invoke(cli, ["fields"])
    assert result.exit_code == 0, result.output
    for f in VPC_FIELDS:
        assert f.name in result.output
    assert "tgw-id" not in result.output


def test_fields_version_and_all() -> None:
    v5 = CliRunner().invoke(cli, ["fields", "--version", "5"])
    assert v5.exit_code == 0
    assert "traffic-path" in v5.output and "vpc-id" not in v5.output
    every = CliRunner().invoke(cli, ["fields", "--all", "--markdown"])
    assert "`tgw-id` (TGW)" in every.output
    assert every.output.count("\n| `") == len(VPC_FIELDS) + 18
    bad = CliRunner().invoke(cli, ["fields", "--version", "12"])
    assert bad.exit_code == 2


def test_format_check_ok() -> None:
    code, out, _ = run("format", "check", "${instance-id} ${interface-id} ${pkt-srcaddr}")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "version: 3"
    assert lines[1:] == ["instance_id string instance-id", "interface_id string interface-id",
                         "pkt_srcaddr string pkt-srcaddr"]


def test_format_check_default() -> None:
    code, out, _ = run("format", "check")
    assert code == 0 and out.splitlines()[0] == "version: 2" and len(out.splitlines()) == 15


@pytest.mark.parametrize(
    ("fmt", "token"),
    [("${version} ${nope}", "${nope}"), ("${version} ", "trailing space"), ("version", "'version'"),
     ("${version}  ${srcaddr}", "doubled space"), ("${tgw-id}", "${tgw-id}")],
)
def test_format_check_errors_exit_2(fmt: str, token: str) -> None:
    code, out, err = run("format", "check", fmt)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "InvalidParameter" in err and token in err


def test_help_everywhere() -> None:
    for args in (["fields", "--help"], ["format", "--help"], ["format", "check", "--help"], ["convert", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Usage" in result.output


def test_convert_text_parquet_text(tmp_path: Path) -> None:
    src = tmp_path / "in.log.gz"
    src.write_bytes(gzip.compress(f"{HEADER}\n{ACCEPT}\n{NODATA}\n".encode()))
    pq_path = tmp_path / "x.log.parquet"
    code, _, err = run("convert", str(src), str(pq_path))
    assert code == 0, err
    assert "2 records" in err
    assert read_parquet(pq_path).num_rows == 2
    back = tmp_path / "back.log"
    assert run("convert", str(pq_path), str(back))[0] == 0
    assert back.read_text() == f"{HEADER}\n{ACCEPT}\n{NODATA}\n"
    gz = tmp_path / "back.log.gz"
    assert run("convert", str(pq_path), str(gz))[0] == 0
    assert gzip.decompress(gz.read_bytes()).decode() == back.read_text()


def test_convert_headerless_with_format(tmp_path: Path) -> None:
    src = tmp_path / "nat.log"
    src.write_text("- eni-1 10.0.1.5 10.0.0.220\n")
    out = tmp_path / "nat.parquet"
    code, _, err = run("convert", str(src), str(out), "--format", "${instance-id} ${interface-id} ${srcaddr} ${dstaddr}")
    assert code == 0, err
    assert read_parquet(out).column_names == ["instance_id", "interface_id", "srcaddr", "dstaddr"]
    cw = tmp_path / "nat-cw.log"
    assert run("convert", str(out), str(cw), "--no-header")[0] == 0
    assert cw.read_text() == "- eni-1 10.0.1.5 10.0.0.220\n"


def test_convert_strict_error_and_lenient(tmp_path: Path) -> None:
    src = tmp_path / "bad.log"
    src.write_text(f"{HEADER}\n{ACCEPT}\nnot a record\n{ACCEPT.replace(' 22 ', '  22 ')}\n")
    out = tmp_path / "out.parquet"
    code, _, err = run("convert", str(src), str(out))
    assert code == 2
    assert f"{src}:3:" in err and "not a record" in err
    assert not out.exists()
    code, _, err = run("convert", str(src), str(out), "--lenient")
    assert code == 0, err
    assert "1 malformed lines skipped" in err and "1 lines repaired" in err
    assert read_parquet(out).num_rows == 2


def test_convert_missing_input(tmp_path: Path) -> None:
    code, _, err = run("convert", str(tmp_path / "none.log"), str(tmp_path / "x.parquet"))
    assert code == 2 and "does not exist" in err


def test_main_entry_point_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["format", "check", "${bogus}"])
    assert info.value.code == 2
    assert "bogus" in capsys.readouterr().err


def test_docs_field_table_is_the_generated_one() -> None:
    """docs/formats.md pastes `vpcflow fields --all --markdown`: keep it in step with the catalogue."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
    result = CliRunner().invoke(cli, ["fields", "--all", "--markdown"])
    assert result.output.strip() in doc.read_text()


def test_fields_version_6_is_transit_gateway_only() -> None:
    result = CliRunner().invoke(cli, ["fields", "--version", "6"])
    assert result.exit_code == 0 and "no VPC flow-log field has version 6" in result.output
    tgw = CliRunner().invoke(cli, ["fields", "--version", "6", "--all", "--markdown"])
    assert "`tgw-id` (TGW)" in tgw.output and "`vpc-id`" not in tgw.output
