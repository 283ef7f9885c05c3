"""``vpcflow run --cluster/--workers``: bad input is one line naming the parameter, exit 2 (docs/bulk.md);
vpcflow imports no Dask unless a run asks for it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.integration.run_kit import cli, write_config, write_scenario

from vpcflow.core.errors import ConfigError


def _run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli("run", *args), capture_output=True, text=True, timeout=timeout)


def _one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for n in needles:
        assert n in lines[0]


@pytest.fixture
def scenario_config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "run.yaml", write_scenario(tmp_path / "s.yaml", seed=1), duration_s=5)


@pytest.mark.parametrize("n", ["0", "-3"])
def test_workers_below_one_is_refused_naming_the_parameter(scenario_config: Path, tmp_path: Path, n: str) -> None:
    _one_line_error(_run(scenario_config, "--data-dir", tmp_path / "d", "--workers", n), "--workers", "at least 1")


def test_cluster_and_workers_together_are_refused(scenario_config: Path, tmp_path: Path) -> None:
    _one_line_error(_run(scenario_config, "--data-dir", tmp_path / "d", "--workers", "2", "--cluster",
                         "tcp://127.0.0.1:1"), "--workers", "either")


def test_a_tap_cannot_be_combined_with_a_cluster(scenario_config: Path, tmp_path: Path) -> None:
    _one_line_error(_run(scenario_config, "--data-dir", tmp_path / "d", "--workers", "1", "--tap", "aggregate"),
                    "--tap")


def test_an_unreachable_scheduler_is_one_line_naming_cluster(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from tests.integration.bulk_kit import write_config as bulk_config

    pcap = tmp_path / "eni.pcap"
    pcap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))  # an empty pcap
    config = bulk_config(tmp_path, {"eni-07ed21d013c48757d": pcap})
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _run(config, "--data-dir", tmp_path / "d", "--cluster", f"tcp://127.0.0.1:{port}")
    _one_line_error(done, "--cluster", "cannot reach a Dask scheduler")


def test_a_source_without_capture_interface_is_refused_before_anything_runs(scenario_config: Path,
                                                                            tmp_path: Path) -> None:
    done = _run(scenario_config, "--data-dir", tmp_path / "d", "--workers", "1")
    _one_line_error(done, "sources[0]", "capture interface")
    assert not (tmp_path / "d").exists()  # no flow log created, no data directory made


def test_output_cannot_be_combined_with_a_cluster(scenario_config: Path, tmp_path: Path) -> None:
    _one_line_error(_run(scenario_config, "--data-dir", tmp_path / "d", "--workers", "2", "--output",
                         tmp_path / "out"), "--output", "workers deliver")


def test_vpcflow_imports_no_dask_for_a_single_process_run() -> None:
    code = ("import sys, vpcflow.cli.main, vpcflow.cli.run, vpcflow.runtime.run, vpcflow.runtime.bulk_tasks; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))))")
    done = subprocess.run([sys.executable, "-c", code], check=True, timeout=120, capture_output=True, text=True)
    assert done.stdout.split() == []


def test_without_dask_the_cluster_option_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from vpcflow.runtime import bulk

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ConfigError, match=r"--cluster.*pip install 'vpcflow\[dask\]'"), \
            bulk.dask_client("tcp://127.0.0.1:1", None):
        pass
