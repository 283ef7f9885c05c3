"""DescribeFlowLogs answered from kept reads and kept XML items (docs/api.md, "What the endpoint keeps"):
every change shows in the very next Describe, whoever made it: a write through the API (create, tag,
delete), a delivery status set through another store handle in this process, or one set by another
process (what `vpcflow run` does while the endpoint serves). And a kept answer is byte for byte the
answer a fresh endpoint writes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import VPC, Endpoint, make_data_dir, serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpcflow.api.backend import Backend, HttpRequest
from vpcflow.storage.state import StateStore

FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
DESCRIBE = HttpRequest("POST", "/", "", FORM, b"Action=DescribeFlowLogs&Version=2016-11-15")


@pytest.fixture
def ep(tmp_path: Path) -> Iterator[Endpoint]:
    endpoint = serve(make_data_dir(tmp_path))
    try:
        yield endpoint
    finally:
        endpoint.stop()


def _create(ep: Endpoint, prefix: str) -> str:
    out = ep.client("ec2").create_flow_logs(ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL",
                                             LogDestinationType="s3",
                                             LogDestination=f"arn:aws:s3:::api-test-logs/{prefix}/")
    ids: list[str] = out["FlowLogIds"]
    return ids[0]


def _described(ep: Endpoint) -> dict[str, dict[str, Any]]:
    return {f["FlowLogId"]: f for f in ep.client("ec2").describe_flow_logs()["FlowLogs"]}


def _status_by_another_process(data_dir: Path, flow_log_id: str, status: str, message: str | None) -> None:
    code = f"""
        from vpcflow.storage.state import StateStore
        with StateStore({str(data_dir / 'state.db')!r}) as st:
            assert st.set_delivery_status({flow_log_id!r}, {status!r}, {message!r})
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr


def test_writes_through_the_api_show_in_the_next_describe(ep: Endpoint) -> None:
    first = _create(ep, "a")
    assert list(_described(ep)) == [first]
    second = _create(ep, "b")
    assert list(_described(ep)) == [first, second]
    ep.client("ec2").create_tags(Resources=[first], Tags=[{"Key": "team", "Value": "net"}])
    assert _described(ep)[first]["Tags"] == [{"Key": "team", "Value": "net"}]
    ep.client("ec2").delete_tags(Resources=[first], Tags=[{"Key": "team"}])
    assert _described(ep)[first]["Tags"] == []
    ep.client("ec2").delete_flow_logs(FlowLogIds=[first])
    assert list(_described(ep)) == [second]


def test_a_status_set_by_another_process_shows_in_the_next_describe(ep: Endpoint) -> None:
    fid = _create(ep, "a")
    other = _create(ep, "b")
    assert _described(ep)[fid]["DeliverLogsStatus"] == "SUCCESS"
    _status_by_another_process(ep.data_dir, fid, "FAILED", "Access error")
    seen = _described(ep)
    assert seen[fid]["DeliverLogsStatus"] == "FAILED" and seen[fid]["DeliverLogsErrorMessage"] == "Access error"
    assert seen[other]["DeliverLogsStatus"] == "SUCCESS" and "DeliverLogsErrorMessage" not in seen[other]
    _status_by_another_process(ep.data_dir, fid, "SUCCESS", None)
    seen = _described(ep)
    assert seen[fid]["DeliverLogsStatus"] == "SUCCESS" and "DeliverLogsErrorMessage" not in seen[fid]


def test_a_status_set_through_another_store_handle_shows_in_the_next_describe(ep: Endpoint) -> None:
    fid = _create(ep, "a")
    assert _described(ep)[fid]["DeliverLogsStatus"] == "SUCCESS"
    with StateStore(ep.data_dir / "state.db") as st:
        st.set_delivery_status(fid, "FAILED", "Rate limited")
    assert _described(ep)[fid]["DeliverLogsErrorMessage"] == "Rate limited"


def test_a_delete_by_another_process_shows_in_the_next_describe(ep: Endpoint) -> None:
    fid, other = _create(ep, "a"), _create(ep, "b")
    assert list(_described(ep)) == [fid, other]
    with subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from vpcflow.runtime.client import Ec2Client
        with Ec2Client({str(ep.data_dir)!r}) as c:
            c.delete_flow_logs(FlowLogIds=[{fid!r}])
    """)]) as proc:
        assert proc.wait(timeout=60) == 0
    assert list(_described(ep)) == [other]


def _without_request_id(body: bytes) -> bytes:
    return re.sub(rb"<requestId>[^<]*</requestId>", b"<requestId/>", body)


_tag_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tags=st.lists(st.tuples(_tag_text, st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)),
                     max_size=3, unique_by=lambda kv: kv[0]),
       failed=st.booleans())
def test_a_kept_answer_is_byte_for_byte_a_fresh_one(tmp_path_factory: pytest.TempPathFactory,
                                                      tags: list[tuple[str, str]], failed: bool) -> None:
    """Warm (items kept from the previous answers) and cold (a new endpoint) write the same bytes, whatever
    the tags (escaped text) and delivery status; and a change made between two answers is in the second."""
    dd = make_data_dir(tmp_path_factory.mktemp("kept"))
    warm = Backend(dd, verify_signatures=False)
    try:
        _create_direct(warm, 3)
        before = warm.handle(DESCRIBE).body
        assert warm.handle(DESCRIBE).body != before  # a new request id each time...
        assert _without_request_id(warm.handle(DESCRIBE).body) == _without_request_id(before)  # ...nothing else
        with StateStore(dd / "state.db") as other:
            fid = other.list_flow_logs()[1].flow_log_id
            with other.transaction() as t:
                for key, value in tags:
                    t.put_tag(fid, key, value)
            if failed:
                other.set_delivery_status(fid, "FAILED", "Access error <&>")
        kept = warm.handle(DESCRIBE).body
        cold = Backend(dd, verify_signatures=False)
        try:
            fresh = cold.handle(DESCRIBE).body
        finally:
            cold.close()
        assert _without_request_id(kept) == _without_request_id(fresh)
        assert (b"Access error &lt;&amp;&gt;" in kept) == failed
        assert (_without_request_id(kept) == _without_request_id(before)) == (not tags and not failed)
    finally:
        warm.close()


def _create_direct(backend: Backend, n: int) -> None:
    for i in range(n):
        backend.client.create_flow_logs(ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL",
                                        LogDestinationType="s3", LogDestination=f"arn:aws:s3:::api-test-logs/k{i}/")


def test_a_change_made_while_the_backend_was_closed_shows_after_it_reopens(tmp_path: Path) -> None:
    """A reopened state.db connection counts its versions afresh, so nothing kept under the old connection
    (rows or XML items) may be served again: the refresh after an account change closes and reopens."""
    dd = make_data_dir(tmp_path)
    writer = Backend(dd, verify_signatures=False)
    _create_direct(writer, 2)  # through another connection: the backend's own never writes
    writer.close()
    backend = Backend(dd, verify_signatures=False)
    try:
        assert backend.handle(DESCRIBE).body.count(b"<deliverLogsStatus>SUCCESS") == 2
        backend.close()
        with StateStore(dd / "state.db") as other:
            other.set_delivery_status(other.list_flow_logs()[0].flow_log_id, "FAILED", "Access error")
        body = backend.handle(DESCRIBE).body
        assert body.count(b"<deliverLogsStatus>SUCCESS") == 1 and b"<deliverLogsStatus>FAILED" in body
    finally:
        backend.close()
