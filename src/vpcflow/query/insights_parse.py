"""The CloudWatch Logs Insights query language (the subset of docs/insights.md) parsed into commands.

A hand-written recursive-descent parser that reads the query text directly (no separate token pass),
so every node keeps its character span and a malformed query is reported as AWS reports it: a
``MalformedQueryException`` whose ``queryCompileError.location`` holds the 0-based start and end
character offsets, and a message naming the line and position (1-based).

Commands are chained with ``|``; ``#`` starts a comment that runs to the end of the line. The
translation to DuckDB SQL is ``query/insights_sql.py``; nothing here knows about SQL.
"""

from __future__ import annotations

import re

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

#: CWL_QuerySyntax-Limit: "You can specify a limit value of up to 100,000."
MAX_LIMIT = 100_000
COMMANDS = ("fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup")
_KEYWORDS = {"and", "or", "not", "like", "in", "as", "by", "asc", "desc"}
_IDENT = re.compile(r"[@A-Za-z_][A-Za-z0-9_.@$]*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
#: bin()/datefloor() period units -> canonical unit (docs/insights.md "Periods").
UNITS = {"ms": "ms", "s": "s", "sec": "s", "m": "m", "min": "m", "h": "h", "hr": "h", "d": "d", "day": "d",
         "w": "w", "mo": "mo", "q": "q", "y": "y"}
_DURATION = re.compile(r"(\d+)(ms|sec|min|hr|day|mo|s|m|h|d|w|q|y)(?![A-Za-z0-9_])")
_COMPARISONS = ("!=", "<=", ">=", "=~", "=", "<", ">")


# ------------------------------------------------------------------------------------------ parser
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- scanning --------------------------------------------------------------------------------
    def error(self, reason: str, start: int | None = None, end: int | None = None) -> MalformedQueryError:
        s = self.pos if start is None else start
        return MalformedQueryError(reason, self.text, s, end if end is not None else s + 1)

    def skip(self) -> None:
        t, n = self.text, len(self.text)
        while self.pos < n:
            c = t[self.pos]
            if c.isspace():
                self.pos += 1
            elif c == "#":
                nl = t.find("\n", self.pos)
                self.pos = n if nl < 0 else nl + 1
            else:
                return

    def peek(self, s: str) -> bool:
        self.skip()
        return self.text.startswith(s, self.pos)

    def peek_word(self, *words: str) -> str | None:
        self.skip()
        m = _IDENT.match(self.text, self.pos)
        if m and m.group(0).lower() in words:
            return m.group(0).lower()
        return None

    def accept(self, s: str) -> bool:
        if self.peek(s):
            self.pos += len(s)
            return True
        return False

    def accept_word(self, word: str) -> bool:
        if self.peek_word(word):
            self.pos += len(word)
            return True
        return False

    def expect(self, s: str, what: str) -> None:
        if not self.accept(s):
            raise self.error(f"expected {what}, found {self._found()}")

    def at_end_of_command(self) -> bool:
        self.skip()
        return self.pos >= len(self.text) or self.text[self.pos] == "|"

    def _found(self) -> str:
        self.skip()
        if self.pos >= len(self.text):
            return "the end of the query"
        m = _IDENT.match(self.text, self.pos) or _NUMBER.match(self.text, self.pos)
        return repr(m.group(0)) if m else repr(self.text[self.pos])

    def quoted(self) -> tuple[str, int]:
        """A string in "..." or '...' (backslash escapes the quote and itself)."""
        self.skip()
        start, quote = self.pos, self.text[self.pos]
        out: list[str] = []
        i = start + 1
        while i < len(self.text):
            c = self.text[i]
            if c == "\\" and i + 1 < len(self.text):
                nxt = self.text[i + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt) if nxt in (quote, "\\", "n", "t") else c + nxt)
                i += 2
                continue
            if c == quote:
                self.pos = i + 1
                return "".join(out), start
            out.append(c)
            i += 1
        raise self.error("unterminated string", start, len(self.text))

    def regex(self) -> Regex:
        self.skip()
        start = self.pos
        i = start + 1
        while i < len(self.text):
            c = self.text[i]
            if c == "\\" and i + 1 < len(self.text):
                i += 2
                continue
            if c == "/":
                self.pos = i + 1
                return Regex(start, self.pos, self.text[start + 1 : i].replace("\\/", "/"))
            i += 1
        raise self.error("unterminated regular expression", start, len(self.text))

    def name(self, what: str = "a field name") -> tuple[str, int]:
        self.skip()
        start = self.pos
        if self.accept("`"):
            end = self.text.find("`", self.pos)
            if end < 0:
                raise self.error("unterminated `quoted` field name", start, len(self.text))
            self.pos = end + 1
            return self.text[start + 1 : end], start
        m = _IDENT.match(self.text, self.pos)
        if not m or m.group(0).lower() in _KEYWORDS:
            raise self.error(f"expected {what}, found {self._found()}")
        self.pos = m.end()
        return m.group(0), start

    # -- expressions ----------------------------------------------------------------------------
    def expr(self) -> Node:
        return self.or_expr()

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.accept_word("or"):
            right = self.and_expr()
            left = Binary(left.start, right.end, "or", left, right)
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self.accept_word("and"):
            right = self.not_expr()
            left = Binary(left.start, right.end, "and", left, right)
        return left

    def not_expr(self) -> Node:
        self.skip()
        start = self.pos
        if self.accept_word("not"):
            operand = self.not_expr()
            return Unary(start, operand.end, "not", operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        self.skip()
        save = self.pos
        negated = self.accept_word("not")
        if self.accept_word("like"):
            pattern: Node = self.regex() if self.peek("/") else self._string_literal()
            return Binary(left.start, pattern.end, "notlike" if negated else "like", left, pattern)
        if self.accept_word("in"):
            items = self._list()
            return InList(left.start, self.pos, left, items, negated)
        if negated:
            self.pos = save
            raise self.error("expected 'like' or 'in' after 'not'")
        for op in _COMPARISONS:
            if self.accept(op):
                if op == "=~":
                    right: Node = self.regex() if self.peek("/") else self._string_literal()
                else:
                    right = self.additive()
                return Binary(left.start, right.end, op, left, right)
        return left

    def _string_literal(self) -> Literal:
        self.skip()
        if not self.peek('"') and not self.peek("'"):
            raise self.error(f"expected a string or a /regular expression/, found {self._found()}")
        value, start = self.quoted()
        return Literal(start, self.pos, value)

    def _list(self) -> tuple[Node, ...]:
        self.expect("[", "'[' starting the list of values")
        items: list[Node] = []
        if not self.accept("]"):
            items.append(self.additive())
            while self.accept(","):
                items.append(self.additive())
            self.expect("]", "']' closing the list")
        return tuple(items)

    def additive(self) -> Node:
        left = self.multiplicative()
        while True:
            self.skip()
            op = next((o for o in "+-" if self.text.startswith(o, self.pos)), None)
            if op is None:
                return left
            self.pos += 1
            right = self.multiplicative()
            left = Binary(left.start, right.end, op, left, right)

    def multiplicative(self) -> Node:
        left = self.power()
        while True:
            self.skip()
            op = next((o for o in "*/%" if self.text.startswith(o, self.pos)), None)
            if op is None:
                return left
            self.pos += 1
            right = self.power()
            left = Binary(left.start, right.end, op, left, right)

    def power(self) -> Node:
        base = self.unary()
        if self.accept("^"):
            exponent = self.power()
            return Binary(base.start, exponent.end, "^", base, exponent)
        return base

    def unary(self) -> Node:
        self.skip()
        start = self.pos
        if self.accept("-"):
            operand = self.unary()
            return Unary(start, operand.end, "-", operand)
        return self.primary()

    def primary(self) -> Node:
        self.skip()
        start, t = self.pos, self.text
        if start >= len(t):
            raise self.error("expected a value, found the end of the query")
        c = t[start]
        if c == "(":
            self.pos += 1
            inner = self.expr()
            self.expect(")", "')'")
            return inner
        if c in "\"'":
            value, _ = self.quoted()
            return Literal(start, self.pos, value)
        if c == "/":
            return self.regex()
        if c.isdigit():
            d = _DURATION.match(t, start)
            if d:
                self.pos = d.end()
                return Period(start, self.pos, int(d.group(1)), UNITS[d.group(2)])
            m = _NUMBER.match(t, start)
            assert m is not None
            self.pos = m.end()
            text = m.group(0)
            return Literal(start, self.pos, float(text) if any(ch in text for ch in ".eE") else int(text))
        name, _ = self.name("a field, a value or a function")
        if self.accept("("):
            return self._call(name, start)
        return FieldRef(start, self.pos, name)

    def _call(self, name: str, start: int) -> Call:
        args: list[Node] = []
        self.skip()
        if self.peek("*"):
            star = self.pos
            self.pos += 1
            args.append(Star(star, self.pos))
        elif not self.peek(")"):
            args.append(self.expr())
            while self.accept(","):
                args.append(self.expr())
        self.expect(")", f"')' closing {name}(")
        return Call(start, self.pos, name, tuple(args))

    # -- commands --------------------------------------------------------------------------------
    def item(self) -> Item:
        self.skip()
        start = self.pos
        expr = self.expr()
        text = self.text[start : expr.end].strip()
        if self.accept_word("as"):
            alias, _ = self.name("a name after 'as'")
            return Item(expr, alias, True)
        name = expr.name if isinstance(expr, FieldRef) else text
        return Item(expr, name)

    def items(self) -> tuple[Item, ...]:
        out = [self.item()]
        while self.accept(","):
            out.append(self.item())
        return tuple(out)

    def command(self) -> Command:
        self.skip()
        start = self.pos
        m = _IDENT.match(self.text, self.pos)
        word = m.group(0).lower() if m else ""
        if word not in COMMANDS and word != "where":  # where: the newer alias of filter
            raise self.error(f"expected a command ({', '.join(COMMANDS)}), found {self._found()}",
                             start, start + max(1, len(word)))
        self.pos = m.end() if m else self.pos
        handler = getattr(self, "_cmd_" + ("filter" if word == "where" else word))
        cmd: Command = handler(start)
        if not self.at_end_of_command():
            raise self.error(f"unexpected {self._found()} in {word}; commands are separated by '|'")
        return cmd

    def _cmd_fields(self, start: int) -> Command:
        return Command("fields", start, self.pos, items=self.items())

    def _cmd_display(self, start: int) -> Command:
        return Command("display", start, self.pos, items=self.items())

    def _cmd_filter(self, start: int) -> Command:
        cond = self.expr()
        return Command("filter", start, cond.end, condition=cond)

    def _cmd_stats(self, start: int) -> Command:
        aggs = self.items()
        by: tuple[Item, ...] = ()
        if self.accept_word("by"):
            by = self.items()
        return Command("stats", start, self.pos, items=aggs, by=by)

    def _cmd_sort(self, start: int) -> Command:
        keys: list[tuple[Node, bool]] = []
        while True:
            expr = self.additive()
            desc = False
            if self.accept_word("desc"):
                desc = True
            else:
                self.accept_word("asc")
            keys.append((expr, desc))
            if not self.accept(","):
                return Command("sort", start, self.pos, keys=tuple(keys))

    def _cmd_limit(self, start: int) -> Command:
        self.skip()
        m = re.compile(r"\d+").match(self.text, self.pos)
        if not m:
            raise self.error(f"expected a number of rows after limit, found {self._found()}")
        self.pos = m.end()
        n = int(m.group(0))
        if not 1 <= n <= MAX_LIMIT:
            raise self.error(f"limit must be between 1 and {MAX_LIMIT}", m.start(), m.end())
        return Command("limit", start, self.pos, count=n)

    def _cmd_dedup(self, start: int) -> Command:
        names = [self.name()[0]]
        while self.accept(","):
            names.append(self.name()[0])
        return Command("dedup", start, self.pos, names=tuple(names))

    def _cmd_parse(self, start: int) -> Command:
        self.skip()
        source: Node = FieldRef(self.pos, self.pos, "@message")
        if not (self.peek('"') or self.peek("'") or self.peek("/")):
            fname, fstart = self.name("the field to parse or a pattern")
            source = FieldRef(fstart, self.pos, fname)
        self.skip()
        pstart = self.pos
        if self.peek("/"):
            rx = self.regex()
            names = tuple(re.findall(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>", rx.pattern))
            if not names:
                raise self.error("a parse regular expression needs named groups (?<name>...)", rx.start, rx.end)
            return Command("parse", start, self.pos, condition=source, pattern=rx.pattern, regex=True, names=names)
        if not (self.peek('"') or self.peek("'")):
            raise self.error(f"expected a \"glob * pattern\" or a /regular expression/, found {self._found()}")
        pattern, _ = self.quoted()
        stars = pattern.count("*")
        if stars == 0:
            raise self.error("the parse pattern has no '*'", pstart, self.pos)
        if not self.accept_word("as"):
            raise self.error(f"expected 'as' and {stars} field names after the parse pattern")
        fields = [self.name()[0]]
        while self.accept(","):
            fields.append(self.name()[0])
        if len(fields) != stars:
            raise self.error(f"the pattern has {stars} '*' but {len(fields)} names follow 'as'", pstart, self.pos)
        return Command("parse", start, self.pos, condition=source, pattern=pattern, names=tuple(fields))


def parse_query(text: str) -> tuple[Command, ...]:
    """The commands of an Insights query, or ``MalformedQueryError`` pointing at the problem."""
    p = _Parser(text)
    commands: list[Command] = []
    while True:
        p.skip()
        if p.pos >= len(text):
            if commands:
                raise p.error("the query ends with '|'; a command must follow", p.pos - 1, p.pos)
            raise p.error("the query is empty", 0, max(1, len(text)))
        commands.append(p.command())
        if not p.accept("|"):
            return tuple(commands)
