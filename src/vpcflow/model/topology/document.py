"""A loaded ``Topology`` written back as a topology document: every id explicit, every default spelled out.

``topology_to_document(load(f))`` loads back to an equal ``Topology`` (tested), which makes it the
normal form ``vpcflow topology show --json`` prints and a way to freeze generated ids into a file. What
the loader adds again by itself is left out: local routes, the ``*`` deny rules, and the routes a
gateway endpoint adds to the route tables it names.
"""

from __future__ import annotations

from typing import Any

from vpcflow.model.topology.model import (
    DEFAULT_DENY_RULE_NUMBER,
    NetworkAcl,
    NetworkAclEntry,
    NetworkInterface,
    RouteTable,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Topology,
    Vpc,
    VpcEndpoint,
    VpcPeeringConnection,
)

_PROTOCOLS = {-1: "all", 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}


def _named(doc: dict[str, Any], tags: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Split the Name tag off into ``name`` (first key) and keep the other tags."""
    out: dict[str, Any] = {}
    name = next((v for k, v in tags if k == "Name"), None)
    if name is not None:
        out["name"] = name
    out.update(doc)
    rest = {k: v for k, v in tags if k != "Name"}
    if rest:
        out["tags"] = rest
    return out


def _protocol(number: int) -> str | int:
    return _PROTOCOLS.get(number, number)


def _ports(protocol: int, lo: int | None, hi: int | None, icmp: bool) -> dict[str, Any]:
    if protocol in (6, 17) and lo is not None and hi is not None:
        return {"ports": lo if lo == hi else f"{lo}-{hi}"}
    if protocol in (1, 58) and icmp:
        return {"icmp_type": lo, "icmp_code": hi}
    return {}


def sg_rule_document(rule: SecurityGroupRule) -> dict[str, Any]:
    """One security-group rule as a topology document writes it."""
    out: dict[str, Any] = {"protocol": _protocol(rule.ip_protocol)}
    out.update(_ports(rule.ip_protocol, rule.from_port, rule.to_port, True))
    if rule.cidr_ipv4 is not None:
        out["cidr"] = str(rule.cidr_ipv4)
    if rule.cidr_ipv6 is not None:
        out["ipv6_cidr"] = str(rule.cidr_ipv6)
    if rule.referenced_group_id is not None:
        out["group"] = rule.referenced_group_id
    if rule.prefix_list_id is not None:
        out["prefix_list"] = rule.prefix_list_id
    if rule.description:
        out["description"] = rule.description
    return out


def _acl_entry(e: NetworkAclEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"rule": e.rule_number, "protocol": _protocol(e.protocol), "action": e.rule_action}
    if e.cidr_block is not None:
        out["cidr"] = str(e.cidr_block)
    if e.ipv6_cidr_block is not None:
        out["ipv6_cidr"] = str(e.ipv6_cidr_block)
    if e.protocol in (6, 17):
        out.update(_ports(e.protocol, e.port_from, e.port_to, False))
    elif e.protocol in (1, 58):
        out.update(
            {
                "icmp_type": -1 if e.icmp_type is None else e.icmp_type,
                "icmp_code": -1 if e.icmp_code is None else e.icmp_code,
            }
        )
    return out


def topology_to_document(t: Topology) -> dict[str, Any]:
    """The normal-form document of ``t`` (plain JSON-compatible data)."""
    doc: dict[str, Any] = {"account_id": t.account_id, "region": t.region}
    doc["accounts"] = [{"account_id": a.account_id, **({"name": a.name} if a.name else {})} for a in t.accounts]
    doc["regions"] = [
        {
            "name": r.region_name,
            "availability_zones": [{"name": z.zone_name, "id": z.zone_id} for z in r.availability_zones],
        }
        for r in t.regions
    ]
    doc["vpcs"] = [_vpc_document(v, [s for s in t.subnets if s.vpc_id == v.vpc_id]) for v in t.vpcs]
    doc["network_interfaces"] = [_eni_document(e) for e in t.network_interfaces]
    doc["security_groups"] = [_security_group_document(g) for g in t.security_groups]
    doc["network_acls"] = [_network_acl_document(a) for a in t.network_acls]
    # A gateway endpoint's routes are written by the endpoint itself (its route_tables), not by the table.
    endpoint_routes = {(rt, ep.vpc_endpoint_id) for ep in t.vpc_endpoints for rt in ep.route_table_ids}
    doc["route_tables"] = [_route_table_document(rt, endpoint_routes) for rt in t.route_tables]
    doc.update(_gateway_documents(t))
    doc["prefix_lists"] = [
        {"id": p.prefix_list_id, "name": p.prefix_list_name, "cidrs": [str(c) for c in p.cidrs]} for p in t.prefix_lists
    ]
    doc["vpc_endpoints"] = [_vpc_endpoint_document(ep) for ep in t.vpc_endpoints]
    doc["vpc_peering_connections"] = [_peering_document(p) for p in t.vpc_peering_connections]
    doc["s3_buckets"] = [
        {
            "name": b.name,
            "owner": b.owner_id,
            "region": b.region,
            **({"policy": b.policy} if b.policy is not None else {}),
        }
        for b in t.s3_buckets
    ]
    doc["log_groups"] = [
        {
            "name": g.log_group_name,
            "owner": g.owner_id,
            "region": g.region,
            **({"retention_in_days": g.retention_in_days} if g.retention_in_days is not None else {}),
        }
        for g in t.log_groups
    ]
    if t.iam:
        doc["iam"] = t.iam
    return {k: v for k, v in doc.items() if v != [] or k in ("vpcs",)}


def _vpc_document(v: Vpc, subnets: list[Subnet]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": v.vpc_id,
        "owner": v.owner_id,
        "region": v.region,
        "cidr_blocks": [str(c) for c in v.cidr_blocks],
    }
    if v.ipv6_cidr_blocks:
        entry["ipv6_cidr_blocks"] = [str(c) for c in v.ipv6_cidr_blocks]
    if v.is_default:
        entry["is_default"] = True
    vpc_doc = _named(entry, v.tags)
    vpc_doc["subnets"] = [_subnet_document(s) for s in subnets]
    return vpc_doc


def _subnet_document(s: Subnet) -> dict[str, Any]:
    sd: dict[str, Any] = {"id": s.subnet_id}
    if s.cidr_block is not None:  # none: an IPv6-only subnet
        sd["cidr_block"] = str(s.cidr_block)
    sd["availability_zone"] = s.availability_zone
    if s.ipv6_cidr_block is not None:
        sd["ipv6_cidr_block"] = str(s.ipv6_cidr_block)
    if s.owner_id:
        sd["owner"] = s.owner_id
    return _named(sd, s.tags)


def _eni_document(e: NetworkInterface) -> dict[str, Any]:
    ed: dict[str, Any] = {"id": e.network_interface_id, "subnet": e.subnet_id, "type": e.interface_type}
    ed["requester_managed"] = e.requester_managed
    ed["owner"] = e.owner_id
    if e.instance_id:
        ed["instance_id"] = e.instance_id
    if e.private_ip_address is not None:
        ed["private_ip"] = str(e.private_ip_address)
    if e.secondary_private_ip_addresses:
        ed["secondary_private_ips"] = [str(a) for a in e.secondary_private_ip_addresses]
    if e.ipv6_addresses:
        ed["ipv6_addresses"] = [str(a) for a in e.ipv6_addresses]
    if e.public_ip is not None:
        ed["public_ip"] = str(e.public_ip)
    if e.elastic_ips:
        ed["elastic_ips"] = [str(a) for a in e.elastic_ips]
    ed["security_groups"] = list(e.groups)
    # Defaults are left out so a hand-written document round-trips without noise.
    if e.ec2_classic:
        ed["ec2_classic"] = True
    if not e.nitro:
        ed["nitro"] = False
    if e.platform != "linux":
        ed["platform"] = e.platform
    if e.link_local_ipv6 is not None:
        ed["link_local_ipv6"] = str(e.link_local_ipv6)
    if e.description:
        ed["description"] = e.description
    ed["source_dest_check"] = e.source_dest_check
    return _named(ed, e.tags)


def _security_group_document(g: SecurityGroup) -> dict[str, Any]:
    return _named(
        {
            "id": g.group_id,
            "group_name": g.group_name,
            "vpc": g.vpc_id,
            "owner": g.owner_id,
            **({"description": g.description} if g.description else {}),
            "ingress": [sg_rule_document(r) for r in g.ingress],
            "egress": [sg_rule_document(r) for r in g.egress],
        },
        g.tags,
    )


def _network_acl_document(a: NetworkAcl) -> dict[str, Any]:
    # The implicit deny (rule 32767) is added by the loader; the document never spells it.
    def entries(egress: bool) -> list[dict[str, Any]]:
        return [_acl_entry(e) for e in a.entries if e.egress == egress and e.rule_number != DEFAULT_DENY_RULE_NUMBER]

    return _named(
        {
            "id": a.network_acl_id,
            "vpc": a.vpc_id,
            "owner": a.owner_id,
            "default": a.is_default,
            "subnets": list(a.subnet_ids),
            "ingress": entries(False),
            "egress": entries(True),
        },
        a.tags,
    )


def _route_table_document(rt: RouteTable, endpoint_routes: set[tuple[str, str]]) -> dict[str, Any]:
    routes = []
    for r in rt.routes:
        if r.target_kind == "local" or (
            r.target_kind == "gateway_endpoint" and (rt.route_table_id, r.target_id) in endpoint_routes
        ):
            continue
        dest = r.destination_cidr_block or r.destination_ipv6_cidr_block or r.destination_prefix_list_id
        rd: dict[str, Any] = {"destination": str(dest)}
        if r.target_kind == "blackhole":
            rd.update({"target": r.target_id, "blackhole": True})
        else:
            rd[_ROUTE_KEY.get(r.target_kind, "target")] = r.target_id
        routes.append(rd)
    return _named(
        {
            "id": rt.route_table_id,
            "vpc": rt.vpc_id,
            "main": rt.main,
            "subnets": list(rt.subnet_ids),
            "routes": routes,
        },
        rt.tags,
    )


def _gateway_documents(t: Topology) -> dict[str, Any]:
    """Internet, egress-only, NAT, VPN and transit gateways, in the document's key order."""
    doc: dict[str, Any] = {}
    doc["internet_gateways"] = [
        _named({"id": g.internet_gateway_id, **({"vpc": g.vpc_id} if g.vpc_id else {})}, g.tags)
        for g in t.internet_gateways
    ]
    # The model has no egress-only gateway object: the routes that target one define it.
    eigws = {
        (r.target_id, rt.vpc_id)
        for rt in t.route_tables
        for r in rt.routes
        if r.target_kind == "egress_only_internet_gateway"
    }
    doc["egress_only_internet_gateways"] = [{"id": g, "vpc": v} for g, v in sorted(eigws)]
    doc["nat_gateways"] = [
        _named(
            {
                "id": n.nat_gateway_id,
                "subnet": n.subnet_id,
                "connectivity": n.connectivity_type,
                "private_ip": str(n.private_ip),
                **({"public_ip": str(n.public_ip)} if n.public_ip else {}),
                "network_interface": n.network_interface_id,
            },
            n.tags,
        )
        for n in t.nat_gateways
    ]
    doc["vpn_gateways"] = [
        _named({"id": g.vpn_gateway_id, **({"vpc": g.vpc_id} if g.vpc_id else {})}, g.tags)
        for g in t.virtual_private_gateways
    ]
    doc["transit_gateways"] = [
        _named({"id": g.transit_gateway_id, "owner": g.owner_id, "vpcs": list(g.vpc_ids)}, g.tags)
        for g in t.transit_gateways
    ]
    return doc


def _vpc_endpoint_document(ep: VpcEndpoint) -> dict[str, Any]:
    return _named(
        {
            "id": ep.vpc_endpoint_id,
            "vpc": ep.vpc_id,
            "service": ep.service_name,
            "type": ep.vpc_endpoint_type,
            **({"route_tables": list(ep.route_table_ids)} if ep.route_table_ids else {}),
            **({"prefix_list": ep.prefix_list_id} if ep.prefix_list_id else {}),
            **({"network_interfaces": list(ep.network_interface_ids)} if ep.network_interface_ids else {}),
        },
        ep.tags,
    )


def _peering_document(p: VpcPeeringConnection) -> dict[str, Any]:
    return _named(
        {
            "id": p.vpc_peering_connection_id,
            "requester_vpc": p.requester_vpc_id,
            "requester_owner": p.requester_owner_id,
            "requester_region": p.requester_region,
            "accepter_vpc": p.accepter_vpc_id,
            "accepter_owner": p.accepter_owner_id,
            "accepter_region": p.accepter_region,
            "status": p.status,
        },
        p.tags,
    )


_ROUTE_KEY = {
    "internet_gateway": "internet_gateway",
    "egress_only_internet_gateway": "egress_only_internet_gateway",
    "nat_gateway": "nat_gateway",
    "vpc_peering_connection": "vpc_peering_connection",
    "virtual_private_gateway": "vpn_gateway",
    "gateway_endpoint": "vpc_endpoint",
    "transit_gateway": "transit_gateway",
    "network_interface": "network_interface",
}
