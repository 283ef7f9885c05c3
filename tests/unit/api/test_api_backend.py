"""``api.backend.Backend`` without HTTP: routing by X-Amz-Target / Action, and the API boundary
(a locked store is 503, an unexpected exception is 500 with no traceback on the wire)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from vpcflow.api.backend import Backend, HttpRequest
from vpcflow.core.errors import StateError

FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


def _ec2(body: str) -> HttpRequest:
    return HttpRequest("POST", "/", "", FORM, body.encode())


def _logs(op: str, body: dict[str, Any]) -> HttpRequest:
    headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": f"Logs_20140328.{op}"}
    return HttpRequest("POST", "/", "", headers, json.dumps(body).encode())


@pytest.fixture
def backend(tmp_path: Path) -> Any:
    b = Backend(tmp_path / "data", verify_signatures=False)
    yield b
    b.close()


def _xml_error(body: bytes) -> tuple[str | None, str | None]:
    root = ET.fromstring(body)
    return root.findtext("./Errors/Error/Code"), root.findtext("./Errors/Error/Message")


def test_routes_by_target_header_or_action(backend: Backend) -> None:
    ec2 = backend.handle(_ec2("Action=DescribeFlowLogs&Version=2016-11-15"))
    assert ec2.status == 200 and ec2.headers["Content-Type"] == "text/xml;charset=UTF-8"
    assert b"<DescribeFlowLogsResponse" in ec2.body and b"<flowLogSet />" in ec2.body  # AWS sends the empty set
    logs = backend.handle(_logs("DescribeLogGroups", {}))
    assert logs.status == 200 and json.loads(logs.body) == {"logGroups": []}
    assert logs.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert logs.headers["x-amzn-RequestId"]


def test_form_body_must_be_form_encoded(backend: Backend) -> None:
    answer = backend.handle(HttpRequest("POST", "/", "", {"content-type": "application/json"}, b"{}"))
    assert answer.status == 400
    code, message = _xml_error(answer.body)
    assert code == "InvalidParameterValue" and message is not None and "X-Amz-Target" in message


def test_locked_state_is_503_in_each_protocol(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(*_: Any, **__: Any) -> Any:
        raise StateError("state.db is locked by another process")

    monkeypatch.setattr(backend.client.service, "describe_flow_logs", locked)
    answer = backend.handle(_ec2("Action=DescribeFlowLogs&Version=2016-11-15"))
    assert answer.status == 503 and _xml_error(answer.body)[0] == "Unavailable"
    monkeypatch.setattr(backend.log_store(), "describe_log_groups", locked)
    answer = backend.handle(_logs("DescribeLogGroups", {}))
    assert answer.status == 503 and json.loads(answer.body)["__type"] == "ServiceUnavailableException"


def test_unexpected_errors_are_500_without_a_traceback(backend: Backend, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(backend.client.service, "delete_flow_logs", broken)
    answer = backend.handle(_ec2("Action=DeleteFlowLogs&Version=2016-11-15&FlowLogId.1=fl-00000000000000001"))
    assert answer.status == 500
    code, message = _xml_error(answer.body)
    # The wire names the request, never the exception's text (it may hold local paths: issue 12).
    assert code == "InternalError" and message.startswith("An internal error has occurred (request ")
    assert b"Traceback" not in answer.body and b"boom" not in answer.body
    assert any("internal error" in r.message and r.exc_info for r in caplog.records)  # the server log has it


def test_follows_the_data_directory_account(tmp_path: Path) -> None:
    from vpcflow.runtime.datadir import DataDir

    b = Backend(tmp_path / "data", verify_signatures=False)
    try:
        assert backend_arn(b) == "arn:aws:iam::123456789012:root"
        DataDir.resolve(tmp_path / "data").init(account_id="210987654321", region="eu-west-3")
        assert backend_arn(b) == "arn:aws:iam::210987654321:root"
        groups = b.handle(_logs("CreateLogGroup", {"logGroupName": "g"}))
        assert groups.status == 200
        described = json.loads(b.handle(_logs("DescribeLogGroups", {})).body)
        assert described["logGroups"][0]["logGroupArn"] == "arn:aws:logs:eu-west-3:210987654321:log-group:g"
    finally:
        b.close()


def backend_arn(b: Backend) -> str:
    """The caller ARN GetCallerIdentity reports for an unsigned request (verification off: the root)."""
    answer = b.handle(HttpRequest("POST", "/", "", FORM, b"Action=GetCallerIdentity&Version=2011-06-15"))
    assert answer.status == 200, answer.body
    arn = ET.fromstring(answer.body).find(".//{https://sts.amazonaws.com/doc/2011-06-15/}Arn")
    assert arn is not None and arn.text
    return arn.text


def test_only_describe_flow_logs_is_answered_at_once_and_only_when_the_backend_is_free(backend: Backend) -> None:
    """``handle_if_free``: the app answers these on its event loop, so nothing that writes (and could wait for
    SQLite's write lock) may pass, whatever the form says last; a busy backend answers None at once."""
    describe = _ec2("Action=DescribeFlowLogs&Version=2016-11-15")
    assert backend.handle_if_free(describe) is None  # the store is not open yet: opening it may wait
    backend.handle(describe)
    answer = backend.handle_if_free(describe)
    assert answer is not None and answer.status == 200 and b"<DescribeFlowLogsResponse" in answer.body
    for other in (_ec2("Action=CreateFlowLogs&Version=2016-11-15"), _ec2("Action=DeleteFlowLogs"),
                  _ec2("Action=DescribeFlowLogs&Action=CreateFlowLogs"), _logs("DescribeLogGroups", {}),
                  HttpRequest("POST", "/", "", {"content-type": "application/json"}, b"Action=DescribeFlowLogs")):
        assert backend.handle_if_free(other) is None
    with backend._lock:
        assert backend.handle_if_free(describe) is None
        assert backend.screen_if_free(describe) == (True, None)  # signatures off: nothing to screen


def test_the_head_is_screened_at_once_only_with_the_store_open_and_the_backend_free(tmp_path: Path) -> None:
    signed = Backend(tmp_path / "data", verify_signatures=True)
    head = HttpRequest("POST", "/", "", {**FORM, "authorization": "AWS4-HMAC-SHA256 Credential=AKIANOBODY/20260101/"
                                          "us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00"}, b"")
    try:
        assert signed.screen_if_free(head) == (False, None)  # opening the store may wait: a thread does it
        refused = signed.screen(head)
        assert refused is not None and refused.status == 401
        done, again = signed.screen_if_free(head)
        assert done and again is not None and again.status == 401 and again.body.replace(
            again.headers["x-amzn-RequestId"].encode(), b"") == refused.body.replace(
            refused.headers["x-amzn-RequestId"].encode(), b"")
        with signed._lock:
            assert signed.screen_if_free(head) == (False, None)
    finally:
        signed.close()
