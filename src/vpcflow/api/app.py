"""The Starlette application: ``create_app(data_dir)`` serves EC2 flow logs, CloudWatch Logs and STS
GetCallerIdentity on one port (``POST`` to any path; EC2 also as ``GET`` with a query string).

Only this package imports the web framework. The app reads the request bytes and hands them to
:class:`~vpcflow.api.backend.Backend` in a worker thread (the stores are synchronous SQLite); a
``GET /`` without ``Action`` answers a short plain-text description of the endpoint for humans
(what it serves, never where its data lives: that page needs no credentials).

Before a body is read, the request's head is screened (``Backend.screen``: a well-formed
``Authorization`` header naming a known access key, when signatures are verified) and its size is
checked against ``max_body_bytes``: the declared ``Content-Length`` first, then the bytes as they
arrive, so an unauthenticated or oversized request costs neither memory nor parsing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vpcflow.api.backend import EC2_OPERATIONS, Backend, HttpRequest, HttpResponse, protocol_of
from vpcflow.api.identity import RootCredentials
from vpcflow.api.logs_json import OPERATIONS as LOGS_OPERATIONS
from vpcflow.api.sts_query import OPERATIONS as STS_OPERATIONS
from vpcflow.runtime.datadir import DataDir

#: The largest request body accepted (decision, docs/api.md): a full PutLogEvents batch is 1,048,576 bytes
#: of events; JSON escaping can make its body several times larger, so 8 MiB leaves room for any valid call.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
#: The largest S3 PutObject body (decision, docs/api.md): flow-log objects are far smaller; S3's own
#: single-PUT limit is 5 GB, which an embedded store held in memory per request cannot sensibly take.
DEFAULT_MAX_OBJECT_BYTES = 256 * 1024 * 1024


def create_app(
    data_dir: DataDir | str | os.PathLike[str] | None,
    *,
    verify_signatures: bool = True,
    root_credentials: RootCredentials | None = None,
    clock: Callable[[], datetime] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
) -> Starlette:
    """The endpoint for one data directory. ``clock`` (tests) replaces the server's clock for SigV4 skew."""
    backend = Backend(
        DataDir.resolve(data_dir),
        verify_signatures=verify_signatures,
        root_credentials=root_credentials,
        clock=clock,
    )

    async def aws(request: Request) -> Response:
        if (request.method == "GET" and not request.url.query and request.url.path == "/"
                and "authorization" not in request.headers):  # signed, it is S3's ListBuckets
            return PlainTextResponse(_about(backend))
        head = HttpRequest(
            method=request.method,
            raw_path=request.scope.get("raw_path", b"/").decode("latin-1") or "/",
            raw_query=request.scope.get("query_string", b"").decode("latin-1"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=b"",
        )
        refused = await run_in_threadpool(backend.screen, head)
        if refused is not None:
            return _response(refused)
        limit = max_object_bytes if request.method == "PUT" and protocol_of(head) == "s3" else max_body_bytes
        body = await _read_body(request, limit)
        if body is None:
            return _response(backend.too_large(head, limit))
        answer = await run_in_threadpool(backend.handle, replace(head, body=body))
        return _response(answer)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        backend.close()

    # Any path: an endpoint URL with a path prefix (a reverse proxy's /vpcflow/) signs that path too.
    methods = ["GET", "POST", "PUT", "HEAD", "DELETE"]
    app = Starlette(routes=[Route("/{path:path}", aws, methods=methods)], lifespan=lifespan)
    app.state.backend = backend
    return app


def _response(answer: HttpResponse) -> Response:
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` bytes (declared or sent)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _about(backend: Backend) -> str:
    return (
        "vpcflow: an AWS-compatible endpoint for VPC Flow Logs\n"
        f"EC2 (Query, 2016-11-15): {', '.join(sorted(EC2_OPERATIONS))}\n"
        f"CloudWatch Logs (JSON 1.1): {', '.join(sorted(LOGS_OPERATIONS))}\n"
        f"STS (Query): {', '.join(STS_OPERATIONS)}\n"
        "S3 (REST, path-style): ListBuckets, CreateBucket, HeadBucket, GetBucketLocation, ListObjects(V2), "
        "PutObject, GetObject, HeadObject, DeleteObject(s), Get/Put/DeleteBucketPolicy\n"
        f"SigV4 verification: {'on' if backend.verify_signatures else 'off'}\n"
    )
