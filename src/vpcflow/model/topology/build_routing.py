"""Prefix lists, gateways (internet, egress-only, NAT, VPN, transit), VPC endpoints and peering.

What the loader adds, as AWS does: the requester-managed ``nat_gateway`` ENI of a NAT gateway that the
file does not list (description ``Interface for NAT Gateway nat-...``, no security group, source/dest check
off), and the routes gateway endpoints add (handed to ``build_routes``). Checks: one internet gateway per
VPC, NAT gateway addresses and interfaces, endpoint types and prefix lists, peering a VPC with itself,
and peering VPCs whose IPv4 CIDRs overlap (AWS refuses both).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from vpcflow.model.topology.build_interfaces import allocate_private, claim_private, claim_public
from vpcflow.model.topology.context import Context
from vpcflow.model.topology.model import (
    InternetGateway,
    NatGateway,
    NetworkInterface,
    PrefixList,
    Route,
    Subnet,
    TransitGateway,
    VirtualPrivateGateway,
    VpcEndpoint,
    VpcPeeringConnection,
)
from vpcflow.model.topology.problems import Section, address, network, suggest
from vpcflow.model.topology.resolve import ACCOUNT_RE, Entry, generate_id, looks_like_id
from vpcflow.model.topology.sourcemap import KeyPath, format_path

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
            if listed.private_ip_address is None:  # a NAT gateway translates to and from IPv4
                ctx.problems.add(path, f"{p.eni_id} has no IPv4 address; a NAT gateway's interface needs one")
                continue
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
        enis = _endpoint_enis(ctx, sec, vpc_id, etype)
        pl_id = None
        if etype == "Gateway":
            if enis:
                ctx.problems.add(sec.at("network_interfaces"), "a Gateway endpoint has no network interfaces")
            pl_id = _gateway_prefix_list(ctx, sec, service)
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


def _endpoint_enis(ctx: Context, sec: Section, vpc_id: str, etype: str) -> list[str]:
    """An endpoint's interfaces: in its VPC, of the type its endpoint type creates."""
    enis = []
    built = {e.network_interface_id: e for e in ctx.network_interfaces}
    wanted = {"Interface": "vpc_endpoint", "GatewayLoadBalancer": "gateway_load_balancer_endpoint"}.get(etype)
    for p, ref in sec.seq("network_interfaces", scalar_ok=True):
        eni_id = ctx.resolve("network_interface", p, ref, vpc_id=vpc_id)
        eni = built.get(eni_id or "")
        if eni is None:
            continue
        if eni.vpc_id != vpc_id:
            ctx.problems.add(p, f"{eni.network_interface_id} is in {eni.vpc_id}, not in the endpoint's VPC {vpc_id}")
        elif wanted is not None and eni.interface_type != wanted:
            ctx.problems.add(
                p,
                f"{eni.network_interface_id} has type {eni.interface_type!r}; "
                f"an {etype} endpoint's interfaces have {wanted!r}",
            )
        else:
            enis.append(eni.network_interface_id)
    return enis


def _gateway_prefix_list(ctx: Context, sec: Section, service: str) -> str | None:
    """The prefix list a Gateway endpoint routes to: given, else the one named after its service."""
    if sec.has("prefix_list"):
        return ctx.resolve("prefix_list", sec.at("prefix_list"), sec.raw("prefix_list"))
    if service in ctx.registry("prefix_list").by_name:
        return ctx.registry("prefix_list").by_name[service][0]
    ctx.problems.add(
        sec.path,
        f"a Gateway endpoint routes to its service's prefix list: "
        f"add a prefix_lists entry named {service!r} or give prefix_list",
    )
    return None


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
