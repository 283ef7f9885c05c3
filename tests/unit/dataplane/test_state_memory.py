"""The core's per-run state follows the active connections and open windows, not the run's length.

Issue 10 asks for bounded memory on a capture of 1,000,000 flows. The connection table
(``native/src/policy/conn_store.rs``) drops expired connections when it fills, and the fold state
(``native/src/aggregate/state.rs``) gives back the room of the windows it closes. Both report the
bytes they hold (``table_bytes``); these tests compare those figures against the same structures
holding everything (no timing, no RSS).
"""

from __future__ import annotations

import numpy as np
from policy_builders import Pkt, TopoBuilder, packets, rows

from vpcflow import _native
from vpcflow.dataplane.attribute.engine import PolicyEngine

PHASES = 16
PER_PHASE = 4000


def dns_server() -> PolicyEngine:
    """One ENI whose security group lets UDP in from 198.51.100.0/24 (replies only by tracking)."""
    b = TopoBuilder()
    b.vpc("vpc-1", "10.0.0.0/16")
    b.subnet("subnet-b", "vpc-1", "10.0.2.0/24")
    b.sg("sg-srv", "vpc-1", ingress=[("udp", (0, 65535), "198.51.100.0/24")], egress=[])
    b.eni("eni-srv", "subnet-b", "10.0.2.10", ("sg-srv",))
    return PolicyEngine(b.build())


def requests(phase: int, t0: float) -> list[Pkt]:
    """``PER_PHASE`` new UDP connections (client address by phase, ports by number) from ``t0``."""
    return [Pkt(t0 + i * 1e-6, f"198.51.100.{phase + 1}", "10.0.2.10", "udp", 1024 + i, 53)
            for i in range(PER_PHASE)]


def test_connection_table_holds_the_live_connections_not_every_one_opened() -> None:
    # Phases 100 s apart: each phase's connections expired (UDP: 30 s, docs/policy.md) before the next.
    phased = dns_server()
    for phase in range(PHASES):
        phased.observe(packets(requests(phase, 100.0 * phase)))
    # The same connections, all live at once.
    everything = dns_server()
    for phase in range(PHASES):
        everything.observe(packets(requests(phase, 0.001 * phase)))
    assert everything.conntrack.count == PHASES * PER_PHASE
    # The sweep at each fill of the index keeps at most 4 times the live connections.
    assert phased.conntrack.count <= 4 * (PER_PHASE + 1)
    assert phased.conntrack.table_bytes * 2 < everything.conntrack.table_bytes


def test_connections_kept_by_a_sweep_still_track_their_replies() -> None:
    e = dns_server()
    for phase in range(PHASES):
        e.observe(packets(requests(phase, 100.0 * phase)))
    last = PHASES - 1
    t = 100.0 * last + 1.0
    live_reply = Pkt(t, "10.0.2.10", f"198.51.100.{last + 1}", "udp", 53, 1024)
    expired_reply = Pkt(t, "10.0.2.10", "198.51.100.1", "udp", 53, 1024)  # phase 0's, 1,500 s old
    got = [r[3] for r in rows(e, e.observe(packets([live_reply, expired_reply])))]
    assert got == ["ACCEPT", "REJECT"]  # by tracking; no rule allows the egress


def _absorb(state: _native.FoldState, window_start: int, n: int, first_key: int) -> None:
    keys = np.stack([np.full(n, window_start, np.uint64),  # ENI 0 << 34 | window start
                     np.arange(first_key, first_key + n, dtype=np.uint64)], axis=1)
    one = np.ones(n, np.int64)
    state.absorb(keys, one, one, one + window_start, one + window_start, np.zeros(n, np.uint8),
                 np.full(n, -1, np.int32))


def test_fold_state_gives_back_the_room_of_closed_windows() -> None:
    interval = np.array([60], np.int64)
    state = _native.FoldState(2)
    _absorb(state, 0, 200_000, 0)  # a busy minute
    _absorb(state, 60, 1_000, 0)  # the next one has started
    full = state.table_bytes
    closed = state.close(60, interval)
    assert len(closed[1]) == 200_000 and len(state) == 1_000
    assert state.table_bytes * 20 < full
    # it grows again with the next window and shrinks again when that closes
    _absorb(state, 120, 200_000, 0)
    assert state.table_bytes > full // 2
    state.close(120, interval)
    assert len(state) == 200_000
    state.close(None, interval)
    assert len(state) == 0 and state.table_bytes * 100 < full


def test_batches_waiting_for_aggregation_keep_only_the_folds_packet_columns(tmp_path, monkeypatch) -> None:
    from vpcflow.dataplane.aggregate.aggregator import Aggregator
    from vpcflow.dataplane.pipeline import run_pipeline
    from vpcflow.dataplane.stream_pass import FoldPackets, NativeObservations
    from vpcflow.model.flowlog import FlowLog

    seen: list[object] = []
    add = Aggregator.add

    def spy(self: Aggregator, obs: object) -> None:
        seen.append(obs)
        add(self, obs)  # type: ignore[arg-type]

    monkeypatch.setattr(Aggregator, "add", spy)
    e = dns_server()
    fl = FlowLog("fl-0000000000000000a", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3",
                 __import__("datetime").datetime(2024, 1, 1, tzinfo=__import__("datetime").UTC),
                 log_destination="arn:aws:s3:::b", max_aggregation_interval=60)

    class Sink:
        rows = 0

        def write(self, flow_log: FlowLog, table: object) -> None:
            Sink.rows += table.num_rows  # type: ignore[attr-defined]

        def flush(self, watermark_s: int | None = None) -> None:
            return None

        def close(self) -> None:
            pass

    batches = [packets(requests(phase, 100.0 * phase)) for phase in range(3)]
    run_pipeline([batches], e, [fl], e.topology, {fl.flow_log_id: Sink()}, side_dir=tmp_path, threaded=True,
                 single_pass=True)
    assert len(seen) == 3 and all(isinstance(o, NativeObservations) for o in seen)
    assert all(isinstance(o.packets, FoldPackets) for o in seen)  # type: ignore[attr-defined]
    assert not hasattr(seen[0].packets, "src_hi")  # type: ignore[attr-defined]
    slim, Sink.rows = Sink.rows, 0
    # the generic path (whole packet batches in ObservationBatches) gives as many records
    e = dns_server()
    run_pipeline([batches], e, [fl], e.topology, {fl.flow_log_id: Sink()}, side_dir=tmp_path / "generic",
                 single_pass=False)
    assert slim == Sink.rows >= 3 * PER_PHASE
