"""Ids and references while loading a topology: deterministic AWS-format ids, and name-or-id lookups.

Every resource may carry an ``id`` (AWS format, checked) and a ``name`` (its Name tag). Omitted ids are
derived from a SHA-256 of the resource's kind, owner, region, parent and name (or its position and
content when it has no name), so reloading the same file gives the same ids. A reference (``vpc:
web-vpc``, ``group: sg-0123...``) is looked up first as an id, then as a name; a name shared by several
resources resolves within the referring resource's VPC, otherwise it is reported as ambiguous.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from vpcflow.model.topology.problems import Problems, suggest
from vpcflow.model.topology.sourcemap import KeyPath, format_path

#: kind -> (id prefix, accepted hex lengths). AWS ids are prefix + 8 hex (older) or 17 hex.
ID_FORMATS: dict[str, tuple[str, tuple[int, ...]]] = {
    "vpc": ("vpc", (8, 17)),
    "subnet": ("subnet", (8, 17)),
    "network_interface": ("eni", (8, 17)),
    "security_group": ("sg", (8, 17)),
    "network_acl": ("acl", (8, 17)),
    "route_table": ("rtb", (8, 17)),
    "internet_gateway": ("igw", (8, 17)),
    "egress_only_internet_gateway": ("eigw", (8, 17)),
    "nat_gateway": ("nat", (8, 17)),
    "vpc_endpoint": ("vpce", (8, 17)),
    "vpc_peering_connection": ("pcx", (8, 17)),
    "prefix_list": ("pl", (8, 17)),
    "vpn_gateway": ("vgw", (8, 17)),
    "transit_gateway": ("tgw", (8, 17)),
    "instance": ("i", (8, 17)),
    "security_group_rule": ("sgr", (17,)),
}

_HEX = re.compile(r"^[0-9a-f]+$")
ACCOUNT_RE = re.compile(r"^\d{12}$")


def generate_id(kind: str, *parts: str) -> str:
    """``prefix-`` + 17 hex derived from ``parts`` (deterministic)."""
    prefix = ID_FORMATS[kind][0]
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()
    return f"{prefix}-0{digest[:16]}"


def id_problem(kind: str, value: str) -> str | None:
    """Why ``value`` is not an id of ``kind`` (None when it is one)."""
    prefix, lengths = ID_FORMATS[kind]
    head, sep, tail = value.partition("-")
    if sep and head == prefix and len(tail) in lengths and _HEX.match(tail):
        return None
    shapes = " or ".join(str(n) for n in lengths)
    return f"{value!r} is not a {kind.replace('_', ' ')} id ({prefix}- followed by {shapes} lowercase hex digits)"


def looks_like_id(kind: str, value: str) -> bool:
    return id_problem(kind, value) is None


@dataclass
class Entry:
    id: str
    path: KeyPath
    vpc_id: str | None
    name: str | None


@dataclass
class Registry:
    """Ids and names of one kind of resource."""

    kind: str
    by_id: dict[str, Entry] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)

    def add(self, problems: Problems, entry: Entry, *, extra_names: tuple[str, ...] = ()) -> bool:
        first = self.by_id.get(entry.id)
        if first is not None:
            what = self.kind.replace("_", " ")
            if first.name is not None and first.name == entry.name:
                message = f"{what} name {entry.name!r} is used twice here (also at {format_path(first.path)})"
            else:
                message = f"duplicate {what} id {entry.id!r} (also at {format_path(first.path)})"
            problems.add(entry.path, message)
            return False
        self.by_id[entry.id] = entry
        for name in {n for n in (entry.name, *extra_names) if n}:
            self.by_name.setdefault(name, []).append(entry.id)
        return True

    def resolve(self, problems: Problems, path: KeyPath, ref: object, *, vpc_id: str | None = None) -> str | None:
        """The id ``ref`` names (an id or a name), or None after recording why not."""
        what = self.kind.replace("_", " ")
        if not isinstance(ref, str) or not ref:
            problems.add(path, f"expected the id or name of a {what}, got {ref!r}")
            return None
        if ref in self.by_id:
            return ref
        ids = self.by_name.get(ref, [])
        if len(ids) > 1 and vpc_id is not None:
            ids = [i for i in ids if self.by_id[i].vpc_id == vpc_id] or ids
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            problems.add(path, f"{what} name {ref!r} is ambiguous: it names {', '.join(sorted(ids))}; use the id")
            return None
        problems.add(path, f"unknown {what} {ref!r}{suggest(ref, [*self.by_name, *self.by_id])}")
        return None
