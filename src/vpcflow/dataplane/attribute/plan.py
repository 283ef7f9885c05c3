"""Attribution plans: for one (capture interface, source, destination) triple, where a packet is
observed and what each observation's record shows. This plain-Python ``Planner`` is the readable
definition, used by ``explain`` and the tests' reference; the engine runs its compiled twin
(``attribute_kernel``), checked equal by a hypothesis property.

A plan is up to two hops (a hop = sender ENI -> receiver ENI, either may be unmodelled), each giving
an egress observation at its sender and an ingress observation at its receiver:

* direct: ``A -> B`` (same VPC, peered VPC, or the internet);
* through a NAT gateway (spec 7.6): when the sender's route for the destination is a NAT gateway,
  ``instance -> NAT ENI`` (packet unchanged) then ``NAT ENI -> destination`` (source translated to
  the NAT's private IP); for a packet from outside to an instance whose route back is a NAT gateway,
  ``outside -> NAT ENI`` (destination = NAT private IP) then ``NAT ENI -> instance``. Ports are not
  translated (decided: vpcflow does not model the NAT's port mapping).

Address rules (spec 2.6): an egress record's ``srcaddr`` is the ENI's primary private IPv4 (or its
IPv6 address), ``dstaddr`` the packet's destination; an ingress record's ``dstaddr`` is the ENI's
primary private IPv4 (traffic to a secondary IP, to a public/Elastic IP, or to an address that is not
the ENI's shows the primary), ``srcaddr`` the packet's source, never substituted. ``pkt-srcaddr`` /
``pkt-dstaddr`` are the addresses of the packet on that hop (a public/Elastic IP is already
translated to the private IP when the packet reaches the ENI).

``traffic-path`` (spec 1.5) comes from the sender subnet's route table, longest prefix match: local
1; internet gateway 8 on Nitro, else 2; egress-only internet gateway as an internet gateway (decided);
gateway endpoint (prefix-list route) 7 on Nitro, else 2; virtual private gateway 3; peering 4 within
a Region, 5 across Regions; local gateway 6; NAT gateway, transit gateway and ENI targets 1 (their
ENIs are resources in the VPC - decided); blackhole or no route ``-``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from vpcflow.model.topology.model import IPAddr, NetworkInterface, Topology

#: Not-captured categories (spec 2.7), in the order they are tested; each packet counts once.
NOT_CAPTURED_CATEGORIES = (
    "dhcp",
    "mirrored",
    "amazon_dns",
    "instance_metadata",
    "time_sync",
    "windows_activation",
    "vpc_router",
    "nlb_endpoint",
)

#: Link-local addresses of AWS services the hypervisor answers (never captured, spec 2.7).
#: Windows activation: AWS documents the KMS hosts 169.254.169.250 and .251 (TCP 1688); vpcflow
#: treats a packet between them and an instance whose ``platform`` is ``windows`` as license-activation
#: traffic (spec 2.7 "Windows license activation"); the same packets of other instances are recorded.
SPECIAL_ADDRESSES: dict[IPAddr, str] = {
    ipaddress.ip_address("169.254.169.253"): "amazon_dns",
    ipaddress.ip_address("fd00:ec2::253"): "amazon_dns",
    ipaddress.ip_address("169.254.169.254"): "instance_metadata",
    ipaddress.ip_address("fd00:ec2::254"): "instance_metadata",
    ipaddress.ip_address("169.254.169.123"): "time_sync",
    ipaddress.ip_address("fd00:ec2::123"): "time_sync",
    ipaddress.ip_address("169.254.169.250"): "windows_activation",
    ipaddress.ip_address("169.254.169.251"): "windows_activation",
}

_NLB_TYPES = frozenset({"network_load_balancer"})
_ENDPOINT_TYPES = frozenset({"vpc_endpoint", "gateway_load_balancer_endpoint"})


@dataclass(slots=True)
class ObsPoint:
    """One observation: the ENI, the direction and the record's address fields."""

    eni: int
    direction: int  # packets.INGRESS (0) / EGRESS (1)
    rec_src: IPAddr
    rec_dst: IPAddr
    pkt_src: IPAddr
    pkt_dst: IPAddr
    traffic_path: int  # -1 = `-`
    peer_eni: int
    remote_eni: int  # ENI owning the remote address privately (referenced-group rules), -1
    nacl: int  # index of the NACL checked at the subnet boundary, -1 when not crossing
    src_service: str | None = None
    dst_service: str | None = None


@dataclass(slots=True)
class Plan:
    category: str | None  # a NOT_CAPTURED category, "unattributed", or None (observed)
    points: list[ObsPoint] = field(default_factory=list)


class Planner:
    """Builds plans from a topology. ``enis``/``acls`` fix the indexes used everywhere."""

    def __init__(self, topo: Topology, enis: tuple[NetworkInterface, ...], acl_ids: tuple[str, ...],
                 services: ServiceLookup | None = None) -> None:
        self.topo = topo
        self.enis = enis
        self.eni_index = {e.network_interface_id: i for i, e in enumerate(enis)}
        self.acl_index = {a: i for i, a in enumerate(acl_ids)}
        self.services = services
        self.private: dict[IPAddr, int] = {}
        self.public: dict[IPAddr, int] = {}
        for i, e in enumerate(enis):
            link_local = (e.link_local_ipv6,) if e.link_local_ipv6 is not None else ()
            owned: tuple[IPAddr, ...] = (*e.private_ips, *e.ipv6_addresses, *link_local)
            for ip in owned:
                self.private.setdefault(ip, i)
            for ip in e.public_ips:
                self.public.setdefault(ip, i)
        self.nat_eni: dict[str, int] = {}
        self.nat_private: dict[str, IPAddr] = {}
        for nat in topo.nat_gateways:
            idx = self.eni_index.get(nat.network_interface_id)
            if idx is None:
                continue
            self.nat_eni[nat.nat_gateway_id] = idx
            self.nat_private[nat.nat_gateway_id] = nat.private_ip
            if nat.public_ip is not None:
                self.public.setdefault(nat.public_ip, idx)
        self.special: dict[IPAddr, str] = dict(SPECIAL_ADDRESSES)
        for vpc in topo.vpcs:
            self.special.setdefault(vpc.dns_server, "amazon_dns")
        for sn in topo.subnets:
            if sn.router_address is not None:
                self.special.setdefault(sn.router_address, "vpc_router")
        self._subnet_acl: dict[str, int] = {}
        for sn in topo.subnets:
            acl = topo.network_acl_for_subnet(sn.subnet_id)
            self._subnet_acl[sn.subnet_id] = self.acl_index.get(acl.network_acl_id, -1) if acl else -1
        self._service_cache: dict[IPAddr, str | None] = {}

    # ----------------------------------------------------------------- helpers
    def _primary(self, e: NetworkInterface, addr: IPAddr) -> IPAddr:
        if addr.version == 4:
            return e.primary_address  # an IPv6-only interface shows its primary IPv6 (docs/topology.md)
        if addr in e.ipv6_addresses or addr == e.link_local_ipv6 or not e.ipv6_addresses:
            return addr
        return e.ipv6_addresses[0]

    def _in_subnet(self, e: NetworkInterface, addr: IPAddr) -> bool:
        sn = self.topo.subnets_by_id.get(e.subnet_id)
        if sn is None:
            return False
        if addr.version == 4:
            return sn.cidr_block is not None and addr in sn.cidr_block
        return sn.ipv6_cidr_block is not None and addr in sn.ipv6_cidr_block

    def _in_vpc(self, e: NetworkInterface, addr: IPAddr) -> bool:
        vpc = self.topo.vpcs_by_id.get(e.vpc_id)
        if vpc is None:
            return False
        nets = vpc.cidr_blocks if addr.version == 4 else vpc.ipv6_cidr_blocks
        return any(addr in n for n in nets)

    def _crossing_acl(self, e: NetworkInterface, other: int, addr: IPAddr) -> int:
        if other < 0 and (addr.is_link_local or addr.is_multicast):
            return -1  # link-scope traffic never leaves the subnet: no NACL (decided, docs/policy.md)
        if other >= 0:
            crossing = self.enis[other].subnet_id != e.subnet_id
        else:
            crossing = not self._in_subnet(e, addr)
        return self._subnet_acl.get(e.subnet_id, -1) if crossing else -1

    def _route(self, e: NetworkInterface, addr: IPAddr) -> tuple[str, str] | None:
        """(target kind, target id) of the longest matching route of the ENI's subnet."""
        rt = self.topo.route_table_for_subnet(e.subnet_id) if e.subnet_id in self.topo.subnets_by_id else None
        if rt is None:
            return ("local", "local") if self._in_vpc(e, addr) else None
        best: tuple[int, str, str] | None = None
        for r in rt.routes:
            nets: list = []
            if addr.version == 4 and r.destination_cidr_block is not None:
                nets.append(r.destination_cidr_block)
            if addr.version == 6 and r.destination_ipv6_cidr_block is not None:
                nets.append(r.destination_ipv6_cidr_block)
            if r.destination_prefix_list_id is not None:
                pl = self.topo.prefix_lists_by_id.get(r.destination_prefix_list_id)
                nets.extend(n for n in (pl.cidrs if pl else ()) if n.version == addr.version)
            for n in nets:
                if addr in n and (best is None or n.prefixlen > best[0]):
                    best = (n.prefixlen, r.target_kind, r.target_id)
        if best is None:
            return ("local", "local") if self._in_vpc(e, addr) else None
        return best[1], best[2]

    def traffic_path(self, e: NetworkInterface, addr: IPAddr, receiver: int) -> int:
        if receiver >= 0 and self.enis[receiver].vpc_id == e.vpc_id:
            return 1
        route = self._route(e, addr)
        if route is None:
            return -1
        kind, target = route
        if kind == "local":
            return 1
        if kind in ("internet_gateway", "egress_only_internet_gateway"):
            return 8 if e.nitro else 2
        if kind == "gateway_endpoint":
            return 7 if e.nitro else 2
        if kind == "virtual_private_gateway":
            return 3
        if kind == "vpc_peering_connection":
            pcx = self.topo.peerings_by_id.get(target)
            if pcx is None:
                return 4
            return 4 if pcx.requester_region == pcx.accepter_region else 5
        if kind == "local_gateway":
            return 6
        if kind in ("nat_gateway", "transit_gateway", "network_interface"):
            return 1
        return -1  # blackhole

    def service(self, addr: IPAddr) -> str | None:
        if self.services is None:
            return None
        if addr not in self._service_cache:
            self._service_cache[addr] = self.services.lookup(addr)
        return self._service_cache[addr]

    def _egress(self, e_idx: int, s: IPAddr, d: IPAddr, receiver: int) -> ObsPoint:
        e = self.enis[e_idx]
        return ObsPoint(
            eni=e_idx, direction=1, rec_src=self._primary(e, s), rec_dst=d, pkt_src=s, pkt_dst=d,
            traffic_path=self.traffic_path(e, d, receiver), peer_eni=receiver,
            remote_eni=self.private.get(d, -1), nacl=self._crossing_acl(e, receiver, d),
            src_service=self.service(s), dst_service=self.service(d),
        )

    def _ingress(self, e_idx: int, s: IPAddr, d: IPAddr, sender: int) -> ObsPoint:
        e = self.enis[e_idx]
        return ObsPoint(
            eni=e_idx, direction=0, rec_src=s, rec_dst=self._primary(e, d), pkt_src=s, pkt_dst=d,
            traffic_path=-1, peer_eni=sender, remote_eni=self.private.get(s, -1),
            nacl=self._crossing_acl(e, sender, s), src_service=self.service(s), dst_service=self.service(d),
        )

    def _nat_via(self, e_idx: int, addr: IPAddr) -> int:
        """The NAT gateway ENI the ENI's route for ``addr`` goes through, or -1."""
        route = self._route(self.enis[e_idx], addr)
        if route is None or route[0] != "nat_gateway":
            return -1
        nat = self.nat_eni.get(route[1], -1)
        return -1 if nat == e_idx else nat

    # ----------------------------------------------------------------- plans
    def hops(self, src: IPAddr, dst: IPAddr) -> list[ObsPoint]:
        """Observation points of an unlabelled packet, in path order."""
        s_e = self.private.get(src, self.public.get(src, -1))
        d_e = self.private.get(dst, -1)
        d_pub = self.public.get(dst, -1) if d_e < 0 else -1
        # A public/Elastic IP is translated to the private IP before the packet reaches the ENI.
        d_addr = self.enis[d_pub].primary_address if d_pub >= 0 and dst.version == 4 else dst
        if d_pub >= 0:
            d_e = d_pub
        s_addr = self.enis[s_e].primary_address if s_e >= 0 and src in self.public else src
        pts: list[ObsPoint] = []
        if s_e >= 0:
            nat = self._nat_via(s_e, dst) if d_e < 0 or self.enis[d_e].vpc_id != self.enis[s_e].vpc_id else -1
            if nat >= 0:
                nat_ip = self.enis[nat].primary_address
                pts.append(self._egress(s_e, s_addr, dst, nat))
                pts.append(self._ingress(nat, s_addr, dst, s_e))
                pts.append(self._egress(nat, nat_ip, d_addr, d_e))
                if d_e >= 0:
                    pts.append(self._ingress(d_e, nat_ip, d_addr, nat))
                return pts
            pts.append(self._egress(s_e, s_addr, d_addr, d_e))
            if d_e >= 0 and d_e != s_e:
                pts.append(self._ingress(d_e, s_addr, d_addr, s_e))
            return pts
        if d_e >= 0:
            nat = self._nat_via(d_e, src) if d_pub < 0 else -1
            if nat >= 0 and self.enis[d_e].interface_type != "nat_gateway":
                nat_ip = self.enis[nat].primary_address
                pts.append(self._ingress(nat, src, nat_ip, -1))
                pts.append(self._egress(nat, src, d_addr, d_e))
                pts.append(self._ingress(d_e, src, d_addr, nat))
                return pts
            pts.append(self._ingress(d_e, src, d_addr, -1))
        return pts

    def plan(self, label: int, src: IPAddr, dst: IPAddr) -> Plan:
        category = self.special.get(src) or self.special.get(dst)
        if category == "windows_activation" and not self._windows_side(label, dst if src in self.special else src):
            category = None
        pts = self.hops(src, dst)
        if label >= 0:
            mine = [p for p in pts if p.eni == label]
            if not mine and self._mirror_copy(label, src, dst):
                return Plan(category or "mirrored", [])
            if not mine:
                mine = [self._foreign(label, src, dst)]
            pts = mine
        if category is None:
            for p in pts:
                if p.peer_eni >= 0:
                    a, b = self.enis[p.eni].interface_type, self.enis[p.peer_eni].interface_type
                    if (a in _NLB_TYPES and b in _ENDPOINT_TYPES) or (b in _NLB_TYPES and a in _ENDPOINT_TYPES):
                        category = "nlb_endpoint"
        if category is None and not pts:
            category = "unattributed"
        return Plan(category, pts)

    def _windows_side(self, label: int, addr: IPAddr) -> bool:
        """Whether ``addr`` (the non-KMS side of a packet) is a Windows instance's (else the capture ENI's)."""
        e = self.private.get(addr, self.public.get(addr, label))
        return e >= 0 and self.enis[e].platform == "windows"

    def _mirror_copy(self, label: int, src: IPAddr, dst: IPAddr) -> bool:
        """A packet neither from nor to an interface whose source/destination check is on.

        EC2 delivers no such packet to it, so it can only be a traffic-mirroring copy decapsulated at a
        mirror target (spec 2.7: mirrored traffic is not captured). Link-scope packets (multicast,
        link-local) are the interface's own traffic; with the check off it forwards (``_foreign``).
        """
        link_scope = dst.is_multicast or src.is_link_local or dst.is_link_local
        return self.enis[label].source_dest_check and not link_scope

    def _foreign(self, label: int, src: IPAddr, dst: IPAddr) -> ObsPoint:
        """A packet captured on an ENI although neither address is the ENI's (forwarding appliances).

        Link-scope traffic (a multicast destination, or a link-local source or destination that is
        not the ENI's own: neighbour discovery, MLD, router advertisements) was received: ingress,
        never egress. Otherwise (decided) it is ingress when the source is inside the ENI's VPC (or a
        modelled ENI) - the appliance receives VPC traffic to forward - and egress otherwise (it
        forwards outside traffic into the VPC). Spec 2.6 then shows the primary private IP on the
        ENI's side.
        """
        e = self.enis[label]
        if dst.is_multicast or src.is_link_local or dst.is_link_local or src in self.private \
                or self._in_vpc(e, src):
            return self._ingress(label, src, dst, self.private.get(src, -1))
        return self._egress(label, src, dst, self.private.get(dst, -1))


class ServiceLookup:
    """``pkt-*-aws-service`` from AWS's ip-ranges.json: the most specific non-``AMAZON`` service
    containing a PUBLIC address, else ``AMAZON``, else None (ties: alphabetical, decided)."""

    def __init__(self, document: dict) -> None:
        self._nets: dict[tuple[int, int], dict[int, set[str]]] = {}
        for item in document.get("prefixes", []):
            self._add(ipaddress.ip_network(item["ip_prefix"], strict=False), item["service"])
        for item in document.get("ipv6_prefixes", []):
            self._add(ipaddress.ip_network(item["ipv6_prefix"], strict=False), item["service"])
        self._lengths = {v: sorted({pl for (ver, pl) in self._nets if ver == v}, reverse=True) for v in (4, 6)}

    def _add(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network, service: str) -> None:
        self._nets.setdefault((net.version, net.prefixlen), {}).setdefault(int(net.network_address), set()).add(
            service
        )

    def lookup(self, addr: IPAddr) -> str | None:
        if not addr.is_global:
            return None
        bits = 32 if addr.version == 4 else 128
        value = int(addr)
        amazon = False
        for plen in self._lengths[addr.version]:
            key = (value >> (bits - plen)) << (bits - plen) if plen else 0
            found = self._nets[(addr.version, plen)].get(key)
            if not found:
                continue
            named = sorted(s for s in found if s != "AMAZON")
            if named:
                return named[0]
            amazon = True
        return "AMAZON" if amazon else None
