"""The control plane as an agent sees it: the standard EC2 API through boto3 (SigV4), nothing else.

``ControlPlane.fetch(owned)`` asks ``DescribeFlowLogs`` and the network's ``Describe*`` calls (VPCs,
subnets, interfaces, security groups, network ACLs, route tables, peerings; every page), builds the
topology with ``model/topology/aws_import.py`` exactly as ``vpcflow topology import`` does from the
AWS CLI's files, and keeps the ACTIVE flow logs that cover at least one OWNED ENI (an ENI flow log
on it, a subnet or VPC flow log on its subnet or VPC: spec 2.8). The result is a ``Snapshot`` whose
``digest`` changes exactly when what the agent records could change.

The same calls work against AWS itself: an agent with real credentials fetches the real security
groups (docs/agent.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.aggregate.fields import covers
from vpcflow.model.flowlog import DestinationOptions, FlowLog
from vpcflow.model.topology.aws_import import import_aws_answers
from vpcflow.model.topology.loader import loads_topology
from vpcflow.model.topology.model import Topology

#: (operation, result key) of the network's describe calls, in the order aws_import expects none of
NETWORK_CALLS = (
    ("describe_vpcs", "Vpcs"),
    ("describe_subnets", "Subnets"),
    ("describe_network_interfaces", "NetworkInterfaces"),
    ("describe_security_groups", "SecurityGroups"),
    ("describe_network_acls", "NetworkAcls"),
    ("describe_route_tables", "RouteTables"),
    ("describe_vpc_peering_connections", "VpcPeeringConnections"),
)
_RESOURCE_TYPES = {"vpc-": "VPC", "subnet-": "Subnet", "eni-": "NetworkInterface"}


@dataclass(frozen=True)
class Snapshot:
    """What the agent records with: the network, the flow logs covering owned ENIs, and their digest."""

    document: dict[str, Any]  # the topology document (aws_import's output)
    flow_log_items: tuple[dict[str, Any], ...]  # DescribeFlowLogs items (JSON-safe) of the kept flow logs
    topology: Topology
    flow_logs: tuple[FlowLog, ...]
    digest: str

    def as_json(self) -> dict[str, Any]:
        return {"document": self.document, "flow_logs": list(self.flow_log_items)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def flow_log_from_item(item: dict[str, Any], account_id: str, region: str) -> FlowLog:
    """A ``FlowLog`` from one DescribeFlowLogs item (boto3's shape)."""
    rid = str(item["ResourceId"])
    rtype = next((t for p, t in _RESOURCE_TYPES.items() if rid.startswith(p)), None)
    if rtype is None:
        raise ConfigError(f"flow log {item.get('FlowLogId')} records {rid!r}, which an agent cannot capture")
    opts = item.get("DestinationOptions")
    created = item.get("CreationTime")
    when = datetime.fromisoformat(created) if isinstance(created, str) else (created or datetime.now(UTC))
    return FlowLog(
        flow_log_id=str(item["FlowLogId"]), account_id=account_id, region=region, resource_id=rid,
        resource_type=rtype,  # type: ignore[arg-type]
        traffic_type=item.get("TrafficType", "ALL"),
        log_destination_type=item.get("LogDestinationType", "cloud-watch-logs"),
        creation_time=when, log_destination=item.get("LogDestination"), log_group_name=item.get("LogGroupName"),
        deliver_logs_permission_arn=item.get("DeliverLogsPermissionArn"),
        deliver_cross_account_role=item.get("DeliverCrossAccountRole"), log_format=str(item["LogFormat"]),
        max_aggregation_interval=int(item.get("MaxAggregationInterval", 600)),
        destination_options=None if not opts else DestinationOptions(
            file_format=opts.get("FileFormat", "plain-text"),
            hive_compatible_partitions=bool(opts.get("HiveCompatiblePartitions", False)),
            per_hour_partition=bool(opts.get("PerHourPartition", False))),
        flow_log_status=str(item.get("FlowLogStatus", "ACTIVE")),
    )


def build_snapshot(document: dict[str, Any], items: Iterable[dict[str, Any]], owned: frozenset[str]) -> Snapshot:
    """The snapshot of a topology document and DescribeFlowLogs items, for the agent owning ``owned``."""
    topology = loads_topology(json.dumps(document), source="control plane (Describe*)", fmt="json")
    enis = [e for e in topology.network_interfaces if e.network_interface_id in owned]
    kept_items: list[dict[str, Any]] = []
    kept: list[FlowLog] = []
    for item in sorted((_jsonable(i) for i in items), key=lambda i: str(i.get("FlowLogId"))):
        if item.get("FlowLogStatus", "ACTIVE") != "ACTIVE" or item.get("LogDestinationType") not in (
                "s3", "cloud-watch-logs"):
            continue
        try:
            fl = flow_log_from_item(item, topology.account_id, topology.region)
        except ConfigError:
            continue  # a transit-gateway flow log and the like: nothing an agent on a host records
        if any(covers(fl, e) for e in enis):
            # Status fields change with delivery, not with what is recorded: out of the digest.
            kept_items.append({k: v for k, v in item.items()
                               if k not in ("DeliverLogsStatus", "DeliverLogsErrorMessage", "Tags")})
            kept.append(fl)
    body = json.dumps({"document": document, "flow_logs": kept_items}, sort_keys=True, separators=(",", ":"))
    return Snapshot(document, tuple(kept_items), topology, tuple(kept), hashlib.sha256(body.encode()).hexdigest())


def snapshot_from_json(data: dict[str, Any], owned: frozenset[str]) -> Snapshot:
    """A snapshot saved by ``Snapshot.as_json`` (the state directory's copy)."""
    return build_snapshot(data["document"], data["flow_logs"], owned)


class ControlPlane:
    """boto3's EC2 client on the configured endpoint (SigV4 with the standard credential chain)."""

    def __init__(self, session: Any, *, endpoint_url: str | None, region: str) -> None:
        from botocore.config import Config

        self.region = region
        cfg = Config(retries={"total_max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=15)
        self.ec2 = session.client("ec2", endpoint_url=endpoint_url, region_name=region, config=cfg)

    def _all(self, operation: str, key: str) -> list[dict[str, Any]]:
        paginator = self.ec2.get_paginator(operation) if self.ec2.can_paginate(operation) else None
        if paginator is None:
            return list(getattr(self.ec2, operation)().get(key, []))
        out: list[dict[str, Any]] = []
        for page in paginator.paginate():
            out += page.get(key, [])
        return out

    def fetch(self, owned: frozenset[str]) -> Snapshot:
        """The current snapshot; botocore's errors (endpoint down, access denied) propagate."""
        answers = [(f"{op}", {key: _jsonable(self._all(op, key))}) for op, key in NETWORK_CALLS]
        document, _notes = import_aws_answers(answers, region=self.region)
        return build_snapshot(document, self._all("describe_flow_logs", "FlowLogs"), owned)
