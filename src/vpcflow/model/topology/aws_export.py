"""A loaded ``Topology`` as EC2's Describe* API returns it (boto3's shapes), the inverse of ``aws_import``.

``describe_items(topology, kind)`` gives the items of ``DescribeVpcs`` (``Vpcs``), ``DescribeSubnets``,
``DescribeNetworkInterfaces``, ``DescribeSecurityGroups``, ``DescribeSecurityGroupRules``,
``DescribeNetworkAcls``, ``DescribeRouteTables`` and ``DescribeVpcPeeringConnections``. Importing the
export again (``aws_import``) loads to the same network (tested), so an agent that reads the network
from an endpoint sees what the topology file says.

Values AWS assigns and the model does not keep (association ids, attachment ids, MAC addresses, DHCP
options) derive from the resource ids, so they are stable across calls and reloads. States are the
steady ones (``available``, ``in-use``, ``associated``, ``active``): the model has no transitions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from vpcflow.model.topology.model import (
    NetworkAcl,
    NetworkAclEntry,
    NetworkInterface,
    RouteTable,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Topology,
    Vpc,
    VpcPeeringConnection,
)

Describer = Callable[[Topology], list[dict[str, Any]]]

#: Describe* result key -> the function giving its items.
KINDS: dict[str, Describer] = {}


def _kind(key: str) -> Callable[[Describer], Describer]:
    def register(fn: Describer) -> Describer:
        KINDS[key] = fn
        return fn

    return register


def describe_items(topology: Topology, kind: str) -> list[dict[str, Any]]:
    """The items of one Describe* result key (``Vpcs``, ``Subnets``, ...) for the whole topology."""
    return KINDS[kind](topology)


def derived_id(prefix: str, *parts: str) -> str:
    """``prefix-0`` + 16 hex from ``parts``: a stable stand-in for an id AWS assigns and the model omits."""
    return f"{prefix}-0{hashlib.sha256('/'.join(parts).encode()).hexdigest()[:16]}"


def put_present(item: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Set each value that is not None on ``item``, as text (EC2 omits absent members)."""
    for key, value in values.items():
        if value is not None:
            item[key] = str(value)
    return item


def _tags(tags: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def _tagged(item: dict[str, Any], tags: tuple[tuple[str, str], ...], key: str = "Tags") -> dict[str, Any]:
    if tags:
        item[key] = _tags(tags)
    return item


@_kind("Vpcs")
def describe_vpcs(t: Topology) -> list[dict[str, Any]]:
    return [_vpc(v) for v in t.vpcs]


def _vpc(v: Vpc) -> dict[str, Any]:
    item: dict[str, Any] = {
        "OwnerId": v.owner_id,
        "InstanceTenancy": "default",
        "CidrBlockAssociationSet": [
            {"AssociationId": derived_id("vpc-cidr-assoc", v.vpc_id, str(c)), "CidrBlock": str(c),
             "CidrBlockState": {"State": "associated"}}
            for c in v.cidr_blocks
        ],
        "IsDefault": v.is_default,
        "VpcId": v.vpc_id,
        "State": "available",
        "CidrBlock": str(v.cidr_blocks[0]),
        "DhcpOptionsId": derived_id("dopt", v.vpc_id),
    }
    if v.ipv6_cidr_blocks:
        item["Ipv6CidrBlockAssociationSet"] = [
            {"AssociationId": derived_id("vpc-cidr-assoc", v.vpc_id, str(c)), "Ipv6CidrBlock": str(c),
             "Ipv6CidrBlockState": {"State": "associated"}, "NetworkBorderGroup": v.region,
             "Ipv6Pool": "Amazon"}
            for c in v.ipv6_cidr_blocks
        ]
    return _tagged(item, v.tags)


@_kind("Subnets")
def describe_subnets(t: Topology) -> list[dict[str, Any]]:
    return [_subnet(t, s) for s in t.subnets]


def _subnet(t: Topology, s: Subnet) -> dict[str, Any]:
    vpc = t.vpcs_by_id[s.vpc_id]
    owner = s.owner_id or vpc.owner_id
    cidr = getattr(s, "cidr_block", None)
    used = sum(len(e.private_ips) for e in t.enis_in_subnet(s.subnet_id))
    item: dict[str, Any] = {
        "AvailabilityZone": s.availability_zone,
        "AvailabilityZoneId": s.availability_zone_id,
        "AvailableIpAddressCount": max(0, cidr.num_addresses - 5 - used) if cidr is not None else 0,
        "DefaultForAz": False,
        "MapPublicIpOnLaunch": False,
        "State": "available",
        "SubnetId": s.subnet_id,
        "VpcId": s.vpc_id,
        "OwnerId": owner,
        "AssignIpv6AddressOnCreation": False,
        "SubnetArn": f"arn:aws:ec2:{vpc.region}:{owner}:subnet/{s.subnet_id}",
        "Ipv6CidrBlockAssociationSet": [],
    }
    if cidr is not None:
        item["CidrBlock"] = str(cidr)
    else:
        item["Ipv6Native"] = True
    if s.ipv6_cidr_block is not None:
        item["Ipv6CidrBlockAssociationSet"] = [
            {"AssociationId": derived_id("subnet-cidr-assoc", s.subnet_id), "Ipv6CidrBlock": str(s.ipv6_cidr_block),
             "Ipv6CidrBlockState": {"State": "associated"}}
        ]
    return _tagged(item, s.tags)


@_kind("NetworkInterfaces")
def describe_network_interfaces(t: Topology) -> list[dict[str, Any]]:
    return [_eni(t, e) for e in t.network_interfaces]


def _mac(eni_id: str) -> str:
    digest = hashlib.sha256(eni_id.encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def _public(ip: Any, elastic: bool, owner: str, eni_id: str) -> dict[str, Any]:
    assoc: dict[str, Any] = {"PublicIp": str(ip), "PublicDnsName": "", "IpOwnerId": owner if elastic else "amazon"}
    if elastic:
        assoc["AllocationId"] = derived_id("eipalloc", str(ip))
        assoc["AssociationId"] = derived_id("eipassoc", eni_id, str(ip))
    return assoc


def _eni(t: Topology, e: NetworkInterface) -> dict[str, Any]:
    subnet = t.subnets_by_id[e.subnet_id]
    groups = [t.security_groups_by_id.get(g) for g in e.groups]
    publics = [(ip, False) for ip in ((e.public_ip,) if e.public_ip else ())] + [(ip, True) for ip in e.elastic_ips]
    addresses = []
    for i, ip in enumerate(e.private_ips):
        entry: dict[str, Any] = {"Primary": i == 0, "PrivateIpAddress": str(ip), "PrivateDnsName": _dns(ip)}
        if i < len(publics):  # public addresses map to private ones in order, the first to the primary
            entry["Association"] = _public(publics[i][0], publics[i][1], e.owner_id, e.network_interface_id)
        addresses.append(entry)
    item: dict[str, Any] = {
        "AvailabilityZone": subnet.availability_zone,
        "Description": e.description,
        "Groups": [{"GroupName": g.group_name, "GroupId": g.group_id} for g in groups if g is not None],
        "InterfaceType": e.interface_type,
        # an IPv6-only interface's first address is its primary IPv6 (what its records show)
        "Ipv6Addresses": [{"Ipv6Address": str(a), "IsPrimaryIpv6": i == 0 and e.private_ip_address is None}
                          for i, a in enumerate(e.ipv6_addresses)],
        "MacAddress": _mac(e.network_interface_id),
        "NetworkInterfaceId": e.network_interface_id,
        "OwnerId": e.owner_id,
        "PrivateIpAddresses": addresses,
        "RequesterManaged": e.requester_managed,
        "SourceDestCheck": e.source_dest_check,
        "Status": "in-use" if e.instance_id or e.interface_type != "interface" else "available",
        "SubnetId": e.subnet_id,
        "VpcId": e.vpc_id,
    }
    if e.private_ip_address is not None:  # an interface of an IPv6-only subnet has neither
        item["PrivateDnsName"] = _dns(e.private_ip_address)
        item["PrivateIpAddress"] = str(e.private_ip_address)
    if addresses and "Association" in addresses[0]:
        item["Association"] = addresses[0]["Association"]
    if e.instance_id:
        item["Attachment"] = {
            "AttachmentId": derived_id("eni-attach", e.network_interface_id),
            "DeleteOnTermination": True,
            "DeviceIndex": 0,
            "NetworkCardIndex": 0,
            "InstanceId": e.instance_id,
            "InstanceOwnerId": e.owner_id,
            "Status": "attached",
        }
    return _tagged(item, e.tags, "TagSet")


def _dns(ip: Any) -> str:
    return "ip-" + str(ip).replace(".", "-") + ".ec2.internal" if ip.version == 4 else ""


# ------------------------------------------------------------------------------------------ security groups
def _permission(rules: list[SecurityGroupRule], owner: str) -> dict[str, Any]:
    """One IpPermission for rules sharing protocol and ports (AWS groups peers that way)."""
    first = rules[0]
    perm: dict[str, Any] = {"IpProtocol": protocol_text(first.ip_protocol), "IpRanges": [], "Ipv6Ranges": [],
                            "PrefixListIds": [], "UserIdGroupPairs": []}
    if first.ip_protocol not in (-1,) and (first.ip_protocol in (6, 17, 1, 58)):
        perm["FromPort"], perm["ToPort"] = first.from_port, first.to_port
    for r in rules:
        described = {"Description": r.description} if r.description else {}
        if r.cidr_ipv4 is not None:
            perm["IpRanges"].append({"CidrIp": str(r.cidr_ipv4), **described})
        if r.cidr_ipv6 is not None:
            perm["Ipv6Ranges"].append({"CidrIpv6": str(r.cidr_ipv6), **described})
        if r.prefix_list_id is not None:
            perm["PrefixListIds"].append({"PrefixListId": r.prefix_list_id, **described})
        if r.referenced_group_id is not None:
            perm["UserIdGroupPairs"].append({"GroupId": r.referenced_group_id, "UserId": owner, **described})
    return perm


def ip_permissions(rules: tuple[SecurityGroupRule, ...], owner: str) -> list[dict[str, Any]]:
    """Rules grouped into IpPermissions by (protocol, from, to), in first-seen order."""
    groups: dict[tuple[int, int, int], list[SecurityGroupRule]] = {}
    for r in rules:
        groups.setdefault((r.ip_protocol, r.from_port, r.to_port), []).append(r)
    return [_permission(rs, owner) for rs in groups.values()]


def protocol_text(number: int) -> str:
    return {-1: "-1", 6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}.get(number, str(number))


@_kind("SecurityGroups")
def describe_security_groups(t: Topology) -> list[dict[str, Any]]:
    return [_group(t, g) for g in t.security_groups]


def _group(t: Topology, g: SecurityGroup) -> dict[str, Any]:
    region = t.vpcs_by_id[g.vpc_id].region if g.vpc_id in t.vpcs_by_id else t.region
    item: dict[str, Any] = {
        "Description": g.description,
        "GroupName": g.group_name,
        "IpPermissions": ip_permissions(g.ingress, g.owner_id),
        "OwnerId": g.owner_id,
        "GroupId": g.group_id,
        "IpPermissionsEgress": ip_permissions(g.egress, g.owner_id),
        "VpcId": g.vpc_id,
        "SecurityGroupArn": f"arn:aws:ec2:{region}:{g.owner_id}:security-group/{g.group_id}",
    }
    return _tagged(item, g.tags)


@_kind("SecurityGroupRules")
def describe_security_group_rules(t: Topology) -> list[dict[str, Any]]:
    return [security_group_rule(t, g, r) for g in t.security_groups for r in (*g.ingress, *g.egress)]


def security_group_rule(t: Topology, g: SecurityGroup, r: SecurityGroupRule) -> dict[str, Any]:
    region = t.vpcs_by_id[g.vpc_id].region if g.vpc_id in t.vpcs_by_id else t.region
    item: dict[str, Any] = {
        "SecurityGroupRuleId": r.security_group_rule_id,
        "GroupId": g.group_id,
        "GroupOwnerId": g.owner_id,
        "IsEgress": r.is_egress,
        "IpProtocol": protocol_text(r.ip_protocol),
        "FromPort": r.from_port,
        "ToPort": r.to_port,
        "Tags": [],
        "SecurityGroupRuleArn": f"arn:aws:ec2:{region}:{g.owner_id}:security-group-rule/{r.security_group_rule_id}",
    }
    put_present(item, CidrIpv4=r.cidr_ipv4, CidrIpv6=r.cidr_ipv6, PrefixListId=r.prefix_list_id)
    if r.referenced_group_id is not None:
        ref = t.security_groups_by_id.get(r.referenced_group_id)
        item["ReferencedGroupInfo"] = {"GroupId": r.referenced_group_id,
                                       "UserId": ref.owner_id if ref else g.owner_id}
    if r.description:
        item["Description"] = r.description
    return item


# ------------------------------------------------------------------------------------------ network ACLs
@_kind("NetworkAcls")
def describe_network_acls(t: Topology) -> list[dict[str, Any]]:
    return [_acl(t, a) for a in t.network_acls]


def _acl(t: Topology, a: NetworkAcl) -> dict[str, Any]:
    subnets = list(a.subnet_ids)
    if a.is_default:  # the default ACL lists every subnet no other ACL of its VPC claims
        claimed = {s for other in t.network_acls if other.vpc_id == a.vpc_id for s in other.subnet_ids}
        subnets += [s.subnet_id for s in t.subnets if s.vpc_id == a.vpc_id and s.subnet_id not in claimed]
    item: dict[str, Any] = {
        "Associations": [
            {"NetworkAclAssociationId": derived_id("aclassoc", a.network_acl_id, s), "NetworkAclId": a.network_acl_id,
             "SubnetId": s}
            for s in dict.fromkeys(subnets)
        ],
        "Entries": [_entry(e) for e in a.entries],
        "IsDefault": a.is_default,
        "NetworkAclId": a.network_acl_id,
        "VpcId": a.vpc_id,
        "OwnerId": a.owner_id,
    }
    return _tagged(item, a.tags)


def _entry(e: NetworkAclEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"Egress": e.egress, "Protocol": str(e.protocol), "RuleAction": e.rule_action,
                           "RuleNumber": e.rule_number}
    put_present(out, CidrBlock=e.cidr_block, Ipv6CidrBlock=e.ipv6_cidr_block)
    if e.protocol in (6, 17) and e.port_from is not None:
        out["PortRange"] = {"From": e.port_from, "To": e.port_to}
    if e.protocol in (1, 58):
        out["IcmpTypeCode"] = {"Type": -1 if e.icmp_type is None else e.icmp_type,
                               "Code": -1 if e.icmp_code is None else e.icmp_code}
    return out


# ------------------------------------------------------------------------------------------ routes
#: model target kind -> the Route member naming the target (blackholes keep their target's member)
_TARGET_KEY = {
    "local": "GatewayId", "internet_gateway": "GatewayId", "virtual_private_gateway": "GatewayId",
    "gateway_endpoint": "GatewayId", "egress_only_internet_gateway": "EgressOnlyInternetGatewayId",
    "nat_gateway": "NatGatewayId", "vpc_peering_connection": "VpcPeeringConnectionId",
    "transit_gateway": "TransitGatewayId", "network_interface": "NetworkInterfaceId",
    "local_gateway": "LocalGatewayId",
}
_PREFIX_KEY = {"igw": "GatewayId", "vgw": "GatewayId", "vpce": "GatewayId", "eigw": "EgressOnlyInternetGatewayId",
               "nat": "NatGatewayId", "pcx": "VpcPeeringConnectionId", "tgw": "TransitGatewayId",
               "eni": "NetworkInterfaceId", "lgw": "LocalGatewayId"}


@_kind("RouteTables")
def describe_route_tables(t: Topology) -> list[dict[str, Any]]:
    return [_route_table(t, rt) for rt in t.route_tables]


def _route_table(t: Topology, rt: RouteTable) -> dict[str, Any]:
    associations: list[dict[str, Any]] = []
    if rt.main:
        associations.append({"Main": True, "RouteTableAssociationId": derived_id("rtbassoc", rt.route_table_id),
                             "RouteTableId": rt.route_table_id, "AssociationState": {"State": "associated"}})
    associations += [
        {"Main": False, "RouteTableAssociationId": derived_id("rtbassoc", rt.route_table_id, s),
         "RouteTableId": rt.route_table_id, "SubnetId": s, "AssociationState": {"State": "associated"}}
        for s in rt.subnet_ids
    ]
    routes = []
    for r in rt.routes:
        route = put_present({}, DestinationCidrBlock=r.destination_cidr_block,
                            DestinationIpv6CidrBlock=r.destination_ipv6_cidr_block,
                            DestinationPrefixListId=r.destination_prefix_list_id)
        blackhole = r.target_kind == "blackhole"
        key = _PREFIX_KEY.get(r.target_id.split("-")[0], "GatewayId") if blackhole else _TARGET_KEY[r.target_kind]
        route[key] = r.target_id
        route["Origin"] = "CreateRouteTable" if r.target_kind == "local" else "CreateRoute"
        route["State"] = "blackhole" if blackhole else "active"
        routes.append(route)
    owner = t.vpcs_by_id[rt.vpc_id].owner_id if rt.vpc_id in t.vpcs_by_id else t.account_id
    item: dict[str, Any] = {"Associations": associations, "PropagatingVgws": [], "RouteTableId": rt.route_table_id,
                            "Routes": routes, "VpcId": rt.vpc_id, "OwnerId": owner}
    return _tagged(item, rt.tags)


@_kind("VpcPeeringConnections")
def describe_vpc_peering_connections(t: Topology) -> list[dict[str, Any]]:
    return [_peering(t, p) for p in t.vpc_peering_connections]


def _side(t: Topology, vpc_id: str, owner: str, region: str) -> dict[str, Any]:
    info: dict[str, Any] = {"OwnerId": owner, "VpcId": vpc_id, "Region": region}
    vpc = t.vpcs_by_id.get(vpc_id)
    if vpc is not None:  # another account's VPC is known by its id only
        info["CidrBlock"] = str(vpc.cidr_blocks[0])
        info["CidrBlockSet"] = [{"CidrBlock": str(c)} for c in vpc.cidr_blocks]
        if vpc.ipv6_cidr_blocks:
            info["Ipv6CidrBlockSet"] = [{"Ipv6CidrBlock": str(c)} for c in vpc.ipv6_cidr_blocks]
    return info


_STATUS_MESSAGES = {"active": "Active", "pending-acceptance": "Pending Acceptance by {owner}",
                    "rejected": "Rejected", "deleted": "Deleted", "expired": "Expired", "failed": "Failed"}


def _peering(t: Topology, p: VpcPeeringConnection) -> dict[str, Any]:
    message = _STATUS_MESSAGES.get(p.status, p.status.title()).format(owner=p.accepter_owner_id)
    item: dict[str, Any] = {
        "AccepterVpcInfo": _side(t, p.accepter_vpc_id, p.accepter_owner_id, p.accepter_region),
        "RequesterVpcInfo": _side(t, p.requester_vpc_id, p.requester_owner_id, p.requester_region),
        "Status": {"Code": p.status, "Message": message},
        "VpcPeeringConnectionId": p.vpc_peering_connection_id,
    }
    return _tagged(item, p.tags)



@_kind("PrefixLists")
def describe_prefix_lists(t: Topology) -> list[dict[str, Any]]:
    return [{"PrefixListId": p.prefix_list_id, "PrefixListName": p.prefix_list_name,
             "Cidrs": [str(c) for c in p.cidrs]} for p in t.prefix_lists]
