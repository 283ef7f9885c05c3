"""Import from AWS CLI describe-* JSON: same topology as the hand-written file, and every mapping rule."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.aws_import import import_aws, import_aws_with_notes
from vpcflow.model.topology.loader import dump_topology_document, load_topology, loads_topology
from vpcflow.model.topology.model import Topology

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "aws_cli"
SHOP = FIXTURES / "shop"
HANDWRITTEN = FIXTURES / "shop-handwritten.yaml"


def imported(paths: list[Path]) -> Topology:
    return loads_topology(dump_topology_document(import_aws(paths)), source="imported.yaml")


def test_imported_topology_equals_the_handwritten_one() -> None:
    a = dataclasses.replace(imported([SHOP]), source="")
    b = dataclasses.replace(load_topology(HANDWRITTEN), source="")
    # semantic: every resource identical, whatever order the describe output listed them in
    for f in dataclasses.fields(Topology):
        if f.compare and isinstance(getattr(a, f.name), tuple):
            assert sorted(map(repr, getattr(a, f.name))) == sorted(map(repr, getattr(b, f.name))), f.name
    assert a.account_id == b.account_id == "123456789012" and a.region == b.region == "us-west-2"


def test_files_and_folder_give_the_same_document() -> None:
    files = sorted(SHOP.glob("*.json"))
    assert import_aws(files) == import_aws([SHOP])
    # the same item in two files (paginated output, repeated runs) is kept once
    assert import_aws([SHOP, *files]) == import_aws([SHOP])


def test_addresses_public_ip_versus_elastic_ip() -> None:
    t = imported([SHOP])
    web = t.enis_by_id["eni-0b1c2d3e4f5a60001"]
    assert str(web.public_ip) == "35.80.1.2"  # IpOwnerId "amazon", no AllocationId: auto-assigned
    assert [str(a) for a in web.elastic_ips] == ["44.230.5.6"]  # on the secondary private IP
    assert [str(a) for a in web.secondary_private_ip_addresses] == ["10.20.0.11"]
    assert [str(a) for a in web.ipv6_addresses] == ["2600:1f14:abc:de00::a"]
    assert web.instance_id == "i-0c1d2e3f4a5b60001" and ("Name", "web-a") in web.tags
    nlb = t.enis_by_id["eni-0b1c2d3e4f5a60003"]
    assert nlb.interface_type == "network_load_balancer" and nlb.requester_managed and nlb.instance_id is None
    assert nlb.public_ip is None and [str(a) for a in nlb.elastic_ips] == ["52.12.34.56"]


def test_nat_gateway_derived_from_its_interface() -> None:
    doc = import_aws([SHOP])
    assert doc["nat_gateways"] == [
        {
            "id": "nat-0d1e2f3a4b5c60001",
            "subnet": "subnet-0aa11bb22cc33dd01",
            "connectivity": "public",
            "private_ip": "10.20.0.50",
            "public_ip": "52.10.1.1",
            "network_interface": "eni-0b1c2d3e4f5a60005",
        }
    ]


def test_security_group_permissions_become_one_rule_per_peer() -> None:
    doc = import_aws([SHOP])
    web = next(g for g in doc["security_groups"] if g["id"] == "sg-0c0ffee0000000001")
    assert "name" not in web and web["group_name"] == "web-sg"  # no Name tag in the describe output
    assert web["ingress"] == [
        {"protocol": "tcp", "ports": 443, "cidr": "0.0.0.0/0", "description": "HTTPS from anywhere"},
        {"protocol": "tcp", "ports": 443, "ipv6_cidr": "::/0", "description": "HTTPS from anywhere"},
        {"protocol": "icmp", "icmp_type": 8, "icmp_code": -1, "cidr": "10.0.0.0/8"},
        {"protocol": "all", "group": "sg-0c0ffee0000000003", "description": "ops tools over the peering"},
    ]
    app = next(g for g in doc["security_groups"] if g["id"] == "sg-0c0ffee0000000002")
    assert app["name"] == "app-sg" and app["tags"] == {"Team": "checkout"}
    assert app["ingress"][0] == {
        "protocol": "tcp",
        "ports": "8080-8081",
        "group": "sg-0c0ffee0000000001",
        "description": "API from the web tier",
    }
    assert app["egress"][0]["prefix_list"] == "pl-68a54001"
    ops = next(g for g in doc["security_groups"] if g["id"] == "sg-0c0ffee0000000003")
    assert ops["ingress"][1] == {"protocol": 50, "cidr": "10.20.0.0/16"}


def test_network_acl_entries() -> None:
    doc = import_aws([SHOP])
    public = next(a for a in doc["network_acls"] if a["id"] == "acl-0a0a0a0a0a0a00002")
    assert (
        public["name"] == "public-nacl"
        and public["default"] is False
        and public["subnets"] == ["subnet-0aa11bb22cc33dd01"]
    )
    assert [r["rule"] for r in public["ingress"]] == [
        90,
        100,
        110,
        120,
        130,
        140,
    ]  # sorted, `*` (32767) left to the loader
    assert public["ingress"][3] == {
        "rule": 120,
        "protocol": "icmp",
        "action": "allow",
        "cidr": "10.0.0.0/8",
        "icmp_type": 8,
        "icmp_code": -1,
    }
    assert public["ingress"][5]["protocol"] == "udp" and public["ingress"][5]["ports"] == "1024-65535"
    assert public["ingress"][4] == {
        "rule": 130,
        "protocol": "tcp",
        "action": "allow",
        "ipv6_cidr": "::/0",
        "ports": 443,
    }


def test_routes_targets_and_derived_resources() -> None:
    doc = import_aws([SHOP])
    main = next(r for r in doc["route_tables"] if r["id"] == "rtb-0b0b0b0b0b0b00001")
    assert main["main"] is True and main["subnets"] == []
    # local routes are recreated by the loader; the endpoint's route by the endpoint's route_tables
    assert main["routes"] == [
        {"destination": "0.0.0.0/0", "nat_gateway": "nat-0d1e2f3a4b5c60001"},
        {"destination": "10.30.0.0/16", "vpc_peering_connection": "pcx-0a1a2a3a4a5a60001"},
    ]
    assert doc["internet_gateways"] == [{"id": "igw-0f0f0f0f0f0f00001", "vpc": "vpc-0e1d2c3b4a5968778"}]
    assert doc["vpc_endpoints"] == [
        {
            "id": "vpce-0e0e0e0e0e0e00001",
            "vpc": "vpc-0e1d2c3b4a5968778",
            "type": "Gateway",
            "route_tables": ["rtb-0b0b0b0b0b0b00001"],
            "prefix_list": "pl-68a54001",
            "service": "com.amazonaws.us-west-2.s3",
        }
    ]
    t = imported([SHOP])
    routes = t.route_tables_by_id["rtb-0b0b0b0b0b0b00001"].routes
    assert [r.target_kind for r in routes] == [
        "local",
        "local",
        "local",
        "nat_gateway",
        "vpc_peering_connection",
        "gateway_endpoint",
    ]


def test_vpc_cidrs_and_regions() -> None:
    doc = import_aws([SHOP])
    shop = doc["vpcs"][0]
    assert shop["cidr_blocks"] == ["10.20.0.0/16", "10.21.0.0/16"]  # the disassociated 10.22.0.0/16 is not kept
    assert shop["name"] == "shop-vpc" and shop["tags"] == {"Environment": "prod"}
    assert [s["id"] for s in shop["subnets"]] == ["subnet-0aa11bb22cc33dd01", "subnet-0aa11bb22cc33dd02"]
    assert doc["regions"] == [
        {
            "name": "us-west-2",
            "availability_zones": [{"name": "us-west-2a", "id": "usw2-az2"}, {"name": "us-west-2b", "id": "usw2-az1"}],
        }
    ]
    assert doc["vpc_peering_connections"][0] == {
        "name": "shop-ops",
        "id": "pcx-0a1a2a3a4a5a60001",
        "requester_vpc": "vpc-0e1d2c3b4a5968778",
        "requester_owner": "123456789012",
        "requester_region": "us-west-2",
        "accepter_vpc": "vpc-0f1e2d3c4b5a69788",
        "accepter_owner": "123456789012",
        "accepter_region": "us-west-2",
        "status": "active",
    }


def _copy(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "partial"
    folder.mkdir()
    for name in names:
        shutil.copy(SHOP / name, folder / name)
    return folder


def test_missing_outputs_leave_notes(tmp_path: Path) -> None:
    names = ["describe-vpcs.json", "describe-subnets.json", "describe-route-tables.json", "describe-network-interfaces.json",
             "describe-security-groups.json"]  # fmt: skip
    doc, notes = import_aws_with_notes([_copy(tmp_path, names)])
    text = "\n".join(notes)
    assert "pcx-0a1a2a3a4a5a60001 left out" in text  # no describe-vpc-peering-connections
    assert "pl-68a54001: no describe-prefix-lists output" in text
    assert "vpce-0e0e0e0e0e0e00001: its service is unknown" in text
    assert doc["prefix_lists"] == [{"id": "pl-68a54001", "name": "pl-68a54001", "cidrs": []}]
    assert all("vpc_peering_connection" not in r for rt in doc["route_tables"] for r in rt["routes"])
    # without the peering, web-sg's reference to ops-sg (another VPC) is invalid, and loading says so
    with pytest.raises(ConfigError, match="neither this group's VPC nor peered"):
        loads_topology(dump_topology_document(doc))


def test_unknown_file_kind_and_bad_json(tmp_path: Path) -> None:
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"Reservations": []}))
    with pytest.raises(ConfigError) as err:
        import_aws([odd])
    assert str(odd) in str(err.value) and "Reservations" in str(err.value) and "Vpcs" in str(err.value)
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "Vpcs": [\n')
    with pytest.raises(ConfigError) as err2:
        import_aws([bad])
    assert err2.value.location is not None and err2.value.location.startswith(f"{bad}:")
    with pytest.raises(ConfigError):
        import_aws([tmp_path / "missing.json"])


def test_subnet_without_its_vpc_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="describe-vpcs"):
        import_aws([SHOP / "describe-subnets.json"])


def test_next_token_is_ignored_and_optional_outputs_are_read(tmp_path: Path) -> None:
    folder = _copy(tmp_path, [p.name for p in SHOP.glob("*.json")])
    vpcs: dict[str, Any] = json.loads((folder / "describe-vpcs.json").read_text())
    vpcs["NextToken"] = "eyJ2IjoxfQ=="
    (folder / "describe-vpcs.json").write_text(json.dumps(vpcs))
    igw = {
        "InternetGateways": [
            {
                "Attachments": [{"State": "available", "VpcId": "vpc-0e1d2c3b4a5968778"}],
                "InternetGatewayId": "igw-0f0f0f0f0f0f00001",
                "OwnerId": "123456789012",
                "Tags": [{"Key": "Name", "Value": "shop-igw"}],
            }
        ]
    }
    (folder / "describe-internet-gateways.json").write_text(json.dumps(igw))
    doc = import_aws([folder])
    assert doc["internet_gateways"] == [
        {"name": "shop-igw", "id": "igw-0f0f0f0f0f0f00001", "vpc": "vpc-0e1d2c3b4a5968778"}
    ]
    t = loads_topology(dump_topology_document(doc))
    assert t.internet_gateways[0].tags == (("Name", "shop-igw"),)


def test_optional_outputs_agree_with_what_routes_and_enis_imply() -> None:
    """describe-nat-gateways / -vpc-endpoints / -internet-gateways give the same model as the derivation."""
    with_extras = dataclasses.replace(imported([SHOP, FIXTURES / "shop-extras"]), source="")
    derived = dataclasses.replace(imported([SHOP]), source="")
    assert with_extras == derived
    doc = import_aws([SHOP, FIXTURES / "shop-extras"])
    assert [n["id"] for n in doc["nat_gateways"]] == ["nat-0d1e2f3a4b5c60001"]  # the deleted one is left out
