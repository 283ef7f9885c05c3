"""One HTTP request in, one HTTP response out: protocol detection, SigV4, dispatch, error bodies.

Independent of the web framework (``app.py`` only moves bytes), so it runs in a worker thread (or,
for a read of kept state while nothing else runs, on the app's event loop: ``handle_if_free``) and is
easy to test. Routing (wire spec 2.1, ``routing.py``): a request with ``X-Amz-Target`` is CloudWatch
Logs JSON 1.1; a form body (or a GET query string) with ``Action`` is EC2 Query. The credential
scope's service must agree (``identity.check_scope``).

The control plane is the one the Python client builds (``runtime.client.Ec2Client``), called with
the principal owning the request's access key, so every authorization decision is the control
plane's. The log store is the data directory's ``logs.db``. Calls are serialised by one lock: the
stores are SQLite connections, and one writer at a time is what SQLite does anyway.

Nothing on the wire reveals the machine: an internal failure or an unavailable store answers with
AWS's code and a request id, and the details (paths, exception text) go to the server's log only.
A request too deeply nested to parse is the client's error (400 in the protocol's shape), not a 500.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vpcflow.api import ec2_query, ec2_response, logs_json, s3_rest, sts_query
from vpcflow.api.identity import Caller, RootCredentials, as_api_error, authenticate, check_scope, owner_of
from vpcflow.api.routing import HttpRequest, HttpResponse, protocol_of, query_fields, reads_only
from vpcflow.api.sigv4 import SigV4Error, is_presigned, parse_authorization, parse_presigned
from vpcflow.controlplane import status_report
from vpcflow.core.api_errors import UnsupportedOperationError
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
    # The modelled network (controlplane/network.py), for agents and tools that read it as from AWS.
    "DescribeVpcs": "describe_vpcs",
    "DescribeSubnets": "describe_subnets",
    "DescribeNetworkInterfaces": "describe_network_interfaces",
    "DescribeSecurityGroups": "describe_security_groups",
    "DescribeSecurityGroupRules": "describe_security_group_rules",
    "DescribeNetworkAcls": "describe_network_acls",
    "DescribeRouteTables": "describe_route_tables",
    "DescribeVpcPeeringConnections": "describe_vpc_peering_connections",
    "AuthorizeSecurityGroupIngress": "authorize_security_group_ingress",
    "AuthorizeSecurityGroupEgress": "authorize_security_group_egress",
    "RevokeSecurityGroupIngress": "revoke_security_group_ingress",
    "RevokeSecurityGroupEgress": "revoke_security_group_egress",
}

#: The protocol's code for a request that parses but is malformed beyond use (nesting too deep).
_MALFORMED = {"logs": "SerializationException", "sts": "MalformedInput", "ec2": "InvalidParameterValue",
              "s3": "MalformedXML"}


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
        # DescribeFlowLogs' items as XML, kept per state version (ec2_response.RenderedItems).
        self._flow_log_xml = ec2_response.RenderedItems("FlowLog", "FlowLogId")

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

    def _open(self) -> bool:
        """Whether the state store is open: opening it may wait for another process's write, which the
        event loop must not (the first call after start or after ``refresh`` goes to the worker thread)."""
        return self._client is not None and self._client.is_open

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
        with self._lock:
            return self._handle(request)

    def handle_if_free(self, request: HttpRequest) -> HttpResponse | None:
        """``handle(request)`` at once when it only reads state the backend keeps (an EC2 action in
        ``routing.INLINE_ACTIONS``) and no other call holds the backend; else None, at once. The app answers such
        calls on its event loop: no write can wait there for SQLite's lock."""
        if not reads_only(request) or not self._lock.acquire(blocking=False):
            return None
        try:
            return self._handle(request) if self._open() else None
        finally:
            self._lock.release()

    def _handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        protocol = protocol_of(request)
        note = {"op": protocol, "who": "-", "error": ""}
        answer = self._answer(request, request_id, protocol, note)
        # One line per call (`vpcflow serve --log-level info`): who did what, and how it ended.
        log.info("%s %s %s -> %d %s", request_id[:8], note["who"], note["op"], answer.status, note["error"])
        return answer

    def screen(self, head: HttpRequest) -> HttpResponse | None:
        """Refuse a request from its head alone, before its body is read: with signatures verified, it
        must carry a well-formed SigV4 ``Authorization`` for this endpoint's region and a known, active
        access key (the signature itself covers the body and is checked by ``handle``)."""
        if not self.verify_signatures:
            return None
        with self._lock:
            return self._screen(head)

    def screen_if_free(self, head: HttpRequest) -> tuple[bool, HttpResponse | None]:
        """``(True, screen(head))`` when no other call holds the backend, else ``(False, None)`` at once: the
        app screens on its event loop only when that cannot wait for another request's work."""
        if not self.verify_signatures:
            return True, None
        if not self._lock.acquire(blocking=False):
            return False, None
        try:
            return (True, self._screen(head)) if self._open() else (False, None)
        finally:
            self._lock.release()

    def _screen(self, head: HttpRequest) -> HttpResponse | None:
        protocol = protocol_of(head)
        service = "logs" if protocol == "logs" else protocol
        try:
            self.refresh()
            if "x-amz-security-token" in head.headers:
                return None  # handle() answers with the protocol's own message for temporary credentials
            if protocol == "s3" and "authorization" not in head.headers and is_presigned(head.raw_query):
                auth = parse_presigned(head.raw_query).auth
            else:
                auth = parse_authorization(head.headers.get("authorization"))
            check_scope(auth, service, self.client.service.region)
            owner_of(self.world(), auth.access_key_id, self.root)
        except SigV4Error as e:
            err = as_api_error(e, protocol)
            log.info("refused before reading the body: %s %s", protocol, err.code)
            return self._error(protocol, err.code, err.message, err.http_status, str(uuid.uuid4()), head)
        except StateError:
            return None  # handle() reports the unavailable store in the protocol's shape
        return None

    def too_large(self, head: HttpRequest, limit: int) -> HttpResponse:
        """The answer to a body over ``limit`` bytes (decision, docs/api.md: HTTP 413 in the protocol's shape)."""
        protocol = protocol_of(head)
        log.info("refused a body over %d bytes (%s)", limit, protocol)
        message = f"Request body exceeds the endpoint's limit of {limit} bytes"
        return self._error(protocol, "RequestEntityTooLarge", message, 413, str(uuid.uuid4()), head)

    def _answer(self, request: HttpRequest, request_id: str, protocol: str, note: dict[str, str]) -> HttpResponse:
        try:
            self.refresh()
            if protocol == "logs":
                return self._logs_call(request, request_id, note)
            if protocol == "sts":
                return self._sts_call(request, request_id, note)
            if protocol == "s3":
                return self._s3_call(request, request_id, note)
            return self._ec2_call(request, request_id, note)
        except ApiError as e:
            note["error"] = e.code
            return self._error(protocol, e.code, e.message, e.http_status, request_id, request,
                               _modelled_members(e))
        except StateError as e:
            log.warning("state unavailable (request %s): %s", request_id, e)
            code = note["error"] = {"logs": "ServiceUnavailableException", "sts": "ServiceUnavailable"}.get(
                protocol, "Unavailable")
            return self._error(protocol, code, "The service is unavailable. Try again later.", 503, request_id)
        except RecursionError:
            code = note["error"] = _MALFORMED[protocol]
            return self._error(protocol, code, "The request is nested too deeply to be parsed", 400, request_id)
        except Exception:  # the API boundary: never a traceback (or a local path) on the wire
            log.exception("internal error answering %s request %s", protocol, request_id)
            code = note["error"] = {"logs": "ServiceUnavailableException", "sts": "InternalFailure"}.get(
                protocol, "InternalError")
            return self._error(protocol, code, f"An internal error has occurred (request {request_id})", 500,
                               request_id)

    def _error(self, protocol: str, code: str, message: str, status: int, request_id: str,
               request: HttpRequest | None = None, extra: dict[str, Any] | None = None) -> HttpResponse:
        headers = {"x-amzn-RequestId": request_id}
        if protocol == "s3":
            method, path = (request.method, request.raw_path) if request is not None else ("GET", "/")
            status, s3_headers, body = s3_rest.error_answer(ApiError(message, code=code, http_status=status), method,
                                                            path, request_id)
            return HttpResponse(status, body, {**headers, "x-amz-request-id": request_id, **s3_headers})
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
        pairs = query_fields(request)
        action = dict(pairs).get("Action")
        note["op"] = f"ec2:{action}"
        caller = self._authenticate(request, "ec2")
        note["who"] = caller.principal
        if action == status_report.ACTION:  # a vpcflow extension, not in botocore's model
            return self._status_report(pairs, caller.principal, request_id)
        model = ec2_query.ec2_model()
        op = ec2_query.operation(model, action)
        method = EC2_OPERATIONS.get(op.name)
        if method is None:
            raise UnsupportedOperationError(
                f"vpcflow serves the flow-log API only ({', '.join(sorted(EC2_OPERATIONS))}); "
                f"{op.name} is not supported."
            )
        params = ec2_query.parse_request(op, pairs)
        svc = self.client.service
        # The version is read before the service reads the rows: an item kept under it is never older.
        kept = self._flow_log_xml.use(svc.store.version()) if method == "describe_flow_logs" else None
        result: dict[str, Any] = getattr(svc, method)(caller.principal, **params)
        body = ec2_response.response_xml(model, op, result, request_id, kept)
        return HttpResponse(200, body, {"Content-Type": ec2_query.XML_CONTENT_TYPE, "x-amzn-RequestId": request_id})

    def _status_report(self, pairs: list[tuple[str, str]], principal: str, request_id: str) -> HttpResponse:
        params = {k: v for k, v in pairs if k not in ("Action", "Version")}
        status_report.report_delivery_status(self.client.service, principal, params)
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{status_report.ACTION}Response '
                f'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>{request_id}</requestId>'
                f'<return>true</return></{status_report.ACTION}Response>').encode()
        return HttpResponse(200, body, {"Content-Type": ec2_query.XML_CONTENT_TYPE, "x-amzn-RequestId": request_id})

    def _sts_call(self, request: HttpRequest, request_id: str, note: dict[str, str]) -> HttpResponse:
        action = dict(query_fields(request)).get("Action")
        note["op"] = f"sts:{action}"
        caller = self._authenticate(request, "sts")
        note["who"] = caller.principal
        name = sts_query.check_action(action)
        identity = sts_query.caller_identity(self.world().resolve(caller.principal))
        body = sts_query.response_xml(name, identity, request_id)
        return HttpResponse(200, body, {"Content-Type": ec2_query.XML_CONTENT_TYPE, "x-amzn-RequestId": request_id})

    def _s3_call(self, request: HttpRequest, request_id: str, note: dict[str, str]) -> HttpResponse:
        note["op"] = f"s3:{request.method} {request.raw_path.split('?', 1)[0]}"
        caller = self._authenticate(request, "s3")
        note["who"] = caller.principal
        from vpcflow.controlplane.s3_objects import S3Objects
        from vpcflow.storage.bucketstore import BucketStore

        svc = self.client.service
        rest = s3_rest.S3Rest(S3Objects(BucketStore(self.data_dir.s3_root), svc), svc.region)
        status, headers, body = rest.handle(request.method, request.raw_path, request.raw_query, dict(request.headers),
                                            request.body, caller.principal)
        return HttpResponse(status, body, {**headers, "x-amz-request-id": request_id})

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
