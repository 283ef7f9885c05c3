"""Test helpers for the policy engine: a small Topology builder and a PacketBatch builder.

Builds ``vpcflow.model.topology.model`` objects directly (independent of the YAML loader). Every
VPC gets AWS's defaults unless told otherwise: a default NACL allowing all traffic (rule 100) with
the ``*`` deny entries, and a main route table with the local route.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch, ip_to_pair
from vpcflow.model.topology.model import (
    NatGateway,
    NetworkAcl,
    NetworkAclEntry,
    NetworkInterface,
    PrefixList,
    Route,
    RouteTable,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Topology,
    Vpc,
    VpcPeeringConnection,
)

ACCOUNT = "123456789010"
PROTO = {"all": -1, "-1": -1, "tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}


def net(cidr: str) -> Any:
    return ipaddress.ip_network(cidr, strict=False)


def ip(a: str) -> Any:
    return ipaddress.ip_address(a)


def sg_rule(group_id: str, n: int, egress: bool, proto: str | int, ports: tuple[int, int] = (-1, -1),
            cidr: str | None = None, group: str | None = None, prefix_list: str | None = None) -> SecurityGroupRule:
    p = PROTO[proto] if isinstance(proto, str) else proto
    c = net(cidr) if cidr else None
    return SecurityGroupRule(
        security_group_rule_id=f"sgr-{group_id[3:]}{'e' if egress else 'i'}{n:03d}",
        group_id=group_id, is_egress=egress, ip_protocol=p, from_port=ports[0], to_port=ports[1],
        cidr_ipv4=c if c is not None and c.version == 4 else None,
        cidr_ipv6=c if c is not None and c.version == 6 else None,
        referenced_group_id=group, prefix_list_id=prefix_list,
    )


def acl_entry(number: int, egress: bool, proto: str | int, action: str, cidr: str,
              ports: tuple[int, int] | None = None, icmp: tuple[int, int] | None = None) -> NetworkAclEntry:
    p = PROTO[proto] if isinstance(proto, str) else proto
    c = net(cidr)
    return NetworkAclEntry(
        rule_number=number, egress=egress, protocol=p, rule_action=action,  # type: ignore[arg-type]
        cidr_block=c if c.version == 4 else None, ipv6_cidr_block=c if c.version == 6 else None,
        port_from=ports[0] if ports else None, port_to=ports[1] if ports else None,
        icmp_type=icmp[0] if icmp else None, icmp_code=icmp[1] if icmp else None,
    )


def star_entries() -> list[NetworkAclEntry]:
    return [acl_entry(32767, eg, "all", "deny", c) for eg in (False, True) for c in ("0.0.0.0/0", "::/0")]


def allow_all_entries() -> list[NetworkAclEntry]:
    return [acl_entry(100, eg, "all", "allow", "0.0.0.0/0") for eg in (False, True)] + [
        acl_entry(101, eg, "all", "allow", "::/0") for eg in (False, True)
    ] + star_entries()


@dataclass
class TopoBuilder:
    account: str = ACCOUNT
    region: str = "us-east-1"
    vpcs: list[Vpc] = field(default_factory=list)
    subnets: list[Subnet] = field(default_factory=list)
    enis: list[NetworkInterface] = field(default_factory=list)
    groups: list[SecurityGroup] = field(default_factory=list)
    acls: list[NetworkAcl] = field(default_factory=list)
    rts: list[RouteTable] = field(default_factory=list)
    nats: list[NatGateway] = field(default_factory=list)
    peerings: list[VpcPeeringConnection] = field(default_factory=list)
    prefix_lists: list[PrefixList] = field(default_factory=list)

    def vpc(self, vpc_id: str, cidr: str, ipv6: str | None = None, region: str | None = None,
            default_acl: bool = True, routes: tuple[Route, ...] = ()) -> str:
        self.vpcs.append(Vpc(vpc_id, self.account, region or self.region, (net(cidr),),
                             (net(ipv6),) if ipv6 else ()))
        if default_acl:
            self.acls.append(NetworkAcl(f"acl-{vpc_id[4:]}d", vpc_id, self.account, True,
                                        tuple(allow_all_entries())))
        local = [Route("local", "local", destination_cidr_block=net(cidr))]
        if ipv6:
            local.append(Route("local", "local", destination_ipv6_cidr_block=net(ipv6)))
        self.rts.append(RouteTable(f"rtb-{vpc_id[4:]}m", vpc_id, (*local, *routes), main=True))
        return vpc_id

    def subnet(self, subnet_id: str, vpc_id: str, cidr: str | None, ipv6: str | None = None) -> str:
        """``cidr`` None: an IPv6-only subnet."""
        self.subnets.append(Subnet(subnet_id, vpc_id, net(cidr) if cidr else None, "us-east-1a", "use1-az1",
                                   net(ipv6) if ipv6 else None, self.account))
        return subnet_id

    def sg(self, group_id: str, vpc_id: str, ingress: list[tuple] = (), egress: list[tuple] = ()) -> str:  # type: ignore[assignment]
        ing = tuple(sg_rule(group_id, i, False, *r) for i, r in enumerate(ingress))
        eg = tuple(sg_rule(group_id, i, True, *r) for i, r in enumerate(egress))
        self.groups.append(SecurityGroup(group_id, group_id, vpc_id, self.account, "", ing, eg))
        return group_id

    def eni(self, eni_id: str, subnet_id: str, address: str | None, groups: tuple[str, ...] = (), **kw: Any) -> str:
        """``address`` None: an interface of an IPv6-only subnet (give ``ipv6``)."""
        sn = next(s for s in self.subnets if s.subnet_id == subnet_id)
        if "secondary" in kw:
            kw["secondary_private_ip_addresses"] = tuple(ip(a) for a in kw.pop("secondary"))
        if "ipv6" in kw:
            kw["ipv6_addresses"] = tuple(ip(a) for a in kw.pop("ipv6"))
        if "public" in kw:
            kw["public_ip"] = ip(kw.pop("public"))
        if "eips" in kw:
            kw["elastic_ips"] = tuple(ip(a) for a in kw.pop("eips"))
        self.enis.append(NetworkInterface(eni_id, subnet_id, sn.vpc_id, self.account, ip(address) if address else None,
                                          groups=groups, **kw))
        return eni_id

    def acl(self, acl_id: str, vpc_id: str, entries: list[NetworkAclEntry], subnets: tuple[str, ...],
            star: bool = True) -> str:
        self.acls.append(NetworkAcl(acl_id, vpc_id, self.account, False,
                                    tuple(entries) + (tuple(star_entries()) if star else ()), subnets))
        return acl_id

    def route_table(self, rt_id: str, vpc_id: str, routes: list[Route], subnets: tuple[str, ...]) -> str:
        vpc = next(v for v in self.vpcs if v.vpc_id == vpc_id)
        local = [Route("local", "local", destination_cidr_block=vpc.cidr_block)]
        local += [Route("local", "local", destination_ipv6_cidr_block=c) for c in vpc.ipv6_cidr_blocks]
        self.rts.append(RouteTable(rt_id, vpc_id, (*local, *routes), subnets))
        return rt_id

    def nat(self, nat_id: str, subnet_id: str, eni_id: str, private: str, public: str | None) -> str:
        sn = next(s for s in self.subnets if s.subnet_id == subnet_id)
        self.eni(eni_id, subnet_id, private, interface_type="nat_gateway", requester_managed=True,
                 **({"public": public} if public else {}))
        self.nats.append(NatGateway(nat_id, subnet_id, sn.vpc_id, eni_id, ip(private),
                                    ip(public) if public else None))
        return nat_id

    def build(self) -> Topology:
        return Topology(
            account_id=self.account, region=self.region, vpcs=tuple(self.vpcs), subnets=tuple(self.subnets),
            network_interfaces=tuple(self.enis), security_groups=tuple(self.groups),
            network_acls=tuple(self.acls), route_tables=tuple(self.rts), nat_gateways=tuple(self.nats),
            vpc_peering_connections=tuple(self.peerings), prefix_lists=tuple(self.prefix_lists),
        )


def route(kind: str, target: str, cidr: str | None = None, prefix_list: str | None = None) -> Route:
    c = net(cidr) if cidr else None
    return Route(kind, target, destination_cidr_block=c if c is not None and c.version == 4 else None,
                 destination_ipv6_cidr_block=c if c is not None and c.version == 6 else None,
                 destination_prefix_list_id=prefix_list)


@dataclass
class Pkt:
    t: float  # seconds
    src: str
    dst: str
    proto: str | int = "tcp"
    sport: int = 0
    dport: int = 0
    flags: int = 0
    icmp: tuple[int, int] = (-1, -1)
    size: int = 100
    iface: str | None = None
    fragment: int = 0


def packets(pkts: list[Pkt], interfaces: tuple[str, ...] = ()) -> PacketBatch:
    """A PacketBatch from readable packets; ``iface`` names must be in ``interfaces``."""
    ifaces = list(interfaces)
    for p in pkts:
        if p.iface is not None and p.iface not in ifaces:
            ifaces.append(p.iface)
    cols: dict[str, list] = {k: [] for k in PACKET_DTYPES}
    for p in pkts:
        s, d = ip(p.src), ip(p.dst)
        proto = PROTO[p.proto] if isinstance(p.proto, str) else p.proto
        cols["ts_ns"].append(round(p.t * 1e9))
        cols["ip_version"].append(s.version)
        sh, sl = ip_to_pair(s)
        dh, dl = ip_to_pair(d)
        cols["src_hi"].append(sh)
        cols["src_lo"].append(sl)
        cols["dst_hi"].append(dh)
        cols["dst_lo"].append(dl)
        cols["protocol"].append(proto)
        icmp = proto in (1, 58)
        cols["src_port"].append(0 if icmp else p.sport)
        cols["dst_port"].append(0 if icmp else p.dport)
        cols["icmp_type"].append(p.icmp[0] if icmp else -1)
        cols["icmp_code"].append(p.icmp[1] if icmp else -1)
        cols["ip_len"].append(p.size)
        cols["tcp_flags"].append(p.flags if proto == 6 else 0)
        cols["fragment"].append(p.fragment)
        cols["iface"].append(ifaces.index(p.iface) if p.iface is not None else -1)
    arrays = {k: np.array(v, dtype=PACKET_DTYPES[k]) for k, v in cols.items()}
    return PacketBatch(**arrays, interfaces=tuple(ifaces))


def rows(engine: Any, obs: Any) -> list[tuple]:
    """(packet, eni, direction, action, srcaddr, dstaddr, pkt-src, pkt-dst, traffic_path) per observation."""
    from vpcflow.dataplane.packets import pair_to_ip

    out = []
    for i in range(len(obs)):
        out.append((
            int(obs.packet[i]), obs.enis[obs.eni[i]], "egress" if obs.direction[i] else "ingress",
            "ACCEPT" if obs.action[i] == 0 else "REJECT",
            str(pair_to_ip(obs.src_hi[i], obs.src_lo[i])), str(pair_to_ip(obs.dst_hi[i], obs.dst_lo[i])),
            str(pair_to_ip(obs.pkt_src_hi[i], obs.pkt_src_lo[i])), str(pair_to_ip(obs.pkt_dst_hi[i], obs.pkt_dst_lo[i])),
            int(obs.traffic_path[i]),
        ))
    return out


def rule_text(obs: Any, i: int) -> str:
    return str(obs.rules[obs.rule[i]])
