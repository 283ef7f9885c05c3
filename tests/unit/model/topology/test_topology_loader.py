"""Loading topology files: the bundled examples, defaults AWS creates, ids, references, both formats."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from vpcflow.model.topology.document import topology_to_document
from vpcflow.model.topology.loader import (
    dump_topology_document,
    load_topology,
    load_topology_document,
    loads_topology,
    loads_topology_document,
    locate,
)
from vpcflow.model.topology.model import DEFAULT_DENY_RULE_NUMBER, Topology

ROOT = Path(__file__).resolve().parents[4]
THREE_TIER = ROOT / "examples" / "topology" / "three-tier.yaml"
SMALL = ROOT / "examples" / "topology" / "small.json"


def by_name(items: Any, name: str) -> Any:
    found = [x for x in items if ("Name", name) in x.tags]
    assert len(found) == 1, name
    return found[0]


def minimal(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "vpcs": [
            {
                "name": "v",
                "cidr_block": "10.0.0.0/16",
                "subnets": [{"name": "s", "cidr_block": "10.0.1.0/24", "availability_zone": "us-east-1a"}],
            }
        ]
    }
    doc.update(extra)
    return doc


def load(doc: dict[str, Any]) -> Topology:
    return loads_topology(yaml.safe_dump(doc, sort_keys=False), source="t.yaml")


@pytest.fixture(scope="module")
def three_tier() -> Topology:
    return load_topology(THREE_TIER)


def test_three_tier_example_counts(three_tier: Topology) -> None:
    t = three_tier
    assert t.account_id == "123456789012" and t.region == "us-east-1"
    assert len(t.vpcs) == 2 and len(t.subnets) == 10
    # 10 listed interfaces + the NAT gateway's ENI created by the loader
    assert len(t.network_interfaces) == 11
    # 6 listed groups + one `default` group per VPC
    assert len(t.security_groups) == 8
    assert {g.group_name for g in t.security_groups} >= {"lb-sg", "web-sg", "app-sg", "db-sg", "bastion-sg", "default"}
    assert len(t.network_acls) == 4  # 2 listed + a default per VPC
    assert len(t.route_tables) == 4  # 3 listed + app-vpc's main table
    assert t.source == str(THREE_TIER)


def test_three_tier_names_resolve_to_ids(three_tier: Topology) -> None:
    t = three_tier
    web = by_name(t.network_interfaces, "web-1a")
    assert web.network_interface_id == "eni-07ed21d013c48757d"
    assert web.subnet_id == by_name(t.subnets, "web-1a").subnet_id
    web_sg = by_name(t.security_groups, "web-sg")
    lb_sg = by_name(t.security_groups, "lb-sg")
    assert web.groups == (web_sg.group_id,)
    assert {r.referenced_group_id for r in web_sg.ingress if r.from_port in (80, 443)} == {lb_sg.group_id}
    app = by_name(t.network_interfaces, "app-1a")
    assert app.secondary_private_ip_addresses == (ipaddress.IPv4Address("10.0.20.11"),)
    nlb = by_name(t.network_interfaces, "nlb-1a")
    assert nlb.interface_type == "network_load_balancer" and nlb.requester_managed
    assert nlb.elastic_ips == (ipaddress.IPv4Address("54.85.10.21"),)


def test_nat_gateway_eni_is_created_like_aws(three_tier: Topology) -> None:
    nat = three_tier.nat_gateways[0]
    eni = three_tier.enis_by_id[nat.network_interface_id]
    assert eni.network_interface_id == "eni-07e05c36bcdd3f440"
    assert eni.interface_type == "nat_gateway" and eni.requester_managed
    assert eni.description == f"Interface for NAT Gateway {nat.nat_gateway_id}"
    assert eni.groups == () and eni.source_dest_check is False
    assert eni.private_ip_address == nat.private_ip == ipaddress.IPv4Address("10.0.0.50")
    assert eni.elastic_ips == (nat.public_ip,)
    assert ("Name", "nat-1a") in eni.tags


def test_default_acl_takes_every_unclaimed_subnet(three_tier: Topology) -> None:
    t = three_tier
    app_vpc = by_name(t.vpcs, "app-vpc")
    default = [a for a in t.network_acls if a.vpc_id == app_vpc.vpc_id and a.is_default]
    assert len(default) == 1
    names = {dict(t.subnets_by_id[s].tags)["Name"] for s in default[0].subnet_ids}
    assert names == {"web-1a", "web-1b", "app-1a", "app-1b"}
    rules = [
        (e.rule_number, e.egress, e.rule_action, str(e.cidr_block or e.ipv6_cidr_block)) for e in default[0].entries
    ]
    # AWS's default ACL in an IPv6 VPC: 100 (IPv4) and 101 (IPv6) allow, then the `*` deny rules, both ways
    assert rules == [
        (100, False, "allow", "0.0.0.0/0"),
        (101, False, "allow", "::/0"),
        (DEFAULT_DENY_RULE_NUMBER, False, "deny", "0.0.0.0/0"),
        (DEFAULT_DENY_RULE_NUMBER, False, "deny", "::/0"),
        (100, True, "allow", "0.0.0.0/0"),
        (101, True, "allow", "::/0"),
        (DEFAULT_DENY_RULE_NUMBER, True, "deny", "0.0.0.0/0"),
        (DEFAULT_DENY_RULE_NUMBER, True, "deny", "::/0"),
    ]
    assert t.network_acl_for_subnet(by_name(t.subnets, "db-1a").subnet_id) == by_name(t.network_acls, "db-nacl")


def test_custom_acl_rules_sorted_and_star_rule_last(three_tier: Topology) -> None:
    db = by_name(three_tier.network_acls, "db-nacl")
    ingress = [e for e in db.entries if not e.egress]
    assert [e.rule_number for e in ingress] == [50, 100, 110, DEFAULT_DENY_RULE_NUMBER, DEFAULT_DENY_RULE_NUMBER]
    assert ingress[0].rule_action == "deny" and ingress[1].port_from == ingress[1].port_to == 5432


def test_routes_local_first_and_endpoint_route_added(three_tier: Topology) -> None:
    t = three_tier
    private = by_name(t.route_tables, "private-rt")
    kinds = [r.target_kind for r in private.routes]
    assert kinds[:2] == ["local", "local"]
    assert kinds[2:] == ["nat_gateway", "vpc_peering_connection", "gateway_endpoint"]
    endpoint = private.routes[-1]
    assert endpoint.destination_prefix_list_id == "pl-63a5400a" and endpoint.target_id == "vpce-0ff2c25424cca0660"
    app_vpc = by_name(t.vpcs, "app-vpc")
    main = [rt for rt in t.route_tables if rt.vpc_id == app_vpc.vpc_id and rt.main]
    assert len(main) == 1 and all(r.target_kind == "local" for r in main[0].routes)
    shared_1a = by_name(t.subnets, "shared-1a")
    assert t.route_table_for_subnet(shared_1a.subnet_id) == by_name(t.route_tables, "shared-rt")


def test_iam_kept_raw_and_locatable() -> None:
    loaded = load_topology_document(THREE_TIER)
    iam = loaded.topology.iam
    assert [u["name"] for u in iam["users"]] == ["alice", "bob"]
    assert [r["name"] for r in iam["roles"]] == ["flow-logs-delivery", "untrusted-delivery"]
    lines = THREE_TIER.read_text().splitlines()
    where = loaded.locate("iam.roles[1].trust_policy")
    file, line = where.rsplit(":", 1)
    assert file == str(THREE_TIER) and "trust_policy" in lines[int(line) - 1]
    # a key that does not exist falls back to its closest ancestor
    assert locate(loaded.source_map, "iam.roles[1].nothing_here") == where.rsplit(":", 1)[0] + ":" + str(
        loaded.source_map.line_of(("iam", "roles", 1, "nothing_here"))
    )
    assert (
        "name: untrusted-delivery" in lines[int(locate(loaded.source_map, ("iam", "roles", 1)).rsplit(":", 1)[1]) - 1]
    )


def test_small_json_example_loads() -> None:
    t = load_topology(SMALL)
    assert t.vpcs and t.network_interfaces
    assert t.iam


def test_generated_ids_are_aws_shaped_and_stable() -> None:
    doc = minimal(
        network_interfaces=[{"name": "a", "subnet": "s"}],
        security_groups=[
            {"name": "g", "vpc": "v", "ingress": [{"protocol": "tcp", "ports": 22, "cidr": "10.0.0.0/8"}]}
        ],
        internet_gateways=[{"name": "gw", "vpc": "v"}],
    )
    t1, t2 = load(doc), load(doc)
    assert t1 == dataclasses.replace(t2)
    patterns = {
        "vpc": t1.vpcs[0].vpc_id,
        "subnet": t1.subnets[0].subnet_id,
        "eni": t1.network_interfaces[0].network_interface_id,
        "sg": t1.security_groups[0].group_id,
        "acl": t1.network_acls[0].network_acl_id,
        "rtb": t1.route_tables[0].route_table_id,
        "igw": t1.internet_gateways[0].internet_gateway_id,
        "sgr": t1.security_groups[0].ingress[0].security_group_rule_id,
    }
    for prefix, value in patterns.items():
        assert re.fullmatch(prefix + r"-[0-9a-f]{17}", value), value
    # ids derive from names, not positions: adding a resource leaves the others' ids alone
    doc2 = json.loads(json.dumps(doc))
    doc2["vpcs"].insert(0, {"name": "other", "cidr_block": "10.9.0.0/16"})
    t3 = load(doc2)
    assert by_name(t3.vpcs, "v").vpc_id == t1.vpcs[0].vpc_id
    assert by_name(t3.network_interfaces, "a").network_interface_id == t1.network_interfaces[0].network_interface_id


def test_reference_by_id_equals_reference_by_name() -> None:
    by_names = load(minimal(network_interfaces=[{"name": "a", "subnet": "s", "private_ip": "10.0.1.9"}]))
    subnet_id = by_names.subnets[0].subnet_id
    by_ids = load(minimal(network_interfaces=[{"name": "a", "subnet": subnet_id, "private_ip": "10.0.1.9"}]))
    assert by_ids.network_interfaces == by_names.network_interfaces


def test_omitted_private_ips_get_the_lowest_free_address() -> None:
    t = load(
        minimal(
            network_interfaces=[
                {"name": "a", "subnet": "s"},
                {"name": "b", "subnet": "s", "private_ip": "10.0.1.5"},
                {"name": "c", "subnet": "s"},
            ]
        )
    )
    ips = {dict(e.tags)["Name"]: str(e.private_ip_address) for e in t.network_interfaces}
    # base+0..3 are reserved; explicit addresses are claimed before any allocation
    assert ips == {"a": "10.0.1.4", "b": "10.0.1.5", "c": "10.0.1.6"}


def test_default_security_group_and_default_egress() -> None:
    t = load(
        minimal(
            network_interfaces=[
                {"name": "plain", "subnet": "s"},
                {"name": "lb", "subnet": "s", "type": "network_load_balancer"},
            ],
            security_groups=[
                {"name": "open-out", "vpc": "v"},
                {"name": "closed-out", "vpc": "v", "egress": []},
            ],
        )
    )
    default = [g for g in t.security_groups if g.group_name == "default"]
    assert len(default) == 1
    assert default[0].ingress[0].referenced_group_id == default[0].group_id
    assert by_name(t.network_interfaces, "plain").groups == (default[0].group_id,)
    assert by_name(t.network_interfaces, "lb").groups == ()
    open_out = by_name(t.security_groups, "open-out")
    assert [(r.ip_protocol, str(r.cidr_ipv4)) for r in open_out.egress] == [(-1, "0.0.0.0/0")]
    assert by_name(t.security_groups, "closed-out").egress == ()


def test_protocol_and_port_spellings() -> None:
    rules = [
        {"protocol": "tcp", "ports": 443, "cidr": "0.0.0.0/0"},
        {"protocol": 6, "ports": "1024-65535", "cidr": "10.0.0.0/8"},
        {"protocol": "udp", "from_port": 53, "to_port": 53, "cidr": "10.0.0.0/8"},
        {"protocol": "-1", "cidr": "192.168.0.0/16"},
        {"protocol": "icmp", "icmp_type": 8, "icmp_code": 0, "cidr": "10.0.0.0/8"},
        {"protocol": "50", "cidr": "10.0.0.0/8"},
        {"protocol": "tcp", "cidr": "172.16.0.0/12"},
    ]
    t = load(minimal(security_groups=[{"name": "g", "vpc": "v", "ingress": rules}]))
    got = [(r.ip_protocol, r.from_port, r.to_port) for r in by_name(t.security_groups, "g").ingress]
    assert got == [(6, 443, 443), (6, 1024, 65535), (17, 53, 53), (-1, -1, -1), (1, 8, 0), (50, -1, -1), (6, 0, 65535)]


def test_one_rule_per_peer() -> None:
    rule = {"protocol": "tcp", "ports": 22, "cidr": ["10.0.0.0/8", "192.168.0.0/16"], "ipv6_cidr": "::/0", "group": "g"}
    t = load(
        minimal(
            vpcs=[{**minimal()["vpcs"][0], "ipv6_cidr_blocks": ["2600:1f18::/56"]}],
            security_groups=[{"name": "g", "vpc": "v", "ingress": [rule]}],
        )
    )
    g = by_name(t.security_groups, "g")
    assert len(g.ingress) == 4
    assert [r.referenced_group_id for r in g.ingress].count(g.group_id) == 1
    assert len({r.security_group_rule_id for r in g.ingress}) == 4
    # a VPC with IPv6 adds ::/0 to the default egress rule
    assert {str(r.cidr_ipv4 or r.cidr_ipv6) for r in g.egress} == {"0.0.0.0/0", "::/0"}


def test_yaml_and_json_give_the_same_topology(tmp_path: Path) -> None:
    doc = yaml.safe_load(THREE_TIER.read_text())
    (tmp_path / "t.json").write_text(json.dumps(doc, indent=2))
    from_json = load_topology(tmp_path / "t.json")
    from_yaml = load_topology(THREE_TIER)
    assert dataclasses.replace(from_json, source="") == dataclasses.replace(from_yaml, source="")


def test_document_round_trip_is_exact(three_tier: Topology, tmp_path: Path) -> None:
    doc = topology_to_document(three_tier)
    out = tmp_path / "normal.yaml"
    dump_topology_document(doc, out)
    again = load_topology(out)
    assert dataclasses.replace(again, source="") == dataclasses.replace(three_tier, source="")
    # the normal form is stable: writing it again changes nothing
    assert topology_to_document(again) == doc


def test_unquoted_account_id_and_yaml_merge_keys() -> None:
    text = """
account_id: 210987654321
defaults: &tier {vpc: v}
vpcs: [{name: v, cidr_block: 10.0.0.0/16}]
security_groups:
  - {<<: *tier, name: g}
"""
    # `defaults` is not a topology key: reported, with a suggestion-free message
    with pytest.raises(Exception) as err:
        loads_topology(text, source="m.yaml")
    assert "unknown key 'defaults'" in str(err.value)
    t = loads_topology(
        text.replace("defaults: &tier {vpc: v}\n", "").replace("<<: *tier, ", "vpc: v, "), source="m.yaml"
    )
    assert t.account_id == "210987654321" and t.vpcs[0].owner_id == "210987654321"


def test_loading_260_interfaces_with_shared_rules() -> None:
    """A larger network loads whole (its speed is measured in benchmarks/, never asserted here)."""
    subnets = [{"name": f"s{i}", "cidr_block": f"10.0.{i}.0/24", "availability_zone": "us-east-1a"} for i in range(20)]
    enis = [
        {
            "name": f"e{i}",
            "subnet": f"s{i % 20}",
            "private_ip": f"10.0.{i % 20}.{10 + i // 20}",
            "security_groups": ["g"],
        }
        for i in range(260)
    ]
    rules = [{"protocol": "tcp", "ports": 1000 + i, "cidr": "10.0.0.0/8"} for i in range(60)]
    doc = {
        "vpcs": [{"name": "v", "cidr_block": "10.0.0.0/16", "subnets": subnets}],
        "network_interfaces": enis,
        "security_groups": [{"name": "g", "vpc": "v", "ingress": rules}],
    }
    t = loads_topology(yaml.safe_dump(doc))
    assert len(t.network_interfaces) == 260
    assert len(t.security_groups_by_id[t.network_interfaces[0].groups[0]].ingress) == 60
    assert len({e.private_ip_address for e in t.network_interfaces}) == 260


def test_loaded_document_keeps_raw_data() -> None:
    loaded = loads_topology_document(yaml.safe_dump(minimal()), source="x.yaml")
    assert loaded.document["vpcs"][0]["name"] == "v"
    assert loaded.locate("vpcs[0].subnets[0].cidr_block").startswith("x.yaml:")


EVERYTHING = """\
account_id: "123456789012"
region: us-east-1
accounts:
  - {account_id: "123456789012", name: main}
  - {account_id: "210987654321", name: partner}
vpcs:
  - name: app-vpc
    cidr_blocks: [10.0.0.0/16, 10.50.0.0/16]
    ipv6_cidr_blocks: ["2600:1f18:4a3:6b00::/56"]
    subnets:
      - {name: a, cidr_block: 10.0.1.0/24, availability_zone: us-east-1a, ipv6_cidr_block: "2600:1f18:4a3:6b00::/64"}
      - {name: b, cidr_block: 10.50.1.0/24, availability_zone_id: use1-az2, availability_zone: us-east-1b}
  - {name: partner-vpc, owner: partner, region: eu-west-1, cidr_block: 10.60.0.0/16,
     subnets: [{name: p, cidr_block: 10.60.0.0/24, availability_zone: eu-west-1a}]}
network_interfaces:
  - {name: appliance, subnet: a, source_dest_check: false, nitro: false, ec2_classic: true}
  - {name: sqs-endpoint-1a, subnet: b, type: vpc_endpoint, requester_managed: true}
  - {name: partner-host, subnet: p}
internet_gateways: [{name: main-igw, vpc: app-vpc}]
egress_only_internet_gateways: [{name: v6-out, vpc: app-vpc}]
vpn_gateways: [{name: office-vpn, vpc: app-vpc}]
transit_gateways: [{name: tgw-main, vpcs: [app-vpc]}]
nat_gateways:
  - {name: private-nat, subnet: b, connectivity: private}
vpc_endpoints:
  - {name: sqs, vpc: app-vpc, service: com.amazonaws.us-east-1.sqs, type: Interface, network_interfaces: [sqs-endpoint-1a]}
vpc_peering_connections:
  - {name: to-partner, requester_vpc: app-vpc, accepter_vpc: partner-vpc}
  - {name: to-outside, requester_vpc: app-vpc, accepter_vpc: vpc-0123456789abcdef0, accepter_owner: partner,
     accepter_region: eu-west-2, status: pending-acceptance}
route_tables:
  - name: rt
    vpc: app-vpc
    main: true
    routes:
      - {destination: "::/0", egress_only_internet_gateway: v6-out}
      - {destination: 10.9.0.0/16, target: tgw-main}
      - {destination: 172.16.0.0/12, target: office-vpn}
      - {destination: 192.0.2.0/24, network_interface: appliance, blackhole: true}
      - {destination: 10.60.0.0/16, target: to-partner}
      - {destination: 100.64.0.0/10, nat_gateway: private-nat}
      - {destination: 10.0.0.0/16, target: local}
s3_buckets: [{name: partner-logs, owner: partner, region: eu-west-1}]
log_groups: [{name: /flow/app, owner: main}]
"""


def test_every_documented_feature_loads() -> None:
    t = loads_topology(EVERYTHING, source="everything.yaml")
    assert [a.account_id for a in t.accounts] == ["123456789012", "210987654321"]
    partner = by_name(t.vpcs, "partner-vpc")
    assert partner.owner_id == "210987654321" and partner.region == "eu-west-1"
    assert {r.region_name for r in t.regions} == {"us-east-1", "eu-west-1"}
    appliance = by_name(t.network_interfaces, "appliance")
    assert appliance.source_dest_check is False and appliance.nitro is False and appliance.ec2_classic is True
    assert by_name(t.network_interfaces, "partner-host").owner_id == "210987654321"
    nat = by_name(t.nat_gateways, "private-nat")
    assert nat.connectivity_type == "private" and nat.public_ip is None
    assert str(nat.private_ip) == "10.50.1.5"  # sqs-endpoint-1a took .4 first (ENIs are assigned before NATs)
    sqs = by_name(t.vpc_endpoints, "sqs")
    assert sqs.vpc_endpoint_type == "Interface" and sqs.network_interface_ids == (
        by_name(t.network_interfaces, "sqs-endpoint-1a").network_interface_id,
    )
    outside = by_name(t.vpc_peering_connections, "to-outside")
    assert (outside.accepter_vpc_id, outside.accepter_owner_id, outside.accepter_region, outside.status) == (
        "vpc-0123456789abcdef0", "210987654321", "eu-west-2", "pending-acceptance",
    )  # fmt: skip
    rt = by_name(t.route_tables, "rt")
    kinds = [(r.target_kind, str(r.destination_cidr_block or r.destination_ipv6_cidr_block)) for r in rt.routes]
    assert kinds == [
        ("local", "10.0.0.0/16"),
        ("local", "10.50.0.0/16"),
        ("local", "2600:1f18:4a3:6b00::/56"),
        ("egress_only_internet_gateway", "::/0"),
        ("transit_gateway", "10.9.0.0/16"),
        ("virtual_private_gateway", "172.16.0.0/12"),
        ("blackhole", "192.0.2.0/24"),
        ("vpc_peering_connection", "10.60.0.0/16"),
        ("nat_gateway", "100.64.0.0/10"),
    ]
    assert rt.routes[6].target_id == appliance.network_interface_id
    assert t.transit_gateways[0].vpc_ids == (by_name(t.vpcs, "app-vpc").vpc_id,)
    assert t.buckets_by_name["partner-logs"].owner_id == "210987654321"
    # and the normal form reloads to the same thing
    again = loads_topology(dump_topology_document(topology_to_document(t)), source="everything.yaml")
    assert again == t


def test_yaml_anchors_and_merge_keys_with_overrides() -> None:
    text = """\
vpcs:
  - {name: v, cidr_block: 10.0.0.0/16, subnets: [{name: s, cidr_block: 10.0.1.0/24, availability_zone: us-east-1a}]}
  - {name: w, cidr_block: 10.1.0.0/16, subnets: [{name: s2, cidr_block: 10.1.1.0/24, availability_zone: us-east-1a}]}
security_groups:
  - &web {name: web, vpc: v, ingress: [{protocol: tcp, ports: 443, cidr: 0.0.0.0/0}]}
  - {<<: *web, vpc: w}
"""
    t = loads_topology(text, source="anchors.yaml")
    webs = [g for g in t.security_groups if g.group_name == "web"]
    assert len(webs) == 2 and {g.vpc_id for g in webs} == {v.vpc_id for v in t.vpcs}
    assert all(len(g.ingress) == 1 and g.ingress[0].from_port == 443 for g in webs)


def test_tags_as_a_mapping_or_in_aws_shape() -> None:
    doc = minimal()
    doc["vpcs"][0]["tags"] = [{"Key": "Team", "Value": "net"}, {"Key": "Name", "Value": "v"}]
    t = load(doc)
    assert t.vpcs[0].tags == (("Name", "v"), ("Team", "net"))
    doc["vpcs"][0]["tags"] = {"Team": "net", "Cost": 42}
    assert load(doc).vpcs[0].tags == (("Name", "v"), ("Team", "net"), ("Cost", "42"))
