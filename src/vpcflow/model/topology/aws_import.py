"""Build a topology document from the JSON the AWS CLI prints for ``aws ec2 describe-*``.

Reads ``describe-vpcs``, ``describe-subnets``, ``describe-network-interfaces``, ``describe-security-groups``,
``describe-network-acls``, ``describe-route-tables`` and ``describe-vpc-peering-connections`` output, and,
when given, ``describe-prefix-lists``, ``describe-internet-gateways``, ``describe-nat-gateways`` and
``describe-vpc-endpoints``. Each file's kind is detected from its top-level key (``Vpcs``, ``Subnets``, ...);
a folder is read file by file (``*.json``, sorted). The result uses the same schema as topology files
(``docs/topology.md``), with every id written out, and loads with ``loader.loads_topology``.

Resources the describe output only mentions (an internet gateway in a route, a NAT gateway's ENI, a
gateway endpoint's route) become entries of their own. What cannot be modelled is left out and
explained in the notes :func:`import_aws_with_notes` returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterable
from pathlib import Path
from typing import Any

from vpcflow.core.errors import ConfigError

__all__ = ["KINDS", "import_aws", "import_aws_answers", "import_aws_with_notes"]

#: top-level key of each describe-* output -> the command that prints it
KINDS: dict[str, str] = {
    "Vpcs": "describe-vpcs",
    "Subnets": "describe-subnets",
    "NetworkInterfaces": "describe-network-interfaces",
    "SecurityGroups": "describe-security-groups",
    "NetworkAcls": "describe-network-acls",
    "RouteTables": "describe-route-tables",
    "VpcPeeringConnections": "describe-vpc-peering-connections",
    "PrefixLists": "describe-prefix-lists",
    "InternetGateways": "describe-internet-gateways",
    "NatGateways": "describe-nat-gateways",
    "VpcEndpoints": "describe-vpc-endpoints",
}
_IGNORED_KEYS = {"NextToken", "ResponseMetadata"}
_PROTOCOLS = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_NAT_DESCRIPTION = re.compile(r"^Interface for NAT Gateway (nat-[0-9a-f]+)$")


def _files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(x for x in p.iterdir() if x.is_file() and x.suffix.lower() == ".json")
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError("no such file or folder", location=str(p))
    if not out:
        raise ConfigError("no describe-* JSON files to import (a folder is read for *.json)")
    return out


def _read(paths: Iterable[Path]) -> dict[str, list[dict[str, Any]]]:
    """Items per kind, merged across files (an item seen twice, e.g. in two pages, is kept once)."""
    docs: list[tuple[str, Any]] = []
    for path in _files(paths):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid JSON: {e.msg}", location=f"{path}:{e.lineno}") from e
        except RecursionError:  # json's C parser stops at Python's recursion limit
            raise ConfigError("invalid JSON: nested too deep", location=str(path)) from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read: {e}", location=str(path)) from e
        docs.append((str(path), data))
    return _collect(docs)


def _collect(docs: Iterable[tuple[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Items per kind from (where, describe-* answer) pairs; an item seen twice is kept once."""
    items: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
    for where, data in docs:
        if not isinstance(data, dict):
            raise ConfigError("expected the JSON object an `aws ec2 describe-*` command prints", location=where)
        keys = [k for k in data if k not in _IGNORED_KEYS]
        known = [k for k in keys if k in KINDS]
        if not known:
            raise ConfigError(
                f"cannot tell which describe-* output this is (top-level keys: {', '.join(keys) or 'none'}; "
                f"expected one of {', '.join(KINDS)})",
                location=where,
            )
        for kind in known:
            value = data[kind]
            if not isinstance(value, list):
                raise ConfigError(f"{kind} must be a list", location=where)
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    raise ConfigError(f"{kind}[{i}] must be an object", location=where)
                items[kind][_item_id(kind, item, i)] = item
    return {k: list(v.values()) for k, v in items.items()}


def import_aws_answers(answers: Iterable[tuple[str, Any]], *, region: str | None = None
                       ) -> tuple[dict[str, Any], list[str]]:
    """Like :func:`import_aws_with_notes`, from answers already parsed (boto3's ``describe_*`` results,
    each with a name for messages, e.g. the operation): how an agent builds its network."""
    return _Importer(_collect(answers), region).run()


_ID_KEYS = {
    "Vpcs": "VpcId",
    "Subnets": "SubnetId",
    "NetworkInterfaces": "NetworkInterfaceId",
    "SecurityGroups": "GroupId",
    "NetworkAcls": "NetworkAclId",
    "RouteTables": "RouteTableId",
    "VpcPeeringConnections": "VpcPeeringConnectionId",
    "PrefixLists": "PrefixListId",
    "InternetGateways": "InternetGatewayId",
    "NatGateways": "NatGatewayId",
    "VpcEndpoints": "VpcEndpointId",
}


def _item_id(kind: str, item: dict[str, Any], index: int) -> str:
    value = item.get(_ID_KEYS[kind])
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{kind}[{index}] has no {_ID_KEYS[kind]}")
    return value


def _tags(item: dict[str, Any], key: str = "Tags") -> tuple[str | None, dict[str, str]]:
    name = None
    rest: dict[str, str] = {}
    for tag in item.get(key) or item.get("TagSet") or []:
        if tag.get("Key") == "Name":
            name = str(tag.get("Value", ""))
        elif "Key" in tag:
            rest[str(tag["Key"])] = str(tag.get("Value", ""))
    return name, rest


def _named(item: dict[str, Any], body: dict[str, Any], key: str = "Tags") -> dict[str, Any]:
    name, tags = _tags(item, key)
    out: dict[str, Any] = {"name": name} if name else {}
    out.update(body)
    if tags:
        out["tags"] = tags
    return out


def _protocol(value: Any) -> str | int:
    text = str(value).lower()
    if text in ("tcp", "udp", "icmp", "icmpv6"):
        return text
    if text in _PROTOCOLS:
        return _PROTOCOLS[text]
    return int(text) if text.lstrip("-").isdigit() else text


def _ports(protocol: str | int, lo: Any, hi: Any) -> dict[str, Any]:
    if protocol in ("tcp", "udp") and lo is not None:
        lo_i, hi_i = int(lo), int(hi if hi is not None else lo)
        return {"ports": lo_i if lo_i == hi_i else f"{lo_i}-{hi_i}"}
    if protocol in ("icmp", "icmpv6") and lo is not None:
        return {"icmp_type": int(lo), "icmp_code": int(hi if hi is not None else -1)}
    return {}


def _sg_rules(permissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One document rule per peer, like describe-security-group-rules (descriptions are per peer)."""
    out = []
    for perm in permissions or []:
        protocol = _protocol(perm.get("IpProtocol", "-1"))
        base: dict[str, Any] = {"protocol": protocol, **_ports(protocol, perm.get("FromPort"), perm.get("ToPort"))}
        peers: list[tuple[str, Any, Any]] = []
        peers += [("cidr", r.get("CidrIp"), r.get("Description")) for r in perm.get("IpRanges") or []]
        peers += [("ipv6_cidr", r.get("CidrIpv6"), r.get("Description")) for r in perm.get("Ipv6Ranges") or []]
        peers += [("group", r.get("GroupId"), r.get("Description")) for r in perm.get("UserIdGroupPairs") or []]
        peers += [("prefix_list", r.get("PrefixListId"), r.get("Description")) for r in perm.get("PrefixListIds") or []]
        for key, value, description in peers:
            rule = {**base, key: value}
            if description:
                rule["description"] = description
            out.append(rule)
    return out


def _acl_entry(entry: dict[str, Any]) -> dict[str, Any]:
    protocol = _protocol(entry.get("Protocol", "-1"))
    out: dict[str, Any] = {"rule": int(entry["RuleNumber"]), "protocol": protocol, "action": entry.get("RuleAction")}
    if entry.get("CidrBlock"):
        out["cidr"] = entry["CidrBlock"]
    if entry.get("Ipv6CidrBlock"):
        out["ipv6_cidr"] = entry["Ipv6CidrBlock"]
    if protocol in ("tcp", "udp") and entry.get("PortRange"):
        out.update(_ports(protocol, entry["PortRange"].get("From"), entry["PortRange"].get("To")))
    if protocol in ("icmp", "icmpv6") and entry.get("IcmpTypeCode"):
        out.update(
            {
                "icmp_type": int(entry["IcmpTypeCode"].get("Type", -1)),
                "icmp_code": int(entry["IcmpTypeCode"].get("Code", -1)),
            }
        )
    return out


def import_aws(paths: list[Path]) -> dict[str, Any]:
    """The topology document for the describe-* outputs in ``paths`` (files or folders)."""
    return import_aws_with_notes(paths)[0]


def import_aws_with_notes(paths: list[Path], *, region: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The document and notes on what could not be modelled; ``region`` when subnets do not tell."""
    return _Importer(_read(paths), region).run()


class _Importer:
    def __init__(self, items: dict[str, list[dict[str, Any]]], region: str | None) -> None:
        self.items = items
        self.notes: list[str] = []
        self.region_hint = region
        self.vpc_region: dict[str, str] = {}

    def run(self) -> tuple[dict[str, Any], list[str]]:
        it = self.items
        owners = [v.get("OwnerId") for v in it["Vpcs"] if v.get("OwnerId")]
        zones: dict[str, dict[str, str]] = {}
        for s in it["Subnets"]:
            az = str(s.get("AvailabilityZone", ""))
            region = re.sub(r"[a-z]$", "", az)
            zones.setdefault(region, {})[az] = str(s.get("AvailabilityZoneId", ""))
            self.vpc_region.setdefault(str(s.get("VpcId")), region)
        region = self.region_hint or (next(iter(zones)) if zones else "us-east-1")
        doc: dict[str, Any] = {"account_id": owners[0] if owners else "123456789012", "region": region}
        accounts = sorted({str(o) for o in self._owner_ids()})
        doc["accounts"] = [{"account_id": a} for a in accounts]
        doc["regions"] = [
            {"name": r, "availability_zones": [{"name": n, "id": i} for n, i in sorted(z.items()) if i]}
            for r, z in zones.items()
        ]
        doc["vpcs"] = self._vpcs(region)
        self.enis = self._enis()
        doc["network_interfaces"] = self.enis
        doc["security_groups"] = [self._group(g) for g in it["SecurityGroups"]]
        doc["network_acls"] = [self._acl(a) for a in it["NetworkAcls"]]
        doc["prefix_lists"] = [
            {
                "id": p["PrefixListId"],
                "name": p.get("PrefixListName", p["PrefixListId"]),
                "cidrs": list(p.get("Cidrs") or []),
            }
            for p in it["PrefixLists"]
        ]
        self.igws: dict[str, dict[str, Any]] = {}
        for g in it["InternetGateways"]:
            attached = [
                a.get("VpcId")
                for a in g.get("Attachments") or []
                if a.get("State", "available") in ("available", "attached")
            ]
            self.igws[g["InternetGatewayId"]] = _named(
                g, {"id": g["InternetGatewayId"], **({"vpc": attached[0]} if attached else {})}
            )
        self.nats = self._nats()
        self.endpoints: dict[str, dict[str, Any]] = {e["VpcEndpointId"]: self._endpoint(e) for e in it["VpcEndpoints"]}
        self.vgws: dict[str, dict[str, Any]] = {}
        self.tgws: dict[str, dict[str, Any]] = {}
        self.eigws: dict[str, dict[str, Any]] = {}
        peerings = {p["VpcPeeringConnectionId"]: self._peering(p) for p in it["VpcPeeringConnections"]}
        doc["route_tables"] = [self._route_table(rt, peerings, doc["prefix_lists"]) for rt in it["RouteTables"]]
        doc["internet_gateways"] = list(self.igws.values())
        doc["egress_only_internet_gateways"] = list(self.eigws.values())
        doc["nat_gateways"] = list(self.nats.values())
        doc["vpn_gateways"] = list(self.vgws.values())
        doc["transit_gateways"] = list(self.tgws.values())
        doc["vpc_endpoints"] = list(self.endpoints.values())
        doc["vpc_peering_connections"] = list(peerings.values())
        return {k: v for k, v in doc.items() if v != [] or k == "vpcs"}, self.notes

    def _owner_ids(self) -> Iterable[str]:
        for kind in ("Vpcs", "Subnets", "NetworkInterfaces", "SecurityGroups", "NetworkAcls", "RouteTables"):
            yield from (str(x["OwnerId"]) for x in self.items[kind] if x.get("OwnerId"))
        for p in self.items["VpcPeeringConnections"]:
            for side in ("RequesterVpcInfo", "AccepterVpcInfo"):
                if (p.get(side) or {}).get("OwnerId"):
                    yield str(p[side]["OwnerId"])

    def _vpcs(self, region: str) -> list[dict[str, Any]]:
        out = []
        known = {v["VpcId"] for v in self.items["Vpcs"]}
        for s in self.items["Subnets"]:
            if s.get("VpcId") not in known:
                raise ConfigError(
                    f"subnet {s.get('SubnetId')} is in {s.get('VpcId')}, "
                    "which no describe-vpcs output lists; include it"
                )
        for v in self.items["Vpcs"]:
            primary = v.get("CidrBlock")
            blocks = [primary] if primary else []
            for assoc in v.get("CidrBlockAssociationSet") or []:
                state = (assoc.get("CidrBlockState") or {}).get("State", "associated")
                if state == "associated" and assoc.get("CidrBlock") not in blocks:
                    blocks.append(assoc["CidrBlock"])
            v6 = [
                a["Ipv6CidrBlock"]
                for a in v.get("Ipv6CidrBlockAssociationSet") or []
                if (a.get("Ipv6CidrBlockState") or {}).get("State", "associated") == "associated"
                and a.get("Ipv6CidrBlock")
            ]
            body: dict[str, Any] = {
                "id": v["VpcId"],
                "owner": v.get("OwnerId"),
                "region": self.vpc_region.get(v["VpcId"], region),
            }
            body["cidr_blocks"] = blocks
            if v6:
                body["ipv6_cidr_blocks"] = v6
            if v.get("IsDefault"):
                body["is_default"] = True
            vpc = _named(v, body)
            vpc["subnets"] = [self._subnet(s) for s in self.items["Subnets"] if s.get("VpcId") == v["VpcId"]]
            out.append(vpc)
        return out

    def _subnet(self, s: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"id": s["SubnetId"]}
        if s.get("CidrBlock"):  # absent in an IPv6-only subnet (Ipv6Native)
            body["cidr_block"] = s["CidrBlock"]
        body["availability_zone"] = s.get("AvailabilityZone")
        v6 = [
            a["Ipv6CidrBlock"]
            for a in s.get("Ipv6CidrBlockAssociationSet") or []
            if (a.get("Ipv6CidrBlockState") or {}).get("State", "associated") == "associated"
        ]
        if v6:
            body["ipv6_cidr_block"] = v6[0]
        if s.get("OwnerId"):
            body["owner"] = s["OwnerId"]
        return _named(s, body)

    def _enis(self) -> list[dict[str, Any]]:
        out = []
        for e in self.items["NetworkInterfaces"]:
            body: dict[str, Any] = {"id": e["NetworkInterfaceId"], "subnet": e.get("SubnetId")}
            body["type"] = e.get("InterfaceType", "interface")
            body["requester_managed"] = bool(e.get("RequesterManaged", False))
            if e.get("OwnerId"):
                body["owner"] = e["OwnerId"]
            instance = (e.get("Attachment") or {}).get("InstanceId")
            if instance:
                body["instance_id"] = instance
            if e.get("PrivateIpAddress"):  # absent on an interface of an IPv6-only subnet
                body["private_ip"] = e["PrivateIpAddress"]
            addresses = e.get("PrivateIpAddresses") or []
            secondary = [a["PrivateIpAddress"] for a in addresses if not a.get("Primary") and a.get("PrivateIpAddress")]
            if secondary:
                body["secondary_private_ips"] = secondary
            # the primary IPv6 address first: an IPv6-only interface shows it in its records
            v6_items = sorted(e.get("Ipv6Addresses") or [], key=lambda a: not a.get("IsPrimaryIpv6", False))
            v6 = [a["Ipv6Address"] for a in v6_items if a.get("Ipv6Address")]
            if v6:
                body["ipv6_addresses"] = v6
            elastic, public = [], None
            associations = [a.get("Association") for a in addresses if a.get("Association")] or (
                [e["Association"]] if e.get("Association") else []
            )
            for assoc in associations:
                ip = assoc.get("PublicIp")
                if not ip:
                    continue
                # An auto-assigned public IPv4 is owned by "amazon" and has no allocation; an Elastic IP has both.
                if assoc.get("AllocationId") or (assoc.get("IpOwnerId") not in (None, "amazon")):
                    elastic.append(ip)
                elif public is None:
                    public = ip
            if public:
                body["public_ip"] = public
            if elastic:
                body["elastic_ips"] = elastic
            body["security_groups"] = [g["GroupId"] for g in e.get("Groups") or []]
            if e.get("Description"):
                body["description"] = e["Description"]
            body["source_dest_check"] = bool(e.get("SourceDestCheck", True))
            out.append(_named(e, body, "TagSet"))
        return out

    def _group(self, g: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"id": g["GroupId"], "group_name": g.get("GroupName"), "vpc": g.get("VpcId")}
        if g.get("OwnerId"):
            body["owner"] = g["OwnerId"]
        if g.get("Description"):
            body["description"] = g["Description"]
        body["ingress"] = _sg_rules(g.get("IpPermissions") or [])
        body["egress"] = _sg_rules(g.get("IpPermissionsEgress") or [])
        return _named(g, body)

    def _acl(self, a: dict[str, Any]) -> dict[str, Any]:
        entries = [e for e in a.get("Entries") or [] if int(e.get("RuleNumber", 0)) != 32767]  # the loader adds `*`
        body: dict[str, Any] = {"id": a["NetworkAclId"], "vpc": a.get("VpcId")}
        if a.get("OwnerId"):
            body["owner"] = a["OwnerId"]
        body["default"] = bool(a.get("IsDefault", False))
        body["subnets"] = [s["SubnetId"] for s in a.get("Associations") or [] if s.get("SubnetId")]
        body["ingress"] = sorted((_acl_entry(e) for e in entries if not e.get("Egress")), key=lambda r: r["rule"])
        body["egress"] = sorted((_acl_entry(e) for e in entries if e.get("Egress")), key=lambda r: r["rule"])
        return _named(a, body)

    def _nats(self) -> dict[str, dict[str, Any]]:
        nats: dict[str, dict[str, Any]] = {}
        for n in self.items["NatGateways"]:
            if n.get("State", "available") not in ("available", "pending"):
                continue
            addr: dict[str, Any] = next((a for a in n.get("NatGatewayAddresses") or [] if a.get("IsPrimary", True)), {})
            body: dict[str, Any] = {
                "id": n["NatGatewayId"],
                "subnet": n.get("SubnetId"),
                "connectivity": n.get("ConnectivityType", "public"),
            }
            if addr.get("PrivateIp"):
                body["private_ip"] = addr["PrivateIp"]
            if addr.get("PublicIp"):
                body["public_ip"] = addr["PublicIp"]
            if addr.get("NetworkInterfaceId"):
                body["network_interface"] = addr["NetworkInterfaceId"]
            nats[n["NatGatewayId"]] = _named(n, body)
        for e in self.items["NetworkInterfaces"]:
            m = _NAT_DESCRIPTION.match(str(e.get("Description", "")))
            if e.get("InterfaceType") != "nat_gateway" or m is None or m.group(1) in nats:
                continue
            public = next(
                (
                    a["Association"]["PublicIp"]
                    for a in e.get("PrivateIpAddresses") or []
                    if a.get("Primary") and a.get("Association")
                ),
                None,
            )
            body = {"id": m.group(1), "subnet": e.get("SubnetId"), "connectivity": "public" if public else "private"}
            body["private_ip"] = e.get("PrivateIpAddress")
            if public:
                body["public_ip"] = public
            body["network_interface"] = e["NetworkInterfaceId"]
            nats[m.group(1)] = body
        return nats

    def _endpoint(self, e: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": e["VpcEndpointId"],
            "vpc": e.get("VpcId"),
            "service": e.get("ServiceName"),
            "type": e.get("VpcEndpointType", "Gateway"),
        }
        if e.get("RouteTableIds"):
            body["route_tables"] = list(e["RouteTableIds"])
        if e.get("NetworkInterfaceIds"):
            body["network_interfaces"] = list(e["NetworkInterfaceIds"])
        return _named(e, body)

    def _peering(self, p: dict[str, Any]) -> dict[str, Any]:
        req, acc = p.get("RequesterVpcInfo") or {}, p.get("AccepterVpcInfo") or {}
        body = {
            "id": p["VpcPeeringConnectionId"],
            "requester_vpc": req.get("VpcId"),
            "requester_owner": req.get("OwnerId"),
            "requester_region": req.get("Region"),
            "accepter_vpc": acc.get("VpcId"),
            "accepter_owner": acc.get("OwnerId"),
            "accepter_region": acc.get("Region"),
            "status": (p.get("Status") or {}).get("Code", "active"),
        }
        return _named(p, {k: v for k, v in body.items() if v is not None})

    def _route_table(
        self, rt: dict[str, Any], peerings: dict[str, Any], prefix_lists: list[dict[str, Any]]
    ) -> dict[str, Any]:
        vpc = rt.get("VpcId")
        rtb = rt["RouteTableId"]
        main = any(a.get("Main") for a in rt.get("Associations") or [])
        subnets = [a["SubnetId"] for a in rt.get("Associations") or [] if a.get("SubnetId")]
        known_enis = {e["id"] for e in self.enis}
        routes = []
        for r in rt.get("Routes") or []:
            dest = (
                r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock") or r.get("DestinationPrefixListId")
            )
            gateway = r.get("GatewayId")
            if gateway == "local" or dest is None:
                continue
            if gateway and gateway.startswith("vpce-"):
                self._gateway_endpoint_route(gateway, vpc, rtb, r, dest, prefix_lists)
                continue  # the endpoint's route_tables recreate this route
            if r.get("DestinationPrefixListId"):
                self._need_prefix_list(dest, prefix_lists)
            target = self._route_target(r, vpc, rtb, dest, peerings, known_enis)
            if target is None:
                continue
            route: dict[str, Any] = {"destination": dest, target[0]: target[1]}
            if r.get("State") == "blackhole":
                route["blackhole"] = True
            routes.append(route)
        body = {"id": rtb, "vpc": vpc, "main": main, "subnets": subnets, "routes": routes}
        return _named(rt, body)

    def _gateway_endpoint_route(
        self, gateway: str, vpc: str | None, rtb: str, r: dict[str, Any], dest: str, prefix_lists: list[dict[str, Any]]
    ) -> None:
        """A route to a gateway endpoint: recorded on the endpoint (its route tables, prefix list, service)."""
        ep = self.endpoints.setdefault(gateway, {"id": gateway, "vpc": vpc, "type": "Gateway"})
        ep.setdefault("route_tables", [])
        if rtb not in ep["route_tables"]:
            ep["route_tables"].append(rtb)
        if "prefix_list" not in ep and r.get("DestinationPrefixListId"):
            ep["prefix_list"] = r["DestinationPrefixListId"]
        if "service" not in ep:
            pl = next((p for p in prefix_lists if p["id"] == dest), None)
            ep["service"] = pl["name"] if pl else f"unknown.service.{dest}"
            if pl is None:
                self.notes.append(
                    f"{gateway}: its service is unknown (add describe-prefix-lists or describe-vpc-endpoints output)"
                )
        self._need_prefix_list(dest, prefix_lists)

    def _route_target(
        self, r: dict[str, Any], vpc: str | None, rtb: str, dest: str, peerings: dict[str, Any], known_enis: set[str]
    ) -> tuple[str, str] | None:
        """The document's target key and id of one route; None (with a note) for a target left out."""
        gateway = r.get("GatewayId")
        if gateway and gateway.startswith("igw-"):
            self.igws.setdefault(gateway, {"id": gateway, "vpc": vpc})
            return "internet_gateway", gateway
        if gateway and gateway.startswith("vgw-"):
            self.vgws.setdefault(gateway, {"id": gateway, "vpc": vpc})
            return "vpn_gateway", gateway
        if r.get("NatGatewayId"):
            return self._known_target(r["NatGatewayId"], "nat_gateway", self.nats, rtb, dest,
                                      "its ENI is not in describe-network-interfaces")
        if r.get("VpcPeeringConnectionId"):
            return self._known_target(r["VpcPeeringConnectionId"], "vpc_peering_connection", peerings, rtb, dest,
                                      "not in describe-vpc-peering-connections")
        if r.get("TransitGatewayId"):
            tgw = self.tgws.setdefault(r["TransitGatewayId"], {"id": r["TransitGatewayId"], "vpcs": []})
            if vpc not in tgw["vpcs"]:
                tgw["vpcs"].append(vpc)
            return "transit_gateway", r["TransitGatewayId"]
        if r.get("EgressOnlyInternetGatewayId"):
            eigw = r["EgressOnlyInternetGatewayId"]
            self.eigws.setdefault(eigw, {"id": eigw, "vpc": vpc})
            return "egress_only_internet_gateway", eigw
        if r.get("NetworkInterfaceId"):
            return self._known_target(r["NetworkInterfaceId"], "network_interface", known_enis, rtb, dest,
                                      "not in describe-network-interfaces")
        target = next((k for k in r if k.endswith("Id") or k.endswith("Arn")), "an unsupported target")
        self.notes.append(f"{rtb}: route to {dest} via {target} left out (vpcflow does not model that target)")
        return None

    def _known_target(self, target: str, kind: str, known: Container[str], rtb: str, dest: str,
                      why: str) -> tuple[str, str] | None:
        """``(kind, target)`` when the target was described too; else None, with a note saying why."""
        if target not in known:
            self.notes.append(f"{rtb}: route to {dest} via {target} left out ({why})")
            return None
        return kind, target

    def _need_prefix_list(self, pl: str, prefix_lists: list[dict[str, Any]]) -> None:
        if any(p["id"] == pl for p in prefix_lists):
            return
        prefix_lists.append({"id": pl, "name": pl, "cidrs": []})
        self.notes.append(f"{pl}: no describe-prefix-lists output, so its CIDRs are unknown and no traffic matches it")
