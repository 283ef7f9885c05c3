"""Parameter rules of CreateFlowLogs / DescribeFlowLogs / DeleteFlowLogs / CreateTags / DeleteTags (spec 6.1, 6.5).

Everything here is pure: it looks at the request only, never at resources, because AWS checks its
parameter rules before it looks anything up (a fresh account answers parameter errors, not NotFound).
The order of the checks is AWS's where recorded (spec 6.5, localstack snapshots [A7]) and otherwise
the order of the API reference's parameter table; docs/controlplane.md lists every message.

The result of :func:`validate_create` is a normalised :class:`CreateRequest`, whose
:meth:`CreateRequest.fingerprint` identifies "the same parameters" for ClientToken idempotency.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from vpcflow.core.api_errors import (
    ImmutableFlowLogError,
    InvalidParameterError,
    InvalidParameterValueError,
    MissingParameterError,
    UnsupportedOperationError,
)
from vpcflow.core.errors import ApiError

#: botocore 1.44.8's ResourceType enum (spec 2.8); vpcflow models the first three.
ALL_RESOURCE_TYPES = (
    "VPC",
    "Subnet",
    "NetworkInterface",
    "TransitGateway",
    "TransitGatewayAttachment",
    "RegionalNatGateway",
    "CoreNetwork",
    "CoreNetworkEdge",
    "CoreNetworkAttachment",
)
SUPPORTED_RESOURCE_TYPES = ("VPC", "Subnet", "NetworkInterface")
TRAFFIC_TYPES = ("ACCEPT", "REJECT", "ALL")
LOG_DESTINATION_TYPES = ("cloud-watch-logs", "s3", "kinesis-data-firehose")
FILE_FORMATS = ("plain-text", "parquet")
MAX_RESOURCE_IDS = 300  # botocore 1.44.8, non-TGW types (spec 6.1)
MAX_FLOW_LOG_IDS = 1000  # spec 6.6
MAX_TAGS_PER_RESOURCE = 50  # EC2's tag quota per resource
AGGREGATION_INTERVALS = (60, 600)
TAG_RESOURCE_TYPE = "vpc-flow-log"
TAG_FIELD_RESOURCE_TYPES = ("network-interface", "instance", "auto-scaling-group")

CREATE_PARAMS = frozenset(
    {
        "DryRun", "ClientToken", "DeliverLogsPermissionArn", "DeliverCrossAccountRole", "LogGroupName",
        "ResourceIds", "ResourceType", "TrafficType", "LogDestinationType", "LogDestination", "LogFormat",
        "TagSpecifications", "MaxAggregationInterval", "DestinationOptions", "TagFieldSpecifications",
    }
)  # fmt: skip
DESCRIBE_PARAMS = frozenset({"DryRun", "Filter", "FlowLogIds", "MaxResults", "NextToken"})  # boto3: Filter
DELETE_PARAMS = frozenset({"DryRun", "FlowLogIds"})
TAGS_PARAMS = frozenset({"DryRun", "Resources", "Tags"})

# Parameters of ModifyFlowLogs-like calls that do not exist in AWS: a clear refusal (spec 2.9).
_MUTATING_HINT = "flow logs are immutable"

_S3_ARN = re.compile(r"^arn:aws:s3:::(?P<bucket>[^/]+)(?P<path>/.*)?$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_LOGS_ARN = re.compile(
    r"^arn:aws:logs:(?P<region>[a-z0-9\-]+):(?P<account>\d{12}):log-group:(?P<name>[^:]+)(?P<star>:\*)?$"
)
_LOG_GROUP_NAME = re.compile(r"^[\.\-_/#A-Za-z0-9]{1,512}$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::(?P<account>\d{12}):role/(?P<name>[\w+=,.@\-/]+)$")
_FIREHOSE_ARN = re.compile(r"^arn:aws:firehose:[a-z0-9\-]+:\d{12}:deliverystream/.+$")


@dataclass(frozen=True)
class CreateRequest:
    """A validated, normalised CreateFlowLogs request (defaults applied)."""

    resource_ids: tuple[str, ...]
    resource_type: str
    traffic_type: str
    log_destination_type: str
    log_destination: str | None  # normalised: S3 ARN as given; CWL always the log-group ARN
    log_group_name: str | None  # CWL only, derived from the ARN when LogDestination was given
    deliver_logs_permission_arn: str | None
    log_format: str | None  # as given (None: the default format)
    max_aggregation_interval: int
    destination_options: tuple[str, bool, bool] | None  # S3 only, defaults applied
    tags: tuple[tuple[str, str], ...]
    tag_field_specifications: tuple[tuple[str, tuple[str, ...]], ...]
    client_token: str | None
    dry_run: bool
    log_group_arn_star: bool = False  # LogDestination ended in ":*" (CFN GetAtt form; spec 3)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def s3_bucket(self) -> str | None:
        if self.log_destination_type != "s3" or self.log_destination is None:
            return None
        return self.log_destination.removeprefix("arn:aws:s3:::").split("/", 1)[0]

    def fingerprint(self) -> str:
        """Canonical JSON of every parameter except ClientToken and DryRun (idempotency key)."""
        params = {k: v for k, v in self.raw.items() if k not in ("ClientToken", "DryRun")}
        return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


# ---------------------------------------------------------------------------------------------- generic


def check_known(params: dict[str, Any], allowed: frozenset[str], operation: str) -> None:
    """Unknown parameter names are refused the way botocore's validator words it."""
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidParameterValueError(
            f'Unknown parameter in input: "{unknown[0]}" for {operation}, must be one of: {", ".join(sorted(allowed))}'
        )


def _type_error(name: str, value: Any, valid: str) -> InvalidParameterValueError:
    return InvalidParameterValueError(
        f"Invalid type for parameter {name}, value: {value!r}, type: {type(value).__name__}, valid types: {valid}"
    )


def opt_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _type_error(name, value, "<class 'str'>")
    return value


def opt_bool(params: dict[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _type_error(name, value, "<class 'bool'>")
    return value


def str_list(params: dict[str, Any], name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _type_error(name, value, "<class 'list'>, <class 'tuple'> of <class 'str'>")
    return list(value)


def _enum_error(name: str, value: str, valid: tuple[str, ...]) -> InvalidParameterValueError:
    return InvalidParameterValueError(
        f"Value ({value}) for parameter {name} is invalid. Valid values: {', '.join(valid)}"
    )


def validate_flow_log_ids(params: dict[str, Any], *, required: bool) -> list[str]:
    """FlowLogIds of Describe/Delete: max 1000; a null or empty id is AWS's validation error (spec 6.4)."""
    ids = str_list(params, "FlowLogIds")
    if ids is None or (required and not ids):
        if required:
            raise MissingParameterError("The request must contain the parameter FlowLogIds")
        return []
    if len(ids) > MAX_FLOW_LOG_IDS:
        raise InvalidParameterValueError(
            "1 validation error detected: Value at 'flowLogIds' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_FLOW_LOG_IDS}"
        )
    for i in ids:
        if not i:
            raise InvalidParameterValueError(
                "1 validation error detected: Value null at 'flowLogId' has an invalid format"
            )
    return ids


# ---------------------------------------------------------------------------------------------- tags


def validate_tags(
    tags: Any, *, where: str = "Tags", allow_missing_value: bool = False
) -> tuple[tuple[str, str | None], ...]:
    """A list of ``{"Key", "Value"}``: key 1-127 chars not starting ``aws:``, value <= 256 chars (spec 6.1).

    A missing Value is ``""`` unless ``allow_missing_value`` (DeleteTags: None = any value).
    """
    if not isinstance(tags, list | tuple):
        raise _type_error(where, tags, "<class 'list'>, <class 'tuple'>")
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for tag in tags:
        if not isinstance(tag, dict) or set(tag) - {"Key", "Value"}:
            raise InvalidParameterValueError(f"Invalid tag {tag!r} in {where}: expected {{'Key': ..., 'Value': ...}}")
        key = tag.get("Key")
        value = tag.get("Value")
        if not isinstance(key, str):
            raise MissingParameterError(f"The request must contain the parameter {where}.N.Key")
        if value is None and not allow_missing_value:
            value = ""
        if value is not None and not isinstance(value, str):
            raise _type_error(f"{where}.Value", value, "<class 'str'>")
        if not key or len(key) > 127:
            raise InvalidParameterValueError(
                f"Value ( {key} ) for parameter key is invalid. Tag keys must be between 1 and 127 characters"
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameterValueError(
                f"Value ( {key} ) for parameter key is invalid. "
                "Tag keys starting with 'aws:' are reserved for internal use"
            )
        if value is not None and len(value) > 256:
            raise InvalidParameterValueError(
                f"Value ( {value} ) for parameter value is invalid. Tag values must be at most 256 characters"
            )
        if key in seen:
            raise InvalidParameterValueError(f"Duplicate tag key '{key}' specified.")
        seen.add(key)
        out.append((key, value))
    if len(out) > MAX_TAGS_PER_RESOURCE:
        raise ApiError(
            f"The maximum number of tags per resource ({MAX_TAGS_PER_RESOURCE}) was exceeded.", code="TagLimitExceeded"
        )
    return tuple(out)


def validate_tag_specifications(value: Any) -> tuple[tuple[str, str], ...]:
    """TagSpecifications of CreateFlowLogs: every ResourceType must be ``vpc-flow-log`` (spec 6.1)."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise _type_error("TagSpecifications", value, "<class 'list'>, <class 'tuple'>")
    tags: list[dict[str, Any]] = []
    for spec in value:
        if not isinstance(spec, dict):
            raise _type_error("TagSpecifications", spec, "<class 'dict'>")
        rtype = spec.get("ResourceType")
        if rtype is None:
            raise MissingParameterError("The request must contain the parameter TagSpecification.N.ResourceType")
        if rtype != TAG_RESOURCE_TYPE:
            raise InvalidParameterValueError(f"'{rtype}' is not a valid taggable resource type for this operation.")
        tags.extend(spec.get("Tags") or [])
    return tuple((k, v or "") for k, v in validate_tags(tags, where="TagSpecifications.Tags"))


# ---------------------------------------------------------------------------------------------- create


def _validate_s3_destination(dest: str) -> None:
    m = _S3_ARN.match(dest)
    if not m or not _BUCKET_NAME.match(m.group("bucket")):
        raise InvalidParameterValueError(
            f"LogDestination: {dest} is not a valid S3 bucket ARN (arn:aws:s3:::bucket_name[/subfolder/])"
        )
    path = m.group("path") or ""
    segments = [s for s in path.split("/") if s]
    # Spec 4: "AWSLogs" is reserved and cannot be the subfolder name (any segment, case-sensitive: decided).
    if "AWSLogs" in segments:
        raise InvalidParameterValueError(
            f"LogDestination: {dest} uses the reserved folder name AWSLogs as a subfolder; choose another subfolder"
        )


def _validate_destination_options(value: Any, destination_type: str) -> tuple[str, bool, bool] | None:
    if value is None:
        # Spec 4: S3 flow logs echo the defaults even when none were given.
        return ("plain-text", False, False) if destination_type == "s3" else None
    if destination_type != "s3":
        raise InvalidParameterError("DestinationOptions is only applicable for s3 delivery")
    if not isinstance(value, dict):
        raise _type_error("DestinationOptions", value, "<class 'dict'>")
    unknown = set(value) - {"FileFormat", "HiveCompatiblePartitions", "PerHourPartition"}
    if unknown:
        raise InvalidParameterValueError(f'Unknown parameter in DestinationOptions: "{sorted(unknown)[0]}"')
    fmt = value.get("FileFormat", "plain-text")
    if fmt not in FILE_FORMATS:
        raise _enum_error("DestinationOptions.FileFormat", str(fmt), FILE_FORMATS)
    hive = opt_bool(value, "HiveCompatiblePartitions")
    hour = opt_bool(value, "PerHourPartition")
    return (fmt, hive, hour)


def _validate_tag_field_specifications(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= 3:
        raise InvalidParameterValueError("TagFieldSpecifications must contain between 1 and 3 items")
    out: list[tuple[str, tuple[str, ...]]] = []
    for spec in value:
        if not isinstance(spec, dict):
            raise _type_error("TagFieldSpecifications", spec, "<class 'dict'>")
        rtype = spec.get("ResourceType")
        if rtype not in TAG_FIELD_RESOURCE_TYPES:
            raise _enum_error("TagFieldSpecifications.ResourceType", str(rtype), TAG_FIELD_RESOURCE_TYPES)
        keys = spec.get("TagKeys")
        if not isinstance(keys, list | tuple) or not 1 <= len(keys) <= 2:
            raise InvalidParameterValueError("TagFieldSpecifications.TagKeys must contain 1 or 2 keys")
        for k in keys:
            if not isinstance(k, str) or not 1 <= len(k) <= 128:
                raise InvalidParameterValueError(
                    f"TagFieldSpecifications.TagKeys: invalid tag key {k!r} (1-128 characters)"
                )
        out.append((rtype, tuple(keys)))
    return tuple(out)


def validate_create(params: dict[str, Any], *, region: str, account_id: str) -> CreateRequest:
    """Every parameter rule of CreateFlowLogs, in AWS's order; raises the first violation.

    The steps below run in that order too: the first violation AWS reports is the first one raised.
    """
    if "FlowLogId" in params or "FlowLogIds" in params:
        raise ImmutableFlowLogError("CreateFlowLogs cannot target an existing flow log: " + _MUTATING_HINT)
    check_known(params, CREATE_PARAMS, "CreateFlowLogs")
    dry_run = opt_bool(params, "DryRun")
    client_token = opt_str(params, "ClientToken")
    if client_token is not None and (len(client_token) > 64 or not client_token.isascii()):
        raise InvalidParameterValueError("ClientToken must be at most 64 ASCII characters")

    resource_ids, resource_type = _validate_resources(params)
    traffic_type = opt_str(params, "TrafficType")
    if traffic_type is None:
        raise MissingParameterError(
            f"The request must contain the parameter TrafficType (required for ResourceType {resource_type})"
        )
    if traffic_type not in TRAFFIC_TYPES:
        raise _enum_error("TrafficType", traffic_type, TRAFFIC_TYPES)

    destination_type = opt_str(params, "LogDestinationType") or "cloud-watch-logs"
    if destination_type not in LOG_DESTINATION_TYPES:
        raise _enum_error("LogDestinationType", destination_type, LOG_DESTINATION_TYPES)
    group = opt_str(params, "LogGroupName")
    destination = opt_str(params, "LogDestination")
    _check_group_or_destination(group, destination, destination_type)
    role = _validate_roles(params, destination_type, destination)
    group, log_destination, star = _resolve_destination(destination_type, group, destination, region, account_id)

    interval = params.get("MaxAggregationInterval", 600)
    if isinstance(interval, bool) or not isinstance(interval, int):
        raise _type_error("MaxAggregationInterval", interval, "<class 'int'>")
    if interval not in AGGREGATION_INTERVALS:
        raise InvalidParameterError("Invalid Flow Log Max Aggregation Interval")

    return CreateRequest(
        resource_ids=tuple(resource_ids),
        resource_type=resource_type,
        traffic_type=traffic_type,
        log_destination_type=destination_type,
        log_destination=log_destination,
        log_group_name=group if destination_type == "cloud-watch-logs" else None,
        deliver_logs_permission_arn=role,
        log_format=opt_str(params, "LogFormat"),
        max_aggregation_interval=interval,
        destination_options=_validate_destination_options(params.get("DestinationOptions"), destination_type),
        tags=validate_tag_specifications(params.get("TagSpecifications")),
        tag_field_specifications=_validate_tag_field_specifications(params.get("TagFieldSpecifications")),
        client_token=client_token,
        dry_run=dry_run,
        log_group_arn_star=star,
        raw=dict(params),
    )


def _validate_resources(params: dict[str, Any]) -> tuple[list[str], str]:
    """ResourceIds and ResourceType: the required members first (botocore's model)."""
    resource_ids = str_list(params, "ResourceIds")
    if not resource_ids:
        raise MissingParameterError("The request must contain the parameter ResourceIds")
    resource_type = opt_str(params, "ResourceType")
    if resource_type is None:
        raise MissingParameterError("The request must contain the parameter ResourceType")
    if resource_type not in ALL_RESOURCE_TYPES:
        raise _enum_error("ResourceType", resource_type, ALL_RESOURCE_TYPES)
    if resource_type not in SUPPORTED_RESOURCE_TYPES:
        raise UnsupportedOperationError(
            f"vpcflow models flow logs for VPC, Subnet and NetworkInterface resources only; "
            f"ResourceType {resource_type} is not supported"
        )
    if len(resource_ids) > MAX_RESOURCE_IDS:
        raise InvalidParameterValueError(
            "1 validation error detected: Value at 'resourceIds' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_RESOURCE_IDS}"
        )
    if any(not r for r in resource_ids):
        raise InvalidParameterValueError(
            "1 validation error detected: Value null at 'resourceId' has an invalid format"
        )
    if len(set(resource_ids)) != len(resource_ids):
        # Decided (AWS silent): a repeated id would create two identical flow logs; refuse it.
        dup = next(r for r in resource_ids if resource_ids.count(r) > 1)
        raise InvalidParameterValueError(f"Duplicate resource id '{dup}' in ResourceIds")
    return resource_ids, resource_type


def _check_group_or_destination(group: str | None, destination: str | None, destination_type: str) -> None:
    """LogGroupName vs LogDestination (spec 6.5, AWS-RECORDED wording and order)."""
    if group is not None and destination is not None:
        raise InvalidParameterError("Please only provide LogGroupName or only provide LogDestination.")
    if group is not None and destination_type != "cloud-watch-logs":
        raise InvalidParameterError("LogDestination type must be cloud-watch-logs if LogGroupName is provided.")
    if group is None and not destination:
        raise InvalidParameterError("LogDestination can't be empty if LogGroupName is not provided.")


def _validate_roles(params: dict[str, Any], destination_type: str, destination: str | None) -> str | None:
    """DeliverLogsPermissionArn and DeliverCrossAccountRole against the destination type; the role ARN."""
    role = opt_str(params, "DeliverLogsPermissionArn")
    cross_role = opt_str(params, "DeliverCrossAccountRole")
    if destination_type == "cloud-watch-logs" and not role:
        raise InvalidParameterError(
            "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs."
        )
    if destination_type == "s3" and role:
        # Spec 4 / 6.5: code UNCONFIRMED; InvalidParameter like the other destination rules.
        raise InvalidParameterError("DeliverLogsPermissionArn is not applicable for s3 delivery")
    if destination_type == "kinesis-data-firehose":
        if destination is not None and not _FIREHOSE_ARN.match(destination):
            raise InvalidParameterValueError(f"LogDestination: {destination} is not a valid delivery stream ARN")
        raise UnsupportedOperationError(
            "vpcflow has no Kinesis Data Firehose destination; use LogDestinationType s3 or cloud-watch-logs"
        )
    if cross_role is not None:
        raise InvalidParameterError("DeliverCrossAccountRole is only applicable for kinesis-data-firehose delivery")
    if role is not None and not _ROLE_ARN.match(role):
        raise InvalidParameterValueError(
            f"DeliverLogsPermissionArn: {role} is not a valid IAM role ARN (arn:aws:iam::account_id:role/name)"
        )
    return role


def _resolve_destination(
    destination_type: str, group: str | None, destination: str | None, region: str, account_id: str
) -> tuple[str | None, str | None, bool]:
    """The log group name, the destination ARN and whether the ARN ended in ``:*``."""
    if destination_type == "s3":
        assert destination is not None
        _validate_s3_destination(destination)
        return group, destination, False
    if group is not None:
        if not _LOG_GROUP_NAME.match(group):
            raise InvalidParameterValueError(
                f"LogGroupName: {group!r} is invalid: 1-512 characters from [.-_/#A-Za-z0-9]"
            )
        return group, f"arn:aws:logs:{region}:{account_id}:log-group:{group}", False
    assert destination is not None
    m = _LOGS_ARN.match(destination)
    if not m or not _LOG_GROUP_NAME.match(m.group("name")):
        raise InvalidParameterValueError(
            f"LogDestination: {destination} is not a valid log group ARN "
            "(arn:aws:logs:region:account_id:log-group:name)"
        )
    if m.group("region") != region:
        raise InvalidParameterValueError(
            f"LogDestination: {destination} is in region {m.group('region')}, but this account's region "
            f"is {region}; a flow log delivers to a log group in its own region"
        )
    group = m.group("name")
    arn = f"arn:aws:logs:{m.group('region')}:{m.group('account')}:log-group:{group}"
    return group, arn, m.group("star") is not None


def refuse_modification(operation: str = "ModifyFlowLogs") -> ImmutableFlowLogError:
    """The error for any attempt to change a flow log (there is no such AWS operation; spec 2.9)."""
    return ImmutableFlowLogError(f"{operation} does not exist")
