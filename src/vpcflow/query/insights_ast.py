"""The syntax tree of a CloudWatch Logs Insights query and AWS's error for a malformed one.

Every node keeps its 0-based character span in the query text, so translation errors
(``query/insights_sql.py``) point at the text as parse errors (``query/insights_parse.py``) do.
"""

from __future__ import annotations

from dataclasses import dataclass, field


# ------------------------------------------------------------------------------------------ syntax tree
@dataclass(frozen=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True)
class FieldRef(Node):
    name: str


@dataclass(frozen=True)
class Literal(Node):
    value: str | int | float


@dataclass(frozen=True)
class Regex(Node):
    pattern: str


@dataclass(frozen=True)
class Star(Node):
    """``*`` as the argument of ``count(*)``."""


@dataclass(frozen=True)
class Period(Node):
    amount: int
    unit: str  # a value of UNITS


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # and or + - * / % ^ = != < <= > >= like notlike =~
    left: Node
    right: Node


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    items: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True)
class Item:
    """One expression of fields/stats/display/by with its output name (alias, else the text as typed)."""

    expr: Node
    name: str
    aliased: bool = False


@dataclass(frozen=True)
class Command:
    kind: str
    start: int
    end: int
    items: tuple[Item, ...] = ()
    by: tuple[Item, ...] = ()
    condition: Node | None = None
    keys: tuple[tuple[Node, bool], ...] = ()  # sort: (expression, descending)
    count: int = 0  # limit
    pattern: str = ""  # parse: the glob or regex text
    regex: bool = False
    names: tuple[str, ...] = field(default_factory=tuple)
