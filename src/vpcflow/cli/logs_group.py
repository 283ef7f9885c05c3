"""The ``vpcflow logs`` command group and what its commands share: the context (the data directory's
log store, IAM authorization as ``--principal``) and the AWS CLI's way of running one operation
(errors print ``An error occurred (Code) ...`` and exit 254). ``cli/logs.py`` (the store's commands)
and ``cli/logs_insights.py`` (Logs Insights) register their commands on ``group``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from vpcflow.cli._output import AwsCliGroup, emit_aws_response
from vpcflow.core.api_errors import LogsAccessDeniedError
from vpcflow.core.errors import ApiError
from vpcflow.runtime.client import Ec2Client
from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.logstore import LogStore

AWS_CLI_ERROR_EXIT = 254


class Ctx:
    def __init__(self, data_dir: str | None, principal: str | None) -> None:
        self.data_dir = DataDir.resolve(data_dir)
        self.principal = principal
        self._ec2: Ec2Client | None = None
        self._store: LogStore | None = None

    def store(self) -> LogStore:
        if self._store is None:
            account, region = self.data_dir.settings()
            self.data_dir.ensure()
            self._store = LogStore(self.data_dir.logs_path, account_id=account, region=region)
        return self._store

    def authorize(self, action: str, resource: str) -> None:
        if self._ec2 is None:
            self._ec2 = Ec2Client(self.data_dir, self.principal)
        _topo, world = self._ec2.service.world()
        principal = self.principal or world.root_arn
        decision = world.authorize(principal, action, resource)
        if not decision.allowed:
            who = world.resolve(principal).arn
            raise LogsAccessDeniedError(
                f"User: {who} is not authorized to perform: {action} on resource: {resource} "
                f"because no identity-based policy allows the {action} action"
            )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._ec2 is not None:
            self._ec2.close()


def run_call(ctx: click.Context, operation: str, fn: Callable[[Ctx], dict[str, Any]]) -> None:
    c: Ctx = ctx.obj["ctx"]
    try:
        result = fn(c)
    except ApiError as e:
        click.echo(f"\nAn error occurred ({e.code}) when calling the {operation} operation: {e.message}", err=True)
        sys.exit(AWS_CLI_ERROR_EXIT)
    finally:
        c.close()
    emit_aws_response(operation, result)  # like the AWS CLI, an empty response prints nothing


def clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None and v != ()}


@click.group(cls=AwsCliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", envvar="VPCFLOW_DATA_DIR", default=None, type=click.Path(file_okay=False),
              help="Data directory (default $VPCFLOW_DATA_DIR or ./vpcflow-data).")
@click.option("--principal", envvar="VPCFLOW_PRINCIPAL", default=None,
              help="Caller: IAM user/role ARN, assumed-role ARN or access key id (default: the account root).")
@click.pass_context
def group(ctx: click.Context, data_dir: str | None, principal: str | None) -> None:
    """The embedded CloudWatch Logs store (AWS CLI names, flags and output)."""
    ctx.obj = {"ctx": Ctx(data_dir, principal)}
