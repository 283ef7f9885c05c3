"""THE single catalogue of flow-record fields (VPC v2..v11, and transit-gateway fields).

Everything else about fields is derived from this table and nothing else: the default format,
the ``version`` of a custom format, the typed record columns (Arrow), the Parquet schema, the Athena
column list and the ``vpcflow fields`` table. Source: spec ``aws-vpc-flow-logs.md`` sections 1.2-1.8, 8.1.

Naming: the AWS hyphenated name (``pkt-srcaddr``) in formats and files; the underscored name
(``pkt_srcaddr``) in Python, Arrow and Parquet. The conversion lives here only.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass


class ValueType(enum.Enum):
    """The Python/Arrow value type of a field; Parquet and Athena types derive from it."""

    INT32 = "int32"
    INT64 = "int64"
    STRING = "string"


class Role(enum.Enum):
    """What a field describes; decides how NODATA/SKIPDATA records fill it (spec 2.4, suggested handling)."""

    CONSTANT = "constant"  # version: fixed per flow log
    INTERFACE = "interface"  # metadata of the recording ENI: kept in NODATA/SKIPDATA records
    PACKET = "packet"  # taken from packets: `-` in NODATA/SKIPDATA records
    WINDOW = "window"  # start/end: the window bounds in NODATA/SKIPDATA records
    STATUS = "status"  # log-status


@dataclass(frozen=True, slots=True)
class Field:
    """One flow-record field."""

    name: str  # AWS hyphenated name
    version: int
    value_type: ValueType
    role: Role
    meaning: str
    dash_when: str
    parquet_type: str  # the documented Parquet type (INT_32, INT_64, STRING)
    athena_type: str  # the type in AWS's Athena DDL (spec 8.1)
    transit_gateway: bool = False  # True: a transit-gateway flow-log field only (spec 1.8)
    vpc: bool = True  # False: not valid in a VPC/subnet/ENI flow log's LogFormat
    unconfirmed: str = ""  # what about this field is UNCONFIRMED in the spec, and our choice
    # Value checks applied by the text reader (docs/formats.md "Validation"): an enumeration of the
    # only strings AWS writes, or an inclusive integer range. Empty/None: only the type is checked.
    values: tuple[str, ...] = ()
    min_value: int | None = None
    max_value: int | None = None

    @property
    def column(self) -> str:
        """The underscored name used in Python, Arrow and Parquet."""
        return to_column(self.name)

    @property
    def athena_column(self) -> str:
        """The Athena column name, back-quoted where it is a reserved word (spec 8.1)."""
        col = self.column
        return f"`{col}`" if col in ATHENA_RESERVED else col


ATHENA_RESERVED = frozenset({"end", "date"})

_I32, _I64, _S = ValueType.INT32, ValueType.INT64, ValueType.STRING
_PARQUET = {_I32: "INT_32", _I64: "INT_64", _S: "STRING"}
_ATHENA = {_I32: "int", _I64: "bigint", _S: "string"}


def _f(
    name: str,
    version: int,
    vt: ValueType,
    role: Role,
    meaning: str,
    dash_when: str = "",
    *,
    athena: str | None = None,
    unconfirmed: str = "",
    values: tuple[str, ...] = (),
    lo: int | None = None,
    hi: int | None = None,
) -> Field:
    if vt is not _S:
        # Every integer field is a count, a port, a number or a time: never negative (spec 1.3).
        lo = 0 if lo is None else lo
        hi = (2**31 - 1 if vt is _I32 else 2**63 - 1) if hi is None else hi
    return Field(
        name=name,
        version=version,
        value_type=vt,
        role=role,
        meaning=meaning,
        dash_when=dash_when,
        parquet_type=_PARQUET[vt],
        athena_type=athena or _ATHENA[vt],
        unconfirmed=unconfirmed,
        values=values,
        min_value=lo,
        max_value=hi,
    )


_C, _IF, _P, _W, _ST = Role.CONSTANT, Role.INTERFACE, Role.PACKET, Role.WINDOW, Role.STATUS
_ND = "NODATA/SKIPDATA records"

# Order is AWS's table order (spec 1.3); the default format is the v2 fields in this order.
VPC_FIELDS: tuple[Field, ...] = (
    _f("version", 2, _I32, _C, "Flow-log version: 2 for the default format, else the highest field version.",
       "never", lo=2),
    _f("account-id", 2, _S, _IF, "AWS account that owns the source network interface; `unknown` for some "
       "AWS-service ENIs.", "never (present in NODATA/SKIPDATA)"),
    _f("interface-id", 2, _S, _IF, "ID of the network interface the traffic is recorded on.",
       "regional NAT gateway flows"),
    _f("srcaddr", 2, _S, _P, "Source address; for outgoing traffic the ENI's primary private IPv4 or IPv6.", _ND),
    _f("dstaddr", 2, _S, _P, "Destination address; for incoming traffic the ENI's primary private IPv4 or IPv6.",
       _ND),
    _f("srcport", 2, _I32, _P, "Source port (0 for ICMP).", _ND, hi=65535),
    _f("dstport", 2, _I32, _P, "Destination port (0 for ICMP).", _ND, hi=65535),
    _f("protocol", 2, _I32, _P, "IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).", _ND,
       athena="bigint", hi=255),
    _f("packets", 2, _I64, _P, "Packets in the flow within the aggregation window.", _ND),
    _f("bytes", 2, _I64, _P, "Bytes (IP total length) in the flow within the aggregation window.", _ND),
    _f("start", 2, _I64, _W, "Unix seconds of the first packet of the flow in the window.",
       "never (NODATA/SKIPDATA carry the window bounds)"),
    _f("end", 2, _I64, _W, "Unix seconds of the last packet of the flow in the window.",
       "never (NODATA/SKIPDATA carry the window bounds)"),
    _f("action", 2, _S, _P, "ACCEPT or REJECT (security groups, network ACLs, or packets after the "
       "connection closed).", _ND, values=("ACCEPT", "REJECT")),
    _f("log-status", 2, _S, _ST, "OK, NODATA (no traffic in the window) or SKIPDATA (records skipped).",
       "never", values=("OK", "NODATA", "SKIPDATA")),
    _f("vpc-id", 3, _S, _IF, "VPC of the network interface.", "",
       unconfirmed="NODATA/SKIPDATA: kept (ENI metadata), per the spec's suggested handling"),
    _f("subnet-id", 3, _S, _IF, "Subnet of the network interface.", "",
       unconfirmed="NODATA/SKIPDATA: kept (ENI metadata), per the spec's suggested handling"),
    _f("instance-id", 3, _S, _IF, "Instance of the network interface, if owned by you.",
       "requester-managed interfaces (NAT gateway, load balancer, endpoint, transit gateway)"),
    _f("tcp-flags", 3, _I32, _P, "OR of FIN=1, SYN=2, RST=4, SYN-ACK=18 over the window (spec 1.4).",
       "flag combination that cannot be computed; " + _ND,
       unconfirmed="non-TCP flows: 0 (no flags sent)"),
    _f("type", 3, _S, _P, "IPv4, IPv6 or EFA.", _ND, values=("IPv4", "IPv6", "EFA")),
    _f("pkt-srcaddr", 3, _S, _P, "Packet-level (original) source address.", _ND),
    _f("pkt-dstaddr", 3, _S, _P, "Packet-level (original) destination address.", _ND),
    _f("region", 4, _S, _IF, "Region of the network interface.", ""),
    _f("az-id", 4, _S, _IF, "Availability Zone ID of the network interface.", "traffic from a sublocation"),
    _f("sublocation-type", 4, _S, _IF, "wavelength, outpost or localzone.", "not from a sublocation"),
    _f("sublocation-id", 4, _S, _IF, "ID of the sublocation.", "not from a sublocation"),
    _f("pkt-src-aws-service", 5, _S, _P, "ip-ranges.json service of pkt-srcaddr (public addresses only).",
       "not an AWS service address; " + _ND),
    _f("pkt-dst-aws-service", 5, _S, _P, "ip-ranges.json service of pkt-dstaddr (public addresses only).",
       "not an AWS service address; " + _ND),
    _f("flow-direction", 5, _S, _P, "ingress or egress, relative to the recording interface.", _ND,
       values=("ingress", "egress")),
    _f("traffic-path", 5, _I32, _P, "Egress path: 1 same VPC, 2 IGW or gateway endpoint, 3 VGW, 4 intra-region "
       "peering, 5 inter-region peering, 6 local gateway, 7 gateway endpoint (Nitro), 8 IGW (Nitro).",
       "ingress records; no path applies; " + _ND),
    _f("ecs-cluster-arn", 7, _S, _P, "ECS cluster ARN of the task.", "not from an ECS task"),
    _f("ecs-cluster-name", 7, _S, _P, "ECS cluster name of the task.", "not from an ECS task"),
    _f("ecs-container-instance-arn", 7, _S, _P, "ECS container-instance ARN (EC2 launch type).",
       "Fargate; not from an ECS task"),
    _f("ecs-container-instance-id", 7, _S, _P, "ECS container-instance ID (EC2 launch type).",
       "Fargate; not from an ECS task"),
    _f("ecs-container-id", 7, _S, _P, "Docker runtime ID of the task's first container.", "not from an ECS task"),
    _f("ecs-second-container-id", 7, _S, _P, "Docker runtime ID of the task's second container.",
       "task with one container; not from an ECS task"),
    _f("ecs-service-name", 7, _S, _P, "ECS service that started the task.", "task not started by a service"),
    _f("ecs-task-definition-arn", 7, _S, _P, "ECS task definition ARN.", "not from an ECS task"),
    _f("ecs-task-arn", 7, _S, _P, "ECS task ARN.", "not from an ECS task"),
    _f("ecs-task-id", 7, _S, _P, "ECS task ID.", "not from an ECS task"),
    _f("reject-reason", 8, _S, _P, "Why traffic was rejected: BPA (VPC Block Public Access), EC (Encryption "
       "Controls).", "accepted traffic; other reject reasons"),
    _f("resource-id", 9, _S, _IF, "Resource the flow is associated with (regional NAT gateway ID).", "",
       unconfirmed="type: STRING"),
    _f("encryption-status", 10, _I32, _P, "0 not encrypted, 1 Nitro-encrypted, 2 application-encrypted, 3 both.",
       "unknown or encryption controls off", unconfirmed="type: INT_32"),
    _f("instance-tag", 11, _S, _IF, "Value of the first instance tag key of TagFieldSpecifications.",
       "tag absent", unconfirmed="type STRING; `-` when absent"),
    _f("instance-tag-2", 11, _S, _IF, "Value of the second instance tag key.", "tag absent",
       unconfirmed="type STRING; `-` when absent"),
    _f("interface-tag", 11, _S, _IF, "Value of the first network-interface tag key.", "tag absent",
       unconfirmed="type STRING; `-` when absent"),
    _f("interface-tag-2", 11, _S, _IF, "Value of the second network-interface tag key.", "tag absent",
       unconfirmed="type STRING; `-` when absent"),
    _f("asg-tag", 11, _S, _IF, "Value of the first auto-scaling-group tag key.", "tag absent",
       unconfirmed="type STRING; `-` when absent"),
    _f("asg-tag-2", 11, _S, _IF, "Value of the second auto-scaling-group tag key.", "tag absent",
       unconfirmed="type STRING; `-` when absent"),
    _f("interface-type", 11, _S, _IF, "Type of the recording interface (nat_gateway, network_load_balancer, "
       "transit_gateway, vpc_endpoint, ...).", "", unconfirmed="type STRING; plain instance ENIs: `-`"),
    _f("next-hop-interface-id", 11, _S, _P, "ENI of the next hop (egress: receiver; ingress: sender).",
       "next hop not modelled", unconfirmed="type STRING"),
    _f("next-hop-subnet-id", 11, _S, _P, "Subnet of the next-hop interface.", "next hop not modelled",
       unconfirmed="type STRING"),
    _f("next-hop-az-id", 11, _S, _P, "AZ ID of the next-hop interface.", "next hop not modelled",
       unconfirmed="type STRING"),
    _f("next-hop-vpc-id", 11, _S, _P, "VPC of the next-hop interface.", "next hop not modelled",
       unconfirmed="type STRING"),
    _f("next-hop-interface-type", 11, _S, _P, "Type of the next-hop interface.", "next hop not modelled",
       unconfirmed="type STRING"),
)


def _tgw(name: str, version: int, vt: ValueType, meaning: str) -> Field:
    return dataclasses.replace(_f(name, version, vt, _P, meaning, ""), transit_gateway=True, vpc=False)


# Transit-gateway-only fields (spec 1.8); the rest of a TGW format reuses VPC fields by name.
TGW_ONLY_FIELDS: tuple[Field, ...] = (
    _tgw("resource-type", 6, _S, "TransitGateway or TransitGatewayAttachment."),
    _tgw("tgw-id", 6, _S, "Transit gateway ID."),
    _tgw("tgw-attachment-id", 6, _S, "Transit gateway attachment ID."),
    _tgw("tgw-src-vpc-account-id", 6, _S, "Account of the source VPC."),
    _tgw("tgw-dst-vpc-account-id", 6, _S, "Account of the destination VPC."),
    _tgw("tgw-src-vpc-id", 6, _S, "Source VPC."),
    _tgw("tgw-dst-vpc-id", 6, _S, "Destination VPC."),
    _tgw("tgw-src-subnet-id", 6, _S, "Source subnet."),
    _tgw("tgw-dst-subnet-id", 6, _S, "Destination subnet."),
    _tgw("tgw-src-eni", 6, _S, "Source ENI."),
    _tgw("tgw-dst-eni", 6, _S, "Destination ENI."),
    _tgw("tgw-src-az-id", 6, _S, "Source AZ ID."),
    _tgw("tgw-dst-az-id", 6, _S, "Destination AZ ID."),
    _tgw("tgw-pair-attachment-id", 6, _S, "The paired attachment of the flow."),
    _tgw("packets-lost-no-route", 6, _I64, "Packets lost: no route."),
    _tgw("packets-lost-blackhole", 6, _I64, "Packets lost: blackhole route."),
    _tgw("packets-lost-mtu-exceeded", 6, _I64, "Packets lost: MTU exceeded."),
    _tgw("packets-lost-ttl-expired", 6, _I64, "Packets lost: TTL expired."),
)

#: The transit-gateway flow log's fields in AWS's table order (spec 1.8). The source table is truncated
#: after ``pkt-dst-aws-service``; every visible field is version <= 6, so this is also the TGW default format.
TGW_FIELD_NAMES: tuple[str, ...] = (
    "version", "resource-type", "account-id", "tgw-id", "tgw-attachment-id", "tgw-src-vpc-account-id",
    "tgw-dst-vpc-account-id", "tgw-src-vpc-id", "tgw-dst-vpc-id", "tgw-src-subnet-id", "tgw-dst-subnet-id",
    "tgw-src-eni", "tgw-dst-eni", "tgw-src-az-id", "tgw-dst-az-id", "tgw-pair-attachment-id", "srcaddr",
    "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end", "log-status", "type",
    "packets-lost-no-route", "packets-lost-blackhole", "packets-lost-mtu-exceeded", "packets-lost-ttl-expired",
    "tcp-flags", "region", "flow-direction", "pkt-src-aws-service", "pkt-dst-aws-service",
)
TGW_DEFAULT_FIELDS: tuple[str, ...] = TGW_FIELD_NAMES
TGW_DEFAULT_FORMAT: str = " ".join("${" + n + "}" for n in TGW_DEFAULT_FIELDS)

#: Every field by hyphenated name (VPC fields first, then transit-gateway-only fields).
FIELDS: dict[str, Field] = {f.name: f for f in (*VPC_FIELDS, *TGW_ONLY_FIELDS)}

#: VPC flow-log fields usable in a VPC/subnet/ENI flow log's LogFormat.
VPC_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in VPC_FIELDS)

MIN_VERSION = 2
MAX_VERSION = max(f.version for f in VPC_FIELDS)

#: The default format: all version-2 fields in table order (spec 1.2).
DEFAULT_FIELDS: tuple[str, ...] = tuple(f.name for f in VPC_FIELDS if f.version == 2)
DEFAULT_FORMAT: str = " ".join("${" + n + "}" for n in DEFAULT_FIELDS)


def to_column(name: str) -> str:
    """``pkt-srcaddr`` -> ``pkt_srcaddr``."""
    return name.replace("-", "_")


def to_field_name(column: str) -> str:
    """``pkt_srcaddr`` -> ``pkt-srcaddr``."""
    return column.replace("_", "-")


def field(name: str) -> Field:
    """The catalogue entry of a hyphenated field name (KeyError when unknown)."""
    return FIELDS[name]


def field_by_column(column: str) -> Field:
    """The catalogue entry of an underscored column name."""
    return FIELDS[to_field_name(column)]


def format_version(names: tuple[str, ...] | list[str]) -> int:
    """The ``version`` of a format: the highest version among its fields (spec 1.3, 1.6).

    AWS computes it whether or not ``${version}`` itself is chosen.
    """
    return max((FIELDS[n].version for n in names), default=MIN_VERSION)


def fields_of_version(version: int | None = None) -> tuple[Field, ...]:
    """VPC fields introduced at ``version`` (all VPC fields when None)."""
    if version is None:
        return VPC_FIELDS
    return tuple(f for f in VPC_FIELDS if f.version == version)


def athena_columns(names: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """(column, Athena type) pairs in format order, reserved words back-quoted (spec 8.1)."""
    return [(FIELDS[n].athena_column, FIELDS[n].athena_type) for n in names]
