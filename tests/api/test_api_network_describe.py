"""The modelled network through the endpoint (issue 12, item 2): EC2's Describe* operations with real
boto3 clients and the AWS CLI v1, equal to the export of the data directory's topology, with ids,
filters, paging, IAM and EC2's errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import REGION, ROOT, THREE_TIER, Endpoint, three_tier_endpoint
from botocore.exceptions import ClientError

from vpcflow.model.topology.aws_export import describe_items
from vpcflow.model.topology.loader import load_topology

OPERATIONS = {
    "describe_vpcs": "Vpcs", "describe_subnets": "Subnets", "describe_network_interfaces": "NetworkInterfaces",
    "describe_security_groups": "SecurityGroups", "describe_security_group_rules": "SecurityGroupRules",
    "describe_network_acls": "NetworkAcls", "describe_route_tables": "RouteTables",
    "describe_vpc_peering_connections": "VpcPeeringConnections",
}
#: three-tier.yaml's bob: flow-log actions only, no ec2:Describe* on the network
BOB = ("AKIAIOSFODNN7BOB0001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYBOBKEY0001")


@pytest.fixture(scope="module")
def ep(tmp_path_factory: Any) -> Iterator[Endpoint]:
    yield from three_tier_endpoint(tmp_path_factory.mktemp("net"))


@pytest.fixture(scope="module")
def topo() -> Any:
    return load_topology(THREE_TIER)


@pytest.mark.parametrize("method", sorted(OPERATIONS))
def test_each_describe_returns_the_topology_as_aws_shapes_it(ep: Endpoint, topo: Any, method: str) -> None:
    key = OPERATIONS[method]
    answer = getattr(ep.client("ec2"), method)()
    expected = describe_items(topo, key)
    assert expected, f"the example topology has no {key}"
    assert answer[key] == expected  # through botocore's serializer and parser: shapes and types intact


def test_ids_and_filters(ep: Endpoint, topo: Any) -> None:
    ec2 = ep.client("ec2")
    sg = topo.security_groups[0]
    got = ec2.describe_security_groups(GroupIds=[sg.group_id])["SecurityGroups"]
    assert [g["GroupId"] for g in got] == [sg.group_id]
    vpc = topo.vpcs[0].vpc_id
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert sorted(s["SubnetId"] for s in subnets) == sorted(s.subnet_id for s in topo.subnets if s.vpc_id == vpc)
    eni = next(e for e in topo.network_interfaces if e.groups)
    by_group = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [eni.groups[0]]}])
    assert eni.network_interface_id in {e["NetworkInterfaceId"] for e in by_group["NetworkInterfaces"]}
    wildcard = ec2.describe_network_interfaces(
        Filters=[{"Name": "private-ip-address", "Values": [str(eni.private_ip_address)[:-1] + "*"]}])
    assert eni.network_interface_id in {e["NetworkInterfaceId"] for e in wildcard["NetworkInterfaces"]}
    named = next(v for v in topo.vpcs if any(k == "Name" for k, _ in v.tags))
    name = dict(named.tags)["Name"]
    tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
    assert [v["VpcId"] for v in tagged] == [named.vpc_id]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg.group_id]}])
    assert {r["SecurityGroupRuleId"] for r in rules["SecurityGroupRules"]} == {
        r.security_group_rule_id for r in (*sg.ingress, *sg.egress)}
    main_rt = ec2.describe_route_tables(Filters=[{"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert {rt["RouteTableId"] for rt in main_rt} == {rt.route_table_id for rt in topo.route_tables if rt.main}


def test_unknown_ids_and_filters_are_ec2s_errors(ep: Endpoint) -> None:
    ec2 = ep.client("ec2")
    with pytest.raises(ClientError) as e:
        ec2.describe_vpcs(VpcIds=["vpc-0000000000000dead"])
    assert e.value.response["Error"] == {"Code": "InvalidVpcID.NotFound",
                                         "Message": "The vpc ID 'vpc-0000000000000dead' does not exist"}
    with pytest.raises(ClientError) as e:
        ec2.describe_security_groups(GroupIds=["sg-0000000000000dead"])
    assert e.value.response["Error"]["Code"] == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.describe_subnets(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert e.value.response["Error"] == {"Code": "InvalidParameterValue",
                                         "Message": "The filter 'no-such-filter' is invalid"}


def test_paging_with_boto3s_paginator(ep: Endpoint, topo: Any) -> None:
    ec2 = ep.client("ec2")
    pages = list(ec2.get_paginator("describe_security_group_rules").paginate(PaginationConfig={"PageSize": 5}))
    assert len(pages) > 1 and all(len(p["SecurityGroupRules"]) <= 5 for p in pages)
    ids = [r["SecurityGroupRuleId"] for p in pages for r in p["SecurityGroupRules"]]
    assert ids == [r["SecurityGroupRuleId"] for r in describe_items(topo, "SecurityGroupRules")]
    first = ec2.describe_subnets(MaxResults=5)
    with pytest.raises(ClientError) as e:  # a token belongs to its own query
        ec2.describe_vpcs(MaxResults=5, NextToken=first["NextToken"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_describe_needs_the_describe_permission(ep: Endpoint) -> None:
    with pytest.raises(ClientError) as e:
        ep.client("ec2", BOB).describe_vpcs()
    assert e.value.response["Error"]["Code"] == "UnauthorizedOperation"
    with pytest.raises(ClientError) as e:
        ep.client("ec2").describe_vpcs(DryRun=True)
    assert e.value.response["Error"]["Code"] == "DryRunOperation"


def test_aws_cli_describe_security_groups(ep: Endpoint, topo: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ROOT[0], AWS_SECRET_ACCESS_KEY=ROOT[1], AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1")
    out = subprocess.run(
        [sys.executable, "-m", "awscli", "ec2", "describe-security-groups", "--endpoint-url", ep.url,
         "--output", "json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["SecurityGroups"] == describe_items(topo, "SecurityGroups")
