"""``vpcflow serve`` end to end: a real process on 127.0.0.1 with ``--port 0`` prints its URL and the root
credentials, boto3 works against it, bad options exit 2 with one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config


def _start(tmp_path: Path, *extra: str, host: str = "127.0.0.1") -> tuple[subprocess.Popen[str], str, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vpcflow.cli.main", "serve", "--data-dir", str(tmp_path / "data"), "--host", host,
         "--port", "0", "--log-level", "warning", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(8 if host == "127.0.0.1" else 9)]
    m = re.match(r"vpcflow endpoint (http://\S+) ", lines[0])
    assert m, lines
    return proc, m.group(1), lines


def _wait_until_up(url: str, proc: subprocess.Popen[str]) -> str:
    import time

    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.1)


def test_serve_prints_how_to_connect_and_answers_boto3(tmp_path: Path) -> None:
    proc, url, lines = _start(tmp_path)
    try:
        about = _wait_until_up(url, proc)
        assert "CreateFlowLogs" in about and "GetLogEvents" in about and "SigV4 verification: on" in about
        text = "".join(lines)
        assert "root access key id: AKIAIOSFODNN7EXAMPLE" in text
        assert "wJalrXUtnFEMI" not in text  # the banner never prints a secret (issue 12)
        assert f"aws --endpoint-url {url} --region us-east-1 ec2 describe-flow-logs" in text
        kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                  aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  config=Config(retries={"total_max_attempts": 1}))
        boto3.client("logs", **kw).create_log_group(logGroupName="/served")
        groups = boto3.client("logs", **kw).describe_log_groups()["logGroups"]
        assert [g["logGroupName"] for g in groups] == ["/served"]
        assert boto3.client("ec2", **kw).describe_flow_logs()["FlowLogs"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (tmp_path / "data" / "logs.db").exists()


def test_serve_refuses_half_a_root_key_pair(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "vpcflow.cli.main", "serve", "--data-dir", str(tmp_path / "d"),
         "--root-access-key-id", "AKIAONLYHALF00000001"],
        capture_output=True, text=True, timeout=60, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("VPCFLOW_ROOT")},
    )
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "error: --root-access-key-id: give both --root-access-key-id and --root-secret-access-key, or neither"
    )


def test_serve_reports_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        res = subprocess.run(
            [sys.executable, "-m", "vpcflow.cli.main", "serve", "--data-dir", str(tmp_path / "d"), "--port",
             str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert res.returncode == 2
    assert res.stderr.startswith(f"error: --port: cannot listen on 127.0.0.1:{port}: ")


def test_serve_refuses_an_address_beyond_loopback_without_allow_remote(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "vpcflow.cli.main", "serve", "--data-dir", str(tmp_path / "d"), "--host", "0.0.0.0",
         "--port", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: --host: 0.0.0.0 is reachable from other machines")
    assert "--allow-remote" in res.stderr and not (tmp_path / "d").exists()


def test_serve_warns_loudly_when_allowed_beyond_loopback(tmp_path: Path) -> None:
    proc, _url, lines = _start(tmp_path, "--allow-remote", host="0.0.0.0")
    try:
        text = "".join(lines)
        assert "WARNING: listening on 0.0.0.0, reachable from other machines" in text
        assert "wJalrXUtnFEMI" not in text
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_iam_credentials_prints_the_pairs_on_request(tmp_path: Path) -> None:
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("VPCFLOW_ROOT")}
    res = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "iam", "credentials", "--data-dir",
                          str(tmp_path / "d")], capture_output=True, text=True, timeout=60, check=True, env=env)
    assert res.stdout.splitlines() == [
        "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
        "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "export AWS_DEFAULT_REGION=us-east-1",
    ]
    custom = {**env, "VPCFLOW_ROOT_ACCESS_KEY_ID": "AKIACUSTOMROOT000001", "VPCFLOW_ROOT_SECRET_ACCESS_KEY": "s3cr3t"}
    res = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "iam", "credentials", "--json", "--data-dir",
                          str(tmp_path / "d")], capture_output=True, text=True, timeout=60, check=True, env=custom)
    assert json.loads(res.stdout) == {"AccessKeyId": "AKIACUSTOMROOT000001", "SecretAccessKey": "s3cr3t",
                                      "Region": "us-east-1"}
    res = subprocess.run([sys.executable, "-m", "vpcflow.cli.main", "iam", "credentials", "--user", "nobody",
                          "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60, env=env,
                         check=False)
    assert res.returncode == 2 and res.stderr.startswith("error: --user: no IAM user 'nobody'")


def test_serve_with_several_workers_is_one_consistent_endpoint(tmp_path: Path) -> None:
    """--workers 2: two processes share the port; what one writes (a log group, a flow log) every
    later call sees, whichever process answers it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
    from api_helpers import VPC, make_data_dir  # the API tests' topology (a VPC, the api-test-logs bucket)

    make_data_dir(tmp_path)  # tmp_path / "data", where _start points the server
    proc, url, _lines = _start(tmp_path, "--workers", "2")
    try:
        _wait_until_up(url, proc)
        kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                  aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  config=Config(retries={"total_max_attempts": 1}))
        for i in range(6):  # new clients, new connections: spread over the workers
            boto3.client("logs", **kw).create_log_group(logGroupName=f"/workers/{i}")
            names = [g["logGroupName"] for g in boto3.client("logs", **kw).describe_log_groups()["logGroups"]]
            assert names == sorted(f"/workers/{j}" for j in range(i + 1))
        # Describe answers are kept per process until state.db changes: a flow log created through one
        # worker shows in the next Describe of either (each has kept its previous answer).
        ec2 = [boto3.client("ec2", **kw) for _ in range(4)]  # four connections, spread over the workers
        created: list[str] = []
        for i in range(4):
            assert all(len(c.describe_flow_logs()["FlowLogs"]) == i for c in ec2)
            created += ec2[i].create_flow_logs(ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL",
                                               LogDestinationType="s3",
                                               LogDestination=f"arn:aws:s3:::api-test-logs/w{i}/")["FlowLogIds"]
        assert all([f["FlowLogId"] for f in c.describe_flow_logs()["FlowLogs"]] == created for c in ec2)
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False)
        assert len(workers.stdout.split()) >= 2  # the worker processes under the supervisor
    finally:
        proc.terminate()
        proc.wait(timeout=30)
