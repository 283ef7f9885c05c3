"""`vpcflow run` delivering CloudWatch Logs through boto3 to moto's server (issue 13 item 1).

The pipeline delivers in a worker thread; the checkpoint store used to be opened in the main thread,
so every remote CloudWatch run died with ``sqlite3.ProgrammingError``. The run must deliver every
event the embedded store gets from the same inputs, and a re-run must deliver nothing more.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto_endpoint import moto_endpoint

sys.path.insert(0, str(Path(__file__).parent))

from run_kit import GROUP, cwl_events, run_cli, write_config, write_scenario

boto3 = pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    yield from moto_endpoint()


def _remote_events(endpoint: str) -> Counter[tuple[str, int, str]]:
    logs: Any = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
    out: Counter[tuple[str, int, str]] = Counter()
    for s in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]:
        name = s["logStreamName"]
        token = None
        while True:
            kw: dict[str, str] = {"nextToken": token} if token else {}
            page = logs.get_log_events(logGroupName=GROUP, logStreamName=name, startFromHead=True, **kw)
            out.update((name, e["timestamp"], e["message"]) for e in page["events"])
            if not page["events"] or page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
    return out


def test_remote_cloudwatch_run_delivers_from_the_delivery_thread(endpoint: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    # CloudWatch refuses events older than 14 days: the traffic happened an hour ago.
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=5, start=start)
    remote = write_config(tmp_path / "remote.yaml", scenario, logs_endpoint=endpoint)
    local = write_config(tmp_path / "local.yaml", scenario)

    first = run_cli(remote, tmp_path / "remote-data")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "ProgrammingError" not in first.stderr
    reference = run_cli(local, tmp_path / "local-data")
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = cwl_events(tmp_path / "local-data")
    assert sum(expected.values()) > 20
    assert _remote_events(endpoint) == expected

    again = run_cli(remote, tmp_path / "remote-data")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _remote_events(endpoint) == expected  # same run identity: nothing delivered twice
