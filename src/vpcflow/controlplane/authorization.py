"""Who may call the flow-log operations (spec wire 1.4), using the IAM evaluator of ``vpcflow.iam``.

Checks, all-or-nothing per request as EC2 does:

* ``ec2:CreateFlowLogs`` on the new flow log's ARN and on the target's ARN (``vpc/``, ``subnet/``,
  ``network-interface/``), with ``ec2:Region``, ``ec2:Vpc``/``ec2:Subnet``, ``ec2:ResourceTag/*`` of
  the target and ``aws:RequestTag/*``/``aws:TagKeys`` of the request's tags;
* ``ec2:CreateTags`` on the flow log with ``ec2:CreateAction = CreateFlowLogs`` when the request tags it
  (EC2's tag-on-create rule);
* ``iam:PassRole`` on ``DeliverLogsPermissionArn`` with ``iam:PassedToService = vpc-flow-logs.amazonaws.com``;
* ``logs:CreateLogDelivery`` (resource ``*``) for S3 destinations;
* ``ec2:DescribeFlowLogs`` on ``*``; ``ec2:DeleteFlowLogs`` / ``ec2:CreateTags`` / ``ec2:DeleteTags`` on
  each flow-log ARN.

A refusal is ``UnauthorizedOperation`` (HTTP 403) with AWS's text followed by
``Encoded authorization failure message: <token>``. AWS encrypts that token (STS
DecodeAuthorizationMessage reveals it); vpcflow's is base64url JSON of the same content
(allowed, explicitDeny, matched statement, principal, action, resource, context) and
:func:`decode_authorization_message` reads it back. ``DryRun`` -> ``DryRunOperation`` when allowed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vpcflow.controlplane.errors import UNAUTHORIZED_MESSAGE
from vpcflow.core.api_errors import DryRunOperationError, UnauthorizedOperationError
from vpcflow.iam.evaluator import Decision
from vpcflow.iam.principals import Principal
from vpcflow.iam.world import IamWorld

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"

_ARN_KIND = {"VPC": "vpc", "Subnet": "subnet", "NetworkInterface": "network-interface"}


def resource_arn(region: str, account_id: str, resource_type: str, resource_id: str) -> str:
    """``arn:aws:ec2:REGION:ACCOUNT:vpc/vpc-1`` (and ``subnet/``, ``network-interface/``)."""
    return f"arn:aws:ec2:{region}:{account_id}:{_ARN_KIND[resource_type]}/{resource_id}"


def flow_log_arn(region: str, account_id: str, flow_log_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account_id}:vpc-flow-log/{flow_log_id}"


def encode_authorization_message(decision: Decision, context: Mapping[str, Any]) -> str:
    """vpcflow's readable stand-in for AWS's encrypted authorization failure message."""
    body = {
        "allowed": decision.allowed,
        "explicitDeny": decision.effect == "Deny",
        "matchedStatements": [decision.statement] if decision.statement is not None else [],
        "policy": decision.policy,
        "reason": decision.reason,
        "context": {
            "principal": decision.principal,
            "action": decision.action,
            "resource": decision.resource,
            "conditions": {k: list(v) if isinstance(v, list | tuple) else v for k, v in context.items()},
        },
    }
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_authorization_message(encoded: str) -> dict[str, Any]:
    """Read back :func:`encode_authorization_message` (like ``aws sts decode-authorization-message``)."""
    padded = encoded + "=" * (-len(encoded) % 4)
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return result


@dataclass(frozen=True)
class Check:
    """One authorization question."""

    action: str
    resources: tuple[str, ...]
    context: Mapping[str, str | Sequence[str]]


class Authorizer:
    """Asks the account's :class:`IamWorld` and raises AWS's errors."""

    def __init__(self, world: IamWorld) -> None:
        self.world = world

    def resolve(self, principal: str | None) -> Principal:
        return self.world.resolve(principal if principal else self.world.root_arn)

    def decide(self, principal: Principal, check: Check) -> Decision:
        return self.world.authorize(principal, check.action, check.resources, context=check.context)

    def require(self, principal: Principal, checks: Sequence[Check], *, dry_run: bool = False) -> None:
        """Every check must pass; else ``UnauthorizedOperation``. Then ``DryRunOperation`` if ``dry_run``."""
        for check in checks:
            decision = self.decide(principal, check)
            if not decision.allowed:
                token = encode_authorization_message(decision, dict(check.context))
                raise UnauthorizedOperationError(
                    f"{UNAUTHORIZED_MESSAGE} Encoded authorization failure message: {token}"
                )
        if dry_run:
            raise DryRunOperationError()

    def allowed(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, Any] | None = None
    ) -> bool:
        return self.world.authorize(principal, action, resource, context=context).allowed


def tag_context(tags: Sequence[tuple[str, str]]) -> dict[str, str | list[str]]:
    """``aws:RequestTag/<k>`` and ``aws:TagKeys`` of a request's tags."""
    ctx: dict[str, str | list[str]] = {f"aws:RequestTag/{k}": v for k, v in tags}
    if tags:
        ctx["aws:TagKeys"] = [k for k, _ in tags]
    return ctx


def resource_tag_context(tags: Sequence[tuple[str, str]], prefix: str = "ec2:ResourceTag") -> dict[str, str]:
    out = {f"{prefix}/{k}": v for k, v in tags}
    out.update({f"aws:ResourceTag/{k}": v for k, v in tags})
    return out
