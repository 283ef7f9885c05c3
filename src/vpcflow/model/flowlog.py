"""A flow-log subscription: immutable after creation (tags aside, which live in the state store).

Attribute names are the snake_case of AWS's FlowLog members (spec 6.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from vpcflow.model.fields import DEFAULT_FORMAT

ResourceType = Literal["VPC", "Subnet", "NetworkInterface"]
TrafficType = Literal["ACCEPT", "REJECT", "ALL"]
LogDestinationType = Literal["cloud-watch-logs", "s3", "kinesis-data-firehose"]
FileFormat = Literal["plain-text", "parquet"]


@dataclass(frozen=True, slots=True)
class DestinationOptions:
    file_format: FileFormat = "plain-text"
    hive_compatible_partitions: bool = False
    per_hour_partition: bool = False


@dataclass(frozen=True, slots=True)
class TagFieldSpecification:
    resource_type: Literal["network-interface", "instance", "auto-scaling-group"]
    tag_keys: tuple[str, ...]


@dataclass(frozen=True)
class FlowLog:
    flow_log_id: str  # fl- + 17 hex
    account_id: str  # the creator's account
    region: str
    resource_id: str
    resource_type: ResourceType
    traffic_type: TrafficType
    log_destination_type: LogDestinationType
    creation_time: datetime  # timezone-aware UTC
    log_destination: str | None = None  # ARN (s3 bucket[/prefix/], log group, firehose stream)
    log_group_name: str | None = None
    deliver_logs_permission_arn: str | None = None
    deliver_cross_account_role: str | None = None
    log_format: str = DEFAULT_FORMAT
    max_aggregation_interval: int = 600
    destination_options: DestinationOptions | None = None  # S3 only (echoed with defaults)
    tag_field_specifications: tuple[TagFieldSpecification, ...] = field(default_factory=tuple)
    flow_log_status: str = "ACTIVE"

    @property
    def arn(self) -> str:
        return f"arn:aws:ec2:{self.region}:{self.account_id}:vpc-flow-log/{self.flow_log_id}"

    @property
    def field_names(self) -> tuple[str, ...]:
        """The format's hyphenated field names in order (the format was validated at creation)."""
        return tuple(tok[2:-1] for tok in self.log_format.split(" "))

    @property
    def s3_bucket(self) -> str | None:
        """Bucket name of an S3 destination ARN ``arn:aws:s3:::bucket[/prefix/]``."""
        if self.log_destination_type != "s3" or not self.log_destination:
            return None
        return self.log_destination.removeprefix("arn:aws:s3:::").split("/", 1)[0]

    @property
    def s3_prefix(self) -> str:
        """The optional subfolder of an S3 destination, with its trailing slash, or ``""``."""
        if self.log_destination_type != "s3" or not self.log_destination:
            return ""
        rest = self.log_destination.removeprefix("arn:aws:s3:::")
        if "/" not in rest:
            return ""
        prefix = rest.split("/", 1)[1].strip("/")
        return prefix + "/" if prefix else ""
