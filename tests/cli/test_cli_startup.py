"""Start-up of the ``vpcflow`` command (issue 10, item 4): ``--help`` lists every command without
importing them, and the summaries it prints are each command's own."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from vpcflow.cli.main import COMMANDS, SUMMARY_LIMIT, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_summary_is_the_commands_own_short_help(name: str) -> None:
    module_name, attr = COMMANDS[name][0].split(":")
    command = getattr(importlib.import_module(module_name), attr)
    assert isinstance(command, click.Command)
    assert COMMANDS[name][1] == command.get_short_help_str(limit=SUMMARY_LIMIT)


def test_help_imports_no_subcommand_module() -> None:
    probe = (
        "import sys, json\n"
        "from vpcflow.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('vpcflow.cli.', 'numpy', 'pyarrow')))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert loaded == ["vpcflow.cli.main", "vpcflow.cli.pandas_probes"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code in (0, None)
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in text


#: Modules ``vpcflow run`` to a bucket does not need: pandas and dateutil were pulled in only by
#: pyarrow's probes for their objects (vpcflow.cli.pandas_probes), about 0.25 s of a 1,000-packet run;
#: pyarrow.parquet (with pyarrow.fs and ssl) only writes Parquet, which this run does not; a thread pool
#: (concurrent.futures) only encodes several periods' objects side by side.
NOT_FOR_RUN = ("pandas", "dateutil", "pyarrow.parquet", "pyarrow.fs", "concurrent.futures")


def _modules_loaded_by(args: list[str], env: dict[str, str] | None = None) -> list[str]:
    """The modules a fresh interpreter has loaded after running ``vpcflow ARGS``."""
    probe = (
        "import sys, json\n"
        "from vpcflow.cli.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("args", [["--help"], ["fields"]], ids=["help", "fields"])
def test_listing_commands_import_no_data_library(args: list[str]) -> None:
    loaded = {name.split(".")[0] for name in _modules_loaded_by(args)}
    assert not {"pandas", "pyarrow", "numpy", "duckdb", "boto3"} & loaded


@pytest.mark.parametrize("extra", [[], ["--quiet"]], ids=["summary", "quiet"])
def test_run_on_a_capture_imports_only_what_it_needs(tmp_path: Path, extra: list[str]) -> None:
    config = EXAMPLES / "run" / "pcap-run.yaml"
    loaded = _modules_loaded_by(["run", str(config), "--data-dir", str(tmp_path / "data"), *extra])
    assert "pyarrow" in loaded  # the probe ran a real run
    assert not set(NOT_FOR_RUN) & set(loaded)
    if extra:
        assert "rich.progress" not in loaded  # no progress bar to show
    assert list((tmp_path / "data").rglob("*.log.gz"))


@pytest.mark.parametrize(("args", "not_needed"), [
    (["ec2", "describe-flow-logs"], {"pandas", "pyarrow", "numpy", "duckdb", "rich"}),
    (["logs", "describe-log-groups"], {"pandas", "duckdb", "rich"}),
], ids=["ec2", "logs"])
def test_control_plane_commands_import_no_query_engine(tmp_path: Path, args: list[str], not_needed: set[str]) -> None:
    # Listing flow logs reads state.db; listing log groups reads the log store (whose module uses Arrow
    # for events): no DuckDB (the Insights commands of `vpcflow logs` import it when a query runs), and
    # no rich for JSON output.
    data = tmp_path / "data"
    _modules_loaded_by(["init", "--data-dir", str(data)])
    loaded = {name.split(".")[0] for name in _modules_loaded_by(args, env={"VPCFLOW_DATA_DIR": str(data)})}
    assert "vpcflow" in loaded
    assert not not_needed & loaded
