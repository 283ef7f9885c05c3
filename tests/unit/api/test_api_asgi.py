"""``api.app`` at the ASGI level, without a server: the exact messages sent for each kind of request
(status, header list, body), the head screened before any body is received, the body limit, the
page for humans, methods not served, and the lifespan closing the stores."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from vpcflow.api.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "api"))
from api_helpers import ROOT, VPC, make_data_dir

DESCRIBE = b"Action=DescribeFlowLogs&Version=2016-11-15"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
Message = dict[str, Any]


def _signed(body: bytes, key: tuple[str, str] = ROOT) -> list[tuple[bytes, bytes]]:
    req = AWSRequest(method="POST", url="http://127.0.0.1:8000/", data=body, headers={"Content-Type": FORM})
    SigV4Auth(Credentials(*key), "ec2", "us-east-1").add_auth(req)
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
    return headers + [(k.lower().encode(), str(v).encode()) for k, v in req.headers.items()]


def _scope(method: str, headers: list[tuple[bytes, bytes]], path: str = "/", query: bytes = b"") -> Message:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "", "headers": headers,
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5555)}


def _run(app: Any, scope: Message, chunks: list[bytes] | None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request; ``chunks`` None: the app must answer without receiving the body."""
    pending = list(chunks or [b""])
    sent: list[Message] = []

    async def receive() -> Message:
        if chunks is None:
            raise AssertionError("the body was read")
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, *bodies = sent
    assert start["type"] == "http.response.start" and all(b["type"] == "http.response.body" for b in bodies)
    return start["status"], list(start["headers"]), b"".join(b.get("body", b"") for b in bodies)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    dd = make_data_dir(tmp_path_factory.mktemp("asgi"))
    from vpcflow.runtime.client import Ec2Client

    with Ec2Client(dd) as c:
        c.create_flow_logs(ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL", LogDestinationType="s3",
                           LogDestination="arn:aws:s3:::api-test-logs/a/")
    return create_app(dd, max_body_bytes=4096)


def _request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    return dict(headers)[b"x-amzn-requestid"]


def test_a_describe_answer_is_xml_with_its_length_and_request_id(app: Any) -> None:
    status, headers, body = _run(app, _scope("POST", _signed(DESCRIBE)), [DESCRIBE[:10], DESCRIBE[10:]])
    assert status == 200
    rid = _request_id(headers)
    assert headers == [(b"content-type", b"text/xml;charset=UTF-8"), (b"x-amzn-requestid", rid),
                       (b"content-length", str(len(body)).encode())]
    assert b"<requestId>" + rid + b"</requestId>" in body and b"<flowLogSet><item>" in body


def test_an_unknown_key_is_refused_from_the_head_alone(app: Any) -> None:
    status, headers, body = _run(app, _scope("POST", _signed(DESCRIBE, ("AKIAUNKNOWN000000000", "s"))), None)
    assert status == 401 and b"<Code>AuthFailure</Code>" in body
    assert [k for k, _ in headers] == [b"x-amzn-requestid", b"content-type", b"content-length"]


def test_a_declared_body_over_the_limit_is_413_without_reading_it(app: Any) -> None:
    headers = [(k, b"99999" if k == b"content-length" else v) for k, v in _signed(DESCRIBE)]
    status, _, body = _run(app, _scope("POST", headers), None)
    assert status == 413 and b"<Code>RequestEntityTooLarge</Code>" in body


def test_a_sent_body_over_the_limit_is_413(app: Any) -> None:
    headers = [(k, v) for k, v in _signed(DESCRIBE) if k != b"content-length"]
    status, _, body = _run(app, _scope("POST", headers), [b"x" * 3000, b"x" * 3000])
    assert status == 413 and b"RequestEntityTooLarge" in body


def test_the_page_for_humans_is_plain_text(app: Any) -> None:
    status, headers, body = _run(app, _scope("GET", [(b"host", b"x")]), [])
    assert status == 200 and body.startswith(b"vpcflow: an AWS-compatible endpoint")
    assert headers == [(b"content-length", str(len(body)).encode()), (b"content-type", b"text/plain; charset=utf-8")]


def test_methods_not_served_are_405_naming_those_that_are(app: Any) -> None:
    status, headers, body = _run(app, _scope("OPTIONS", [(b"host", b"x")]), [])
    assert (status, body) == (405, b"Method Not Allowed")
    found = dict(headers)
    assert sorted(found[b"allow"].decode().split(", ")) == ["DELETE", "GET", "HEAD", "POST", "PUT"]
    assert found[b"content-type"] == b"text/plain; charset=utf-8" and found[b"content-length"] == b"18"


def test_the_lifespan_closes_the_stores(tmp_path: Path) -> None:
    app = create_app(make_data_dir(tmp_path))
    backend = app.state.backend
    backend.world()  # opens the state store
    assert backend._client is not None
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert backend._client is None



def test_a_failure_in_the_http_layer_is_a_bare_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(make_data_dir(tmp_path))

    def explode(_: Any) -> Any:
        raise RuntimeError(f"{tmp_path}/secret")

    monkeypatch.setattr(app.state.backend, "screen_if_free", explode)
    status, headers, body = _run(app, _scope("POST", _signed(DESCRIBE)), None)
    assert (status, body) == (500, b"Internal Server Error")
    assert headers == [(b"content-length", b"21"), (b"content-type", b"text/plain; charset=utf-8")]


def test_a_describe_is_answered_without_a_thread_when_the_backend_is_free(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(make_data_dir(tmp_path))
    assert _run(app, _scope("POST", _signed(DESCRIBE)), [DESCRIBE])[0] == 200  # opens the store (in the thread)

    async def no_thread(*_: Any) -> Any:
        raise AssertionError("handed to a thread")

    monkeypatch.setattr(app, "_in_thread", no_thread)
    status, _, body = _run(app, _scope("POST", _signed(DESCRIBE)), [DESCRIBE])
    assert status == 200 and b"<DescribeFlowLogsResponse" in body
    create = b"Action=CreateFlowLogs&Version=2016-11-15"
    status, _, body = _run(app, _scope("POST", _signed(create)), [create])
    assert (status, body) == (500, b"Internal Server Error")  # a write goes to the thread (here: refused)
