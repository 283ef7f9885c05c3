"""EC2 Describe* ``Filters`` over boto3-shaped items: names per resource, ``tag:`` filters, wildcards.

A filter names a value inside an item by a path (``Groups[].GroupId``); an item matches a filter when
any of its values matches any of the filter's values, and matches the request when it matches every
filter, as EC2 does. Values may use ``*`` and ``?`` wildcards (EC2 accepts them in most string
filters). Booleans compare as ``true``/``false``. An unknown filter name is EC2's
``InvalidParameterValue`` "The filter 'x' is invalid".
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import Any

from vpcflow.core.api_errors import InvalidParameterValueError

_PERMISSION = {
    "protocol": "IpProtocol", "from-port": "FromPort", "to-port": "ToPort", "cidr": "IpRanges[].CidrIp",
    "ipv6-cidr": "Ipv6Ranges[].CidrIpv6", "group-id": "UserIdGroupPairs[].GroupId",
    "prefix-list-id": "PrefixListIds[].PrefixListId",
}

#: Describe* result key -> filter name -> path of its values in an item.
FILTERS: dict[str, dict[str, str]] = {
    "Vpcs": {
        "vpc-id": "VpcId", "cidr": "CidrBlock",
        "cidr-block-association.cidr-block": "CidrBlockAssociationSet[].CidrBlock",
        "cidr-block-association.association-id": "CidrBlockAssociationSet[].AssociationId",
        "cidr-block-association.state": "CidrBlockAssociationSet[].CidrBlockState.State",
        "ipv6-cidr-block-association.ipv6-cidr-block": "Ipv6CidrBlockAssociationSet[].Ipv6CidrBlock",
        "dhcp-options-id": "DhcpOptionsId", "is-default": "IsDefault", "owner-id": "OwnerId", "state": "State",
    },
    "Subnets": {
        "subnet-id": "SubnetId", "vpc-id": "VpcId", "availability-zone": "AvailabilityZone",
        "availability-zone-id": "AvailabilityZoneId", "cidr-block": "CidrBlock", "cidr": "CidrBlock",
        "cidrBlock": "CidrBlock", "default-for-az": "DefaultForAz", "owner-id": "OwnerId", "state": "State",
        "subnet-arn": "SubnetArn", "ipv6-native": "Ipv6Native",
        "ipv6-cidr-block-association.ipv6-cidr-block": "Ipv6CidrBlockAssociationSet[].Ipv6CidrBlock",
        "available-ip-address-count": "AvailableIpAddressCount", "map-public-ip-on-launch": "MapPublicIpOnLaunch",
    },
    "NetworkInterfaces": {
        "network-interface-id": "NetworkInterfaceId", "subnet-id": "SubnetId", "vpc-id": "VpcId",
        "availability-zone": "AvailabilityZone", "group-id": "Groups[].GroupId", "group-name": "Groups[].GroupName",
        "private-ip-address": "PrivateIpAddresses[].PrivateIpAddress",
        "addresses.private-ip-address": "PrivateIpAddresses[].PrivateIpAddress",
        "addresses.primary": "PrivateIpAddresses[].Primary",
        "addresses.association.public-ip": "PrivateIpAddresses[].Association.PublicIp",
        "association.public-ip": "Association.PublicIp", "association.ip-owner-id": "Association.IpOwnerId",
        "attachment.instance-id": "Attachment.InstanceId", "attachment.instance-owner-id": "Attachment.InstanceOwnerId",
        "attachment.attachment-id": "Attachment.AttachmentId", "attachment.status": "Attachment.Status",
        "attachment.device-index": "Attachment.DeviceIndex", "interface-type": "InterfaceType",
        "owner-id": "OwnerId", "requester-managed": "RequesterManaged", "source-dest-check": "SourceDestCheck",
        "status": "Status", "description": "Description", "mac-address": "MacAddress",
        "ipv6-addresses.ipv6-address": "Ipv6Addresses[].Ipv6Address", "private-dns-name": "PrivateDnsName",
    },
    "SecurityGroups": {
        "group-id": "GroupId", "group-name": "GroupName", "vpc-id": "VpcId", "owner-id": "OwnerId",
        "description": "Description",
        **{f"ip-permission.{k}": f"IpPermissions[].{v}" for k, v in _PERMISSION.items()},
        **{f"egress.ip-permission.{k}": f"IpPermissionsEgress[].{v}" for k, v in _PERMISSION.items()},
    },
    "SecurityGroupRules": {"group-id": "GroupId", "security-group-rule-id": "SecurityGroupRuleId"},
    "NetworkAcls": {
        "network-acl-id": "NetworkAclId", "vpc-id": "VpcId", "default": "IsDefault", "owner-id": "OwnerId",
        "association.subnet-id": "Associations[].SubnetId",
        "association.network-acl-id": "Associations[].NetworkAclId",
        "association.association-id": "Associations[].NetworkAclAssociationId",
        "entry.cidr": "Entries[].CidrBlock", "entry.ipv6-cidr": "Entries[].Ipv6CidrBlock",
        "entry.rule-number": "Entries[].RuleNumber", "entry.rule-action": "Entries[].RuleAction",
        "entry.egress": "Entries[].Egress", "entry.protocol": "Entries[].Protocol",
        "entry.port-range.from": "Entries[].PortRange.From", "entry.port-range.to": "Entries[].PortRange.To",
        "entry.icmp.type": "Entries[].IcmpTypeCode.Type", "entry.icmp.code": "Entries[].IcmpTypeCode.Code",
    },
    "RouteTables": {
        "route-table-id": "RouteTableId", "vpc-id": "VpcId", "owner-id": "OwnerId",
        "association.main": "Associations[].Main", "association.subnet-id": "Associations[].SubnetId",
        "association.route-table-association-id": "Associations[].RouteTableAssociationId",
        "association.route-table-id": "Associations[].RouteTableId",
        "route.destination-cidr-block": "Routes[].DestinationCidrBlock",
        "route.destination-ipv6-cidr-block": "Routes[].DestinationIpv6CidrBlock",
        "route.destination-prefix-list-id": "Routes[].DestinationPrefixListId",
        "route.gateway-id": "Routes[].GatewayId", "route.nat-gateway-id": "Routes[].NatGatewayId",
        "route.egress-only-internet-gateway-id": "Routes[].EgressOnlyInternetGatewayId",
        "route.transit-gateway-id": "Routes[].TransitGatewayId",
        "route.vpc-peering-connection-id": "Routes[].VpcPeeringConnectionId",
        "route.network-interface-id": "Routes[].NetworkInterfaceId", "route.origin": "Routes[].Origin",
        "route.state": "Routes[].State",
    },
    "VpcPeeringConnections": {
        "vpc-peering-connection-id": "VpcPeeringConnectionId", "status-code": "Status.Code",
        "status-message": "Status.Message",
        **{f"{side}-vpc-info.{k}": f"{cap}VpcInfo.{v}"
           for side, cap in (("accepter", "Accepter"), ("requester", "Requester"))
           for k, v in (("vpc-id", "VpcId"), ("owner-id", "OwnerId"), ("cidr-block", "CidrBlock"))},
    },
}

_STEP = re.compile(r"([A-Za-z0-9]+)(\[\])?")


def values_at(item: Any, path: str) -> list[str]:
    """Every value at ``path`` (``A.B[].C``) in ``item``, as filter text (booleans ``true``/``false``)."""
    current: list[Any] = [item]
    for step in path.split("."):
        m = _STEP.fullmatch(step)
        if m is None:
            raise ValueError(f"bad filter path {path!r}")
        nxt: list[Any] = []
        for value in current:
            if not isinstance(value, dict) or m.group(1) not in value:
                continue
            found = value[m.group(1)]
            if m.group(2):
                nxt.extend(found if isinstance(found, list) else [])
            else:
                nxt.append(found)
        current = nxt
    return [_text(v) for v in current if v is not None and not isinstance(v, (dict, list))]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tags(item: dict[str, Any]) -> list[dict[str, Any]]:
    tags = item.get("Tags") or item.get("TagSet") or []
    return [t for t in tags if isinstance(t, dict)]


def _filter_values(kind: str, item: dict[str, Any], name: str) -> list[str]:
    if name.startswith("tag:"):
        key = name[4:]
        return [str(t.get("Value", "")) for t in _tags(item) if t.get("Key") == key]
    if name == "tag-key":
        return [str(t.get("Key", "")) for t in _tags(item)]
    if name == "tag-value":
        return [str(t.get("Value", "")) for t in _tags(item)]
    return values_at(item, FILTERS[kind][name])


def check_filters(kind: str, filters: Iterable[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The request's filters as ``(name, values)``, each name known for ``kind``."""
    out = []
    for f in filters:
        name = str(f.get("Name") or "")
        if not (name.startswith("tag:") or name in ("tag-key", "tag-value") or name in FILTERS[kind]):
            raise InvalidParameterValueError(f"The filter '{name}' is invalid")
        out.append((name, [str(v) for v in f.get("Values") or []]))
    return out


def matches(kind: str, item: dict[str, Any], filters: list[tuple[str, list[str]]]) -> bool:
    """Whether ``item`` passes every filter (any of its values matching any of the filter's values)."""
    for name, wanted in filters:
        have = _filter_values(kind, item, name)
        if not any(fnmatch.fnmatchcase(h, w) for h in have for w in wanted):
            return False
    return True
