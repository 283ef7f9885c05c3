"""The network model as plain, frozen, typed data: accounts, regions, VPCs, subnets, ENIs,
security groups, network ACLs, route tables, gateways, endpoints, peering, S3 buckets, log groups.

Attribute names are the snake_case form of AWS's member names (``network_interface_id``,
``cidr_block``, ``ip_permissions`` is flattened to ``ingress``/``egress`` rules). Addresses are
``ipaddress`` objects. A ``Topology`` holds everything plus id indexes; it is built by the loader
(``model.topology.loader``) which validates references, and it is never mutated after loading.

The ``iam`` section of a topology file is kept raw (``Topology.iam``) and parsed by ``vpcflow.iam``,
which sits above this layer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal

IPv4Net = ipaddress.IPv4Network
IPv6Net = ipaddress.IPv6Network
IPv4 = ipaddress.IPv4Address
IPv6 = ipaddress.IPv6Address
IPNet = IPv4Net | IPv6Net
IPAddr = IPv4 | IPv6

#: ENI types as EC2 spells ``InterfaceType`` (describe-network-interfaces), plus the ones flow logs name.
InterfaceType = Literal[
    "interface",
    "nat_gateway",
    "network_load_balancer",
    "gateway_load_balancer",
    "gateway_load_balancer_endpoint",
    "vpc_endpoint",
    "transit_gateway",
    "lambda",
    "efa",
    "trunk",
    "branch",
    "api_gateway_managed",
    "aws_codestar_connections_managed",
    "load_balancer",
]

#: Protocol numbers; -1 means all protocols (AWS's "-1").
ALL_PROTOCOLS = -1


@dataclass(frozen=True, slots=True)
class AvailabilityZone:
    zone_name: str  # us-east-1a
    zone_id: str  # use1-az1


@dataclass(frozen=True, slots=True)
class Region:
    region_name: str
    availability_zones: tuple[AvailabilityZone, ...]


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str  # 12 digits
    name: str = ""


@dataclass(frozen=True, slots=True)
class Vpc:
    vpc_id: str
    owner_id: str  # account id
    region: str
    cidr_blocks: tuple[IPv4Net, ...]  # the primary first
    ipv6_cidr_blocks: tuple[IPv6Net, ...] = ()
    is_default: bool = False
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def cidr_block(self) -> IPv4Net:
        return self.cidr_blocks[0]

    @property
    def dns_server(self) -> IPv4:
        """The Amazon DNS server: the primary CIDR's base + 2 (spec 2.7)."""
        return self.cidr_blocks[0].network_address + 2


@dataclass(frozen=True, slots=True)
class Subnet:
    """A subnet: IPv4 (``cidr_block``), dual-stack (both blocks) or IPv6-only (``cidr_block`` None:
    AWS's ``Ipv6Native`` subnets, whose interfaces have IPv6 addresses only)."""

    subnet_id: str
    vpc_id: str
    cidr_block: IPv4Net | None
    availability_zone: str
    availability_zone_id: str
    ipv6_cidr_block: IPv6Net | None = None
    owner_id: str = ""
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def ipv6_native(self) -> bool:
        return self.cidr_block is None

    @property
    def router_address(self) -> IPAddr | None:
        """The VPC router's reserved address: base + 1 of the IPv4 block, of the IPv6 block in an
        IPv6-only subnet (not captured, spec 2.7)."""
        net: IPNet | None = self.cidr_block or self.ipv6_cidr_block
        return None if net is None else net.network_address + 1

    def reserved_addresses(self) -> tuple[IPv4, ...]:
        """The five IPv4 addresses AWS reserves in every subnet: base+0..3 and the broadcast address
        (none in an IPv6-only subnet)."""
        net = self.cidr_block
        if net is None:
            return ()
        return (
            net.network_address,
            net.network_address + 1,
            net.network_address + 2,
            net.network_address + 3,
            net.broadcast_address,
        )


@dataclass(frozen=True, slots=True)
class NetworkInterface:
    network_interface_id: str
    subnet_id: str
    vpc_id: str
    owner_id: str  # account that owns the ENI (account-id field)
    private_ip_address: IPv4 | None  # primary private IPv4; None in an IPv6-only subnet
    interface_type: str = "interface"
    requester_managed: bool = False
    instance_id: str | None = None
    secondary_private_ip_addresses: tuple[IPv4, ...] = ()
    ipv6_addresses: tuple[IPv6, ...] = ()
    public_ip: IPv4 | None = None  # auto-assigned public IPv4
    elastic_ips: tuple[IPv4, ...] = ()
    groups: tuple[str, ...] = ()  # security group ids
    ec2_classic: bool = False  # marker: the instance lives in EC2-Classic (flow logs refused)
    nitro: bool = True  # Nitro instances: traffic-path 7/8, <= 60 s aggregation
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    source_dest_check: bool = True
    platform: str = "linux"  # the instance's platform: "windows" traffic to AWS's KMS hosts is not captured
    link_local_ipv6: IPv6 | None = None  # the interface's fe80::/10 address (neighbour discovery, MLD)

    @property
    def private_ips(self) -> tuple[IPv4, ...]:
        if self.private_ip_address is None:
            return self.secondary_private_ip_addresses
        return (self.private_ip_address, *self.secondary_private_ip_addresses)

    @property
    def primary_address(self) -> IPAddr:
        """The address records show for this interface where spec 2.6 says "primary private IPv4":
        that address, or for an IPv6-only interface (none) its primary (first) IPv6 address. AWS
        documents no IPv6-only case; decided in docs/topology.md ("IPv6-only subnets")."""
        if self.private_ip_address is not None:
            return self.private_ip_address
        if not self.ipv6_addresses:
            raise ValueError(f"{self.network_interface_id} has neither a private IPv4 nor an IPv6 address")
        return self.ipv6_addresses[0]

    @property
    def public_ips(self) -> tuple[IPv4, ...]:
        return ((self.public_ip,) if self.public_ip else ()) + self.elastic_ips


@dataclass(frozen=True, slots=True)
class SecurityGroupRule:
    """One rule: a protocol, a port or ICMP range, and ONE peer (CIDR, group or prefix list).

    ``from_port``/``to_port``: ports for TCP/UDP; for ICMP/ICMPv6 ``from_port`` is the type and
    ``to_port`` the code (-1 = all), as in AWS. Both -1 for all protocols.
    """

    security_group_rule_id: str
    group_id: str
    is_egress: bool
    ip_protocol: int  # -1 all, 6, 17, 1, 58, or any protocol number
    from_port: int = -1
    to_port: int = -1
    cidr_ipv4: IPv4Net | None = None
    cidr_ipv6: IPv6Net | None = None
    referenced_group_id: str | None = None
    prefix_list_id: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    group_id: str
    group_name: str
    vpc_id: str
    owner_id: str
    description: str = ""
    ingress: tuple[SecurityGroupRule, ...] = ()
    egress: tuple[SecurityGroupRule, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkAclEntry:
    """A numbered NACL rule. ``rule_number`` 32767 is the final ``*`` deny every NACL has."""

    rule_number: int
    egress: bool
    protocol: int  # -1 all
    rule_action: Literal["allow", "deny"]
    cidr_block: IPv4Net | None = None
    ipv6_cidr_block: IPv6Net | None = None
    port_from: int | None = None  # TCP/UDP range, inclusive
    port_to: int | None = None
    icmp_type: int | None = None  # -1 all
    icmp_code: int | None = None


DEFAULT_DENY_RULE_NUMBER = 32767


@dataclass(frozen=True, slots=True)
class NetworkAcl:
    network_acl_id: str
    vpc_id: str
    owner_id: str
    is_default: bool
    entries: tuple[NetworkAclEntry, ...]  # the loader adds the `*` deny entries (v4 and v6, both ways)
    subnet_ids: tuple[str, ...] = ()  # explicit associations; the default NACL gets the rest
    tags: tuple[tuple[str, str], ...] = ()


RouteTargetKind = Literal[
    "local",
    "internet_gateway",
    "egress_only_internet_gateway",
    "nat_gateway",
    "vpc_peering_connection",
    "virtual_private_gateway",
    "gateway_endpoint",
    "transit_gateway",
    "network_interface",
    "local_gateway",
    "blackhole",
]


@dataclass(frozen=True, slots=True)
class Route:
    target_kind: str  # a RouteTargetKind
    target_id: str  # "local" for the local route
    destination_cidr_block: IPv4Net | None = None
    destination_ipv6_cidr_block: IPv6Net | None = None
    destination_prefix_list_id: str | None = None


@dataclass(frozen=True, slots=True)
class RouteTable:
    route_table_id: str
    vpc_id: str
    routes: tuple[Route, ...]
    subnet_ids: tuple[str, ...] = ()
    main: bool = False
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class InternetGateway:
    internet_gateway_id: str
    vpc_id: str | None
    tags: tuple[tuple[str, str], ...] = ()  # the file's `name` is the ("Name", name) tag


@dataclass(frozen=True, slots=True)
class NatGateway:
    nat_gateway_id: str
    subnet_id: str
    vpc_id: str
    network_interface_id: str
    private_ip: IPv4
    public_ip: IPv4 | None  # None: a private NAT gateway
    connectivity_type: Literal["public", "private"] = "public"
    tags: tuple[tuple[str, str], ...] = ()  # the file's `name` is the ("Name", name) tag


@dataclass(frozen=True, slots=True)
class VpcEndpoint:
    vpc_endpoint_id: str
    vpc_id: str
    service_name: str  # com.amazonaws.us-east-1.s3
    vpc_endpoint_type: Literal["Gateway", "Interface", "GatewayLoadBalancer"]
    route_table_ids: tuple[str, ...] = ()
    network_interface_ids: tuple[str, ...] = ()
    prefix_list_id: str | None = None  # gateway endpoints route to the service's prefix list
    tags: tuple[tuple[str, str], ...] = ()  # the file's `name` is the ("Name", name) tag


@dataclass(frozen=True, slots=True)
class VpcPeeringConnection:
    vpc_peering_connection_id: str
    requester_vpc_id: str
    requester_owner_id: str
    requester_region: str
    accepter_vpc_id: str
    accepter_owner_id: str
    accepter_region: str
    status: str = "active"
    tags: tuple[tuple[str, str], ...] = ()  # the file's `name` is the ("Name", name) tag


@dataclass(frozen=True, slots=True)
class PrefixList:
    prefix_list_id: str
    prefix_list_name: str
    cidrs: tuple[IPNet, ...]


@dataclass(frozen=True, slots=True)
class VirtualPrivateGateway:
    vpn_gateway_id: str
    vpc_id: str | None
    tags: tuple[tuple[str, str], ...] = ()  # the file's `name` is the ("Name", name) tag


@dataclass(frozen=True, slots=True)
class TransitGateway:
    transit_gateway_id: str
    owner_id: str
    vpc_ids: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()  # the file's `name` is the ("Name", name) tag


@dataclass(frozen=True, slots=True)
class S3Bucket:
    """A bucket a flow log can deliver to (resources section of the topology file)."""

    name: str
    owner_id: str
    region: str
    policy: dict[str, Any] | None = None  # bucket policy document


@dataclass(frozen=True, slots=True)
class LogGroup:
    """A CloudWatch Logs log group known up front (delivery may also create groups)."""

    log_group_name: str
    owner_id: str
    region: str
    retention_in_days: int | None = None


@dataclass(frozen=True)
class Topology:
    """The whole modelled world. Lists keep file order; ``*_by_id`` indexes are built in ``__post_init__``."""

    account_id: str  # the default (caller's) account
    region: str  # the default region
    accounts: tuple[Account, ...] = ()
    regions: tuple[Region, ...] = ()
    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    network_acls: tuple[NetworkAcl, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    internet_gateways: tuple[InternetGateway, ...] = ()
    nat_gateways: tuple[NatGateway, ...] = ()
    vpc_endpoints: tuple[VpcEndpoint, ...] = ()
    vpc_peering_connections: tuple[VpcPeeringConnection, ...] = ()
    prefix_lists: tuple[PrefixList, ...] = ()
    virtual_private_gateways: tuple[VirtualPrivateGateway, ...] = ()
    transit_gateways: tuple[TransitGateway, ...] = ()
    s3_buckets: tuple[S3Bucket, ...] = ()
    log_groups: tuple[LogGroup, ...] = ()
    iam: dict[str, Any] = field(default_factory=dict)  # raw `iam` section, parsed by vpcflow.iam
    source: str = ""  # the file it was loaded from, for messages

    def __post_init__(self) -> None:
        idx = object.__setattr__
        idx(self, "vpcs_by_id", {v.vpc_id: v for v in self.vpcs})
        idx(self, "subnets_by_id", {s.subnet_id: s for s in self.subnets})
        idx(self, "enis_by_id", {e.network_interface_id: e for e in self.network_interfaces})
        idx(self, "security_groups_by_id", {g.group_id: g for g in self.security_groups})
        idx(self, "network_acls_by_id", {n.network_acl_id: n for n in self.network_acls})
        idx(self, "route_tables_by_id", {r.route_table_id: r for r in self.route_tables})
        idx(self, "prefix_lists_by_id", {p.prefix_list_id: p for p in self.prefix_lists})
        idx(self, "peerings_by_id", {p.vpc_peering_connection_id: p for p in self.vpc_peering_connections})
        idx(self, "buckets_by_name", {b.name: b for b in self.s3_buckets})

    # Indexes (set in __post_init__; declared for type checkers).
    vpcs_by_id: dict[str, Vpc] = field(init=False, repr=False, compare=False)
    subnets_by_id: dict[str, Subnet] = field(init=False, repr=False, compare=False)
    enis_by_id: dict[str, NetworkInterface] = field(init=False, repr=False, compare=False)
    security_groups_by_id: dict[str, SecurityGroup] = field(init=False, repr=False, compare=False)
    network_acls_by_id: dict[str, NetworkAcl] = field(init=False, repr=False, compare=False)
    route_tables_by_id: dict[str, RouteTable] = field(init=False, repr=False, compare=False)
    prefix_lists_by_id: dict[str, PrefixList] = field(init=False, repr=False, compare=False)
    peerings_by_id: dict[str, VpcPeeringConnection] = field(init=False, repr=False, compare=False)
    buckets_by_name: dict[str, S3Bucket] = field(init=False, repr=False, compare=False)

    def enis_in_subnet(self, subnet_id: str) -> tuple[NetworkInterface, ...]:
        return tuple(e for e in self.network_interfaces if e.subnet_id == subnet_id)

    def enis_in_vpc(self, vpc_id: str) -> tuple[NetworkInterface, ...]:
        return tuple(e for e in self.network_interfaces if e.vpc_id == vpc_id)

    def network_acl_for_subnet(self, subnet_id: str) -> NetworkAcl | None:
        """The NACL associated with a subnet: an explicit association, else the VPC's default NACL."""
        subnet = self.subnets_by_id[subnet_id]
        default: NetworkAcl | None = None
        for acl in self.network_acls:
            if acl.vpc_id != subnet.vpc_id:
                continue
            if subnet_id in acl.subnet_ids:
                return acl
            if acl.is_default:
                default = acl
        return default

    def route_table_for_subnet(self, subnet_id: str) -> RouteTable | None:
        """The route table of a subnet: an explicit association, else the VPC's main table."""
        subnet = self.subnets_by_id[subnet_id]
        main: RouteTable | None = None
        for rt in self.route_tables:
            if rt.vpc_id != subnet.vpc_id:
                continue
            if subnet_id in rt.subnet_ids:
                return rt
            if rt.main:
                main = rt
        return main
