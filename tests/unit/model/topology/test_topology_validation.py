"""Validation: every problem is reported, together, each with file:line and key path."""

from __future__ import annotations

import json
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.document import topology_to_document
from vpcflow.model.topology.loader import dump_topology_document, loads_topology
from vpcflow.model.topology.problems import Problem, TopologyError

BASE = """\
vpcs:
  - name: web-vpc
    cidr_block: 10.0.0.0/16
    ipv6_cidr_blocks: ["2600:1f18:1::/56"]
    subnets:
      - {name: web-a, cidr_block: 10.0.1.0/24, availability_zone: us-east-1a, ipv6_cidr_block: "2600:1f18:1::/64"}
      - {name: web-b, cidr_block: 10.0.2.0/24, availability_zone: us-east-1b}
  - name: other-vpc
    cidr_block: 10.1.0.0/16
    subnets:
      - {name: other-a, cidr_block: 10.1.1.0/24, availability_zone: us-east-1a}
security_groups:
  - {name: web-sg, vpc: web-vpc}
  - {name: other-sg, vpc: other-vpc}
"""


def problems_of(extra: str, base: str = BASE, fmt: str = "yaml") -> list[Problem]:
    """Problems of ``base`` + ``extra`` (dedented; a leading ``+`` keeps it as written)."""
    text = base + (extra[1:] if extra.startswith("+") else textwrap.dedent(extra))
    with pytest.raises(TopologyError) as err:
        loads_topology(text, source="net.yaml", fmt=fmt)
    return list(err.value.problems)


def line_of(text: str, marker: str) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if marker in line]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def only(extra: str, base: str = BASE) -> Problem:
    found = problems_of(extra, base)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_base_is_valid() -> None:
    t = loads_topology(BASE, source="net.yaml")
    assert len(t.subnets) == 3


def test_unknown_key_names_the_closest_valid_one() -> None:
    p = only("""\
    network_interfaces:
      - {name: e, subnet: web-a, private_ip: 10.0.1.10, securty_groups: [web-sg]}
    """)
    assert p.key_path == "network_interfaces[0].securty_groups"
    assert "unknown key 'securty_groups'" in p.message and "did you mean 'security_groups'" in p.message
    assert p.location == f"net.yaml:{line_of(BASE + 'network_interfaces:', 'network_interfaces:') + 1}"


def test_unknown_top_level_key() -> None:
    p = only("network_acl: []\n")
    assert p.key_path == "network_acl" and "did you mean 'network_acls'" in p.message
    assert p.location == f"net.yaml:{len(BASE.splitlines()) + 1}"


def test_unknown_reference_suggests_a_name() -> None:
    p = only("""\
    network_interfaces:
      - {name: e, subnet: web-c, private_ip: 10.0.1.10}
    """)
    assert p.key_path == "network_interfaces[0].subnet"
    assert "unknown subnet 'web-c'" in p.message and "did you mean" in p.message


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    extra = """\
    network_interfaces:
      - {name: e1, subnet: web-a, private_ip: 10.0.2.10}
      - {name: e2, subnet: web-a, private_ip: 10.0.1.255}
      - {name: e3, subnet: nowhere}
    network_acls:
      - name: n
        vpc: web-vpc
        ingress:
          - {rule: 0, protocol: tcp, ports: 80, action: allow, cidr: 0.0.0.0/0}
    """
    found = problems_of(extra)
    assert [p.key_path for p in found] == [
        "network_interfaces[0].private_ip",
        "network_interfaces[1].private_ip",
        "network_interfaces[2].subnet",
        "network_acls[0].ingress[0].rule",
    ]
    lines = [int(p.location.rsplit(":", 1)[1]) for p in found]
    assert lines == sorted(lines) and len(set(lines)) == 4
    with pytest.raises(ConfigError) as err:
        loads_topology(BASE + textwrap.dedent(extra), source="net.yaml")
    message = str(err.value)
    assert message.startswith("4 problems in topology net.yaml:")
    assert all(str(p) in message for p in found)


@pytest.mark.parametrize(
    ("ip", "why"),
    [
        ("10.0.1.0", "reserves"),  # network address
        ("10.0.1.1", "reserves"),  # VPC router
        ("10.0.1.2", "reserves"),  # Amazon DNS
        ("10.0.1.3", "reserves"),  # reserved for future use
        ("10.0.1.255", "reserves"),  # broadcast
        ("10.0.9.9", "outside subnet"),
        ("10.0.1", "not a valid IP address"),
        ("2600:1f18:1::5", "IPv6 address; IPv4 expected"),
    ],
)
def test_private_address_checks(ip: str, why: str) -> None:
    p = only(f"""\
    network_interfaces:
      - {{name: e, subnet: web-a, private_ip: "{ip}"}}
    """)
    assert p.key_path == "network_interfaces[0].private_ip" and why in p.message


def test_duplicate_addresses_within_a_vpc_but_not_across_vpcs() -> None:
    p = only("""\
    network_interfaces:
      - {name: e1, subnet: web-a, private_ip: 10.0.1.10}
      - {name: e2, subnet: web-a, secondary_private_ips: [10.0.1.10]}
    """)
    assert p.key_path == "network_interfaces[1].secondary_private_ips[0]"
    assert "already used in" in p.message and "network_interfaces[0].private_ip" in p.message
    base = BASE.replace("cidr_block: 10.1.0.0/16", "cidr_block: 10.0.0.0/16").replace("10.1.1.0/24", "10.0.1.0/24")
    t = loads_topology(
        base
        + "network_interfaces:\n  - {subnet: web-a, private_ip: 10.0.1.10}\n  - {subnet: other-a, private_ip: 10.0.1.10}\n"
    )
    assert len(t.network_interfaces) == 2  # unpeered VPCs may reuse CIDRs and addresses


def test_ipv6_and_public_address_checks() -> None:
    found = problems_of("""\
    network_interfaces:
      - {name: e1, subnet: web-b, ipv6_addresses: ["2600:1f18:1::9"]}
      - {name: e2, subnet: web-a, public_ip: 10.9.9.9}
      - {name: e3, subnet: web-a, elastic_ips: [54.1.1.1]}
      - {name: e4, subnet: web-a, elastic_ips: [54.1.1.1]}
    """)
    assert [p.key_path for p in found] == [
        "network_interfaces[0].ipv6_addresses[0]",
        "network_interfaces[1].public_ip",
        "network_interfaces[3].elastic_ips[0]",
    ]
    assert "outside subnet" in found[0].message and "not a public address" in found[1].message
    assert "already used" in found[2].message


def test_subnet_outside_vpc_and_overlapping_subnets() -> None:
    base = BASE.replace(
        "      - {name: web-b, cidr_block: 10.0.2.0/24, availability_zone: us-east-1b}\n",
        "      - {name: web-b, cidr_block: 10.0.2.0/24, availability_zone: us-east-1b}\n"
        "      - {name: web-c, cidr_block: 10.0.0.0/22, availability_zone: us-east-1b}\n"
        "      - {name: web-d, cidr_block: 10.2.0.0/24, availability_zone: us-east-1b}\n",
    )
    found = problems_of("", base)
    by_path = {p.key_path: p.message for p in found}
    assert "outside the VPC's CIDR blocks" in by_path["vpcs[0].subnets[3].cidr_block"]
    overlaps = [p for p in found if "overlaps" in p.message]
    assert len(overlaps) == 2  # web-a and web-b each overlap web-c
    assert all("10.0.0.0/22" in p.message for p in overlaps)


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        ("10.0.0.0/33", "not a valid CIDR"),
        ("10.0.1.5/24", "host bits set (did you mean 10.0.1.0/24?)"),
        ("10.0.0.0", "no prefix length"),
        ("10.0.0.0/29", "between /16 and /28"),
        ("banana", "not a valid CIDR"),
    ],
)
def test_bad_subnet_cidrs(cidr: str, why: str) -> None:
    p = only("", BASE.replace("cidr_block: 10.0.2.0/24", f"cidr_block: {cidr}"))
    assert p.key_path == "vpcs[0].subnets[1].cidr_block" and why in p.message


def test_vpc_cidr_rules() -> None:
    found = problems_of(
        "", BASE.replace("cidr_block: 10.1.0.0/16", "cidr_blocks: [10.1.0.0/16, 10.1.128.0/17, 169.254.0.0/16]")
    )
    assert [p.key_path for p in found] == ["vpcs[1].cidr_blocks[1]", "vpcs[1].cidr_blocks[2]"]
    assert "overlaps another CIDR block" in found[0].message and "reserved range" in found[1].message


def test_duplicate_ids() -> None:
    p = only("""\
    network_interfaces:
      - {id: eni-0123456789abcdef0, subnet: web-a}
      - {id: eni-0123456789abcdef0, subnet: web-b}
    """)
    assert p.key_path == "network_interfaces[1]" and "duplicate network interface id" in p.message


def test_bad_id_format() -> None:
    p = only("""\
    internet_gateways:
      - {id: igw-main, vpc: web-vpc}
    """)
    assert p.key_path == "internet_gateways[0].id" and "igw- followed by 8 or 17" in p.message


@pytest.mark.parametrize(
    ("rule", "path", "why"),
    [
        ("{protocol: tcpp, ports: 80, cidr: 0.0.0.0/0}", "protocol", "did you mean 'tcp'"),
        ("{protocol: 300, cidr: 0.0.0.0/0}", "protocol", "out of range"),
        ("{protocol: tcp, ports: 70000, cidr: 0.0.0.0/0}", "ports", "out of range"),
        ("{protocol: tcp, ports: 90-80, cidr: 0.0.0.0/0}", "ports", "starts after it ends"),
        ("{protocol: icmp, ports: 80, cidr: 0.0.0.0/0}", "ports", "tcp and udp only"),
        ("{protocol: tcp, icmp_type: 8, ports: 1, cidr: 0.0.0.0/0}", "icmp_type", "icmp and icmpv6 only"),
        ("{protocol: icmp, icmp_code: 3, cidr: 0.0.0.0/0}", "icmp_code", "needs an ICMP type"),
        ("{protocol: tcp, ports: 22}", "", "needs a peer"),
        ("{protocol: tcp, ports: 22, cidr: '::/0'}", "cidr", "use ipv6_cidr"),
        ("{protocol: tcp, ports: 22, group: other-sg}", "", "neither this group's VPC nor peered"),
        ("{protocol: tcp, ports: 22, group: no-such-sg}", "group", "unknown security group"),
    ],
)
def test_security_group_rule_problems(rule: str, path: str, why: str) -> None:
    p = only(f"+  - name: g\n    vpc: web-vpc\n    ingress:\n      - {rule}\n")
    if why.startswith("neither"):
        assert p.key_path == "security_groups[2].ingress"
    else:
        assert p.key_path == ("security_groups[2].ingress[0]" + (f".{path}" if path else ""))
    assert why in p.message


def test_duplicate_security_group_rule() -> None:
    p = only("+  - {name: g, vpc: web-vpc, ingress: [{protocol: tcp, ports: 22, cidr: [10.0.0.0/8, 10.0.0.0/8]}]}\n")
    assert p.key_path == "security_groups[2].ingress[0].cidr[1]" and "InvalidPermission.Duplicate" in p.message


def test_group_references_across_peered_vpcs_are_allowed() -> None:
    t = loads_topology(
        BASE
        + "  - {name: g, vpc: web-vpc, ingress: [{protocol: tcp, ports: 22, group: other-sg}]}\n"
        + "vpc_peering_connections:\n  - {requester_vpc: web-vpc, accepter_vpc: other-vpc}\n"
    )
    g = next(x for x in t.security_groups if x.group_name == "g")
    assert g.ingress[0].referenced_group_id == next(x for x in t.security_groups if x.group_name == "other-sg").group_id


def test_security_group_of_another_vpc_on_an_interface() -> None:
    p = only("""\
    network_interfaces:
      - {subnet: web-a, security_groups: [other-sg]}
    """)
    assert p.key_path == "network_interfaces[0].security_groups[0]" and "belongs to" in p.message


@pytest.mark.parametrize(
    ("rules", "path", "why"),
    [
        ("[{rule: 0, protocol: all, action: allow, cidr: 0.0.0.0/0}]", "ingress[0].rule", "out of range 1..32766"),
        ("[{rule: 32767, protocol: all, action: allow, cidr: 0.0.0.0/0}]", "ingress[0].rule", "out of range 1..32766"),
        (
            "[{rule: 100, protocol: all, action: allow, cidr: 0.0.0.0/0}, {rule: 100, protocol: tcp, action: deny, cidr: 0.0.0.0/0}]",
            "ingress[1].rule",
            "used twice in ingress",
        ),
        ("[{rule: 10, protocol: all, action: permit, cidr: 0.0.0.0/0}]", "ingress[0].action", "allow or deny"),
        ("[{rule: 10, protocol: all, action: allow}]", "ingress[0]", "exactly one of cidr or ipv6_cidr"),
        (
            "[{rule: 10, protocol: tcp, ports: 22, action: allow, cidr: 10.0.0.0/8, ipv6_cidr: '::/0'}]",
            "ingress[0]",
            "exactly one",
        ),
    ],
)
def test_network_acl_rule_problems(rules: str, path: str, why: str) -> None:
    p = only(f"""\
    network_acls:
      - {{name: n, vpc: web-vpc, ingress: {rules}}}
    """)
    assert p.key_path == f"network_acls[0].{path}" and why in p.message


def test_same_rule_number_in_both_directions_is_fine() -> None:
    t = loads_topology(
        BASE
        + "network_acls:\n  - name: n\n    vpc: web-vpc\n"
        + "    ingress: [{rule: 100, protocol: all, action: allow, cidr: 0.0.0.0/0}]\n"
        + "    egress: [{rule: 100, protocol: all, action: allow, cidr: 0.0.0.0/0}]\n"
    )
    assert len(next(a for a in t.network_acls if not a.is_default).entries) == 6


def test_subnet_in_two_acls_and_two_default_acls() -> None:
    found = problems_of("""\
    network_acls:
      - {name: a, vpc: web-vpc, subnets: [web-a]}
      - {name: b, vpc: web-vpc, subnets: [web-a]}
      - {name: c, vpc: web-vpc, default: true}
      - {name: d, vpc: web-vpc, default: true}
    """)
    assert [p.key_path for p in found] == ["network_acls[1].subnets[0]", "network_acls[3].default"]


def test_peering_problems() -> None:
    found = problems_of("""\
    vpc_peering_connections:
      - {requester_vpc: web-vpc, accepter_vpc: web-vpc}
      - {requester_vpc: web-vpc, accepter_vpc: vpc-0123456789abcdef0}
      - {requester_vpc: web-vpc, accepter_vpc: vpc-0123456789abcdef0, accepter_owner: "210987654321"}
      - {requester_vpc: web-vpc, accepter_vpc: othr-vpc}
    """)
    assert [p.key_path for p in found] == [
        "vpc_peering_connections[0].accepter_vpc",
        "vpc_peering_connections[1].accepter_vpc",
        "vpc_peering_connections[3].accepter_vpc",
    ]
    assert "peered with itself" in found[0].message
    assert "not in this topology" in found[1].message
    assert "did you mean 'other-vpc'" in found[2].message


def test_peering_overlapping_vpcs_is_refused() -> None:
    base = BASE.replace("cidr_block: 10.1.0.0/16", "cidr_block: 10.0.0.0/16").replace("10.1.1.0/24", "10.0.1.0/24")
    p = only("vpc_peering_connections:\n  - {requester_vpc: web-vpc, accepter_vpc: other-vpc}\n", base)
    assert "overlapping CIDR blocks" in p.message


def test_route_problems() -> None:
    found = problems_of("""\
    internet_gateways:
      - {name: igw-a, vpc: other-vpc}
    route_tables:
      - name: rt
        vpc: web-vpc
        main: true
        routes:
          - {destination: 0.0.0.0/0, internet_gateway: igw-a}
          - {destination: 10.9.0.0/16, target: nothing}
          - {destination: 10.0.0.0/16, target: local}
          - {destination: 10.8.0.0/16, target: local}
          - {destination: 10.9.0.0/16}
      - {name: rt2, vpc: web-vpc, main: true}
    """)
    assert [p.key_path for p in found] == [
        "route_tables[0].routes[0].internet_gateway",
        "route_tables[0].routes[1].target",
        "route_tables[0].routes[3]",
        "route_tables[0].routes[4]",
        "route_tables[1].main",
    ]
    assert "belongs to" in found[0].message
    assert "names no gateway" in found[1].message
    assert "local route covers a CIDR block" in found[2].message
    assert "exactly one target" in found[3].message
    assert "already has a main route table" in found[4].message


def test_duplicate_route_destination() -> None:
    p = only("""\
    internet_gateways: [{name: gw, vpc: web-vpc}]
    route_tables:
      - {name: rt, vpc: web-vpc, routes: [{destination: 0.0.0.0/0, target: gw}, {destination: 0.0.0.0/0, target: gw}]}
    """)
    assert p.key_path == "route_tables[0].routes[1]" and "RouteAlreadyExists" in p.message


def test_ambiguous_name_outside_a_vpc_scope() -> None:
    base = BASE.replace("name: other-vpc", "name: web-vpc")
    found = problems_of("network_interfaces: [{subnet: web-a}]\n", base)
    # two VPCs share a name: the security groups referring to `web-vpc` are ambiguous
    assert any("ambiguous" in p.message for p in found)


def test_public_nat_gateway_needs_an_address() -> None:
    p = only("nat_gateways:\n  - {name: n, subnet: web-a}\n")
    assert p.key_path == "nat_gateways[0]" and "public_ip" in p.message


def test_duplicate_keys_are_reported() -> None:
    p = only("internet_gateways:\n  - {name: a, vpc: web-vpc, vpc: other-vpc}\n")
    assert p.key_path == "internet_gateways[0].vpc" and "appears twice" in p.message


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ConfigError) as err:
        loads_topology("vpcs:\n  - name: [unclosed\n", source="bad.yaml")
    assert err.value.location is not None and err.value.location.startswith("bad.yaml:")


def test_json_problems_carry_json_lines() -> None:
    doc = {
        "vpcs": [
            {
                "name": "v",
                "cidr_block": "10.0.0.0/16",
                "subnets": [{"name": "s", "cidr_block": "10.0.0.0/24", "availability_zone": "us-east-1a"}],
            }
        ],
        "network_interfaces": [{"name": "e", "subnet": "s", "private_ip": "10.0.0.3"}],
    }
    text = json.dumps(doc, indent=2)
    with pytest.raises(TopologyError) as err:
        loads_topology(text, source="net.json", fmt="json")
    (p,) = err.value.problems
    assert p.key_path == "network_interfaces[0].private_ip"
    assert p.location == f"net.json:{line_of(text, '10.0.0.3')}"
    with pytest.raises(ConfigError) as err2:
        loads_topology('{\n  "vpcs": [\n}', source="broken.json", fmt="json")
    assert err2.value.location == "broken.json:3"


def test_zone_checks() -> None:
    base = "regions:\n  - {name: us-east-1, availability_zones: [{name: us-east-1a, id: use1-az4}]}\n" + BASE
    found = problems_of("", base)
    assert [p.key_path for p in found] == ["vpcs[0].subnets[1].availability_zone"]
    assert "not declared for us-east-1" in found[0].message
    p = only("", BASE.replace("availability_zone: us-east-1b", "availability_zone: eu-west-1b"))
    assert "not a zone of us-east-1" in p.message


def test_auto_zone_ids_follow_the_region_code() -> None:
    t = loads_topology(BASE)
    assert {(z.zone_name, z.zone_id) for r in t.regions for z in r.availability_zones} == {
        ("us-east-1a", "use1-az1"),
        ("us-east-1b", "use1-az2"),
    }


def test_bucket_and_log_group_checks() -> None:
    found = problems_of("""\
    s3_buckets:
      - {name: Bad_Bucket}
      - {name: good-bucket}
      - {name: good-bucket}
    log_groups:
      - {name: /ok, retention_in_days: 31}
    """)
    assert [p.key_path for p in found] == [
        "s3_buckets[0].name",
        "s3_buckets[2].name",
        "log_groups[0].retention_in_days",
    ]


def test_iam_section_top_level_keys() -> None:
    p = only("iam:\n  user: []\n")
    assert p.key_path == "iam.user" and "did you mean 'users'" in p.message


# --- properties: random valid networks load and round-trip; one injected fault is found where it is ---


@st.composite
def networks(draw: st.DrawFn, ipv6_only: bool = False) -> dict[str, object]:
    """1-3 VPCs (10.<v>.0.0/16), 1-4 subnets each (10.<v>.<s>.0/24), 0-6 ENIs per subnet, a group or two.
    ``ipv6_only``: some VPCs get 2600:1f18:<v>::/56 and some of their subnets are IPv6-only
    (2600:1f18:<v>:<s>::/64, no IPv4 block), their interfaces with or without a listed IPv6 address."""
    doc: dict[str, object] = {"vpcs": [], "network_interfaces": [], "security_groups": [], "network_acls": []}
    vpcs: list[dict[str, object]] = []
    for v in range(draw(st.integers(1, 3))):
        subnets = [
            {
                "name": f"s{v}-{s}",
                "cidr_block": f"10.{v}.{s}.0/24",
                "availability_zone": draw(st.sampled_from(["us-east-1a", "us-east-1b"])),
            }
            for s in range(draw(st.integers(1, 4)))
        ]
        vpc: dict[str, object] = {"name": f"v{v}", "cidr_block": f"10.{v}.0.0/16", "subnets": subnets}
        if ipv6_only and draw(st.booleans()):
            vpc["ipv6_cidr_blocks"] = [f"2600:1f18:{v}::/56"]
            for s, subnet in enumerate(subnets):
                if draw(st.booleans()):
                    del subnet["cidr_block"]
                    subnet["ipv6_cidr_block"] = f"2600:1f18:{v}:{s}::/64"
        vpcs.append(vpc)
        groups = []
        for g in range(draw(st.integers(1, 2))):
            rules = [
                draw(
                    st.sampled_from(
                        [
                            {"protocol": "tcp", "ports": draw(st.integers(1, 65535)), "cidr": "0.0.0.0/0"},
                            {"protocol": "udp", "ports": "1024-65535", "cidr": f"10.{v}.0.0/16"},
                            {"protocol": "icmp", "icmp_type": 8, "cidr": "10.0.0.0/8"},
                            {"protocol": "all", "group": f"g{v}-0"},
                        ]
                    )
                )
                for _ in range(draw(st.integers(0, 3)))
            ]
            unique = list({json.dumps(r, sort_keys=True): r for r in rules}.values())
            groups.append({"name": f"g{v}-{g}", "vpc": f"v{v}", "ingress": unique})
        doc["security_groups"].extend(groups)  # type: ignore[attr-defined]
        for s, subnet in enumerate(subnets):
            hosts = draw(st.lists(st.integers(4, 254), max_size=6, unique=True))
            for h in hosts:
                eni: dict[str, object] = {
                    "name": f"e{v}-{s}-{h}",
                    "subnet": subnet["name"],
                    "security_groups": [f"g{v}-0"],
                }
                if draw(st.booleans()):
                    if "cidr_block" in subnet:
                        eni["private_ip"] = f"10.{v}.{s}.{h}"
                    else:
                        eni["ipv6_addresses"] = [f"2600:1f18:{v}:{s}::{h:x}"]
                doc["network_interfaces"].append(eni)  # type: ignore[attr-defined]
        if draw(st.booleans()):
            rule_numbers = draw(st.lists(st.integers(1, 32766), min_size=1, max_size=4, unique=True))
            entries = [
                {"rule": n, "protocol": "tcp", "ports": 443, "action": "allow", "cidr": "0.0.0.0/0"}
                for n in rule_numbers
            ]
            doc["network_acls"].append(
                {"name": f"n{v}", "vpc": f"v{v}", "subnets": [subnets[0]["name"]], "ingress": entries}
            )  # type: ignore[attr-defined]
    doc["vpcs"] = vpcs
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(ipv6_only=True))
def test_random_valid_networks_load_and_round_trip(doc: dict[str, object]) -> None:
    t = loads_topology(json.dumps(doc, indent=1), source="random.json", fmt="json")
    assert len(t.network_interfaces) == len(doc["network_interfaces"])  # type: ignore[arg-type]
    # every address is unique per VPC and never a reserved one; IPv6-only subnets: IPv6 only
    seen = set()
    for e in t.network_interfaces:
        subnet = t.subnets_by_id[e.subnet_id]
        if subnet.cidr_block is None:
            assert e.private_ip_address is None and len(e.ipv6_addresses) == 1
            assert subnet.ipv6_cidr_block is not None and e.primary_address in subnet.ipv6_cidr_block
            assert int(e.primary_address) - int(subnet.ipv6_cidr_block.network_address) >= 4
        else:
            assert e.private_ip_address in subnet.cidr_block
            assert e.private_ip_address not in subnet.reserved_addresses()
        assert (e.vpc_id, e.primary_address) not in seen
        seen.add((e.vpc_id, e.primary_address))
    again = loads_topology(dump_topology_document(topology_to_document(t)), source="random.json")
    assert again == t


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.data())
def test_an_injected_fault_is_reported_at_its_key_path(doc: dict[str, object], data: st.DataObject) -> None:
    enis = doc["network_interfaces"]
    assert isinstance(enis, list)
    fault = data.draw(st.sampled_from(["reserved", "outside", "typo", "unknown-subnet"] if enis else ["typo"]))
    if fault == "typo":
        vpcs = doc["vpcs"]
        assert isinstance(vpcs, list)
        vpcs[0]["cidr_blok"] = "10.0.0.0/16"
        expected, words = "vpcs[0].cidr_blok", "did you mean 'cidr_block'"
    else:
        i = data.draw(st.integers(0, len(enis) - 1))
        subnet_name = enis[i]["subnet"]
        v, s = (int(x) for x in subnet_name[1:].split("-"))
        if fault == "reserved":
            enis[i]["private_ip"] = f"10.{v}.{s}.{data.draw(st.sampled_from([0, 1, 2, 3, 255]))}"
            expected, words = f"network_interfaces[{i}].private_ip", "reserves"
        elif fault == "outside":
            enis[i]["private_ip"] = f"10.{v}.{s + 100}.10"
            expected, words = f"network_interfaces[{i}].private_ip", "outside subnet"
        else:
            enis[i]["subnet"] = "no-such-subnet"
            expected, words = f"network_interfaces[{i}].subnet", "unknown subnet"
    text = json.dumps(doc, indent=1)
    with pytest.raises(TopologyError) as err:
        loads_topology(text, source="random.json", fmt="json")
    matching = [p for p in err.value.problems if p.key_path == expected]
    assert matching and words in matching[0].message
    line = int(matching[0].location.rsplit(":", 1)[1])
    assert expected.rsplit(".", 1)[-1].strip("]").split("[")[0] in text.splitlines()[line - 1]


def test_a_broken_vpc_does_not_cascade_into_unknown_subnets() -> None:
    p = only(
        "network_interfaces:\n  - {subnet: other-a}\n",
        BASE.replace("cidr_block: 10.1.0.0/16", "cidr_block: 10.0.0.0/8"),
    )
    assert p.key_path == "vpcs[1].cidr_block" and "between /16 and /28" in p.message


@pytest.mark.parametrize("ip", ["2600:1f18:1::", "2600:1f18:1::3", "2600:1f18:1:0:ffff:ffff:ffff:ffff"])
def test_reserved_ipv6_addresses(ip: str) -> None:
    p = only(f'network_interfaces:\n  - {{subnet: web-a, ipv6_addresses: ["{ip}"]}}\n')
    assert p.key_path == "network_interfaces[0].ipv6_addresses[0]" and "reserves" in p.message


def test_interfaces_of_one_instance_share_a_zone() -> None:
    p = only("""\
    network_interfaces:
      - {subnet: web-a, instance_id: i-0123456789abcdef0}
      - {subnet: web-b, instance_id: i-0123456789abcdef0}
    """)
    assert p.key_path == "network_interfaces[1].instance_id" and "one availability zone" in p.message


def test_interface_endpoint_interfaces_have_the_endpoint_type() -> None:
    found = problems_of("""\
    network_interfaces:
      - {name: plain, subnet: web-a}
      - {name: ep, subnet: web-a, type: vpc_endpoint, requester_managed: true}
      - {name: far, subnet: other-a, type: vpc_endpoint}
    vpc_endpoints:
      - {vpc: web-vpc, service: com.amazonaws.us-east-1.sqs, type: Interface, network_interfaces: [plain, ep, far]}
    """)
    assert [p.key_path for p in found] == [
        "vpc_endpoints[0].network_interfaces[0]",
        "vpc_endpoints[0].network_interfaces[2]",
    ]
    assert "an Interface endpoint's interfaces have 'vpc_endpoint'" in found[0].message
    assert "not in the endpoint's VPC" in found[1].message


def test_interface_platform_and_link_local_address() -> None:
    t = loads_topology(BASE + textwrap.dedent("""\
    network_interfaces:
      - {name: win, subnet: web-a, platform: windows, link_local_ipv6: "fe80::1:2ff:fe03:405"}
      - {name: lin, subnet: web-a}
    """), source="net.yaml")
    win, lin = t.network_interfaces
    assert (win.platform, str(win.link_local_ipv6)) == ("windows", "fe80::1:2ff:fe03:405")
    assert (lin.platform, lin.link_local_ipv6) == ("linux", None)
    # Both survive a round trip through the document form.
    again = loads_topology(json.dumps(topology_to_document(t)), source="net.json", fmt="json")
    assert again.network_interfaces[0].platform == "windows"
    assert again.network_interfaces[0].link_local_ipv6 == win.link_local_ipv6
    found = problems_of("""\
    network_interfaces:
      - {name: e1, subnet: web-a, platform: macos}
      - {name: e2, subnet: web-a, link_local_ipv6: "2600:1f18:1::9"}
    """)
    assert [p.key_path for p in found] == ["network_interfaces[0].platform", "network_interfaces[1].link_local_ipv6"]
    assert "unknown platform 'macos'" in found[0].message and "not an IPv6 link-local" in found[1].message


V6ONLY = BASE.replace(
    "      - {name: web-b, cidr_block: 10.0.2.0/24, availability_zone: us-east-1b}\n",
    "      - {name: web-b, cidr_block: 10.0.2.0/24, availability_zone: us-east-1b}\n"
    "      - {name: v6, availability_zone: us-east-1a, ipv6_cidr_block: \"2600:1f18:1:1::/64\"}\n",
)


def test_an_ipv6_only_subnet_and_its_interfaces_load_and_round_trip() -> None:
    t = loads_topology(V6ONLY + textwrap.dedent("""\
    network_interfaces:
      - {name: listed, subnet: v6, ipv6_addresses: ["2600:1f18:1:1::20"]}
      - {name: auto, subnet: v6}
    """), source="net.yaml")
    sn = t.subnets_by_id[t.network_interfaces[0].subnet_id]
    assert sn.cidr_block is None and sn.ipv6_native and str(sn.router_address) == "2600:1f18:1:1::1"
    assert sn.reserved_addresses() == ()
    listed, auto = t.network_interfaces
    assert listed.private_ip_address is None and listed.private_ips == ()
    assert str(listed.primary_address) == "2600:1f18:1:1::20"
    assert [str(a) for a in auto.ipv6_addresses] == ["2600:1f18:1:1::4"]  # lowest free, past the reserved four
    again = loads_topology(json.dumps(topology_to_document(t)), source="net.json", fmt="json")
    assert again.subnets == t.subnets and again.network_interfaces == t.network_interfaces


def test_ipv6_only_subnet_problems() -> None:
    found = problems_of("""\
    network_interfaces:
      - {name: e1, subnet: v6, private_ip: 10.0.3.5}
      - {name: e2, subnet: v6, public_ip: 54.1.1.2}
      - {name: e3, subnet: v6, secondary_private_ips: [10.0.3.6]}
    nat_gateways:
      - {name: n, subnet: v6, connectivity: private}
    """, base=V6ONLY)
    assert [p.key_path for p in found] == [
        "network_interfaces[0].private_ip", "network_interfaces[1].public_ip",
        "network_interfaces[2].secondary_private_ips[0]", "nat_gateways[0].private_ip",
    ]
    assert all("IPv6-only" in p.message for p in found)
    # neither block at all is still an error: the IPv4 CIDR is what a subnet needs unless it has IPv6
    p = only("+", base=V6ONLY.replace('      - {name: v6, availability_zone: us-east-1a, ipv6_cidr_block: "2600:1f18:1:1::/64"}',
                                       "      - {name: v6, availability_zone: us-east-1a}"))
    assert p.key_path == "vpcs[0].subnets[2]" and "ipv6_cidr_block alone" in p.message
