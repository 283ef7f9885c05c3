"""Issue 13 items 8-11: every bad input is one line on stderr and exit 2, never a traceback, and is
refused before anything large is allocated.

Inputs that used to allocate gigabytes (rates, sizes, alias bombs) run in a child process whose
address space is capped (RLIMIT_AS): with the checks in place they fail in the parser, long before
the cap; without them the child dies of MemoryError with a traceback. The others run in-process
through ``main`` (the same error handling as the installed command).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from vpcflow.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "examples" / "topology" / "three-tier.yaml"
BASTION = "eni-0d141998882628620"
MEMORY_CAP = 3 << 30  # far below what the unchecked inputs ask for (7 GiB to 73 TiB)

SCENARIO = """\
topology: {topology}
start: "{start}"
duration: {duration}
seed: {seed}
workloads:
  - name: ssh
    kind: tcp
    from: internet
    to: bastion
    port: 22
    rate: {rate}
    response_bytes: {response}
"""

RUN = """\
topology: {topology}
flow_logs:
  create:
    - ResourceIds: [vpc-097d5b620001373d6]
      ResourceType: VPC
      TrafficType: ALL
      LogDestinationType: s3
      LogDestination: arn:aws:s3:::vpcflow-demo-logs
sources:
  - scenario: {scenario}
{extra}"""


def write_case(tmp_path: Path, extra: str = "", **scenario: object) -> Path:
    """A run config over a one-workload scenario; ``scenario`` overrides its fields."""
    fields: dict[str, object] = {"topology": TOPOLOGY, "start": "2026-01-05T00:00:00Z", "duration": "60s",
                                 "seed": 1, "rate": 1, "response": 1000}
    fields.update(scenario)
    (tmp_path / "s.yaml").write_text(SCENARIO.format(**fields))
    run = tmp_path / "run.yaml"
    run.write_text(RUN.format(topology=TOPOLOGY, scenario=tmp_path / "s.yaml", extra=extra))
    return run


def invoke(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = int(main(argv) or 0)  # a command's ctx.exit(n) comes back as main's return value
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr().err


def run_capped(argv: list[str]) -> tuple[int, str]:
    """``vpcflow ARGV`` in a child limited to MEMORY_CAP bytes of address space."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    proc = subprocess.run([sys.executable, "-c", "from vpcflow.cli.main import main; main()", *argv],
                          capture_output=True, text=True, timeout=300, preexec_fn=cap, env=dict(os.environ))
    return proc.returncode, proc.stderr


def assert_one_line(code: int, err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# ----------------------------------------------------------------------- numbers checked before allocating


@pytest.mark.parametrize(
    ("scenario", "where", "message"),
    [
        ({"rate": "1.0e+8"}, "s.yaml:11: workloads[0].rate", "above the maximum 100000"),
        ({"rate": "1.0e+12"}, "s.yaml:11: workloads[0].rate", "above the maximum 100000"),
        ({"response": "1.0e+12"}, "s.yaml:12: workloads[0].response_bytes", "above the maximum 1e+08"),
        ({"rate": 20000, "response": 100_000_000}, "s.yaml:11: workloads[0].rate", "packets per second"),
    ],
)
def test_huge_rates_and_sizes_are_refused_before_allocating(tmp_path: Path, scenario: dict[str, object],
                                                            where: str, message: str) -> None:
    run = write_case(tmp_path, **scenario)
    code, err = run_capped(["run", str(run), "--data-dir", str(tmp_path / "data")])
    assert_one_line(code, err, where, message)


@pytest.mark.parametrize(
    ("scenario", "extra", "needles"),
    [
        ({}, "    seed: -1\n", ("run.yaml:11: sources[0].seed", "from 0 to")),
        ({"seed": -1}, "", ("s.yaml:4: seed", "from 0 to")),
        ({}, "    duration_s: .nan\n", ("run.yaml:11: sources[0].duration_s", "nan")),
        ({}, "    duration_s: .inf\n", ("run.yaml:11: sources[0].duration_s", "inf")),
        ({"duration": ".inf"}, "", ("s.yaml:3: duration", "finite")),
        ({"rate": ".nan"}, "", ("s.yaml:11: workloads[0].rate", "finite number")),
        ({"rate": ".inf"}, "", ("s.yaml:11: workloads[0].rate", "finite number")),
        ({"start": "1960-01-01"}, "", ("s.yaml:2: start", "between 1970-01-01")),
        ({"start": "9999-12-31T23:59:00Z"}, "", ("s.yaml:2: start", "2100-01-01")),
        ({"start": "2099-12-31T23:59:30Z"}, "", ("s.yaml:2: start", "plus 60 s")),
    ],
)
def test_out_of_range_numbers_and_dates(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        scenario: dict[str, object], extra: str, needles: tuple[str, ...]) -> None:
    run = write_case(tmp_path, extra, **scenario)
    code, err = invoke(["run", str(run), "--data-dir", str(tmp_path / "data")], capsys)
    assert_one_line(code, err, *needles)


# ---------------------------------------------------------------------------------------- files


@pytest.mark.parametrize("which", ["run.yaml", "s.yaml"])
def test_not_utf8_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str) -> None:
    run = write_case(tmp_path)
    target = tmp_path / which
    target.write_bytes(target.read_bytes().replace(b"seed", b"se\xe9d", 1) if which == "s.yaml"
                       else target.read_bytes() + b"# caf\xe9\n")
    line = 4 if which == "s.yaml" else run.read_bytes().count(b"\n")
    code, err = invoke(["run", str(run), "--data-dir", str(tmp_path / "data")], capsys)
    assert_one_line(code, err, f"{target}:{line}", "not UTF-8", "byte 0xe9")


@pytest.mark.parametrize("key", ["topology", "scenario", "capture"])
def test_a_directory_is_named_as_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    run = tmp_path / "run.yaml"
    if key == "topology":
        run.write_text(f"topology: {folder}\nsources:\n  - scenario: {folder}\n")
    else:
        run.write_text(f"topology: {TOPOLOGY}\nsources:\n  - {key}: {folder}\n")
    code, err = invoke(["run", str(run), "--data-dir", str(tmp_path / "data")], capsys)
    assert_one_line(code, err, "is a directory", str(folder))
    assert "does not exist" not in err


def test_topology_commands_say_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = invoke(["topology", "load", str(tmp_path), "--data-dir", str(tmp_path / "data")], capsys)
    assert code == 2 and "Traceback" not in err and "directory" in err


def test_convert_refuses_a_file_that_is_not_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.parquet"
    src.write_bytes(b"hello, not parquet at all\n")
    code, err = invoke(["convert", str(src), str(tmp_path / "out.log")], capsys)
    assert_one_line(code, err, str(src), "not a readable Parquet file")


def test_convert_into_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.log"
    src.write_text("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start "
                   "end action log-status\n2 123456789012 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 ACCEPT OK\n")
    out = tmp_path / "missing" / "out.parquet"
    code, err = invoke(["convert", str(src), str(out)], capsys)
    assert_one_line(code, err, "OUT", f"folder {out.parent} does not exist")


def test_generate_into_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_case(tmp_path)
    out = tmp_path / "missing" / "x.pcap"
    code, err = invoke(["generate", str(tmp_path / "s.yaml"), "--pcap", str(out), "-q"], capsys)
    assert_one_line(code, err, "--pcap", f"folder {out.parent} does not exist")


@pytest.mark.parametrize("region", ["mars-north-9", "us-east", "US-EAST-1", "us-middle-1"])
def test_init_refuses_a_region_that_is_not_aws(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               region: str) -> None:
    code, err = invoke(["init", "--region", region, "--data-dir", str(tmp_path / "d")], capsys)
    assert_one_line(code, err, "region", repr(region), "not an AWS region name")


def test_init_takes_the_regions_topologies_take(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for region in ("eu-central-2", "us-gov-west-1", "ap-southeast-5"):
        code, err = invoke(["init", "--region", region, "--data-dir", str(tmp_path / region)], capsys)
        assert code == 0, err


# ---------------------------------------------------------------------- validate agrees with run


def test_validate_refuses_the_trust_policy_run_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = TOPOLOGY.read_text().replace(
        "            Principal: {Service: vpc-flow-logs.amazonaws.com}\n",
        "            Principal: {Service: vpc-flow-logs.amazonaws.com}\n            Resource: '*'\n", 1)
    topo = tmp_path / "topology.yaml"
    topo.write_text(text)
    line = text.splitlines().index("            Resource: '*'") + 1
    code, err = invoke(["topology", "validate", str(topo)], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{topo}:{line}: iam.roles[0].trust_policy.Statement[0].Resource" in err
    code, load_err = invoke(["topology", "load", str(topo), "--data-dir", str(tmp_path / "d")], capsys)
    assert code == 2 and "trust policy has prohibited field Resource" in load_err


# ------------------------------------------------------------------------------ unknown ENI


def test_interface_naming_an_unknown_eni_is_refused_with_the_enis_that_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vpcflow.dataplane.sources.pcap_writer import write_pcap

    sys.path.insert(0, str(ROOT / "tests" / "golden"))
    from test_dataplane_golden import batch

    write_pcap(tmp_path / "c.pcap", batch([(1418530010, "10.0.1.10", "10.0.2.10", 6, 40000, 22, 60, 0x02)]))
    run = tmp_path / "run.yaml"
    typo = BASTION[:-1] + "9"
    run.write_text(f"topology: {TOPOLOGY}\nflow_logs:\n  ids: []\nsources:\n  - capture: c.pcap\n"
                   f"    interface: {typo}\n")
    code, err = invoke(["run", str(run), "--data-dir", str(tmp_path / "data")], capsys)
    assert_one_line(code, err, f"{run}:5: sources[0].interface", repr(typo), BASTION)
    assert not (tmp_path / "data" / "s3").exists() or not any((tmp_path / "data" / "s3").rglob("*.gz"))


def test_interface_map_naming_an_unknown_eni_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.pcapng").write_bytes(b"")
    run = tmp_path / "run.yaml"
    run.write_text(f"topology: {TOPOLOGY}\nsources:\n  - pcapng: c.pcapng\n    interface_map: {{eth0: eni-nope}}\n")
    code, err = invoke(["run", str(run), "--data-dir", str(tmp_path / "data")], capsys)
    assert_one_line(code, err, "sources[0].interface_map.eth0", "'eni-nope'", BASTION)


# ------------------------------------------------------------------------- hostile documents


def _bomb(key: str) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    return "\n".join([*lines, f"{key}: *a11", ""])


@pytest.mark.parametrize("kind", ["run config", "topology", "scenario"])
def test_alias_bombs_are_refused_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    run = write_case(tmp_path)
    if kind == "run config":
        run.write_text(_bomb("sources"))
        argv = ["run", str(run), "--data-dir", str(tmp_path / "data")]
    elif kind == "topology":
        (tmp_path / "t.yaml").write_text(_bomb("vpcs"))
        argv = ["topology", "validate", str(tmp_path / "t.yaml")]
    else:
        (tmp_path / "s.yaml").write_text(_bomb("workloads"))
        argv = ["generate", str(tmp_path / "s.yaml"), "--pcap", str(tmp_path / "x.pcap"), "-q"]
    code, err = run_capped(argv)
    assert code == 2 and "Traceback" not in err, err
    assert "alias bomb" in err


def test_deep_json_topology_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topo = tmp_path / "deep.json"
    topo.write_text('{"account_id": "123456789012", "vpcs": ' + "[" * 50_000 + "]" * 50_000 + "}")
    code, err = invoke(["topology", "validate", str(topo)], capsys)
    assert code == 2 and "Traceback" not in err and "nested more than 100 levels" in err and f"{topo}:1" in err


def test_generate_overrides_obey_the_scenario_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_case(tmp_path)
    out = str(tmp_path / "x.pcap")
    code, err = invoke(["generate", str(tmp_path / "s.yaml"), "--pcap", out, "--seed", str(2**64), "-q"], capsys)
    assert_one_line(code, err, "seed", "from 0 to")
    code, err = invoke(["generate", str(tmp_path / "s.yaml"), "--pcap", out, "--duration", "400d", "-q"], capsys)
    assert_one_line(code, err, "--duration", "366 days")
    assert not (tmp_path / "x.pcap").exists()


DEEP_JSON = "[" * 100_000 + "]" * 100_000


def test_deep_json_in_every_json_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON read with Python's parser (AWS describe output, policy files and strings, CLI JSON arguments)
    nested past its recursion limit is a one-line error, not a RecursionError traceback."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"Vpcs": ' + DEEP_JSON + "}")
    code, err = invoke(["topology", "import", str(deep), "-o", str(tmp_path / "t.yaml")], capsys)
    assert_one_line(code, err, str(deep), "nested too deep")
    deep.write_text(DEEP_JSON)
    code, err = invoke(["iam", "simulate", "--topology", str(TOPOLOGY), "--action", "s3:GetObject",
                        "--resource-policy", str(deep)], capsys)
    assert_one_line(code, err, str(deep), "nested too deep")
    topo = tmp_path / "policy.yaml"  # a trust policy given as a JSON string, as AWS's API takes it
    topo.write_text(re.sub(r"      trust_policy:\n(?:        .*\n)+", f"      trust_policy: '{DEEP_JSON}'\n",
                           TOPOLOGY.read_text(), count=1))
    code, err = invoke(["topology", "validate", str(topo)], capsys)
    assert code == 2 and "Traceback" not in err and "nested too deep" in err
