"""`vpcflow topology validate|show|import` end to end: output, exit codes, problems with file:line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from vpcflow.cli.main import cli, main
from vpcflow.model.topology.loader import load_topology

ROOT = Path(__file__).resolve().parents[2]
THREE_TIER = ROOT / "examples" / "topology" / "three-tier.yaml"
SMALL = ROOT / "examples" / "topology" / "small.json"
SHOP = ROOT / "tests" / "fixtures" / "aws_cli" / "shop"

BROKEN = """\
vpcs:
  - name: v
    cidr_block: 10.0.0.0/16
    subnets:
      - {name: s, cidr_block: 10.1.0.0/24, availability_zone: us-east-1a}
network_interfaces:
  - {name: e, subnet: s, private_ip: 10.0.0.1, secrity_groups: []}
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_validate_examples_print_counts() -> None:
    code, out, _ = run("topology", "validate", str(THREE_TIER))
    assert code == 0 and "valid" in out and "network interfaces" in out
    code, out, _ = run("topology", "validate", "--json", str(SMALL))
    data = json.loads(out)
    assert code == 0 and data["valid"] is True
    assert data["counts"]["vpcs"] == 1 and data["counts"]["network interfaces"] == 3


def test_validate_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BROKEN)
    code, out, err = run("topology", "validate", str(bad))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1] == f"2 problems in {bad}"
    assert (
        lines[0]
        == f"{bad}:5: vpcs[0].subnets[0].cidr_block: 10.1.0.0/24 is outside the VPC's CIDR blocks (10.0.0.0/16)"
    )
    assert lines[1].startswith(f"{bad}:7: network_interfaces[0].secrity_groups: unknown key 'secrity_groups'")
    assert "did you mean 'security_groups'" in lines[1]
    code, out, _ = run("topology", "validate", "--json", str(bad))
    assert code == 2
    problems = json.loads(out)["problems"]
    assert [p["key_path"] for p in problems] == [
        "vpcs[0].subnets[0].cidr_block",
        "network_interfaces[0].secrity_groups",
    ]


def test_missing_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["topology", "validate", str(tmp_path / "nope.yaml")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.yaml'}: topology file not found"


def test_show_tables_and_json() -> None:
    code, out, _ = run("topology", "show", str(THREE_TIER))
    assert code == 0
    for title in ("VPCs and subnets", "network interfaces", "security groups", "network ACLs", "route tables"):
        assert title in out
    code, out, _ = run("topology", "show", "--json", str(THREE_TIER))
    doc = json.loads(out)
    nat_eni = next(e for e in doc["network_interfaces"] if e["type"] == "nat_gateway")
    assert nat_eni["id"] == "eni-07e05c36bcdd3f440" and nat_eni["requester_managed"] is True
    assert any(g["group_name"] == "default" for g in doc["security_groups"])


def test_show_json_reloads_to_the_same_topology(tmp_path: Path) -> None:
    _, out, _ = run("topology", "show", "--json", str(THREE_TIER))
    normal = tmp_path / "normal.json"
    normal.write_text(out)
    assert load_topology(normal).network_interfaces == load_topology(THREE_TIER).network_interfaces


def test_import_writes_a_valid_topology(tmp_path: Path) -> None:
    out_file = tmp_path / "imported.yaml"
    code, out, err = run("topology", "import", str(SHOP), "-o", str(out_file))
    assert code == 0 and out == ""
    assert f"wrote {out_file}: 2 vpcs, 3 subnets, 5 network interfaces, 5 security groups" in err
    t = load_topology(out_file)
    assert {e.network_interface_id for e in t.network_interfaces} >= {"eni-0b1c2d3e4f5a60001", "eni-0b1c2d3e4f5a60005"}
    code, out, _ = run("topology", "validate", str(out_file))
    assert code == 0


def test_import_to_stdout_and_json(tmp_path: Path) -> None:
    code, out, _ = run("topology", "import", *sorted(str(p) for p in SHOP.glob("*.json")))
    assert code == 0 and yaml.safe_load(out)["region"] == "us-west-2"
    out_json = tmp_path / "imported.json"
    code, _, _ = run("topology", "import", str(SHOP), "-o", str(out_json))
    assert code == 0 and json.loads(out_json.read_text())["account_id"] == "123456789012"


def test_import_notes_and_invalid_result(tmp_path: Path) -> None:
    folder = tmp_path / "partial"
    folder.mkdir()
    for name in ("describe-vpcs.json", "describe-subnets.json", "describe-route-tables.json",
                 "describe-network-interfaces.json", "describe-security-groups.json"):  # fmt: skip
        shutil.copy(SHOP / name, folder / name)
    code, _, err = run("topology", "import", str(folder), "-o", str(tmp_path / "out.yaml"))
    assert "note: rtb-0b0b0b0b0b0b00001: route to 10.30.0.0/16 via pcx-0a1a2a3a4a5a60001 left out" in err
    assert code == 2 and "the imported topology does not validate" in err
    assert "neither this group's VPC nor peered" in err
    assert (tmp_path / "out.yaml").exists()  # written anyway, so it can be fixed by hand


def test_import_unknown_file_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text('{"Reservations": []}')
    with pytest.raises(SystemExit) as exit_info:
        main(["topology", "import", str(odd)])
    assert exit_info.value.code == 2
    assert "cannot tell which describe-* output this is" in capsys.readouterr().err


def test_group_lists_the_load_subcommand() -> None:
    code, out, _ = run("topology", "--help")
    assert code == 0
    for name in ("validate", "show", "import", "load"):
        assert name in out
