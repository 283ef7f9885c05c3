"""AuthorizeSecurityGroupIngress/Egress and RevokeSecurityGroupIngress/Egress on the modelled network.

A change rewrites the data directory's topology: the loaded network in normal form
(``topology_to_document``, every id explicit) with the group's rules edited, validated and stored by
``load_topology`` like any topology, so the next run, ``explain`` or agent refresh sees it. Rule ids
derive from rule content, so an authorized rule gets the id a file holding it would give it.

As EC2: one IpPermission with several peers is one rule per peer; authorizing a rule that exists is
``InvalidPermission.Duplicate``; revoking by content answers rules that do not exist in
``UnknownIpPermissions`` (not an error); revoking an unknown ``SecurityGroupRuleIds`` entry is
``InvalidSecurityGroupRuleId.NotFound``. IAM: the action on the group's ARN with ``ec2:Vpc`` and
``ec2:Region``, then ``DryRun``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from typing import Any

from vpcflow.controlplane.authorization import Authorizer, Check, resource_tag_context
from vpcflow.controlplane.validation import opt_bool
from vpcflow.core.api_errors import InvalidParameterValueError, MissingParameterError
from vpcflow.core.errors import ApiError
from vpcflow.iam.world import IamWorld
from vpcflow.model.topology.aws_export import ip_permissions, protocol_text, put_present, security_group_rule
from vpcflow.model.topology.document import sg_rule_document, topology_to_document
from vpcflow.model.topology.model import SecurityGroup, SecurityGroupRule, Topology

_PROTOCOL_NUMBERS = {"-1": -1, "all": -1, "tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}

RuleKey = tuple[int, int, int, str | None, str | None, str | None, str | None]


def rule_key(r: SecurityGroupRule) -> RuleKey:
    """What makes two rules the same rule (the description does not)."""
    return (r.ip_protocol, r.from_port, r.to_port, str(r.cidr_ipv4) if r.cidr_ipv4 else None,
            str(r.cidr_ipv6) if r.cidr_ipv6 else None, r.referenced_group_id, r.prefix_list_id)


class SecurityGroupEdits:
    """Mixed into ``FlowLogService``: its topology, IAM world, region and ``load_topology``."""

    region: str

    def world(self) -> tuple[Topology | None, IamWorld]:  # provided by FlowLogService
        raise NotImplementedError

    def load_topology(self, text: str, *, fmt: str, source: str) -> Topology:  # provided by FlowLogService
        raise NotImplementedError

    def authorize_security_group_ingress(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self._edit("AuthorizeSecurityGroupIngress", False, True, principal, params)

    def authorize_security_group_egress(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self._edit("AuthorizeSecurityGroupEgress", True, True, principal, params)

    def revoke_security_group_ingress(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self._edit("RevokeSecurityGroupIngress", False, False, principal, params)

    def revoke_security_group_egress(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        return self._edit("RevokeSecurityGroupEgress", True, False, principal, params)

    def _edit(self, operation: str, egress: bool, add: bool, principal: str | None,
              params: dict[str, Any]) -> dict[str, Any]:
        topo, world = self.world()
        group = _find_group(topo, params)
        assert topo is not None
        existing = list(group.egress if egress else group.ingress)
        by_id = {r.security_group_rule_id: r for r in existing}
        ids = [str(i) for i in params.get("SecurityGroupRuleIds") or []]
        requested = [] if (ids and not add) else _requested(topo, group, egress, params)
        unknown_ids = [i for i in ids if i not in by_id]
        if unknown_ids:
            raise ApiError(f"The security group rule ID '{unknown_ids[0]}' does not exist",
                           code="InvalidSecurityGroupRuleId.NotFound")
        auth = Authorizer(world)
        vpc_region = topo.vpcs_by_id[group.vpc_id].region if group.vpc_id in topo.vpcs_by_id else self.region
        arn = f"arn:aws:ec2:{vpc_region}:{group.owner_id}:security-group/{group.group_id}"
        context = {"ec2:Region": self.region, "ec2:Vpc": f"arn:aws:ec2:{vpc_region}:{group.owner_id}:vpc/"
                   f"{group.vpc_id}", **resource_tag_context(group.tags)}
        auth.require(auth.resolve(principal), [Check(f"ec2:{operation}", (arn,), context)],
                     dry_run=opt_bool(params, "DryRun"))
        keys = {rule_key(r): r for r in existing}
        if add:
            for r in requested:
                if rule_key(r) in keys:
                    raise ApiError(f'the specified rule "{_describe_rule(r)}" already exists',
                                   code="InvalidPermission.Duplicate")
            remaining, changed, unknown = existing + requested, requested, []
        else:
            drop = {rule_key(by_id[i]) for i in ids} | {rule_key(r) for r in requested if rule_key(r) in keys}
            changed = [r for r in existing if rule_key(r) in drop]
            unknown = [r for r in requested if rule_key(r) not in keys]
            remaining = [r for r in existing if rule_key(r) not in drop]
        new_topo = self._store(topo, group, egress, remaining, operation)
        new_group = new_topo.security_groups_by_id[group.group_id]
        new_rules = {rule_key(r): r for r in (new_group.egress if egress else new_group.ingress)}
        if add:
            rules = [security_group_rule(new_topo, new_group, new_rules[rule_key(r)]) for r in changed]
            return {"Return": True, "SecurityGroupRules": rules}
        result: dict[str, Any] = {"Return": True,
                                  "RevokedSecurityGroupRules": [_revoked(r) for r in changed]}
        if unknown:
            result["UnknownIpPermissions"] = ip_permissions(tuple(unknown), group.owner_id)
        return result

    def _store(self, topo: Topology, group: SecurityGroup, egress: bool, rules: list[SecurityGroupRule],
               operation: str) -> Topology:
        doc = topology_to_document(topo)
        entry = next(g for g in doc["security_groups"] if g.get("id") == group.group_id)
        entry["egress" if egress else "ingress"] = [sg_rule_document(r) for r in rules]
        source = topo.source.split(" (changed by ")[0] + f" (changed by {operation})"
        return self.load_topology(json.dumps(doc), fmt="json", source=source)


def _find_group(topo: Topology | None, params: dict[str, Any]) -> SecurityGroup:
    group_id, name = params.get("GroupId"), params.get("GroupName")
    if not group_id and not name:
        raise MissingParameterError("The request must contain the parameter groupId")
    groups = topo.security_groups if topo is not None else ()
    for g in groups:
        if (group_id and g.group_id == group_id) or (not group_id and g.group_name == name):
            return g
    raise ApiError(f"The security group '{group_id or name}' does not exist", code="InvalidGroup.NotFound")


def _permissions(params: dict[str, Any]) -> list[dict[str, Any]]:
    """IpPermissions, or the one the legacy top-level fields describe."""
    perms = list(params.get("IpPermissions") or [])
    if params.get("IpProtocol") is not None or params.get("CidrIp") or params.get("SourceSecurityGroupName"):
        legacy: dict[str, Any] = {"IpProtocol": params.get("IpProtocol", "-1"), "FromPort": params.get("FromPort"),
                                  "ToPort": params.get("ToPort")}
        if params.get("CidrIp"):
            legacy["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
        if params.get("SourceSecurityGroupName"):
            legacy["UserIdGroupPairs"] = [{"GroupName": params["SourceSecurityGroupName"]}]
        perms.append(legacy)
    return perms


def _protocol_ports(perm: dict[str, Any]) -> tuple[int, int, int]:
    text = str(perm.get("IpProtocol", "-1")).lower()
    protocol = _PROTOCOL_NUMBERS.get(text, int(text) if text.lstrip("-").isdigit() else -2)
    if not -1 <= protocol <= 255:
        raise InvalidParameterValueError(f"Invalid value '{perm.get('IpProtocol')}' for IP protocol. "
                                         "Unknown protocol.")
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    if protocol in (6, 17):
        if lo is None or hi is None:
            raise InvalidParameterValueError("Invalid value for portRange. Must specify both from and to ports "
                                             "with TCP/UDP.")
        if not (0 <= int(lo) <= int(hi) <= 65535):
            raise InvalidParameterValueError(f"Invalid value for portRange: from {lo} to {hi}")
        return protocol, int(lo), int(hi)
    if protocol in (1, 58):
        return protocol, int(-1 if lo is None else lo), int(-1 if hi is None else hi)
    return protocol, -1, -1


def _group_ref(topo: Topology, group: SecurityGroup, pair: dict[str, Any]) -> str:
    """A group pair's group id; a name is looked up in the group's VPC, as EC2 does."""
    if pair.get("GroupId"):
        return str(pair["GroupId"])
    name = pair.get("GroupName")
    if not name:
        raise MissingParameterError("A group pair needs GroupId or GroupName")
    for g in topo.security_groups:
        if g.vpc_id == group.vpc_id and g.group_name == name:
            return g.group_id
    raise ApiError(f"The security group '{name}' does not exist in VPC '{group.vpc_id}'", code="InvalidGroup.NotFound")


def _requested(topo: Topology, group: SecurityGroup, egress: bool, params: dict[str, Any]) -> list[SecurityGroupRule]:
    """The request's rules, one per peer, in the model's terms."""
    out: list[SecurityGroupRule] = []
    for perm in _permissions(params):
        protocol, lo, hi = _protocol_ports(perm)
        rule = functools.partial(_rule, group.group_id, egress, protocol, lo, hi)

        try:
            out += [rule(r.get("Description"), cidr_ipv4=ipaddress.IPv4Network(r["CidrIp"]))
                    for r in perm.get("IpRanges") or []]
            out += [rule(r.get("Description"), cidr_ipv6=ipaddress.IPv6Network(r["CidrIpv6"]))
                    for r in perm.get("Ipv6Ranges") or []]
        except (KeyError, ValueError) as e:
            raise InvalidParameterValueError(f"CIDR block {e} is malformed") from None
        out += [rule(r.get("Description"), prefix_list_id=str(r["PrefixListId"]))
                for r in perm.get("PrefixListIds") or [] if r.get("PrefixListId")]
        out += [rule(pair.get("Description"), referenced_group_id=_group_ref(topo, group, pair))
                for pair in perm.get("UserIdGroupPairs") or []]
    if not out:
        raise MissingParameterError("The request must contain the parameter ipPermissions")
    return out


def _rule(group_id: str, egress: bool, protocol: int, lo: int, hi: int, description: Any,
          **peer: Any) -> SecurityGroupRule:
    return SecurityGroupRule("", group_id, egress, protocol, lo, hi, description=str(description or ""), **peer)


def _describe_rule(r: SecurityGroupRule) -> str:
    peer = r.cidr_ipv4 or r.cidr_ipv6 or r.referenced_group_id or r.prefix_list_id
    proto = {-1: "ALL", 6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPV6"}.get(r.ip_protocol, str(r.ip_protocol))
    return f"peer: {peer}, {proto}, from port: {r.from_port}, to port: {r.to_port}, ALLOW"


def _revoked(r: SecurityGroupRule) -> dict[str, Any]:
    out: dict[str, Any] = {"SecurityGroupRuleId": r.security_group_rule_id, "GroupId": r.group_id,
                           "IsEgress": r.is_egress, "IpProtocol": protocol_text(r.ip_protocol),
                           "FromPort": r.from_port, "ToPort": r.to_port}
    return put_present(out, CidrIpv4=r.cidr_ipv4, CidrIpv6=r.cidr_ipv6, PrefixListId=r.prefix_list_id,
                       ReferencedGroupId=r.referenced_group_id, Description=r.description or None)
