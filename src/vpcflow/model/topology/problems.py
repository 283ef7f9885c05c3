"""Collect every problem of a topology file, then raise them together as one ``TopologyError``.

Loading never stops at the first mistake: each check records a :class:`Problem` (file:line, key path,
message) and carries on with what it can, so one run of ``vpcflow topology validate`` lists everything.
:class:`Section` reads one mapping of the document with typed getters that record problems instead of
raising, and rejects unknown keys naming the closest valid one (typo detection).
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.sourcemap import KeyPath, SourceMap, format_path


@dataclass(frozen=True, slots=True)
class Problem:
    location: str  # file:line
    key_path: str  # vpcs[0].subnets[2].cidr_block
    message: str

    def __str__(self) -> str:
        return (
            f"{self.location}: {self.key_path}: {self.message}" if self.key_path else f"{self.location}: {self.message}"
        )


class TopologyError(ConfigError):
    """Every problem found in one topology file; ``problems`` lists them in file order."""

    def __init__(self, problems: Sequence[Problem], source: str) -> None:
        self.problems = tuple(problems)
        first = self.problems[0]
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        message = f"{count} problem{'s' if count != 1 else ''} in topology {source}:\n{lines}"
        super().__init__(message)
        self.location = first.location
        self.key_path = first.key_path


def suggest(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close candidate exists, else an empty string."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Problems:
    """The problem collector of one load."""

    def __init__(self, source_map: SourceMap) -> None:
        self.source_map = source_map
        self.items: list[tuple[int, int, Problem]] = []

    def add(self, path: KeyPath, message: str) -> None:
        line = self.source_map.line_of(path)
        location = f"{self.source_map.source}:{line}" if line is not None else self.source_map.source
        self.items.append((line or 0, len(self.items), Problem(location, format_path(path), message)))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            ordered = [p for _, _, p in sorted(self.items, key=lambda t: (t[0], t[1]))]
            raise TopologyError(ordered, self.source_map.source)


_MISSING = object()


class Section:
    """One mapping of the document at ``path``; getters record problems and return None when bad."""

    def __init__(self, problems: Problems, path: KeyPath, data: Any, allowed: Iterable[str], what: str) -> None:
        self.problems = problems
        self.path = path
        self.ok = isinstance(data, dict)
        self.data: dict[Any, Any] = data if isinstance(data, dict) else {}
        if not self.ok:
            problems.add(path, f"expected a mapping describing {what}, got {_kind(data)}")
            return
        allowed_set = list(allowed)
        for key in self.data:
            if key not in allowed_set:
                problems.add((*path, str(key)), f"unknown key {key!r} in {what}{suggest(str(key), allowed_set)}")

    def at(self, key: str) -> KeyPath:
        return (*self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        return default if value is None else value

    def require(self, key: str, what: str) -> bool:
        if not self.has(key):
            if self.ok:
                self.problems.add(self.path, f"missing required key {key!r} ({what})")
            return False
        return True

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        if not self.has(key):
            if required:
                self.require(key, "a string")
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problems.add(self.at(key), f"expected a string, got {_kind(value)}")
            return default
        return str(value)

    def integer(
        self, key: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        if not self.has(key):
            return default
        return as_int(self.problems, self.at(key), self.data[key], lo=lo, hi=hi)

    def flag(self, key: str, default: bool = False) -> bool:
        if not self.has(key):
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            self.problems.add(self.at(key), f"expected true or false, got {value!r}")
            return default
        return value

    def seq(self, key: str, *, scalar_ok: bool = False) -> list[tuple[KeyPath, Any]]:
        """Items of a list with their paths (a lone scalar counts as a one-item list if ``scalar_ok``)."""
        if not self.has(key):
            return []
        value = self.data[key]
        if isinstance(value, list):
            return [((*self.path, key, i), v) for i, v in enumerate(value)]
        if scalar_ok and isinstance(value, (str, int)) and not isinstance(value, bool):
            return [(self.at(key), value)]
        self.problems.add(self.at(key), f"expected a list, got {_kind(value)}")
        return []

    def tags(self, name: str | None) -> tuple[tuple[str, str], ...]:
        """``name`` becomes the ``Name`` tag (first), followed by ``tags`` in file order."""
        out: list[tuple[str, str]] = []
        if name is not None:
            out.append(("Name", name))
        value = self.data.get("tags")
        if value is None:
            return tuple(out)
        if isinstance(value, list) and all(isinstance(t, dict) and "Key" in t for t in value):
            value = {t["Key"]: t.get("Value", "") for t in value}  # AWS's own shape: [{Key, Value}]
        if not isinstance(value, dict):
            self.problems.add(
                self.at("tags"), f"expected a mapping of tag keys to values (or [{{Key, Value}}]), got {_kind(value)}"
            )
            return tuple(out)
        for k, v in value.items():
            if isinstance(v, (dict, list)) or v is None:
                self.problems.add((*self.path, "tags", str(k)), "a tag value must be a string")
                continue
            text = str(v).lower() if isinstance(v, bool) else str(v)
            if str(k) == "Name" and name is not None:
                if text != name:
                    self.problems.add((*self.path, "tags", "Name"), f"Name tag {text!r} contradicts name {name!r}")
                continue
            out.append((str(k), text))
        return tuple(out)


def as_int(
    problems: Problems, path: KeyPath, value: Any, *, lo: int | None = None, hi: int | None = None
) -> int | None:
    if isinstance(value, bool):
        problems.add(path, f"expected an integer, got {value!r}")
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            problems.add(path, f"expected an integer, got {value!r}")
            return None
    if not isinstance(value, int):
        problems.add(path, f"expected an integer, got {_kind(value)}")
        return None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        problems.add(path, f"{value} is out of range {lo}..{hi}")
        return None
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def network(problems: Problems, path: KeyPath, value: Any, *, version: int, what: str) -> Any:
    """A CIDR of the given IP version; host bits set is an error that names the network meant."""
    if not isinstance(value, str):
        problems.add(path, f"expected an IPv{version} CIDR for {what}, got {_kind(value)}")
        return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        problems.add(path, f"{value!r} is not a valid CIDR block")
        return None
    if net.version != version:
        other = "ipv6_cidr" if version == 4 else "cidr"
        problems.add(path, f"{value!r} is an IPv{net.version} CIDR; IPv{version} expected here (use {other}?)")
        return None
    if "/" not in value:
        problems.add(path, f"{value!r} has no prefix length (write {net.with_prefixlen})")
        return None
    if net.network_address != ipaddress.ip_interface(value).ip:
        problems.add(path, f"{value!r} has host bits set (did you mean {net.with_prefixlen}?)")
        return None
    return net


def address(problems: Problems, path: KeyPath, value: Any, *, version: int) -> Any:
    if not isinstance(value, str):
        problems.add(path, f"expected an IPv{version} address, got {_kind(value)}")
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        problems.add(path, f"{value!r} is not a valid IP address")
        return None
    if ip.version != version:
        problems.add(path, f"{value!r} is an IPv{ip.version} address; IPv{version} expected here")
        return None
    return ip
