"""Load topology files (YAML or JSON) into a validated ``Topology``; dump topology documents as YAML.

Public API::

    load_topology(path) -> Topology
    loads_topology(text, *, source="<string>", fmt="yaml") -> Topology
    load_topology_document(path) -> LoadedTopology          # topology + raw document + line map
    loads_topology_document(text, *, source, fmt) -> LoadedTopology
    dump_topology_document(doc, path) -> None               # YAML, keys in schema order
    locate(source_map, key_path) -> "file:line"

Every problem in a file is collected and raised together as one ``TopologyError`` (a ``ConfigError``)
whose ``problems`` each name file:line and the key path. The file format is documented in
``docs/topology.md``; the build steps live in ``build_network``, ``build_interfaces``, ``build_policy``,
``build_routing`` and ``build_routes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vpcflow.core.errors import ConfigError
from vpcflow.core.userfiles import read_input_text
from vpcflow.model.topology import build_interfaces as eni
from vpcflow.model.topology import build_network as net
from vpcflow.model.topology import build_policy as pol
from vpcflow.model.topology import build_routes as routes
from vpcflow.model.topology import build_routing as rt
from vpcflow.model.topology.context import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Context
from vpcflow.model.topology.model import LogGroup, S3Bucket, Topology
from vpcflow.model.topology.problems import Problem, Problems, Section, TopologyError
from vpcflow.model.topology.resolve import ACCOUNT_RE
from vpcflow.model.topology.sourcemap import KeyPath, SourceMap, format_path, locate, parse_document

__all__ = [
    "TOP_LEVEL_KEYS",
    "LoadedTopology",
    "Problem",
    "SourceMap",
    "TopologyError",
    "dump_topology_document",
    "load_topology",
    "load_topology_document",
    "loads_topology",
    "loads_topology_document",
    "locate",
]

#: Top-level keys in the order documents are written.
TOP_LEVEL_KEYS = (
    "account_id", "region", "accounts", "regions", "vpcs", "network_interfaces", "security_groups",
    "network_acls", "route_tables", "internet_gateways", "egress_only_internet_gateways", "nat_gateways",
    "vpn_gateways", "transit_gateways", "prefix_lists", "vpc_endpoints", "vpc_peering_connections",
    "s3_buckets", "log_groups", "iam",
)  # fmt: skip
IAM_KEYS = ("users", "roles", "groups", "managed_policies")
BUCKET_KEYS = ("name", "owner", "region", "policy")
LOG_GROUP_KEYS = ("name", "owner", "region", "retention_in_days")
#: CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class LoadedTopology:
    """A loaded file: the validated ``topology``, the raw ``document`` and its ``source_map``."""

    topology: Topology
    document: dict[str, Any]
    source_map: SourceMap

    def locate(self, key_path: KeyPath | str) -> str:
        """``file:line`` of a key path (e.g. ``iam.roles[0].trust_policy``), or its closest ancestor."""
        return self.source_map.locate(key_path)


def _format_of(path: Path) -> str:
    return "json" if path.suffix.lower() == ".json" else "yaml"


def load_topology_document(path: str | Path) -> LoadedTopology:
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise ConfigError("topology file not found", location=str(p))
    text = read_input_text(p, "topology file")
    return loads_topology_document(text, source=str(p), fmt=_format_of(p))


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology file (YAML or JSON, docs/topology.md); problems are ``ConfigError``
    with ``file:line`` and the key path."""
    return load_topology_document(path).topology


def loads_topology(text: str, *, source: str = "<string>", fmt: str = "yaml") -> Topology:
    return loads_topology_document(text, source=source, fmt=fmt).topology


def loads_topology_document(text: str, *, source: str = "<string>", fmt: str = "yaml") -> LoadedTopology:
    data, source_map = parse_document(text, source=source, fmt=fmt)
    problems = Problems(source_map)
    for path, line in source_map.duplicate_keys:
        problems.add(path, f"key {path[-1]!r} appears twice in the same mapping (line {line})")
    if data is None:
        data = {}
    topology = build_topology(data, problems, source)
    problems.raise_if_any()
    assert topology is not None
    return LoadedTopology(topology, data, source_map)


def build_topology(data: Any, problems: Problems, source: str) -> Topology | None:
    """Validate and build; problems are recorded in ``problems`` (the caller raises them)."""
    top = Section(problems, (), data, TOP_LEVEL_KEYS, "a topology")
    if not top.ok:
        return None
    ctx = Context(problems)
    _read_account_and_region(ctx, top)
    net.read_accounts(ctx, top)
    net.read_regions(ctx, top)

    # Pass 1: ids and names of everything, so references may point forward.
    vpcs = net.register_vpcs(ctx, top.seq("vpcs"))
    net.build_vpcs(ctx, vpcs)  # subnets register while VPCs build: they are nested
    rt.register_prefix_lists(ctx, top.seq("prefix_lists"))
    groups = pol.register_security_groups(ctx, top.seq("security_groups"))
    acls = pol.register_network_acls(ctx, top.seq("network_acls"))
    enis = eni.register_enis(ctx, top.seq("network_interfaces"))
    simple = {key: rt.register_simple(ctx, key, top.seq(key)) for key in rt.SIMPLE_KEYS}
    rt.register_nat_enis(ctx, simple["nat_gateways"])

    # Pass 2: build, resolving references.
    pol.build_security_groups(ctx, groups)
    pol.build_network_acls(ctx, acls)
    pending_enis = eni.parse_enis(ctx, enis)
    pending_nats = rt.parse_nats(ctx, simple["nat_gateways"], {})
    eni.finish_enis(ctx, pending_enis)
    rt.finish_nats(ctx, pending_nats)
    for key in ("internet_gateways", "egress_only_internet_gateways", "vpn_gateways", "transit_gateways"):
        rt.build_gateways(ctx, key, simple[key])
    endpoint_routes = rt.build_endpoints(ctx, simple["vpc_endpoints"])
    rt.build_peerings(ctx, simple["vpc_peering_connections"])
    routes.build_route_tables(ctx, simple["route_tables"], endpoint_routes)
    routes.check_peering_routes(ctx, simple["route_tables"])
    _check_group_references(ctx, groups)
    buckets = _buckets(ctx, top)
    log_groups = _log_groups(ctx, top)
    iam = _iam(ctx, top)
    if problems:
        return None
    return _topology(ctx, buckets, log_groups, iam, source)


def _read_account_and_region(ctx: Context, top: Section) -> None:
    """The document's account (12 digits; YAML may have read it as a number) and region."""
    raw_account = top.raw("account_id", DEFAULT_ACCOUNT_ID)
    account = (
        f"{raw_account:012d}"
        if isinstance(raw_account, int) and not isinstance(raw_account, bool)
        else str(raw_account)
    )
    if not ACCOUNT_RE.match(account):
        ctx.problems.add(("account_id",), f"account_id must be 12 digits, got {raw_account!r}")
        account = DEFAULT_ACCOUNT_ID
    ctx.account_id = account
    ctx.region = top.text("region", DEFAULT_REGION) or DEFAULT_REGION
    if net.region_code(ctx.region) is None:
        ctx.problems.add(("region",), f"{ctx.region!r} is not an AWS region name (like us-east-1)")


def _topology(ctx: Context, buckets: tuple[S3Bucket, ...], log_groups: tuple[LogGroup, ...], iam: dict[str, Any],
              source: str) -> Topology:
    """The built ``Topology`` from everything the passes put in ``ctx``."""
    return Topology(
        account_id=ctx.account_id,
        region=ctx.region,
        accounts=tuple(ctx.accounts.values()),
        regions=net.regions_out(ctx),
        vpcs=tuple(ctx.vpcs.values()),
        subnets=tuple(ctx.subnets.values()),
        network_interfaces=tuple(ctx.network_interfaces),
        security_groups=tuple(ctx.security_groups),
        network_acls=tuple(ctx.network_acls),
        route_tables=tuple(ctx.route_tables),
        internet_gateways=tuple(ctx.internet_gateways),
        nat_gateways=tuple(ctx.nat_gateways),
        vpc_endpoints=tuple(ctx.vpc_endpoints),
        vpc_peering_connections=tuple(ctx.peerings),
        prefix_lists=tuple(ctx.prefix_lists),
        virtual_private_gateways=tuple(ctx.vpn_gateways),
        transit_gateways=tuple(ctx.transit_gateways),
        s3_buckets=buckets,
        log_groups=log_groups,
        iam=iam,
        source=source,
    )


def _check_group_references(ctx: Context, groups: list[tuple[Section, str, str]]) -> None:
    """A rule may reference a group of its own VPC or of a VPC peered with it (AWS's rule)."""
    peered = {(p.requester_vpc_id, p.accepter_vpc_id) for p in ctx.peerings if p.status == "active"}
    peered |= {(b, a) for a, b in peered}
    sections = {gid: sec for sec, gid, _ in groups}
    by_id = {g.group_id: g for g in ctx.security_groups}
    for group in ctx.security_groups:
        for rule in (*group.ingress, *group.egress):
            ref = by_id.get(rule.referenced_group_id or "")
            if ref is None or ref.vpc_id == group.vpc_id or (group.vpc_id, ref.vpc_id) in peered:
                continue
            sec = sections.get(group.group_id)
            where: KeyPath = sec.at("egress" if rule.is_egress else "ingress") if sec else ()
            ctx.problems.add(
                where,
                f"rule references {ref.group_id} of {ref.vpc_id}, which is neither this group's VPC nor peered with it",
            )


def _buckets(ctx: Context, top: Section) -> tuple[S3Bucket, ...]:
    out: dict[str, S3Bucket] = {}
    for path, item in top.seq("s3_buckets"):
        sec = Section(ctx.problems, path, item, BUCKET_KEYS, "an S3 bucket")
        name = sec.text("name", required=True) if sec.ok else None
        if name is None:
            continue
        if not _BUCKET_RE.match(name) or ".." in name or re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
            ctx.problems.add(
                sec.at("name"),
                f"{name!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)",
            )
            continue
        if name in out:
            ctx.problems.add(sec.at("name"), f"bucket {name!r} is listed twice (bucket names are global)")
            continue
        policy = sec.raw("policy")
        if policy is not None and not isinstance(policy, dict):
            ctx.problems.add(sec.at("policy"), "a bucket policy must be a policy document (a mapping)")
            policy = None
        out[name] = S3Bucket(
            name, ctx.owner(sec, "owner", ctx.account_id), sec.text("region", ctx.region) or ctx.region, policy
        )
    return tuple(out.values())


def _log_groups(ctx: Context, top: Section) -> tuple[LogGroup, ...]:
    out: dict[tuple[str, str, str], LogGroup] = {}
    for path, item in top.seq("log_groups"):
        sec = Section(ctx.problems, path, item, LOG_GROUP_KEYS, "a log group")
        name = sec.text("name", required=True) if sec.ok else None
        if name is None:
            continue
        if not re.fullmatch(r"[\w\-/.#]{1,512}", name):
            ctx.problems.add(sec.at("name"), f"{name!r} is not a valid log group name (1-512 of a-z A-Z 0-9 _ - / . #)")
            continue
        retention = sec.integer("retention_in_days")
        if retention is not None and retention not in RETENTION_DAYS:
            ctx.problems.add(
                sec.at("retention_in_days"),
                f"{retention} is not a retention CloudWatch Logs accepts ({', '.join(map(str, RETENTION_DAYS))})",
            )
        group = LogGroup(
            name, ctx.owner(sec, "owner", ctx.account_id), sec.text("region", ctx.region) or ctx.region, retention
        )
        key = (group.owner_id, group.region, name)
        if key in out:
            ctx.problems.add(sec.at("name"), f"log group {name!r} is listed twice in {group.owner_id}/{group.region}")
            continue
        out[key] = group
    return tuple(out.values())


def _iam(ctx: Context, top: Section) -> dict[str, Any]:
    """Kept raw for ``vpcflow.iam``; only its top-level keys are checked here."""
    if not top.has("iam"):
        return {}
    sec = Section(ctx.problems, ("iam",), top.raw("iam"), IAM_KEYS, "the iam section")
    for key in IAM_KEYS:
        if sec.has(key) and not isinstance(sec.raw(key), list):
            ctx.problems.add(sec.at(key), f"iam.{key} must be a list")
    return dict(sec.data)


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as literals, keys in the order given."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump_topology_document(doc: dict[str, Any], path: str | Path | None = None) -> str:
    """Write ``doc`` as YAML (top-level keys in schema order); return the text. ``path`` None: text only."""
    ordered = {k: doc[k] for k in TOP_LEVEL_KEYS if k in doc}
    ordered.update({k: v for k, v in doc.items() if k not in ordered})
    text = yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def format_key_path(path: KeyPath) -> str:
    return format_path(path)
