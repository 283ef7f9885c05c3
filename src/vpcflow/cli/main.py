"""Entry point of the ``vpcflow`` command.

Subcommands are registered by name -> ``module:attribute`` and imported only when used, so
``vpcflow --help`` stays fast and one broken optional dependency cannot break every command.
Errors raised on purpose (``VpcflowError``) print as one line and exit 2; anything else exits 1.
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any

import click

from vpcflow import __version__
from vpcflow.core.errors import VpcflowError

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
        click.echo("aborted", err=True)
        sys.exit(130)
    except VpcflowError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as e:
        # A full disk or a read-only file system met outside the storage layer's own checks (a side
        # file, an output folder): still one line naming it, never a traceback (issue 13).
        if e.errno not in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise
        from pathlib import Path

        from vpcflow.storage.guard import storage_error

        click.echo(f"error: {storage_error(Path(e.filename or '.'), e)}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
