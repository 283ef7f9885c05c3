"""The streaming pass (``stream_pass.py``, ``native/src/stream/``) delivers what the generic path does.

``run_pipeline(single_pass=True)`` hands observations from the decision pass to the fold inside
the native core; ``single_pass=False`` materialises them as ``ObservationBatch``es. Same topologies,
packets and batch cuts as the engine's equivalence test (many packets per flow, scripted TCP closes,
both address families, REJECTs by security groups and NACLs, not-captured traffic), through three
flow logs (VPC / subnet / ENI; ALL / REJECT / ACCEPT; 60 s and 600 s windows; formats with the
packet-level, path, next-hop and service fields): every record, the side channel's deciding rules
and the stats must be identical.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from policy_builders import Pkt, TopoBuilder, packets
from test_policy_equivalence import world

from vpcflow import _native
from vpcflow.dataplane.attribute.engine import PolicyEngine, sample_ip_ranges_path
from vpcflow.dataplane.evaluate.conntrack import ConntrackTimeouts
from vpcflow.dataplane.pipeline import run_pipeline
from vpcflow.dataplane.stream_pass import NativeObservations
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import Topology

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
WIDE = ("${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} "
        "${start} ${end} ${action} ${log-status} ${pkt-srcaddr} ${pkt-dstaddr} ${tcp-flags} ${flow-direction} "
        "${traffic-path} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${next-hop-interface-id}")
FLOW_LOGS = (
    FlowLog("fl-0000000000000000a", "123456789012", "us-east-1", "vpc-1", "VPC", "ALL", "s3", CREATED,
            log_destination="arn:aws:s3:::b", max_aggregation_interval=60),
    FlowLog("fl-0000000000000000b", "123456789012", "us-east-1", "subnet-2", "Subnet", "REJECT", "s3", CREATED,
            log_destination="arn:aws:s3:::b", log_format=WIDE, max_aggregation_interval=600),
    FlowLog("fl-0000000000000000c", "123456789012", "us-east-1", "eni-01", "NetworkInterface", "ACCEPT", "s3",
            CREATED, log_destination="arn:aws:s3:::b", log_format=WIDE, max_aggregation_interval=600),
)
INTERFACES = ("eni-01", "eni-02", "eth0", "eni-04")


class RecordingSink:
    """Every table written, as rows, in call order."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def write(self, flow_log: FlowLog, table: pa.Table) -> None:
        self.rows += [{"flow_log": flow_log.flow_log_id, **r} for r in table.to_pylist()]

    def flush(self, watermark_s: int | None = None) -> object:
        return None

    def close(self) -> None:
        pass


def _run(topo, batches, side_dir: Path, single_pass: bool) -> tuple[list[dict], dict[str, str], dict]:
    timeouts = ConntrackTimeouts(udp_s=30, udp_stream_s=180, icmp_s=30, closed_linger_s=120)
    engine = PolicyEngine(topo, timeouts=timeouts, ip_ranges=sample_ip_ranges_path())
    sink = RecordingSink()
    stats = run_pipeline([batches], engine, FLOW_LOGS, topo, {fl.flow_log_id: sink for fl in FLOW_LOGS},
                         side_dir=side_dir, threaded=single_pass, single_pass=single_pass)
    side = {p.name: p.read_text() for p in sorted(side_dir.glob("*.jsonl"))}
    figures = {k: (v.records, v.accept, v.reject, v.nodata) for k, v in stats.flow_logs.items()}
    return sink.rows, side, {"flow_logs": figures, "obs": stats.observations, "packets": stats.packets,
                             "not_captured": stats.not_captured}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(world())
def test_single_pass_delivers_the_same_records_side_channel_and_stats(tmp_path_factory, w: tuple) -> None:
    topo, pkts, cuts = w
    bounds = [0, *cuts, len(pkts)]
    batches = [packets(pkts[a:b], INTERFACES) for a, b in itertools.pairwise(bounds) if b > a]
    generic = _run(topo, batches, tmp_path_factory.mktemp("generic"), single_pass=False)
    single = _run(topo, batches, tmp_path_factory.mktemp("single"), single_pass=True)
    assert single == generic


def one_web_server() -> Topology:
    """eni-01 (10.0.1.10) in one subnet, its security group allowing TCP 80 in and everything out."""
    b = TopoBuilder()
    b.vpc("vpc-1", "10.0.0.0/16")
    b.subnet("subnet-1", "vpc-1", "10.0.1.0/24")
    b.sg("sg-a", "vpc-1", [("tcp", (80, 80), "0.0.0.0/0")], [("tcp", (0, 65535), "0.0.0.0/0")])
    b.eni("eni-01", "subnet-1", "10.0.1.10", ("sg-a",))
    return b.build()


def test_the_engine_hands_the_fold_native_rows_with_the_same_decisions() -> None:
    topo = one_web_server()
    pk = [Pkt(1.0, "8.8.8.8", "10.0.1.10", "tcp", 999, 80, flags=2), Pkt(2.0, "8.8.8.8", "10.0.1.10", "tcp", 999, 22,
                                                                          flags=2)]
    batch = packets(pk)
    want = PolicyEngine(topo).observe(batch)
    got = PolicyEngine(topo).observe_native(batch)
    assert isinstance(got, NativeObservations) and isinstance(got.rows, _native.Observations)
    cols = got.rows.columns()
    assert len(got) == len(want) == 2 and got.rows.rejects == 1
    for name in ("packet", "eni", "direction", "action", "rule"):
        assert np.array_equal(cols[name], getattr(want, name)), name


def test_a_flow_id_without_flow_point_fields_is_a_clear_error() -> None:
    engine = PolicyEngine(one_web_server())
    batch = packets([Pkt(1.0, "8.8.8.8", "10.0.1.10", "tcp", 999, 80, flags=2)])
    # flow id 0 names no flow of the (empty) flow table: no point rows, hence no record fields
    with pytest.raises(ValueError, match="no point rows"):
        _native.decide_observe(engine.conntrack, engine._sg_rules, batch.ts_ns, batch.tcp_flags, batch.protocol,
                               np.zeros(1, np.int32), engine._table)


@pytest.mark.parametrize("threaded", [False, True])
def test_the_side_channel_is_written_beside_aggregation_and_its_failure_fails_the_run(tmp_path, monkeypatch,
                                                                                      threaded: bool) -> None:
    import threading

    from vpcflow.dataplane import side_channel

    topo = one_web_server()
    # a REJECT (port 22) in each of three windows
    batches = [packets([Pkt(t, "8.8.8.8", "10.0.1.10", "tcp", 999, 22, flags=2)]) for t in (1.0, 61.0, 121.0)]
    fl = FLOW_LOGS[0]
    writers: list[str] = []
    write = side_channel.write_rejects

    def spy(path: Path, table: pa.Table, *, append: bool) -> None:
        writers.append(threading.current_thread().name)
        write(path, table, append=append)

    monkeypatch.setattr(side_channel, "write_rejects", spy)
    run_pipeline([batches], PolicyEngine(topo), [fl], topo, {fl.flow_log_id: RecordingSink()}, side_dir=tmp_path,
                 threaded=threaded, single_pass=True)
    assert writers and set(writers) == {"vpcflow-side-channel"}
    assert len((tmp_path / f"{fl.flow_log_id}.rejects.jsonl").read_text().splitlines()) == 3

    def full(path: Path, table: pa.Table, *, append: bool) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(side_channel, "write_rejects", full)
    with pytest.raises(OSError, match="No space left"):
        run_pipeline([batches], PolicyEngine(topo), [fl], topo, {fl.flow_log_id: RecordingSink()},
                     side_dir=tmp_path / "again", threaded=threaded, single_pass=True)
