"""Conservation (hypothesis): records' packets and bytes per ENI and direction equal the captured packets
minus the not-captured ones (spec 2.7), whatever the traffic, the windows and the batching.

The oracle is independent of the engine: every generated packet is labelled with the ENI it was
captured on (so it is observed exactly once), its direction follows from which side holds that
ENI's address, and the generator knows which packets go to not-captured destinations (instance
metadata 169.254.169.254, the Amazon DNS server at VPC base + 2, Time Sync 169.254.169.123).
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from test_dataplane_golden import TOPOLOGY

from vpcflow.codecs.text import render_lines
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions
from vpcflow.dataplane.attribute.engine import PolicyEngine
from vpcflow.dataplane.packets import PacketBatch, ip_to_pair
from vpcflow.dataplane.pipeline import run_pipeline
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.loader import loads_topology

TOPO = loads_topology(TOPOLOGY, source="golden-topology.yaml")
ENIS = [("eni-1235b8ca123456789", "172.31.16.139"), ("eni-11111111aaaaaaaaa", "172.31.16.200"),
        ("eni-0aaaaaaaaaaaaaaa1", "172.31.0.62")]
PEERS = ["203.0.113.12", "52.213.180.42", "172.31.16.21"]
NOT_CAPTURED = [("169.254.169.254", 6, 80), ("172.31.0.2", 17, 53), ("169.254.169.123", 17, 123)]
T0 = 1700000000 - 1700000000 % 600


class _Sink:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, flow_log, table) -> None:
        # Like every sink: render the format's columns only (the pipeline adds steering columns).
        cols = [n.replace("-", "_") for n in flow_log.field_names]
        self.lines += render_lines(table.select(cols)).to_pylist()

    def flush(self, watermark_s) -> None:
        pass

    def close(self) -> None:
        pass


packet = st.tuples(
    st.integers(0, 1500),  # time offset, tenths of seconds (spans several 60-s windows)
    st.integers(0, 2),  # capture ENI
    st.booleans(),  # egress?
    st.integers(0, len(PEERS) + len(NOT_CAPTURED) - 1),  # peer (the last ones are not captured)
    st.sampled_from([6, 17, 1]),
    st.integers(1024, 1030),  # ephemeral port
    st.sampled_from([22, 80, 443, 5001]),
    st.integers(40, 1500),
    st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x11, 0x04]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(packet, min_size=1, max_size=120), st.integers(1, 4), st.sampled_from([60, 600]))
def test_records_conserve_captured_packets_and_bytes(pkts, nbatches, interval):
    pkts = sorted(pkts, key=lambda p: p[0])
    rows = []
    expected: Counter[tuple[str, str, str]] = Counter()
    for t, e, egress, peer_i, proto, eph, svc, length, flags in pkts:
        eni, ip = ENIS[e]
        if peer_i >= len(PEERS):
            peer, proto, svc = NOT_CAPTURED[peer_i - len(PEERS)]
            egress = True  # the instance talks to the service
        else:
            peer = PEERS[peer_i]
        src, dst, sport, dport = (ip, peer, eph, svc) if egress else (peer, ip, svc, eph)
        if proto == 1:
            sport = dport = 0
        rows.append((T0 + t / 10, src, dst, proto, sport, dport, max(length, 60), flags if proto == 6 else 0, e))
        if peer_i < len(PEERS):
            d = "egress" if egress else "ingress"
            expected[(eni, d, "packets")] += 1
            expected[(eni, d, "bytes")] += max(length, 60)

    def batch(rs):
        src = [ip_to_pair(r[1]) for r in rs]
        dst = [ip_to_pair(r[2]) for r in rs]
        icmp = [r[3] == 1 for r in rs]
        return PacketBatch(
            ts_ns=np.array([round(r[0] * 1e9) for r in rs], np.int64), ip_version=np.full(len(rs), 4, np.uint8),
            src_hi=np.array([s[0] for s in src], np.uint64), src_lo=np.array([s[1] for s in src], np.uint64),
            dst_hi=np.array([d[0] for d in dst], np.uint64), dst_lo=np.array([d[1] for d in dst], np.uint64),
            protocol=np.array([r[3] for r in rs], np.uint8),
            src_port=np.array([r[4] for r in rs], np.uint16), dst_port=np.array([r[5] for r in rs], np.uint16),
            icmp_type=np.array([8 if i else -1 for i in icmp], np.int16),
            icmp_code=np.array([0 if i else -1 for i in icmp], np.int16),
            ip_len=np.array([r[6] for r in rs], np.uint32), tcp_flags=np.array([r[7] for r in rs], np.uint8),
            fragment=np.zeros(len(rs), np.uint8), iface=np.array([r[8] for r in rs], np.int16),
            interfaces=tuple(e for e, _ in ENIS),
        )

    bounds = np.linspace(0, len(rows), nbatches + 1).astype(int)
    batches = [batch(rows[a:b]) for a, b in itertools.pairwise(bounds) if b > a]
    fl = FlowLog(flow_log_id="fl-0000000000000000c", account_id="123456789010", region="us-east-1",
                 resource_id="vpc-abcdefab012345678", resource_type="VPC", traffic_type="ALL",
                 log_destination_type="s3", creation_time=datetime(2020, 1, 1, tzinfo=UTC),
                 log_destination="arn:aws:s3:::b", max_aggregation_interval=interval,
                 log_format="${interface-id} ${flow-direction} ${packets} ${bytes} ${log-status}")
    sink = _Sink()
    engine = PolicyEngine(TOPO)
    stats = run_pipeline([batches], engine, [fl], TOPO, {fl.flow_log_id: sink}, options=AggregateOptions())
    got: Counter[tuple[str, str, str]] = Counter()
    for line in sink.lines:
        eni, d, p, b, status = line.split()
        if status == "OK":
            got[(eni, d, "packets")] += int(p)
            got[(eni, d, "bytes")] += int(b)
    assert got == expected
    n_not_captured = sum(1 for p in pkts if p[3] >= len(PEERS))
    assert sum(stats.not_captured.values()) == n_not_captured
    assert stats.packets == len(rows)
