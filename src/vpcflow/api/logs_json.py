"""CloudWatch Logs over JSON 1.1 (``X-Amz-Target: Logs_20140328.<Operation>``) on the embedded log store.

Served operations: DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents (reads,
authorized with ``iam.readers.require_log_read``), and CreateLogGroup, CreateLogStream, PutLogEvents,
DeleteLogGroup, PutRetentionPolicy, DeleteRetentionPolicy (writes, authorized on the log group or
log stream ARN of the IAM Service Authorization Reference, wire spec 1.4), and Logs Insights'
StartQuery (logs:StartQuery on each log group), GetQueryResults, StopQuery and DescribeQueries
(on ``*``), run by ``runtime.insights`` (docs/insights.md). Bodies are validated with
botocore's ``ParamValidator`` against the logs model loaded at run time; a missing required member
gets AWS's ``1 validation error detected: Value null at 'x' failed to satisfy constraint: Member must
not be null``. Members the model has but vpcflow cannot honour (``logGroupNamePattern``,
``logGroupIdentifiers``...) are refused with ``InvalidParameterException`` rather than ignored;
members the model does not have are ignored (AWS's JSON services do the same).

Errors are ``{"__type": code, "message": text}`` with HTTP 400 (the store's and the readers' codes:
ResourceNotFoundException, InvalidParameterException, AccessDeniedException...).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

from vpcflow.core.api_errors import (
    InvalidParameterExceptionError,
    LogsAccessDeniedError,
    ResourceNotFoundError,
    SerializationError,
    UnknownOperationError,
)
from vpcflow.iam.delivery import log_group_arn, log_stream_arn
from vpcflow.iam.readers import require_log_read
from vpcflow.iam.world import IamWorld
from vpcflow.query.filter_pattern import compile_pattern
from vpcflow.runtime.datadir import DataDir
from vpcflow.runtime.insights import InsightsService
from vpcflow.storage.logstore import LogStore

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "Logs_20140328"


@functools.cache
def logs_model() -> ServiceModel:
    """botocore's CloudWatch Logs model (loaded once per process)."""
    model: ServiceModel = botocore.session.get_session().get_service_model("logs")
    return model


#: The operations served (X-Amz-Target ``Logs_20140328.<name>``).
OPERATIONS = (
    "DescribeLogGroups",
    "DescribeLogStreams",
    "GetLogEvents",
    "FilterLogEvents",
    "CreateLogGroup",
    "CreateLogStream",
    "PutLogEvents",
    "DeleteLogGroup",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "StartQuery",
    "GetQueryResults",
    "StopQuery",
    "DescribeQueries",
)

#: Members of served operations that the embedded store cannot honour (refused, not ignored).
_UNSUPPORTED: dict[str, tuple[str, ...]] = {
    "DescribeLogGroups": ("logGroupNamePattern", "logGroupIdentifiers", "accountIdentifiers"),
}


def error_json(code: str, message: str, extra: dict[str, Any] | None = None) -> bytes:
    """The JSON 1.1 error body; ``extra`` holds modelled members (MalformedQueryException's queryCompileError)."""
    return json.dumps({"__type": code, "message": message, **(extra or {})}).encode()


class LogsApi:
    """One call of the Logs API for a principal: validation, authorization, the store."""

    def __init__(
        self,
        store: Callable[[], LogStore],
        world: Callable[[], IamWorld],
        *,
        account_id: str,
        region: str,
        data_dir: DataDir | None = None,
    ) -> None:
        self._store = store
        self._data_dir = data_dir
        self._world = world
        self.account_id = account_id
        self.region = region
        self._handlers: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            "DescribeLogGroups": self._describe_log_groups,
            "DescribeLogStreams": self._describe_log_streams,
            "GetLogEvents": self._get_log_events,
            "FilterLogEvents": self._filter_log_events,
            "CreateLogGroup": self._create_log_group,
            "CreateLogStream": self._create_log_stream,
            "PutLogEvents": self._put_log_events,
            "DeleteLogGroup": self._delete_log_group,
            "PutRetentionPolicy": self._put_retention_policy,
            "DeleteRetentionPolicy": self._delete_retention_policy,
            "StartQuery": self._start_query,
            "GetQueryResults": self._get_query_results,
            "StopQuery": self._stop_query,
            "DescribeQueries": self._describe_queries,
        }

        assert tuple(self._handlers) == OPERATIONS

    # ---------------------------------------------------------------------------- protocol
    def operation(self, target: str | None) -> OperationModel:
        """The operation named by ``X-Amz-Target`` (``UnknownOperationException`` otherwise)."""
        prefix, _, name = (target or "").partition(".")
        model = logs_model()
        if prefix != TARGET_PREFIX or name not in model.operation_names:
            raise UnknownOperationError(f"Unknown operation: X-Amz-Target {target!r}")
        if name not in self._handlers:
            raise UnknownOperationError(
                f"vpcflow does not serve CloudWatch Logs {name}; served: {', '.join(sorted(self._handlers))}"
            )
        return model.operation_model(name)

    def call(self, op: OperationModel, body: bytes, principal: str) -> dict[str, Any]:
        params = self.parse(op, body)
        return self._handlers[op.name](principal, params)

    @staticmethod
    def parse(op: OperationModel, body: bytes) -> dict[str, Any]:
        if body.strip():
            try:
                raw = json.loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError) as e:
                raise SerializationError(f"The request body is not valid JSON: {e}") from None
        else:
            raw = {}
        if not isinstance(raw, dict):
            raise SerializationError("The request body must be a JSON object")
        shape = op.input_shape
        if shape is None:
            return {}
        params = {k: v for k, v in raw.items() if k in shape.members}
        for name in _UNSUPPORTED.get(op.name, ()):
            if params.get(name) not in (None, [], ""):
                raise InvalidParameterExceptionError(f"vpcflow's log store does not support {name} in {op.name}")
        for required in shape.required_members:
            if params.get(required) is None:
                raise InvalidParameterExceptionError(
                    f"1 validation error detected: Value null at '{required}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            raise InvalidParameterExceptionError(report.generate_report())
        return params

    # ---------------------------------------------------------------------------- helpers
    def _group(self, params: dict[str, Any]) -> str:
        """``logGroupName`` or ``logGroupIdentifier`` (a name or this account's log-group ARN)."""
        name, ident = params.pop("logGroupName", None), params.pop("logGroupIdentifier", None)
        if name is not None and ident is not None:
            raise InvalidParameterExceptionError("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        if name is None and ident is None:
            raise InvalidParameterExceptionError("Should provide either name or ARN for the log group.")
        if name is not None:
            return str(name)
        ident = str(ident)
        if ident.startswith("arn:"):
            parts = ident.removesuffix(":*").split(":", 6)
            if len(parts) != 7 or parts[2] != "logs" or parts[5] != "log-group":
                raise InvalidParameterExceptionError(f"Invalid log group ARN: {ident}")
            if parts[3] != self.region or parts[4] != self.account_id:
                raise ResourceNotFoundError("The specified log group does not exist.")
            return parts[6]
        return ident

    def _read(self, principal: str, action: str, group: str | None = None, streams: tuple[str, ...] = ()) -> None:
        require_log_read(self._world(), principal, action, self.region, self.account_id, group, streams)

    def _write(self, principal: str, action: str, resource: str) -> None:
        d = self._world().authorize(principal, action, resource)
        if not d.allowed:
            msg = f"User: {d.principal} is not authorized to perform: {action} on resource: {d.resource}"
            if d.effect == "Deny":
                msg += " with an explicit deny"
            raise LogsAccessDeniedError(msg)

    def _group_arn(self, group: str) -> str:
        return log_group_arn(self.region, self.account_id, group)

    # ---------------------------------------------------------------------------- reads
    def _describe_log_groups(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        self._read(principal, "logs:DescribeLogGroups")
        return self._store().describe_log_groups(**p)

    def _describe_log_streams(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group = self._group(p)
        self._read(principal, "logs:DescribeLogStreams", group)
        return self._store().describe_log_streams(group, **p)

    def _get_log_events(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group = self._group(p)
        stream = str(p.pop("logStreamName"))
        self._read(principal, "logs:GetLogEvents", group, (stream,))
        return self._store().get_log_events(group, stream, **p)

    def _filter_log_events(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group = self._group(p)
        matcher = compile_pattern(p.pop("filterPattern")) if p.get("filterPattern") else None
        self._read(principal, "logs:FilterLogEvents", group)
        return self._store().filter_log_events(group, matcher=matcher, **p)

    # ---------------------------------------------------------------------------- writes
    def _create_log_group(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group = str(p["logGroupName"])
        self._write(principal, "logs:CreateLogGroup", self._group_arn(group))
        return self._store().create_log_group(group)

    def _create_log_stream(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group, stream = str(p["logGroupName"]), str(p["logStreamName"])
        self._write(principal, "logs:CreateLogStream", log_stream_arn(self.region, self.account_id, group, stream))
        return self._store().create_log_stream(group, stream)

    def _put_log_events(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group, stream = str(p["logGroupName"]), str(p["logStreamName"])
        self._write(principal, "logs:PutLogEvents", log_stream_arn(self.region, self.account_id, group, stream))
        return self._store().put_log_events(group, stream, p["logEvents"], p.get("sequenceToken"))

    def _delete_log_group(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group = str(p["logGroupName"])
        self._write(principal, "logs:DeleteLogGroup", self._group_arn(group))
        return self._store().delete_log_group(group)

    def _put_retention_policy(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group = str(p["logGroupName"])
        self._write(principal, "logs:PutRetentionPolicy", self._group_arn(group))
        return self._store().put_retention_policy(group, int(p["retentionInDays"]))

    def _delete_retention_policy(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        group = str(p["logGroupName"])
        self._write(principal, "logs:DeleteRetentionPolicy", self._group_arn(group))
        return self._store().delete_retention_policy(group)

    # ---------------------------------------------------------------------------- Insights
    # (``_write`` is the plain identity-policy check; Insights' actions use it like the writes do.)
    def _insights(self) -> InsightsService:
        if self._data_dir is None:
            raise UnknownOperationError("Logs Insights needs the endpoint's data directory")
        return InsightsService(self._data_dir, self._store())

    def _start_query(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        svc = self._insights()
        for group in svc.log_groups(p):
            self._write(principal, "logs:StartQuery", self._group_arn(group))
        return svc.start_query(**p)

    def _get_query_results(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        self._write(principal, "logs:GetQueryResults", "*")
        return self._insights().get_query_results(**p)

    def _stop_query(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        self._write(principal, "logs:StopQuery", "*")
        return self._insights().stop_query(**p)

    def _describe_queries(self, principal: str, p: dict[str, Any]) -> dict[str, Any]:
        self._write(principal, "logs:DescribeQueries", "*")
        return self._insights().describe_queries(**p)
