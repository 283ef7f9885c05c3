"""EC2's Describe* operations for the modelled network, under IAM (issue 12: the fleet's control plane).

``DescribeVpcs``, ``DescribeSubnets``, ``DescribeNetworkInterfaces``, ``DescribeSecurityGroups``,
``DescribeSecurityGroupRules``, ``DescribeNetworkAcls``, ``DescribeRouteTables`` and
``DescribeVpcPeeringConnections`` answer from the data directory's topology in boto3's shapes
(``model.topology.aws_export``), so an agent, boto3 or the AWS CLI reads the network as from AWS.

Per request, as EC2 does: the ids parameter (an unknown id is the resource's ``.NotFound`` error
naming it), ``Filters`` (``describe_filters``), ``MaxResults``/``NextToken`` paging (``NextToken`` is
opaque: the offset and a digest of the query, so a token is refused with another query), ``DryRun``,
and ``ec2:Describe*`` on ``*`` (EC2's Describe actions take no resource-level permissions).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from vpcflow.controlplane.authorization import Authorizer, Check
from vpcflow.controlplane.describe_filters import check_filters, matches
from vpcflow.controlplane.validation import opt_bool
from vpcflow.core.api_errors import InvalidParameterValueError
from vpcflow.core.errors import ApiError
from vpcflow.iam.world import IamWorld
from vpcflow.model.topology.aws_export import describe_items
from vpcflow.model.topology.model import Topology


@dataclass(frozen=True)
class DescribeOp:
    """One Describe* operation: its result key, ids parameter and NotFound error."""

    result_key: str
    ids_param: str | None
    id_key: str
    not_found_code: str
    not_found_noun: str  # EC2's words: "The vpc ID 'vpc-1' does not exist"


OPERATIONS: dict[str, DescribeOp] = {
    "DescribeVpcs": DescribeOp("Vpcs", "VpcIds", "VpcId", "InvalidVpcID.NotFound", "The vpc ID '{}'"),
    "DescribeSubnets": DescribeOp("Subnets", "SubnetIds", "SubnetId", "InvalidSubnetID.NotFound",
                                  "The subnet ID '{}'"),
    "DescribeNetworkInterfaces": DescribeOp("NetworkInterfaces", "NetworkInterfaceIds", "NetworkInterfaceId",
                                            "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '{}'"),
    "DescribeSecurityGroups": DescribeOp("SecurityGroups", "GroupIds", "GroupId", "InvalidGroup.NotFound",
                                         "The security group '{}'"),
    "DescribeSecurityGroupRules": DescribeOp("SecurityGroupRules", "SecurityGroupRuleIds", "SecurityGroupRuleId",
                                             "InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '{}'"),
    "DescribeNetworkAcls": DescribeOp("NetworkAcls", "NetworkAclIds", "NetworkAclId", "InvalidNetworkAclID.NotFound",
                                      "The networkAcl ID '{}'"),
    "DescribeRouteTables": DescribeOp("RouteTables", "RouteTableIds", "RouteTableId", "InvalidRouteTableID.NotFound",
                                      "The routeTable ID '{}'"),
    "DescribeVpcPeeringConnections": DescribeOp("VpcPeeringConnections", "VpcPeeringConnectionIds",
                                                "VpcPeeringConnectionId", "InvalidVpcPeeringConnectionID.NotFound",
                                                "The vpcPeeringConnection ID '{}'"),
}

#: EC2's bounds on MaxResults for these operations (5 to 1000; DescribeSecurityGroupRules 5 to 1000 too).
MIN_RESULTS, MAX_RESULTS = 5, 1000


class NetworkOperations:
    """The Describe* operations, mixed into ``FlowLogService`` (its topology, IAM world and region)."""

    region: str

    def world(self) -> tuple[Topology | None, IamWorld]:  # provided by FlowLogService
        raise NotImplementedError

    def describe_network(self, operation: str, principal: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one Describe* ``operation`` (a key of ``OPERATIONS``) as ``principal``."""
        op = OPERATIONS[operation]
        topo, world = self.world()
        dry_run = opt_bool(params, "DryRun")
        auth = Authorizer(world)
        caller = auth.resolve(principal)
        items = describe_items(topo, op.result_key) if topo is not None else []
        selected = _select_ids(op, items, params.get(op.ids_param) if op.ids_param else None)
        if operation == "DescribeSecurityGroups" and params.get("GroupNames"):
            selected = _select_names(selected, params["GroupNames"])
        filters = check_filters(op.result_key, params.get("Filters") or [])
        auth.require(caller, [Check(f"ec2:{operation}", ("*",), {"ec2:Region": self.region})], dry_run=dry_run)
        found = [item for item in selected if matches(op.result_key, item, filters)]
        page, token = _page(operation, params, found)
        result: dict[str, Any] = {op.result_key: page}
        if token is not None:
            result["NextToken"] = token
        return result

    def describe_vpcs(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self.describe_network("DescribeVpcs", principal, params)

    def describe_subnets(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self.describe_network("DescribeSubnets", principal, params)

    def describe_network_interfaces(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self.describe_network("DescribeNetworkInterfaces", principal, params)

    def describe_security_groups(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self.describe_network("DescribeSecurityGroups", principal, params)

    def describe_security_group_rules(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self.describe_network("DescribeSecurityGroupRules", principal, params)

    def describe_network_acls(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self.describe_network("DescribeNetworkAcls", principal, params)

    def describe_route_tables(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self.describe_network("DescribeRouteTables", principal, params)

    def describe_vpc_peering_connections(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self.describe_network("DescribeVpcPeeringConnections", principal, params)


def _select_ids(op: DescribeOp, items: list[dict[str, Any]], ids: Any) -> list[dict[str, Any]]:
    if not ids:
        return items
    wanted = [str(i) for i in ids]
    by_id = {item[op.id_key]: item for item in items}
    missing = [i for i in wanted if i not in by_id]
    if missing:
        text = op.not_found_noun.format(missing[0]) + " does not exist"
        if len(missing) > 1:
            text = op.not_found_noun.format("', '".join(missing)) + " do not exist"
        raise ApiError(text, code=op.not_found_code)
    return [by_id[i] for i in dict.fromkeys(wanted)]


def _select_names(items: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    present = {item["GroupName"] for item in items}
    missing = [n for n in names if n not in present]
    if missing:
        raise ApiError(f"The security group '{missing[0]}' does not exist", code="InvalidGroup.NotFound")
    return [item for item in items if item["GroupName"] in set(names)]


def _query_digest(operation: str, params: dict[str, Any]) -> str:
    query = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults", "DryRun")}
    text = json.dumps([operation, query], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


Items = list[dict[str, Any]]


def _page(operation: str, params: dict[str, Any], items: Items) -> tuple[Items, str | None]:
    max_results = params.get("MaxResults")
    token = params.get("NextToken")
    start = 0
    digest = _query_digest(operation, params)
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
            start, token_digest = int(decoded["o"]), str(decoded["q"])
        except (ValueError, KeyError, TypeError):
            raise InvalidParameterValueError(f"Invalid value '{token}' for NextToken") from None
        if token_digest != digest or start < 0:
            raise InvalidParameterValueError(f"Invalid value '{token}' for NextToken: it belongs to another query")
    if max_results is None:
        return items[start:], None
    size = int(max_results)
    if not MIN_RESULTS <= size <= MAX_RESULTS:
        raise InvalidParameterValueError(
            f"Value ( {size} ) for parameter maxResults is invalid. Expecting a value between "
            f"{MIN_RESULTS} and {MAX_RESULTS}.")
    end = start + size
    if end >= len(items):
        return items[start:], None
    nxt = base64.urlsafe_b64encode(json.dumps({"o": end, "q": digest}).encode()).decode()
    return items[start:end], nxt
