"""Athena DDL derived from a flow log's format and S3 layout (spec 8.1, 4)."""

from __future__ import annotations

import datetime as dt

import pytest

from vpcflow.model.fields import DEFAULT_FORMAT
from vpcflow.model.flowlog import DestinationOptions, FlowLog
from vpcflow.query.athena import athena_table

V5 = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} "
    "${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${subnet-id} ${instance-id} ${tcp-flags} ${type} "
    "${pkt-srcaddr} ${pkt-dstaddr} ${region} ${az-id} ${sublocation-type} ${sublocation-id} "
    "${pkt-src-aws-service} ${pkt-dst-aws-service} ${flow-direction} ${traffic-path}"
)


def _fl(fmt: str = DEFAULT_FORMAT, dest: str = "arn:aws:s3:::my-bucket/prefix/", **opts: bool | str) -> FlowLog:
    return FlowLog(
        flow_log_id="fl-0123456789abcdef0",
        account_id="123456789012",
        region="us-east-1",
        resource_id="vpc-0123456789abcdef0",
        resource_type="VPC",
        traffic_type="ALL",
        log_destination_type="s3",
        log_destination=dest,
        log_format=fmt,
        creation_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        destination_options=DestinationOptions(**opts),  # type: ignore[arg-type]
    )


def test_spec_8_1_v5_columns_in_format_order_with_athena_types() -> None:
    t = athena_table(_fl(V5))
    # spec 8.1 lists these 29 columns; in the projection variant `region` is a partition instead.
    expected = (
        "version int, account_id string, interface_id string, srcaddr string, dstaddr string, srcport int, "
        "dstport int, protocol bigint, packets bigint, bytes bigint, start bigint, `end` bigint, action string, "
        "log_status string, vpc_id string, subnet_id string, instance_id string, tcp_flags int, type string, "
        "pkt_srcaddr string, pkt_dstaddr string, az_id string, sublocation_type string, "
        "sublocation_id string, pkt_src_aws_service string, pkt_dst_aws_service string, flow_direction string, "
        "traffic_path int"
    )
    assert ", ".join(f"{c} {t}" for c, t in t.columns) == expected
    assert t.partitions == (("region", "string"), ("day", "string"))
    assert t.location == "s3://my-bucket/prefix/AWSLogs/123456789012/vpcflowlogs/"
    assert "'projection.day.format'='yyyy/MM/dd'" in t.ddl
    assert "'storage.location.template'='s3://my-bucket/prefix/AWSLogs/123456789012/vpcflowlogs/${region}/${day}'" in t.ddl
    assert "'skip.header.line.count'='1'" in t.ddl


def test_hive_per_hour_parquet_partitions_and_serde() -> None:
    t = athena_table(_fl(dest="arn:aws:s3:::b", file_format="parquet", hive_compatible_partitions=True,
                         per_hour_partition=True))
    assert [p for p, _ in t.partitions] == ["aws-account-id", "aws-service", "aws-region", "year", "month", "day",
                                            "hour"]
    assert t.location == "s3://b/AWSLogs/"
    assert "ParquetHiveSerDe" in t.ddl and "skip.header.line.count" not in t.ddl
    assert "/year=${year}/month=${month}/day=${day}/hour=${hour}'" in t.ddl


def test_default_layout_per_hour_adds_hour_partition() -> None:
    t = athena_table(_fl(per_hour_partition=True))
    assert [p for p, _ in t.partitions] == ["region", "day", "hour"]
    assert t.ddl.count("${hour}") == 1


def test_non_s3_flow_log_is_refused() -> None:
    fl = _fl()
    cw = FlowLog(**{**fl.__dict__, "log_destination_type": "cloud-watch-logs", "log_destination": None,
                    "log_group_name": "g", "destination_options": None})
    with pytest.raises(ValueError, match="does not deliver to S3"):
        athena_table(cw)
