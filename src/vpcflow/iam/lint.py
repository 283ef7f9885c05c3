"""``vpcflow iam lint``: problems in a topology's IAM that AWS would accept silently.

Findings (code, severity):

* ``invalid-iam`` (error): the section does not parse (the ConfigError's message and key path).
* ``unknown-action`` (error): an ec2/logs/s3/iam/sts action AWS does not have, e.g. ``logs:GetLogData``
  (vpcflow accepts that one as an alias of GetLogEvents + FilterLogEvents; AWS would just not match it).
* ``unknown-operator`` (error in a Deny - a silent no-op in AWS -, warning in an Allow).
* ``passrole-any-role`` (warning): an Allow of ``iam:PassRole`` (explicitly, or ``iam:*``) on every role;
  worse without an ``iam:PassedToService`` condition.
* ``delivery-role-untrusted`` (error): a role with CloudWatch Logs write permissions (the shape of a
  flow-log delivery role) or passed to ``vpc-flow-logs.amazonaws.com`` that the flow-logs service cannot
  assume (its delivery would fail with "Access error").
* ``delivery-role-missing-actions`` (error): a role the flow-logs service can assume, or one passed
  to it, that lacks some of the five logs actions delivery needs.
* ``literal-variable`` (warning): ``${...}`` in a policy without ``Version: 2012-10-17``, where IAM
  treats it as literal text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vpcflow.core.errors import ConfigError
from vpcflow.iam.actions import CLOUDWATCH_DELIVERY_ACTIONS, is_known
from vpcflow.iam.conditions import is_known_operator
from vpcflow.iam.evaluator import action_matches
from vpcflow.iam.patterns import glob_match
from vpcflow.iam.policy import Policy, parse_policy
from vpcflow.iam.principals import Principal
from vpcflow.iam.world import IamWorld

Severity = Literal["error", "warning"]
Locate = Callable[[str], "str | None"]

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
_PROBE_FLOW_LOG = "fl-0123456789abcdef0"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str
    key_path: str = ""
    location: str | None = None  # file:line when known

    def format(self) -> str:
        where = self.location or ""
        path = f" {self.key_path}:" if self.key_path else ""
        return f"{where}{':' if where else ''}{path} {self.severity}: [{self.code}] {self.message}".lstrip(": ")


@dataclass(frozen=True)
class _Located:
    policy: Policy
    key_path: str  # of the document


def _documents(world: IamWorld, section: Mapping[str, Any]) -> Iterator[_Located]:
    """Every customer policy document with its key path (AWS-managed ones are not linted)."""
    for i, mp in enumerate(section.get("managed_policies") or []):
        arn_suffix = f"policy{mp.get('path') or '/'}{mp['name']}"
        yield _Located(
            world.managed_policies[f"arn:aws:iam::{world.account_id}:{arn_suffix}"],
            f"iam.managed_policies[{i}].document",
        )
    for kind, principals in (("users", world.users), ("roles", world.roles)):
        for i, p in enumerate(principals):
            inline = [pol for pol in p.policies if pol.name.startswith(("user ", "role "))]
            for j, pol in enumerate(inline):
                yield _Located(pol, f"iam.{kind}[{i}].policies[{j}].document")
            if p.trust_policy is not None:
                yield _Located(p.trust_policy, f"iam.{kind}[{i}].trust_policy")


def _statement_findings(loc: _Located) -> Iterator[Finding]:
    pol = loc.policy
    for st in pol.statements:
        sp = st.key_path
        for name, acts in (("Action", st.actions), ("NotAction", st.not_actions)):
            for k, a in enumerate(acts or ()):
                if not is_known(a):
                    extra = ""
                    if a.lower() == "logs:getlogdata":
                        extra = (
                            " (not an AWS action; vpcflow accepts it as logs:GetLogEvents + logs:FilterLogEvents, "
                            "AWS would grant nothing: use those two)"
                        )
                    yield Finding("error", "unknown-action", f"unknown action {a}{extra}", f"{sp}.{name}[{k}]")
        for c in st.conditions:
            if not is_known_operator(c.operator):
                sev: Severity = "error" if st.effect == "Deny" else "warning"
                what = "this Deny never applies" if st.effect == "Deny" else "this Allow never applies"
                yield Finding(
                    sev,
                    "unknown-operator",
                    f"unknown condition operator {c.operator!r}: {what}",
                    f"{sp}.Condition.{c.operator}",
                )
        if pol.version != "2012-10-17":
            texts = (
                list(st.resources or ()) + list(st.not_resources or ()) + [v for c in st.conditions for v in c.values]
            )
            if any("${" in t for t in texts):
                yield Finding(
                    "warning",
                    "literal-variable",
                    "policy variables need Version 2012-10-17; here ${...} is literal text",
                    sp,
                )
        if st.effect == "Allow" and st.actions is not None and st.resources is not None:
            passes = [a for a in st.actions if a != "*" and action_matches(a, "iam:PassRole")]
            any_role = any(glob_match(r, "arn:aws:iam::000000000000:role/any/role-name") for r in st.resources)
            if passes and any_role:
                scoped = any(c.key.lower() == "iam:passedtoservice" for c in st.conditions)
                msg = f"{passes[0]} on every role lets the principal hand any role to any service"
                if scoped:
                    msg = f"{passes[0]} on every role (scoped by iam:PassedToService, but still any role)"
                yield Finding("warning", "passrole-any-role", msg, f"{sp}.Resource")


def _passed_to_flow_logs(world: IamWorld) -> dict[str, str]:
    """Roles some user may pass to vpc-flow-logs.amazonaws.com -> the user who may."""
    out: dict[str, str] = {}
    for u in world.users:
        for r in world.roles:
            d = world.authorize(u, "iam:PassRole", r.arn, {"iam:PassedToService": FLOW_LOGS_SERVICE})
            if d.allowed and d.statement is not None and "Condition" in d.statement:
                out.setdefault(r.arn, u.name)
    return out


def _role_findings(world: IamWorld, region: str) -> Iterator[Finding]:
    passed = _passed_to_flow_logs(world)
    fl_arn = f"arn:aws:ec2:{region}:{world.account_id}:vpc-flow-log/{_PROBE_FLOW_LOG}"
    ctx = {"aws:SourceAccount": world.account_id, "aws:SourceArn": fl_arn}
    group = f"arn:aws:logs:{region}:{world.account_id}:log-group:flow-logs"
    resources = {
        "logs:CreateLogGroup": group,
        "logs:DescribeLogStreams": group,
        "logs:DescribeLogGroups": f"arn:aws:logs:{region}:{world.account_id}:log-group:*",
        "logs:CreateLogStream": f"{group}:log-stream:eni-0123456789abcdef0-all",
        "logs:PutLogEvents": f"{group}:log-stream:eni-0123456789abcdef0-all",
    }
    for i, role in enumerate(world.roles):
        granted = [a for a in CLOUDWATCH_DELIVERY_ACTIONS if _role_allows(world, role, a, resources[a], ctx)]
        writes = "logs:PutLogEvents" in granted or "logs:CreateLogStream" in granted
        trusted = world.service_can_assume(role.arn, FLOW_LOGS_SERVICE, ctx).allowed
        intended = role.arn in passed
        if (writes or intended) and not trusted:
            why = (
                f"user {passed[role.arn]} may pass it to {FLOW_LOGS_SERVICE}"
                if intended
                else "it has CloudWatch Logs write permissions"
            )
            yield Finding(
                "error",
                "delivery-role-untrusted",
                f"role {role.name} looks like a flow-log delivery role ({why}) but its trust policy does not let "
                f"{FLOW_LOGS_SERVICE} assume it: delivery would fail with 'Access error'",
                f"iam.roles[{i}].trust_policy",
            )
        missing = [a for a in CLOUDWATCH_DELIVERY_ACTIONS if a not in granted]
        if (trusted or intended) and missing:
            yield Finding(
                "error",
                "delivery-role-missing-actions",
                f"delivery role {role.name} lacks {', '.join(missing)}: "
                "CloudWatch delivery would fail with 'Access error'",
                f"iam.roles[{i}].policies",
            )


def _role_allows(world: IamWorld, role: Principal, action: str, resource: str, ctx: Mapping[str, str]) -> bool:
    return world.authorize(role, action, resource, ctx).allowed


def lint_iam(
    section: Mapping[str, Any] | None,
    *,
    account_id: str,
    region: str = "us-east-1",
    source: str = "",
    locate: Locate | None = None,
    bucket_policies: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Lint a raw ``iam`` section (and, optionally, bucket policies: key path -> document)."""

    def where(f: Finding) -> Finding:
        loc = (locate(f.key_path) if locate and f.key_path else None) or (source or None)
        return Finding(f.severity, f.code, f.message, f.key_path, loc)

    try:
        world = IamWorld.from_section(section, account_id=account_id, source=source, locate=locate)
    except ConfigError as e:
        return [Finding("error", "invalid-iam", e.message, e.key_path or "iam", e.location or source or None)]
    findings: list[Finding] = []
    for loc in _documents(world, section or {}):
        findings.extend(_statement_findings(loc))
    for path, doc in (bucket_policies or {}).items():
        try:
            pol = parse_policy(doc, name=path, kind="resource", key_path=path)
        except ConfigError as e:
            findings.append(Finding("error", "invalid-policy", e.message, e.key_path or path))
            continue
        findings.extend(_statement_findings(_Located(pol, path)))
    findings.extend(_role_findings(world, region))
    return [where(f) for f in findings]
