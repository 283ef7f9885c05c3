"""The endpoint, fast and safe (issue 12, item 5): TCP_NODELAY on every connection, a body-size limit
enforced before parsing, authentication before the body is read, nothing unauthenticated or failing
that reveals local paths, deeply nested bodies a 4xx in AWS's error shape, never a 500."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import (
    FORM,
    ROOT,
    Endpoint,
    endpoint_fixture,
    logs_headers,
    make_data_dir,
    raw_request,
    serve,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpcflow.api.server import bind, is_loopback

DESCRIBE = b"Action=DescribeFlowLogs&Version=2016-11-15"
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def ep(tmp_path_factory: Any) -> Iterator[Endpoint]:
    yield from endpoint_fixture(tmp_path_factory, max_body_bytes=LIMIT)


def _raw_exchange(ep: Endpoint, head: bytes, first_body_bytes: bytes = b"") -> tuple[int, bytes]:
    """Send a request head (and a little of a body), then read the answer without sending the rest."""
    port = int(ep.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + first_body_bytes)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head_text, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head_text.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(head_text.split(b" ")[1]), rest


def test_connections_carry_tcp_nodelay() -> None:
    listener = bind("127.0.0.1", 0)
    try:
        listener.listen(1)
        client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        try:
            assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            accepted.close()
            client.close()
    finally:
        listener.close()


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.1") and is_loopback("::1")
    assert is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3")
    assert not is_loopback("example.internal")


def test_a_declared_oversized_body_is_refused_before_it_is_sent(ep: Endpoint) -> None:
    auth_free_head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 52428800\r\n\r\n"
    )
    # Unsigned: refused for want of credentials before a byte of the 50 MB is read.
    status, body = _raw_exchange(ep, auth_free_head, b"Action=Describe")
    assert status == 401 and b"MissingAuthenticationToken" in body


def test_signed_bodies_over_the_limit_get_413_in_the_protocols_shape(ep: Endpoint) -> None:
    big = DESCRIBE + b"&Pad=" + b"x" * LIMIT
    answer = raw_request(ep, big, FORM)
    assert answer.status == 413
    assert answer.xml_error()[0] == "RequestEntityTooLarge"
    logs = raw_request(ep, json.dumps({"logGroupNamePrefix": "x" * LIMIT}).encode(),
                       logs_headers("DescribeLogGroups"), service="logs")
    assert logs.status == 413 and logs.json()["__type"] == "RequestEntityTooLarge"
    assert raw_request(ep, DESCRIBE, FORM).status == 200  # a body under the limit still works


def test_a_chunked_body_over_the_limit_is_cut_off(ep: Endpoint) -> None:
    import http.client

    port = int(ep.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    chunks = (b"y" * 8192 for _ in range(LIMIT // 8192 + 4))
    # A known access key in a well-formed header passes the screen; the body then trips the limit.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=ep.url + "/", data=b"", headers=dict(FORM))
    SigV4Auth(Credentials(*ROOT), "ec2", "us-east-1").add_auth(req)
    headers = {k: str(v) for k, v in req.headers.items() if k.lower() != "content-length"}
    conn.request("POST", "/", body=chunks, headers=headers, encode_chunked=True)
    answer = conn.getresponse()
    assert answer.status == 413
    conn.close()


def test_unknown_access_keys_are_refused_before_the_body(ep: Endpoint) -> None:
    answer = raw_request(ep, DESCRIBE + b"&Pad=" + b"z" * (LIMIT * 2), FORM, key=("AKIAUNKNOWN000000000", "s"))
    assert answer.status == 401 and answer.xml_error()[0] == "AuthFailure"


def test_deeply_nested_json_is_a_400_serialization_error(ep: Endpoint) -> None:
    depth = 20_000
    body = b'{"logGroupNamePrefix": ' + b"[" * depth + b"]" * depth + b"}"
    answer = raw_request(ep, body, logs_headers("DescribeLogGroups"), service="logs")
    assert answer.status == 400
    assert answer.json()["__type"] == "SerializationException"
    shallow_but_deep_for_validation = b'{"logGroupNamePrefix": ' + b"[" * 900 + b"]" * 900 + b"}"
    answer = raw_request(ep, shallow_but_deep_for_validation, logs_headers("DescribeLogGroups"), service="logs")
    assert 400 <= answer.status < 500


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operation=st.sampled_from(["DescribeLogGroups", "PutLogEvents", "FilterLogEvents", "CreateLogGroup",
                               "GetLogEvents", "NoSuchOperation"]),
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=4),
                     max_leaves=30).map(lambda v: json.dumps(v).encode()),
    ),
)
def test_malformed_signed_logs_requests_are_never_a_500(ep: Endpoint, operation: str, body: bytes) -> None:
    answer = raw_request(ep, body, logs_headers(operation), service="logs")
    assert answer.status < 500, answer.body
    if answer.status >= 400:
        assert "__type" in answer.json()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: ("Action=" + t).encode()))
def test_malformed_signed_ec2_requests_are_never_a_500(ep: Endpoint, body: bytes) -> None:
    answer = raw_request(ep, body, FORM)
    assert answer.status < 500, answer.body


def test_the_unauthenticated_page_and_internal_errors_reveal_no_path(tmp_path: Any) -> None:
    import urllib.request

    dd = make_data_dir(tmp_path)
    ep = serve(dd)
    try:
        with urllib.request.urlopen(ep.url + "/", timeout=10) as r:
            about = r.read().decode()
        assert "DescribeFlowLogs" in about and str(tmp_path) not in about and "data directory" not in about

        backend = ep.server.config.app.state.backend  # type: ignore[attr-defined]

        def explode(*_: Any, **__: Any) -> Any:
            raise OSError(f"cannot open {tmp_path}/secret/state.db")

        backend._ec2_call = explode
        answer = raw_request(ep, DESCRIBE, FORM)
        assert answer.status == 500 and answer.xml_error()[0] == "InternalError"
        assert str(tmp_path) not in answer.body.decode()
    finally:
        ep.stop()


def test_every_read_is_acked_at_once(ep: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that sends headers and body in two writes without TCP_NODELAY (botocore's habit) waits for
    the server's ACK of the headers; the server ACKs after every read instead of delaying it."""
    import vpcflow.api.quickack as server

    acked: list[object] = []
    real = server.ack_now
    monkeypatch.setattr(server, "ack_now", lambda sock: (acked.append(sock), real(sock)))
    port = int(ep.url.rsplit(":", 1)[1])
    body = DESCRIBE
    head = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        s.sendall(head)
        s.sendall(body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
    assert data.startswith(b"HTTP/1.1 401")  # unsigned; what matters is how it was read
    assert len(acked) >= 1 and all(hasattr(a, "setsockopt") for a in acked)


def test_the_endpoint_speaks_http_through_the_compiled_parser() -> None:
    # httptools is a dependency (pyproject.toml): uvicorn's "auto" protocol, which QuickAckProtocol
    # extends, must resolve to it and not fall back to the pure-Python h11 (a fifth more CPU per call).
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from vpcflow.api.quickack import QuickAckProtocol

    assert issubclass(QuickAckProtocol, HttpToolsProtocol)
