"""``StateStore.version`` and ``read_cached``: a read kept between calls is re-read after ANY change to
state.db, whether made through the same store, another store handle in this process, or another process
(what the endpoint's DescribeFlowLogs relies on: a delivery status set by `vpcflow run` shows at once)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vpcflow.model.flowlog import FlowLog
from vpcflow.storage.state import StateStore, StateTxn


def _flow_log(i: int) -> FlowLog:
    return FlowLog(
        flow_log_id=f"fl-{i:017x}", account_id="123456789012", region="us-east-1", resource_id="vpc-1",
        resource_type="VPC", traffic_type="ALL", log_destination_type="s3",
        log_destination=f"arn:aws:s3:::bucket/p{i}/", log_group_name=None, deliver_logs_permission_arn=None,
        deliver_cross_account_role=None, log_format="${version} ${account-id}", max_aggregation_interval=600,
        destination_options=None, tag_field_specifications=(), flow_log_status="ACTIVE",
        creation_time=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    )


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    st = StateStore(tmp_path / "state.db")
    with st.transaction() as t:
        t.insert_flow_log(_flow_log(1))
    return st


def _statuses(t: StateTxn) -> tuple[tuple[str, str], ...]:
    return tuple((s.flow_log.flow_log_id, s.deliver_logs_status) for s in t.stored_flow_logs())


def _other_process(path: Path, code: str) -> None:
    script = f"from vpcflow.storage.state import StateStore\nst = StateStore({str(path)!r})\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr


def test_version_is_stable_while_nothing_changes(store: StateStore) -> None:
    first = store.version()
    store.list_stored_flow_logs()  # reads change nothing
    assert store.version() == first


def test_version_changes_with_a_write_through_the_same_store(store: StateStore) -> None:
    before = store.version()
    store.set_delivery_status("fl-00000000000000001", "FAILED", "Access error")
    assert store.version() != before


def test_version_changes_with_a_write_through_another_handle(store: StateStore) -> None:
    before = store.version()
    with StateStore(store.path) as other:
        other.set_delivery_status("fl-00000000000000001", "FAILED", "Access error")
    assert store.version() != before


def test_version_changes_with_a_write_by_another_process(store: StateStore) -> None:
    before = store.version()
    _other_process(store.path, "st.set_delivery_status('fl-00000000000000001', 'FAILED', 'Rate limited')")
    assert store.version() != before


def test_read_cached_returns_the_kept_value_while_nothing_changes(store: StateStore) -> None:
    calls: list[int] = []

    def read(t: StateTxn) -> tuple[tuple[str, str], ...]:
        calls.append(1)
        return _statuses(t)

    first = store.read_cached("statuses", read)
    assert store.read_cached("statuses", read) is first
    assert len(calls) == 1


def test_read_cached_sees_a_write_through_the_same_store(store: StateStore) -> None:
    assert store.read_cached("statuses", _statuses) == (("fl-00000000000000001", "SUCCESS"),)
    store.set_delivery_status("fl-00000000000000001", "FAILED", "Access error")
    assert store.read_cached("statuses", _statuses) == (("fl-00000000000000001", "FAILED"),)
    with store.transaction() as t:
        t.insert_flow_log(_flow_log(2))
    assert [i for i, _ in store.read_cached("statuses", _statuses)] == ["fl-00000000000000001", "fl-00000000000000002"]
    with store.transaction() as t:
        t.delete_flow_log("fl-00000000000000001")
    assert store.read_cached("statuses", _statuses) == (("fl-00000000000000002", "SUCCESS"),)


def test_read_cached_sees_a_write_through_another_handle(store: StateStore) -> None:
    assert store.read_cached("statuses", _statuses) == (("fl-00000000000000001", "SUCCESS"),)
    with StateStore(store.path) as other:
        other.set_delivery_status("fl-00000000000000001", "FAILED", "Access error")
    assert store.read_cached("statuses", _statuses) == (("fl-00000000000000001", "FAILED"),)


def test_read_cached_sees_a_write_by_another_process(store: StateStore) -> None:
    assert store.read_cached("statuses", _statuses) == (("fl-00000000000000001", "SUCCESS"),)
    _other_process(store.path, """
        st.set_delivery_status('fl-00000000000000001', 'FAILED', 'Unknown error')
    """)
    assert store.read_cached("statuses", _statuses) == (("fl-00000000000000001", "FAILED"),)
    _other_process(store.path, """
        with st.transaction() as t:
            t.delete_flow_log('fl-00000000000000001')
    """)
    assert store.read_cached("statuses", _statuses) == ()


def test_read_cached_starts_afresh_after_close(store: StateStore) -> None:
    """A reopened connection counts from scratch: nothing kept under the old connection's version may match."""
    store.read_cached("statuses", _statuses)
    store.close()
    with StateStore(store.path) as other:
        other.set_delivery_status("fl-00000000000000001", "FAILED", "Access error")
    assert store.read_cached("statuses", _statuses) == (("fl-00000000000000001", "FAILED"),)


def test_cached_reads_keep_their_names_apart(store: StateStore) -> None:
    assert store.read_cached("a", lambda t: "first") == "first"
    assert store.read_cached("b", lambda t: "second") == "second"
    assert store.read_cached("a", lambda t: "changed") == "first"


def test_versions_of_two_connections_never_compare_equal(store: StateStore) -> None:
    """data_version and total_changes start afresh on every connection: a value kept by a caller under one
    connection's version (the endpoint's XML items) must not match a reopened or another connection's."""
    before = store.version()
    store.close()
    assert store.version() != before  # reopened, nothing changed: still another connection's version
    with StateStore(store.path) as other:
        assert other.version() != store.version()
