"""DescribeFlowLogs: filters, FlowLogIds, MaxResults/NextToken, and the response shape (spec 6.3).

Filters are AND-ed, the values of one filter OR-ed, matching is case-sensitive; values may use the
EC2 wildcards ``*`` and ``?`` (a vpcflow choice: EC2 filters generally accept them, the flow-log page
is silent). ``NextToken`` is opaque: base64 of the creation sequence number of the next item plus a
hash of the request, so a token from another request is refused instead of silently mis-paging.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from vpcflow.controlplane.validation import (
    DESCRIBE_PARAMS,
    check_known,
    opt_bool,
    opt_str,
    validate_flow_log_ids,
)
from vpcflow.core.api_errors import InvalidParameterValueError
from vpcflow.storage.state import StoredFlowLog

FILTER_NAMES = (
    "deliver-log-status",
    "log-destination-type",
    "flow-log-id",
    "log-group-name",
    "resource-id",
    "traffic-type",
    "tag-key",
)
MIN_RESULTS, MAX_RESULTS = 5, 1000  # UNCONFIRMED range (spec 6.3): EC2's usual describe bounds

Matcher = Callable[[StoredFlowLog], Sequence[str | None]]

_FIELDS: dict[str, Matcher] = {
    "deliver-log-status": lambda s: [s.deliver_logs_status],
    "log-destination-type": lambda s: [s.flow_log.log_destination_type],
    "flow-log-id": lambda s: [s.flow_log.flow_log_id],
    "log-group-name": lambda s: [s.flow_log.log_group_name],
    "resource-id": lambda s: [s.flow_log.resource_id],
    "traffic-type": lambda s: [s.flow_log.traffic_type],
    "tag-key": lambda s: [k for k, _ in s.tags],
}


def _glob(pattern: str) -> str:
    """``*`` and ``?`` only (no ``[...]`` classes), case-sensitive."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def parse_filters(raw: Any) -> list[tuple[str, list[str]]]:
    """boto3's ``Filter=[{"Name": ..., "Values": [...]}]`` -> ``[(name, values)]``, validated."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise InvalidParameterValueError(f"Invalid type for parameter Filter, value: {raw!r}, valid types: list")
    out: list[tuple[str, list[str]]] = []
    for f in raw:
        if not isinstance(f, dict) or not isinstance(f.get("Name"), str):
            raise InvalidParameterValueError(f"Invalid filter {f!r}: expected {{'Name': ..., 'Values': [...]}}")
        name = f["Name"]
        values = f.get("Values") or []
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            raise InvalidParameterValueError(f"Invalid type for parameter Filter.Values of filter '{name}'")
        if name not in FILTER_NAMES and not (name.startswith("tag:") and len(name) > 4):
            raise InvalidParameterValueError(f"The filter '{name}' is invalid")
        out.append((name, list(values)))
    return out


def matches(item: StoredFlowLog, filters: Sequence[tuple[str, list[str]]]) -> bool:
    for name, values in filters:
        if name.startswith("tag:"):
            key = name[4:]
            candidates: Sequence[str | None] = [v for k, v in item.tags if k == key]
        else:
            candidates = _FIELDS[name](item)
        if not any(_match(p, c) for p in values for c in candidates):
            return False
    return True


def _match(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    if "*" in pattern or "?" in pattern:
        return re.fullmatch(_glob(pattern), value) is not None
    return pattern == value


def _request_hash(params: dict[str, Any]) -> str:
    body = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults", "DryRun")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _encode_token(seq: int, request_hash: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": seq, "h": request_hash}).encode()).decode()


def _decode_token(token: str, request_hash: str) -> int:
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        seq, h = int(body["s"]), str(body["h"])
    except (ValueError, KeyError, TypeError, RecursionError) as e:  # RecursionError: a crafted, deeply nested token
        raise InvalidParameterValueError(f"The NextToken value '{token}' is invalid") from e
    if h != request_hash:
        raise InvalidParameterValueError(
            f"The NextToken value '{token}' does not belong to this request (different filters or ids)"
        )
    return seq


def iso_ms(dt: datetime) -> datetime:
    """Creation times carry milliseconds, as AWS's do (``2018-02-21T13:22:12.644Z``)."""
    return dt.replace(microsecond=(dt.microsecond // 1000) * 1000)


def flow_log_item(s: StoredFlowLog) -> dict[str, Any]:
    """One ``FlowLogs`` item in boto3's shape and member order (spec 6.3 observed shapes)."""
    fl = s.flow_log
    item: dict[str, Any] = {"CreationTime": iso_ms(fl.creation_time)}
    if s.deliver_logs_status == "FAILED" and s.deliver_logs_error_message:
        item["DeliverLogsErrorMessage"] = s.deliver_logs_error_message
    if fl.deliver_logs_permission_arn:
        item["DeliverLogsPermissionArn"] = fl.deliver_logs_permission_arn
    if fl.deliver_cross_account_role:
        item["DeliverCrossAccountRole"] = fl.deliver_cross_account_role
    item["DeliverLogsStatus"] = s.deliver_logs_status
    item["FlowLogId"] = fl.flow_log_id
    item["FlowLogStatus"] = fl.flow_log_status
    if fl.log_group_name:
        item["LogGroupName"] = fl.log_group_name
    item["ResourceId"] = fl.resource_id
    item["TrafficType"] = fl.traffic_type
    item["LogDestinationType"] = fl.log_destination_type
    if fl.log_destination:
        item["LogDestination"] = fl.log_destination
    item["LogFormat"] = fl.log_format
    item["Tags"] = [{"Key": k, "Value": v} for k, v in s.tags]
    item["MaxAggregationInterval"] = fl.max_aggregation_interval
    if fl.destination_options is not None:
        o = fl.destination_options
        item["DestinationOptions"] = {
            "FileFormat": o.file_format,
            "HiveCompatiblePartitions": o.hive_compatible_partitions,
            "PerHourPartition": o.per_hour_partition,
        }
    if fl.tag_field_specifications:
        item["TagFieldSpecifications"] = [
            {"ResourceType": t.resource_type, "TagKeys": list(t.tag_keys)} for t in fl.tag_field_specifications
        ]
    return item


def describe(items: Sequence[StoredFlowLog], params: dict[str, Any]) -> dict[str, Any]:
    """Apply DescribeFlowLogs' parameters to the account's flow logs (in creation order)."""
    check_known(params, DESCRIBE_PARAMS, "DescribeFlowLogs")
    opt_bool(params, "DryRun")
    filters = parse_filters(params.get("Filter"))  # boto3's member name is Filter (a list), not Filters
    ids = validate_flow_log_ids(params, required=False)
    max_results = params.get("MaxResults")
    if max_results is not None:
        if isinstance(max_results, bool) or not isinstance(max_results, int):
            raise InvalidParameterValueError(
                f"Invalid type for parameter MaxResults, value: {max_results!r}, valid types: <class 'int'>"
            )
        if not MIN_RESULTS <= max_results <= MAX_RESULTS:
            raise InvalidParameterValueError(
                f"Value ( {max_results} ) for parameter maxResults is invalid. "
                f"Expecting a value between {MIN_RESULTS} and {MAX_RESULTS}."
            )
    token = opt_str(params, "NextToken")
    start = _decode_token(token, _request_hash(params)) if token else None

    wanted = set(ids) if ids else None
    selected = [s for s in items if (wanted is None or s.flow_log.flow_log_id in wanted) and matches(s, filters)]
    if start is not None:
        selected = [s for s in selected if s.seq >= start]
    result: dict[str, Any] = {}
    if max_results is not None and len(selected) > max_results:
        page, rest = selected[:max_results], selected[max_results:]
        result["FlowLogs"] = [flow_log_item(s) for s in page]
        result["NextToken"] = _encode_token(rest[0].seq, _request_hash(params))
    else:
        result["FlowLogs"] = [flow_log_item(s) for s in selected]
    return result
