"""PolicyEngine mechanics: empty batches, the flow cache, decisions(), explain() as a library."""

from __future__ import annotations

import pytest
from policy_builders import Pkt, TopoBuilder, acl_entry, packets, rows

from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.attribute.engine import PolicyEngine
from vpcflow.dataplane.explain import explain, parse_protocol
from vpcflow.dataplane.packets import PacketBatch


def topo() -> TopoBuilder:
    b = TopoBuilder()
    b.vpc("vpc-1", "10.0.0.0/16")
    b.subnet("subnet-a", "vpc-1", "10.0.1.0/24")
    b.subnet("subnet-b", "vpc-1", "10.0.2.0/24")
    b.sg("sg-a", "vpc-1", ingress=[("icmp", (-1, -1), "0.0.0.0/0"), ("tcp", (22, 22), "10.0.0.0/16")],
         egress=[("all", (-1, -1), "0.0.0.0/0")])
    b.acl("acl-b", "vpc-1", [acl_entry(100, False, "all", "allow", "0.0.0.0/0")], ("subnet-b",))
    b.eni("eni-a", "subnet-a", "10.0.1.10", ("sg-a",))
    b.eni("eni-b", "subnet-b", "10.0.2.10", ("sg-a",))
    return b


def test_empty_batch() -> None:
    e = PolicyEngine(topo().build())
    obs = e.observe(PacketBatch.empty())
    assert len(obs) == 0 and e.flows == 0


def test_flow_cache_plans_each_flow_once_and_state_carries() -> None:
    e = PolicyEngine(topo().build())
    p = [Pkt(0, "10.0.1.10", "10.0.2.10", "tcp", 40000, 22, flags=2)]
    e.observe(packets(p * 3))
    assert e.flows == 1
    e.observe(packets([Pkt(1, "10.0.2.10", "10.0.1.10", "tcp", 22, 40000, flags=18)]))
    assert e.flows == 2
    assert e.conntrack.count == 2  # one connection at each ENI


def test_flow_cache_reset_keeps_decisions_and_connection_state() -> None:
    e = PolicyEngine(topo().build(), max_flows=2)
    reqs = [Pkt(i, "10.0.1.10", "10.0.2.10", "tcp", 40000 + i, 22, flags=2) for i in range(4)]
    e.observe(packets(reqs))
    assert e.flows == 4
    replies = [Pkt(10 + i, "10.0.2.10", "10.0.1.10", "tcp", 22, 40000 + i, flags=18) for i in range(4)]
    obs = e.observe(packets(replies))  # the cache is emptied first; tracked connections survive
    assert e.flows == 4
    # eni-b's egress is stopped by acl-b's outbound `*` (no rule), after its SG allowed the reply by tracking.
    assert [d.security_group.kind for d in e.decisions(obs) if d.security_group] == ["conntrack_response"] * 4


def test_decisions_require_the_latest_batch() -> None:
    e = PolicyEngine(topo().build())
    first = e.observe(packets([Pkt(0, "10.0.1.10", "10.0.2.10", "tcp", 40000, 22)]))
    e.observe(packets([Pkt(1, "10.0.1.10", "10.0.2.10", "icmp", icmp=(8, 0))] * 3))
    with pytest.raises(ValueError, match="latest observe"):
        e.decisions(first)


def test_reply_blocked_by_nacl_explained() -> None:
    # acl-b has no outbound rule: the reply from eni-b dies at its subnet's `*` outbound entry.
    ex = explain(topo().build(), "10.0.1.10", "10.0.2.10", "icmp")
    assert [(o.interface_id, o.action) for o in ex.request.observations] == [("eni-a", "ACCEPT"), ("eni-b", "ACCEPT")]
    assert ex.reply is not None
    assert [(o.interface_id, o.direction, o.action) for o in ex.reply.observations] == [("eni-b", "egress", "REJECT")]
    assert "acl-b outbound rule *" in ex.reply.observations[0].decided_by
    checks = {c["check"]: c for c in ex.reply.observations[0].checks}
    assert checks["security_group"]["kind"] == "conntrack_response"


def test_icmp_without_request_type_has_no_reply() -> None:
    ex = explain(topo().build(), "10.0.1.10", "10.0.2.10", "icmp", icmp_type=3, icmp_code=4)
    assert ex.reply is None and "not a request" in ex.reply_note


def test_unmodelled_pair_explained() -> None:
    ex = explain(topo().build(), "198.51.100.1", "198.51.100.2", "tcp", dport=80)
    assert ex.request.observations == () and ex.reply is None


@pytest.mark.parametrize(("text", "n"), [("tcp", 6), ("UDP", 17), ("icmp", 1), ("icmpv6", 58), ("47", 47)])
def test_parse_protocol(text: str, n: int) -> None:
    assert parse_protocol(text) == n


@pytest.mark.parametrize("text", ["256", "-1", "http"])
def test_parse_protocol_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--protocol"):
        parse_protocol(text)


def test_rows_are_in_packet_order_with_path_order_inside_a_packet() -> None:
    e = PolicyEngine(topo().build())
    obs = e.observe(packets([Pkt(0, "10.0.1.10", "10.0.2.10", "tcp", 40000, 22),
                             Pkt(0, "10.0.2.10", "10.0.1.10", "tcp", 40001, 22)]))
    # Packet 1 dies at acl-b's outbound `*` entry: no ingress row at eni-a for it.
    assert [(r[0], r[1], r[2], r[3]) for r in rows(e, obs)] == [
        (0, "eni-a", "egress", "ACCEPT"), (0, "eni-b", "ingress", "ACCEPT"), (1, "eni-b", "egress", "REJECT")]


def _distinct_flows(first: int, n: int) -> PacketBatch:
    """``n`` TCP SYNs from eni-a to eni-b, each its own flow (source port and client address vary)."""
    import numpy as np

    from vpcflow.dataplane.packets import PACKET_DTYPES, ip_to_pair

    i = np.arange(first, first + n, dtype=np.int64)
    src_hi, src_lo = ip_to_pair("10.0.1.10")
    dst_hi, dst_lo = ip_to_pair("10.0.2.10")
    cols = {k: np.zeros(n, dtype=t) for k, t in PACKET_DTYPES.items()}
    cols.update(ts_ns=1_000_000_000 + i, ip_version=np.full(n, 4), src_hi=np.full(n, src_hi),
                src_lo=np.full(n, src_lo), dst_hi=np.full(n, dst_hi), dst_lo=np.full(n, dst_lo),
                protocol=np.full(n, 6), src_port=1024 + i % 60000, dst_port=1 + i // 60000,
                ip_len=np.full(n, 40), tcp_flags=np.full(n, 2), iface=np.full(n, -1))
    return PacketBatch(**{k: np.asarray(v, dtype=PACKET_DTYPES[k]) for k, v in cols.items()})


def test_default_flow_cache_is_bounded_for_captures_of_many_distinct_flows() -> None:
    # issue 10: 1,000,000 distinct 5-tuples within 512 MiB; the cache (about 700 bytes a flow, more while
    # growing) is emptied past max_flows, so it holds at most max_flows plus one batch of new flows.
    e = PolicyEngine(topo().build())
    batch = 60_000
    for k in range(4):
        e.observe(_distinct_flows(k * batch, batch))
    assert e.flows <= e.max_flows + batch
    assert e.max_flows <= 1 << 17


def test_flows_planned_after_a_cache_reset_see_no_points_of_the_flows_before_it() -> None:
    # The flow tables are reused after a reset: a one-point flow planned into the row of an earlier
    # two-point flow must not inherit its second point (an observation at an ENI it never crossed).
    fresh = PolicyEngine(topo().build())
    one_point = [Pkt(5, "10.0.1.10", "8.8.8.8", "udp", 5000, 53)]
    expected = rows(fresh, fresh.observe(packets(one_point)))
    assert [r[1] for r in expected] == ["eni-a"]
    e = PolicyEngine(topo().build(), max_flows=0)
    e.observe(packets([Pkt(0, "10.0.1.10", "10.0.2.10", "tcp", 40000, 22, flags=2)]))  # eni-a and eni-b
    assert rows(e, e.observe(packets(one_point))) == expected
