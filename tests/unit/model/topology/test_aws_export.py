"""The network as EC2's Describe* API shows it (model/topology/aws_export.py): importing the export again
(`topology import`'s reader) loads to a network whose export is the same, for every bundled topology, and
every item fits botocore's output shapes (no member the service model lacks, types as the model says)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from vpcflow.model.topology.aws_export import KINDS, describe_items
from vpcflow.model.topology.aws_import import import_aws
from vpcflow.model.topology.loader import load_topology, loads_topology

ROOT = Path(__file__).resolve().parents[4]
TOPOLOGIES = [
    ROOT / "examples" / "topology" / "three-tier.yaml",
    ROOT / "examples" / "topology" / "small.json",
    ROOT / "tests" / "fixtures" / "aws_cli" / "shop-handwritten.yaml",
    ROOT / "tests" / "fixtures" / "topology" / "ipv6-only.yaml",  # an IPv6-only subnet and its interfaces
]
#: result key -> (operation, output member holding the list)
OPERATIONS = {
    "Vpcs": "DescribeVpcs", "Subnets": "DescribeSubnets", "NetworkInterfaces": "DescribeNetworkInterfaces",
    "SecurityGroups": "DescribeSecurityGroups", "SecurityGroupRules": "DescribeSecurityGroupRules",
    "NetworkAcls": "DescribeNetworkAcls", "RouteTables": "DescribeRouteTables",
    "VpcPeeringConnections": "DescribeVpcPeeringConnections", "PrefixLists": "DescribePrefixLists",
}


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.name)
def test_importing_the_export_gives_the_same_network(path: Path, tmp_path: Path) -> None:
    topo = load_topology(path)
    for kind in KINDS:
        if kind != "SecurityGroupRules":  # describe-security-groups already carries the rules
            (tmp_path / f"{kind}.json").write_text(json.dumps({kind: describe_items(topo, kind)}))
    again = loads_topology(json.dumps(import_aws([tmp_path])), source="reimported", fmt="json")
    for kind in KINDS:
        assert describe_items(again, kind) == describe_items(topo, kind), kind
    assert describe_items(topo, "SecurityGroupRules")  # every group has rules (the defaults at least)


#: Values the real API returns though the model's enum spells them otherwise: describe-network-interfaces
#: prints "nat_gateway" for a NAT gateway's ENI (the AWS CLI fixtures of tests/fixtures/aws_cli/shop were
#: captured that way), while the enum lists "natGateway".
_REAL_API_VALUES_KINDS = {"nat_gateway"}


class _RealApiValues:
    def __contains__(self, pair: object) -> bool:
        return isinstance(pair, tuple) and pair[0].endswith(".InterfaceType") and pair[1] in _REAL_API_VALUES_KINDS


_REAL_API_VALUES = _RealApiValues()


def _check_shape(value: Any, shape: Any, where: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), where
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: members the service model lacks: {sorted(unknown)}"
        for name, member in value.items():
            _check_shape(member, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _check_shape(item, shape.member, f"{where}[{i}]")
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "string":
        assert isinstance(value, str), where
        if shape.enum and (where, value) not in _REAL_API_VALUES:
            assert value in shape.enum, f"{where}: {value!r} not in {shape.enum}"
    else:
        raise AssertionError(f"{where}: unexpected shape type {kind}")


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.name)
def test_every_item_fits_botocores_output_shape(path: Path) -> None:
    model = botocore.session.get_session().get_service_model("ec2")
    topo = load_topology(path)
    for kind, operation in OPERATIONS.items():
        output = model.operation_model(operation).output_shape
        member = output.members[kind]
        _check_shape(describe_items(topo, kind), member, kind)


def test_an_ipv6_only_subnet_and_interface_export_as_aws_shows_them(tmp_path: Path) -> None:
    topo = load_topology(ROOT / "tests" / "fixtures" / "topology" / "ipv6-only.yaml")
    subnet = next(s for s in describe_items(topo, "Subnets") if s["SubnetId"] == "subnet-0e6e6e6e6e6e6e6e1")
    assert "CidrBlock" not in subnet and subnet["Ipv6Native"] is True
    eni = next(e for e in describe_items(topo, "NetworkInterfaces")
               if e["NetworkInterfaceId"] == "eni-0e6e6e6e6e6e6e6e1")
    assert "PrivateIpAddress" not in eni and eni["PrivateIpAddresses"] == []
    assert eni["Ipv6Addresses"] == [{"Ipv6Address": "2600:1f18:600:aa01::10", "IsPrimaryIpv6": True},
                                    {"Ipv6Address": "2600:1f18:600:aa01::11", "IsPrimaryIpv6": False}]
    # import puts the primary first whatever the order AWS listed them in
    eni["Ipv6Addresses"].reverse()
    for kind in KINDS:
        if kind not in ("SecurityGroupRules", "NetworkInterfaces"):
            (tmp_path / f"{kind}.json").write_text(json.dumps({kind: describe_items(topo, kind)}))
    (tmp_path / "NetworkInterfaces.json").write_text(json.dumps({"NetworkInterfaces": [eni]}))
    again = loads_topology(json.dumps(import_aws([tmp_path])), source="reimported", fmt="json")
    back = again.enis_by_id["eni-0e6e6e6e6e6e6e6e1"]
    assert back.private_ip_address is None and str(back.primary_address) == "2600:1f18:600:aa01::10"
    assert again.subnets_by_id["subnet-0e6e6e6e6e6e6e6e1"].cidr_block is None
