"""FlowLog <-> ``flow_logs`` row conversion for the state store (kept apart so state.py stays small)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vpcflow.model.flowlog import DestinationOptions, FlowLog, TagFieldSpecification

FLOW_LOG_COLUMNS: tuple[str, ...] = (
    "flow_log_id",
    "account_id",
    "region",
    "resource_id",
    "resource_type",
    "traffic_type",
    "log_destination_type",
    "log_destination",
    "log_group_name",
    "deliver_logs_permission_arn",
    "deliver_cross_account_role",
    "log_format",
    "max_aggregation_interval",
    "destination_options",
    "tag_field_specifications",
    "flow_log_status",
    "creation_time",
)


@dataclass(frozen=True, slots=True)
class StoredFlowLog:
    """A flow log with what the state store keeps beside it."""

    flow_log: FlowLog
    deliver_logs_status: str  # SUCCESS | FAILED
    deliver_logs_error_message: str | None
    status_time: datetime | None
    tags: tuple[tuple[str, str], ...]
    seq: int = 0  # creation order (pagination cursor)


def flow_log_to_row(fl: FlowLog) -> list[Any]:
    opts = fl.destination_options
    return [
        fl.flow_log_id,
        fl.account_id,
        fl.region,
        fl.resource_id,
        fl.resource_type,
        fl.traffic_type,
        fl.log_destination_type,
        fl.log_destination,
        fl.log_group_name,
        fl.deliver_logs_permission_arn,
        fl.deliver_cross_account_role,
        fl.log_format,
        fl.max_aggregation_interval,
        None
        if opts is None
        else json.dumps([opts.file_format, opts.hive_compatible_partitions, opts.per_hour_partition]),
        json.dumps([[t.resource_type, list(t.tag_keys)] for t in fl.tag_field_specifications]),
        fl.flow_log_status,
        fl.creation_time.isoformat(),
    ]


def row_to_stored(row: tuple[Any, ...], tags: tuple[tuple[str, str], ...]) -> StoredFlowLog:
    """``row`` = seq, the FLOW_LOG_COLUMNS, status, message, status time."""
    seq, row = int(row[0]), row[1:]
    d = dict(zip(FLOW_LOG_COLUMNS, row[: len(FLOW_LOG_COLUMNS)], strict=True))
    status, message, status_time = row[len(FLOW_LOG_COLUMNS) :]
    opts_raw = d.pop("destination_options")
    opts = None if opts_raw is None else DestinationOptions(*json.loads(opts_raw))
    tfs = tuple(TagFieldSpecification(rt, tuple(keys)) for rt, keys in json.loads(d.pop("tag_field_specifications")))
    d["creation_time"] = datetime.fromisoformat(d["creation_time"])
    fl = FlowLog(destination_options=opts, tag_field_specifications=tfs, **d)
    return StoredFlowLog(
        flow_log=fl,
        deliver_logs_status=str(status),
        deliver_logs_error_message=message,
        status_time=datetime.fromisoformat(status_time) if status_time else None,
        tags=tags,
        seq=seq,
    )
