"""Property: the engine's native new-flow step (``FlowTable.add_flows``) stores exactly what the numpy
glue it replaced stored (``new_flows_reference``), flow by flow and point by point: categories, the
packed rows the connection tracker reads (rule matches, untracked status, NACL first match, ports,
addresses) and the record fields, over random topologies and traffic (IPv4/IPv6, ICMP, later
fragments, untracked connections, not-captured categories, flow-cache resets)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from new_flows_reference import reference_new_flows
from policy_builders import Pkt, TopoBuilder, packets
from test_policy_equivalence import world

from vpcflow import _native
from vpcflow.dataplane.attribute.engine import PolicyEngine, sample_ip_ranges_path
from vpcflow.dataplane.attribute.plan import NOT_CAPTURED_CATEGORIES

INTERFACES = ("eni-01", "eni-02", "eth0", "eni-04")
# Packets whose category the ports decide (spec 2.7: DHCP v4 and v6, a mirrored VXLAN copy), an ICMP
# later fragment, and traffic to AWS-service addresses of the shipped ip-ranges sample (S3).
EXTRA = [
    Pkt(0, "10.0.1.10", "10.0.2.20", "udp", 68, 67),
    Pkt(0, "10.0.2.20", "10.0.1.10", "udp", 67, 68),
    Pkt(0, "2001:db8:0:1::10", "2001:db8:0:2::20", "udp", 546, 547),
    Pkt(0, "10.0.1.10", "10.0.2.20", "udp", 40000, 4789, iface="eni-01"),
    Pkt(0, "203.0.113.7", "10.0.1.10", "icmp", icmp=(8, 0), fragment=2),
    Pkt(0, "10.0.1.10", "52.95.128.9", "tcp", 40000, 443, flags=2),
    Pkt(0, "52.95.128.9", "10.0.2.20", "tcp", 443, 40001, flags=18, iface="eni-02"),
]


@st.composite
def traffic(draw: st.DrawFn) -> tuple:
    topo, pkts, cuts = draw(world())
    pkts = list(pkts)
    for extra in draw(st.lists(st.sampled_from(EXTRA), max_size=5)):
        at = draw(st.integers(0, len(pkts)))
        t = pkts[at - 1].t if at else 0.0  # keeps the packets in time order
        pkts.insert(at, Pkt(t, extra.src, extra.dst, extra.proto, extra.sport, extra.dport, flags=extra.flags,
                            icmp=extra.icmp, iface=extra.iface, fragment=extra.fragment))
    cuts = sorted({min(c, len(pkts)) for c in cuts} | set(draw(st.lists(st.integers(0, len(pkts)), max_size=3))))
    max_flows = draw(st.sampled_from([0, 2, 5, 131_072]))
    return topo, pkts, cuts, max_flows


def _check_new_flows(engine: PolicyEngine, batch: object, fid: np.ndarray, base: int) -> None:
    ids, first_at = np.unique(fid, return_index=True)
    new = ids >= base
    assert ids[new].tolist() == list(range(base, engine.flows))
    ref = reference_new_flows(engine, batch, first_at[new].astype(np.int64))  # type: ignore[arg-type]
    starts, categories, rows = engine._table.tables()
    assert categories.shape[0] == engine.flows and starts.shape[0] == engine.flows + 1
    assert categories[base:].tolist() == ref.category.tolist()
    assert np.diff(starts[base:]).tolist() == ref.count.tolist()
    r0 = int(starts[base])
    assert np.array_equal(rows[r0:], ref.points)
    got = engine._table.gather(np.arange(r0, rows.shape[0], dtype=np.int64))
    for name, want in ref.fields.items():
        assert got[name].dtype == want.dtype, name
        assert np.array_equal(got[name], want), name
    names = engine.services
    assert [names[c] if c >= 0 else None for c in got["ssvc"]] == ref.src_service
    assert [names[c] if c >= 0 else None for c in got["dsvc"]] == ref.dst_service


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traffic())
def test_native_new_flows_store_what_the_numpy_glue_stored(w: tuple) -> None:
    topo, pkts, cuts, max_flows = w
    engine = PolicyEngine(topo, ip_ranges=sample_ip_ranges_path(), max_flows=max_flows)
    for a, b in itertools.pairwise([0, *cuts, len(pkts)]):
        if a == b:
            continue
        batch = packets(pkts[a:b], INTERFACES)
        base = 0 if engine.flows > engine.max_flows else engine.flows  # a flow-cache reset first
        counted = dict(engine.not_captured), engine.unattributed
        flow_cols, fid = engine._flow_ids(batch)
        _check_new_flows(engine, batch, fid, base)
        per_packet = engine._table.tables()[1][fid]
        for i, name in enumerate(NOT_CAPTURED_CATEGORIES):
            assert engine.not_captured[name] - counted[0][name] == int(np.count_nonzero(per_packet == i + 1))
        assert engine.unattributed - counted[1] == int(np.count_nonzero(per_packet < 0))
        # the decision pass, as observe_native runs it, so later batches see tracked connections
        _native.decide_observe(engine.conntrack, engine._sg_rules, batch.ts_ns, batch.tcp_flags, flow_cols["proto"],
                               fid, engine._table)


# Rules that make connections untracked (spec: a /0 rule on all ports in one direction, any /0 rule the
# other way), and some that do not, for a world where untracked flows and their responses are common.
OPEN_RULES = [("tcp", (80, 80), "0.0.0.0/0"), ("tcp", (0, 65535), "0.0.0.0/0"), ("udp", (0, 65535), "::/0"),
              ("udp", (53, 53), "0.0.0.0/0"), ("tcp", (0, 65535), "10.0.0.0/16"), ("all", (-1, -1), "0.0.0.0/0"),
              ("tcp", (22, 22), "::/0"), ("udp", (0, 65535), "0.0.0.0/0"), ("tcp", (80, 80), None, "sg-b")]
OPEN_ADDRS = ["10.0.1.10", "10.0.1.20", "8.8.8.8", "2001:db8:0:1::10", "2001:db8:0:1::20", "2001:4860::8888"]
# (each family: eni-01, eni-02, the internet)


@st.composite
def untracked_world(draw: st.DrawFn) -> tuple:
    b = TopoBuilder()
    b.vpc("vpc-1", "10.0.0.0/16", ipv6="2001:db8::/56")
    b.subnet("subnet-1", "vpc-1", "10.0.1.0/24", ipv6="2001:db8:0:1::/64")
    for g in ("sg-a", "sg-b"):
        rules = st.lists(st.sampled_from(OPEN_RULES), min_size=1, max_size=3)
        b.sg(g, "vpc-1", draw(rules), draw(rules))
    kinds = st.sampled_from(["interface", "interface", "network_load_balancer"])
    b.eni("eni-01", "subnet-1", "10.0.1.10", ("sg-a",), ipv6=["2001:db8:0:1::10"], interface_type=draw(kinds))
    b.eni("eni-02", "subnet-1", "10.0.1.20", ("sg-b",), ipv6=["2001:db8:0:1::20"], interface_type=draw(kinds))
    pkts = []
    for i in range(draw(st.integers(1, 30))):
        # an ENI and a peer (the other ENI or the internet), either way round
        v6 = draw(st.booleans())
        pool = [a for a in OPEN_ADDRS if (":" in a) == v6]
        mine, peer = draw(st.sampled_from(pool[:2])), draw(st.sampled_from(pool[1:]))
        src, dst = (mine, peer) if draw(st.booleans()) else (peer, mine)
        proto = draw(st.sampled_from(["tcp", "tcp", "udp", "icmpv6" if v6 else "icmp"]))
        sport, dport = draw(st.sampled_from([80, 53, 22, 40000])), draw(st.sampled_from([80, 53, 22, 40000]))
        pkts.append(Pkt(i * 0.5, src, dst, proto, sport, dport, flags=2, icmp=(8, 0)))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(pkts)), max_size=2))))
    return b.build(), pkts, cuts, draw(st.sampled_from([0, 131_072]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(untracked_world())
def test_native_new_flows_match_on_untracked_connections(w: tuple) -> None:
    topo, pkts, cuts, max_flows = w
    engine = PolicyEngine(topo, max_flows=max_flows)
    for a, b in itertools.pairwise([0, *cuts, len(pkts)]):
        if a == b:
            continue
        batch = packets(pkts[a:b])
        base = 0 if engine.flows > engine.max_flows else engine.flows
        _, fid = engine._flow_ids(batch)
        _check_new_flows(engine, batch, fid, base)
