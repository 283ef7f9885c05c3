"""What every kind of CloudWatch filter pattern shares: its error, its length limit and the parser of
``&&`` / ``||`` / parentheses that space-delimited (``filter_pattern.py``) and JSON (``filter_json.py``)
conditions both use.

The boolean parser is an operator-precedence (shunting-yard) loop over the tokens, not a recursive
descent: 5,000 nested parentheses cost a list of 5,000 entries, never 15,000 Python frames. ``&&``
binds tighter than ``||``; chains of one operator (parenthesised or not) are flattened into one n-ary
node, so the tree is only as deep as the pattern alternates ``&&`` and ``||`` inside parentheses (at
most about a hundred levels in 1,024 characters).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from vpcflow.core.api_errors import FilterPatternError

#: CloudWatch Logs' limit on ``filterPattern`` (botocore's logs model: FilterPattern max length 1024),
#: which FilterLogEvents, PutMetricFilter and PutSubscriptionFilter all apply.
MAX_PATTERN_LENGTH = 1024


def pattern_error(detail: str) -> FilterPatternError:
    return FilterPatternError(f"Invalid filter pattern: {detail}")


def check_length(text: str) -> None:
    """AWS's validation error for a pattern over :data:`MAX_PATTERN_LENGTH` characters."""
    if len(text) > MAX_PATTERN_LENGTH:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise FilterPatternError(
            f"1 validation error detected: Value '{shown}' at 'filterPattern' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PATTERN_LENGTH}"
        )


E = TypeVar("E")
_PRECEDENCE = {"||": 1, "&&": 2}


def parse_boolean(
    tokens: Sequence[str],
    pos: int,
    atom: Callable[[int], tuple[E, int]],
    combine: Callable[[str, tuple[E, ...]], E],
) -> tuple[E, int]:
    """Parse conditions joined by ``&&``/``||`` with parentheses, from ``tokens[pos]``.

    ``atom(i)`` reads one condition starting at token ``i`` and returns it with the index after it;
    ``combine(op, parts)`` builds a node. Stops at the first token that cannot continue the
    expression (returned index); a ``)`` without its ``(`` also ends it.
    """
    operands: list[tuple[E, str | None]] = []  # (node, the operator it is a chain of, if any)
    ops: list[str] = []  # "(", "&&", "||"

    def reduce() -> None:
        op = ops.pop()
        (right, rop), (left, lop) = operands.pop(), operands.pop()
        parts = _chain(left, lop, op) + _chain(right, rop, op)
        operands.append((combine(op, parts), op))

    def _chain(node: E, node_op: str | None, op: str) -> tuple[E, ...]:
        return getattr(node, "parts", (node,)) if node_op == op else (node,)

    expect_operand = True
    i = pos
    while True:
        tok = tokens[i] if i < len(tokens) else None
        if expect_operand:
            if tok is None:
                raise pattern_error("the pattern ends too early")
            if tok == "(":
                ops.append("(")
                i += 1
                continue
            node, i = atom(i)
            operands.append((node, None))
            expect_operand = False
        elif tok in _PRECEDENCE:
            while ops and ops[-1] != "(" and _PRECEDENCE[ops[-1]] >= _PRECEDENCE[tok]:
                reduce()
            ops.append(tok)
            i += 1
            expect_operand = True
        elif tok == ")" and "(" in ops:
            while ops[-1] != "(":
                reduce()
            ops.pop()
            i += 1
        else:
            break
    while ops:
        if ops[-1] == "(":
            raise pattern_error("missing ')'")
        reduce()
    return operands[0][0], i
