"""Inputs and helpers for the bulk-replay tests (``vpcflow run --cluster/--workers``, docs/bulk.md).

``write_bulk_inputs`` turns the demo scenario into one pcap per ENI, as if each instance had captured
its own interface (every packet the policy engine observes at an ENI goes into that ENI's file), and a
run config labelling each file with its ENI (`interface:`; one ENI captured only in the middle of the run, one with an empty capture), creating one S3 flow log (VPC) and one
CloudWatch Logs flow log (two subnets). ``snapshot`` reads back everything delivered, byte for byte:
every S3 object (key and bytes) and every CloudWatch event (group, stream, timestamp, message) in
the store's order.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from tests.integration.run_kit import GROUP, TOPOLOGY, stream_events, write_scenario

from vpcflow.dataplane.attribute.engine import PolicyEngine
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.sources.pcap_writer import write_pcap
from vpcflow.dataplane.sources.scenario import load_scenario
from vpcflow.dataplane.sources.synthetic import SyntheticConfig, SyntheticSource
from vpcflow.model.topology.loader import load_topology
from vpcflow.runtime.datadir import DataDir
from vpcflow.storage.logstore import LogStore


def write_captures(folder: Path, *, seed: int = 7, duration_s: float = 420) -> dict[str, Path]:
    """One pcap per ENI that saw traffic (ENI id -> file)."""
    scenario_path = write_scenario(folder / "scenario.yaml", seed=seed)
    topology = load_topology(TOPOLOGY)
    scenario = load_scenario(scenario_path, topology=topology, seed=seed, duration_s=duration_s)
    source = SyntheticSource(SyntheticConfig(str(scenario_path), seed=seed, duration_s=duration_s),
                             scenario=scenario)
    engine = PolicyEngine(topology)
    per_eni: dict[str, list[PacketBatch]] = defaultdict(list)
    for batch in source.batches():
        obs = engine.observe(batch)
        for i, eni in enumerate(obs.enis):
            rows = np.unique(obs.packet[obs.eni == i])
            if len(rows):
                per_eni[eni].append(batch.take(rows))
    # Edges of NODATA across partitions (docs/bulk.md): one ENI captured only in the middle of the
    # run (idle windows before and after its own span), one ENI with an empty capture.
    busiest = max(per_eni, key=lambda e: sum(len(b) for b in per_eni[e]))
    t0 = min(int(b.ts_ns[0]) for bs in per_eni.values() for b in bs)
    lo, hi = t0 + 150 * 10**9, t0 + 270 * 10**9
    per_eni[busiest] = [b.take(np.flatnonzero((b.ts_ns >= lo) & (b.ts_ns < hi))) for b in per_eni[busiest]]
    idle = sorted(e.network_interface_id for e in topology.network_interfaces if e.network_interface_id not in per_eni)
    out = {}
    for eni, batches in sorted(per_eni.items()):
        out[eni] = folder / f"{eni}.pcap"
        write_pcap(out[eni], [b for b in batches if len(b)], snaplen=96)  # headers are all the pipeline reads
    out[idle[0]] = folder / f"{idle[0]}.pcap"
    write_pcap(out[idle[0]], [], snaplen=96)
    return out


def write_config(folder: Path, captures: dict[str, Path], *, s3_endpoint: str | None = None,
                 name: str = "bulk-run.yaml") -> Path:
    sources = "".join(f"  - pcap: {path}\n    interface: {eni}\n" for eni, path in captures.items())
    if s3_endpoint is not None:
        sources += f"delivery: {{s3_endpoint_url: '{s3_endpoint}'}}\n"
    path = folder / name
    path.write_text(f"""topology: {TOPOLOGY}
flow_logs:
  create:
    - {{ResourceIds: [vpc-097d5b620001373d6], ResourceType: VPC, TrafficType: ALL, LogDestinationType: s3,
       LogDestination: "arn:aws:s3:::vpcflow-demo-logs"}}
    - {{ResourceIds: [subnet-06deebad8d3065b74, subnet-0be2c1711a8ae4375], ResourceType: Subnet, TrafficType: ALL,
       LogDestinationType: cloud-watch-logs, LogGroupName: {GROUP},
       DeliverLogsPermissionArn: "arn:aws:iam::123456789012:role/flow-logs-delivery"}}
sources:
{sources}""")
    return path


def write_bulk_inputs(folder: Path, **kwargs: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(folder, write_captures(folder, **kwargs))  # type: ignore[arg-type]


def s3_objects(data: Path) -> dict[str, bytes]:
    """Every object of the local buckets: key (bucket/key) -> bytes."""
    root = DataDir.resolve(data).s3_root
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] not in (".vpcflow-meta", ".vpcflow-tmp"):
            out[str(rel)] = p.read_bytes()
    return out


def cwl_events(data: Path) -> list[tuple[str, str, int, str]]:
    """Every event of the embedded log store, in its order: (group, stream, timestamp, message)."""
    path = DataDir.resolve(data).logs_path
    out: list[tuple[str, str, int, str]] = []
    if not path.exists():
        return out
    store = LogStore(path)
    try:
        for g in store.describe_log_groups()["logGroups"]:
            group = g["logGroupName"]
            for stream in store.stream_names(group):
                out += [(group, stream, e["timestamp"], e["message"]) for e in stream_events(store, group, stream)]
    finally:
        store.close()
    return out


def snapshot(data: Path) -> tuple[dict[str, bytes], list[tuple[str, str, int, str]]]:
    return s3_objects(data), cwl_events(data)
