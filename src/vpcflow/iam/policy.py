"""Policy documents: parse and validate IAM JSON policies into frozen statements.

Grammar (IAM JSON policy reference): ``Version`` (``2012-10-17`` or ``2008-10-17``; absent means the
old version, under which ``${...}`` is literal text), optional ``Id``, ``Statement`` as a list or a
single object. A statement has an optional ``Sid``, ``Effect`` (``Allow``/``Deny``), exactly one of
``Action``/``NotAction``, at most one of ``Resource``/``NotResource`` and of ``Principal``/
``NotPrincipal``, and an optional ``Condition`` block ``{operator: {key: value | [values]}}``.

Which elements a statement needs depends on the kind of policy:

* ``identity`` (attached to a user or role): Resource or NotResource required; Principal forbidden.
* ``resource`` (a bucket policy): Principal or NotPrincipal required; Resource or NotResource required.
* ``trust`` (a role's assume-role policy): Principal or NotPrincipal required; Resource forbidden
  (IAM's "Has prohibited field Resource").

Every problem raises ``ConfigError`` whose key path names the bad element
(``iam.roles[0].trust_policy.Statement[1].Principal``). Operators are not validated here: an unknown
condition operator is legal JSON and never matches at evaluation (spec 1.3); ``vpcflow iam lint``
reports it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from vpcflow.core.errors import ConfigError

PolicyKind = Literal["identity", "resource", "trust"]

VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
}
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_ACTION = re.compile(r"^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$")


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A ``Principal``/``NotPrincipal`` element: ``"*"`` or ``{type: values}``."""

    wildcard: bool = False
    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def values(self, kind: str) -> tuple[str, ...]:
        for k, v in self.entries:
            if k == kind:
                return v
        return ()


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One ``operator: {key: values}`` pair; ``operator`` is kept as written (possibly unknown)."""

    operator: str
    key: str  # as written; matched case-insensitively
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    """One validated statement; ``raw`` is the statement as written (shown by explanations)."""

    index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principal: PrincipalSpec | None
    not_principal: PrincipalSpec | None
    conditions: tuple[ConditionClause, ...]
    raw: dict[str, Any] = field(compare=False)
    key_path: str = ""

    @property
    def label(self) -> str:
        """``Sid "X"`` or ``Statement[2]``, for messages."""
        return f'Sid "{self.sid}"' if self.sid else f"Statement[{self.index}]"


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed policy document. ``name`` says where it came from (shown in decisions)."""

    name: str
    kind: PolicyKind
    version: str | None
    statements: tuple[Statement, ...]
    raw: dict[str, Any] = field(compare=False)
    id: str | None = None

    @property
    def variables_enabled(self) -> bool:
        """Policy variables are substituted only under Version 2012-10-17 (IAM reference)."""
        return self.version == "2012-10-17"


def _err(msg: str, path: str, location: str | None) -> ConfigError:
    return ConfigError(msg, location=location or None, key_path=path)


def _strings(value: Any, path: str, location: str | None, *, allow_empty: bool = False) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items and not allow_empty:
        raise _err("must not be an empty list", path, location)
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or item == "":
            where = f"{path}[{i}]" if isinstance(value, list) else path
            raise _err(f"must be a non-empty string, got {json.dumps(item)}", where, location)
        out.append(item)
    return tuple(out)


def _condition_value(item: Any, path: str, location: str | None) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (int, float)):
        return str(item)
    if isinstance(item, str):
        return item
    raise _err(f"condition value must be a string, number or boolean, got {json.dumps(item)}", path, location)


def _parse_principal(value: Any, path: str, location: str | None) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(wildcard=True)
    if not isinstance(value, dict) or not value:
        raise _err('must be "*" or an object like {"AWS": ...} / {"Service": ...}', path, location)
    entries: list[tuple[str, tuple[str, ...]]] = []
    for kind, vals in value.items():
        if kind not in _PRINCIPAL_TYPES:
            raise _err(
                f"unknown principal type {kind!r} (expected one of {', '.join(_PRINCIPAL_TYPES)})", path, location
            )
        entries.append((kind, _strings(vals, f"{path}.{kind}", location)))
    return PrincipalSpec(entries=tuple(entries))


def _parse_conditions(value: Any, path: str, location: str | None) -> tuple[ConditionClause, ...]:
    if not isinstance(value, dict):
        raise _err("must be an object {operator: {key: value}}", path, location)
    clauses: list[ConditionClause] = []
    for op, block in value.items():
        if not isinstance(block, dict) or not block:
            raise _err("must be a non-empty object {condition-key: value(s)}", f"{path}.{op}", location)
        for key, vals in block.items():
            kp = f"{path}.{op}.{key}"
            items = vals if isinstance(vals, list) else [vals]
            values = tuple(
                _condition_value(v, f"{kp}[{i}]" if isinstance(vals, list) else kp, location)
                for i, v in enumerate(items)
            )
            clauses.append(ConditionClause(operator=op, key=key, values=values))
    return tuple(clauses)


def _pair(
    raw: dict[str, Any], a: str, b: str, path: str, location: str | None
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """An element and its Not- form (Action/NotAction, Resource/NotResource): at most one of them."""
    if a in raw and b in raw:
        raise _err(f"a statement has {a} or {b}, not both", f"{path}.{b}", location)
    return (
        _strings(raw[a], f"{path}.{a}", location) if a in raw else None,
        _strings(raw[b], f"{path}.{b}", location) if b in raw else None,
    )


def _check_actions(
    actions: tuple[str, ...] | None, not_actions: tuple[str, ...] | None, path: str, location: str | None
) -> None:
    if actions is None and not_actions is None:
        raise _err("a statement needs Action or NotAction", f"{path}.Action", location)
    for name, acts in (("Action", actions), ("NotAction", not_actions)):
        for i, a in enumerate(acts or ()):
            if not _ACTION.match(a):
                raise _err(
                    f'invalid action {a!r}: expected "service:Action" (wildcards * and ? allowed) or "*"',
                    f"{path}.{name}[{i}]",
                    location,
                )


def _check_elements_of_kind(
    kind: PolicyKind, principal: bool, not_principal: bool, resource: bool, not_resource: bool, path: str,
    location: str | None,
) -> None:
    """IAM's grammar per policy type: identity policies name no principal, trust policies no resource,
    resource and trust policies need a principal, identity and resource policies a resource."""
    has_principal = principal or not_principal
    has_resource = resource or not_resource
    if kind == "identity" and has_principal:
        el = "Principal" if principal else "NotPrincipal"
        raise _err(f"{el} is not allowed in an identity-based policy", f"{path}.{el}", location)
    if kind in ("resource", "trust") and not has_principal:
        raise _err(f"a {kind} policy statement needs Principal or NotPrincipal", f"{path}.Principal", location)
    if kind in ("identity", "resource") and not has_resource:
        raise _err("a statement needs Resource or NotResource", f"{path}.Resource", location)
    if kind == "trust" and has_resource:
        el = "Resource" if resource else "NotResource"
        raise _err(f"a trust policy has prohibited field {el}", f"{path}.{el}", location)


def _parse_statement(raw: Any, index: int, path: str, kind: PolicyKind, location: str | None) -> Statement:
    if not isinstance(raw, dict):
        raise _err("a statement must be an object", path, location)
    unknown = sorted(set(raw) - _STATEMENT_KEYS)
    if unknown:
        raise _err(
            f"unknown statement element {unknown[0]!r} (element names are case-sensitive)",
            f"{path}.{unknown[0]}",
            location,
        )
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _err(f'Effect must be "Allow" or "Deny", got {json.dumps(effect)}', f"{path}.Effect", location)
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _err("Sid must be a string", f"{path}.Sid", location)

    actions, not_actions = _pair(raw, "Action", "NotAction", path, location)
    _check_actions(actions, not_actions, path, location)
    resources, not_resources = _pair(raw, "Resource", "NotResource", path, location)
    if "Principal" in raw and "NotPrincipal" in raw:
        raise _err("a statement has Principal or NotPrincipal, not both", f"{path}.NotPrincipal", location)
    principal = _parse_principal(raw["Principal"], f"{path}.Principal", location) if "Principal" in raw else None
    not_principal = (
        _parse_principal(raw["NotPrincipal"], f"{path}.NotPrincipal", location) if "NotPrincipal" in raw else None
    )
    _check_elements_of_kind(
        kind, principal is not None, not_principal is not None, resources is not None, not_resources is not None,
        path, location,
    )
    conditions = _parse_conditions(raw["Condition"], f"{path}.Condition", location) if "Condition" in raw else ()
    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principal=principal,
        not_principal=not_principal,
        conditions=conditions,
        raw=dict(raw),
        key_path=path,
    )


def parse_policy(
    document: Any,
    *,
    name: str,
    kind: PolicyKind = "identity",
    key_path: str = "",
    location: str | None = None,
) -> Policy:
    """Parse a policy given as a dict or a JSON string; ``key_path`` prefixes error paths."""
    base = key_path or "policy"
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as e:
            raise _err(
                f"policy is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}", base, location
            ) from None
        except RecursionError:  # json's C parser stops at Python's recursion limit
            raise _err("policy is not valid JSON: nested too deep", base, location) from None
    if not isinstance(document, Mapping):
        raise _err("a policy document must be an object", base, location)
    doc = dict(document)
    unknown = sorted(set(doc) - {"Version", "Id", "Statement"})
    if unknown:
        raise _err(f"unknown policy element {unknown[0]!r}", f"{base}.{unknown[0]}", location)
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        raise _err(
            f"Version must be one of {', '.join(VERSIONS)}, got {json.dumps(version)}", f"{base}.Version", location
        )
    pid = doc.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise _err("Id must be a string", f"{base}.Id", location)
    if "Statement" not in doc:
        raise _err("a policy needs a Statement", f"{base}.Statement", location)
    raw_statements = doc["Statement"]
    stmts: tuple[Statement, ...]
    if isinstance(raw_statements, dict):
        stmts = (_parse_statement(raw_statements, 0, f"{base}.Statement", kind, location),)
    elif isinstance(raw_statements, list):
        if not raw_statements:
            raise _err("Statement must not be empty", f"{base}.Statement", location)
        stmts = tuple(
            _parse_statement(s, i, f"{base}.Statement[{i}]", kind, location) for i, s in enumerate(raw_statements)
        )
    else:
        raise _err("Statement must be an object or a list of objects", f"{base}.Statement", location)
    return Policy(name=name, kind=kind, version=version, statements=stmts, raw=doc, id=pid)
