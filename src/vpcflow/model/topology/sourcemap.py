"""Parse topology text (YAML or JSON) into plain data plus a map from key paths to line numbers.

Key paths are tuples of mapping keys and sequence indexes, written ``vpcs[0].subnets[2].cidr_block``.
Both formats go through PyYAML's composer (JSON is valid YAML for every document ``json.dump`` writes), so
every key and list item keeps the line it came from; ``model.safe_yaml`` checks the text first, so an
alias bomb or a document nested thousands deep is refused before any walker sees it. Other layers (IAM)
use :func:`locate` to point at a key inside the raw ``iam`` section. Duplicate mapping keys, which YAML
and JSON parsers silently collapse, are reported because a repeated key in a topology is almost always
a mistake.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from vpcflow.core.errors import ConfigError
from vpcflow.model.safe_yaml import MAX_DEPTH, InputLimitError, Loader, check_yaml, yaml_error

KeyPath = tuple[str | int, ...]

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def format_path(path: KeyPath) -> str:
    """``('vpcs', 0, 'cidr_block')`` -> ``vpcs[0].cidr_block``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_path(text: str) -> KeyPath:
    """The inverse of :func:`format_path` (keys containing dots or brackets cannot round-trip)."""
    parts: list[str | int] = []
    for m in _SEGMENT.finditer(text):
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return tuple(parts)


@dataclass(frozen=True)
class SourceMap:
    """Where each key path of a parsed document starts (1-based line numbers) in ``source``."""

    source: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    duplicate_keys: tuple[tuple[KeyPath, int], ...] = ()

    def line_of(self, path: KeyPath | str) -> int | None:
        """The line of ``path`` or of its closest ancestor that has one."""
        key = parse_path(path) if isinstance(path, str) else tuple(path)
        while True:
            line = self.lines.get(key)
            if line is not None:
                return line
            if not key:
                return None
            key = key[:-1]

    def locate(self, path: KeyPath | str) -> str:
        """``file:line`` for ``path`` (``file`` alone when no line is known)."""
        line = self.line_of(path)
        return f"{self.source}:{line}" if line is not None else self.source


def locate(source_map: SourceMap, key_path: KeyPath | str) -> str:
    """``file:line`` of a key path such as ``iam.users[0].policies[1].document`` (closest known ancestor)."""
    return source_map.locate(key_path)


class _Walker:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[KeyPath, int] = {}
        self.duplicates: list[tuple[KeyPath, int]] = []

    def walk(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
            self.loader.flatten_mapping(node)  # resolve `<<: *anchor` merge keys like PyYAML does
            merged = len(node.value) - own  # merged pairs come first; the mapping's own keys override them
            out: dict[Any, Any] = {}
            own_keys: set[Any] = set()
            for index, (key_node, value_node) in enumerate(node.value):
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    key = str(key)
                child = (*path, key if isinstance(key, (str, int)) else str(key))
                if index >= merged:
                    if key in own_keys:
                        self.duplicates.append((child, key_node.start_mark.line + 1))
                    own_keys.add(key)
                    self.lines[child] = key_node.start_mark.line + 1
                else:
                    self.lines.setdefault(child, key_node.start_mark.line + 1)
                out[key] = self.walk(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                child = (*path, i)
                self.lines.setdefault(child, item.start_mark.line + 1)
                items.append(self.walk(item, child))
            return items
        return self.loader.construct_object(node, deep=True)


def parse_document(text: str, *, source: str, fmt: str) -> tuple[Any, SourceMap]:
    """Parse ``text`` (``fmt`` 'yaml' or 'json'); raise ConfigError with file:line on a syntax error."""
    if fmt not in ("yaml", "json"):
        raise ConfigError(f"unknown topology format {fmt!r} (expected 'yaml' or 'json')", location=source)
    if fmt == "json":
        try:
            check_yaml(text, source=source)
        except InputLimitError:
            raise
        except ConfigError:
            pass  # valid JSON that PyYAML's YAML 1.1 reader refuses (rare): json decides below
        try:
            plain = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid JSON: {e.msg} (column {e.colno})", location=f"{source}:{e.lineno}") from e
        except RecursionError:
            raise InputLimitError(f"nested more than {MAX_DEPTH} levels deep", location=source) from None
    else:
        check_yaml(text, source=source)
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        walker = _Walker(loader)
        data = walker.walk(node, ()) if node is not None else None
    except yaml.YAMLError as e:
        if fmt == "json":  # valid JSON that PyYAML's YAML 1.1 reader refuses (rare): no line numbers then
            return plain, SourceMap(source)
        raise yaml_error(e, source) from e
    finally:
        loader.dispose()
    return data, SourceMap(source, walker.lines, tuple(walker.duplicates))
