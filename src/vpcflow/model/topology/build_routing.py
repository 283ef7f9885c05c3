"""Prefix lists, gateways (internet, egress-only, NAT, VPN, transit), VPC endpoints, peering, route tables.

What the loader adds, as AWS does: the requester-managed ``nat_gateway`` ENI of a NAT gateway that the
file does not list (description ``Interface for NAT Gateway nat-...``, no security group, source/dest check
off), the ``local`` route of each VPC CIDR block at the top of every route table, the route of a gateway
endpoint (its service's prefix list -> ``vpce-...``) in each route table the endpoint names, and a main
route table (local routes only) for each VPC without one. Checks: targets in the route table's VPC,
duplicate destinations, one main table and one internet gateway per VPC, one route table per subnet,
peering a VPC with itself, and peering VPCs whose IPv4 CIDRs overlap (AWS refuses both).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from vpcflow.model.topology.build_network import allocate_private, claim_private, claim_public
from vpcflow.model.topology.context import Context
from vpcflow.model.topology.model import (
    InternetGateway,
    NatGateway,
    NetworkInterface,
    PrefixList,
    Route,
    RouteTable,
    Subnet,
    TransitGateway,
    VirtualPrivateGateway,
    VpcEndpoint,
    VpcPeeringConnection,
)
from vpcflow.model.topology.problems import Section, address, network, suggest
from vpcflow.model.topology.resolve import ACCOUNT_RE, Entry, generate_id, looks_like_id
from vpcflow.model.topology.sourcemap import KeyPath, format_path

#: route keys naming a target kind -> (registry kind, Route.target_kind)
ROUTE_TARGETS: dict[str, tuple[str, str]] = {
    "internet_gateway": ("internet_gateway", "internet_gateway"),
    "egress_only_internet_gateway": ("egress_only_internet_gateway", "egress_only_internet_gateway"),
    "nat_gateway": ("nat_gateway", "nat_gateway"),
    "vpc_peering_connection": ("vpc_peering_connection", "vpc_peering_connection"),
    "vpn_gateway": ("vpn_gateway", "virtual_private_gateway"),
    "vpc_endpoint": ("vpc_endpoint", "gateway_endpoint"),
    "transit_gateway": ("transit_gateway", "transit_gateway"),
    "network_interface": ("network_interface", "network_interface"),
}
ROUTE_KEYS = ("destination", "target", "blackhole", *ROUTE_TARGETS)
PEERING_STATUSES = (
    "active",
    "pending-acceptance",
    "provisioning",
    "initiating-request",
    "rejected",
    "failed",
    "expired",
    "deleted",
)
ENDPOINT_TYPES = ("Gateway", "Interface", "GatewayLoadBalancer")

SIMPLE_KEYS = {
    "internet_gateways": ("internet_gateway", ("name", "id", "vpc", "tags"), "an internet gateway"),
    "egress_only_internet_gateways": (
        "egress_only_internet_gateway",
        ("name", "id", "vpc", "tags"),
        "an egress-only internet gateway",
    ),
    "vpn_gateways": ("vpn_gateway", ("name", "id", "vpc", "tags"), "a virtual private gateway"),
    "transit_gateways": ("transit_gateway", ("name", "id", "owner", "vpcs", "tags"), "a transit gateway"),
    "nat_gateways": (
        "nat_gateway",
        ("name", "id", "subnet", "connectivity", "private_ip", "public_ip", "network_interface", "tags"),
        "a NAT gateway",
    ),
    "vpc_endpoints": (
        "vpc_endpoint",
        ("name", "id", "vpc", "service", "type", "route_tables", "prefix_list", "network_interfaces", "tags"),
        "a VPC endpoint",
    ),
    "vpc_peering_connections": (
        "vpc_peering_connection",
        (
            "name",
            "id",
            "requester_vpc",
            "accepter_vpc",
            "requester_owner",
            "requester_region",
            "accepter_owner",
            "accepter_region",
            "status",
            "tags",
        ),
        "a VPC peering connection",
    ),
    "route_tables": ("route_table", ("name", "id", "vpc", "main", "subnets", "routes", "tags"), "a route table"),
}
PREFIX_LIST_KEYS = ("name", "id", "cidrs")


def register_prefix_lists(ctx: Context, items: list[tuple[KeyPath, Any]]) -> None:
    names: set[str] = set()
    for path, item in items:
        sec = Section(ctx.problems, path, item, PREFIX_LIST_KEYS, "a prefix list")
        if not sec.ok:
            continue
        name = sec.text("name", required=True)
        if name is None:
            continue
        if name in names:
            ctx.problems.add(sec.at("name"), f"prefix list name {name!r} is used twice")
            continue
        names.add(name)
        pl_id = ctx.entity_id(sec, "prefix_list", name)
        if not ctx.registry("prefix_list").add(ctx.problems, Entry(pl_id, path, None, name)):
            continue
        cidrs: list[Any] = []
        for cpath, raw in sec.seq("cidrs"):
            version = 6 if isinstance(raw, str) and ":" in raw else 4
            net = network(ctx.problems, cpath, raw, version=version, what="a prefix list")
            if net is not None:
                cidrs.append(net)
        ctx.prefix_lists.append(PrefixList(pl_id, name, tuple(cidrs)))


def register_simple(ctx: Context, doc_key: str, items: list[tuple[KeyPath, Any]]) -> list[tuple[Section, str]]:
    """Register gateways, endpoints, peering connections and route tables (ids and names)."""
    kind, keys, what = SIMPLE_KEYS[doc_key]
    out = []
    for i, (path, item) in enumerate(items):
        sec = Section(ctx.problems, path, item, keys, what)
        if not sec.ok:
            continue
        name = sec.text("name")
        parent = sec.raw("vpc") or sec.raw("subnet") or sec.raw("requester_vpc") or ""
        vpc_entry = ctx.peek("vpc", parent)
        if vpc_entry is None and (sub := ctx.peek("subnet", parent)) is not None:
            vpc_entry = ctx.peek("vpc", sub.vpc_id)
        vpc_id = vpc_entry.id if vpc_entry else None
        entity = ctx.entity_id(sec, kind, str(vpc_id or parent), name or f"#{i}")
        if ctx.registry(kind).add(ctx.problems, Entry(entity, path, vpc_id, name)):
            out.append((sec, entity))
    return out


def build_gateways(ctx: Context, doc_key: str, items: list[tuple[Section, str]]) -> None:
    attached: dict[str, KeyPath] = {}
    for sec, gid in items:
        tags = sec.tags(sec.text("name"))
        if doc_key == "transit_gateways":
            vpcs = [v for p, r in sec.seq("vpcs", scalar_ok=True) if (v := ctx.resolve("vpc", p, r)) is not None]
            ctx.transit_gateways.append(TransitGateway(gid, ctx.owner(sec, "owner", ctx.account_id), tuple(vpcs), tags))
            continue
        vpc_id = ctx.resolve("vpc", sec.at("vpc"), sec.raw("vpc")) if sec.has("vpc") else None
        if doc_key == "internet_gateways" and vpc_id is not None:
            if vpc_id in attached:
                ctx.problems.add(
                    sec.at("vpc"),
                    f"{vpc_id} already has an internet gateway ({format_path(attached[vpc_id])}); AWS allows one",
                )
            attached[vpc_id] = sec.path
        if doc_key == "internet_gateways":
            ctx.internet_gateways.append(InternetGateway(gid, vpc_id, tags))
        elif doc_key == "vpn_gateways":
            ctx.vpn_gateways.append(VirtualPrivateGateway(gid, vpc_id, tags))
        # egress-only internet gateways have no model object: they exist as route targets only


@dataclass
class PendingNat:
    sec: Section
    nat_id: str
    subnet: Subnet
    eni: NetworkInterface | None  # the listed ENI it uses, if any
    eni_id: str
    private_ip: ipaddress.IPv4Address | None
    public_ip: ipaddress.IPv4Address | None
    connectivity: str


def register_nat_enis(ctx: Context, nats: list[tuple[Section, str]]) -> None:
    """Give every NAT gateway an ENI id: a listed ENI, a given id to create, or a generated one."""
    for sec, nat_id in nats:
        ref = sec.raw("network_interface")
        if ref is not None and ctx.peek("network_interface", ref) is not None:
            continue
        if ref is not None and not (isinstance(ref, str) and looks_like_id("network_interface", ref)):
            ctx.resolve("network_interface", sec.at("network_interface"), ref)  # records "unknown ... (did you mean)"
            continue
        eni_id = ref if isinstance(ref, str) else generate_id("network_interface", nat_id)
        subnet = ctx.peek("subnet", sec.raw("subnet"))
        if ctx.registry("network_interface").add(
            ctx.problems, Entry(eni_id, sec.path, subnet.vpc_id if subnet else None, sec.text("name"))
        ):
            ctx.auto_nat_enis[eni_id] = nat_id


def parse_nats(ctx: Context, nats: list[tuple[Section, str]], enis_by_id: dict[str, KeyPath]) -> list[PendingNat]:
    pending = []
    for sec, nat_id in nats:
        if not sec.require("subnet", "the subnet the NAT gateway lives in"):
            continue
        sid = ctx.resolve("subnet", sec.at("subnet"), sec.raw("subnet"))
        subnet = ctx.subnets.get(sid or "")
        if subnet is None:
            continue
        connectivity = sec.text("connectivity", "public") or "public"
        if connectivity not in ("public", "private"):
            ctx.problems.add(sec.at("connectivity"), f"connectivity must be public or private, got {connectivity!r}")
            continue
        auto = [e for e, n in ctx.auto_nat_enis.items() if n == nat_id]
        eni_id = (
            auto[0]
            if auto
            else ctx.resolve("network_interface", sec.at("network_interface"), sec.raw("network_interface"))
        )
        if eni_id is None:
            continue
        private_ip = (
            address(ctx.problems, sec.at("private_ip"), sec.raw("private_ip"), version=4)
            if sec.has("private_ip")
            else None
        )
        public_ip = (
            address(ctx.problems, sec.at("public_ip"), sec.raw("public_ip"), version=4)
            if sec.has("public_ip")
            else None
        )
        if connectivity == "private" and public_ip is not None:
            ctx.problems.add(sec.at("public_ip"), "a private NAT gateway has no public address")
        if auto:
            if private_ip is not None and not claim_private(ctx, subnet, private_ip, sec.at("private_ip")):
                private_ip = None
            if public_ip is not None and not claim_public(ctx, public_ip, sec.at("public_ip")):
                public_ip = None
            if connectivity == "public" and not sec.has("public_ip"):
                ctx.problems.add(sec.path, "a public NAT gateway needs public_ip (its Elastic IP)")
        pending.append(PendingNat(sec, nat_id, subnet, None, eni_id, private_ip, public_ip, connectivity))
    return pending


def finish_nats(ctx: Context, pending: list[PendingNat]) -> None:
    enis = {e.network_interface_id: e for e in ctx.network_interfaces}
    for p in pending:
        name = p.sec.text("name")
        if p.eni_id in ctx.auto_nat_enis:
            ip = p.private_ip or allocate_private(ctx, p.subnet, p.sec.at("private_ip"))
            if ip is None:
                continue
            eni = NetworkInterface(
                network_interface_id=p.eni_id, subnet_id=p.subnet.subnet_id, vpc_id=p.subnet.vpc_id,
                owner_id=p.subnet.owner_id or ctx.vpcs[p.subnet.vpc_id].owner_id, private_ip_address=ip,
                interface_type="nat_gateway", requester_managed=True,
                elastic_ips=(p.public_ip,) if p.public_ip else (), groups=(),
                description=f"Interface for NAT Gateway {p.nat_id}",
                tags=(("Name", name),) if name else (), source_dest_check=False,
            )  # fmt: skip
            ctx.network_interfaces.append(eni)
        else:
            listed = enis.get(p.eni_id)
            if listed is None:
                continue
            path = p.sec.at("network_interface")
            if listed.subnet_id != p.subnet.subnet_id:
                ctx.problems.add(
                    path, f"{p.eni_id} is in {listed.subnet_id}, not in the NAT gateway's subnet {p.subnet.subnet_id}"
                )
            if listed.interface_type != "nat_gateway":
                ctx.problems.add(
                    path,
                    f"{p.eni_id} has type {listed.interface_type!r}; a NAT gateway's interface has type 'nat_gateway'",
                )
            if p.private_ip is not None and p.private_ip != listed.private_ip_address:
                ctx.problems.add(
                    p.sec.at("private_ip"),
                    f"{p.private_ip} is not the primary address of {p.eni_id} ({listed.private_ip_address})",
                )
            if p.public_ip is not None and p.public_ip not in listed.public_ips:
                ctx.problems.add(p.sec.at("public_ip"), f"{p.public_ip} is not an address of {p.eni_id}")
            ip = listed.private_ip_address
            if p.public_ip is None and p.connectivity == "public":
                p.public_ip = listed.public_ips[0] if listed.public_ips else None
                if p.public_ip is None:
                    ctx.problems.add(p.sec.path, "a public NAT gateway needs public_ip (its Elastic IP)")
        ctx.nat_gateways.append(
            NatGateway(
                p.nat_id,
                p.subnet.subnet_id,
                p.subnet.vpc_id,
                p.eni_id,
                ip,
                p.public_ip,
                "public" if p.connectivity == "public" else "private",
                p.sec.tags(name),
            )
        )


def build_endpoints(ctx: Context, items: list[tuple[Section, str]]) -> dict[str, list[Route]]:
    """VPC endpoints; returns the routes gateway endpoints add, per route table id."""
    added: dict[str, list[Route]] = {}
    for sec, vid in items:
        if not (
            sec.require("vpc", "the endpoint's VPC")
            & sec.require("service", "the service name, e.g. com.amazonaws.us-east-1.s3")
        ):
            continue
        vpc_id = ctx.resolve("vpc", sec.at("vpc"), sec.raw("vpc"))
        service = sec.text("service") or ""
        etype = sec.text("type", "Gateway") or "Gateway"
        if etype not in ENDPOINT_TYPES:
            ctx.problems.add(
                sec.at("type"),
                f"endpoint type must be one of {', '.join(ENDPOINT_TYPES)}{suggest(etype, ENDPOINT_TYPES)}",
            )
            continue
        if vpc_id is None:
            continue
        rts = [
            r
            for p, ref in sec.seq("route_tables", scalar_ok=True)
            if (r := ctx.resolve("route_table", p, ref, vpc_id=vpc_id)) is not None
        ]
        enis = [
            e
            for p, ref in sec.seq("network_interfaces", scalar_ok=True)
            if (e := ctx.resolve("network_interface", p, ref, vpc_id=vpc_id)) is not None
        ]
        pl_id = None
        if etype == "Gateway":
            if enis:
                ctx.problems.add(sec.at("network_interfaces"), "a Gateway endpoint has no network interfaces")
            if sec.has("prefix_list"):
                pl_id = ctx.resolve("prefix_list", sec.at("prefix_list"), sec.raw("prefix_list"))
            elif service in ctx.registry("prefix_list").by_name:
                pl_id = ctx.registry("prefix_list").by_name[service][0]
            else:
                ctx.problems.add(
                    sec.path,
                    f"a Gateway endpoint routes to its service's prefix list: "
                    f"add a prefix_lists entry named {service!r} or give prefix_list",
                )
            for rt in rts:
                added.setdefault(rt, []).append(Route("gateway_endpoint", vid, destination_prefix_list_id=pl_id))
        elif rts:
            ctx.problems.add(
                sec.at("route_tables"),
                f"an {etype} endpoint is not a route target (route_tables apply to Gateway endpoints)",
            )
        ctx.vpc_endpoints.append(
            VpcEndpoint(vid, vpc_id, service, etype, tuple(rts), tuple(enis), pl_id, sec.tags(sec.text("name")))  # type: ignore[arg-type]
        )
    return added


def build_peerings(ctx: Context, items: list[tuple[Section, str]]) -> None:
    for sec, pcx in items:
        sides = []
        for side in ("requester", "accepter"):
            key = f"{side}_vpc"
            if not sec.require(key, f"the {side} VPC"):
                break
            ref = sec.raw(key)
            owner_key, region_key = f"{side}_owner", f"{side}_region"
            vpc = ctx.vpcs.get(ref) if isinstance(ref, str) else None
            if vpc is None and ctx.peek("vpc", ref) is not None:
                vpc = ctx.vpcs.get(ctx.peek("vpc", ref).id)  # type: ignore[union-attr]
            if vpc is not None:
                sides.append(
                    (
                        vpc.vpc_id,
                        ctx.owner(sec, owner_key, vpc.owner_id),
                        sec.text(region_key, vpc.region) or vpc.region,
                    )
                )
            elif isinstance(ref, str) and looks_like_id("vpc", ref) and (sec.has(owner_key) or sec.has(region_key)):
                sides.append(
                    (ref, ctx.owner(sec, owner_key, ctx.account_id), sec.text(region_key, ctx.region) or ctx.region)
                )
            elif isinstance(ref, str) and looks_like_id("vpc", ref):
                ctx.problems.add(
                    sec.at(key),
                    f"VPC {ref} is not in this topology: "
                    f"give {owner_key} (and {region_key}) to peer with a VPC outside it",
                )
                break
            else:
                ctx.resolve("vpc", sec.at(key), ref)
                break
        if len(sides) != 2:
            continue
        (rv, ro, rr), (av, ao, ar) = sides
        if rv == av:
            ctx.problems.add(sec.at("accepter_vpc"), f"a VPC cannot be peered with itself ({rv})")
            continue
        if rv in ctx.vpcs and av in ctx.vpcs:
            clash = [(a, b) for a in ctx.vpcs[rv].cidr_blocks for b in ctx.vpcs[av].cidr_blocks if a.overlaps(b)]
            if clash:
                ctx.problems.add(
                    sec.at("accepter_vpc"),
                    f"peered VPCs have overlapping CIDR blocks ({clash[0][0]} and {clash[0][1]}); "
                    "AWS refuses this peering",
                )
        status = sec.text("status", "active") or "active"
        if status not in PEERING_STATUSES:
            ctx.problems.add(sec.at("status"), f"unknown peering status {status!r}{suggest(status, PEERING_STATUSES)}")
        for owner in (ro, ao):
            if ACCOUNT_RE.match(owner):
                ctx.note_account(owner)
        ctx.peerings.append(VpcPeeringConnection(pcx, rv, ro, rr, av, ao, ar, status, sec.tags(sec.text("name"))))


def build_route_tables(ctx: Context, items: list[tuple[Section, str]], endpoint_routes: dict[str, list[Route]]) -> None:
    claimed: dict[str, KeyPath] = {}
    mains: dict[str, KeyPath] = {}
    for sec, rtb in items:
        if not sec.require("vpc", "the route table's VPC"):
            continue
        vpc_id = ctx.resolve("vpc", sec.at("vpc"), sec.raw("vpc"))
        vpc = ctx.vpcs.get(vpc_id or "")
        if vpc is None:
            continue
        if sec.flag("main"):
            if vpc.vpc_id in mains:
                ctx.problems.add(
                    sec.at("main"), f"{vpc.vpc_id} already has a main route table ({format_path(mains[vpc.vpc_id])})"
                )
            mains[vpc.vpc_id] = sec.path
        routes = _local_routes(vpc.cidr_blocks, vpc.ipv6_cidr_blocks)
        dests = {_dest_key(r): sec.path for r in routes}
        for path, item in sec.seq("routes"):
            route = _route(ctx, path, item, vpc.vpc_id)
            if route is None:
                continue
            key = _dest_key(route)
            if route.target_kind == "local" and key in dests:
                continue  # the local route written out explicitly
            if route.target_kind == "local":
                ctx.problems.add(
                    path, f"a local route covers a CIDR block of the VPC ({', '.join(map(str, vpc.cidr_blocks))})"
                )
                continue
            if key in dests:
                ctx.problems.add(path, f"route table already has a route to {key[1]} (AWS: RouteAlreadyExists)")
                continue
            dests[key] = path
            routes.append(route)
        for route in endpoint_routes.get(rtb, []):
            key = _dest_key(route)
            existing = [r for r in routes if _dest_key(r) == key]
            if not existing:
                routes.append(route)
            elif existing[0].target_id != route.target_id:
                ctx.problems.add(
                    sec.path,
                    f"route to {key[1]} targets {existing[0].target_id}, but endpoint {route.target_id} adds one too",
                )
        subnets = []
        for spath, ref in sec.seq("subnets", scalar_ok=True):
            sid = ctx.resolve("subnet", spath, ref, vpc_id=vpc.vpc_id)
            if sid is None or sid not in ctx.subnets:
                continue
            if ctx.subnets[sid].vpc_id != vpc.vpc_id:
                ctx.problems.add(
                    spath, f"subnet {sid} is in {ctx.subnets[sid].vpc_id}, not in the route table's VPC {vpc.vpc_id}"
                )
            elif sid in claimed:
                ctx.problems.add(
                    spath, f"subnet {sid} is already associated with another route table ({format_path(claimed[sid])})"
                )
            else:
                claimed[sid] = spath
                subnets.append(sid)
        ctx.route_tables.append(
            RouteTable(rtb, vpc.vpc_id, tuple(routes), tuple(subnets), sec.flag("main"), sec.tags(sec.text("name")))
        )
    for vpc_id, vpc in ctx.vpcs.items():
        if vpc_id not in mains:
            rtb = generate_id("route_table", vpc_id, "main")
            ctx.route_tables.append(
                RouteTable(rtb, vpc_id, tuple(_local_routes(vpc.cidr_blocks, vpc.ipv6_cidr_blocks)), (), True)
            )


def _local_routes(v4: tuple[Any, ...], v6: tuple[Any, ...]) -> list[Route]:
    return [Route("local", "local", destination_cidr_block=c) for c in v4] + [
        Route("local", "local", destination_ipv6_cidr_block=c) for c in v6
    ]


def _dest_key(route: Route) -> tuple[str, str]:
    if route.destination_cidr_block is not None:
        return ("v4", str(route.destination_cidr_block))
    if route.destination_ipv6_cidr_block is not None:
        return ("v6", str(route.destination_ipv6_cidr_block))
    return ("pl", str(route.destination_prefix_list_id))


def _route(ctx: Context, path: KeyPath, item: Any, vpc_id: str) -> Route | None:
    sec = Section(ctx.problems, path, item, ROUTE_KEYS, "a route")
    if not sec.ok or not sec.require("destination", "a CIDR block or a prefix list"):
        return None
    dest = sec.raw("destination")
    dkw: dict[str, Any] = {}
    if isinstance(dest, str) and "/" in dest:
        net = network(ctx.problems, sec.at("destination"), dest, version=6 if ":" in dest else 4, what="a route")
        if net is None:
            return None
        dkw = {"destination_ipv6_cidr_block": net} if net.version == 6 else {"destination_cidr_block": net}
    else:
        pl = ctx.resolve("prefix_list", sec.at("destination"), dest)
        if pl is None:
            return None
        dkw = {"destination_prefix_list_id": pl}
    given = [k for k in ("target", *ROUTE_TARGETS) if sec.has(k)]
    if len(given) != 1:
        ctx.problems.add(path, "a route needs exactly one target: target, or one of " + ", ".join(ROUTE_TARGETS))
        return None
    key = given[0]
    ref = sec.raw(key)
    if key == "target" and ref == "local":
        return Route("local", "local", **dkw)
    if key == "target":
        kinds = [k for k, (reg, _) in ROUTE_TARGETS.items() if ctx.peek(reg, ref) is not None]
        if len(kinds) != 1:
            reason = (
                f"matches {' and '.join(kinds)}; use a typed key"
                if kinds
                else "names no gateway, endpoint, peering connection or interface"
            )
            ctx.problems.add(sec.at("target"), f"route target {ref!r} {reason}")
            return None
        key = kinds[0]
    reg, target_kind = ROUTE_TARGETS[key]
    target = ctx.resolve(reg, sec.at(key), ref, vpc_id=vpc_id)
    if target is None:
        return None
    entry = ctx.registry(reg).by_id[target]
    if reg == "vpc_peering_connection":
        pass  # checked once peering connections are built (check_peering_routes)
    elif reg == "transit_gateway":
        pass
    elif entry.vpc_id is not None and entry.vpc_id != vpc_id:
        ctx.problems.add(sec.at(key), f"{target} belongs to {entry.vpc_id}, not to the route table's VPC {vpc_id}")
        return None
    if sec.flag("blackhole"):
        return Route("blackhole", target, **dkw)
    return Route(target_kind, target, **dkw)


def check_peering_routes(ctx: Context, items: list[tuple[Section, str]]) -> None:
    """A route through a peering connection must be in one of the two peered VPCs."""
    by_id = {p.vpc_peering_connection_id: p for p in ctx.peerings}
    rt_by_id = {r.route_table_id: r for r in ctx.route_tables}
    for sec, rtb in items:
        rt = rt_by_id.get(rtb)
        if rt is None:
            continue
        for route in rt.routes:
            pcx = by_id.get(route.target_id) if route.target_kind == "vpc_peering_connection" else None
            if pcx is not None and rt.vpc_id not in (pcx.requester_vpc_id, pcx.accepter_vpc_id):
                ctx.problems.add(sec.at("routes"), f"{pcx.vpc_peering_connection_id} does not connect {rt.vpc_id}")
