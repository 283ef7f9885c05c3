"""The one YAML reader of vpcflow: every YAML (or JSON-read-as-YAML) file goes through it.

PyYAML's safe loader builds no arbitrary objects, but it still accepts two kinds of hostile input:

* **alias bombs** ("billion laughs"): ``a: &a [x, x]``, ``b: &b [*a, *a]``, ... compose into a tiny
  node graph that every walker over the document (source maps, validation, the topology builder)
  expands into billions of nodes;
* **deep nesting** (``[[[[...]]]]``): the composers and walkers recurse once per level.

Before anything composes a document, :func:`check_yaml` runs over PyYAML's event stream (flat, no
recursion, libyaml when available) and computes, for every anchored node, how many nodes it expands
to. It refuses, with the file and line:

* nesting deeper than :data:`MAX_DEPTH` collections;
* aliases that add more than :data:`MAX_ALIAS_NODES` nodes in total to what the file spells out.

Anchors, aliases and merge keys (``<<: *defaults``) stay usable for what people write by hand. These
limits are vpcflow's (AWS never reads these files); docs/topology.md records them.
"""

from __future__ import annotations

from typing import Any

import yaml

from vpcflow.core.errors import ConfigError

#: Collections nested inside each other; the deepest bundled document needs fewer than 12.
MAX_DEPTH = 100
#: Nodes that aliases may add to the document beyond the nodes written in the file.
MAX_ALIAS_NODES = 1_000_000

#: libyaml's parser when PyYAML was built with it (several times faster); it keeps node marks too.
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InputLimitError(ConfigError):
    """A document over one of this module's limits (nesting depth, alias expansion)."""


def _where(source: str, event: yaml.Event) -> str:
    mark = event.start_mark
    return f"{source}:{mark.line + 1}" if mark is not None else source


def yaml_error(e: yaml.YAMLError, source: str) -> ConfigError:
    """PyYAML's error as one line naming the file and, when PyYAML knows it, the line."""
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        return ConfigError(f"not valid YAML: {e.problem or e}", location=where)
    return ConfigError(f"not valid YAML: {e}", location=source)


def check_yaml(text: str, *, source: str) -> None:
    """Refuse alias bombs and excessive nesting in ``text`` (see the module docstring)."""
    open_sizes: list[int] = []  # expanded node counts of the collections being read
    open_anchors: list[str | None] = []
    anchors: dict[str, int] = {}
    added = 0
    try:
        for event in yaml.parse(text, Loader=Loader):
            if isinstance(event, yaml.DocumentStartEvent):
                anchors.clear()  # anchors are scoped to their document
            elif isinstance(event, yaml.CollectionStartEvent):
                if len(open_sizes) >= MAX_DEPTH:
                    raise InputLimitError(f"nested more than {MAX_DEPTH} levels deep", location=_where(source, event))
                open_sizes.append(1)
                open_anchors.append(event.anchor)
            elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionEndEvent)):
                if isinstance(event, yaml.CollectionEndEvent):
                    size, anchor = open_sizes.pop(), open_anchors.pop()
                elif isinstance(event, yaml.AliasEvent):
                    size, anchor = anchors.get(event.anchor or "", 1), None
                    added += size
                    if added > MAX_ALIAS_NODES:
                        raise InputLimitError(
                            f"aliases expand the document by more than {MAX_ALIAS_NODES:,} nodes "
                            "(an alias bomb?)", location=_where(source, event))
                else:
                    size, anchor = 1, event.anchor
                if anchor is not None:
                    anchors[anchor] = size
                if open_sizes:
                    open_sizes[-1] += size
    except yaml.YAMLError as e:
        error = yaml_error(e, source)
        if "nesting depth" in str(e):  # libyaml's own limit (1,000 levels), met while it scans ahead
            raise InputLimitError(f"nested more than {MAX_DEPTH} levels deep", location=error.location) from None
        raise error from None


def compose_yaml(text: str, *, source: str) -> yaml.Node | None:
    """The node tree of a single-document ``text`` (None when empty), after :func:`check_yaml`."""
    check_yaml(text, source=source)
    try:
        return yaml.compose(text, Loader=Loader)
    except yaml.YAMLError as e:
        raise yaml_error(e, source) from None


def load_yaml(text: str, *, source: str) -> Any:
    """Plain data (dicts, lists, scalars) of a single-document ``text``, after :func:`check_yaml`."""
    check_yaml(text, source=source)
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError as e:
        raise yaml_error(e, source) from None
