"""Insights commands -> one DuckDB SQL statement over the ``events`` table (docs/insights.md).

Each command becomes a CTE over the previous one, so the pipeline reads as the query does. The
translator tracks the columns (and a coarse type: int, num, str, time, bool, any) available after each
command: a field no event has is NULL, as Insights treats an absent field, instead of a SQL error.
Sort order is state, not a CTE property: the last ``sort`` (or the default, ``@timestamp`` newest first,
for queries without ``stats``) is applied by ``limit``, ``dedup`` and the final SELECT.
Aggregations and scalar functions live in ``query/insights_functions.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vpcflow.core.api_errors import MalformedQueryError
from vpcflow.query.insights_ast import (
    Binary,
    Call,
    Command,
    FieldRef,
    InList,
    Item,
    Literal,
    Node,
    Period,
    Regex,
    Star,
    Unary,
)
from vpcflow.query.insights_functions import AGGREGATES, Typed, as_bool, as_num, as_text, call_scalar, sql_str

#: AWS's default result count (CWL_QuerySyntax-Limit: "If you omit limit, the query
#: defaults to returning up to 10,000 log events").
DEFAULT_LIMIT = 10_000
ROW = "__row"  # hidden: the event's position, tiebreak and @ptr
_ARITH = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}
_CMP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Translation:
    """``sql`` returns the displayed columns (plus ``__row`` when not aggregated) in result order;
    ``matched_sql`` counts the events that reached the first stats/limit/dedup (recordsMatched)."""

    sql: str
    matched_sql: str
    columns: tuple[str, ...]
    types: dict[str, str]
    aggregated: bool


class _Translator:
    def __init__(self, query: str, base: dict[str, str], source: str) -> None:
        self.query = query
        self.ctes = [f"q0 AS (SELECT * FROM {source})"]
        self.cur = "q0"
        self.cols: dict[str, str] = dict(base)
        self.display: list[str] | None = None
        self.order: list[str] = ['"@timestamp" DESC'] if "@timestamp" in base else []
        self.tiebreak: list[str] = [f"{ident(ROW)} ASC"] if ROW in base else []
        self.aggregated = False
        self.matched: str | None = None
        self.limit: int | None = None  # the smallest limit command
        self.in_stats = False
        self.saw_aggregate = False

    # -- helpers ---------------------------------------------------------------------------------
    def fail(self, reason: str, node: Node | Command) -> MalformedQueryError:
        return MalformedQueryError(reason, self.query, node.start, node.end)

    def push(self, select: str) -> None:
        name = f"q{len(self.ctes)}"
        self.ctes.append(f"{name} AS ({select})")
        self.cur = name

    def col(self, name: str) -> str | None:
        """The column ``name`` refers to (DuckDB matches identifiers case-insensitively, so do we)."""
        if name in self.cols:
            return name
        low = name.lower()
        return next((c for c in self.cols if c.lower() == low), None)

    def order_sql(self) -> str:
        terms = self.order + [t for t in self.tiebreak if t not in self.order]
        return " ORDER BY " + ", ".join(terms) if terms else ""

    def add_columns(self, new: list[tuple[str, Typed]]) -> None:
        """Add (or replace) computed columns on the current CTE."""
        replace, extra = [], []
        for name, (sql, _t) in new:
            existing = self.col(name)
            if existing is not None:
                replace.append(f"{sql} AS {ident(existing)}")
            else:
                extra.append(f"{sql} AS {ident(name)}")
        star = "*" + (f" REPLACE ({', '.join(replace)})" if replace else "")
        self.push(f"SELECT {', '.join([star, *extra])} FROM {self.cur}")
        for name, (_sql, t) in new:
            self.cols[self.col(name) or name] = t

    def mark_matched(self) -> None:
        if self.matched is None and not self.aggregated:
            self.matched = self.cur

    # -- expressions -----------------------------------------------------------------------------
    def ex(self, node: Node) -> Typed:
        if isinstance(node, FieldRef):
            c = self.col(node.name)
            return (ident(c), self.cols[c]) if c is not None else ("NULL", "any")
        if isinstance(node, Literal):
            if isinstance(node.value, str):
                return sql_str(node.value), "str"
            return repr(node.value), "int" if isinstance(node.value, int) else "num"
        if isinstance(node, Unary):
            inner = self.ex(node.operand)
            if node.op == "not":
                return f"(NOT {as_bool(inner)})", "bool"
            return f"(-{as_num(inner)})", inner[1] if inner[1] in ("int", "num") else "num"
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, InList):
            return self.in_list(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Regex):
            raise self.fail("a /regular expression/ is only allowed after like or =~, or in parse", node)
        if isinstance(node, Period):
            raise self.fail("a time period is only allowed in bin(), datefloor() or dateceil()", node)
        if isinstance(node, Star):
            raise self.fail("'*' is only allowed in count(*)", node)
        raise self.fail("unsupported expression", node)  # pragma: no cover - the parser makes no other node

    def binary(self, node: Binary) -> Typed:
        if node.op in ("and", "or"):
            return f"({as_bool(self.ex(node.left))} {node.op.upper()} {as_bool(self.ex(node.right))})", "bool"
        if node.op in ("like", "notlike", "=~"):
            target = as_text(self.ex(node.left))
            if isinstance(node.right, Regex):
                test = f"regexp_matches({target}, {sql_str(node.right.pattern)})"
            else:
                assert isinstance(node.right, Literal)
                value = str(node.right.value)
                test = (f"regexp_matches({target}, {sql_str(value)})" if node.op == "=~"
                        else f"contains({target}, {sql_str(value)})")
            return (f"(NOT {test})" if node.op == "notlike" else test), "bool"
        left, right = self.ex(node.left), self.ex(node.right)
        if node.op in _CMP:
            return compare(_CMP[node.op], left, right), "bool"
        if node.op == "^":
            return f"power({as_num(left)}, {as_num(right)})", "num"
        kind = "int" if left[1] == right[1] == "int" and node.op != "/" else "num"
        return f"({as_num(left)} {_ARITH[node.op]} {as_num(right)})", kind

    def in_list(self, node: InList) -> Typed:
        operand = self.ex(node.operand)
        items = [self.ex(i) for i in node.items]
        if not items:
            return ("true" if node.negated else "false"), "bool"
        if operand[1] in ("int", "num"):
            values = [as_num(i) for i in items]
            target = operand[0]
        elif all(i[1] in ("int", "num") for i in items) and operand[1] != "str":
            values, target = [i[0] for i in items], as_num(operand)
        else:
            values, target = [as_text(i) for i in items], as_text(operand)
        neg = "NOT " if node.negated else ""
        return f"({target} {neg}IN ({', '.join(values)}))", "bool"

    def call(self, node: Call) -> Typed:
        name = node.name.lower()
        if name in AGGREGATES:
            if not self.in_stats:
                raise self.fail(f"{node.name}() is an aggregation: it is allowed only in stats", node)
            self.saw_aggregate = True
            self.in_stats = False  # no aggregation inside an aggregation
            try:
                return AGGREGATES[name](self, node)
            finally:
                self.in_stats = True
        return call_scalar(self, node)

    # -- commands --------------------------------------------------------------------------------
    def command(self, cmd: Command) -> None:
        getattr(self, "cmd_" + cmd.kind)(cmd)

    def cmd_filter(self, cmd: Command) -> None:
        assert cmd.condition is not None
        self.push(f"SELECT * FROM {self.cur} WHERE {as_bool(self.ex(cmd.condition))}")

    def _computed(self, items: tuple[Item, ...]) -> list[str]:
        new = [(it.name, self.ex(it.expr)) for it in items if not isinstance(it.expr, FieldRef) or it.aliased]
        if new:
            self.add_columns(new)
        return [self.col(it.name) or it.name for it in items]

    def cmd_fields(self, cmd: Command) -> None:
        names = self._computed(cmd.items)
        shown = self.display or []
        self.display = shown + [n for n in names if n not in shown]

    def cmd_display(self, cmd: Command) -> None:
        self.display = self._computed(cmd.items)

    def cmd_stats(self, cmd: Command) -> None:
        self.mark_matched()
        by = [(it.name, self.ex(it.expr)) for it in cmd.by]
        aggs = []
        for it in cmd.items:
            self.in_stats, self.saw_aggregate = True, False
            try:
                aggs.append((it.name, self.ex(it.expr)))
            finally:
                self.in_stats = False
            if not self.saw_aggregate:
                raise self.fail(f"{it.name} is not an aggregation (count, sum, avg, ...)", it.expr)
        select = ", ".join(f"{sql} AS {ident(name)}" for name, (sql, _t) in [*by, *aggs])
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(by)))}" if by else ""
        self.push(f"SELECT {select} FROM {self.cur}{group}")
        self.cols = {name: t for name, (_sql, t) in [*by, *aggs]}
        self.aggregated = True
        self.display = None
        self.order = []
        self.tiebreak = [f"{ident(name)} ASC NULLS LAST" for name, _ in by]

    def cmd_sort(self, cmd: Command) -> None:
        terms = []
        for expr, desc in cmd.keys:
            sql, _t = self.ex(expr)
            terms.append(f"{sql} {'DESC' if desc else 'ASC'} NULLS LAST")
        self.order = terms

    def cmd_limit(self, cmd: Command) -> None:
        self.mark_matched()
        self.push(f"SELECT * FROM {self.cur}{self.order_sql()} LIMIT {cmd.count}")
        self.limit = cmd.count if self.limit is None else min(self.limit, cmd.count)

    def cmd_dedup(self, cmd: Command) -> None:
        self.mark_matched()
        cols = [ident(c) for c in (self.col(n) for n in cmd.names) if c is not None]
        if not cols:
            return  # no event has these fields: nothing is a duplicate
        nulls = " OR ".join(f"{c} IS NULL" for c in cols)
        window = f"row_number() OVER (PARTITION BY {', '.join(cols)}{self.order_sql()})"
        self.push(f"SELECT * FROM {self.cur} QUALIFY {nulls} OR {window} = 1")

    def cmd_parse(self, cmd: Command) -> None:
        assert cmd.condition is not None
        source = as_text(self.ex(cmd.condition))
        pattern, groups = regex_of_parse(cmd, self.query)
        test = f"regexp_matches({source}, {sql_str(pattern)})"
        new = [(name, (f"CASE WHEN {test} THEN regexp_extract({source}, {sql_str(pattern)}, {g}) END", "str"))
               for name, g in zip(cmd.names, groups, strict=True)]
        self.add_columns(new)

    # -- the statement ---------------------------------------------------------------------------
    def finish(self, limit: int | None) -> Translation:
        given = [n for n in (self.limit, limit) if n]
        final_limit = min(given) if given else DEFAULT_LIMIT
        shown: list[str]
        if self.display is None and not self.aggregated:
            # CWL_QuerySyntax: "filter (duration>2000)" alone shows "the @timestamp and all log data in
            # the @message field".
            shown = [c for c in ("@timestamp", "@message") if c in self.cols]
        elif self.display is None:
            shown = [c for c in self.cols if not c.startswith("__")]
        else:
            shown = [c for c in (self.col(n) for n in self.display) if c is not None]
        shown = list(dict.fromkeys(shown))
        select = [ident(c) for c in shown]
        if not self.aggregated and ROW in self.cols:
            select.append(ident(ROW))
        matched = self.matched or self.cur
        with_ = "WITH " + ", ".join(self.ctes) + " "
        sql = f"{with_}SELECT {', '.join(select) or 'NULL AS nothing'} FROM {self.cur}{self.order_sql()} " \
              f"LIMIT {final_limit}"
        return Translation(sql, f"{with_}SELECT count(*) FROM {matched}", tuple(shown),
                           {c: self.cols[c] for c in shown}, self.aggregated)


def compare(op: str, left: Typed, right: Typed) -> str:
    """A comparison with Insights' loose typing: text against a number compares as numbers."""
    lt, rt = left[1], right[1]
    numeric = {"int", "num"}
    if lt in numeric or rt in numeric:
        if lt in numeric and rt in numeric:
            return f"({left[0]} {op} {right[0]})"
        return f"({as_num(left)} {op} {as_num(right)})"
    if "time" in (lt, rt) and lt != rt:
        a = left[0] if lt == "time" else f"TRY_CAST({left[0]} AS TIMESTAMP)"
        b = right[0] if rt == "time" else f"TRY_CAST({right[0]} AS TIMESTAMP)"
        return f"({a} {op} {b})"
    if lt != rt and "any" not in (lt, rt):
        return f"({as_text(left)} {op} {as_text(right)})"
    return f"({left[0]} {op} {right[0]})"


_RE_SPECIAL = set("\\.^$|?*+()[]{}/-")


def regex_of_parse(cmd: Command, query: str) -> tuple[str, list[int]]:
    """The RE2 pattern of a parse command and the capture group of each name, in order.

    Glob: each ``*`` captures as little as it can, except a trailing one, which takes the rest.
    Regex: ``(?<name>...)`` groups (Insights' syntax) become RE2's ``(?P<name>...)``.
    """
    if not cmd.regex:
        pieces = cmd.pattern.split("*")
        escaped = ["".join("\\" + ch if ch in _RE_SPECIAL else ch for ch in p) for p in pieces]
        out = escaped[0]
        for i, piece in enumerate(escaped[1:], start=1):
            out += ("(.*)" if i == len(pieces) - 1 and piece == "" else "(.*?)") + piece
        return out, list(range(1, len(pieces)))
    pattern = re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", cmd.pattern)
    try:
        index = re.compile(pattern).groupindex
    except re.error as e:
        raise MalformedQueryError(f"invalid regular expression in parse ({e})", query, cmd.start, cmd.end) from e
    return pattern, [index[n] for n in cmd.names]


def translate(commands: tuple[Command, ...], query: str, base: dict[str, str], *, source: str = "events",
              limit: int | None = None) -> Translation:
    """The SQL of a parsed query over ``source`` whose columns and types are ``base``."""
    t = _Translator(query, base, source)
    for cmd in commands:
        t.command(cmd)
    return t.finish(limit)
