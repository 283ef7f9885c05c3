"""One HTTP request in, one HTTP response out: protocol detection, SigV4, dispatch, error bodies.

Independent of the web framework (``app.py`` only moves bytes), so it runs in a worker thread
and is easy to test. Routing (wire spec 2.1): a request with ``X-Amz-Target`` is CloudWatch Logs
JSON 1.1; a form body (or a GET query string) with ``Action`` is EC2 Query. The credential scope's
service must agree (``identity.check_scope``).

The control plane is the one the Python client builds (``runtime.client.Ec2Client``), called with
the principal owning the request's access key, so every authorization decision is the control
plane's. The log store is the data directory's ``logs.db``. Calls are serialised by one lock: the
stores are SQLite connections, and one writer at a time is what SQLite does anyway.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from vpcflow.api import ec2_query, logs_json, sts_query
from vpcflow.api.identity import Caller, RootCredentials, as_api_error, authenticate
from vpcflow.api.sigv4 import SigV4Error, parse_authorization
from vpcflow.controlplane.errors import UnsupportedOperationError
from vpcflow.core.errors import ApiError, StateError
from vpcflow.iam.world import IamWorld
from vpcflow.runtime.client import Ec2Client
from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.logstore import LogStore

log = logging.getLogger("vpcflow.api")

#: EC2 actions served -> FlowLogService method (boto3's names).
EC2_OPERATIONS: dict[str, str] = {
    "CreateFlowLogs": "create_flow_logs",
    "DeleteFlowLogs": "delete_flow_logs",
    "DescribeFlowLogs": "describe_flow_logs",
    "CreateTags": "create_tags",
    "DeleteTags": "delete_tags",
}


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Backend:
    """Everything behind the endpoint for one data directory."""

    def __init__(
        self,
        data_dir: DataDir | str | None,
        *,
        verify_signatures: bool = True,
        root_credentials: RootCredentials | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.data_dir = DataDir.resolve(data_dir)
        self.verify_signatures = verify_signatures
        self.root = root_credentials or RootCredentials()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._client: Ec2Client | None = None
        self._logs: LogStore | None = None

    # ---------------------------------------------------------------------------- wiring
    @property
    def client(self) -> Ec2Client:
        if self._client is None:
            self._client = Ec2Client(self.data_dir)
        return self._client

    def world(self) -> IamWorld:
        return self.client.service.world()[1]

    def log_store(self) -> LogStore:
        if self._logs is None:
            svc = self.client.service
            self._logs = LogStore(self.data_dir.logs_path, account_id=svc.account_id, region=svc.region)
        return self._logs

    def logs_api(self) -> logs_json.LogsApi:
        svc = self.client.service
        return logs_json.LogsApi(self.log_store, self.world, account_id=svc.account_id, region=svc.region,
                                 data_dir=self.data_dir)

    def refresh(self) -> None:
        """Follow the data directory's account and region (``vpcflow topology load`` into an empty data
        directory adopts the file's) so the endpoint never answers with a stale account."""
        if self._client is None:
            return
        svc = self._client.service
        if self.data_dir.settings(svc.store) != (svc.account_id, svc.region):
            self._close()

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._logs is not None:
            self._logs.close()
            self._logs = None

    # ---------------------------------------------------------------------------- requests
    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request (thread-safe; calls are serialised)."""
        request_id = str(uuid.uuid4())
        protocol = _protocol(request)
        note = {"op": protocol, "who": "-", "error": ""}
        answer = self._answer(request, request_id, protocol, note)
        # One line per call (`vpcflow serve --log-level info`): who did what, and how it ended.
        log.info("%s %s %s -> %d %s", request_id[:8], note["who"], note["op"], answer.status, note["error"])
        return answer

    def _answer(self, request: HttpRequest, request_id: str, protocol: str, note: dict[str, str]) -> HttpResponse:
        try:
            with self._lock:
                self.refresh()
                if protocol == "logs":
                    return self._logs_call(request, request_id, note)
                if protocol == "sts":
                    return self._sts_call(request, request_id, note)
                return self._ec2_call(request, request_id, note)
        except ApiError as e:
            note["error"] = e.code
            return self._error(protocol, e.code, e.message, e.http_status, request_id, _modelled_members(e))
        except StateError as e:
            log.warning("state unavailable: %s", e)
            code = note["error"] = {"logs": "ServiceUnavailableException", "sts": "ServiceUnavailable"}.get(
                protocol, "Unavailable")
            return self._error(protocol, code, f"The service is unavailable: {e}", 503, request_id)
        except Exception as e:  # the API boundary: never a traceback on the wire
            log.exception("internal error answering %s request %s", protocol, request_id)
            code = note["error"] = {"logs": "ServiceUnavailableException", "sts": "InternalFailure"}.get(
                protocol, "InternalError")
            return self._error(protocol, code, f"An internal error has occurred ({type(e).__name__}: {e})", 500,
                               request_id)

    def _error(self, protocol: str, code: str, message: str, status: int, request_id: str,
               extra: dict[str, Any] | None = None) -> HttpResponse:
        headers = {"x-amzn-RequestId": request_id}
        if protocol == "logs":
            headers["Content-Type"] = logs_json.JSON_CONTENT_TYPE
            return HttpResponse(status, logs_json.error_json(code, message, extra), headers)
        headers["Content-Type"] = ec2_query.XML_CONTENT_TYPE
        if protocol == "sts":
            return HttpResponse(status, sts_query.error_xml(code, message, request_id, sender=status < 500), headers)
        return HttpResponse(status, ec2_query.error_xml(code, message, request_id), headers)

    def _authenticate(self, request: HttpRequest, service: str) -> Caller:
        svc = self.client.service
        try:
            return authenticate(
                self.world(),
                self.root,
                method=request.method,
                raw_path=request.raw_path,
                raw_query=request.raw_query,
                headers=request.headers,
                body=request.body,
                now=self.clock(),
                expected_service=service,
                region=svc.region,
                verify_signatures=self.verify_signatures,
            )
        except SigV4Error as e:
            raise as_api_error(e, service) from None

    def _ec2_call(self, request: HttpRequest, request_id: str, note: dict[str, str]) -> HttpResponse:
        pairs = _form(request)
        action = dict(pairs).get("Action")
        note["op"] = f"ec2:{action}"
        caller = self._authenticate(request, "ec2")
        note["who"] = caller.principal
        model = ec2_query.ec2_model()
        op = ec2_query.operation(model, action)
        method = EC2_OPERATIONS.get(op.name)
        if method is None:
            raise UnsupportedOperationError(
                f"vpcflow serves the flow-log API only ({', '.join(sorted(EC2_OPERATIONS))}); "
                f"{op.name} is not supported."
            )
        params = ec2_query.parse_request(op, pairs)
        result: dict[str, Any] = getattr(self.client.service, method)(caller.principal, **params)
        body = ec2_query.response_xml(model, op, result, request_id)
        return HttpResponse(200, body, {"Content-Type": ec2_query.XML_CONTENT_TYPE, "x-amzn-RequestId": request_id})

    def _sts_call(self, request: HttpRequest, request_id: str, note: dict[str, str]) -> HttpResponse:
        action = dict(_form(request)).get("Action")
        note["op"] = f"sts:{action}"
        caller = self._authenticate(request, "sts")
        note["who"] = caller.principal
        name = sts_query.check_action(action)
        identity = sts_query.caller_identity(self.world().resolve(caller.principal))
        body = sts_query.response_xml(name, identity, request_id)
        return HttpResponse(200, body, {"Content-Type": ec2_query.XML_CONTENT_TYPE, "x-amzn-RequestId": request_id})

    def _logs_call(self, request: HttpRequest, request_id: str, note: dict[str, str]) -> HttpResponse:
        note["op"] = "logs:" + request.headers.get("x-amz-target", "").partition(".")[2]
        caller = self._authenticate(request, "logs")
        note["who"] = caller.principal
        api = self.logs_api()
        op = api.operation(request.headers.get("x-amz-target"))
        result = api.call(op, request.body, caller.principal)
        body = json.dumps(result, separators=(",", ":")).encode()
        return HttpResponse(200, body, {"Content-Type": logs_json.JSON_CONTENT_TYPE, "x-amzn-RequestId": request_id})


def _modelled_members(e: ApiError) -> dict[str, Any] | None:
    """Members an error's shape models beside the message (MalformedQueryException.queryCompileError)."""
    compile_error = getattr(e, "compile_error", None)
    return {"queryCompileError": compile_error()} if callable(compile_error) else None


def _form(request: HttpRequest) -> list[tuple[str, str]]:
    """The Query fields: a form-encoded POST body, else the query string."""
    if request.method == "POST" and request.body:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            raise ApiError(
                f"Query requests are application/x-www-form-urlencoded, got {ctype!r} "
                "(CloudWatch Logs requests need X-Amz-Target)",
                code="InvalidParameterValue",
            )
        text = request.body.decode("utf-8", errors="replace")
    else:
        text = request.raw_query
    return parse_qsl(text, keep_blank_values=True)


def _protocol(request: HttpRequest) -> str:
    """``logs`` (X-Amz-Target), ``sts`` (scope service sts, or its action unsigned) or ``ec2``."""
    if "x-amz-target" in request.headers:
        return "logs"
    try:
        if parse_authorization(request.headers.get("authorization")).service == "sts":
            return "sts"
    except SigV4Error:
        try:
            if dict(_form(request)).get("Action") in sts_query.OPERATIONS:
                return "sts"
        except ApiError:
            pass
    return "ec2"
