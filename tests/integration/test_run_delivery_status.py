"""`vpcflow run` tells the truth about delivery: FAILED with AWS's message while records wait in the
spool, exit 3 and a warning naming them; a later run that reaches the destination drains the spool
and the status returns to SUCCESS (issue 13, "Status is the truth"; spec 3, DeliverLogsStatus).

Against the embedded stores (bucket deleted; CloudWatch delivery role no longer trusted) and against
a moto server (endpoint down, no credentials, bucket missing). Before, each of these left the records
in the spool while DescribeFlowLogs said SUCCESS and the run exited 0 ("written to arn:aws:s3:::...").
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.bucketstore import BucketStore
from vpcflow.storage.logstore import LogStore

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "examples" / "topology" / "three-tier.yaml"
SCENARIO = ROOT / "examples" / "scenarios" / "demo.yaml"
BUCKET = "vpcflow-demo-logs"
GROUP = "/vpcflow/status"
S3_FLOW_LOG = ('{ResourceIds: [vpc-097d5b620001373d6], ResourceType: VPC, TrafficType: ALL, LogDestinationType: s3, '
               f'LogDestination: "arn:aws:s3:::{BUCKET}"}}')
CWL_FLOW_LOG = ('{ResourceIds: [subnet-06deebad8d3065b74], ResourceType: Subnet, TrafficType: ALL, '
                f'LogDestinationType: cloud-watch-logs, LogGroupName: {GROUP}, '
                'DeliverLogsPermissionArn: "arn:aws:iam::123456789012:role/flow-logs-delivery"}')


def _config(path: Path, *, topology: Path = TOPOLOGY, flow_logs: tuple[str, ...] = (S3_FLOW_LOG, CWL_FLOW_LOG),
            extra: str = "") -> Path:
    creates = "\n".join(f"    - {f}" for f in flow_logs)
    path.write_text(f"topology: {topology}\nflow_logs:\n  create:\n{creates}\n"
                    f"sources:\n  - scenario: {SCENARIO}\n    duration_s: 420\n{extra}")
    return path


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "VPCFLOW_FAULT_POINT"}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


def _run(config: Path, data: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "run", str(config), "--data-dir", str(data),
                           "--quiet"], env=env or _env(), capture_output=True, text=True, timeout=300)


def _status(data: Path) -> dict[str, tuple[str, str | None]]:
    """Resource id -> (DeliverLogsStatus, DeliverLogsErrorMessage)."""
    with DataDir.resolve(data).state() as st:
        return {s.flow_log.resource_id: (s.deliver_logs_status, s.deliver_logs_error_message)
                for s in st.list_stored_flow_logs()}


def _spooled(data: Path) -> int:
    spool = DataDir.resolve(data).spool
    return len(list(spool.rglob("*.spool"))) + len(list(spool.rglob("*.meta.json")))  # items, either format


def _norm(data: Path) -> dict[str, str]:
    with DataDir.resolve(data).state() as st:
        return {f.flow_log_id: f.resource_id for f in st.list_flow_logs()}


def _local_objects(data: Path) -> dict[str, bytes]:
    """Decompressed objects of the local bucket, keys with flow-log ids replaced by their resource."""
    names = _norm(data)
    root = DataDir.resolve(data).s3_root / BUCKET
    out = {}
    for p in root.rglob("*.log.gz"):
        key = p.relative_to(root).as_posix()
        for fid, rid in names.items():
            key = key.replace(fid, rid)
        out[key] = gzip.decompress(p.read_bytes())
    return out


def _events(data: Path) -> list[tuple[str, int, str]]:
    store = LogStore(DataDir.resolve(data).logs_path)
    try:
        if not store.log_group_exists(GROUP):
            return []
        return [(s, e["timestamp"], e["message"]) for s in store.stream_names(GROUP)
                for e in store.get_log_events(logGroupName=GROUP, logStreamName=s, startFromHead=True,
                                              limit=10000)["events"]]
    finally:
        store.close()


def _failed_run(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 3, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning: ")]
    assert "wait in the spool, DeliverLogsStatus FAILED" in line and message in line


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], list[tuple[str, int, str]]]:
    d = tmp_path_factory.mktemp("status-reference")
    proc = _run(_config(d / "run.yaml"), d / "data")
    assert proc.returncode == 0, proc.stderr
    objects, events = _local_objects(d / "data"), _events(d / "data")
    assert objects and events
    return objects, events


def test_embedded_bucket_deleted_is_failed_access_error_until_it_is_back(tmp_path: Path, reference: tuple) -> None:
    data = tmp_path / "data"
    assert _run(_config(tmp_path / "run.yaml"), data).returncode == 0
    BucketStore(DataDir.resolve(data).s3_root).delete_bucket(BUCKET, force=True)
    # The same traffic again without reloading the topology (which would re-create its buckets).
    again = tmp_path / "again.yaml"
    again.write_text(f"sources:\n  - scenario: {SCENARIO}\n    duration_s: 420\n")
    failed = _run(again, data)
    _failed_run(failed, "Access error")
    status = _status(data)
    assert status["vpc-097d5b620001373d6"] == ("FAILED", "Access error")
    assert status["subnet-06deebad8d3065b74"] == ("SUCCESS", None)
    assert _spooled(data) > 0
    # A permission check passes (IAM allows the delivery) but cannot make the spooled records delivered.
    check = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "ec2", "check-delivery", "--data-dir",
                            str(data)], env=_env(), capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    by_id = {f["FlowLogId"]: f for f in json.loads(check.stdout)["FlowLogs"]}
    names = _norm(data)
    vpc = next(by_id[i] for i, r in names.items() if r == "vpc-097d5b620001373d6")
    assert (vpc["DeliverLogsStatus"], vpc["DeliverLogsErrorMessage"]) == ("FAILED", "Access error")
    assert "spool" in vpc["Reason"]
    assert _status(data)["vpc-097d5b620001373d6"] == ("FAILED", "Access error")

    BucketStore(DataDir.resolve(data).s3_root).create_bucket(BUCKET)
    fixed = _run(again, data)
    assert fixed.returncode == 0, fixed.stderr
    assert _status(data)["vpc-097d5b620001373d6"] == ("SUCCESS", None)
    assert _spooled(data) == 0
    assert _local_objects(data) == reference[0]


def _load_topology(path: Path, data: Path) -> None:
    load = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "topology", "load", str(path), "--data-dir",
                           str(data)], env=_env(), capture_output=True, text=True, timeout=120)
    assert load.returncode == 0, load.stderr


def test_embedded_cloudwatch_role_untrusted_is_failed_access_error_until_trusted_again(
        tmp_path: Path, reference: tuple) -> None:
    untrusted = tmp_path / "untrusted.yaml"
    text = TOPOLOGY.read_text()
    assert text.count("Principal: {Service: vpc-flow-logs.amazonaws.com}") == 1
    untrusted.write_text(text.replace("Principal: {Service: vpc-flow-logs.amazonaws.com}",
                                      "Principal: {Service: ec2.amazonaws.com}"))
    data = tmp_path / "data"
    # The role's trust changes in the data directory between two runs of one config (the config does
    # not name the topology), so both runs are the same run and the second completes the first.
    _load_topology(untrusted, data)
    config = tmp_path / "run.yaml"
    config.write_text(f"flow_logs:\n  create:\n    - {CWL_FLOW_LOG}\n"
                      f"sources:\n  - scenario: {SCENARIO}\n    duration_s: 420\n")
    _failed_run(_run(config, data), "Access error")
    assert _status(data)["subnet-06deebad8d3065b74"] == ("FAILED", "Access error")
    assert _events(data) == [] and _spooled(data) > 0

    _load_topology(TOPOLOGY, data)
    fixed = _run(config, data)
    assert fixed.returncode == 0, fixed.stderr
    assert _status(data)["subnet-06deebad8d3065b74"] == ("SUCCESS", None)
    assert _spooled(data) == 0
    assert sorted(_events(data)) == sorted(reference[1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_s3_endpoint_down_no_credentials_missing_bucket_then_delivered(tmp_path: Path, moto_endpoint: str,
                                                                       reference: tuple) -> None:
    import boto3

    data = tmp_path / "data"

    def config(endpoint: str) -> Path:
        return _config(tmp_path / "run.yaml", flow_logs=(S3_FLOW_LOG,), extra=f"delivery:\n  s3_endpoint_url: {endpoint}\n")

    # Nothing listens on this port: retried within the budget, then FAILED "Unknown error".
    _failed_run(_run(config(f"http://127.0.0.1:{_free_port()}"), data), "Unknown error")
    assert _status(data)["vpc-097d5b620001373d6"] == ("FAILED", "Unknown error")
    # No credentials anywhere (used to end in a NoCredentialsError traceback for CloudWatch).
    no_creds = _env(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                    AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    _failed_run(_run(config(moto_endpoint), data, no_creds), "Access error")
    assert _status(data)["vpc-097d5b620001373d6"] == ("FAILED", "Access error")
    # The bucket does not exist at the endpoint.
    _failed_run(_run(config(moto_endpoint), data), "Access error")
    assert _spooled(data) > 0

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    ok = _run(config(moto_endpoint), data)
    assert ok.returncode == 0, ok.stderr
    assert _status(data)["vpc-097d5b620001373d6"] == ("SUCCESS", None)
    assert _spooled(data) == 0
    names = _norm(data)
    got = {}
    for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        key = o["Key"]
        for fid, rid in names.items():
            key = key.replace(fid, rid)
        got[key] = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())
    assert got == reference[0]


def test_cloudwatch_endpoint_down_then_no_credentials_then_delivered(tmp_path: Path) -> None:
    """Remote CloudWatch Logs: nothing listening (Unknown error), no credentials (Access error, used to be
    a NoCredentialsError traceback), then the endpoint comes up on that port and the spool drains.

    One config for all three runs (the endpoint's port is fixed), so they are one run and the last
    completes the first two. ``--tap aggregate`` runs delivery inline (issue 13 item 1, the checkpoint
    store used from the delivery thread, is fixed on another branch)."""
    moto_server = pytest.importorskip("moto.server")
    import boto3

    # CloudWatch refuses events older than 14 days: the demo traffic, moved to an hour ago.
    start = "start: \"2026-11-26T12:00:00Z\""
    text = SCENARIO.read_text()
    assert start in text
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:00Z")
    scenario = tmp_path / "recent.yaml"
    scenario.write_text(text.replace(start, f"start: \"{hour_ago}\"")
                        .replace("topology: ../topology/three-tier.yaml", f"topology: {TOPOLOGY}"))
    port = _free_port()
    config = tmp_path / "run.yaml"
    config.write_text(f"topology: {TOPOLOGY}\nflow_logs:\n  create:\n    - {CWL_FLOW_LOG}\n"
                      f"sources:\n  - scenario: {scenario}\n    duration_s: 420\n"
                      f"delivery:\n  logs_endpoint_url: http://127.0.0.1:{port}\n")
    reference = tmp_path / "reference.yaml"
    reference.write_text("\n".join(config.read_text().splitlines()[:-2]) + "\n")
    assert _run(reference, tmp_path / "reference").returncode == 0
    expected = sorted(_events(tmp_path / "reference"))
    assert expected

    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "run", str(config), "--data-dir",
                               str(tmp_path / "data"), "--quiet", "--tap", "aggregate"], env=env,
                              capture_output=True, text=True, timeout=300)

    data = tmp_path / "data"
    _failed_run(run(_env()), "Unknown error")
    assert _status(data)["subnet-06deebad8d3065b74"] == ("FAILED", "Unknown error")
    no_creds = _env(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                    AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    _failed_run(run(no_creds), "Access error")
    assert _status(data)["subnet-06deebad8d3065b74"] == ("FAILED", "Access error")

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        ok = run(_env())
        assert ok.returncode == 0, ok.stderr
        assert _status(data)["subnet-06deebad8d3065b74"] == ("SUCCESS", None)
        assert _spooled(data) == 0
        logs = boto3.client("logs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
        got = []
        for s in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]:
            name = s["logStreamName"]
            got += [(name, e["timestamp"], e["message"]) for e in logs.get_log_events(
                logGroupName=GROUP, logStreamName=name, startFromHead=True, limit=10000)["events"]]
        assert sorted(got) == expected
    finally:
        server.stop()


def test_a_prefix_the_bucket_cannot_hold_fails_its_flow_log_alone(tmp_path: Path, reference: tuple) -> None:
    """Issue 12: an S3 prefix with `..` passes CreateFlowLogs (AWS accepts it) but no object key can be made
    under it here; that flow log alone is FAILED with AWS's message while the others are delivered."""
    dotted = S3_FLOW_LOG.replace(f'"arn:aws:s3:::{BUCKET}"', f'"arn:aws:s3:::{BUCKET}/a/../b/"').replace(
        "vpc-097d5b620001373d6", "subnet-06deebad8d3065b74").replace("ResourceType: VPC", "ResourceType: Subnet")
    data = tmp_path / "data"
    proc = _run(_config(tmp_path / "run.yaml", flow_logs=(S3_FLOW_LOG, CWL_FLOW_LOG, dotted)), data)
    _failed_run(proc, "Access error")
    statuses = {(rid, st) for rid, st in ((s.flow_log.log_destination or s.flow_log.log_group_name,
                                           (s.deliver_logs_status, s.deliver_logs_error_message))
                                          for s in _stored(data))}
    assert (f"arn:aws:s3:::{BUCKET}/a/../b/", ("FAILED", "Access error")) in statuses
    assert (f"arn:aws:s3:::{BUCKET}", ("SUCCESS", None)) in statuses
    objects, events = reference
    assert _local_objects(data) == objects and _events(data) == events  # the other flow logs: all delivered


def _stored(data: Path) -> list:
    with DataDir.resolve(data).state() as st:
        return list(st.list_stored_flow_logs())
