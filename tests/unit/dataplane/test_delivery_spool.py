"""Spool items, checkpoint intents, fault points and the retry policy of the delivery sinks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from vpcflow.dataplane.sinks.base import RetryPolicy
from vpcflow.dataplane.sinks.spool import CheckpointStore, Intent, Spool, decode_events, encode_events, safe_name


def test_spool_items_in_order_and_incomplete_items_ignored(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", fsync=False)
    spool.put("fl-1", "b|2", b"two", {"kind": "s3", "n": 2})
    spool.put("fl-1", "a/1", b"one", {"kind": "s3", "n": 1})
    spool.put("fl-2", "x", b"", {"kind": "embedded-logs"})
    # A kill after the data file but before the metadata: not an item.
    (tmp_path / "spool" / "fl-1" / "c.data").write_bytes(b"partial")
    items = spool.items("fl-1")
    assert [(i.item_id, i.meta) for i in items] == [("a/1", {"kind": "s3", "n": 1}), ("b|2", {"kind": "s3", "n": 2})]
    assert spool.payload(items[0]) == b"one"
    assert spool.flow_log_ids() == ["fl-1", "fl-2"] and spool.count() == 3
    spool.remove(items[0])
    assert [i.item_id for i in spool.items("fl-1")] == ["b|2"]
    assert spool.has_items("fl-1") and not spool.has_items("fl-9")
    assert spool.has_items("fl-1", "s3") and not spool.has_items("fl-1", "embedded-logs")
    assert safe_name("a/b|c d") == "a_b_c_d"


def test_events_encoding_round_trip() -> None:
    ts = np.array([3, 1, 2], dtype=np.int64)
    msgs = pa.array(["x y", "é", ""])
    back_ts, back_msgs = decode_events(encode_events(ts, msgs))
    assert back_ts.tolist() == [3, 1, 2] and back_msgs.to_pylist() == ["x y", "é", ""]


def test_checkpoint_store_intent_commit_abandon(tmp_path: Path) -> None:
    c = CheckpointStore(tmp_path / "c.db")
    assert c.get("r", "d", "s") == 0 and c.intent("r", "d", "s") is None
    c.begin("r", "d", "s", Intent(0, 10, 5, "last"))
    assert c.intent("r", "d", "s") == Intent(0, 10, 5, "last")
    c.commit("r", "d", "s", 10)
    assert c.get("r", "d", "s") == 10 and c.intent("r", "d", "s") is None
    c.commit("r", "d", "s", 4)  # never goes back
    assert c.get("r", "d", "s") == 10
    c.begin("r", "d", "s", Intent(10, 20, 9, "z"))
    c.abandon("r", "d", "s")
    assert c.intent("r", "d", "s") is None and c.get("r", "d", "s") == 10
    c.close()
    assert CheckpointStore(tmp_path / "c.db").get("r", "d", "s") == 10


@pytest.mark.parametrize(("spec", "code"), [("here:2", 137), ("here:3", 0), ("elsewhere:1,here:1", 137), ("", 0)])
def test_fault_point_kills_on_the_nth_hit(spec: str, code: int) -> None:
    prog = ("from vpcflow.dataplane.sinks.faults import fault_point\n"
            "fault_point('here'); fault_point('other'); fault_point('here')\nprint('survived')")
    res = subprocess.run([sys.executable, "-c", prog], env={"VPCFLOW_FAULT_POINT": spec, "PATH": ""},
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == code, res.stderr
    assert ("survived" in res.stdout) == (code == 0)


def test_retry_policy_backoff_is_bounded_and_jittered() -> None:
    p = RetryPolicy(max_attempts=5, base_s=0.5, cap_s=3.0)
    assert [p.delay(a, 0.999999) for a in range(1, 6)] == pytest.approx([0.5, 1.0, 2.0, 3.0, 3.0], rel=1e-5)
    assert p.delay(4, 0.0) == 0.0
