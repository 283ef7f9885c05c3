"""Change files for what-if replays: edits applied to a topology DOCUMENT (the parsed YAML/JSON).

A change file is ``{changes: [...]}`` (or a bare list); each change is one of::

    - remove: security_groups[web-sg].ingress[description=SSH from the bastion]
    - add: network_acls[db-nacl].ingress
      value: {rule: 40, protocol: tcp, ports: 5432, action: deny, cidr: 10.0.21.0/24}
    - set: security_groups[bastion-sg].ingress[0].cidr
      value: 0.0.0.0/0

A path is dotted keys; a list step takes a selector in brackets: an index (``[0]``), a ``key=value``
match (``[rule=100]``, ``[ports=22]``) or a bare word matching the element's ``name`` or ``id``
(``[web-sg]``). Selectors must match exactly one element. The edited document is then loaded and
validated like any topology file, so a change that breaks the topology is reported there.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from vpcflow.core.errors import ConfigError

_STEP = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_-]*)(?P<sels>(\[[^\]]*\])*)$")
_SEL = re.compile(r"\[([^\]]*)\]")


def _split_path(path: str) -> list[str]:
    """Split on dots that are outside brackets (selectors may contain dots: ``[cidr=10.0.0.0/16]``)."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _steps(path: str, where: str) -> list[str | int | tuple[str, str] | tuple[str]]:
    steps: list[str | int | tuple[str, str] | tuple[str]] = []
    for part in _split_path(path.strip()):
        m = _STEP.match(part)
        if not m:
            raise ConfigError(f"bad path step {part!r} in {path!r}", location=where)
        steps.append(m.group("key"))
        for sel in _SEL.findall(m.group("sels")):
            sel = sel.strip()
            if re.fullmatch(r"-?\d+", sel):
                steps.append(int(sel))
            elif "=" in sel:
                k, v = sel.split("=", 1)
                steps.append((k.strip(), v.strip()))
            else:
                steps.append((sel,))
    return steps


def _matches(item: Any, sel: tuple[str, str] | tuple[str]) -> bool:
    if not isinstance(item, Mapping):
        return False
    if len(sel) == 1:
        return str(item.get("name")) == sel[0] or str(item.get("id")) == sel[0]
    key, value = sel
    return key in item and str(item[key]) == value


def _describe(item: Any) -> str:
    if isinstance(item, Mapping):
        for k in ("name", "id", "rule", "description"):
            if k in item:
                return f"{k}={item[k]}"
    return repr(item)[:40]


def _step_into(node: Any, step: str | int | tuple[str, str] | tuple[str], path: str, where: str) -> Any:
    if isinstance(step, str):
        if not isinstance(node, Mapping) or step not in node:
            known = ", ".join(sorted(node)) if isinstance(node, Mapping) else "(not a mapping)"
            raise ConfigError(f"{path}: no key {step!r} (known: {known})", location=where)
        return node[step]
    if not isinstance(node, list):
        raise ConfigError(f"{path}: a selector needs a list, found {type(node).__name__}", location=where)
    if isinstance(step, int):
        if not -len(node) <= step < len(node):
            raise ConfigError(f"{path}: index {step} out of range (the list has {len(node)} items)", location=where)
        return node[step]
    hits = [i for i in node if _matches(i, step)]
    if len(hits) != 1:
        what = "=".join(step)
        known = ", ".join(_describe(i) for i in node[:12])
        raise ConfigError(f"{path}: selector [{what}] matches {len(hits)} items (items: {known})", location=where)
    return hits[0]


def _parent_and_last(doc: Any, path: str, where: str) -> tuple[Any, str | int | tuple[str, str] | tuple[str]]:
    steps = _steps(path, where)
    node = doc
    for step in steps[:-1]:
        node = _step_into(node, step, path, where)
    return node, steps[-1]


def apply_changes(document: Mapping[str, Any], changes: Any, *, source: str = "change file") -> dict[str, Any]:
    """A deep copy of ``document`` with ``changes`` applied; errors name the change (``changes[i]``)."""
    items = changes.get("changes") if isinstance(changes, Mapping) else changes
    if not isinstance(items, list) or not items:
        raise ConfigError("expected a non-empty list under `changes:`", location=source)
    doc: dict[str, Any] = copy.deepcopy(dict(document))
    for i, change in enumerate(items):
        where = f"{source}: changes[{i}]"
        if not isinstance(change, Mapping):
            raise ConfigError("each change is a mapping with remove, add or set", location=where)
        ops = [k for k in ("remove", "add", "set") if k in change]
        extra = set(change) - {"remove", "add", "set", "value", "description"}
        if len(ops) != 1 or extra:
            raise ConfigError(
                "a change has exactly one of remove/add/set (plus value, description); found "
                + ", ".join(sorted(change)),
                location=where,
            )
        op, path = ops[0], str(change[ops[0]])
        if op in ("add", "set") and "value" not in change:
            raise ConfigError(f"`{op}` needs a `value`", location=where)
        parent, last = _parent_and_last(doc, path, where)
        if op == "remove":
            target = _step_into(parent, last, path, where)
            if isinstance(last, str):
                del parent[last]
            else:
                parent.remove(target)
        elif op == "add":
            target = _step_into(parent, last, path, where) if not (
                isinstance(last, str) and isinstance(parent, Mapping) and last not in parent
            ) else None
            if target is None:
                parent[last] = [copy.deepcopy(change["value"])]
            elif isinstance(target, list):
                target.append(copy.deepcopy(change["value"]))
            else:
                raise ConfigError(f"{path}: `add` appends to a list; this is a {type(target).__name__}", location=where)
        else:
            if isinstance(last, str):
                if not isinstance(parent, dict):
                    raise ConfigError(f"{path}: cannot set a key on a {type(parent).__name__}", location=where)
                parent[last] = copy.deepcopy(change["value"])
            else:
                target = _step_into(parent, last, path, where)
                parent[parent.index(target)] = copy.deepcopy(change["value"])
    return doc
