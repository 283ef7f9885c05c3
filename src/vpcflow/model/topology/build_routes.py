"""Route tables: the local routes, gateway endpoint routes, the main table, and every route's target.

What the loader adds, as AWS does: the ``local`` route of each VPC CIDR block at the top of every route
table, the route of a gateway endpoint (its service's prefix list -> ``vpce-...``) in each route table the
endpoint names, and a main route table (local routes only) for each VPC without one. Checks: one target
per route, targets in the route table's VPC, duplicate destinations, one main table per VPC, one route
table per subnet, peering routes only in one of the peered VPCs.
"""

from __future__ import annotations

from typing import Any

from vpcflow.model.topology.context import Context
from vpcflow.model.topology.model import Route, RouteTable, Vpc
from vpcflow.model.topology.problems import Section, network
from vpcflow.model.topology.resolve import generate_id
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


def build_route_tables(ctx: Context, items: list[tuple[Section, str]], endpoint_routes: dict[str, list[Route]]) -> None:
    """Route tables with their local routes, their own routes, gateway endpoints' routes and subnets;
    a VPC without a main table gets one with only its local routes."""
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
        routes = _table_routes(ctx, sec, vpc)
        _add_endpoint_routes(ctx, sec, routes, endpoint_routes.get(rtb, []))
        subnets = _associated_subnets(ctx, sec, vpc.vpc_id, claimed)
        ctx.route_tables.append(
            RouteTable(rtb, vpc.vpc_id, tuple(routes), tuple(subnets), sec.flag("main"), sec.tags(sec.text("name")))
        )
    for vpc_id, vpc in ctx.vpcs.items():
        if vpc_id not in mains:
            rtb = generate_id("route_table", vpc_id, "main")
            ctx.route_tables.append(
                RouteTable(rtb, vpc_id, tuple(_local_routes(vpc.cidr_blocks, vpc.ipv6_cidr_blocks)), (), True)
            )


def _table_routes(ctx: Context, sec: Section, vpc: Vpc) -> list[Route]:
    """The local routes, then the table's own routes: one per destination (AWS: RouteAlreadyExists)."""
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
    return routes


def _add_endpoint_routes(ctx: Context, sec: Section, routes: list[Route], added: list[Route]) -> None:
    """The routes gateway endpoints add to this table, unless the table already routes there the same way."""
    for route in added:
        key = _dest_key(route)
        existing = [r for r in routes if _dest_key(r) == key]
        if not existing:
            routes.append(route)
        elif existing[0].target_id != route.target_id:
            ctx.problems.add(
                sec.path,
                f"route to {key[1]} targets {existing[0].target_id}, but endpoint {route.target_id} adds one too",
            )


def _associated_subnets(ctx: Context, sec: Section, vpc_id: str, claimed: dict[str, KeyPath]) -> list[str]:
    """The table's subnets: of its VPC, each associated with one table only (``claimed`` across tables)."""
    subnets = []
    for spath, ref in sec.seq("subnets", scalar_ok=True):
        sid = ctx.resolve("subnet", spath, ref, vpc_id=vpc_id)
        if sid is None or sid not in ctx.subnets:
            continue
        if ctx.subnets[sid].vpc_id != vpc_id:
            ctx.problems.add(
                spath, f"subnet {sid} is in {ctx.subnets[sid].vpc_id}, not in the route table's VPC {vpc_id}"
            )
        elif sid in claimed:
            ctx.problems.add(
                spath, f"subnet {sid} is already associated with another route table ({format_path(claimed[sid])})"
            )
        else:
            claimed[sid] = spath
            subnets.append(sid)
    return subnets


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
