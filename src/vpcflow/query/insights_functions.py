"""Insights functions as DuckDB SQL: aggregations (stats) and the scalar functions of docs/insights.md.

A translated expression is ``(sql, type)`` with a coarse type (int, num, str, time, bool, any) so
Insights' loose typing can be honoured: a text field used as a number is ``TRY_CAST`` to DOUBLE.
IP-subnet tests call the ``vpcflow_in_subnet`` / ``vpcflow_ip_version`` functions that
``query/insights_exec.py`` registers on the connection (vectorised with ``codecs.addresses``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Protocol

from vpcflow.core.api_errors import MalformedQueryError
from vpcflow.query.insights_ast import Call, Literal, Node, Period, Star

Typed = tuple[str, str]


class Scope(Protocol):
    """What functions need from the translator."""

    cols: dict[str, str]

    def ex(self, node: Node) -> Typed: ...

    def fail(self, reason: str, node: Node) -> MalformedQueryError: ...

    def col(self, name: str) -> str | None: ...


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def as_num(x: Typed) -> str:
    sql, t = x
    if t in ("int", "num"):
        return sql
    if t == "time":
        return f"epoch_ms({sql})"
    if t == "bool":
        return f"CAST({sql} AS INTEGER)"
    return f"TRY_CAST({sql} AS DOUBLE)"


def as_text(x: Typed) -> str:
    return x[0] if x[1] == "str" else f"CAST({x[0]} AS VARCHAR)"


def as_bool(x: Typed) -> str:
    sql, t = x
    if t in ("bool", "any"):
        return sql
    if t in ("int", "num"):
        return f"({sql} <> 0)"
    if t == "str":
        return f"({sql} IS NOT NULL AND {sql} <> '')"
    return f"({sql} IS NOT NULL)"


# ------------------------------------------------------------------------------------------ periods
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_MONTHS = {"mo": 1, "q": 3, "y": 12}


def interval(p: Period) -> str:
    """A DuckDB interval for an Insights period (weeks are 7 days; quarters 3 months; years 12 months)."""
    if p.unit in _MONTHS:
        return f"INTERVAL '{p.amount * _MONTHS[p.unit]} months'"
    if p.unit == "ms":
        return f"INTERVAL '{p.amount} milliseconds'"
    return f"INTERVAL '{p.amount * int(_SECONDS[p.unit])} seconds'"


def _period(t: Scope, node: Call, i: int) -> Period:
    if len(node.args) <= i or not isinstance(node.args[i], Period):
        raise t.fail(f"{node.name}() needs a time period such as 5m or 1h", node)
    p = node.args[i]
    assert isinstance(p, Period)
    if p.amount <= 0:
        raise t.fail("a time period must be positive", p)
    return p


def _floor(ts: str, p: Period) -> str:
    # Buckets are aligned on the epoch (vpcflow's decision; AWS does not document the origin).
    return f"time_bucket({interval(p)}, {ts}, TIMESTAMP '1970-01-01 00:00:00')"


def _timestamp(t: Scope, node: Node) -> str:
    c = t.col("@timestamp")
    if c is None:
        raise t.fail("@timestamp is not available here (after stats, only the stats fields are)", node)
    return '"' + c + '"'


# ------------------------------------------------------------------------------------------ aggregations
def _arg(t: Scope, node: Call, n: int = 1) -> list[Typed]:
    if len(node.args) != n or any(isinstance(a, Star) for a in node.args):
        raise t.fail(f"{node.name}() takes {n} argument{'s' if n > 1 else ''}", node)
    return [t.ex(a) for a in node.args]


def _count(t: Scope, node: Call) -> Typed:
    if not node.args or (len(node.args) == 1 and isinstance(node.args[0], Star)):
        return "count(*)", "int"
    (x,) = _arg(t, node)
    return f"count({x[0]})", "int"


def _count_distinct(t: Scope, node: Call) -> Typed:
    (x,) = _arg(t, node)
    return f"count(DISTINCT {x[0]})", "int"


def _sum(t: Scope, node: Call) -> Typed:
    (x,) = _arg(t, node)
    if x[1] == "int":
        return f"CAST(sum({x[0]}) AS BIGINT)", "int"
    return f"sum({as_num(x)})", "num"


def _simple(sql_name: str, numeric: bool) -> Callable[[Scope, Call], Typed]:
    def agg(t: Scope, node: Call) -> Typed:
        (x,) = _arg(t, node)
        if numeric:
            return f"{sql_name}({as_num(x)})", "num"
        return f"{sql_name}({x[0]})", x[1]

    return agg


def _pct(t: Scope, node: Call) -> Typed:
    if len(node.args) != 2 or not isinstance(node.args[1], Literal) or isinstance(node.args[1].value, str):
        raise t.fail(f"{node.name}() takes a field and a percentile number, e.g. {node.name}(bytes, 95)", node)
    p = float(node.args[1].value)
    if not 0 <= p <= 100:
        raise t.fail("a percentile is between 0 and 100", node.args[1])
    x = t.ex(node.args[0])
    # "returns the value at which p percent of the values are lower": a value of the field.
    return f"quantile_disc({x[0] if x[1] in ('int', 'num') else as_num(x)}, {p / 100!r})", \
        x[1] if x[1] in ("int", "num") else "num"


def _by_time(sql_name: str) -> Callable[[Scope, Call], Typed]:
    def agg(t: Scope, node: Call) -> Typed:
        (x,) = _arg(t, node)
        return f"{sql_name}({x[0]}, {_timestamp(t, node)})", x[1]

    return agg


AGGREGATES: dict[str, Callable[[Scope, Call], Typed]] = {
    "count": _count,
    "count_distinct": _count_distinct,
    "sum": _sum,
    "avg": _simple("avg", True),
    "stddev": _simple("stddev_samp", True),
    "min": _simple("min", False),
    "max": _simple("max", False),
    "sortsfirst": _simple("min", False),
    "sortslast": _simple("max", False),
    "pct": _pct,
    "percentile": _pct,
    "earliest": _by_time("arg_min"),
    "latest": _by_time("arg_max"),
}


# ------------------------------------------------------------------------------------------ scalars
def _subnet(t: Scope, node: Call, version: int | None) -> Typed:
    if len(node.args) != 2 or not isinstance(node.args[1], Literal) or not isinstance(node.args[1].value, str):
        raise t.fail(f'{node.name}() takes a field and a "CIDR" string', node)
    try:
        net = ipaddress.ip_network(node.args[1].value, strict=False)
    except ValueError:
        raise t.fail(f"{node.args[1].value!r} is not a CIDR block", node.args[1]) from None
    if version is not None and net.version != version:
        raise t.fail(f"{node.name}() needs an IPv{version} CIDR block", node.args[1])
    addr = as_text(t.ex(node.args[0]))
    return f"vpcflow_in_subnet({addr}, {sql_str(str(net))})", "bool"


def _fixed(n: int, fmt: Callable[[list[Typed]], Typed]) -> Callable[[Scope, Call], Typed]:
    def fn(t: Scope, node: Call) -> Typed:
        if len(node.args) != n:
            raise t.fail(f"{node.name}() takes {n} argument{'s' if n != 1 else ''}", node)
        return fmt([t.ex(a) for a in node.args])

    return fn


def _variadic(sql_name: str, kind: str, conv: Callable[[Typed], str]) -> Callable[[Scope, Call], Typed]:
    def fn(t: Scope, node: Call) -> Typed:
        if not node.args:
            raise t.fail(f"{node.name}() needs at least one argument", node)
        return f"{sql_name}({', '.join(conv(t.ex(a)) for a in node.args)})", kind

    return fn


def _trim(sql_name: str) -> Callable[[Scope, Call], Typed]:
    """``trim(s)`` removes white space; ``trim(s, chars)`` removes the characters of ``chars``."""

    def fn(t: Scope, node: Call) -> Typed:
        if len(node.args) not in (1, 2):
            raise t.fail(f"{node.name}() takes a string and optionally the characters to remove", node)
        args = [as_text(t.ex(a)) for a in node.args]
        if len(args) == 1:
            args.append("' ' || chr(9) || chr(10) || chr(13)")
        return f"{sql_name}({', '.join(args)})", "str"

    return fn


def _substr(t: Scope, node: Call) -> Typed:
    if len(node.args) not in (2, 3):
        raise t.fail("substr() takes a string, a start (from 0) and an optional length", node)
    s, *rest = [t.ex(a) for a in node.args]
    # Insights counts from 0, SQL from 1.
    args = [as_text(s), f"CAST({as_num(rest[0])} AS BIGINT) + 1", *(f"CAST({as_num(r)} AS BIGINT)" for r in rest[1:])]
    return f"substr({', '.join(args)})", "str"


def _bin(t: Scope, node: Call) -> Typed:
    return _floor(_timestamp(t, node), _period(t, node, 0)), "time"


def _datefloor(t: Scope, node: Call) -> Typed:
    return _floor(t.ex(node.args[0])[0] if node.args else "NULL", _period(t, node, 1)), "time"


def _dateceil(t: Scope, node: Call) -> Typed:
    p = _period(t, node, 1)
    ts = t.ex(node.args[0])[0]
    return f"CASE WHEN {_floor(ts, p)} = {ts} THEN {ts} ELSE {_floor(ts, p)} + {interval(p)} END", "time"


def _coalesce(t: Scope, node: Call) -> Typed:
    args = [t.ex(a) for a in node.args]
    kinds = {k for _s, k in args if k != "any"}
    if len(kinds) <= 1:
        return f"coalesce({', '.join(s for s, _k in args)})", kinds.pop() if kinds else "any"
    return f"coalesce({', '.join(as_text(a) for a in args)})", "str"


SCALARS: dict[str, Callable[[Scope, Call], Typed]] = {
    "isipv4insubnet": lambda t, n: _subnet(t, n, 4),
    "isipv6insubnet": lambda t, n: _subnet(t, n, 6),
    "isipinsubnet": lambda t, n: _subnet(t, n, None),
    "isvalidip": _fixed(1, lambda a: (f"(vpcflow_ip_version({as_text(a[0])}) IS NOT NULL)", "bool")),
    "isvalidipv4": _fixed(1, lambda a: (f"(vpcflow_ip_version({as_text(a[0])}) = 4)", "bool")),
    "isvalidipv6": _fixed(1, lambda a: (f"(vpcflow_ip_version({as_text(a[0])}) = 6)", "bool")),
    "strlen": _fixed(1, lambda a: (f"length({as_text(a[0])})", "int")),
    "toupper": _fixed(1, lambda a: (f"upper({as_text(a[0])})", "str")),
    "tolower": _fixed(1, lambda a: (f"lower({as_text(a[0])})", "str")),
    "trim": _trim("trim"),
    "ltrim": _trim("ltrim"),
    "rtrim": _trim("rtrim"),
    "concat": _variadic("concat", "str", as_text),
    "substr": _substr,
    "replace": _fixed(3, lambda a: (f"replace({as_text(a[0])}, {as_text(a[1])}, {as_text(a[2])})", "str")),
    "strcontains": _fixed(2, lambda a: (f"CAST(contains({as_text(a[0])}, {as_text(a[1])}) AS INTEGER)", "int")),
    "ispresent": _fixed(1, lambda a: (f"({a[0][0]} IS NOT NULL)", "bool")),
    "isempty": _fixed(1, lambda a: (f"({a[0][0]} IS NULL OR {as_text(a[0])} = '')", "bool")),
    "isblank": _fixed(1, lambda a: (f"({a[0][0]} IS NULL OR trim({as_text(a[0])}) = '')", "bool")),
    "coalesce": _coalesce,
    "abs": _fixed(1, lambda a: (f"abs({as_num(a[0])})", a[0][1] if a[0][1] == "int" else "num")),
    "ceil": _fixed(1, lambda a: (f"ceil({as_num(a[0])})", "num")),
    "floor": _fixed(1, lambda a: (f"floor({as_num(a[0])})", "num")),
    "sqrt": _fixed(1, lambda a: (f"sqrt({as_num(a[0])})", "num")),
    "log": _fixed(1, lambda a: (f"ln({as_num(a[0])})", "num")),
    "greatest": _variadic("greatest", "num", as_num),
    "least": _variadic("least", "num", as_num),
    "bin": _bin,
    "datefloor": _datefloor,
    "dateceil": _dateceil,
    "frommillis": _fixed(1, lambda a: (f"epoch_ms(CAST({as_num(a[0])} AS BIGINT))", "time")),
    "tomillis": _fixed(1, lambda a: (as_num(a[0]), "int")),
}


def call_scalar(t: Scope, node: Call) -> Typed:
    fn = SCALARS.get(node.name.lower())
    if fn is None:
        raise t.fail(f"unknown function {node.name}()", node)
    return fn(t, node)
