"""The pipeline: k-way merge, streaming delivery on the watermark, taps, stats, prefetch, errors."""

from __future__ import annotations

import numpy as np
import pytest
from agg_testkit import flow_log, packets, topology

from vpcflow.core.errors import SourceError
from vpcflow.dataplane.merge import merge_sources, prefetch
from vpcflow.dataplane.packets import ObservationBatch, PacketBatch
from vpcflow.dataplane.pipeline import run_pipeline

ENI1 = "eni-1235b8ca123456789"
T0 = 1566848880


def tcp(ts, src="52.213.180.42", dst="10.0.0.62", sport=1000, dport=80, flags=0x10):
    return dict(ts=ts, src=src, dst=dst, sport=sport, dport=dport, flags=flags, len=100, proto=6)


def with_iface(b: PacketBatch, iface: int, interfaces: tuple[str, ...]) -> PacketBatch:
    cols = {k: getattr(b, k) for k in ("ts_ns", "ip_version", "src_hi", "src_lo", "dst_hi", "dst_lo", "protocol",
                                       "src_port", "dst_port", "icmp_type", "icmp_code", "ip_len", "tcp_flags",
                                       "fragment")}
    return PacketBatch(**cols, iface=np.full(len(b), iface, np.int16), interfaces=interfaces)


def test_merge_interleaves_sources_in_time_order_and_unifies_interfaces():
    a = [with_iface(packets([tcp(T0 + t) for t in (1, 4, 9)]), 0, ("eth-a",)),
         with_iface(packets([tcp(T0 + t) for t in (12, 13)]), 0, ("eth-a",))]
    b = [with_iface(packets([tcp(T0 + t) for t in (2, 3, 10, 11)]), 0, ("eth-b",))]
    merged = list(merge_sources([a, b]))
    ts = np.concatenate([m.ts_ns for m in merged]) // 10**9 - T0
    assert ts.tolist() == [1, 2, 3, 4, 9, 10, 11, 12, 13]
    labels = [m.interfaces[i] for m in merged for i in m.iface]
    assert labels == ["eth-a", "eth-b", "eth-b", "eth-a", "eth-a", "eth-b", "eth-b", "eth-a", "eth-a"]
    assert all(np.all(np.diff(m.ts_ns) >= 0) for m in merged)


def test_prefetch_yields_everything_then_reraises_the_source_error():
    def source():
        yield 1
        yield 2
        raise SourceError("garbage", path="x.pcap", offset=99)

    got = []
    with pytest.raises(SourceError, match=r"x\.pcap at byte 99"):
        for item in prefetch(source(), 1):  # type: ignore[arg-type]
            got.append(item)
    assert got == [1, 2]


class FakeEngine:
    """Every packet observed once at ENI 0 (ingress, ACCEPT): enough to drive the pipeline."""

    def __init__(self) -> None:
        self.not_captured = {"amazon_dns": 0}

    def observe(self, batch: PacketBatch) -> ObservationBatch:
        n = len(batch)
        z = np.zeros(n, np.uint64)
        return ObservationBatch(
            packets=batch, packet=np.arange(n, dtype=np.int64), eni=np.zeros(n, np.int32),
            direction=np.zeros(n, np.uint8), action=np.zeros(n, np.uint8),
            src_hi=batch.src_hi, src_lo=batch.src_lo, dst_hi=batch.dst_hi, dst_lo=batch.dst_lo,
            pkt_src_hi=batch.src_hi, pkt_src_lo=batch.src_lo, pkt_dst_hi=z, pkt_dst_lo=z,
            traffic_path=np.full(n, -1, np.int8), rule=np.full(n, -1, np.int32), peer_eni=np.full(n, -1, np.int32),
            enis=(ENI1,),
        )


class RecordingSink:
    def __init__(self, log):
        self.log = log

    def write(self, fl, table):
        self.log.append(("write", table.num_rows, sorted(set(table.column("start").to_pylist()))))

    def flush(self, watermark_s=None):
        self.log.append(("flush", watermark_s))

    def close(self):
        self.log.append(("close",))


def test_records_reach_sinks_as_windows_close_not_at_the_end():
    log: list = []

    def source():
        for minute in range(3):
            log.append(("read", minute))
            yield packets([tcp(T0 + 60 * minute + 5), tcp(T0 + 60 * minute + 50)])

    fl = flow_log(ENI1, "NetworkInterface", fmt="${packets} ${start}")
    stats = run_pipeline([source()], FakeEngine(), [fl], topology(), {fl.flow_log_id: RecordingSink(log)})
    # The first minute's record is written (and flushed) before the third minute is read.
    first_write = log.index(("write", 1, [T0 + 5]))
    assert first_write < log.index(("read", 2))
    assert log[-1] == ("close",) and ("flush", None) in log
    assert stats.packets == 6 and stats.flow_logs[fl.flow_log_id].records == 3
    assert stats.not_captured == {"amazon_dns": 0}


def test_taps_see_stage_outputs_and_bad_taps_are_refused():
    seen: dict[str, int] = {"attribute": 0, "evaluate": 0, "aggregate": 0}

    def count(name):
        def f(x):
            seen[name] += len(x) if name != "aggregate" else x.table.num_rows
        return f

    fl = flow_log(ENI1, "NetworkInterface")
    run_pipeline([[packets([tcp(T0 + 1), tcp(T0 + 2)])]], FakeEngine(), [fl], topology(),
                 {fl.flow_log_id: RecordingSink([])}, taps={k: count(k) for k in seen})
    assert seen == {"attribute": 2, "evaluate": 2, "aggregate": 1}
    with pytest.raises(ValueError, match="unknown tap"):
        run_pipeline([], FakeEngine(), [fl], topology(), {fl.flow_log_id: RecordingSink([])}, taps={"parse": print})
    with pytest.raises(ValueError, match="no sink"):
        run_pipeline([], FakeEngine(), [fl], topology(), {})


def test_sinks_are_closed_when_a_source_fails():
    log: list = []

    def source():
        yield packets([tcp(T0 + 1)])
        yield packets([tcp(T0 + 70)])
        raise SourceError("truncated record", path="cap.pcap", offset=1234)

    fl = flow_log(ENI1, "NetworkInterface", fmt="${packets} ${start}")
    with pytest.raises(SourceError):
        run_pipeline([source()], FakeEngine(), [fl], topology(), {fl.flow_log_id: RecordingSink(log)})
    # The closed first window was delivered; the sink was closed.
    assert ("write", 1, [T0 + 1]) in log and log[-1] == ("close",)


def _minutes_source(n_minutes: int):
    for minute in range(n_minutes):
        yield packets([tcp(T0 + 60 * minute + 5, sport=1000 + minute), tcp(T0 + 60 * minute + 50)])


def test_threaded_aggregation_gives_the_same_sink_calls():
    fl = flow_log(ENI1, "NetworkInterface", fmt="${srcport} ${packets} ${start}")
    logs = []
    for threaded in (False, True):
        log: list = []
        run_pipeline([_minutes_source(5)], FakeEngine(), [fl], topology(), {fl.flow_log_id: RecordingSink(log)},
                     threaded=threaded)
        logs.append(log)
    assert logs[0] == logs[1]
    assert sum(1 for e in logs[0] if e[0] == "write") == 5


class FailingSink(RecordingSink):
    def write(self, fl, table):
        from vpcflow.core.errors import DeliveryFailedError

        raise DeliveryFailedError("bucket gone", sink="test", destination="b", aws_message="Access error")


def test_threaded_aggregation_reraises_a_sink_failure_and_closes_sinks():
    from vpcflow.core.errors import DeliveryFailedError

    log: list = []
    fl = flow_log(ENI1, "NetworkInterface")
    with pytest.raises(DeliveryFailedError, match="bucket gone"):
        run_pipeline([_minutes_source(6)], FakeEngine(), [fl], topology(), {fl.flow_log_id: FailingSink(log)},
                     threaded=True)
    assert log[-1] == ("close",)
