"""The ASGI application: ``create_app(data_dir)`` serves EC2 flow logs, CloudWatch Logs, STS
GetCallerIdentity and the S3 bucket API on one port (``POST`` to any path; EC2 also as ``GET`` with a
query string).

Only this package imports the web framework. The app reads the request bytes and hands them to
:class:`~vpcflow.api.backend.Backend` (the stores are synchronous SQLite, so ``Backend.handle`` runs
in a worker thread); a ``GET /`` without ``Action`` answers a short plain-text description of the
endpoint for humans (what it serves, never where its data lives: that page needs no credentials).

Before a body is read, the request's head is screened (``Backend.screen``: a well-formed
``Authorization`` header naming a known access key, when signatures are verified) and its size is
checked against ``max_body_bytes``: the declared ``Content-Length`` first, then the bytes as they
arrive, so an unauthenticated or oversized request costs neither memory nor parsing.

Speed (docs/benchmarks.md, issue 12): the served methods are answered by :class:`EndpointApp` straight
from the ASGI messages, without Starlette's routing, Request and Response objects; the head is screened
on the event loop when the backend is free (a few microseconds from kept reads; a worker thread when
it is busy), so a request crosses to a thread once. What it sends is what Starlette's route and
``Response`` sent: the backend's headers lower-cased, then ``content-length``; other methods get
Starlette's 405, and the lifespan is Starlette's, which closes the stores at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.responses import Response
from starlette.routing import Route

from vpcflow.api.backend import EC2_OPERATIONS, Backend
from vpcflow.api.identity import RootCredentials
from vpcflow.api.logs_json import OPERATIONS as LOGS_OPERATIONS
from vpcflow.api.routing import HttpRequest, HttpResponse, protocol_of
from vpcflow.api.sts_query import OPERATIONS as STS_OPERATIONS
from vpcflow.runtime.datadir import DataDir

log = logging.getLogger("vpcflow.api")

#: The largest request body accepted (decision, docs/api.md): a full PutLogEvents batch is 1,048,576 bytes
#: of events; JSON escaping can make its body several times larger, so 8 MiB leaves room for any valid call.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
#: The largest S3 PutObject body (decision, docs/api.md): flow-log objects are far smaller; S3's own
#: single-PUT limit is 5 GB, which an embedded store held in memory per request cannot sensibly take.
DEFAULT_MAX_OBJECT_BYTES = 256 * 1024 * 1024
#: The methods served; any other is Starlette's 405 naming these.
METHODS = ("GET", "POST", "PUT", "HEAD", "DELETE")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its body arrived: nobody is left to answer."""


class EndpointApp:
    """The ASGI callable ``create_app`` returns; ``state.backend`` is the :class:`Backend` (tests reach it)."""

    def __init__(self, backend: Backend, *, max_body_bytes: int, max_object_bytes: int) -> None:
        self.backend = backend
        self.max_body_bytes = max_body_bytes
        self.max_object_bytes = max_object_bytes
        self.state = State({"backend": backend})
        # Every call in a thread takes the backend's lock, so one thread serves them in the same order
        # without threads waking only to wait for the lock.
        self._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpcflow-api")
        self._rest = self._framework_app()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in METHODS:
            await self._http(scope, receive, send)
        else:  # the lifespan, websockets, methods not served: Starlette's own answers
            await self._rest(scope, receive, send)

    def _framework_app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            yield
            self.backend.close()
            self._threads.shutdown(wait=False)

        async def unreachable(_: Any) -> Response:  # the served methods never get here (__call__)
            raise AssertionError("served methods are answered by EndpointApp")

        # Any path: an endpoint URL with a path prefix (a reverse proxy's /vpcflow/) signs that path too.
        return Starlette(routes=[Route("/{path:path}", unreachable, methods=list(METHODS))], lifespan=lifespan)

    async def _in_thread(self, call: Callable[[HttpRequest], T], request: HttpRequest) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, call, request)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            answer = await self._answer(scope, receive)
        except ClientGone:
            return
        except Exception:  # what Starlette's error middleware did: logged here, a bare 500 on the wire
            log.exception("internal error in the endpoint's HTTP layer")
            answer = HttpResponse(500, b"Internal Server Error", {"content-length": "21",
                                                                  "content-type": "text/plain; charset=utf-8"})
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        status = answer.status
        if all(k != b"content-length" for k, _ in headers) and not (status < 200 or status in (204, 304)):
            headers.append((b"content-length", str(len(answer.body)).encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer(self, scope: Scope, receive: Receive) -> HttpResponse:
        backend = self.backend
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method: str = scope["method"]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        if method == "GET" and not raw_query and scope.get("path") == "/" and "authorization" not in headers:
            # (signed, it is S3's ListBuckets) Starlette's PlainTextResponse: length first, then type
            about = _about(backend).encode()
            return HttpResponse(200, about, {"content-length": str(len(about)),
                                             "content-type": "text/plain; charset=utf-8"})
        head = HttpRequest(method, scope.get("raw_path", b"/").decode("latin-1") or "/", raw_query, headers, b"")
        screened, refused = backend.screen_if_free(head)
        if not screened:
            refused = await self._in_thread(backend.screen, head)
        if refused is not None:
            return refused
        limit = self.max_object_bytes if method == "PUT" and protocol_of(head) == "s3" else self.max_body_bytes
        body = await _read_body(headers, receive, limit)
        if body is None:
            return backend.too_large(head, limit)
        request = HttpRequest(method, head.raw_path, raw_query, headers, body)
        answer = backend.handle_if_free(request)  # a read of kept state, answered here when the backend is free
        return answer if answer is not None else await self._in_thread(backend.handle, request)


async def _read_body(headers: dict[str, str], receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` bytes (declared or sent)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def create_app(
    data_dir: DataDir | str | os.PathLike[str] | None,
    *,
    verify_signatures: bool = True,
    root_credentials: RootCredentials | None = None,
    clock: Callable[[], datetime] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
) -> EndpointApp:
    """The endpoint for one data directory. ``clock`` (tests) replaces the server's clock for SigV4 skew."""
    backend = Backend(
        DataDir.resolve(data_dir),
        verify_signatures=verify_signatures,
        root_credentials=root_credentials,
        clock=clock,
    )
    return EndpointApp(backend, max_body_bytes=max_body_bytes, max_object_bytes=max_object_bytes)


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
