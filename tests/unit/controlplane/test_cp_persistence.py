"""State persistence: a new process on the same data directory keeps every flow log and tag; two processes
write concurrently without loss; a locked or corrupt database gives a clear StateError."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vpcflow.core.errors import StateError
from vpcflow.runtime.client import Ec2Client
from vpcflow.runtime.datadir import DataDir, resolve_path
from vpcflow.storage.state import StateStore

TOPOLOGY = """
account_id: "123456789012"
region: us-east-1
vpcs:
  - name: main
    id: vpc-0a1b2c3d4e5f60718
    cidr_block: 10.0.0.0/16
    subnets:
      - {name: s1, id: subnet-0a1b2c3d4e5f60718, cidr_block: 10.0.1.0/24, availability_zone: us-east-1a}
s3_buckets:
  - name: flow-bucket
    owner: "123456789012"
    region: us-east-1
"""

CREATE = {
    "ResourceIds": ["vpc-0a1b2c3d4e5f60718"],
    "ResourceType": "VPC",
    "TrafficType": "ALL",
    "LogDestinationType": "s3",
}


def run_py(code: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    topo = tmp_path / "topo.yaml"
    topo.write_text(TOPOLOGY)
    dd = tmp_path / "dd"
    with Ec2Client(dd) as c:
        c.load_topology(topo)
    return dd


def test_data_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VPCFLOW_DATA_DIR", raising=False)
    assert resolve_path(None) == Path("vpcflow-data")
    monkeypatch.setenv("VPCFLOW_DATA_DIR", str(tmp_path / "env"))
    assert resolve_path(None) == tmp_path / "env"
    assert resolve_path(tmp_path / "flag") == tmp_path / "flag"
    dd = DataDir.resolve(tmp_path / "x")
    assert dd.state_path == tmp_path / "x" / "state.db" and dd.logs_path == tmp_path / "x" / "logs.db"
    assert dd.bucket_path("b") == tmp_path / "x" / "s3" / "b" and dd.spool == tmp_path / "x" / "spool"


def test_fresh_account_defaults_and_init(tmp_path: Path) -> None:
    dd = DataDir.resolve(tmp_path / "fresh")
    assert dd.settings() == ("123456789012", "us-east-1")
    assert dd.init(account_id="111122223333", region="eu-west-1") == ("111122223333", "eu-west-1")
    with Ec2Client(dd) as c:
        assert c.describe_flow_logs()["FlowLogs"] == []
        assert c.service.account_id == "111122223333"


def test_init_refused_once_flow_logs_exist(data_dir: Path) -> None:
    with Ec2Client(data_dir) as c:
        c.create_flow_logs(**CREATE, LogDestination="arn:aws:s3:::flow-bucket")
    from vpcflow.core.errors import ConfigError

    with pytest.raises(ConfigError):
        DataDir.resolve(data_dir).init(account_id="111122223333")


def test_restart_keeps_flow_logs_and_tags(data_dir: Path) -> None:
    out = run_py(
        """
        import sys, json
        from vpcflow.runtime.client import Ec2Client
        c = Ec2Client(sys.argv[1])
        r = c.create_flow_logs(ResourceIds=["vpc-0a1b2c3d4e5f60718"], ResourceType="VPC", TrafficType="ALL",
            LogDestinationType="s3", LogDestination="arn:aws:s3:::flow-bucket/a/",
            DestinationOptions={"FileFormat": "parquet", "HiveCompatiblePartitions": True},
            TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "k", "Value": "v"}]}])
        c.create_tags(Resources=r["FlowLogIds"], Tags=[{"Key": "extra", "Value": ""}])
        c.service.store.set_delivery_status(r["FlowLogIds"][0], "FAILED", "Access error")
        print(json.dumps(c.describe_flow_logs()["FlowLogs"], default=str))
        """,
        str(data_dir),
    )
    before = out.strip()
    after = run_py(
        """
        import sys, json
        from vpcflow.runtime.client import Ec2Client
        print(json.dumps(Ec2Client(sys.argv[1]).describe_flow_logs()["FlowLogs"], default=str))
        """,
        str(data_dir),
    ).strip()
    assert before == after
    import json

    (item,) = json.loads(after)
    assert item["Tags"] == [{"Key": "extra", "Value": ""}, {"Key": "k", "Value": "v"}]
    assert item["DestinationOptions"] == {
        "FileFormat": "parquet",
        "HiveCompatiblePartitions": True,
        "PerHourPartition": False,
    }
    assert (item["DeliverLogsStatus"], item["DeliverLogsErrorMessage"]) == ("FAILED", "Access error")
    assert Ec2Client(data_dir).service.store.get_topology_document() is not None


def test_concurrent_writers_from_two_processes(data_dir: Path) -> None:
    code = """
        import sys
        from vpcflow.runtime.client import Ec2Client
        c = Ec2Client(sys.argv[1])
        for i in range(15):
            c.create_flow_logs(ResourceIds=["vpc-0a1b2c3d4e5f60718"], ResourceType="VPC", TrafficType="ALL",
                LogDestinationType="s3", LogDestination=f"arn:aws:s3:::flow-bucket/{sys.argv[2]}{i}/")
    """
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(data_dir), tag], stderr=subprocess.PIPE)
        for tag in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    logs = Ec2Client(data_dir).describe_flow_logs()["FlowLogs"]
    assert len(logs) == 30 and len({f["FlowLogId"] for f in logs}) == 30


def test_locked_database_is_a_clear_error(data_dir: Path) -> None:
    holder = sqlite3.connect(data_dir / "state.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = StateStore(data_dir / "state.db", timeout_s=0.2)
        with pytest.raises(StateError) as ei, store.transaction() as t:
            t.set_setting("x", "y")
        assert "locked" in str(ei.value) and "state.db" in str(ei.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with StateStore(data_dir / "state.db") as store, store.transaction() as t:  # usable again
        t.set_setting("x", "y")


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not an sqlite database at all" * 200)
    with pytest.raises(StateError) as ei:
        StateStore(db).list_flow_logs()
    assert "corrupt" in str(ei.value) and str(db) in str(ei.value)
    assert db.read_bytes().startswith(b"this is not")  # nothing overwritten


def test_newer_schema_refused(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    StateStore(db).list_flow_logs()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = 999")
    conn.commit()
    conn.close()
    with pytest.raises(StateError) as ei:
        StateStore(db).list_flow_logs()
    assert "newer" in str(ei.value)


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    with pytest.raises(RuntimeError), store.transaction() as t:
        t.set_setting("a", "1")
        raise RuntimeError("boom")
    assert store.get_setting("a") is None


def test_wal_mode(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.list_flow_logs()
    conn = sqlite3.connect(tmp_path / "state.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_duplicates_create_one_flow_log(data_dir: Path) -> None:
    code = """
        import sys
        from vpcflow.runtime.client import Ec2Client
        c = Ec2Client(sys.argv[1])
        for i in range(10):
            c.create_flow_logs(ResourceIds=["vpc-0a1b2c3d4e5f60718"], ResourceType="VPC", TrafficType="ALL",
                LogDestinationType="s3", LogDestination=f"arn:aws:s3:::flow-bucket/same{i}/")
    """
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(data_dir)], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    logs = Ec2Client(data_dir).describe_flow_logs()["FlowLogs"]
    assert sorted(f["LogDestination"] for f in logs) == sorted(f"arn:aws:s3:::flow-bucket/same{i}/" for i in range(10))
