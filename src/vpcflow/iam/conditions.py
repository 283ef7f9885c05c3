"""Condition operators: does one ``Condition`` clause hold for a request context?

Spec aws-wire-and-iam.md 1.3 and the IAM condition-operator reference:

* A block is an AND over operators and over keys; the values listed for one key are ORed.
* Negated operators (``StringNotEquals``, ``ArnNotLike``, ``NotIpAddress`` ...) hold only if the
  context value matches *none* of the policy values.
* Missing key: positive operators are false, negated operators are true; ``...IfExists`` is true;
  ``Null: true`` means "absent"; ``ForAllValues:`` is vacuously true (absent or empty),
  ``ForAnyValue:`` is false.
* Key names are case-insensitive; values are case-sensitive except ``*IgnoreCase`` and ``Bool``.
* An unknown operator never matches (so a Deny with a typo is a silent no-op, as in AWS).

vpcflow choices where AWS is loose (docs/iam.md): a single-valued operator applied to a
multi-valued key holds if any context value satisfies it (negated: if no value matches any policy
value); a policy value whose variable cannot be resolved makes the whole clause false.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from vpcflow.iam.patterns import Context, glob_match, substitute
from vpcflow.iam.policy import ConditionClause

Matcher = Callable[[str, str], bool]


def _string_equals(ctx: str, pol: str) -> bool:
    return ctx == pol


def _string_equals_ic(ctx: str, pol: str) -> bool:
    return ctx.casefold() == pol.casefold()


def _string_like(ctx: str, pol: str) -> bool:
    return glob_match(pol, ctx)


def _arn_like(ctx: str, pol: str) -> bool:
    return _arn_like_ctx(ctx, pol, None)


def _bool(ctx: str, pol: str) -> bool:
    return ctx.lower() == pol.lower() and pol.lower() in ("true", "false")


def _number(text: str) -> Decimal | None:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _numeric(cmp: Callable[[Decimal, Decimal], bool]) -> Matcher:
    def match(ctx: str, pol: str) -> bool:
        a, b = _number(ctx), _number(pol)
        return a is not None and b is not None and cmp(a, b)

    return match


_EPOCH = re.compile(r"^-?\d+(\.\d+)?$")


def parse_date(text: str) -> datetime | None:
    """ISO 8601 (``2026-01-01``, ``2026-01-01T00:00:00Z``, with offsets) or epoch seconds."""
    t = text.strip()
    if _EPOCH.match(t):
        try:
            return datetime.fromtimestamp(float(t), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _date(cmp: Callable[[datetime, datetime], bool]) -> Matcher:
    def match(ctx: str, pol: str) -> bool:
        a, b = parse_date(ctx), parse_date(pol)
        return a is not None and b is not None and cmp(a, b)

    return match


def _ip(ctx: str, pol: str) -> bool:
    try:
        addr = ipaddress.ip_address(ctx.strip())
        net = ipaddress.ip_network(pol.strip(), strict=False)
    except ValueError:
        return False
    return addr.version == net.version and addr in net


def _binary(ctx: str, pol: str) -> bool:
    try:
        return base64.b64decode(ctx, validate=True) == base64.b64decode(pol, validate=True)
    except (binascii.Error, ValueError):
        return False


#: base operator -> (matcher of one context value against one policy value, negated)
OPERATORS: dict[str, tuple[Matcher, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ic, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ic, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric(lambda a, b: a == b), False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False),
    "DateEquals": (_date(lambda a, b: a == b), False),
    "DateNotEquals": (_date(lambda a, b: a == b), True),
    "DateLessThan": (_date(lambda a, b: a < b), False),
    "DateLessThanEquals": (_date(lambda a, b: a <= b), False),
    "DateGreaterThan": (_date(lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_date(lambda a, b: a >= b), False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "BinaryEquals": (_binary, False),
}
#: Operators that take policy variables in their values (IAM: string and ARN operators).
_VARIABLE_OPERATORS = {k for k in OPERATORS if k.startswith(("String", "Arn"))}
_GLOB_OPERATORS = {"StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}


def split_operator(op: str) -> tuple[str | None, str, bool] | None:
    """``ForAnyValue:StringLikeIfExists`` -> ("ForAnyValue", "StringLike", True); None if unknown."""
    qualifier: str | None = None
    if ":" in op:
        qualifier, _, op = op.partition(":")
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            return None
    if_exists = False
    if op == "Null":
        return (None, op, False) if qualifier is None else None
    if op.endswith("IfExists"):
        op, if_exists = op[: -len("IfExists")], True
    if op not in OPERATORS:
        return None
    return qualifier, op, if_exists


def is_known_operator(op: str) -> bool:
    return split_operator(op) is not None


def clause_holds(clause: ConditionClause, context: Context, *, variables: bool) -> bool:
    """Whether one operator/key clause holds; ``variables`` enables ``${...}`` in values."""
    parsed = split_operator(clause.operator)
    if parsed is None:
        return False  # unknown operator never matches (spec 1.3)
    qualifier, base, if_exists = parsed
    present = context.get(clause.key.lower())
    if base == "Null":
        # Null: "true" -> the key is absent (or empty); "false" -> present. Values ORed.
        absent = present is None or len(present) == 0
        return any((v.lower() == "true" and absent) or (v.lower() == "false" and not absent) for v in clause.values)
    matcher, negated = OPERATORS[base]
    use_vars = variables and base in _VARIABLE_OPERATORS
    glob_op = base in _GLOB_OPERATORS
    pol_values: list[str] = []
    for v in clause.values:
        if use_vars and "${" in v:
            s = substitute(v, context)
            if s is None:
                return False  # a missing variable: the element does not match (vpcflow choice, docs/iam.md)
            # Glob operators keep the pattern (glob_match substitutes, keeping ${*} literal).
            pol_values.append(v if glob_op else s)
        else:
            pol_values.append(v)
    glob_ctx = context if use_vars else None

    def one(ctx_value: str) -> bool:
        """Positive match of one context value against any policy value."""
        if base in ("StringLike", "StringNotLike"):
            return any(glob_match(p, ctx_value, glob_ctx) for p in pol_values)
        if base.startswith("Arn"):
            return any(_arn_like_ctx(ctx_value, p, glob_ctx) for p in pol_values)
        return any(matcher(ctx_value, p) for p in pol_values)

    if present is None or len(present) == 0:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    if qualifier == "ForAllValues":
        return all((not one(c)) if negated else one(c) for c in present)
    if qualifier == "ForAnyValue":
        return any((not one(c)) if negated else one(c) for c in present)
    if negated:
        return not any(one(c) for c in present)
    return any(one(c) for c in present)


def _arn_like_ctx(ctx: str, pol: str, context: Context | None) -> bool:
    # Six colon-delimited parts compared one by one, each may hold * and ?; the last part keeps
    # its own colons (resource ids like log-group:NAME:*), so * there can cross ':'.
    c = ctx.split(":", 5)
    p = pol.split(":", 5)
    if len(c) != 6 or len(p) != 6:
        return False
    return all(glob_match(pp, cc, context) for pp, cc in zip(p, c, strict=True))


def conditions_hold(
    clauses: tuple[ConditionClause, ...], context: Context, *, variables: bool
) -> ConditionClause | None:
    """None when every clause holds, else the first clause that failed (for explanations)."""
    for clause in clauses:
        if not clause_holds(clause, context, variables=variables):
            return clause
    return None
