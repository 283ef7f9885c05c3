"""Security-group and network-ACL rule kinds, the spec 2.3 examples, and connection tracking."""

from __future__ import annotations

import pytest
from policy_builders import Pkt, TopoBuilder, acl_entry, packets, rows, rule_text

from vpcflow.dataplane.attribute.engine import PolicyEngine
from vpcflow.dataplane.evaluate.conntrack import ConntrackTimeouts
from vpcflow.model.topology.model import PrefixList

ENI = "eni-1235b8ca123456789"


def ping_world(nacl_out_icmp: bool, sg_in_icmp: bool = True) -> PolicyEngine:
    b = TopoBuilder()
    b.vpc("vpc-1", "172.31.0.0/16")
    b.subnet("subnet-a", "vpc-1", "172.31.16.0/20")
    b.sg("sg-web", "vpc-1", ingress=[("icmp", (-1, -1), "0.0.0.0/0")] if sg_in_icmp else [], egress=[])
    out = [acl_entry(100, True, "icmp", "allow", "0.0.0.0/0")] if nacl_out_icmp else []
    b.acl("acl-x", "vpc-1", [acl_entry(100, False, "icmp", "allow", "0.0.0.0/0"), *out], ("subnet-a",))
    b.eni(ENI, "subnet-a", "172.31.16.139", ("sg-web",))
    return PolicyEngine(b.build())


PING = [Pkt(0, "203.0.113.12", "172.31.16.139", "icmp", icmp=(8, 0)),
        Pkt(0.01, "172.31.16.139", "203.0.113.12", "icmp", icmp=(0, 0))]


def test_spec_2_3_ping_reply_blocked_by_nacl_gives_accept_then_reject_on_same_eni() -> None:
    e = ping_world(nacl_out_icmp=False)
    obs = e.observe(packets(PING))
    got = [(r[1], r[2], r[3], r[4], r[5]) for r in rows(e, obs)]
    assert got == [
        (ENI, "ingress", "ACCEPT", "203.0.113.12", "172.31.16.139"),
        (ENI, "egress", "REJECT", "172.31.16.139", "203.0.113.12"),
    ]
    # The reply passed the security group (tracked connection) and died at the NACL's `*` rule.
    assert "acl-x outbound rule *" in rule_text(obs, 1)
    d = e.decisions(obs)[1]
    assert d.security_group is not None and d.security_group.kind == "conntrack_response"
    assert d.network_acl is not None and d.network_acl.rule_id == "*"


def test_spec_2_3_nacl_allowing_outbound_gives_two_accepts() -> None:
    e = ping_world(nacl_out_icmp=True)
    assert [r[3] for r in rows(e, e.observe(packets(PING)))] == ["ACCEPT", "ACCEPT"]


def test_spec_2_3_sg_denying_icmp_gives_one_reject_and_no_conntrack_for_the_reply() -> None:
    e = ping_world(nacl_out_icmp=True, sg_in_icmp=False)
    obs = e.observe(packets(PING[:1]))
    assert [(r[2], r[3]) for r in rows(e, obs)] == [("ingress", "REJECT")]
    assert "no rule allows it" in rule_text(obs, 0)
    assert e.conntrack.count == 0


def world(ingress: list[tuple], egress: list[tuple] = (), acl: list | None = None, **eni_kw: object) -> PolicyEngine:  # type: ignore[assignment]
    b = TopoBuilder()
    b.prefix_lists.append(PrefixList("pl-s3", "s3", (__import__("ipaddress").ip_network("52.95.128.0/21"),)))
    b.vpc("vpc-1", "10.0.0.0/16", ipv6="2001:db8::/56")
    b.subnet("subnet-a", "vpc-1", "10.0.1.0/24", ipv6="2001:db8:0:1::/64")
    b.subnet("subnet-b", "vpc-1", "10.0.2.0/24", ipv6="2001:db8:0:2::/64")
    b.sg("sg-srv", "vpc-1", ingress=ingress, egress=list(egress))
    b.sg("sg-cli", "vpc-1", ingress=[], egress=[("all", (-1, -1), "0.0.0.0/0"), ("all", (-1, -1), "::/0")])
    if acl is not None:
        b.acl("acl-b", "vpc-1", acl, ("subnet-b",))
    b.eni("eni-srv", "subnet-b", "10.0.2.10", ("sg-srv",), ipv6=["2001:db8:0:2::10"], **eni_kw)
    b.eni("eni-cli", "subnet-a", "10.0.1.10", ("sg-cli",), ipv6=["2001:db8:0:1::10"])
    b.eni("eni-cli2", "subnet-b", "10.0.2.11", ("sg-cli",))
    return PolicyEngine(b.build())


def srv_ingress(e: PolicyEngine, p: Pkt) -> str:
    got = [r for r in rows(e, e.observe(packets([p]))) if r[1] == "eni-srv" and r[2] == "ingress"]
    assert len(got) == 1, got
    return got[0][3]


@pytest.mark.parametrize(
    ("rule", "pkt", "want"),
    [
        (("all", (-1, -1), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", 47), "ACCEPT"),  # protocol -1
        (("tcp", (80, 80), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 5000, 80), "ACCEPT"),
        (("tcp", (80, 80), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 5000, 81), "REJECT"),
        (("tcp", (80, 80), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "udp", 5000, 80), "REJECT"),
        (("udp", (1000, 2000), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "udp", 9, 2000), "ACCEPT"),
        (("udp", (1000, 2000), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "udp", 9, 2001), "REJECT"),
        (("icmp", (8, -1), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "icmp", icmp=(8, 0)), "ACCEPT"),
        (("icmp", (8, -1), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "icmp", icmp=(13, 0)), "REJECT"),
        (("icmp", (3, 4), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "icmp", icmp=(3, 4)), "ACCEPT"),
        (("icmp", (3, 4), "0.0.0.0/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "icmp", icmp=(3, 1)), "REJECT"),
        (("icmp", (-1, -1), "0.0.0.0/0"), Pkt(0, "2001:db8:9::1", "2001:db8:0:2::10", "icmpv6", icmp=(128, 0)),
         "REJECT"),  # icmp never matches ICMPv6
        (("icmpv6", (-1, -1), "::/0"), Pkt(0, "2001:db8:9::1", "2001:db8:0:2::10", "icmpv6", icmp=(128, 0)),
         "ACCEPT"),
        (("tcp", (22, 22), "198.51.100.0/24"), Pkt(0, "198.51.100.77", "10.0.2.10", "tcp", 5, 22), "ACCEPT"),
        (("tcp", (22, 22), "198.51.100.0/24"), Pkt(0, "198.51.101.77", "10.0.2.10", "tcp", 5, 22), "REJECT"),
        (("tcp", (22, 22), "0.0.0.0/0"), Pkt(0, "2001:db8:9::1", "2001:db8:0:2::10", "tcp", 5, 22), "REJECT"),
        (("tcp", (22, 22), "2001:db8:9::/48"), Pkt(0, "2001:db8:9::1", "2001:db8:0:2::10", "tcp", 5, 22), "ACCEPT"),
        (("tcp", (22, 22), "::/0"), Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 5, 22), "REJECT"),
        (("tcp", (443, 443), None, None, "pl-s3"), Pkt(0, "52.95.128.179", "10.0.2.10", "tcp", 5, 443), "ACCEPT"),
        (("tcp", (443, 443), None, None, "pl-s3"), Pkt(0, "52.95.136.1", "10.0.2.10", "tcp", 5, 443), "REJECT"),
    ],
)
def test_security_group_rule_kinds(rule: tuple, pkt: Pkt, want: str) -> None:
    assert srv_ingress(world([rule]), pkt) == want


def test_referenced_group_matches_private_addresses_of_members_only() -> None:
    e = world([("tcp", (5432, 5432), None, "sg-cli")])
    assert srv_ingress(e, Pkt(0, "10.0.1.10", "10.0.2.10", "tcp", 40000, 5432)) == "ACCEPT"
    assert srv_ingress(e, Pkt(1, "10.0.1.99", "10.0.2.10", "tcp", 40000, 5432)) == "REJECT"  # not a member
    # IPv6 address of a member ENI also counts as a private address of that ENI.
    assert srv_ingress(e, Pkt(2, "2001:db8:0:1::10", "2001:db8:0:2::10", "tcp", 40000, 5432)) == "ACCEPT"


def test_nacl_first_match_by_rule_number_and_ephemeral_ports() -> None:
    acl = [
        acl_entry(90, False, "tcp", "deny", "198.51.100.66/32", ports=(80, 80)),
        acl_entry(100, False, "tcp", "allow", "0.0.0.0/0", ports=(80, 80)),
        acl_entry(100, True, "tcp", "allow", "0.0.0.0/0", ports=(1024, 65535)),
    ]
    e = world([("tcp", (80, 80), "0.0.0.0/0")], egress=[("all", (-1, -1), "0.0.0.0/0")], acl=acl)
    obs = e.observe(packets([
        Pkt(0, "198.51.100.66", "10.0.2.10", "tcp", 40000, 80, flags=2),
        Pkt(1, "198.51.100.1", "10.0.2.10", "tcp", 40000, 80, flags=2),
        Pkt(1.1, "10.0.2.10", "198.51.100.1", "tcp", 80, 40000, flags=18),  # reply to an ephemeral port
        Pkt(2, "198.51.100.1", "10.0.2.10", "tcp", 40001, 80, flags=2),
        Pkt(2.1, "10.0.2.10", "198.51.100.1", "tcp", 80, 1000, flags=18),  # reply to a low port: NACL denies
    ]))
    r = rows(e, obs)
    assert [x[3] for x in r] == ["REJECT", "ACCEPT", "ACCEPT", "ACCEPT", "REJECT"]
    assert "rule 90: deny" in rule_text(obs, 0)
    assert "outbound rule *" in rule_text(obs, 4)


def test_nacl_ipv6_entries_only_match_ipv6() -> None:
    acl = [acl_entry(100, False, "all", "allow", "0.0.0.0/0"), acl_entry(100, True, "all", "allow", "0.0.0.0/0")]
    e = world([("all", (-1, -1), "0.0.0.0/0"), ("all", (-1, -1), "::/0")], acl=acl)
    assert srv_ingress(e, Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 5, 22)) == "ACCEPT"
    obs = e.observe(packets([Pkt(1, "2001:db8:9::1", "2001:db8:0:2::10", "tcp", 5, 22)]))
    assert [x[3] for x in rows(e, obs)] == ["REJECT"]
    assert "acl-b inbound rule *" in rule_text(obs, 0)


def test_same_subnet_traffic_skips_nacls() -> None:
    deny_all: list = []  # only the `*` entries: a NACL that denies everything
    e = world([("all", (-1, -1), "0.0.0.0/0")], acl=deny_all)
    obs = e.observe(packets([Pkt(0, "10.0.2.11", "10.0.2.10", "tcp", 5, 22),
                             Pkt(1, "10.0.1.10", "10.0.2.10", "tcp", 5, 22)]))
    got = [(x[0], x[1], x[2], x[3]) for x in rows(e, obs)]
    assert got == [
        (0, "eni-cli2", "egress", "ACCEPT"), (0, "eni-srv", "ingress", "ACCEPT"),  # same subnet
        (1, "eni-cli", "egress", "ACCEPT"), (1, "eni-srv", "ingress", "REJECT"),  # crosses into subnet-b
    ]
    assert e.decisions(obs)[1].network_acl is None


def test_egress_reject_at_sender_means_no_ingress_record_at_receiver() -> None:
    b_world = world([("all", (-1, -1), "0.0.0.0/0")], egress=[])
    obs = b_world.observe(packets([Pkt(0, "10.0.2.10", "10.0.1.10", "udp", 5000, 53)]))
    assert [(x[1], x[2], x[3]) for x in rows(b_world, obs)] == [("eni-srv", "egress", "REJECT")]


def test_sender_accept_receiver_reject_records_each_enis_own_decision() -> None:
    e = world([("tcp", (22, 22), "10.0.0.0/8")])
    obs = e.observe(packets([Pkt(0, "10.0.1.10", "10.0.2.10", "tcp", 5000, 80)]))
    assert [(x[1], x[2], x[3]) for x in rows(e, obs)] == [("eni-cli", "egress", "ACCEPT"),
                                                          ("eni-srv", "ingress", "REJECT")]


# ------------------------------------------------------------------ connection tracking

def tcp_world() -> PolicyEngine:
    # Inbound 22 from one network only; no outbound rule at all: replies live on tracking alone.
    return world([("tcp", (22, 22), "198.51.100.0/24"), ("udp", (53, 53), "198.51.100.0/24")], egress=[])


def test_tracked_replies_allowed_without_outbound_rule() -> None:
    e = tcp_world()
    obs = e.observe(packets([Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=2),
                             Pkt(0.1, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, flags=18)]))
    assert [x[3] for x in rows(e, obs)] == ["ACCEPT", "ACCEPT"]
    assert "tracked connection" in rule_text(obs, 1)


def test_packets_after_close_are_reject_spec_2_3() -> None:
    e = tcp_world()
    seq = [
        Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=2),
        Pkt(0.1, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, flags=18),
        Pkt(1, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=17),  # FIN-ACK
        Pkt(1.1, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, flags=17),  # FIN-ACK
        Pkt(1.2, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=16),  # last ACK: closes
        Pkt(2, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, flags=17),  # late retransmitted FIN
        Pkt(2.5, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=16),  # late ACK, even though rules allow
    ]
    obs = e.observe(packets(seq))
    assert [x[3] for x in rows(e, obs)] == ["ACCEPT"] * 5 + ["REJECT", "REJECT"]
    assert "closed" in rule_text(obs, 5)
    # A new SYN on the same ports opens a new connection (judged by the rules again).
    obs = e.observe(packets([Pkt(3, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=2)]))
    assert [x[3] for x in rows(e, obs)] == ["ACCEPT"]


def test_rst_closes_and_closed_state_lingers_then_expires() -> None:
    e = PolicyEngine(tcp_world().topology, timeouts=ConntrackTimeouts(closed_linger_s=120))
    e.observe(packets([Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=2),
                       Pkt(0.1, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, flags=4)]))
    late = e.observe(packets([Pkt(60, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, flags=4)]))
    assert [x[3] for x in rows(e, late)] == ["REJECT"]
    # After the linger the entry is gone: the outbound packet has no rule -> default deny.
    later = e.observe(packets([Pkt(400, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, flags=16)]))
    assert [x[3] for x in rows(e, later)] == ["REJECT"]
    assert "no rule allows it" in rule_text(later, 0)


def test_udp_idle_timeout_30s_and_stream_180s_across_batches() -> None:
    e = tcp_world()
    q = Pkt(0, "198.51.100.1", "10.0.2.10", "udp", 5353, 53)
    def a(t: float) -> Pkt:
        return Pkt(t, "10.0.2.10", "198.51.100.1", "udp", 53, 5353)
    def req(t: float) -> Pkt:
        return Pkt(t, "198.51.100.1", "10.0.2.10", "udp", 5353, 53)
    e.observe(packets([q]))
    assert rows(e, e.observe(packets([a(29)])))[0][3] == "ACCEPT"  # within 30 s of the last packet
    assert rows(e, e.observe(packets([a(60)])))[0][3] == "REJECT"  # 31 s idle: expired
    # A stream (more than one request-response transaction) lives 180 s.
    e2 = tcp_world()
    e2.observe(packets([req(0), a(1), req(2), a(3)]))
    assert rows(e2, e2.observe(packets([a(150)])))[0][3] == "ACCEPT"
    assert rows(e2, e2.observe(packets([a(340)])))[0][3] == "REJECT"


def test_tcp_established_timeout_is_five_days() -> None:
    e = tcp_world()
    e.observe(packets([Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=2)]))
    day = 86400.0
    assert rows(e, e.observe(packets([Pkt(4.9 * day, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, 16)])))[0][3] \
        == "ACCEPT"
    assert rows(e, e.observe(packets([Pkt(10.1 * day, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, 16)])))[0][3] \
        == "REJECT"


def test_untracked_flow_not_rejected_after_close() -> None:
    # TCP allowed from 0.0.0.0/0 inbound AND outbound on all ports: untracked, rules decide each packet.
    e = world([("tcp", (22, 22), "0.0.0.0/0")], egress=[("tcp", (0, 65535), "0.0.0.0/0")])
    seq = [Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=2),
           Pkt(0.1, "10.0.2.10", "198.51.100.1", "tcp", 22, 40000, flags=4),
           Pkt(1, "198.51.100.1", "10.0.2.10", "tcp", 40000, 22, flags=16)]
    assert [x[3] for x in rows(e, e.observe(packets(seq)))] == ["ACCEPT"] * 3
    assert e.conntrack.count == 0
    # The same rules on an automatically tracked ENI type (NLB) are tracked: the late ACK is REJECT.
    e2 = world([("tcp", (22, 22), "0.0.0.0/0")], egress=[("tcp", (0, 65535), "0.0.0.0/0")],
               interface_type="network_load_balancer")
    assert [x[3] for x in rows(e2, e2.observe(packets(seq)))] == ["ACCEPT", "ACCEPT", "REJECT"]


def test_icmp_is_always_tracked() -> None:
    e = world([("icmp", (-1, -1), "0.0.0.0/0")], egress=[("icmp", (-1, -1), "0.0.0.0/0")])
    e.observe(packets([Pkt(0, "198.51.100.1", "10.0.2.10", "icmp", icmp=(8, 0))]))
    assert e.conntrack.count == 1


def test_conntrack_table_grows_and_keeps_state() -> None:
    e = world([("udp", (0, 65535), "198.51.100.0/24")], egress=[])
    reqs = [Pkt(i * 0.001, "198.51.100.1", "10.0.2.10", "udp", 1000 + i, 53) for i in range(6000)]
    e.observe(packets(reqs))
    assert e.conntrack.count == 6000
    replies = [Pkt(10 + i * 0.001, "10.0.2.10", "198.51.100.1", "udp", 53, 1000 + i) for i in range(6000)]
    assert all(x[3] == "ACCEPT" for x in rows(e, e.observe(packets(replies))))


def test_later_fragments_follow_the_flow() -> None:
    e = world([("tcp", (22, 22), "0.0.0.0/0")])
    p = Pkt(0, "198.51.100.1", "10.0.2.10", "tcp", 0, 0, fragment=2)
    assert srv_ingress(e, p) == "ACCEPT"
