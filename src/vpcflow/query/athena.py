"""Athena CREATE TABLE statements for a flow log's format and S3 location (spec 8.1).

Columns come from the field catalogue in the flow log's format order (Athena reads space-delimited
text by position), with AWS's Athena types and reserved words back-quoted. Partitions follow the
flow log's S3 layout, with partition projection so no ``ALTER TABLE ADD PARTITION`` is needed:

* default layout   ``.../AWSLogs/<account>/vpcflowlogs/<region>/yyyy/MM/dd[/HH]/``
* Hive layout      ``.../AWSLogs/aws-account-id=<a>/aws-service=vpcflowlogs/aws-region=<r>/year=/month=/day=[/hour=]/``

Parquet files get the ParquetHiveSerDe; text files ``skip.header.line.count = 1`` (spec 1.7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vpcflow.model.fields import FIELDS, to_column
from vpcflow.model.flowlog import DestinationOptions, FlowLog

_TEXT_STORAGE = "ROW FORMAT DELIMITED\nFIELDS TERMINATED BY ' '"
_PARQUET_STORAGE = (
    "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'\n"
    "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'\n"
    "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'"
)


@dataclass(frozen=True)
class AthenaTable:
    """What the DDL was built from; ``partitions`` are (name, type) in path order."""

    table_name: str
    columns: tuple[tuple[str, str], ...]
    partitions: tuple[tuple[str, str], ...]
    location: str
    ddl: str


def _quote(name: str) -> str:
    return f"`{name}`"


def athena_table(
    flow_log: FlowLog,
    *,
    table_name: str = "vpc_flow_logs",
    regions: Sequence[str] | None = None,
    start_date: str = "2021/01/01",
) -> AthenaTable:
    """The Athena table for an S3 flow log (raises ValueError for other destinations)."""
    if flow_log.log_destination_type != "s3" or not flow_log.s3_bucket:
        raise ValueError(f"{flow_log.flow_log_id} does not deliver to S3; Athena reads S3 objects only")
    opts = flow_log.destination_options or DestinationOptions()
    columns = tuple((FIELDS[n].athena_column, FIELDS[n].athena_type) for n in flow_log.field_names)
    regions = list(regions) if regions else [flow_log.region]
    root = f"s3://{flow_log.s3_bucket}/{flow_log.s3_prefix}AWSLogs/"
    props: list[tuple[str, str]] = []
    if opts.file_format == "plain-text":
        props.append(("skip.header.line.count", "1"))
    props.append(("projection.enabled", "true"))
    if opts.hive_compatible_partitions:
        layout = _hive_layout(root, flow_log.account_id, regions, start_date, opts.per_hour_partition)
    else:
        layout = _plain_layout(root, flow_log.account_id, regions, start_date, opts.per_hour_partition)
        # `region` as a partition replaces the `region` field column of the same name (as AWS's doc does).
        columns = tuple(c for c in columns if c[0] != "region")
    props += layout.props
    props.append(("storage.location.template", layout.template))
    storage = _PARQUET_STORAGE if opts.file_format == "parquet" else _TEXT_STORAGE
    col_sql = ",\n".join(f"  {name} {typ}" for name, typ in columns)
    part_sql = ", ".join(f"{_quote(name)} {typ}" for name, typ in layout.partitions)
    prop_sql = ",\n".join(f"  '{k}'='{v}'" for k, v in props)
    ddl = (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{table_name}` (\n{col_sql}\n)\n"
        f"PARTITIONED BY ({part_sql})\n{storage}\n"
        f"LOCATION '{layout.location}'\n"
        f"TBLPROPERTIES (\n{prop_sql}\n);"
    )
    return AthenaTable(
        table_name=table_name,
        columns=columns,
        partitions=tuple(layout.partitions),
        location=layout.location,
        ddl=ddl,
    )


@dataclass(frozen=True)
class _Layout:
    """How a key layout maps onto Athena: partition columns, table location, projection properties."""

    partitions: list[tuple[str, str]]
    location: str
    props: list[tuple[str, str]]
    template: str


_HOUR_PROJECTION = [
    ("projection.hour.type", "integer"),
    ("projection.hour.range", "0,23"),
    ("projection.hour.digits", "2"),
]


def _hive_layout(root: str, account: str, regions: list[str], start_date: str, per_hour: bool) -> _Layout:
    """Hive-compatible keys (``aws-account-id=.../year=.../month=...``): one partition per key level."""
    partitions = [(name, "string") for name in ("aws-account-id", "aws-service", "aws-region", "year", "month", "day")]
    props = [
        ("projection.aws-account-id.type", "enum"),
        ("projection.aws-account-id.values", account),
        ("projection.aws-service.type", "enum"),
        ("projection.aws-service.values", "vpcflowlogs"),
        ("projection.aws-region.type", "enum"),
        ("projection.aws-region.values", ",".join(regions)),
        ("projection.year.type", "integer"),
        ("projection.year.range", f"{start_date[:4]},2100"),
        ("projection.month.type", "integer"),
        ("projection.month.range", "1,12"),
        ("projection.month.digits", "2"),
        ("projection.day.type", "integer"),
        ("projection.day.range", "1,31"),
        ("projection.day.digits", "2"),
    ]
    template = (
        root + "aws-account-id=${aws-account-id}/aws-service=${aws-service}/aws-region=${aws-region}/"
        "year=${year}/month=${month}/day=${day}"
    )
    if per_hour:
        partitions.append(("hour", "string"))
        props += _HOUR_PROJECTION
        template += "/hour=${hour}"
    return _Layout(partitions, root, props, template)


def _plain_layout(root: str, account: str, regions: list[str], start_date: str, per_hour: bool) -> _Layout:
    """The default keys: spec 8.1 partition projection on region and day (yyyy/MM/dd), per-hour adds an hour."""
    location = f"{root}{account}/vpcflowlogs/"
    partitions = [("region", "string"), ("day", "string")]
    props = [
        ("projection.region.type", "enum"),
        ("projection.region.values", ",".join(regions)),
        ("projection.day.type", "date"),
        ("projection.day.range", f"{start_date},NOW"),
        ("projection.day.format", "yyyy/MM/dd"),
    ]
    template = f"{location}${{region}}/${{day}}"
    if per_hour:
        partitions.append(("hour", "string"))
        props += _HOUR_PROJECTION
        template += "/${hour}"
    return _Layout(partitions, location, props, template)


def column_names(flow_log: FlowLog) -> list[str]:
    """Underscored column names of a flow log's format, in order."""
    return [to_column(n) for n in flow_log.field_names]
