"""Attribution: observation points, spec 2.6 address rules, NAT gateway records (spec 7.6),
traffic-path (spec 1.5), aws-service (spec 7.8), the capture-interface rule, and every
not-captured category (spec 2.7)."""

from __future__ import annotations

import pytest
from policy_builders import Pkt, TopoBuilder, packets, route, rows

from vpcflow.dataplane.attribute.engine import PolicyEngine, load_ip_ranges, sample_ip_ranges_path
from vpcflow.dataplane.attribute.plan import ServiceLookup
from vpcflow.model.topology.model import PrefixList, VpcPeeringConnection

OPEN = [("all", (-1, -1), "0.0.0.0/0"), ("all", (-1, -1), "::/0")]


def base(**kw: object) -> TopoBuilder:
    b = TopoBuilder()
    b.prefix_lists.append(PrefixList("pl-s3", "com.amazonaws.us-east-1.s3",
                                     (__import__("ipaddress").ip_network("52.95.128.0/21"),)))
    b.vpc("vpc-1", "10.0.0.0/16", ipv6="2001:db8::/56", routes=(
        route("internet_gateway", "igw-1", "0.0.0.0/0"), route("internet_gateway", "igw-1", "::/0"),
        route("gateway_endpoint", "vpce-1", prefix_list="pl-s3"), route("virtual_private_gateway", "vgw-1",
                                                                         "192.168.0.0/16"),
        route("local_gateway", "lgw-1", "172.16.0.0/16"), route("transit_gateway", "tgw-1", "10.50.0.0/16"),
        route("blackhole", "blackhole", "10.60.0.0/16"),
        route("egress_only_internet_gateway", "eigw-1", "2001:db8:aaaa::/48")))
    b.subnet("subnet-pub", "vpc-1", "10.0.0.0/24", ipv6="2001:db8::/64")
    b.subnet("subnet-prv", "vpc-1", "10.0.1.0/24")
    b.sg("sg-open", "vpc-1", ingress=OPEN, egress=OPEN)
    b.eni("eni-web", "subnet-pub", "10.0.0.62", ("sg-open",), secondary=["10.0.0.63"], ipv6=["2001:db8::62"],
          public="52.213.180.42", instance_id="i-01234567890123456", **kw)
    b.eni("eni-app", "subnet-prv", "10.0.1.5", ("sg-open",), instance_id="i-0aaaaaaaaaaaaaaaa")
    return b


def test_secondary_ip_shows_primary_in_dstaddr_but_not_in_pkt_dstaddr() -> None:
    e = PolicyEngine(base().build())
    got = rows(e, e.observe(packets([Pkt(0, "10.0.1.5", "10.0.0.63", "tcp", 40000, 80)])))
    assert got == [
        (0, "eni-app", "egress", "ACCEPT", "10.0.1.5", "10.0.0.63", "10.0.1.5", "10.0.0.63", 1),
        (0, "eni-web", "ingress", "ACCEPT", "10.0.1.5", "10.0.0.62", "10.0.1.5", "10.0.0.63", -1),
    ]


def test_sent_from_secondary_ip_shows_primary_in_srcaddr_of_egress_record() -> None:
    e = PolicyEngine(base().build())
    got = rows(e, e.observe(packets([Pkt(0, "10.0.0.63", "10.0.1.5", "tcp", 80, 40000)])))
    assert got[0][1:8] == ("eni-web", "egress", "ACCEPT", "10.0.0.62", "10.0.1.5", "10.0.0.63", "10.0.1.5")
    # The receiver's ingress record keeps the packet's source (never substituted).
    assert got[1][4] == "10.0.0.63"


def test_public_ip_appears_as_private_ip() -> None:
    e = PolicyEngine(base().build())
    got = rows(e, e.observe(packets([Pkt(0, "198.51.100.9", "52.213.180.42", "tcp", 40000, 443)])))
    assert got == [(0, "eni-web", "ingress", "ACCEPT", "198.51.100.9", "10.0.0.62", "198.51.100.9", "10.0.0.62", -1)]


def test_ipv6_records_keep_ipv6_addresses() -> None:
    e = PolicyEngine(base().build())
    got = rows(e, e.observe(packets([Pkt(0, "2001:db8:1234:a100::1", "2001:db8::62", "tcp", 34892, 22)])))
    assert got == [(0, "eni-web", "ingress", "ACCEPT", "2001:db8:1234:a100::1", "2001:db8::62",
                    "2001:db8:1234:a100::1", "2001:db8::62", -1)]


@pytest.mark.parametrize(
    ("dst", "nitro", "path"),
    [
        ("10.0.1.5", True, 1),  # another resource in the VPC
        ("10.0.1.77", True, 1),  # unmodelled address in the VPC: local route
        ("198.51.100.1", True, 8),  # internet gateway, Nitro
        ("198.51.100.1", False, 2),  # internet gateway, not Nitro
        ("52.95.128.179", True, 7),  # gateway endpoint (prefix-list route), Nitro
        ("52.95.128.179", False, 2),
        ("192.168.3.3", True, 3),  # virtual private gateway
        ("2001:db8:ffff::1", True, 8),  # IPv6 via the internet gateway
        ("2001:db8:aaaa::1", True, 8),  # egress-only internet gateway: as an internet gateway (decided)
        ("2001:db8:aaaa::1", False, 2),
        ("172.16.1.1", True, 6),  # local gateway
        ("10.50.1.1", True, 1),  # transit gateway: its ENI is in the VPC (decided)
        ("10.60.1.1", True, -1),  # blackhole: `-`
        ("52.95.128.1", True, 7),  # the prefix list beats 0.0.0.0/0 (longest prefix)
    ],
)
def test_traffic_path_from_route_table(dst: str, nitro: bool, path: int) -> None:
    e = PolicyEngine(base(nitro=nitro).build())
    src = "2001:db8::62" if ":" in dst else "10.0.0.62"
    got = rows(e, e.observe(packets([Pkt(0, src, dst, "tcp", 40000, 443)])))
    assert got[0][1:3] == ("eni-web", "egress")
    assert got[0][8] == path
    assert all(r[8] == -1 for r in got if r[2] == "ingress")  # ingress: always `-`


def peered(region_b: str) -> PolicyEngine:
    b = TopoBuilder()
    b.vpc("vpc-a", "10.0.0.0/16", routes=(route("vpc_peering_connection", "pcx-1", "10.9.0.0/16"),))
    b.vpc("vpc-b", "10.9.0.0/16", region=region_b, routes=(route("vpc_peering_connection", "pcx-1", "10.0.0.0/16"),))
    b.subnet("subnet-a", "vpc-a", "10.0.0.0/24")
    b.subnet("subnet-b", "vpc-b", "10.9.0.0/24")
    b.sg("sg-a", "vpc-a", ingress=OPEN, egress=OPEN)
    b.sg("sg-b", "vpc-b", ingress=[("tcp", (22, 22), None, "sg-a")], egress=OPEN)
    b.eni("eni-a", "subnet-a", "10.0.0.10", ("sg-a",))
    b.eni("eni-b", "subnet-b", "10.9.0.10", ("sg-b",))
    b.peerings.append(VpcPeeringConnection("pcx-1", "vpc-a", b.account, "us-east-1", "vpc-b", b.account, region_b))
    return PolicyEngine(b.build())


@pytest.mark.parametrize(("region", "path"), [("us-east-1", 4), ("eu-west-1", 5)])
def test_peering_both_vpcs_modelled(region: str, path: int) -> None:
    e = peered(region)
    got = rows(e, e.observe(packets([Pkt(0, "10.0.0.10", "10.9.0.10", "tcp", 40000, 22, flags=2),
                                      Pkt(0.1, "10.9.0.10", "10.0.0.10", "tcp", 22, 40000, flags=18)])))
    assert [(r[1], r[2], r[3], r[8]) for r in got] == [
        ("eni-a", "egress", "ACCEPT", path), ("eni-b", "ingress", "ACCEPT", -1),  # referenced SG across the peering
        ("eni-b", "egress", "ACCEPT", path), ("eni-a", "ingress", "ACCEPT", -1),
    ]


def nat_world() -> PolicyEngine:
    b = TopoBuilder()
    b.vpc("vpc-1", "10.0.0.0/16", default_acl=True)
    b.subnet("subnet-pub", "vpc-1", "10.0.0.0/24")
    b.subnet("subnet-prv", "vpc-1", "10.0.1.0/24")
    b.sg("sg-i", "vpc-1", ingress=[], egress=OPEN)
    b.nat("nat-1", "subnet-pub", "eni-1235b8ca123456789", "10.0.0.220", "198.51.100.200")
    b.eni("eni-1111aaaa2222bbbb3", "subnet-prv", "10.0.1.5", ("sg-i",), instance_id="i-01234567890123456")
    b.route_table("rtb-pub", "vpc-1", [route("internet_gateway", "igw-1", "0.0.0.0/0")], ("subnet-pub",))
    b.route_table("rtb-prv", "vpc-1", [route("nat_gateway", "nat-1", "0.0.0.0/0")], ("subnet-prv",))
    return PolicyEngine(b.build())


def test_nat_gateway_records_spec_7_6() -> None:
    e = nat_world()
    got = rows(e, e.observe(packets([Pkt(0, "10.0.1.5", "203.0.113.5", "tcp", 40000, 443, flags=2),
                                      Pkt(0.1, "203.0.113.5", "10.0.1.5", "tcp", 443, 40000, flags=18)])))
    nat, inst = "eni-1235b8ca123456789", "eni-1111aaaa2222bbbb3"
    # (interface-id, srcaddr, dstaddr, pkt-srcaddr, pkt-dstaddr) exactly as in the spec's sample.
    assert [(r[1], r[4], r[5], r[6], r[7]) for r in got if r[1] == nat] == [
        (nat, "10.0.1.5", "10.0.0.220", "10.0.1.5", "203.0.113.5"),
        (nat, "10.0.0.220", "203.0.113.5", "10.0.0.220", "203.0.113.5"),
        (nat, "203.0.113.5", "10.0.0.220", "203.0.113.5", "10.0.0.220"),
        (nat, "10.0.0.220", "10.0.1.5", "203.0.113.5", "10.0.1.5"),
    ]
    assert [(r[1], r[4], r[5], r[6], r[7]) for r in got if r[1] == inst] == [
        (inst, "10.0.1.5", "203.0.113.5", "10.0.1.5", "203.0.113.5"),
        (inst, "203.0.113.5", "10.0.1.5", "203.0.113.5", "10.0.1.5"),
    ]
    assert all(r[3] == "ACCEPT" for r in got)  # the response is allowed by tracking, no inbound rule
    # traffic-path: instance -> NAT ENI is "same VPC" (1); NAT -> internet gateway is 8.
    assert [r[8] for r in got if r[2] == "egress"] == [1, 8, 1]


def test_capture_interface_counts_only_at_that_eni() -> None:
    e = PolicyEngine(base().build())
    merged = [Pkt(0, "10.0.1.5", "10.0.0.62", "tcp", 40000, 80, iface="eni-app"),
              Pkt(0, "10.0.1.5", "10.0.0.62", "tcp", 40000, 80, iface="eni-web"),
              Pkt(1, "10.0.1.5", "10.0.0.62", "tcp", 40000, 80, iface="eth0")]  # not an ENI id: by address
    got = rows(e, e.observe(packets(merged)))
    assert [(r[0], r[1], r[2]) for r in got] == [
        (0, "eni-app", "egress"), (1, "eni-web", "ingress"),
        (2, "eni-app", "egress"), (2, "eni-web", "ingress"),
    ]


def test_forwarded_packet_on_labelled_eni_shows_primary_ip_spec_2_6() -> None:
    # A forwarding appliance: source/destination check off (with it on, such a packet is a mirror copy).
    e = PolicyEngine(base(source_dest_check=False).build())
    got = rows(e, e.observe(packets([Pkt(0, "198.51.100.1", "10.0.1.99", "tcp", 5, 80, iface="eni-web")])))
    # Source outside the VPC: the appliance sends it on (egress), srcaddr = primary private IP.
    assert got == [(0, "eni-web", "egress", "ACCEPT", "10.0.0.62", "10.0.1.99", "198.51.100.1", "10.0.1.99", 1)]


def test_unattributed_packets_are_counted() -> None:
    e = PolicyEngine(base().build())
    obs = e.observe(packets([Pkt(0, "198.51.100.1", "198.51.100.2", "tcp", 5, 80)] * 3))
    assert len(obs) == 0 and e.unattributed == 3


@pytest.mark.parametrize(
    ("pkt", "category"),
    [
        (Pkt(0, "0.0.0.0", "255.255.255.255", "udp", 68, 67), "dhcp"),
        (Pkt(0, "10.0.0.62", "10.0.0.1", "udp", 68, 67), "dhcp"),
        (Pkt(0, "2001:db8::62", "ff02::1:2", "udp", 546, 547), "dhcp"),
        (Pkt(0, "10.0.0.62", "10.0.0.2", "udp", 5353, 53), "amazon_dns"),
        (Pkt(0, "10.0.0.2", "10.0.0.62", "udp", 53, 5353), "amazon_dns"),
        (Pkt(0, "10.0.0.62", "169.254.169.253", "udp", 5353, 53), "amazon_dns"),
        (Pkt(0, "10.0.0.62", "fd00:ec2::253", "udp", 5353, 53), "amazon_dns"),
        (Pkt(0, "10.0.0.62", "169.254.169.254", "tcp", 40000, 80), "instance_metadata"),
        (Pkt(0, "169.254.169.254", "10.0.0.62", "tcp", 80, 40000), "instance_metadata"),
        (Pkt(0, "10.0.0.62", "169.254.169.123", "udp", 123, 123), "time_sync"),
        (Pkt(0, "10.0.0.62", "169.254.169.250", "tcp", 40000, 1688), "windows_activation"),
        (Pkt(0, "10.0.0.62", "10.0.0.1", "icmp", icmp=(8, 0)), "vpc_router"),
        (Pkt(0, "10.0.0.62", "10.0.1.1", "tcp", 40000, 80), "vpc_router"),
        (Pkt(0, "10.0.0.62", "10.0.1.5", "udp", 40000, 4789), "mirrored"),
        (Pkt(0, "10.0.0.70", "10.0.1.80", "tcp", 40000, 443), "nlb_endpoint"),
        (Pkt(0, "10.0.1.80", "10.0.0.70", "tcp", 443, 40000), "nlb_endpoint"),
    ],
)
def test_not_captured_categories(pkt: Pkt, category: str) -> None:
    b = base(platform="windows")  # license activation is left out for Windows instances only (spec 2.7)
    b.eni("eni-nlb", "subnet-pub", "10.0.0.70", ("sg-open",), interface_type="network_load_balancer")
    b.eni("eni-vpce", "subnet-prv", "10.0.1.80", ("sg-open",), interface_type="vpc_endpoint")
    e = PolicyEngine(b.build())
    obs = e.observe(packets([pkt, pkt]))
    assert len(obs) == 0
    assert e.not_captured[category] == 2
    assert sum(e.not_captured.values()) == 2


def test_nlb_to_instance_is_captured() -> None:
    b = base()
    b.eni("eni-nlb", "subnet-pub", "10.0.0.70", ("sg-open",), interface_type="network_load_balancer")
    e = PolicyEngine(b.build())
    assert len(e.observe(packets([Pkt(0, "10.0.0.70", "10.0.1.5", "tcp", 40000, 80)]))) == 2


def test_aws_service_spec_7_8_from_sample_ip_ranges() -> None:
    b = TopoBuilder(region="ap-southeast-2")
    b.vpc("vpc-1", "10.0.0.0/16", routes=(route("internet_gateway", "igw-1", "0.0.0.0/0"),))
    b.subnet("subnet-a", "vpc-1", "10.0.0.0/24")
    b.sg("sg-open", "vpc-1", ingress=OPEN, egress=OPEN)
    b.eni("eni-1235b8ca123456789", "subnet-a", "10.0.0.71", ("sg-open",))
    e = PolicyEngine(b.build(), ip_ranges=sample_ip_ranges_path())
    obs = e.observe(packets([Pkt(0, "52.95.128.179", "10.0.0.71", "tcp", 80, 34210),
                             Pkt(1, "10.0.0.71", "52.95.128.179", "tcp", 34210, 80)]))
    svc = ["-" if i < 0 else obs.services[i] for i in obs.pkt_src_service] + \
          ["-" if i < 0 else obs.services[i] for i in obs.pkt_dst_service]
    # ingress: pkt-src-aws-service S3, pkt-dst -; egress: pkt-src -, pkt-dst S3 (spec 7.8).
    assert svc == ["S3", "-", "-", "S3"]
    assert list(obs.traffic_path) == [-1, 8]


def test_aws_service_prefers_most_specific_non_amazon_and_only_public() -> None:
    doc = {"prefixes": [
        {"ip_prefix": "52.94.0.0/16", "region": "us-east-1", "service": "AMAZON", "network_border_group": "x"},
        {"ip_prefix": "52.94.0.0/22", "region": "us-east-1", "service": "AMAZON", "network_border_group": "x"},
        {"ip_prefix": "52.94.0.0/20", "region": "us-east-1", "service": "EC2", "network_border_group": "x"},
        {"ip_prefix": "52.94.0.0/22", "region": "us-east-1", "service": "DYNAMODB", "network_border_group": "x"},
        {"ip_prefix": "10.0.0.0/8", "region": "us-east-1", "service": "EC2", "network_border_group": "x"},
    ], "ipv6_prefixes": []}
    lk = ServiceLookup(doc)
    ip = __import__("ipaddress").ip_address
    assert lk.lookup(ip("52.94.1.1")) == "DYNAMODB"
    assert lk.lookup(ip("52.94.8.1")) == "EC2"
    assert lk.lookup(ip("52.94.200.1")) == "AMAZON"
    assert lk.lookup(ip("10.1.1.1")) is None  # private addresses never get a service
    assert lk.lookup(ip("8.8.8.8")) is None
    assert load_ip_ranges(sample_ip_ranges_path()).lookup(ip("2600:1ffa:2000::1")) == "S3"


def test_bad_ip_ranges_file_is_a_config_error(tmp_path: object) -> None:
    from vpcflow.core.errors import ConfigError

    p = __import__("pathlib").Path(str(tmp_path)) / "r.json"
    p.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"r\.json"):
        load_ip_ranges(p)
