"""Small `vpcflow run` set-ups for the run-identity, one-writer and guarded-state tests (issue 13).

``write_inputs(folder, ...)`` writes a short scenario (the demo's workloads over ``duration_s``
seconds, starting at ``start``) and a run config creating one S3 flow log and one CloudWatch Logs
flow log on the three-tier topology. ``run_cli`` runs ``vpcflow run`` in a subprocess;
``delivered(data)`` reads back what the destinations hold as multisets of record lines, so runs can
be compared exactly (object names aside).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.logstore import LogStore

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "examples" / "topology" / "three-tier.yaml"
GROUP = "/vpcflow/identity"


def write_scenario(path: Path, *, seed: int, start: str = "2026-11-26T12:00:00Z", comment: str = "") -> Path:
    doc = yaml.safe_load((ROOT / "examples" / "scenarios" / "demo.yaml").read_text())
    doc.update(topology=str(TOPOLOGY), start=start, seed=seed)
    path.write_text(f"# {comment}\n" + yaml.safe_dump(doc, sort_keys=False))
    return path


def write_config(path: Path, scenario: Path, *, comment: str = "", seed: int | None = None,
                 logs_endpoint: str | None = None, duration_s: int = 30, with_s3: bool = True,
                 role: str = "flow-logs-delivery", topology: Path = TOPOLOGY) -> Path:
    src = f"  - scenario: {scenario}\n"
    if seed is not None:
        src += f"    seed: {seed}\n"
    src += f"    duration_s: {duration_s}\n"
    delivery = f"delivery: {{logs_endpoint_url: '{logs_endpoint}'}}\n" if logs_endpoint else ""
    s3 = "" if with_s3 else "#"
    path.write_text(f"""# {comment}
topology: {topology}
flow_logs:
  create:
{s3}    - {{ResourceIds: [vpc-097d5b620001373d6], ResourceType: VPC, TrafficType: ALL, LogDestinationType: s3,
{s3}       LogDestination: "arn:aws:s3:::vpcflow-demo-logs"}}
    - {{ResourceIds: [subnet-06deebad8d3065b74, subnet-0be2c1711a8ae4375], ResourceType: Subnet, TrafficType: ALL,
       LogDestinationType: cloud-watch-logs, LogGroupName: {GROUP},
       DeliverLogsPermissionArn: "arn:aws:iam::123456789012:role/{role}"}}
sources:
{src}{delivery}""")
    return path


def env(fault: str | None = None) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "VPCFLOW_FAULT_POINT"}
    if fault:
        out["VPCFLOW_FAULT_POINT"] = fault
    return out


def cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "vpcflow.cli.main", *map(str, args)]


def run_cli(config: Path, data: Path, *, fault: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli("run", config, "--data-dir", data, "--quiet"), env=env(fault),
                          capture_output=True, text=True, timeout=timeout)


def s3_lines(data: Path) -> Counter[str]:
    """Every record line of every text object in the local buckets (header lines dropped)."""
    lines: Counter[str] = Counter()
    root = DataDir.resolve(data).s3_root
    for p in root.rglob("*.log.gz"):
        if ".vpcflow-meta" in p.parts or ".vpcflow-tmp" in p.parts:
            continue
        lines.update(gzip.decompress(p.read_bytes()).decode().splitlines()[1:])
    return lines


def stream_events(store: LogStore, group: str, stream: str) -> Iterator[dict[str, Any]]:
    """Every event of one stream of the embedded log store, from the head, page after page."""
    token = None
    while True:
        kw: dict[str, str] = {"nextToken": token} if token else {}
        page = store.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=10000, **kw)
        yield from page["events"]
        if not page["events"] or page.get("nextForwardToken") == token:
            return
        token = page["nextForwardToken"]


def cwl_events(data: Path, group: str = GROUP) -> Counter[tuple[str, int, str]]:
    """Every event of the embedded log store's group: (stream, timestamp, message)."""
    path = DataDir.resolve(data).logs_path
    out: Counter[tuple[str, int, str]] = Counter()
    if not path.exists():
        return out
    store = LogStore(path)
    try:
        if not store.log_group_exists(group):
            return out
        for stream in store.stream_names(group):
            out.update((stream, e["timestamp"], e["message"]) for e in stream_events(store, group, stream))
    finally:
        store.close()
    return out


def delivered(data: Path) -> tuple[Counter[str], Counter[tuple[str, int, str]]]:
    return s3_lines(data), cwl_events(data)
