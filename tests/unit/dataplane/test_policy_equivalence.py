"""Property: the vectorised engine decides exactly as the plain-Python reference, on random
topologies and traffic, including connection tracking across batch boundaries."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_builders import Pkt, TopoBuilder, acl_entry, ip, packets, route
from policy_reference import ReferenceEngine, engine_rows

from vpcflow.dataplane.attribute.engine import PolicyEngine
from vpcflow.dataplane.evaluate.conntrack import ConntrackTimeouts
from vpcflow.model.topology.model import PrefixList

CIDRS = ["0.0.0.0/0", "10.0.0.0/16", "10.0.1.0/24", "10.0.2.0/24", "10.0.1.10/32", "203.0.113.0/24",
         "::/0", "2001:db8::/56", "2001:db8:0:1::/64"]
PORTS = [(-1, -1), (22, 22), (80, 80), (0, 65535), (1024, 65535), (80, 443)]
# ICMP (type, code) in rules: any, one type with any code, one type and code (IPv4 and IPv6 numbers).
ICMP = [(-1, -1), (8, -1), (0, 0), (3, 4), (3, -1), (11, 0), (128, -1), (1, 4)]
# ICMP (type, code) of packets: echo request/reply, unreachable with two codes, time exceeded, ICMPv6 echo.
PACKET_ICMP = [(8, 0), (0, 0), (3, 4), (3, 3), (11, 0), (128, 0), (129, 0), (1, 4)]
# NACL rule numbers of every length from 1 to 5 digits, so a text sort (100 before 90) would differ.
RULE_NUMBERS = st.one_of(st.integers(1, 9), st.integers(10, 99), st.integers(100, 999), st.integers(1000, 32766))
PROTOS = ["all", "tcp", "udp", "icmp", "icmpv6"]

sg_rule_st = st.tuples(
    st.sampled_from(PROTOS), st.sampled_from(PORTS), st.sampled_from(ICMP),
    st.one_of(st.sampled_from([*CIDRS, "0.0.0.0/0", "::/0", "10.0.0.0/8"]).map(lambda c: ("cidr", c)),
              st.sampled_from(["sg-a", "sg-b", "sg-c"]).map(lambda g: ("group", g)),
              st.just(("pl", "pl-1"))),
)
acl_entry_st = st.tuples(RULE_NUMBERS, st.sampled_from(PROTOS), st.sampled_from(PORTS),
                         st.sampled_from(ICMP), st.sampled_from(["allow", "deny"]), st.sampled_from(CIDRS))

ADDRS = ["10.0.1.10", "10.0.1.11", "10.0.2.20", "10.0.2.21", "10.0.1.99", "203.0.113.7", "198.51.100.1",
         "52.0.0.10", "52.0.0.99", "10.0.1.50", "10.0.1.1", "10.0.0.2",
         "2001:db8:0:1::10", "2001:db8:0:2::20", "2001:db8:ffff::1",
         # eni-04 of the IPv6-only subnet-3, and an unused address there
         "2001:db8:0:3::30", "2001:db8:0:3::99",
         # Windows activation (KMS), link-local and multicast (neighbour discovery, MLD).
         "169.254.169.250", "224.0.0.251", "fe80::1", "fe80::a:1", "ff02::1", "ff02::1:ff00:10"]
FLAGS = [2, 18, 16, 24, 17, 4, 20, 1]
# TCP conversations after the first packet, as (from the first packet's receiver?, flags) steps: the
# SYN-ACK and ACK, then FINs in order or crossing, final ACKs, and packets after the close.
_OPEN = [(True, 18), (False, 16)]
CLOSES = [
    [*_OPEN, (False, 17), (True, 17), (False, 16), (True, 16), (False, 24)],  # simultaneous, then data
    [*_OPEN, (False, 17), (True, 17), (False, 16), (False, 16), (True, 16)],  # a repeated final ACK
    [*_OPEN, (False, 17), (True, 16), (True, 17), (False, 16), (True, 24), (False, 2)],  # sequential, late
    [*_OPEN, (True, 17), (False, 17), (True, 16), (False, 24)],  # combined FIN-ACK, data after
    [*_OPEN, (False, 17), (True, 4), (False, 16)],  # reset after a FIN
]


def _sg_tuple(r: tuple) -> tuple:
    proto, ports, icmp, (kind, val) = r
    if proto in ("icmp", "icmpv6"):
        ports = icmp  # a security group's ICMP rule: from_port is the type, to_port the code
    if kind == "cidr":
        return (proto, ports, val)
    if kind == "group":
        return (proto, ports, None, val)
    return (proto, ports, None, None, val)


@st.composite
def world(draw: st.DrawFn) -> tuple:
    b = TopoBuilder()
    b.prefix_lists.append(PrefixList("pl-1", "s3", (__import__("ipaddress").ip_network("203.0.113.0/25"),)))
    b.vpc("vpc-1", "10.0.0.0/16", ipv6="2001:db8::/56",
          routes=(route("internet_gateway", "igw-1", "0.0.0.0/0"), route("internet_gateway", "igw-1", "::/0")))
    b.subnet("subnet-1", "vpc-1", "10.0.1.0/24", ipv6="2001:db8:0:1::/64")
    b.subnet("subnet-2", "vpc-1", "10.0.2.0/24", ipv6="2001:db8:0:2::/64")
    b.subnet("subnet-3", "vpc-1", None, ipv6="2001:db8:0:3::/64")  # IPv6-only
    for g in ("sg-a", "sg-b", "sg-c"):
        ing = draw(st.lists(sg_rule_st, min_size=1, max_size=5))
        eg = draw(st.lists(sg_rule_st, min_size=1, max_size=5))
        b.sg(g, "vpc-1", [_sg_tuple(r) for r in ing], [_sg_tuple(r) for r in eg])
    for sn in ("subnet-1", "subnet-2", "subnet-3"):
        if draw(st.booleans()):
            entries = []
            used: set[tuple[int, bool]] = set()
            for eg in (False, True):
                for num, proto, ports, icmp, action, cidr in draw(st.lists(acl_entry_st, max_size=4)):
                    if (num, eg) in used:
                        continue
                    used.add((num, eg))
                    entries.append(acl_entry(num, eg, proto, action, cidr,
                                             ports=ports if proto in ("tcp", "udp") and ports[0] >= 0 else None,
                                             icmp=icmp if proto in ("icmp", "icmpv6") else None))
            b.acl(f"acl-{sn[-1]}", "vpc-1", entries, (sn,), star=draw(st.booleans()))
    groups = ["sg-a", "sg-b", "sg-c"]
    b.eni("eni-01", "subnet-1", "10.0.1.10", tuple(draw(st.lists(st.sampled_from(groups), max_size=2, unique=True))),
          ipv6=["2001:db8:0:1::10"], secondary=["10.0.1.11"], platform=draw(st.sampled_from(["linux", "windows"])),
          link_local_ipv6=ip("fe80::a:1") if draw(st.booleans()) else None,
          source_dest_check=draw(st.booleans()))
    b.eni("eni-02", "subnet-2", "10.0.2.20", tuple(draw(st.lists(st.sampled_from(groups), min_size=1, max_size=2,
                                                                  unique=True))),
          ipv6=["2001:db8:0:2::20"])
    b.eni("eni-03", "subnet-2", "10.0.2.21", ("sg-c",),
          interface_type=draw(st.sampled_from(["interface", "network_load_balancer", "vpc_endpoint"])))
    b.eni("eni-04", "subnet-3", None, (draw(st.sampled_from(groups)),), ipv6=["2001:db8:0:3::30"])
    if draw(st.booleans()):
        # A NAT gateway for subnet-2's internet traffic (spec 7.6 paths), and a public IP on eni-01.
        b.nat("nat-1", "subnet-1", "eni-nat", "10.0.1.50", "52.0.0.99")
        b.route_table("rtb-2", "vpc-1", [route("nat_gateway", "nat-1", "0.0.0.0/0"),
                                         route("internet_gateway", "igw-1", "::/0")], ("subnet-2",))
    b.enis[0] = __import__("dataclasses").replace(b.enis[0], public_ip=__import__("ipaddress").ip_address("52.0.0.10"),
                                                  nitro=draw(st.booleans()))
    topo = b.build()
    n = draw(st.integers(1, 40))
    pkts = []
    t = 0.0
    for _ in range(n):
        t += draw(st.sampled_from([0.001, 0.5, 5.0, 31.0, 200.0]))
        v6 = draw(st.booleans())
        pool = [a for a in ADDRS if (":" in a) == v6]
        src, dst = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        proto = draw(st.sampled_from(["tcp", "tcp", "udp", "icmp" if not v6 else "icmpv6", 47]))
        sport, dport = draw(st.sampled_from([22, 80, 443, 40000, 67])), draw(st.sampled_from([22, 80, 443, 40000, 68]))
        iface = draw(st.sampled_from([None, None, "eni-01", "eni-02", "eni-04", "eth0"]))
        pkts.append(Pkt(t, src, dst, proto, sport, dport, flags=draw(st.sampled_from(FLAGS)),
                        icmp=draw(st.sampled_from(PACKET_ICMP)), iface=iface,
                        fragment=draw(st.sampled_from([0, 0, 0, 2]))))
        # Often a conversation follows (many packets per flow), so connection tracking has work to do:
        # random flags, or a scripted TCP close (sequential, combined or simultaneous) with late packets.
        close = draw(st.sampled_from([None, None, *CLOSES]))
        first = (src, dst, sport, dport)
        for _ in range(draw(st.integers(0, 8)) if close is None else 0):
            t += draw(st.sampled_from([0.001, 0.001, 40.0]))
            src, dst, sport, dport = dst, src, dport, sport
            pkts.append(Pkt(t, src, dst, proto, sport, dport, flags=draw(st.sampled_from(FLAGS)),
                            icmp=(0, 0), iface=iface))
        for from_server, flags in close or ():
            t += 0.001
            a, b, pa, pb = first
            src, dst, sport, dport = (b, a, pb, pa) if from_server else first
            pkts.append(Pkt(t, src, dst, proto, sport, dport, flags=flags, icmp=(0, 0), iface=iface))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(pkts)), max_size=3))))
    return topo, pkts, cuts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world())
def test_engine_matches_reference(w: tuple) -> None:
    topo, pkts, cuts = w
    timeouts = ConntrackTimeouts(udp_s=30, udp_stream_s=180, icmp_s=30, closed_linger_s=120)
    engine = PolicyEngine(topo, timeouts=timeouts)
    ref = ReferenceEngine(topo, timeouts)
    interfaces = ("eni-01", "eni-02", "eth0", "eni-04")
    bounds = [0, *cuts, len(pkts)]
    got: list[tuple] = []
    want: list[tuple] = []
    for a, b in itertools.pairwise(bounds):
        if a == b:
            continue
        batch = packets(pkts[a:b], interfaces)
        got += [(r[0] + a, *r[1:]) for r in engine_rows(engine, engine.observe(batch))]
        want += [(r[0] + a, *r[1:]) for r in ref.observe(batch)]
    assert got == want
    assert engine.unattributed == ref.unattributed
    assert {k: v for k, v in engine.not_captured.items() if v} == ref.not_captured
