"""Start-up of the ``vpcflow`` command (issue 10, item 4): ``--help`` lists every command without
importing them, and the summaries it prints are each command's own."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from vpcflow.cli.main import COMMANDS, SUMMARY_LIMIT, main


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
    assert loaded == ["vpcflow.cli.main"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code in (0, None)
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in text
