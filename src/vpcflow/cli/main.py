"""Entry point of the ``vpcflow`` command.

Subcommands are registered by name -> ``module:attribute`` and imported only when used, so
``vpcflow --help`` stays fast and one broken optional dependency cannot break every command.
Errors raised on purpose (``VpcflowError``) print as one line and exit 2; anything else exits 1.
A run stopped by Ctrl-C or SIGTERM (``RunInterrupted``) prints its one line and exits 128 + the
signal's number (130, 143); an unexpected error that stopped a run prints one line with what was
delivered and exits 1 (``VPCFLOW_DEBUG=1`` shows its traceback). A run that finished with records
left in the spool exits 3 (``vpcflow run``). pyarrow's probes for pandas are refused while a command
runs (vpcflow.cli.pandas_probes): no command uses pandas, and importing it was 0.2 s of a small run.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import signal
import sys
from typing import Any

import click

# vpcflow does no linear algebra, but numpy loads OpenBLAS, whose idle worker threads (one per core)
# spun for about 0.15 s of CPU per run on the 2-core benchmark machine (docs/benchmarks.md). Set
# before anything imports numpy; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from vpcflow import __version__
from vpcflow.cli.pandas_probes import pandas_probes_refused
from vpcflow.core.errors import RunInterrupted, VpcflowError

#: name -> ("module:attribute" of a click command or group, its one-line summary). Keep sorted by name.
#: The summaries let ``vpcflow --help`` list every command without importing any of them (importing them
#: all cost over a second); tests/cli/test_cli_startup.py checks each equals the command's own short help.
COMMANDS: dict[str, tuple[str, str]] = {
    "agent": ("vpcflow.cli.agent:command",
              "Record this host's ENIs for the control plane's flow logs and deliver them (runs until stopped)."),
    "convert": ("vpcflow.cli.convert:command",
                "Convert flow-log records between text (.log/.log.gz) and Parquet (.parquet)."),
    "demo": ("vpcflow.cli.demo:command", "Run the bundled three-tier example end to end and tour what it delivered."),
    "ec2": ("vpcflow.cli.ec2:group", "EC2 flow-log operations (AWS CLI names, flags and output)."),
    "explain": ("vpcflow.cli.explain:command",
                "Explain how security groups and network ACLs treat a request and its reply, and what each network"
                " interface's flow log records (ACCEPT / REJECT /..."),
    "fields": ("vpcflow.cli.fields:command",
               "List the flow-log record fields: name, version, types and when AWS writes `-`."),
    "format": ("vpcflow.cli.format:group", "Work with LogFormat strings (`${field} ${field} ...`)."),
    "generate": ("vpcflow.cli.generate:command",
                 "Generate the packets of SCENARIO (a scenario YAML over a topology) into a pcap any tool reads."),
    "iam": ("vpcflow.cli.iam:group", "IAM tools: simulate a request, lint a topology's policies."),
    "init": ("vpcflow.cli.init:command", "Create (or show) a data directory's account id and region."),
    "logs": ("vpcflow.cli.logs:group", "The embedded CloudWatch Logs store (AWS CLI names, flags and output)."),
    "query": ("vpcflow.cli.query:command",
              "Run SQL over the delivered logs as the view ``vpc_flow_logs`` (AWS's Athena columns and types)."),
    "read": ("vpcflow.cli.read:command", "Print flow-log records from any destination, AWS text lines by default."),
    "report": ("vpcflow.cli.report:command", "Run a named report (or `all`) over the delivered logs."),
    "run": ("vpcflow.cli.run:command",
            "Run CONFIG: create its flow logs, replay its sources and deliver the records."),
    "serve": ("vpcflow.cli.serve:command",
              "Serve EC2 flow-log calls and CloudWatch Logs calls on one port, for boto3 and the AWS CLI."),
    "topology": ("vpcflow.cli.topology:group",
                 "Topology files: the modelled network (VPCs, subnets, ENIs, security groups, NACLs, routes) and IAM."),
    "whatif": ("vpcflow.cli.whatif:command",
               "Replay CONFIG's traffic against its topology and against the topology edited by CHANGE, and summarize"
               " the flows whose action changes: how many,..."),
}

#: The width click's help uses for a command's summary (``get_short_help_str(limit=...)``).
SUMMARY_LIMIT = 150


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the summaries, importing nothing."""
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpcflow")
def cli() -> None:
    """vpcflow: AWS VPC Flow Logs, locally and faithfully."""


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; purposeful errors become one line on stderr and exit code 2.

    Called without ``argv`` (the ``vpcflow`` command itself), the process ends as soon as the command
    has (``_end_process``); with ``argv`` (tests, scripts) it returns or raises ``SystemExit``.
    """
    if argv is not None:
        return _main(argv)
    try:
        _main(None)
        code: Any = 0
    except SystemExit as e:
        code = e.code
    _end_process(code)


def _end_process(code: Any) -> None:
    """End the process with ``code`` (``SystemExit``'s meaning) without tearing the interpreter down.

    Python's teardown frees every module and object one by one: about 0.03 s of a 1.1 s
    ``vpcflow run`` (docs/benchmarks.md) for nothing, since the process ends. Everything the commands
    write is closed by then (files in ``with`` blocks, the state store committed and closed); what
    teardown would still do that matters is done here: the ``atexit`` handlers and flushing stdout and
    stderr. With a thread that is not a daemon still running, the normal exit waits for it.
    """
    import threading

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    elif code is None:
        code = 0
    elif not isinstance(code, int):
        code = 1
    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`vpcflow read | head`)
            stream.flush()
    os._exit(code)


def _main(argv: list[str] | None) -> Any:
    try:
        with pandas_probes_refused():
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
    except OSError as e:
        # A full disk or a read-only file system met outside the storage layer's own checks (a side
        # file, an output folder): still one line naming it, never a traceback (issue 13).
        if e.errno not in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise
        from pathlib import Path

        from vpcflow.storage.guard import storage_error

        click.echo(f"error: {storage_error(Path(e.filename or '.'), e)}", err=True)
        sys.exit(2)


def one_line(e: BaseException) -> str:
    """The error's text and its notes (a stopped run's account of its delivery) on one line."""
    return "; ".join([str(e), *(str(n) for n in getattr(e, "__notes__", []))])


if __name__ == "__main__":  # pragma: no cover
    main()
