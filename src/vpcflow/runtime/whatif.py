"""What-if replays: the same traffic through the policy engine of two topologies, the original and
one edited by a change file (``model.topology.changes``), and the flows whose action changes.

Both engines see every batch (each keeps its own connection tracking, so stateful effects such as
a reply that is no longer allowed show up). Observations are joined per (packet, interface,
direction); an observation that exists on one side only (a packet now rejected at the sender is no
longer seen by the receiver) counts as ``-`` on the other side. Results are summed per flow:
(interface, direction, protocol, srcaddr, dstaddr, srcport, dstport) and the pair of outcomes, so
memory grows with flows, not packets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.codecs.addresses import addresses_to_strings
from vpcflow.core.errors import ConfigError
from vpcflow.core.userfiles import read_input_text
from vpcflow.dataplane.merge import merge_sources
from vpcflow.dataplane.packets import ACCEPT, REJECT, ObservationBatch, PacketBatch
from vpcflow.model.safe_yaml import load_yaml
from vpcflow.model.topology.changes import apply_changes
from vpcflow.model.topology.loader import dump_topology_document, load_topology_document, loads_topology
from vpcflow.model.topology.model import Topology
from vpcflow.runtime.run import _open_source, _policy_engine
from vpcflow.runtime.run_config import RunConfig, check_source_interfaces, load_run_config

NOT_SEEN = np.uint8(255)
_ACTION = {int(ACCEPT): "ACCEPT", int(REJECT): "REJECT", int(NOT_SEEN): "-"}


@dataclass
class WhatIfResult:
    changed: pa.Table  # one row per flow whose outcome differs
    flows: int  # flows compared
    packets: int  # packets replayed
    changed_packets: int

    def headline(self) -> str:
        return (f"{self.changed.num_rows:,} flow outcome(s) changed, {self.changed_packets:,} of {self.packets:,} "
                f"packets; {self.flows:,} flows compared")

    def summary(self, *, top: int = 10) -> list[tuple[str, pa.Table]]:
        """(title, table) sections: outcome changes, interfaces, the rules that decide, sources."""
        t = self.changed
        return [
            ("outcome changes", _grouped(t, ["before", "after"], top)),
            ("by interface", _grouped(t, ["interface_id", "direction"], top)),
            ("rules deciding after the change", _grouped(t, ["after", "after_rule"], top)),
            ("rules that decided before", _grouped(t, ["before", "before_rule"], top)),
            ("by source", _grouped(t, ["srcaddr"], top)),
        ]


def _grouped(table: pa.Table, keys: list[str], top: int) -> pa.Table:
    """Flows and packets per ``keys``, most packets first, ``top`` rows."""
    if not table.num_rows:
        return pa.table({**{k: pa.array([], pa.string()) for k in keys}, "flows": pa.array([], pa.int64()),
                         "packets": pa.array([], pa.int64())})
    g = table.group_by(keys).aggregate([("packets", "count"), ("packets", "sum")])
    g = pa.table({**{k: g.column(k) for k in keys}, "flows": g.column("packets_count"),
                  "packets": g.column("packets_sum")})
    order = [("packets", "descending"), ("flows", "descending"), *((k, "ascending") for k in keys)]
    return g.sort_by(order).slice(0, top)


def load_change_file(path: str | Path) -> Any:
    p = Path(path)
    return load_yaml(read_input_text(p, "change file"), source=str(p))


def topologies(cfg: RunConfig, change_path: str | Path) -> tuple[Topology, Topology]:
    """The run config's topology and the same topology with the change file applied."""
    if cfg.topology is None:
        raise ConfigError("what-if needs a run config that names its `topology:` file", location=cfg.source)
    loaded = load_topology_document(cfg.topology)
    edited = apply_changes(loaded.document, load_change_file(change_path), source=str(change_path))
    text = dump_topology_document(edited)
    try:
        changed = loads_topology(text, source=f"{cfg.topology} after {change_path}")
    except ConfigError as e:
        raise ConfigError(f"the change leaves an invalid topology: {e}", location=str(change_path)) from e
    return loaded.topology, changed


def _join(a: ObservationBatch, b: ObservationBatch, n_enis: int) -> tuple[npt.NDArray[np.int64], ...]:
    """Row indexes into a and b (or -1) for the union of (packet, eni, direction) keys."""
    def keys(o: ObservationBatch) -> npt.NDArray[np.int64]:
        return o.packet.astype(np.int64) * (2 * n_enis + 2) + o.eni.astype(np.int64) * 2 + o.direction
    ka, kb = keys(a), keys(b)
    union, inv = np.unique(np.concatenate([ka, kb]), return_inverse=True)
    ia = np.full(union.size, -1, np.int64)
    ib = np.full(union.size, -1, np.int64)
    ia[inv[: ka.size]] = np.arange(ka.size)
    ib[inv[ka.size :]] = np.arange(kb.size)
    return union, ia, ib


class _Accumulator:
    """Packets per (flow, outcome before, outcome after); rule texts kept per entry."""

    def __init__(self) -> None:
        self.entries: dict[tuple[Any, ...], list[Any]] = {}
        self.flows: set[tuple[Any, ...]] = set()

    def add(self, packets: PacketBatch, a: ObservationBatch, b: ObservationBatch, enis: tuple[str, ...]) -> None:
        union, ia, ib = _join(a, b, len(enis))
        if not union.size:
            return
        from_a = ia >= 0
        pick = {k: np.where(from_a, getattr(a, k)[np.maximum(ia, 0)], getattr(b, k)[np.maximum(ib, 0)])
                for k in ("eni", "direction", "src_hi", "src_lo", "dst_hi", "dst_lo")}
        pkt = np.where(from_a, a.packet[np.maximum(ia, 0)], b.packet[np.maximum(ib, 0)])
        proto = packets.protocol[pkt]
        sport, dport = packets.src_port[pkt], packets.dst_port[pkt]
        act_a = np.where(ia >= 0, a.action[np.maximum(ia, 0)], NOT_SEEN)
        act_b = np.where(ib >= 0, b.action[np.maximum(ib, 0)], NOT_SEEN)
        rule_a = np.where(ia >= 0, a.rule[np.maximum(ia, 0)], -1)
        rule_b = np.where(ib >= 0, b.rule[np.maximum(ib, 0)], -1)
        cols = np.stack([
            pick["eni"].astype(np.uint64), pick["direction"].astype(np.uint64), proto.astype(np.uint64),
            pick["src_hi"], pick["src_lo"], pick["dst_hi"], pick["dst_lo"], sport.astype(np.uint64),
            dport.astype(np.uint64), act_a.astype(np.uint64), act_b.astype(np.uint64),
            (rule_a + 1).astype(np.uint64), (rule_b + 1).astype(np.uint64),
        ], axis=1)
        uniq, counts = np.unique(cols, axis=0, return_counts=True)
        for row, count in zip(uniq.tolist(), counts.tolist(), strict=True):
            flow = tuple(row[:9])
            self.flows.add(flow)
            if row[9] == row[10]:
                continue
            key = tuple(row)
            entry = self.entries.get(key)
            if entry is None:
                ra = a.rules[row[11] - 1] if row[11] and row[11] - 1 < len(a.rules) else "-"
                rb = b.rules[row[12] - 1] if row[12] and row[12] - 1 < len(b.rules) else "-"
                self.entries[key] = [count, ra, rb]
            else:
                entry[0] += count

    def table(self, enis: tuple[str, ...]) -> pa.Table:
        rows = sorted(self.entries.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if not rows:
            return pa.table({c: pa.array([], t) for c, t in _SCHEMA})
        k = np.array([r[0] for r in rows], dtype=np.uint64)
        return pa.table({
            "interface_id": [enis[int(i)] for i in k[:, 0]],
            "direction": ["egress" if int(d) == 1 else "ingress" for d in k[:, 1]],
            "protocol": pa.array(k[:, 2].astype(np.int32)),
            "srcaddr": addresses_to_strings(k[:, 3], k[:, 4]),
            "dstaddr": addresses_to_strings(k[:, 5], k[:, 6]),
            "srcport": pa.array(k[:, 7].astype(np.int32)),
            "dstport": pa.array(k[:, 8].astype(np.int32)),
            "packets": pa.array([r[1][0] for r in rows], pa.int64()),
            "before": [_ACTION[int(x)] for x in k[:, 9]],
            "before_rule": [r[1][1] for r in rows],
            "after": [_ACTION[int(x)] for x in k[:, 10]],
            "after_rule": [r[1][2] for r in rows],
        })


_SCHEMA = [("interface_id", pa.string()), ("direction", pa.string()), ("protocol", pa.int32()),
           ("srcaddr", pa.string()), ("dstaddr", pa.string()), ("srcport", pa.int32()), ("dstport", pa.int32()),
           ("packets", pa.int64()), ("before", pa.string()), ("before_rule", pa.string()), ("after", pa.string()),
           ("after_rule", pa.string())]


def replay(config: str | Path, change: str | Path, *, skip_bad: bool = False,
           progress: Callable[[int], None] | None = None) -> WhatIfResult:
    """Replay a run config's sources against its topology and the changed one."""
    cfg = load_run_config(config)
    before, after = topologies(cfg, change)
    if not cfg.sources:
        raise ConfigError("the run config has no `sources:` to replay", location=cfg.source)
    engine_a, engine_b = _policy_engine(before), _policy_engine(after)
    if tuple(engine_a.enis) != tuple(engine_b.enis):
        raise ConfigError("what-if changes may edit rules, routes and gateways, not add or remove network interfaces",
                          location=str(change))
    check_source_interfaces(cfg, before)
    sources = [_open_source(s, before, skip_bad) for s in cfg.sources]
    acc = _Accumulator()
    packets = 0
    for batch in merge_sources(sources):
        if not isinstance(batch, PacketBatch) or not len(batch):
            continue
        acc.add(batch, engine_a.observe(batch), engine_b.observe(batch), engine_a.enis)
        packets += len(batch)
        if progress:
            progress(len(batch))
    changed = acc.table(engine_a.enis)
    return WhatIfResult(changed=changed, flows=len(acc.flows), packets=packets,
                        changed_packets=int(pa.compute.sum(changed.column("packets")).as_py() or 0))
