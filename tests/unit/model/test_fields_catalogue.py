"""The field catalogue against the spec: default format (1.2), versions (1.3), Athena columns (8.1)."""

from __future__ import annotations

import pytest

from vpcflow.model.fields import (
    DEFAULT_FIELDS,
    DEFAULT_FORMAT,
    FIELDS,
    MAX_VERSION,
    TGW_DEFAULT_FIELDS,
    VPC_FIELDS,
    athena_columns,
    field_by_column,
    fields_of_version,
    format_version,
    to_column,
    to_field_name,
)

# Spec 1.2, verbatim.
SPEC_DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} "
    "${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)

# Spec 8.1 DDL column list, verbatim (versions 2-5).
SPEC_ATHENA_DDL = """
  version int, account_id string, interface_id string, srcaddr string, dstaddr string,
  srcport int, dstport int, protocol bigint, packets bigint, bytes bigint, start bigint, `end` bigint,
  action string, log_status string, vpc_id string, subnet_id string, instance_id string, tcp_flags int,
  type string, pkt_srcaddr string, pkt_dstaddr string, region string, az_id string, sublocation_type string,
  sublocation_id string, pkt_src_aws_service string, pkt_dst_aws_service string, flow_direction string, traffic_path int
"""

# Spec 1.3 "Version summary".
SPEC_VERSIONS = {
    3: "vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr",
    4: "region az-id sublocation-type sublocation-id",
    5: "pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path",
    7: "ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id ecs-container-id "
    "ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn ecs-task-id",
    8: "reject-reason",
    9: "resource-id",
    10: "encryption-status",
    11: "instance-tag instance-tag-2 interface-tag interface-tag-2 asg-tag asg-tag-2 interface-type "
    "next-hop-interface-id next-hop-subnet-id next-hop-az-id next-hop-vpc-id next-hop-interface-type",
}


def test_default_format_is_spec_1_2_exactly() -> None:
    assert DEFAULT_FORMAT == SPEC_DEFAULT_FORMAT
    assert len(DEFAULT_FIELDS) == 14
    assert format_version(DEFAULT_FIELDS) == 2


@pytest.mark.parametrize("version", sorted(SPEC_VERSIONS))
def test_fields_per_version_match_spec_1_3_summary(version: int) -> None:
    assert {f.name for f in fields_of_version(version)} == set(SPEC_VERSIONS[version].split())


def test_no_vpc_field_has_version_6_and_tgw_fields_do() -> None:
    # spec 1.3: "v6 = transit-gateway-only fields (no VPC field has version 6)"
    assert fields_of_version(6) == ()
    tgw = [f for f in FIELDS.values() if f.transit_gateway]
    assert tgw and all(f.version == 6 and not f.vpc for f in tgw)


def test_max_version_is_11() -> None:
    assert MAX_VERSION == 11


def test_athena_columns_equal_spec_8_1_ddl() -> None:
    expected = [tuple(item.split()) for item in " ".join(SPEC_ATHENA_DDL.split()).split(", ")]
    v2_to_v5 = [f.name for f in VPC_FIELDS if f.version <= 5]
    assert athena_columns(v2_to_v5) == expected
    assert len(expected) == 29


@pytest.mark.parametrize(
    ("names", "version"),
    [
        (["srcaddr", "dstaddr"], 2),
        (["instance-id", "interface-id"], 3),  # spec 7.6 NAT format, no ${version} chosen
        (["version", "vpc-id", "region"], 4),  # "fields from v2,v3,v4 -> 4" (spec 1.3)
        (["traffic-path"], 5),
        (["ecs-task-id", "srcaddr"], 7),
        (["reject-reason"], 8),
        (["resource-id"], 9),
        (["encryption-status", "version"], 10),
        (["next-hop-vpc-id", "version"], 11),
    ],
)
def test_custom_format_version_is_highest_field_version(names: list[str], version: int) -> None:
    assert format_version(names) == version


def test_parquet_types_follow_spec_1_3() -> None:
    spec = {
        "version": "INT_32", "srcport": "INT_32", "dstport": "INT_32", "protocol": "INT_32",
        "packets": "INT_64", "bytes": "INT_64", "start": "INT_64", "end": "INT_64",
        "tcp-flags": "INT_32", "traffic-path": "INT_32", "account-id": "STRING", "pkt-srcaddr": "STRING",
    }
    for name, parquet in spec.items():
        assert FIELDS[name].parquet_type == parquet, name


def test_column_names_round_trip() -> None:
    for f in FIELDS.values():
        assert "_" not in f.name
        assert to_field_name(to_column(f.name)) == f.name
        assert field_by_column(f.column) is f


def test_tgw_default_fields_are_known_and_unique() -> None:
    assert len(set(TGW_DEFAULT_FIELDS)) == len(TGW_DEFAULT_FIELDS)
    assert all(n in FIELDS for n in TGW_DEFAULT_FIELDS)
    assert "action" not in TGW_DEFAULT_FIELDS  # spec 1.8: no action field in the visible TGW table


def test_value_checks_only_where_aws_documents_them() -> None:
    assert FIELDS["action"].values == ("ACCEPT", "REJECT")
    assert FIELDS["log-status"].values == ("OK", "NODATA", "SKIPDATA")
    assert (FIELDS["srcport"].min_value, FIELDS["srcport"].max_value) == (0, 65535)
    assert FIELDS["protocol"].max_value == 255
    assert FIELDS["bytes"].max_value == 2**63 - 1
    assert FIELDS["reject-reason"].values == ()  # BPA, EC, maybe more to come: not enumerated
