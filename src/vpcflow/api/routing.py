"""The request as the backend sees it, and what it is: which protocol (wire spec 2.1), which Query
fields, and whether the app may answer it on its event loop (``reads_only``, docs/api.md "What the
endpoint keeps").

A request with ``X-Amz-Target`` is CloudWatch Logs JSON 1.1; a form body (or a GET query string) with
``Action`` is EC2 Query (or STS, by the credential scope or the action); S3 by its scope, a presigned
URL, or an S3 method or bucket path without an action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from vpcflow.api import sts_query
from vpcflow.api.sigv4 import SigV4Error, is_presigned, parse_authorization
from vpcflow.core.errors import ApiError

#: EC2 actions answered on the app's event loop when the backend is free (``Backend.handle_if_free``): they
#: read state kept in memory until state.db changes (a kept read costs one SQLite statement), write nothing.
INLINE_ACTIONS = frozenset({"DescribeFlowLogs"})


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


def query_fields(request: HttpRequest) -> list[tuple[str, str]]:
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


def reads_only(request: HttpRequest) -> bool:
    """An EC2 Query call of an ``INLINE_ACTIONS`` action (the action ``_ec2_call`` will run: the last
    ``Action`` field, as there)."""
    if protocol_of(request) != "ec2":
        return False
    try:
        return dict(query_fields(request)).get("Action") in INLINE_ACTIONS
    except ApiError:
        return False


def protocol_of(request: HttpRequest) -> str:
    """``logs`` (X-Amz-Target), ``sts`` or ``s3`` (the credential scope's service, or unsigned: an STS action,
    or no action at all with a bucket path or an S3 method), else ``ec2``."""
    if "x-amz-target" in request.headers:
        return "logs"
    if is_presigned(request.raw_query):
        return "s3" if "%2Fs3%2F" in request.raw_query or "/s3/" in request.raw_query else "ec2"
    try:
        service = parse_authorization(request.headers.get("authorization")).service
        if service in ("sts", "s3"):
            return service
    except SigV4Error:
        try:
            action = dict(query_fields(request)).get("Action")
        except ApiError:
            action = None
        if action in sts_query.OPERATIONS:
            return "sts"
        if action is None and (request.method in ("PUT", "HEAD", "DELETE") or request.raw_path not in ("", "/")):
            return "s3"
    return "ec2"

