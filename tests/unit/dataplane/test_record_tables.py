"""Record tables of closed windows: the native builder (``_native.build_records``) against the numpy
oracle (``records_oracle``), table for table: every format version v2..v11 and custom formats, IPv4
and IPv6, NODATA rows, SKIPDATA with small capacities, TrafficType filters, several ENIs, intervals
of 60 and 600 s. Equal means the same schema, the same nulls, the same row order and values.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from agg_testkit import flow_log, topology
from hypothesis import given, settings
from hypothesis import strategies as st
from records_oracle import oracle_addresses, oracle_records

from vpcflow import _native
from vpcflow.codecs.native_columns import arrow_array
from vpcflow.core.errors import SourceError
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions, AggregateOutput, FlowLogAggregator
from vpcflow.dataplane.aggregate.fields import EniTable
from vpcflow.dataplane.aggregate.records import ENI_SHIFT, Closed
from vpcflow.model.fields import MAX_VERSION, MIN_VERSION, VPC_FIELDS
from vpcflow.model.flowlog import TagFieldSpecification

T0 = 1_600_000_200  # a multiple of 600 (and of 60)
RULES = ["sg-1 inbound rule 1", "acl-2 rule 100"]
SERVICES = ["S3", "DYNAMODB", "EC2"]
VERSIONS = [v for v in range(MIN_VERSION, MAX_VERSION + 1) if any(f.version == v for f in VPC_FIELDS)]
NAMES = [f.name for f in VPC_FIELDS]


def version_format(v: int) -> str:
    """Every field up to version ``v``, in catalogue order."""
    return " ".join(f"${{{f.name}}}" for f in VPC_FIELDS if f.version <= v)


formats = st.one_of(
    st.sampled_from(VERSIONS).map(version_format),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=14, unique=True).map(
        lambda names: " ".join(f"${{{n}}}" for n in names)),
)
group = st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x2001, 0xDB8, 0xFE80])


@st.composite
def addresses(draw: st.DrawFn) -> int:
    if draw(st.booleans()):
        return 0xFFFF_0000_0000 | draw(st.sampled_from([0, 0x0A00003E, 0xC6336409, 0xFFFFFFFF, 0x7F000001]))
    v = 0
    for _ in range(8):
        v = (v << 16) | draw(group)
    return v


@st.composite
def partial_rows(draw: st.DrawFn, traffic_type: str) -> list[tuple[int, ...]]:
    """Rows: (eni, window index, meta fields..., addresses, first/last offsets, packets, bytes, flags, rule...)."""
    action = st.just(0) if traffic_type == "ACCEPT" else st.just(1) if traffic_type == "REJECT" else st.integers(0, 1)
    row = st.tuples(
        st.integers(0, 2), st.integers(0, 2),  # eni, window
        st.integers(0, 1), action, st.sampled_from([6, 17, 1, 58]),  # direction, action, protocol
        st.sampled_from([0, 80, 443, 65535]), st.sampled_from([0, 22, 51000]),  # ports
        st.booleans(), st.integers(-1, 7),  # IPv6, traffic path
        addresses(), addresses(), addresses(), addresses(),  # src, dst, pkt-src, pkt-dst
        st.integers(0, 3), st.integers(0, 3),  # first, last offsets in the window
        st.integers(1, 9), st.integers(40, 9000), st.sampled_from([0, 1, 2, 0x12, 0x13, 0x80, 0x83]),
        st.integers(-1, 1), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),  # rule, peer, svc x2
    )
    return draw(st.lists(row, max_size=40))


def closed_of(agg: FlowLogAggregator, rows: list[tuple[int, ...]]) -> Closed:
    sp, n = agg.spec, len(rows)
    keys = np.zeros((n, sp.nkeys), np.uint64)
    first = np.zeros(n, np.int64)
    last = np.zeros(n, np.int64)
    for i, r in enumerate(rows):
        eni, w, d, a, proto, sport, dport, v6, path, src, dst, psrc, pdst, f0, f1 = r[:15]
        itv = int(agg._interval[eni])
        ws = T0 + w * itv
        meta = d | a << 1 | proto << 2 | sport << 10 | dport << 26 | int(v6) << 42
        if sp.path:
            meta |= (path + 1) << 43
        keys[i, 0] = eni << int(ENI_SHIFT) | ws
        keys[i, 1] = meta
        words = [src, dst] + ([psrc] if sp.pkt_src else []) + ([pdst] if sp.pkt_dst else [])
        for j, v in enumerate(words):
            keys[i, 2 + 2 * j] = v >> 64
            keys[i, 3 + 2 * j] = v & (2**64 - 1)
        for name, value in (("peer", r[19]), ("svc_src", r[20]), ("svc_dst", r[21])):
            if name in sp.pos:
                keys[i, sp.pos[name]] = value
        first[i] = ws + min(f0, f1) * (itv // 4)
        last[i] = ws + max(f0, f1) * (itv // 4)
    col = list(zip(*rows, strict=True)) if rows else [()] * 22
    return Closed(keys, np.array(col[15], np.int64), np.array(col[16], np.int64), first, last,
                  np.array(col[17], np.uint8), np.array(col[18], np.int32))


def aggregator(fmt: str, traffic_type: str, interval: int, nitro: bool, capacity: int) -> FlowLogAggregator:
    tags = (TagFieldSpecification("network-interface", ("Name", "Team")),)
    fl = flow_log(fmt=fmt, traffic_type=traffic_type, interval=interval, tag_field_specifications=tags)
    topo = topology(nitro=nitro)
    agg = FlowLogAggregator(fl, EniTable(topo), AggregateOptions(skipdata_capacity=capacity), RULES, SERVICES)
    agg.covered_indexes()
    agg._sync_enis()
    return agg


def assert_same(native: AggregateOutput, oracle: AggregateOutput) -> None:
    assert native.table.schema == oracle.table.schema
    assert native.table.equals(oracle.table), (native.table.to_pylist(), oracle.table.to_pylist())
    assert native.rejects.schema == oracle.rejects.schema
    assert native.rejects.equals(oracle.rejects), (native.rejects.to_pylist(), oracle.rejects.to_pylist())
    assert native.steering.keys() == oracle.steering.keys()
    for k, col in native.steering.items():
        assert col.equals(oracle.steering[k]), k
    counts = ("ok", "accept", "reject", "nodata", "skipdata", "skipped_records", "skipped_packets")
    assert [getattr(native, c) for c in counts] == [getattr(oracle, c) for c in counts]


@settings(max_examples=300, deadline=None)
@given(st.data(), formats, st.sampled_from(["ALL", "ACCEPT", "REJECT"]), st.sampled_from([60, 600]), st.booleans(),
       st.sampled_from([1, 2, 3, 1_000_000]), st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4)), max_size=6))
def test_native_record_tables_equal_the_numpy_oracle(data, fmt, traffic_type, interval, nitro, capacity, idle):
    agg = aggregator(fmt, traffic_type, interval, nitro, capacity)
    rows = data.draw(partial_rows(traffic_type))
    closed = closed_of(agg, rows)
    active = {(r[0], r[1]) for r in rows}
    pairs = sorted({p for p in idle if p not in active}, key=lambda p: (p[1], -p[0]))  # any order _nodata gives
    nd_eni = np.array([e for e, _ in pairs], np.int64)
    nd_ws = np.array([T0 + w * int(agg._interval[e]) for e, w in pairs], np.int64)
    built = agg._build(closed, nd_eni, nd_ws)
    native = AggregateOutput(flow_log=agg.flow_log, table=built.table, rejects=built.rejects,
                             steering=built.steering, **built.counts)
    assert_same(native, oracle_records(agg, closed.partials(), nd_eni, nd_ws))


def test_skipdata_and_ties_follow_the_oracle_on_a_crowded_window():
    # 200 records of one ENI window, many equal in (start, end, key word 1): arrival breaks ties.
    agg = aggregator(version_format(5), "ALL", 600, False, 50)
    rng = np.random.default_rng(7)
    rows = [(0, 0, 0, 0, 6, 80, int(rng.integers(0, 2)) * 22, False, 0, 0xFFFF_0A000001 + i, 0xFFFF_0A000002, 0, 0,
             int(rng.integers(0, 2)), 1, 1, 60, 2, -1, 0, 0, 0) for i in range(200)]
    closed = closed_of(agg, rows)
    built = agg._build(closed, np.array([1], np.int64), np.array([T0], np.int64))
    oracle = oracle_records(agg, closed.partials(), np.array([1], np.int64), np.array([T0], np.int64))
    assert built.table.equals(oracle.table)
    assert built.counts["skipped_records"] == 150 and built.counts["skipdata"] == 1
    assert built.table.column("log_status").to_pylist().count("SKIPDATA") == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    ("::ffff:10.0.0.62", "10.0.0.62"), ("::10.0.0.62", "::a00:3e"), ("64:ff9b::a00:1", "64:ff9b::a00:1"),
])
def test_native_address_text_rfc_5952_and_ipv4_mapped_spec_1_1(text, expected):
    v = int(ipaddress.IPv6Address(text))
    out = arrow_array(_native.format_addresses(np.array([v >> 64], np.uint64), np.array([v & (2**64 - 1)], np.uint64)), 1)
    assert out.to_pylist() == [expected] == oracle_addresses([v >> 64], [v & (2**64 - 1)]).to_pylist()


def test_bad_inputs_are_errors_not_crashes():
    agg = aggregator(version_format(2), "ALL", 600, True, 10)
    closed = closed_of(agg, [])
    closed.keys = np.array([[5 << int(ENI_SHIFT), 0, 0, 0, 0, 0]], np.uint64)  # ENI 5 has no interval
    closed.packets, closed.bytes = np.ones(1, np.int64), np.ones(1, np.int64)
    closed.first_s, closed.last_s = np.zeros(1, np.int64), np.zeros(1, np.int64)
    closed.flags, closed.rule = np.zeros(1, np.uint8), np.zeros(1, np.int32)
    with pytest.raises(ValueError, match="no interval"):
        agg._build(closed, np.zeros(0, np.int64), np.zeros(0, np.int64))
    closed.keys = np.array([[T0, 0, 0, 0, 0, 0]], np.uint64)  # ENI 0, window T0
    closed.first_s = np.array([T0 - 1], np.int64)  # before its window: not a folded record
    with pytest.raises(ValueError, match="outside its window"):
        agg._build(closed, np.zeros(0, np.int64), np.zeros(0, np.int64))
    closed.first_s = np.array([T0], np.int64)
    with pytest.raises(ValueError, match="NODATA window start"):
        agg._build(closed, np.zeros(1, np.int64), np.array([-60], np.int64))
    closed.rule = np.zeros(2, np.int32)
    with pytest.raises(ValueError, match="differ in length"):
        agg._build(closed, np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert not issubclass(ValueError, SourceError)  # a bad call is a ValueError, a panic a SourceError
