"""``Ec2Client``: the flow-log API in Python with boto3's method names and dict shapes.

    client = Ec2Client("./vpcflow-data", principal="arn:aws:iam::123456789012:user/alice")
    client.create_flow_logs(ResourceIds=["vpc-1"], ResourceType="VPC", TrafficType="ALL", ...)

Results carry ``ResponseMetadata`` like boto3's; errors are :class:`ApiError` with boto3's
``.response = {"Error": {"Code", "Message"}, "ResponseMetadata": {...}}`` and ``.operation_name``,
so ``except ClientError``-style code that reads ``e.response["Error"]["Code"]`` works unchanged
(``Ec2Client.exceptions.ClientError`` is ``ApiError``). Flow logs are immutable: ``modify_flow_logs``
and any other ``modify_*``/``update_*`` name raise a clear error (spec 2.9).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from vpcflow.controlplane.service import FlowLogService, new_flow_log_id
from vpcflow.core.api_errors import ImmutableFlowLogError
from vpcflow.core.errors import ApiError, ConfigError
from vpcflow.core.userfiles import read_input_text
from vpcflow.iam.delivery import DeliveryCheck
from vpcflow.model.topology.model import Topology
from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.bucketstore import BucketStore

_OPERATIONS = {
    "create_flow_logs": "CreateFlowLogs",
    "describe_flow_logs": "DescribeFlowLogs",
    "delete_flow_logs": "DeleteFlowLogs",
    "create_tags": "CreateTags",
    "delete_tags": "DeleteTags",
    "describe_vpcs": "DescribeVpcs",
    "describe_subnets": "DescribeSubnets",
    "describe_network_interfaces": "DescribeNetworkInterfaces",
    "describe_security_groups": "DescribeSecurityGroups",
    "describe_security_group_rules": "DescribeSecurityGroupRules",
    "describe_network_acls": "DescribeNetworkAcls",
    "describe_route_tables": "DescribeRouteTables",
    "describe_vpc_peering_connections": "DescribeVpcPeeringConnections",
    "authorize_security_group_ingress": "AuthorizeSecurityGroupIngress",
    "authorize_security_group_egress": "AuthorizeSecurityGroupEgress",
    "revoke_security_group_ingress": "RevokeSecurityGroupIngress",
    "revoke_security_group_egress": "RevokeSecurityGroupEgress",
}


class _Exceptions:
    ClientError = ApiError


def _metadata(status: int = 200) -> dict[str, Any]:
    rid = str(uuid.uuid4())
    return {
        "RequestId": rid,
        "HTTPStatusCode": status,
        "HTTPHeaders": {"x-amzn-requestid": rid},
        "RetryAttempts": 0,
    }


def with_response(e: ApiError, operation: str) -> ApiError:
    """Give an ApiError botocore ClientError's ``response`` and ``operation_name``."""
    e.response = {  # type: ignore[attr-defined]
        "Error": {"Code": e.code, "Message": e.message},
        "ResponseMetadata": _metadata(e.http_status),
    }
    e.operation_name = operation  # type: ignore[attr-defined]
    return e


class Paginator:
    """boto3's paginator for DescribeFlowLogs (input/output token NextToken, limit MaxResults)."""

    def __init__(self, call: Callable[..., dict[str, Any]]) -> None:
        self._call = call

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        config = dict(kwargs.pop("PaginationConfig", None) or {})
        max_items = config.get("MaxItems")
        if config.get("PageSize") is not None:
            kwargs["MaxResults"] = config["PageSize"]
        token = config.get("StartingToken")
        seen = 0
        while True:
            args = dict(kwargs)
            if token:
                args["NextToken"] = token
            page = self._call(**args)
            if max_items is not None and seen + len(page["FlowLogs"]) > max_items:
                page["FlowLogs"] = page["FlowLogs"][: max_items - seen]
            seen += len(page["FlowLogs"])
            token = page.get("NextToken")
            yield page
            if not token or (max_items is not None and seen >= max_items):
                return


class Ec2Client:
    """The EC2 flow-log operations on a data directory, called as ``principal`` (default: the root)."""

    exceptions = _Exceptions

    def __init__(
        self,
        data_dir: DataDir | str | os.PathLike[str] | None = None,
        principal: str | None = None,
        *,
        id_factory: Callable[[], str] = new_flow_log_id,
        clock: Callable[[], datetime] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.data_dir = DataDir.resolve(data_dir)
        self.principal = principal
        self._id_factory = id_factory
        self._clock = clock
        self._timeout_s = timeout_s
        self._service: FlowLogService | None = None

    @property
    def service(self) -> FlowLogService:
        if self._service is None:
            store = self.data_dir.state(timeout_s=self._timeout_s)
            account, region = self.data_dir.settings(store)
            kwargs: dict[str, Any] = {"id_factory": self._id_factory}
            if self._clock is not None:
                kwargs["clock"] = self._clock
            self._service = FlowLogService(store, account_id=account, region=region, **kwargs)
        return self._service

    @property
    def is_open(self) -> bool:
        """Whether the data directory's state store is open (see ``StateStore.is_open``)."""
        return self._service is not None and self._service.store.is_open

    def close(self) -> None:
        if self._service is not None:
            self._service.store.close()
            self._service = None

    def __enter__(self) -> Ec2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self.service, method)(self.principal, **kwargs)
        except ApiError as e:
            raise with_response(e, _OPERATIONS[method]) from None
        return {**result, "ResponseMetadata": _metadata()}

    # -- boto3-named operations --------------------------------------------------------------
    def create_flow_logs(self, **kwargs: Any) -> dict[str, Any]:
        """boto3's ``ec2.create_flow_logs``: same parameters, response and errors (``ClientError``-shaped)."""
        return self._run("create_flow_logs", kwargs)

    def describe_flow_logs(self, **kwargs: Any) -> dict[str, Any]:
        """boto3's ``ec2.describe_flow_logs`` (``Filter``, ``FlowLogIds``, ``MaxResults``, ``NextToken``)."""
        return self._run("describe_flow_logs", kwargs)

    def delete_flow_logs(self, **kwargs: Any) -> dict[str, Any]:
        """boto3's ``ec2.delete_flow_logs``; delivered records stay (spec 2.9)."""
        return self._run("delete_flow_logs", kwargs)

    def create_tags(self, **kwargs: Any) -> dict[str, Any]:
        """boto3's ``ec2.create_tags`` on flow logs."""
        return self._run("create_tags", kwargs)

    def delete_tags(self, **kwargs: Any) -> dict[str, Any]:
        """boto3's ``ec2.delete_tags`` on flow logs."""
        return self._run("delete_tags", kwargs)

    def get_paginator(self, operation_name: str) -> Paginator:
        """boto3's paginator for ``describe_flow_logs`` (``.paginate(**params)`` yields pages)."""
        if operation_name != "describe_flow_logs":
            raise ConfigError(f"no paginator for {operation_name!r}; vpcflow paginates describe_flow_logs")
        return Paginator(self.describe_flow_logs)

    def can_paginate(self, operation_name: str) -> bool:
        return operation_name == "describe_flow_logs"

    def modify_flow_logs(self, **kwargs: Any) -> dict[str, Any]:
        """Flow logs cannot be changed (spec 2.9): always raises."""
        raise with_response(ImmutableFlowLogError("ModifyFlowLogs does not exist"), "ModifyFlowLogs")

    def __getattr__(self, name: str) -> Any:
        if name in _OPERATIONS:  # the network's Describe* operations, boto3-named
            return lambda **kwargs: self._run(name, kwargs)
        if name.startswith(("modify_", "update_", "put_", "set_")) and "flow_log" in name:
            op = "".join(p.capitalize() for p in name.split("_"))
            raise with_response(ImmutableFlowLogError(f"{op} does not exist"), op)
        raise AttributeError(f"'Ec2Client' object has no attribute '{name}'")

    # -- vpcflow additions -------------------------------------------------------------------
    def load_topology(self, path: str | os.PathLike[str]) -> Topology:
        """Put a topology file (YAML or JSON) into the data directory; it replaces the previous one.

        Loading into an account that has no flow logs yet adopts the file's account id and region.
        """
        p = Path(path)
        text = read_input_text(p, "topology file")
        return self.load_topology_text(text, fmt="json" if p.suffix.lower() == ".json" else "yaml", source=str(p))

    def load_topology_text(self, text: str, *, fmt: str = "yaml", source: str = "<topology>") -> Topology:
        """``load_topology`` from the document's text (``fmt`` yaml or json); ``source`` names it in errors."""
        svc = self.service
        topo = svc.parse_topology(text, fmt, source)
        if (topo.account_id, topo.region) != (svc.account_id, svc.region) and not svc.store.list_flow_logs():
            self.data_dir.init(account_id=topo.account_id, region=topo.region)
            self.close()
            svc = self.service
        loaded = svc.load_topology(text, fmt=fmt, source=source)
        # The file's buckets exist in the modelled world: give each one a local bucket (never deletes).
        buckets = BucketStore(self.data_dir.s3_root)
        for b in loaded.s3_buckets:
            if not buckets.bucket_exists(b.name):
                buckets.create_bucket(b.name)
        return loaded

    def check_delivery(self, flow_log_ids: list[str] | None = None) -> dict[str, DeliveryCheck]:
        """Run delivery-time permission checks now; updates DeliverLogsStatus (see docs/controlplane.md).

        A flow log with records in the delivery spool stays FAILED (docs/delivery.md).
        """
        from vpcflow.dataplane.sinks.spool import Spool

        try:
            return self.service.check_delivery(flow_log_ids, spooled=set(Spool(self.data_dir.spool).flow_log_ids()))
        except ApiError as e:
            raise with_response(e, "CheckDelivery") from None
