"""The policy evaluator: explicit deny > allow > implicit deny (IAM "policy evaluation logic").

``evaluate`` decides one (principal, action, resource) request against the principal's identity
policies and an optional resource-based policy (bucket policy, or a role's trust policy), and
returns a ``Decision`` that names the policy and statement that decided it.

Rules (spec aws-wire-and-iam.md 1.3):

* An explicit ``Deny`` that applies, in any policy, wins.
* Same account: an ``Allow`` in the identity policy *or* the resource policy suffices. A resource
  policy whose Principal names only the *account* (``123456789012`` / ``arn:aws:iam::ACCT:root``)
  delegates to the account: it does not by itself allow a user or role of that account (they need an
  identity-policy allow), but it does allow the root user, and a Deny naming the account applies to
  every principal of the account.
* Cross account: both sides must allow (identity allow or root; resource-policy allow).
* The account root is allowed everything on its own account's resources, except what an explicit
  Deny in a resource policy refuses (vpcflow choice, docs/iam.md: AWS's bucket-policy lock-out of root
  is a real, documented behaviour).
* Action/NotAction: case-insensitive globs; Resource/NotResource: case-sensitive globs.
  ``logs:GetLogData`` in a policy grants ``logs:GetLogEvents`` and ``logs:FilterLogEvents``
  (vpcflow alias, issue 4 item 6; AWS has no such action).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from vpcflow.iam.conditions import conditions_hold
from vpcflow.iam.patterns import Context, glob_match, glob_regex
from vpcflow.iam.policy import Policy, PrincipalSpec, Statement
from vpcflow.iam.principals import Principal

Effect = Literal["Allow", "Deny", "ImplicitDeny"]

#: Policy action (lower case) -> request actions it also grants (documented vpcflow aliases).
ACTION_ALIASES: dict[str, tuple[str, ...]] = {
    "logs:getlogdata": ("logs:getlogevents", "logs:filterlogevents"),
}


@dataclass(frozen=True)
class Decision:
    """The outcome of one authorization request, with what decided it."""

    allowed: bool
    effect: Effect
    policy: str | None
    statement: dict[str, Any] | None
    reason: str
    sid: str | None = None
    principal: str = ""
    action: str = ""
    resource: str = ""
    notes: tuple[str, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``vpcflow iam simulate --json``, API explanations)."""
        return {
            "action": self.action,
            "resource": self.resource,
            "principal": self.principal,
            "allowed": self.allowed,
            "effect": self.effect,
            "policy": self.policy,
            "sid": self.sid,
            "statement": self.statement,
            "reason": self.reason,
            "notes": list(self.notes),
        }

    def explain(self) -> str:
        """A few lines, like AWS's policy simulator: decision, policy, statement, why."""
        lines = [f"{self.effect}: {self.principal} -> {self.action} on {self.resource}" if self.action else self.effect]
        lines.append(f"  reason: {self.reason}")
        if self.policy is not None:
            lines.append(f"  policy: {self.policy}")
        if self.statement is not None:
            lines.append(f"  statement: {json.dumps(self.statement, sort_keys=True)}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def action_matches(pattern: str, action: str) -> bool:
    """Case-insensitive glob match of a policy action against a request action (with aliases)."""
    if glob_match(pattern, action, ignore_case=True):
        return True
    aliases = ACTION_ALIASES.get(pattern.lower())
    return aliases is not None and action.lower() in aliases


def _principal_match(spec: PrincipalSpec, p: Principal) -> Literal["direct", "account", None]:
    """Does a Principal element name ``p``? ``account`` when only its account is named."""
    if spec.wildcard:
        return "direct"
    result: Literal["direct", "account", None] = None
    for value in spec.values("AWS"):
        if value == "*":
            return "direct"
        if p.kind == "service" or p.kind == "anonymous":
            continue
        if value in (p.account_id, f"arn:aws:iam::{p.account_id}:root"):
            if p.kind == "root":
                return "direct"
            result = "account"
        elif value == p.arn or (p.kind == "role" and p.session_name and value == p.display):
            return "direct"
    if p.kind == "service" and p.service in spec.values("Service"):
        return "direct"
    if p.arn in spec.values("Federated") and p.kind not in ("service", "anonymous"):
        return "direct"
    return result


def _resource_applies(stmt: Statement, resource: str, ctx: Context | None) -> bool:
    if stmt.resources is not None:
        return any(
            (rx := glob_regex(r, ctx)) is not None and rx.fullmatch(resource) is not None for r in stmt.resources
        )
    if stmt.not_resources is not None:
        regexes = [glob_regex(r, ctx) for r in stmt.not_resources]
        if any(rx is None for rx in regexes):
            return False  # an unresolvable variable: the element does not match (docs/iam.md)
        return not any(rx is not None and rx.fullmatch(resource) for rx in regexes)
    return True  # trust policies have no Resource


def _action_applies(stmt: Statement, action: str) -> bool:
    if stmt.actions is not None:
        return any(action_matches(a, action) for a in stmt.actions)
    assert stmt.not_actions is not None
    return not any(action_matches(a, action) for a in stmt.not_actions)


@dataclass(frozen=True, slots=True)
class _Hit:
    policy: Policy
    statement: Statement
    principal_match: Literal["direct", "account", None]


def _scan(
    policy: Policy,
    principal: Principal,
    action: str,
    resource: str,
    context: Context,
    notes: list[str],
) -> list[_Hit]:
    """Statements of ``policy`` that apply to the request."""
    ctx = context if policy.variables_enabled else None
    hits: list[_Hit] = []
    for stmt in policy.statements:
        if not _action_applies(stmt, action):
            continue
        pm: Literal["direct", "account", None] = None
        if stmt.principal is not None:
            pm = _principal_match(stmt.principal, principal)
            if pm is None:
                notes.append(f"{policy.name} {stmt.label}: Principal does not name {principal.display}")
                continue
        elif stmt.not_principal is not None:
            if _principal_match(stmt.not_principal, principal) is not None:
                notes.append(f"{policy.name} {stmt.label}: NotPrincipal excludes {principal.display}")
                continue
            pm = "direct"
        if not _resource_applies(stmt, resource, ctx):
            notes.append(f"{policy.name} {stmt.label}: resource {resource} not matched")
            continue
        failed = conditions_hold(stmt.conditions, context, variables=policy.variables_enabled)
        if failed is not None:
            have = context.get(failed.key.lower())
            shown = "absent" if have is None else json.dumps(list(have))
            notes.append(
                f"{policy.name} {stmt.label}: condition {failed.operator} {failed.key} "
                f"{json.dumps(list(failed.values))} failed (request value: {shown})"
            )
            continue
        hits.append(_Hit(policy, stmt, pm))
    return hits


def account_of(resource: str) -> str | None:
    """The account field of an ARN (None for ``*``, non-ARNs and account-less ARNs such as S3's)."""
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[4]:
        return parts[4]
    return None


def evaluate(
    principal: Principal,
    action: str,
    resource: str,
    context: Context,
    *,
    identity_policies: Sequence[Policy] | None = None,
    resource_policy: Policy | None = None,
    resource_account: str | None = None,
) -> Decision:
    """Decide one request. ``identity_policies`` default to the principal's own policies.

    ``resource_account`` is the account owning the resource (default: the ARN's account field, or
    the principal's account when the ARN has none, as S3 ARNs).
    """
    policies = tuple(principal.policies if identity_policies is None else identity_policies)
    if principal.kind in ("service", "anonymous"):
        policies = ()  # services and anonymous callers have no identity policies
    owner = resource_account or account_of(resource) or principal.account_id
    # A service or anonymous caller has no identity side: the resource policy alone decides.
    same_account = owner == principal.account_id or principal.kind in ("service", "anonymous")
    notes: list[str] = []
    base = {"principal": principal.display, "action": action, "resource": resource}

    identity_hits = [h for p in policies for h in _scan(p, principal, action, resource, context, notes)]
    resource_hits = _scan(resource_policy, principal, action, resource, context, notes) if resource_policy else []

    deny = next((h for h in identity_hits + resource_hits if h.statement.effect == "Deny"), None)
    if deny is not None:
        reason = f"explicitly denied by {deny.statement.label} of {deny.policy.name}"
        return _decision("Deny", reason, deny, notes, base)
    if same_account:
        allowed = _same_account_allow(principal, identity_hits, resource_hits, notes)
    else:
        allowed = _cross_account_allow(principal, owner, identity_hits, resource_hits, notes)
    if allowed is not None:
        hit, why = allowed
        return _decision("Allow", why, hit, notes, base)
    return _decision("ImplicitDeny", f"no statement allows {action} on {resource} (implicit deny)", None, notes, base)


def _decision(effect: Effect, reason: str, hit: _Hit | None, notes: list[str], base: dict[str, str]) -> Decision:
    """The decision, naming the statement that made it (none for the root rule and implicit deny)."""
    return Decision(
        allowed=effect == "Allow",
        effect=effect,
        policy=hit.policy.name if hit else None,
        statement=hit.statement.raw if hit else None,
        sid=hit.statement.sid if hit else None,
        reason=reason,
        notes=tuple(notes),
        **base,
    )


def _first_allow(hits: list[_Hit], *, direct_only: bool = False) -> _Hit | None:
    return next(
        (h for h in hits if h.statement.effect == "Allow" and (not direct_only or h.principal_match == "direct")),
        None,
    )


def _same_account_allow(
    principal: Principal, identity_hits: list[_Hit], resource_hits: list[_Hit], notes: list[str]
) -> tuple[_Hit | None, str] | None:
    """Within one account either side may allow, but a resource policy naming only the account does not."""
    id_allow = _first_allow(identity_hits)
    if id_allow is not None:
        return id_allow, f"allowed by {id_allow.statement.label} of {id_allow.policy.name}"
    res_allow = _first_allow(resource_hits, direct_only=True)
    if res_allow is not None:
        return res_allow, f"allowed by {res_allow.statement.label} of {res_allow.policy.name}"
    if principal.kind == "root":
        return None, f"the account root user may do anything in its own account {principal.account_id}"
    res_account_allow = _first_allow(resource_hits)
    if res_account_allow is not None:
        notes.append(
            f"{res_account_allow.policy.name} {res_account_allow.statement.label} grants to the account only; "
            "the principal needs an identity-policy allow too"
        )
    return None


def _cross_account_allow(
    principal: Principal, owner: str, identity_hits: list[_Hit], resource_hits: list[_Hit], notes: list[str]
) -> tuple[_Hit | None, str] | None:
    """Across accounts both sides must allow: the identity side (or the root) and the resource policy."""
    id_allow = _first_allow(identity_hits)
    resource_side = _first_allow(resource_hits)
    if (id_allow is not None or principal.kind == "root") and resource_side is not None:
        return resource_side, (
            f"cross-account: allowed by {resource_side.statement.label} of {resource_side.policy.name}"
            + (f" and {id_allow.statement.label} of {id_allow.policy.name}" if id_allow else " (account root)")
        )
    if resource_side is None:
        notes.append(f"cross-account request to account {owner}: no resource-policy statement allows it")
    else:
        notes.append("cross-account request: no identity-policy statement allows it")
    return None
