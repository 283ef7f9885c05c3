"""The shared state of one topology load: problems, registries of ids and names, and built resources.

The build modules (``build_network``, ``build_policy``, ``build_routing``) each add their part to a
:class:`Context`; ``loader`` runs them in dependency order and assembles the ``Topology``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from vpcflow.model.topology.model import (
    Account,
    InternetGateway,
    NatGateway,
    NetworkAcl,
    NetworkInterface,
    PrefixList,
    RouteTable,
    SecurityGroup,
    Subnet,
    TransitGateway,
    VirtualPrivateGateway,
    Vpc,
    VpcEndpoint,
    VpcPeeringConnection,
)
from vpcflow.model.topology.problems import Problems, Section
from vpcflow.model.topology.resolve import ACCOUNT_RE, ID_FORMATS, Entry, Registry, generate_id, id_problem
from vpcflow.model.topology.sourcemap import KeyPath

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass
class Context:
    problems: Problems
    account_id: str = DEFAULT_ACCOUNT_ID
    region: str = DEFAULT_REGION
    registries: dict[str, Registry] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    account_names: dict[str, str] = field(default_factory=dict)
    declared_regions: dict[str, dict[str, str]] = field(default_factory=dict)  # region -> zone name -> id
    used_zones: dict[str, dict[str, str]] = field(default_factory=dict)
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    network_interfaces: list[NetworkInterface] = field(default_factory=list)
    security_groups: list[SecurityGroup] = field(default_factory=list)
    network_acls: list[NetworkAcl] = field(default_factory=list)
    route_tables: list[RouteTable] = field(default_factory=list)
    internet_gateways: list[InternetGateway] = field(default_factory=list)
    nat_gateways: list[NatGateway] = field(default_factory=list)
    vpc_endpoints: list[VpcEndpoint] = field(default_factory=list)
    peerings: list[VpcPeeringConnection] = field(default_factory=list)
    prefix_lists: list[PrefixList] = field(default_factory=list)
    vpn_gateways: list[VirtualPrivateGateway] = field(default_factory=list)
    transit_gateways: list[TransitGateway] = field(default_factory=list)
    #: private IPv4 in use per VPC -> where it was claimed (duplicates are errors), and per subnet for allocation
    private_ips: dict[tuple[str, ipaddress.IPv4Address], KeyPath] = field(default_factory=dict)
    ipv6_ips: dict[tuple[str, ipaddress.IPv6Address], KeyPath] = field(default_factory=dict)
    public_ips: dict[ipaddress.IPv4Address, KeyPath] = field(default_factory=dict)
    subnet_used: dict[str, set[ipaddress.IPv4Address]] = field(default_factory=dict)
    alloc_cursor: dict[str, int] = field(default_factory=dict)  # subnet -> next offset to try
    #: ENI ids NAT gateways asked for that are not listed: created automatically
    auto_nat_enis: dict[str, str] = field(default_factory=dict)  # eni id -> nat gateway id
    default_groups: dict[str, str] = field(default_factory=dict)  # vpc id -> its `default` security group

    def registry(self, kind: str) -> Registry:
        reg = self.registries.get(kind)
        if reg is None:
            reg = self.registries[kind] = Registry(kind)
        return reg

    def peek(self, kind: str, ref: Any) -> Entry | None:
        """The entry ``ref`` names when it is unambiguous, without recording problems (used while registering)."""
        if not isinstance(ref, str):
            return None
        reg = self.registry(kind)
        if ref in reg.by_id:
            return reg.by_id[ref]
        ids = reg.by_name.get(ref, [])
        return reg.by_id[ids[0]] if len(ids) == 1 else None

    def resolve(self, kind: str, path: KeyPath, ref: Any, *, vpc_id: str | None = None) -> str | None:
        return self.registry(kind).resolve(self.problems, path, ref, vpc_id=vpc_id)

    def owner(self, sec: Section, key: str, default: str) -> str:
        """An owner account: a 12-digit id (int accepted: YAML reads unquoted ids as numbers) or an account name."""
        if not sec.has(key):
            return default
        value = sec.raw(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:012d}"
        if isinstance(value, str) and ACCOUNT_RE.match(value):
            self.note_account(value)
            return value
        if isinstance(value, str) and value in self.account_names:
            return self.account_names[value]
        sec.problems.add(
            sec.at(key), f"{value!r} is neither a 12-digit account id nor the name of an account in `accounts`"
        )
        return default

    def note_account(self, account_id: str) -> None:
        if account_id not in self.accounts:
            self.accounts[account_id] = Account(account_id)

    def entity_id(self, sec: Section, kind: str, *seed: str) -> str:
        """The given ``id`` (checked) or a generated one derived from ``seed``."""
        given = sec.text("id")
        if given is not None:
            problem = id_problem(kind, given)
            if problem is None:
                return given
            sec.problems.add(sec.at("id"), problem)
        return generate_id(kind, *seed)

    def check_id(self, path: KeyPath, kind: str, value: str) -> bool:
        problem = id_problem(kind, value)
        if problem is not None:
            self.problems.add(path, problem)
        return problem is None


__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_REGION", "ID_FORMATS", "Context"]
