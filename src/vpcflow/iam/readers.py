"""Who may read flow-log records back from the CloudWatch Logs store (spec 8.4, wire 1.4 "Reader").

AWS's reading actions and the resources they are authorized on:

| action | resource |
|---|---|
| ``logs:GetLogEvents`` | ``arn:aws:logs:R:A:log-group:G:log-stream:S`` |
| ``logs:FilterLogEvents``, ``logs:DescribeLogStreams`` | ``arn:aws:logs:R:A:log-group:G`` |
| ``logs:DescribeLogGroups`` | ``arn:aws:logs:R:A:log-group:*`` |

A policy naming ``logs:GetLogData`` (older study material) grants GetLogEvents and FilterLogEvents:
the evaluator's documented alias. A refusal is CloudWatch Logs' JSON error
``AccessDeniedException`` with "User: ARN is not authorized to perform: ACTION on resource: ARN".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vpcflow.core.api_errors import LogsAccessDeniedError
from vpcflow.iam.delivery import log_group_arn, log_stream_arn
from vpcflow.iam.evaluator import Decision
from vpcflow.iam.principals import Principal
from vpcflow.iam.world import IamWorld

READ_ACTIONS = ("logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams", "logs:DescribeLogGroups")


def read_resource(
    action: str, region: str, account_id: str, log_group_name: str | None, stream: str | None = None
) -> str:
    """The resource ARN ``action`` is authorized on (table above)."""
    a = action.lower()
    if a == "logs:describeloggroups":
        return log_group_arn(region, account_id, "*")
    if not log_group_name:
        raise ValueError(f"{action} needs a log group name")
    if a == "logs:getlogevents":
        if not stream:
            raise ValueError("logs:GetLogEvents needs a log stream name")
        return log_stream_arn(region, account_id, log_group_name, stream)
    if a in ("logs:filterlogevents", "logs:describelogstreams"):
        return log_group_arn(region, account_id, log_group_name)
    raise ValueError(f"{action} is not a CloudWatch Logs read action (expected one of {', '.join(READ_ACTIONS)})")


def authorize_log_read(
    world: IamWorld,
    principal: str | Principal,
    action: str,
    region: str,
    account_id: str,
    log_group_name: str | None = None,
    streams: Sequence[str] = (),
    context: Mapping[str, str | Sequence[str]] | None = None,
) -> Decision:
    """The decision for one read call (every named stream must be allowed for GetLogEvents)."""
    if action.lower() == "logs:getlogevents":
        resources = [read_resource(action, region, account_id, log_group_name, s) for s in streams] or [
            read_resource(action, region, account_id, log_group_name, "*")
        ]
    else:
        resources = [read_resource(action, region, account_id, log_group_name)]
    return world.authorize(principal, action, resources, context)


def require_log_read(
    world: IamWorld,
    principal: str | Principal,
    action: str,
    region: str,
    account_id: str,
    log_group_name: str | None = None,
    streams: Sequence[str] = (),
    context: Mapping[str, str | Sequence[str]] | None = None,
) -> Decision:
    """Like ``authorize_log_read`` but raises ``LogsAccessDeniedError`` with AWS's message when refused."""
    d = authorize_log_read(world, principal, action, region, account_id, log_group_name, streams, context)
    if not d.allowed:
        msg = f"User: {d.principal} is not authorized to perform: {action} on resource: {d.resource}"
        if d.effect == "Deny":
            msg += " with an explicit deny"  # AWS appends this for explicit denies
        raise LogsAccessDeniedError(msg)
    return d
