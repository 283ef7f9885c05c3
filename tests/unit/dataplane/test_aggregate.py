"""Aggregation: windows, tcp-flags (spec 1.4), NODATA/SKIPDATA (spec 2.4), coverage (2.8), filters (2.3)."""

from __future__ import annotations

import itertools

import aggregate_oracle
import numpy as np
import pytest
from agg_testkit import flow_log, observe, packets, topology
from aggregate_oracle import ReferenceAggregator, map_tcp_flags
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow import _native
from vpcflow.codecs.text import render_lines
from vpcflow.dataplane.aggregate import groupby as aggregate_groupby
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions, Aggregator

ENI1, ENI2, ENI3 = "eni-1235b8ca123456789", "eni-22222222222222222", "eni-33333333333333333"
ENIS = (ENI1, ENI2, ENI3)
C, S = "52.213.180.42", "10.0.0.62"
F75 = ("${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} "
       "${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} "
       "${end} ${action} ${tcp-flags} ${log-status}")
T0 = 1566848880  # a multiple of 60 and of 600? (1566848880 % 600 == 480): a 60-s boundary only


def lines(outputs) -> list[str]:
    return [ln for o in outputs for ln in render_lines(o.table).to_pylist()]


def run(rows, obs_rows, fl, *, nitro=True, options=None, enis=ENIS, rules=()):
    agg = Aggregator([fl], topology(nitro=nitro), options or AggregateOptions())
    pk = packets(rows)
    agg.add(observe(pk, obs_rows, enis, rules))
    return agg, agg.finish()


def tcp(ts, src, dst, sport, dport, flags, length=60):
    return dict(ts=ts, src=src, dst=dst, sport=sport, dport=dport, flags=flags, len=length, proto=6)


@pytest.mark.parametrize(
    ("raw", "proto", "expected"),
    [(0x02, 6, 2), (0x12, 6, 18), (0x10, 6, 0), (0x18, 6, 0), (0x11, 6, 1), (0x14, 6, 4), (0x42, 6, 2),
     (0x01, 6, 1), (0x04, 6, 4), (0x02, 17, 0), (0xFF, 1, 0), (0x03, 6, 0x83), (0x06, 6, 0x86)],
)
def test_tcp_flags_mapping_spec_1_4(raw, proto, expected):
    got = map_tcp_flags(np.array([raw], np.uint8), np.array([proto], np.uint8))
    assert int(got[0]) == expected


def test_tcp_flag_sequence_spec_7_5_two_windows_and_short_connection():
    # First window: SYN from the client (2), SYN-ACK from the server (18), data with ACK/PSH (not reported).
    rows = [tcp(T0 + 5, C, S, 43416, 5001, 0x02), tcp(T0 + 5, S, C, 5001, 43416, 0x12),
            tcp(T0 + 6, C, S, 43416, 5001, 0x10, 52), tcp(T0 + 7, C, S, 43416, 5001, 0x18, 456),
            tcp(T0 + 7, S, C, 5001, 43416, 0x10, 52),
            # Second window: FIN-ACK both ways (1).
            tcp(T0 + 65, S, C, 5001, 43416, 0x11, 52), tcp(T0 + 66, C, S, 43416, 5001, 0x11, 52),
            # A short connection inside one window: client SYN..FIN = 3, server SYN-ACK..FIN = 19.
            tcp(T0 + 70, C, S, 43638, 5001, 0x02), tcp(T0 + 70, S, C, 5001, 43638, 0x12),
            tcp(T0 + 71, C, S, 43638, 5001, 0x11, 52), tcp(T0 + 71, S, C, 5001, 43638, 0x11, 52)]
    obs = [dict(packet=i, eni=0, dir=0 if r["src"] == C else 1) for i, r in enumerate(rows)]
    _, out = run(rows, obs, flow_log(fmt=F75, interval=60))
    head = "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4"
    got = [ln for ln in lines(out) if "NODATA" not in ln]
    assert got == [
        f"{head} {C} {S} 43416 5001 {C} {S} 6 568 3 {T0 + 5} {T0 + 7} ACCEPT 2 OK",
        f"{head} {S} {C} 5001 43416 {S} {C} 6 112 2 {T0 + 5} {T0 + 7} ACCEPT 18 OK",
        f"{head} {S} {C} 5001 43416 {S} {C} 6 52 1 {T0 + 65} {T0 + 65} ACCEPT 1 OK",
        f"{head} {C} {S} 43416 5001 {C} {S} 6 52 1 {T0 + 66} {T0 + 66} ACCEPT 1 OK",
        f"{head} {C} {S} 43638 5001 {C} {S} 6 112 2 {T0 + 70} {T0 + 71} ACCEPT 3 OK",
        f"{head} {S} {C} 5001 43638 {S} {C} 6 112 2 {T0 + 70} {T0 + 71} ACCEPT 19 OK",
    ]


def test_invalid_flag_combination_gives_dash():
    rows = [tcp(T0 + 1, C, S, 1, 2, 0x03), tcp(T0 + 2, C, S, 1, 2, 0x10)]
    _, out = run(rows, [dict(packet=0), dict(packet=1)], flow_log(ENI1, "NetworkInterface",
                                                                  fmt="${srcport} ${tcp-flags} ${packets}"))
    assert lines(out) == ["1 - 2"]


def test_non_tcp_flags_are_zero_and_icmp_ports_zero():
    rows = [dict(ts=T0 + 1, src=C, dst=S, proto=1, len=84), dict(ts=T0 + 2, src=C, dst=S, proto=17, sport=53,
                                                                  dport=999, len=100, flags=0x12)]
    _, out = run(rows, [dict(packet=0), dict(packet=1)], flow_log(ENI1, "NetworkInterface",
                                                                  fmt="${srcport} ${dstport} ${protocol} ${tcp-flags}"))
    assert lines(out) == ["0 0 1 0", "53 999 17 0"]


def test_nodata_shape_spec_7_2_default_format():
    # ENI2 and ENI3 are idle; the run spans two 60-s windows.
    rows = [tcp(T0 + 10, C, S, 1, 2, 2), tcp(T0 + 70, C, S, 1, 2, 16)]
    _, out = run(rows, [dict(packet=0), dict(packet=1)], flow_log(ENI2, "NetworkInterface"))
    assert lines(out) == [
        f"2 123456789010 {ENI2} - - - - - - - {T0} {T0 + 58} - NODATA",
        f"2 123456789010 {ENI2} - - - - - - - {T0 + 60} {T0 + 118} - NODATA",
    ]


def test_nodata_keeps_interface_metadata_and_dashes_packet_fields():
    fmt = "${version} ${vpc-id} ${subnet-id} ${instance-id} ${region} ${az-id} ${type} ${tcp-flags} ${log-status}"
    rows = [tcp(T0 + 10, C, S, 1, 2, 2)]
    _, out = run(rows, [dict(packet=0)], flow_log(ENI3, "NetworkInterface", fmt=fmt))
    assert lines(out) == ["4 vpc-abcdefab012345678 subnet-bbbbbbbb012345678 - us-east-1 use1-az2 - - NODATA"]


def test_no_nodata_when_traffic_was_filtered_out():
    rows = [tcp(T0 + 10, C, S, 1, 2, 2)]
    _, out = run(rows, [dict(packet=0, action=0)], flow_log(ENI1, "NetworkInterface", traffic_type="REJECT"))
    assert lines(out) == []


def test_nitro_enis_aggregate_at_60s_whatever_the_interval_spec_2_1():
    rows = [tcp(T0 + 10, C, S, 1, 2, 2), tcp(T0 + 70, C, S, 1, 2, 16)]
    fl = flow_log(ENI1, "NetworkInterface", fmt="${packets} ${start} ${end}", interval=600)
    _, nitro = run(rows, [dict(packet=0), dict(packet=1)], fl, nitro=True)
    assert lines(nitro) == [f"1 {T0 + 10} {T0 + 10}", f"1 {T0 + 70} {T0 + 70}"]
    _, classic = run(rows, [dict(packet=0), dict(packet=1)], fl, nitro=False)
    assert lines(classic) == [f"2 {T0 + 10} {T0 + 70}"]


def test_windows_are_aligned_to_epoch_multiples_of_the_interval():
    base = T0 - T0 % 600  # a 600-s boundary
    rows = [tcp(base + 599, C, S, 1, 2, 16), tcp(base + 600, C, S, 1, 2, 16)]
    fl = flow_log(ENI1, "NetworkInterface", fmt="${packets} ${start} ${end}", interval=600)
    _, out = run(rows, [dict(packet=0), dict(packet=1)], fl, nitro=False)
    assert lines(out) == [f"1 {base + 599} {base + 599}", f"1 {base + 600} {base + 600}"]


def test_traffic_type_filter_and_counts():
    rows = [tcp(T0 + 1, C, S, 1, 22, 2), tcp(T0 + 2, C, S, 2, 3389, 2)]
    obs = [dict(packet=0, action=0), dict(packet=1, action=1, rule=0)]
    fmt = "${dstport} ${action}"
    for tt, expected in (("ALL", ["22 ACCEPT", "3389 REJECT"]), ("ACCEPT", ["22 ACCEPT"]),
                         ("REJECT", ["3389 REJECT"])):
        _, out = run(rows, obs, flow_log(ENI1, "NetworkInterface", fmt=fmt, traffic_type=tt), rules=("nacl deny",))
        assert lines(out) == expected
    assert out[0].reject == 1 and out[0].accept == 0


def test_coverage_by_vpc_subnet_and_eni():
    rows = [tcp(T0 + 1, C, S, 1, 2, 2), tcp(T0 + 1, C, "10.0.1.5", 1, 2, 2), tcp(T0 + 1, C, "10.9.9.9", 1, 2, 2)]
    obs = [dict(packet=0, eni=0), dict(packet=1, eni=1), dict(packet=2, eni=2)]
    enis = (ENI1, ENI2, "eni-0000000000000dead")  # the last is not in the topology: never recorded
    fmt = "${interface-id} ${log-status}"
    for fl, expected in (
        (flow_log(fmt=fmt), [f"{ENI1} OK", f"{ENI2} OK", f"{ENI3} NODATA"]),
        (flow_log("subnet-bbbbbbbb012345678", "Subnet", fmt=fmt), [f"{ENI2} OK", f"{ENI3} NODATA"]),
        (flow_log(ENI1, "NetworkInterface", fmt=fmt), [f"{ENI1} OK"]),
    ):
        _, out = run(rows, obs, fl, enis=enis)
        assert lines(out) == expected


def test_skipdata_replaces_overflow_with_one_record():
    rows = [tcp(T0 + 1 + i, C, S, 1000 + i, 80, 2) for i in range(5)]
    fl = flow_log(ENI1, "NetworkInterface")
    _, out = run(rows, [dict(packet=i) for i in range(5)], fl, options=AggregateOptions(skipdata_capacity=2))
    got = lines(out)
    assert len(got) == 3
    # The SKIPDATA record carries the window bounds, so it sorts first; the two earliest flows are kept.
    assert got[0] == f"2 123456789010 {ENI1} - - - - - - - {T0} {T0 + 58} - SKIPDATA"
    assert got[1].split()[5] == "1000" and got[2].split()[5] == "1001"
    assert (out[0].skipped_records, out[0].skipped_packets, out[0].skipdata) == (3, 3, 1)


def test_watermark_closes_windows_once():
    rows = [tcp(T0 + 1, C, S, 1, 2, 2), tcp(T0 + 61, C, S, 1, 2, 16)]
    agg = Aggregator([flow_log(ENI1, "NetworkInterface", fmt="${packets} ${start}")], topology())
    agg.add(observe(packets(rows), [dict(packet=0), dict(packet=1)], ENIS))
    assert lines(agg.advance(T0 + 59)) == []
    assert lines(agg.advance(T0 + 60)) == [f"1 {T0 + 1}"]
    assert lines(agg.advance(T0 + 60)) == []
    assert lines(agg.finish()) == [f"1 {T0 + 61}"]


def test_ipv6_record_spec_7_4():
    a, b = "2001:db8:1234:a100:8d6e:3477:df66:f105", "2001:db8:1234:a102:3304:8879:34cf:4071"
    rows = [tcp(T0 + 1, a, b, 34892, 22, 2, 8855 // 54) for _ in range(54)]
    fl = flow_log(ENI1, "NetworkInterface", fmt="${srcaddr} ${dstaddr} ${srcport} ${dstport} ${type} ${packets}")
    _, out = run(rows, [dict(packet=i) for i in range(54)], fl)
    assert lines(out) == [f"{a} {b} 34892 22 IPv6 54"]


def test_reject_side_channel_names_the_rule_of_the_first_packet():
    rows = [tcp(T0 + 1, C, S, 1, 22, 2), tcp(T0 + 2, C, S, 1, 22, 2)]
    obs = [dict(packet=0, action=1, rule=1), dict(packet=1, action=1, rule=0)]
    _, out = run(rows, obs, flow_log(ENI1, "NetworkInterface"), rules=("rule-a", "rule-b"))
    rej = out[0].rejects.to_pylist()
    assert len(rej) == 1 and rej[0]["rule"] == "rule-b" and rej[0]["dstport"] == 22 and rej[0]["packets"] == 2


def test_tag_and_next_hop_fields():
    fmt = "${interface-tag} ${instance-tag} ${next-hop-interface-id} ${next-hop-subnet-id} ${interface-type}"
    from vpcflow.model.flowlog import TagFieldSpecification

    fl = flow_log(fmt=fmt, tag_field_specifications=(TagFieldSpecification("network-interface", ("Name",)),))
    rows = [tcp(T0 + 1, S, "10.0.1.5", 1, 2, 2)]
    _, out = run(rows, [dict(packet=0, eni=0, dir=1, peer=1), dict(packet=0, eni=1, dir=0, peer=0)], fl)
    assert [ln for ln in lines(out) if not ln.endswith("nat_gateway")] == [
        f"web%20one - {ENI2} subnet-bbbbbbbb012345678 -",
        f"- - {ENI1} subnet-aaaaaaaa012345678 -",
    ]


def _partials(rows):
    keys = [np.array([r[0] for r in rows], np.uint64), np.array([r[1] for r in rows], np.uint64)]
    n = len(rows)
    return aggregate_groupby.Partials(
        keys=keys, packets=np.ones(n, np.int64), bytes=np.array([r[2] for r in rows], np.int64),
        first_s=np.array([r[3] for r in rows], np.int64), last_s=np.array([r[3] for r in rows], np.int64),
        flags=np.array([r[4] for r in rows], np.uint8), rule=np.array([r[5] for r in rows], np.int32))


def _as_set(p):
    return sorted(zip(*(k.tolist() for k in p.keys), p.packets.tolist(), p.bytes.tolist(), p.first_s.tolist(),
                      p.last_s.tolist(), p.flags.tolist(), p.rule.tolist(), strict=True))


def test_numpy_groupby_hash_collisions_fall_back_to_exact(monkeypatch):
    monkeypatch.setattr(aggregate_oracle, "hash_keys", lambda keys: np.zeros(len(keys[0]), np.uint64))
    p = _partials([(1, 2, 10, 5, 2, 0), (1, 3, 10, 5, 0, 1), (1, 2, 5, 4, 16, 3), (2, 2, 1, 1, 1, -1)])
    assert _as_set(aggregate_oracle.fold_numpy(p)) == [(1, 2, 2, 15, 4, 5, 18, 3), (1, 3, 1, 10, 5, 5, 0, 1),
                                                      (2, 2, 1, 1, 1, 1, 1, -1)]


def _closed(arrays, nkeys=2):
    keys, packets, nbytes, first, last, flags, rule = arrays
    return aggregate_groupby.Partials(keys=[np.ascontiguousarray(keys[:, i]) for i in range(nkeys)], packets=packets,
                                      bytes=nbytes, first_s=first, last_s=last, flags=flags, rule=rule)


def _first_seen_order(rows, p):
    firsts = [next(i for i, r in enumerate(rows) if (r[0], r[1]) == key)
              for key in zip(p.keys[0].tolist(), p.keys[1].tolist(), strict=True)]
    return firsts == sorted(firsts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 1500), st.integers(0, 5),
                          st.sampled_from([0, 1, 2, 4, 16, 0x80]), st.integers(-1, 3)), min_size=0, max_size=60),
       st.integers(0, 60), st.integers(-1, 3))
def test_fold_state_equals_numpy_reference(rows, cut, last_closed):
    """The core's open partials (FoldState), fed in two batches, then closed up to a window and then
    all: each side equals the numpy fold's groups of those windows, in order of first appearance."""
    p = _partials(rows) if rows else aggregate_groupby.Partials.empty(2)
    cut = min(cut, len(p))
    state = _native.FoldState(2)
    for part in (p.take(np.arange(cut)), p.take(np.arange(cut, len(p)))):
        state.absorb(np.ascontiguousarray(np.stack(part.keys, axis=1)), part.packets, part.bytes, part.first_s,
                     part.last_s, part.flags, part.rule)
    interval = np.array([60], np.int64)  # key 0 is ENI 0's window start (0..3 s): closed when start <= last_closed
    closed = _closed(state.close(60 + last_closed, interval))
    rest = _closed(state.close(None, interval))
    assert len(state) == 0
    expected = _as_set(aggregate_oracle.fold_numpy(p))
    assert _as_set(closed) == [r for r in expected if r[0] <= last_closed]
    assert _as_set(rest) == [r for r in expected if r[0] > last_closed]
    assert _first_seen_order(rows, closed) and _first_seen_order(rows, rest)


def test_fold_state_refuses_keys_of_another_width_and_enis_without_interval():
    state = _native.FoldState(2)
    one = np.ones(1, np.int64)
    with pytest.raises(ValueError, match="3 words"):
        state.absorb(np.zeros((1, 3), np.uint64), one, one, one, one, np.zeros(1, np.uint8), np.zeros(1, np.int32))
    state.absorb(np.array([[5 << 34, 1]], np.uint64), one, one, one, one, np.zeros(1, np.uint8),
                 np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="no interval"):
        state.close(1000, np.array([60], np.int64))  # ENI 5 has none


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 3), st.integers(0, 1), st.integers(0, 2),
                          st.integers(40, 1500)), min_size=1, max_size=80),
       st.integers(1, 5))
def test_batching_does_not_change_records(events, nsplit):
    events = sorted(events)
    rows = [tcp(T0 + t, C, S, 1000 + port, 80, 2 if act else 16, ln) for t, port, act, _, ln in events]
    obs = [dict(packet=i, eni=e[3], action=e[2]) for i, e in enumerate(events)]
    fl = flow_log(fmt="${interface-id} ${srcport} ${packets} ${bytes} ${start} ${end} ${action} ${tcp-flags} "
                      "${log-status}")
    _, whole = run(rows, obs, fl)
    agg = Aggregator([fl], topology())
    out = []
    bounds = np.linspace(0, len(rows), nsplit + 1).astype(int)
    for a, b in itertools.pairwise(bounds):
        if b == a:
            continue
        pk = packets(rows[a:b])
        agg.add(observe(pk, [dict(o, packet=o["packet"] - a) for o in obs[a:b]], ENIS))
        out += agg.advance(T0 + events[b - 1][0])
    out += agg.finish()
    assert sorted(lines(out)) == sorted(lines(whole))
    total = sum(int(ln.split()[2]) for ln in lines(whole) if ln.endswith(" OK"))
    assert total == len(rows)


def test_aws_service_fields_from_the_engine_spec_7_8():
    rows = [tcp(T0 + 1, "52.95.128.179", S, 80, 34210, 0x12), tcp(T0 + 2, S, "52.95.128.179", 34210, 80, 0x11)]
    obs = observe(packets(rows), [dict(packet=0, dir=0), dict(packet=1, dir=1, path=8)], ENIS)
    import dataclasses

    if "services" not in {f.name for f in dataclasses.fields(obs)}:
        pytest.skip("ObservationBatch has no service columns in this tree")
    obs = dataclasses.replace(obs, pkt_src_service=np.array([0, -1], np.int16),
                              pkt_dst_service=np.array([-1, 0], np.int16), services=("S3",))
    fl = flow_log(ENI1, "NetworkInterface", fmt="${pkt-src-aws-service} ${pkt-dst-aws-service} ${traffic-path} "
                                                "${flow-direction}")
    agg = Aggregator([fl], topology())
    agg.add(obs)
    assert lines(agg.finish()) == ["S3 - - ingress", "- S3 8 egress"]


FORMATS = [
    None,
    F75,
    "${interface-id} ${flow-direction} ${traffic-path} ${pkt-srcaddr} ${pkt-dstaddr} ${next-hop-interface-id} "
    "${packets} ${bytes} ${start} ${end} ${tcp-flags} ${action} ${log-status}",
]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 700), st.integers(0, 2), st.integers(0, 1), st.integers(0, 1),
                          st.integers(0, 3), st.sampled_from([6, 17, 1]), st.sampled_from([0, 2, 0x12, 0x11, 0x03]),
                          st.integers(-1, 1), st.integers(-1, 2), st.integers(40, 1500)), min_size=1, max_size=200),
       st.sampled_from(["ALL", "ACCEPT", "REJECT"]), st.integers(0, len(FORMATS) - 1),
       st.lists(st.integers(0, 200), max_size=4), st.sampled_from([60, 600]), st.booleans())
def test_native_add_equals_numpy_oracle(events, traffic_type, fmt_i, cuts, interval, nitro):
    # Many packets per flow (4 peers), windows of 60 and 600 s crossed, several batches, both families.
    events = sorted(events)
    peers = [C, "10.0.1.5", "198.51.100.9", "2001:db8::1"]
    rows = [tcp(T0 + t, peers[p], S if ":" not in peers[p] else "2001:db8::2",
                1000 + p, 80, fl, ln) | {"proto": pr} for t, _e, _d, _a, p, pr, fl, _r, _pe, ln in events]
    obs_rows = [dict(packet=i, eni=e, dir=d, action=a, rule=r, peer=pe, path=-1 if d == 0 else 1)
                for i, (_t, e, d, a, _p, _pr, _f, r, pe, _ln) in enumerate(events)]
    fl = flow_log(fmt=FORMATS[fmt_i], traffic_type=traffic_type, interval=interval)
    bounds = [0, *sorted({c for c in cuts if c < len(rows)}), len(rows)]

    def run_with(cls: type[Aggregator]):
        agg = cls([fl], topology(nitro=nitro))
        for a, b in itertools.pairwise(bounds):
            if a == b:
                continue
            batch_obs = [o | {"packet": o["packet"] - a} for o in obs_rows[a:b]]
            agg.add(observe(packets(rows[a:b]), batch_obs, ENIS, ("rule-a", "rule-b")))
        out = agg.finish()
        return sorted(lines([out[0]])), sorted(map(str, out[0].rejects.to_pylist()))

    assert run_with(Aggregator) == run_with(ReferenceAggregator)


# -- an agent's options (issue 12): records for OWNED ENIs only, NODATA over a wall-clock span ----------

def test_owned_enis_only_get_records_traffic_and_nodata():
    # Traffic observed at ENI1 (ingress) and ENI2 (egress); the agent owns ENI2 only: ENI1's traffic
    # and ENI3's NODATA belong to other agents, so this one writes neither.
    rows = [tcp(T0 + 10, S, C, 1, 2, 2)]
    opts = AggregateOptions(enis=frozenset({ENI2}))
    _, out = run(rows, [dict(packet=0, eni=0, dir=1), dict(packet=0, eni=1, dir=0)],
                 flow_log(fmt="${interface-id} ${packets} ${log-status}"), options=opts)
    assert lines(out) == [f"{ENI2} 1 OK"]


def test_owned_eni_without_traffic_gets_nodata_only_for_itself():
    rows = [tcp(T0 + 10, S, C, 1, 2, 2)]
    opts = AggregateOptions(enis=frozenset({ENI3}))
    _, out = run(rows, [dict(packet=0, eni=0, dir=1)], flow_log(fmt="${interface-id} ${start} ${log-status}"),
                 options=opts)
    assert lines(out) == [f"{ENI3} {T0} NODATA"]


def test_span_gives_nodata_for_every_window_even_without_packets():
    opts = AggregateOptions(enis=frozenset({ENI3}), start_s=T0, end_s=T0 + 180)
    agg = Aggregator([flow_log(fmt="${interface-id} ${start} ${log-status}")], topology(), opts)
    assert lines(agg.finish()) == [f"{ENI3} {T0 + 60 * i} NODATA" for i in range(3)]
