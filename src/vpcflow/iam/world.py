"""``IamWorld``: the principals and policies of one account, and the questions asked of them.

Built from the topology file's raw ``iam`` section::

    iam:
      users:    [{name, path?, access_keys: [{access_key_id, secret_access_key}],
                  policies: [{name, document}], managed_policies: [arn...], tags}]
      roles:    [{name, path?, trust_policy, policies: [{name, document}], managed_policies: [arn...], tags}]
      managed_policies: [{name, path?, document}]

``tags`` is a mapping ``{key: value}`` or AWS's list ``[{Key, Value}]``. Managed policies are named by
ARN: customer-managed ones from this section (``arn:aws:iam::ACCT:policy/PATH/NAME``) or the AWS-managed
ones of ``aws_managed.py``. Every problem raises ``ConfigError`` with the key path
(``iam.roles[1].trust_policy.Statement[0].Principal``) and, when a ``locate`` function is given (the
topology loader's line map), ``file:line``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from vpcflow.core.api_errors import AuthFailureError, UnknownPrincipalError
from vpcflow.core.errors import ConfigError
from vpcflow.iam.aws_managed import AWS_MANAGED_POLICIES
from vpcflow.iam.evaluator import Decision, account_of, evaluate
from vpcflow.iam.patterns import normalize_context
from vpcflow.iam.policy import Policy, PolicyKind, parse_policy
from vpcflow.iam.principals import AccessKey, Principal, anonymous_principal, service_principal, unique_id

Locate = Callable[[str], "str | None"]
ContextArg = Mapping[str, "str | Sequence[str]"] | None

_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_PATH = re.compile(r"^/([\x21-\x7e]*/)?$")
_AKID = re.compile(r"^[A-Z0-9]{16,128}$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role(/.*)?/([^/]+)$")
_USER_ARN = re.compile(r"^arn:aws:iam::(\d{12}):user(/.*)?/([^/]+)$")
_ROOT_ARN = re.compile(r"^arn:aws:iam::(\d{12}):root$")
_ASSUMED = re.compile(r"^arn:aws:sts::(\d{12}):assumed-role/([^/]+)/([^/]+)$")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class IamWorld:
    """Users, roles and managed policies of ``account_id``; immutable once built."""

    account_id: str
    users: tuple[Principal, ...] = ()
    roles: tuple[Principal, ...] = ()
    managed_policies: Mapping[str, Policy] = field(default_factory=dict)
    source: str = ""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), compare=False, repr=False)

    # ---------------------------------------------------------------- building
    @classmethod
    def from_section(
        cls,
        section: Mapping[str, Any] | None,
        *,
        account_id: str,
        source: str = "",
        locate: Locate | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> IamWorld:
        """Parse and validate the raw ``iam`` section (``None`` or ``{}``: an account with only its root)."""
        return _Builder(account_id, source, locate).build(section or {}, clock)

    # ---------------------------------------------------------------- lookups
    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:root"

    def root(self) -> Principal:
        return Principal(
            arn=self.root_arn, kind="root", account_id=self.account_id, name="root", userid=self.account_id
        )

    def user(self, name: str) -> Principal:
        for u in self.users:
            if u.name == name:
                return u
        raise UnknownPrincipalError(f"The user with name {name} cannot be found.")

    def role(self, arn_or_name: str) -> Principal:
        """A role by ARN (with path) or by name."""
        m = _ROLE_ARN.match(arn_or_name)
        name = m.group(3) if m else arn_or_name
        for r in self.roles:
            if (r.arn == arn_or_name) if m else (r.name == name):
                return r
        raise UnknownPrincipalError(f"The role with name {name} cannot be found.")

    def secret_for(self, access_key_id: str) -> str:
        """The secret of an access key (for SigV4 verification)."""
        return self._by_key(access_key_id)[1].secret_access_key

    def _by_key(self, access_key_id: str) -> tuple[Principal, AccessKey]:
        for u in self.users:
            for k in u.access_keys:
                if k.access_key_id == access_key_id:
                    return u, k
        raise AuthFailureError("AWS was not able to validate the provided access credentials")

    def resolve(self, principal: str | Principal) -> Principal:
        """An account id / root ARN, a user or role ARN, an assumed-role ARN, an access key id,
        or a service principal name (``vpc-flow-logs.amazonaws.com``)."""
        if isinstance(principal, Principal):
            return principal
        p = principal.strip()
        if p in ("", "root") or p in (self.account_id, self.root_arn):
            return self.root()
        if m := _ROOT_ARN.match(p) or _ACCOUNT.match(p):
            acct = m.group(1) if m.groups() else m.group(0)
            # another account's root: a principal without policies here (cross-account requests)
            return Principal(arn=f"arn:aws:iam::{acct}:root", kind="root", account_id=acct, name="root", userid=acct)
        if m := _USER_ARN.match(p):
            for u in self.users:
                if u.arn == p:
                    return u
            raise UnknownPrincipalError(f"The user with name {m.group(3)} cannot be found.")
        if _ROLE_ARN.match(p):
            return self.role(p)
        if m := _ASSUMED.match(p):
            role = self.role(m.group(2))
            return replace(role, session_name=m.group(3), userid=f"{role.userid}:{m.group(3)}")
        if p.endswith(".amazonaws.com"):
            return service_principal(p)
        if p == "*" or p == "anonymous":
            return anonymous_principal()
        if _AKID.match(p):
            return self._by_key(p)[0]
        raise UnknownPrincipalError(
            f"Unknown principal {principal!r}: expected an account id, an IAM user/role ARN, an access key id "
            "or a service principal",
            code="InvalidParameterValue",
            http_status=400,
        )

    # ---------------------------------------------------------------- decisions
    def context_for(self, principal: Principal, extra: ContextArg = None) -> dict[str, tuple[str, ...]]:
        """The global condition keys AWS fills for ``principal`` (IAM global condition context keys),
        overlaid with ``extra`` (the caller's keys win)."""
        now = self.clock()
        ctx: dict[str, str | Sequence[str]] = {
            "aws:CurrentTime": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now.timestamp())),
            "aws:SecureTransport": "true",
            "aws:PrincipalIsAWSService": "true" if principal.kind == "service" else "false",
        }
        if principal.kind == "service":
            ctx["aws:PrincipalServiceName"] = principal.service
        elif principal.kind != "anonymous":
            ctx["aws:PrincipalArn"] = principal.arn
            ctx["aws:PrincipalAccount"] = principal.account_id
            ctx["aws:PrincipalType"] = principal.principal_type
            ctx["aws:userid"] = principal.userid
            if principal.kind == "user":
                ctx["aws:username"] = principal.name
            for k, v in principal.tags:
                ctx[f"aws:PrincipalTag/{k}"] = v
        ctx.update(extra or {})
        return normalize_context(ctx)

    def authorize(
        self,
        principal: str | Principal,
        action: str,
        resources: str | Sequence[str],
        context: ContextArg = None,
        resource_policy: Mapping[str, Any] | Policy | None = None,
        *,
        resource_account: str | None = None,
        resource_policy_name: str = "resource policy",
    ) -> Decision:
        """Is ``principal`` allowed ``action`` on every one of ``resources``? The first refused
        resource's decision is returned; if all are allowed, the first resource's decision."""
        p = self.resolve(principal)
        rp: Policy | None
        if resource_policy is None or isinstance(resource_policy, Policy):
            rp = resource_policy
        else:
            rp = parse_policy(
                resource_policy, name=resource_policy_name, kind="resource", key_path=resource_policy_name
            )
        items = [resources] if isinstance(resources, str) else list(resources)
        if not items:
            raise ValueError("authorize needs at least one resource")
        ctx = self.context_for(p, context)
        first: Decision | None = None
        for res in items:
            # ARNs without an account field (S3) belong to this world's account unless told otherwise.
            owner = resource_account or account_of(res) or self.account_id
            d = evaluate(p, action, res, ctx, resource_policy=rp, resource_account=owner)
            if not d.allowed:
                return d
            first = first or d
        assert first is not None
        return first

    def service_can_assume(self, role_arn: str, service: str, context: ContextArg = None) -> Decision:
        """May AWS service ``service`` assume ``role_arn``? Only the role's trust policy counts
        (spec 1.4: PassRole is checked at creation, trust when the service calls sts:AssumeRole)."""
        svc = service_principal(service)
        try:
            role = self.role(role_arn)
        except UnknownPrincipalError as e:
            why = f"the role does not exist: {e.message}"
            return Decision(False, "ImplicitDeny", None, None, why, None, service, "sts:AssumeRole", role_arn)
        if role.trust_policy is None:
            why = "the role has no trust policy"
            return Decision(False, "ImplicitDeny", None, None, why, None, service, "sts:AssumeRole", role_arn)
        ctx = self.context_for(svc, context)
        return evaluate(
            svc,
            "sts:AssumeRole",
            role.arn,
            ctx,
            identity_policies=(),
            resource_policy=role.trust_policy,
            resource_account=self.account_id,
        )


class _Builder:
    """Validates the raw section, accumulating key paths for errors."""

    def __init__(self, account_id: str, source: str, locate: Locate | None) -> None:
        if not _ACCOUNT.match(account_id):
            raise ConfigError(
                f"account id must be 12 digits, got {account_id!r}", key_path="account_id", location=source or None
            )
        self.account_id = account_id
        self.source = source
        self.locate = locate

    def where(self, path: str) -> str | None:
        if self.locate is not None:
            loc = self.locate(path)
            if loc:
                return loc
        return self.source or None

    def err(self, msg: str, path: str) -> ConfigError:
        return ConfigError(msg, location=self.where(path), key_path=path)

    def mapping(self, value: Any, path: str, allowed: set[str], required: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.err("must be a mapping", path)
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.err(
                f"unknown key {unknown[0]!r} (expected one of {', '.join(sorted(allowed))})", f"{path}.{unknown[0]}"
            )
        for r in sorted(required):
            if r not in value:
                raise self.err(f"missing required key {r!r}", f"{path}.{r}")
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.err("must be a list", path)
        return value

    def name(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.err(f"invalid name {value!r}: 1-64 characters of letters, digits and +=,.@_-", path)
        return value

    def path_of(self, value: Any, path: str) -> str:
        if value is None:
            return "/"
        if not isinstance(value, str) or not _PATH.match(value) or len(value) > 512:
            raise self.err(f"invalid path {value!r}: must start and end with '/'", path)
        return value

    def policy(self, doc: Any, name: str, kind: PolicyKind, path: str) -> Policy:
        loc = self.where(path)
        try:
            return parse_policy(doc, name=name, kind=kind, key_path=path, location=None)
        except ConfigError as e:
            raise ConfigError(
                e.message,
                location=(self.locate(e.key_path or path) if self.locate else None) or loc,
                key_path=e.key_path,
            ) from None

    def tags(self, value: Any, path: str) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        if isinstance(value, Mapping):
            pairs = [(k, v) for k, v in value.items()]
        elif isinstance(value, list):
            pairs = []
            for i, t in enumerate(value):
                t = self.mapping(t, f"{path}[{i}]", {"Key", "Value"}, {"Key"})
                pairs.append((t["Key"], t.get("Value", "")))
        else:
            raise self.err("tags must be a mapping {key: value} or a list of {Key, Value}", path)
        out: list[tuple[str, str]] = []
        for k, v in pairs:
            if not isinstance(k, str) or not k:
                raise self.err(f"invalid tag key {k!r}", path)
            out.append((k, "" if v is None else str(v)))
        return tuple(out)

    def inline(self, value: Any, path: str, owner: str) -> list[Policy]:
        out: list[Policy] = []
        seen: set[str] = set()
        for i, p in enumerate(self.items(value, path)):
            pp = f"{path}[{i}]"
            p = self.mapping(p, pp, {"name", "document"}, {"name", "document"})
            name = self.name(p["name"], f"{pp}.name")
            if name in seen:
                raise self.err(f"duplicate inline policy name {name!r}", f"{pp}.name")
            seen.add(name)
            out.append(self.policy(p["document"], f"{owner} inline policy {name}", "identity", f"{pp}.document"))
        return out

    def attached(self, value: Any, path: str, managed: Mapping[str, Policy]) -> list[Policy]:
        out: list[Policy] = []
        for i, arn in enumerate(self.items(value, path)):
            if arn in managed:
                out.append(managed[arn])
            else:
                known = sorted(managed)
                raise self.err(f"unknown managed policy {arn!r}; known: {', '.join(known)}", f"{path}[{i}]")
        return out

    def build(self, section: Mapping[str, Any], clock: Callable[[], datetime] | None) -> IamWorld:
        top = self.mapping(section, "iam", {"users", "roles", "managed_policies"}, set())
        managed = self.managed_policies(top)
        keys_seen: set[str] = set()
        users: list[Principal] = []
        for i, u in enumerate(self.items(top.get("users"), "iam.users")):
            users.append(self.user(u, f"iam.users[{i}]", managed, keys_seen, users))
        roles: list[Principal] = []
        for i, r in enumerate(self.items(top.get("roles"), "iam.roles")):
            roles.append(self.role(r, f"iam.roles[{i}]", managed, roles))
        return IamWorld(
            account_id=self.account_id,
            users=tuple(users),
            roles=tuple(roles),
            managed_policies=managed,
            source=self.source,
            clock=clock or (lambda: datetime.now(UTC)),
        )

    def managed_policies(self, top: Mapping[str, Any]) -> dict[str, Policy]:
        """AWS's managed policies vpcflow knows, then the document's own (``iam.managed_policies``)."""
        managed: dict[str, Policy] = {}
        for arn, doc in AWS_MANAGED_POLICIES.items():
            managed[arn] = parse_policy(doc, name=arn, kind="identity")
        for i, mp in enumerate(self.items(top.get("managed_policies"), "iam.managed_policies")):
            pp = f"iam.managed_policies[{i}]"
            mp = self.mapping(mp, pp, {"name", "path", "document", "description"}, {"name", "document"})
            name = self.name(mp["name"], f"{pp}.name")
            arn = f"arn:aws:iam::{self.account_id}:policy{self.path_of(mp.get('path'), f'{pp}.path')}{name}"
            if arn in managed:
                raise self.err(f"duplicate managed policy {arn}", f"{pp}.name")
            managed[arn] = self.policy(mp["document"], arn, "identity", f"{pp}.document")
        return managed

    def user(
        self, u: Any, pp: str, managed: dict[str, Policy], keys_seen: set[str], users: list[Principal]
    ) -> Principal:
        """One ``iam.users[i]`` entry; ``keys_seen`` collects access key ids across users."""
        u = self.mapping(u, pp, {"name", "path", "access_keys", "policies", "managed_policies", "tags"}, {"name"})
        name = self.name(u["name"], f"{pp}.name")
        if any(x.name == name for x in users):
            raise self.err(f"duplicate user name {name!r}", f"{pp}.name")
        path = self.path_of(u.get("path"), f"{pp}.path")
        arn = f"arn:aws:iam::{self.account_id}:user{path}{name}"
        keys = [
            self.access_key(k, f"{pp}.access_keys[{j}]", keys_seen)
            for j, k in enumerate(self.items(u.get("access_keys"), f"{pp}.access_keys"))
        ]
        policies = self.inline(u.get("policies"), f"{pp}.policies", f"user {name}")
        policies += self.attached(u.get("managed_policies"), f"{pp}.managed_policies", managed)
        return Principal(
            arn=arn,
            kind="user",
            account_id=self.account_id,
            name=name,
            path=path,
            userid=unique_id("AIDA", arn),
            tags=self.tags(u.get("tags"), f"{pp}.tags"),
            policies=tuple(policies),
            access_keys=tuple(keys),
        )

    def access_key(self, k: Any, kp: str, keys_seen: set[str]) -> AccessKey:
        """One ``access_keys[j]`` entry of a user; an access key id may be used once in the whole document."""
        required = {"access_key_id", "secret_access_key"}
        k = self.mapping(k, kp, required | {"status"}, required)
        akid, secret = k["access_key_id"], k["secret_access_key"]
        if not isinstance(akid, str) or not _AKID.match(akid):
            raise self.err(
                f"invalid access key id {akid!r}: 16-128 upper-case letters and digits", f"{kp}.access_key_id"
            )
        if akid in keys_seen:
            raise self.err(f"access key id {akid} is used twice", f"{kp}.access_key_id")
        if not isinstance(secret, str) or len(secret) < 8:
            raise self.err("secret_access_key must be a string of at least 8 characters", f"{kp}.secret_access_key")
        status = k.get("status", "Active")
        if status not in ("Active", "Inactive"):
            raise self.err('status must be "Active" or "Inactive"', f"{kp}.status")
        keys_seen.add(akid)
        return AccessKey(akid, secret, status)

    def role(self, r: Any, pp: str, managed: dict[str, Policy], roles: list[Principal]) -> Principal:
        """One ``iam.roles[i]`` entry."""
        r = self.mapping(
            r,
            pp,
            {"name", "path", "trust_policy", "policies", "managed_policies", "tags", "description"},
            {"name", "trust_policy"},
        )
        name = self.name(r["name"], f"{pp}.name")
        if any(x.name == name for x in roles):
            raise self.err(f"duplicate role name {name!r}", f"{pp}.name")
        path = self.path_of(r.get("path"), f"{pp}.path")
        arn = f"arn:aws:iam::{self.account_id}:role{path}{name}"
        trust = self.policy(r["trust_policy"], f"role {name} trust policy", "trust", f"{pp}.trust_policy")
        policies = self.inline(r.get("policies"), f"{pp}.policies", f"role {name}")
        policies += self.attached(r.get("managed_policies"), f"{pp}.managed_policies", managed)
        return Principal(
            arn=arn,
            kind="role",
            account_id=self.account_id,
            name=name,
            path=path,
            userid=unique_id("AROA", arn),
            tags=self.tags(r.get("tags"), f"{pp}.tags"),
            policies=tuple(policies),
            trust_policy=trust,
        )
