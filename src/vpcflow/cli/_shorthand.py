"""The AWS CLI's shorthand syntax and list arguments, for ``vpcflow ec2`` (docs/controlplane.md "CLI").

* Lists are space-separated values after one flag (``--resource-ids vpc-1 vpc-2``), or a JSON array.
* Structures are ``Key=value,Key=value`` or JSON: ``FileFormat=parquet,PerHourPartition=true``,
  ``Name=resource-id,Values=vpc-1,vpc-2`` (values after a key run on until the next ``Key=``),
  ``ResourceType=vpc-flow-log,Tags=[{Key=k,Value=v},{Key=k2,Value=v2}]``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


class ShorthandError(click.BadParameter):
    pass


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets/braces and quotes."""
    out: list[str] = []
    depth = 0
    quote = ""
    cur: list[str] = []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            else:
                cur.append(ch)
            continue
        if ch in "\"'":
            quote = ch
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth < 0:
                raise ShorthandError(f"unbalanced {ch!r} in {text!r}")
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0 or quote:
        raise ShorthandError(f"unbalanced brackets or quotes in {text!r}")
    out.append("".join(cur))
    return out


def _value(text: str) -> Any:
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        inner = t[1:-1].strip()
        return [] if not inner else [_value(p) for p in _split_top(inner)]
    if t.startswith("{") and t.endswith("}"):
        return parse_struct(t[1:-1])
    return t


def parse_struct(text: str) -> dict[str, Any]:
    """``Key=value,Key=value`` (values may be ``[...]``, ``{...}``, or a run of bare values = a list)."""
    out: dict[str, Any] = {}
    last: str | None = None
    for part in _split_top(text):
        key, eq, raw = part.partition("=")
        if eq and key.strip() and key.strip()[0].isalpha() and " " not in key.strip():
            last = key.strip()
            if last in out:
                raise ShorthandError(f"key {last!r} given twice in {text!r}")
            out[last] = _value(raw)
        elif last is not None:
            # "Values=a,b,c": extra bare values extend the previous key into a list
            prev = out[last]
            out[last] = ([*prev] if isinstance(prev, list) else [prev]) + [_value(part)]
        else:
            raise ShorthandError(f"expected Key=value in {text!r}")
    return out


def structs(values: Sequence[str], name: str) -> list[dict[str, Any]]:
    """Each value is a JSON object/array or one shorthand structure."""
    out: list[dict[str, Any]] = []
    for v in values:
        s = v.strip()
        if s.startswith(("[", "{")):
            try:
                data = json.loads(s)
            except json.JSONDecodeError as e:
                raise ShorthandError(f"{name}: invalid JSON: {e.msg}") from None
            except RecursionError:
                raise ShorthandError(f"{name}: invalid JSON: nested too deep") from None
            items = data if isinstance(data, list) else [data]
            if not all(isinstance(i, dict) for i in items):
                raise ShorthandError(f"{name}: expected JSON objects")
            out.extend(items)
        else:
            out.append(parse_struct(s))
    return out


def struct(value: str | None, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    items = structs([value], name)
    if len(items) != 1:
        raise ShorthandError(f"{name}: expected one structure")
    return items[0]


def strings(values: Sequence[str]) -> list[str]:
    """A list argument: space-separated values, or one JSON array."""
    if len(values) == 1 and values[0].strip().startswith("["):
        try:
            data = json.loads(values[0])
        except json.JSONDecodeError as e:
            raise ShorthandError(f"invalid JSON list: {e.msg}") from None
        except RecursionError:
            raise ShorthandError("invalid JSON list: nested too deep") from None
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise ShorthandError("expected a JSON list of strings")
        return data
    return list(values)


def to_bool(value: Any, name: str) -> Any:
    """Shorthand booleans are the strings true/false; JSON gives real booleans."""
    if isinstance(value, str):
        low = value.lower()
        if low in ("true", "false"):
            return low == "true"
        raise ShorthandError(f"{name}: expected true or false, got {value!r}")
    return value


def expand_list_options(args: list[str], list_flags: set[str]) -> list[str]:
    """``--flag a b c`` -> ``--flag a --flag b --flag c`` for the command's list flags (AWS CLI style)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        flag, eq, inline = a.partition("=")
        if flag in list_flags:
            values = [inline] if eq else []
            i += 1
            while i < len(args) and not args[i].startswith("--"):
                values.append(args[i])
                i += 1
            if not values:
                out.append(flag)  # click reports the missing value
            for v in values:
                out += [flag, v]
            continue
        out.append(a)
        i += 1
    return out


class AwsCommand(click.Command):
    """A click command whose ``multiple=True`` options take AWS CLI space-separated lists."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags = {o for p in self.params if isinstance(p, click.Option) and p.multiple for o in p.opts}
        return super().parse_args(ctx, expand_list_options(args, flags))
