"""What-if replays find exactly the flows a rule change affects."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vpcflow.cli.main import cli
from vpcflow.codecs.addresses import addresses_to_strings
from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.loader import load_topology
from vpcflow.runtime.run import _open_source, _policy_engine
from vpcflow.runtime.run_config import load_run_config
from vpcflow.runtime.whatif import replay

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "examples" / "topology" / "three-tier.yaml"
OFFICE = ipaddress.ip_network("198.51.100.0/24")


@pytest.fixture(scope="module")
def run_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("whatif")
    (d / "scenario.yaml").write_text(f"""
topology: {TOPOLOGY}
start: "2026-11-26T12:00:00Z"
duration: 60s
seed: 11
workloads:
  - {{name: office-ssh, kind: tcp, from: "internet:198.51.100.0/24", to: bastion, port: 22, rate: 0.3,
      request_bytes: [500, 900], response_bytes: [1000, 2000], diurnal: false}}
  - {{name: bf, kind: bruteforce, from: "internet:45.155.205.0/24", to: bastion, port: 22, rate: 1, diurnal: false}}
  - {{name: api, kind: tcp, from: [web-1a], to: [app-1a], port: 8080, rate: 2, request_bytes: [400, 800],
      response_bytes: [1000, 4000], diurnal: false}}
""")
    cfg = d / "run.yaml"
    cfg.write_text(f"topology: {TOPOLOGY}\nsources:\n  - scenario: {d / 'scenario.yaml'}\n")
    return cfg


def _flows(run_config: Path, keep: object) -> set[tuple[str, str, int, int]]:
    """Independently: the (direction, src, sport, dport) flows at the bastion that `keep` selects, from one engine."""
    cfg = load_run_config(run_config)
    topo = load_topology(TOPOLOGY)
    engine = _policy_engine(topo)
    bastion = engine.enis.index("eni-0d141998882628620")
    out: set[tuple[str, str, int, int]] = set()
    for batch in _open_source(cfg.sources[0], topo, False).batches():
        obs = engine.observe(batch)
        at = obs.eni == bastion
        src = addresses_to_strings(obs.src_hi[at], obs.src_lo[at]).to_pylist()
        direction = np.where(obs.direction[at] == 0, "ingress", "egress")
        sport = batch.src_port[obs.packet[at]]
        dport = batch.dst_port[obs.packet[at]]
        for d, s, sp, dp in zip(direction, src, sport, dport, strict=True):
            if keep(d, s, int(sp), int(dp)):  # type: ignore[operator]
                out.add((str(d), s, int(sp), int(dp)))
    return out


def _changed(result_rows: list[dict[str, object]]) -> set[tuple[str, str, int, int]]:
    return {(str(r["direction"]), str(r["srcaddr"]), int(r["srcport"]), int(r["dstport"]))  # type: ignore[call-overload]
            for r in result_rows}


def test_removing_the_office_nacl_rule_rejects_exactly_the_office_ssh(run_config: Path) -> None:
    result = replay(run_config, ROOT / "examples" / "whatif" / "block-office-ssh.yaml")
    rows = result.changed.to_pylist()
    expected = _flows(run_config, lambda d, s, sp, dp: d == "ingress" and dp == 22
                      and ipaddress.ip_address(s) in OFFICE)
    assert expected and _changed(rows) == expected
    assert all(r["before"] == "ACCEPT" and r["after"] == "REJECT" for r in rows)
    assert all(str(r["after_rule"]).startswith("acl-023f13920c335ffd3 inbound rule *") for r in rows)


def test_opening_ssh_accepts_exactly_the_brute_force(run_config: Path) -> None:
    result = replay(run_config, ROOT / "examples" / "whatif" / "open-ssh.yaml")
    rows = result.changed.to_pylist()
    brute = _flows(run_config, lambda d, s, sp, dp: d == "ingress" and dp == 22
                   and ipaddress.ip_address(s) in ipaddress.ip_network("45.155.205.0/24"))
    assert brute and {c for c in _changed(rows) if c[0] == "ingress"} == brute
    ingress = [r for r in rows if r["direction"] == "ingress"]
    assert all(r["before"] == "REJECT" and r["after"] == "ACCEPT" for r in ingress)
    assert all("office" not in str(r["srcaddr"]) for r in rows)


def test_cli_text_output_and_bad_change(run_config: Path, tmp_path: Path) -> None:
    change = str(ROOT / "examples" / "whatif" / "block-office-ssh.yaml")
    r = CliRunner().invoke(cli, ["whatif", str(run_config), "--change", change, "--detail"])
    assert r.exit_code == 0, r.output
    assert "before: ACCEPT" in r.output and "after:  REJECT" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("changes:\n  - remove: security_groups[nope].ingress[0]\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: changes\[0\]"):
        replay(run_config, bad)


def test_cli_summary_comes_first_fits_80_columns_and_matches_the_rows(run_config: Path) -> None:
    change = ROOT / "examples" / "whatif" / "open-ssh.yaml"
    rows = replay(run_config, change).changed.to_pylist()
    r = CliRunner().invoke(cli, ["whatif", str(run_config), "--change", str(change)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    packets = sum(int(x["packets"]) for x in rows)  # type: ignore[call-overload]
    assert lines[0].startswith(f"{len(rows):,} flow outcome(s) changed, {packets:,} of ")
    assert max(len(line) for line in lines) <= 80
    assert "before: " not in r.stdout  # the per-flow paragraphs only with --detail
    # the outcome-change table, checked against the rows counted here
    by: dict[tuple[str, str], list[int]] = {}
    for x in rows:
        acc = by.setdefault((str(x["before"]), str(x["after"])), [0, 0])
        acc[0] += 1
        acc[1] += int(x["packets"])  # type: ignore[call-overload]
    start = lines.index("outcome changes") + 3
    got = {(ln.split()[0], ln.split()[1]): [int(v.replace(",", "")) for v in ln.split()[2:4]]
           for ln in lines[start:start + len(by)]}
    assert got == by
    sources = {str(x["srcaddr"]) for x in rows}
    assert any(s in r.stdout for s in sources)
    detail = CliRunner().invoke(cli, ["whatif", str(run_config), "--change", str(change), "--detail"])
    assert detail.stdout.count("    before: ") == len(rows)
    assert detail.stdout.index("outcome changes") < detail.stdout.index("    before: ")


def test_docs_whatif_exists_and_help_names_it() -> None:
    r = CliRunner().invoke(cli, ["whatif", "--help"])
    assert "docs/whatif.md" in r.output
    text = (ROOT / "docs" / "whatif.md").read_text()
    for word in ("remove", "add", "set", "--detail"):
        assert word in text
