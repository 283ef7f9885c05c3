"""moto's server on 127.0.0.1 (a free port) as an S3 / CloudWatch Logs endpoint for the tests that deliver
through boto3 (wire spec section 4.2)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def moto_endpoint() -> Iterator[str]:
    """Start moto's threaded server, yield its URL, stop it (use from a fixture)."""
    moto_server = pytest.importorskip("moto.server")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
