"""Entry point of the ``vpcflow`` command.

Subcommands are registered by name -> ``module:attribute`` and imported only when used, so
``vpcflow --help`` stays fast and one broken optional dependency cannot break every command.
Errors raised on purpose (``VpcflowError``) print as one line and exit 2; anything else exits 1.
A run stopped by Ctrl-C or SIGTERM (``RunInterrupted``) prints its one line and exits 128 + the
signal's number (130, 143); an unexpected error that stopped a run prints one line with what was
delivered and exits 1 (``VPCFLOW_DEBUG=1`` shows its traceback). A run that finished with records
left in the spool exits 3 (``vpcflow run``).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import Any

import click

from vpcflow import __version__
from vpcflow.core.errors import RunInterrupted, VpcflowError

#: name -> "module:attribute" of a click command or group. Keep sorted by name.
COMMANDS: dict[str, str] = {
    "convert": "vpcflow.cli.convert:command",
    "demo": "vpcflow.cli.demo:command",
    "ec2": "vpcflow.cli.ec2:group",
    "explain": "vpcflow.cli.explain:command",
    "fields": "vpcflow.cli.fields:command",
    "format": "vpcflow.cli.format:group",
    "generate": "vpcflow.cli.generate:command",
    "iam": "vpcflow.cli.iam:group",
    "init": "vpcflow.cli.init:command",
    "logs": "vpcflow.cli.logs:group",
    "query": "vpcflow.cli.query:command",
    "read": "vpcflow.cli.read:command",
    "report": "vpcflow.cli.report:command",
    "run": "vpcflow.cli.run:command",
    "serve": "vpcflow.cli.serve:command",
    "topology": "vpcflow.cli.topology:group",
    "whatif": "vpcflow.cli.whatif:command",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpcflow")
def cli() -> None:
    """vpcflow: AWS VPC Flow Logs, locally and faithfully."""


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; purposeful errors become one line on stderr and exit code 2."""
    try:
        return cli.main(args=argv, prog_name="vpcflow", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted (Ctrl-C)", err=True)
        sys.exit(130)
    except RunInterrupted as e:
        click.echo(str(e), err=True)
        sys.exit(128 + int(getattr(signal, e.reason, signal.SIGINT)))
    except VpcflowError as e:
        click.echo(f"error: {one_line(e)}", err=True)
        sys.exit(2)
    except Exception as e:
        if not getattr(e, "__notes__", None) or os.environ.get("VPCFLOW_DEBUG"):
            raise
        # A run stopped by an unexpected error: say what was delivered, on one line.
        click.echo(f"error: {type(e).__name__}: {one_line(e)}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)


def one_line(e: BaseException) -> str:
    """The error's text and its notes (a stopped run's account of its delivery) on one line."""
    return "; ".join([str(e), *(str(n) for n in getattr(e, "__notes__", []))])


if __name__ == "__main__":  # pragma: no cover
    main()
