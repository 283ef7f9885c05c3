"""Authorize/Revoke security-group rules through the endpoint (issue 12, item 2): the stored topology
changes (Describe*, the policy engine and a reload see it), EC2's duplicate/unknown rules, IAM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Endpoint, three_tier_endpoint
from botocore.exceptions import ClientError

from vpcflow.runtime.client import Ec2Client

BOB = ("AKIAIOSFODNN7BOB0001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYBOBKEY0001")  # no ec2:*SecurityGroup* rights
SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}


@pytest.fixture()
def ep(tmp_path: Path) -> Iterator[Endpoint]:
    yield from three_tier_endpoint(tmp_path)


def _group(ec2: Any, name: str) -> dict[str, Any]:
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert len(groups) == 1
    return dict(groups[0])


def _rules(ec2: Any, group_id: str, egress: bool) -> set[tuple[Any, ...]]:
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return {(r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("CidrIpv4"), r.get("ReferencedGroupInfo", {})
             .get("GroupId")) for r in rules["SecurityGroupRules"] if r["IsEgress"] == egress}


def test_authorize_then_revoke_ingress(ep: Endpoint) -> None:
    ec2 = ep.client("ec2")
    web = _group(ec2, "web-sg")
    before = _rules(ec2, web["GroupId"], False)
    added = ec2.authorize_security_group_ingress(
        GroupId=web["GroupId"],
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "198.51.100.0/24", "Description": "office"},
                                            {"CidrIp": "203.0.113.7/32"}]}])
    assert added["Return"] is True
    assert {(r["CidrIpv4"], r.get("Description")) for r in added["SecurityGroupRules"]} == {
        ("198.51.100.0/24", "office"), ("203.0.113.7/32", None)}
    assert _rules(ec2, web["GroupId"], False) == before | {("tcp", 22, 22, "198.51.100.0/24", None),
                                                          ("tcp", 22, 22, "203.0.113.7/32", None)}
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=web["GroupId"],
                                             IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "203.0.113.7/32"}]}])
    assert e.value.response["Error"]["Code"] == "InvalidPermission.Duplicate"
    revoked = ec2.revoke_security_group_ingress(
        GroupId=web["GroupId"],
        IpPermissions=[{**SSH, "IpRanges": [{"CidrIp": "198.51.100.0/24"}, {"CidrIp": "192.0.2.0/24"}]}])
    assert [r["CidrIpv4"] for r in revoked["RevokedSecurityGroupRules"]] == ["198.51.100.0/24"]
    assert revoked["UnknownIpPermissions"][0]["IpRanges"] == [{"CidrIp": "192.0.2.0/24"}]
    by_id = [r["SecurityGroupRuleId"] for r in added["SecurityGroupRules"] if r["CidrIpv4"] == "203.0.113.7/32"]
    ec2.revoke_security_group_ingress(GroupId=web["GroupId"], SecurityGroupRuleIds=by_id)
    assert _rules(ec2, web["GroupId"], False) == before


def test_a_change_reaches_the_policy_engine(ep: Endpoint) -> None:
    """Revoking db-sg's PostgreSQL-from-app rule makes the app tier's connection a REJECT at the database's
    security group; authorizing it again (by content) restores it."""
    from vpcflow.dataplane.explain import explain  # the data plane's view of the stored topology

    ec2 = ep.client("ec2")
    db, app = _group(ec2, "db-sg"), _group(ec2, "app-sg")
    with Ec2Client(ep.data_dir) as c:
        topo = c.service.world()[0]
    assert topo is not None
    db_eni = next(e for e in topo.network_interfaces if db["GroupId"] in e.groups)
    app_eni = next(e for e in topo.network_interfaces if app["GroupId"] in e.groups)

    def decided() -> list[tuple[str, str]]:
        with Ec2Client(ep.data_dir) as c:
            t = c.service.world()[0]
        assert t is not None
        leg = explain(t, src=str(app_eni.private_ip_address), dst=str(db_eni.private_ip_address), protocol=6,
                      sport=40000, dport=5432).request
        return [(o.action, o.decided_by.split(" ")[0]) for o in leg.observations]

    assert [a for a, _ in decided()] == ["ACCEPT", "ACCEPT"]
    postgres = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": app["GroupId"]}]}
    revoked = ec2.revoke_security_group_ingress(GroupId=db["GroupId"], IpPermissions=[postgres])
    assert len(revoked["RevokedSecurityGroupRules"]) == 1 and "UnknownIpPermissions" not in revoked
    assert decided()[-1] == ("REJECT", db["GroupId"])
    ec2.authorize_security_group_ingress(GroupId=db["GroupId"], IpPermissions=[postgres])
    assert [a for a, _ in decided()] == ["ACCEPT", "ACCEPT"]


def test_egress_by_group_name_and_errors(ep: Endpoint) -> None:
    ec2 = ep.client("ec2")
    app = _group(ec2, "app-sg")
    added = ec2.authorize_security_group_egress(
        GroupId=app["GroupId"], IpPermissions=[{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
                                                "UserIdGroupPairs": [{"GroupName": "web-sg"}]}])
    web = _group(ec2, "web-sg")
    assert added["SecurityGroupRules"][0]["ReferencedGroupInfo"]["GroupId"] == web["GroupId"]
    assert added["SecurityGroupRules"][0]["IsEgress"] is True
    with pytest.raises(ClientError) as e:
        ec2.revoke_security_group_egress(GroupId=app["GroupId"], SecurityGroupRuleIds=["sgr-0000000000000dead"])
    assert e.value.response["Error"]["Code"] == "InvalidSecurityGroupRuleId.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId="sg-0000000000000dead", IpPermissions=[
            {**SSH, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert e.value.response["Error"]["Code"] == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=app["GroupId"], IpPermissions=[
            {"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ep.client("ec2", BOB).authorize_security_group_ingress(GroupId=app["GroupId"], IpPermissions=[
            {**SSH, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert e.value.response["Error"]["Code"] == "UnauthorizedOperation"
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=app["GroupId"], DryRun=True, IpPermissions=[
            {**SSH, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert e.value.response["Error"]["Code"] == "DryRunOperation"
    assert ("tcp", 22, 22, "0.0.0.0/0", None) not in _rules(ec2, app["GroupId"], False)
