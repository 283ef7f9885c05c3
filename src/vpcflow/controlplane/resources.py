"""Looking up the targets of CreateFlowLogs in the loaded topology (after the parameter rules).

A target that is missing, in another region, owned by another account (a peered VPC of another
account included, spec 2.9) or an EC2-Classic interface becomes an ``Unsuccessful`` item with EC2's
NotFound code (spec "Suggested handling": per-resource failures, like AWS's destination failures).
"""

from __future__ import annotations

from dataclasses import dataclass

from vpcflow.controlplane.errors import not_found_error_for
from vpcflow.model.topology.model import Topology


@dataclass(frozen=True, slots=True)
class Target:
    """A resource a flow log can monitor, with what authorization and storage need."""

    resource_id: str
    resource_type: str
    owner_id: str
    vpc_id: str
    subnet_id: str | None
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TargetError:
    resource_id: str
    code: str
    message: str


def _peering_note(topo: Topology, vpc_id: str, account_id: str) -> str:
    for p in topo.vpc_peering_connections:
        ends = {(p.requester_vpc_id, p.requester_owner_id), (p.accepter_vpc_id, p.accepter_owner_id)}
        other = {v for v, o in ends if v != vpc_id and o == account_id}
        if vpc_id in {v for v, _ in ends} and other:
            return f"peered with your VPC {sorted(other)[0]} through {p.vpc_peering_connection_id}"
    return ""


def _foreign(topo: Topology, rtype: str, rid: str, owner: str, vpc_id: str, account_id: str) -> TargetError:
    note = f"vpcflow: it belongs to account {owner}"
    peer = _peering_note(topo, vpc_id, account_id)
    if peer:
        note += f", {peer}"
    note += "; flow logs can only be created for resources of your own account"
    err = not_found_error_for(rtype, rid, note)
    return TargetError(rid, err.code, err.message)


def _missing(rtype: str, rid: str) -> TargetError:
    err = not_found_error_for(rtype, rid)
    return TargetError(rid, err.code, err.message)


def lookup(topo: Topology | None, rtype: str, rid: str, *, account_id: str, region: str) -> Target | TargetError:
    """The target ``rid`` of type ``rtype`` as the caller's account sees it in ``region``."""
    if topo is None:
        return _missing(rtype, rid)
    if rtype == "VPC":
        vpc = topo.vpcs_by_id.get(rid)
        if vpc is None or vpc.region != region:
            return _missing(rtype, rid)
        if vpc.owner_id != account_id:
            return _foreign(topo, rtype, rid, vpc.owner_id, rid, account_id)
        return Target(rid, rtype, vpc.owner_id, rid, None, vpc.tags)
    if rtype == "Subnet":
        subnet = topo.subnets_by_id.get(rid)
        vpc = topo.vpcs_by_id.get(subnet.vpc_id) if subnet else None
        if subnet is None or vpc is None or vpc.region != region:
            return _missing(rtype, rid)
        owner = subnet.owner_id or vpc.owner_id
        if owner != account_id:
            return _foreign(topo, rtype, rid, owner, vpc.vpc_id, account_id)
        return Target(rid, rtype, owner, vpc.vpc_id, rid, subnet.tags)
    eni = topo.enis_by_id.get(rid)
    vpc = topo.vpcs_by_id.get(eni.vpc_id) if eni else None
    if eni is None or vpc is None or vpc.region != region:
        return _missing(rtype, rid)
    if eni.owner_id != account_id:
        return _foreign(topo, rtype, rid, eni.owner_id, vpc.vpc_id, account_id)
    if eni.ec2_classic:
        # Spec 2.9: EC2-Classic / ClassicLink interfaces are unsupported (code: a vpcflow choice).
        return TargetError(
            rid,
            "UnsupportedOperation",
            f"Flow logs are not supported for network interface {rid}: it is in EC2-Classic "
            "(EC2-Classic and ClassicLink network interfaces are unsupported)",
        )
    return Target(rid, rtype, eni.owner_id, vpc.vpc_id, eni.subnet_id, eni.tags)
