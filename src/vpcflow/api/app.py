"""The Starlette application: ``create_app(data_dir)`` serves EC2 flow logs, CloudWatch Logs and STS
GetCallerIdentity on one port (``POST`` to any path; EC2 also as ``GET`` with a query string).

Only this package imports the web framework. The app reads the request bytes and hands them to
:class:`~vpcflow.api.backend.Backend` in a worker thread (the stores are synchronous SQLite); a
``GET /`` without ``Action`` answers a short plain-text description of the endpoint for humans.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vpcflow.api.backend import EC2_OPERATIONS, Backend, HttpRequest
from vpcflow.api.identity import RootCredentials
from vpcflow.api.logs_json import OPERATIONS as LOGS_OPERATIONS
from vpcflow.api.sts_query import OPERATIONS as STS_OPERATIONS
from vpcflow.runtime.datadir import DataDir


def create_app(
    data_dir: DataDir | str | os.PathLike[str] | None,
    *,
    verify_signatures: bool = True,
    root_credentials: RootCredentials | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The endpoint for one data directory. ``clock`` (tests) replaces the server's clock for SigV4 skew."""
    backend = Backend(
        DataDir.resolve(data_dir),
        verify_signatures=verify_signatures,
        root_credentials=root_credentials,
        clock=clock,
    )

    async def aws(request: Request) -> Response:
        if request.method == "GET" and not request.url.query and request.url.path == "/":
            return PlainTextResponse(_about(backend))
        raw = HttpRequest(
            method=request.method,
            raw_path=request.scope.get("raw_path", b"/").decode("latin-1") or "/",
            raw_query=request.scope.get("query_string", b"").decode("latin-1"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        answer = await run_in_threadpool(backend.handle, raw)
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        backend.close()

    # Any path: an endpoint URL with a path prefix (a reverse proxy's /vpcflow/) signs that path too.
    app = Starlette(routes=[Route("/{path:path}", aws, methods=["GET", "POST"])], lifespan=lifespan)
    app.state.backend = backend
    return app


def _about(backend: Backend) -> str:
    return (
        "vpcflow: an AWS-compatible endpoint for VPC Flow Logs\n"
        f"data directory: {backend.data_dir.path}\n"
        f"EC2 (Query, 2016-11-15): {', '.join(sorted(EC2_OPERATIONS))}\n"
        f"CloudWatch Logs (JSON 1.1): {', '.join(sorted(LOGS_OPERATIONS))}\n"
        f"STS (Query): {', '.join(STS_OPERATIONS)}\n"
        f"SigV4 verification: {'on' if backend.verify_signatures else 'off'}\n"
    )
