"""Synthetic traffic: scenario validation, determinism, time order, and the anatomy of what each workload
kind sends (TCP handshake/data/teardown, RST, SYN retries, scans, UDP, ICMP, the two load-balancer legs,
DNS/metadata/S3 endpoints, the diurnal shape)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import numpy as np
import pytest

from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.packets import PACKET_DTYPES, PacketBatch, pair_to_ip
from vpcflow.dataplane.sources import make_source
from vpcflow.dataplane.sources.capture import open_capture
from vpcflow.dataplane.sources.pcap_writer import write_pcap
from vpcflow.dataplane.sources.scenario import loads_scenario
from vpcflow.dataplane.sources.synthetic import SyntheticConfig, SyntheticSource
from vpcflow.model.topology.loader import load_topology

ROOT = Path(__file__).resolve().parents[4]
TOPO = load_topology(ROOT / "examples" / "topology" / "three-tier.yaml")
HEAD = 'start: "2026-01-05T00:00:00Z"\nduration: {dur}\nseed: {seed}\nworkloads:\n'


def run(
    workloads: str, *, dur: str = "20s", seed: int = 1, extra: str = "", slice_s: float = 10.0
) -> tuple[PacketBatch, SyntheticSource]:
    text = HEAD.format(dur=dur, seed=seed) + workloads + extra
    sc = loads_scenario(text, source="t.yaml", topology=TOPO)
    src = SyntheticSource(SyntheticConfig("t.yaml", slice_s=slice_s), scenario=sc)
    batches = list(src.batches())
    last = np.iinfo(np.int64).min
    for b in batches:
        assert bool(np.all(np.diff(b.ts_ns) >= 0)) and int(b.ts_ns[0]) >= last
        last = int(b.ts_ns[-1])
    return (PacketBatch.concat(batches) if batches else PacketBatch.empty()), src


def ips(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    return [str(pair_to_ip(int(h), int(low))) for h, low in zip(hi, lo, strict=True)]


def flows_of(b: PacketBatch, server_port: int) -> dict[int, np.ndarray]:
    """Packet indexes per connection, keyed by the client port."""
    cport = np.where(b.dst_port == server_port, b.src_port, b.dst_port)
    return {int(p): np.flatnonzero(cport == p) for p in np.unique(cport)}


TCP_WL = """  - {name: w, kind: tcp, from: [web-1a], to: [app-1a], port: 8080, rate: 20, request_bytes: 3000,
     response_bytes: 10000, rst_fraction: 0}
"""


def test_tcp_connection_anatomy() -> None:
    b, src = run(TCP_WL)
    assert src.stats.flows > 300 and len(b) == src.stats.packets
    assert set(ips(b.src_hi, b.src_lo)) == {"10.0.10.10", "10.0.20.10"}
    for idx in flows_of(b, 8080).values():
        c2s = b.dst_port[idx] == 8080
        flags = b.tcp_flags[idx].tolist()
        # 3 handshake + 3 request segments + 1 delayed ACK + 7 response segments + 4 ACKs + 3 teardown
        assert len(idx) == 21
        assert flags[:3] == [2, 18, 16] and c2s[:3].tolist() == [True, False, True]
        assert flags[-3:] == [17, 17, 16] and c2s[-3:].tolist() == [True, False, True]
        data = b.ip_len[idx] > 60
        assert int((c2s & data).sum()) == 3 and int((~c2s & data).sum()) == 7
        # payload bytes: everything above the 52-byte headers, minus the 8 option bytes of SYN / SYN-ACK
        assert int(b.ip_len[idx][c2s].sum()) - 52 * int(c2s.sum()) - 8 == 3000
        assert int(b.ip_len[idx][~c2s].sum()) - 52 * int((~c2s).sum()) - 8 == 10000
        assert b.ip_len[idx].max() == 1500 and b.ip_len[idx][:2].tolist() == [60, 60]
        assert b.tcp_flags[idx][c2s & data].tolist() == [16, 16, 24]


def test_resets_replace_the_teardown() -> None:
    b, _ = run(TCP_WL.replace("rst_fraction: 0", "rst_fraction: 1"))
    for idx in flows_of(b, 8080).values():
        assert b.tcp_flags[idx[-1]] == 20 and b.ip_len[idx[-1]] == 40 and b.src_port[idx[-1]] == 8080
        assert 17 not in b.tcp_flags[idx].tolist()


def test_deterministic_and_seed_dependent() -> None:
    a, _ = run(TCP_WL, seed=5)
    b, _ = run(TCP_WL, seed=5)
    c, _ = run(TCP_WL, seed=6)
    for k in PACKET_DTYPES:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert len(a) != len(c) or not np.array_equal(a.ts_ns, c.ts_ns)


def test_concurrent_connections_never_share_a_five_tuple() -> None:
    b, _ = run(TCP_WL.replace("rate: 20", "rate: 400"), dur="30s")
    starts = {}
    for port, idx in flows_of(b, 8080).items():
        syn = idx[b.tcp_flags[idx] == 2]
        starts[port] = len(syn)
    assert max(starts.values()) == 1  # one SYN per client port: no reuse within the run


def test_brute_force_is_one_source_retrying_syns_to_the_public_address() -> None:
    wl = "  - {name: bf, kind: bruteforce, from: 'internet:45.155.205.0/24', to: bastion, rate: 2}\n"
    b, src = run(wl)
    assert set(ips(b.dst_hi, b.dst_lo)) == {"3.91.5.17"}  # the bastion's public IP (spec 2.6: shown private)
    (attacker,) = set(ips(b.src_hi, b.src_lo))
    assert ipaddress.ip_address(attacker) in ipaddress.ip_network("45.155.205.0/24")
    assert set(b.tcp_flags.tolist()) == {2} and set(b.dst_port.tolist()) == {22}
    for idx in flows_of(b, 22).values():
        assert len(idx) == 3
        assert ((b.ts_ns[idx] - b.ts_ns[idx[0]]) // 10**9).tolist() == [0, 1, 3]
    assert src.stats.packets == 3 * src.stats.flows


def test_attack_labels_are_the_sources_that_sent_the_attack() -> None:
    wl = ("  - {name: bf, kind: bruteforce, from: 'internet:45.155.205.0/24', to: bastion, rate: 2}\n"
          "  - {name: ds, kind: scan, from: 'internet:45.83.64.0/22', sources: 30, to: nlb-1a, ports: 1-500, "
          "rate: 50}\n"
          "  - {name: web, kind: tcp, from: internet, to: nlb-1a, port: 443, rate: 5}\n")
    b, src = run(wl, dur="10s")
    labels = {lab.workload: lab for lab in src.attack_labels()}
    assert set(labels) == {"bf", "ds"} and labels["ds"].kind == "scan" and labels["bf"].kind == "bruteforce"
    assert labels["bf"].targets == ("eni-0d141998882628620",)
    senders = ips(b.src_hi, b.src_lo)
    brute = {s for s in senders if ipaddress.ip_address(s) in ipaddress.ip_network("45.155.205.0/24")}
    assert set(labels["bf"].sources) == brute and len(brute) == 1
    scanners = {s for s in senders if ipaddress.ip_address(s) in ipaddress.ip_network("45.83.64.0/22")}
    assert scanners == set(labels["ds"].sources) and 20 <= len(scanners) <= 30  # 30 draws from 1,024 hosts


def test_scan_walks_the_ports_once_per_probe() -> None:
    wl = "  - {name: scan, kind: scan, from: 'internet:185.220.101.0/24', to: nlb-1a, ports: 1-100, rate: 50}\n"
    b, _ = run(wl, dur="10s")
    assert set(b.ip_len.tolist()) == {44} and set(b.tcp_flags.tolist()) == {2}
    d = b.dst_port.astype(np.int64)
    assert bool(np.all((np.diff(d) % 100) == 1))  # consecutive ports, wrapping after 100
    assert set(ips(b.dst_hi, b.dst_lo)) == {"54.85.10.21"}


def test_load_balancer_two_legs() -> None:
    wl = """  - {name: web, kind: tcp, from: internet, to: [nlb-1a, nlb-1b], port: 443, rate: 5, rst_fraction: 0,
     backend: {to: [web-1a, web-1b], port: 8443}}
"""
    b, src = run(wl)
    front = (b.dst_port == 443) | (b.src_port == 443)
    back = (b.dst_port == 8443) | (b.src_port == 8443)
    assert bool(np.all(front | back)) and front.any() and back.any()
    fwd_dst = set(ips(b.dst_hi[front & (b.dst_port == 443)], b.dst_lo[front & (b.dst_port == 443)]))
    assert fwd_dst <= {"54.85.10.21", "54.85.10.22"}
    back_src = set(ips(b.src_hi[back & (b.dst_port == 8443)], b.src_lo[back & (b.dst_port == 8443)]))
    back_dst = set(ips(b.dst_hi[back & (b.dst_port == 8443)], b.dst_lo[back & (b.dst_port == 8443)]))
    assert back_src <= {"10.0.0.10", "10.0.1.10"} and back_dst <= {"10.0.10.10", "10.0.11.10"}
    assert int(front.sum()) > 0 and int(back.sum()) > 0 and src.stats.flows == src.stats.per_workload["web"]["flows"]
    # each backend connection lives inside a front connection: same count of SYNs on both legs
    assert int(((b.tcp_flags == 2) & front).sum()) == int(((b.tcp_flags == 2) & back).sum())


def test_dns_metadata_and_s3_endpoints() -> None:
    wl = """  - {name: dns, kind: udp, from: [app-1a, tools-1a], to: dns, rate: 20, request_bytes: 40, response_bytes: 120}
  - {name: md, kind: tcp, from: app-1a, to: metadata, port: 80, rate: 2}
  - {name: s3, kind: tcp, from: app-1a, to: s3, port: 443, rate: 2}
"""
    b, _ = run(wl)
    udp = b.protocol == 17
    pairs = set(
        zip(
            ips(b.src_hi[udp & (b.dst_port == 53)], b.src_lo[udp & (b.dst_port == 53)]),
            ips(b.dst_hi[udp & (b.dst_port == 53)], b.dst_lo[udp & (b.dst_port == 53)]),
            strict=True,
        )
    )
    assert pairs == {("10.0.20.10", "10.0.0.2"), ("10.1.0.10", "10.1.0.2")}  # each VPC's own resolver
    assert set(b.ip_len[udp & (b.dst_port == 53)].tolist()) == {68}
    assert set(b.ip_len[udp & (b.src_port == 53)].tolist()) == {148}
    md = (b.protocol == 6) & (b.dst_port == 80)
    assert set(ips(b.dst_hi[md], b.dst_lo[md])) == {"169.254.169.254"}
    s3 = (b.protocol == 6) & (b.dst_port == 443)
    nets = [
        ipaddress.ip_network(n)
        for n in ("3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "18.34.232.0/21", "52.216.0.0/15", "54.231.0.0/16")
    ]
    assert all(any(ipaddress.ip_address(a) in n for n in nets) for a in ips(b.dst_hi[s3], b.dst_lo[s3]))


def test_icmp_echo_v4_and_v6() -> None:
    wl = """  - {name: p4, kind: icmp, from: tools-1a, to: app-1a, rate: 1, requests: 3}
  - {name: p6, kind: icmp, from: 'internet', to: bastion, ipv6: true, rate: 1, requests: 2}
"""
    b, _ = run(wl)
    v4, v6 = b.ip_version == 4, b.ip_version == 6
    assert set(zip(b.icmp_type[v4].tolist(), b.icmp_code[v4].tolist(), strict=True)) == {(8, 0), (0, 0)}
    assert set(b.icmp_type[v6].tolist()) == {128, 129} and set(b.protocol[v6].tolist()) == {58}
    assert set(b.ip_len[v4].tolist()) == {84} and set(b.ip_len[v6].tolist()) == {104}
    assert "2600:1f18:4a3:6b00::20" in ips(b.dst_hi[v6], b.dst_lo[v6])
    assert int((b.icmp_type[v4] == 8).sum()) == int((b.icmp_type[v4] == 0).sum())
    assert set(b.src_port.tolist()) == {0} and set(b.dst_port.tolist()) == {0}


def test_diurnal_shape() -> None:
    wl = "  - {name: d, kind: udp, from: app-1a, to: 'internet', port: 123, rate: 50}\n"
    extra = "diurnal: {amplitude: 0.9, peak: '12:00'}\n"
    night, _ = run(wl, dur="60s", extra=extra)
    text = HEAD.format(dur="60s", seed=1).replace("2026-01-05T00:00:00Z", "2026-01-05T12:00:00Z") + wl + extra
    src = SyntheticSource(SyntheticConfig("t"), scenario=loads_scenario(text, topology=TOPO))
    noon = PacketBatch.concat(list(src.batches()))
    assert len(noon) > 5 * len(night) > 0  # 1.9 vs 0.1 times the rate


def test_workload_window_and_zero_rate() -> None:
    wl = """  - {name: late, kind: udp, from: app-1a, to: internet, port: 9, rate: 10, start: 10s, duration: 5s,
     respond: false}
  - {name: off, kind: udp, from: app-1a, to: internet, port: 9, rate: 0}
"""
    b, src = run(wl)
    t = (b.ts_ns - loads_scenario(HEAD.format(dur="20s", seed=1) + wl, topology=TOPO).start_ns) / 1e9
    assert t.min() >= 10 and t.max() < 15 and src.stats.per_workload.get("off") is None


def test_writer_round_trip_of_generated_packets(tmp_path: Path) -> None:
    b, _ = run(TCP_WL + "  - {name: p, kind: icmp, from: tools-1a, to: app-1a, rate: 2}\n")
    p = tmp_path / "g.pcap"
    write_pcap(p, b, snaplen=128)
    back = PacketBatch.concat(list(open_capture(str(p)).batches()))
    for k in PACKET_DTYPES:
        assert np.array_equal(getattr(back, k), getattr(b, k)), k


def test_demo_scenario_and_registry() -> None:
    src = make_source("synthetic", scenario=str(ROOT / "examples" / "scenarios" / "demo.yaml"), duration_s=30)
    n = sum(len(b) for b in src.batches())
    assert n == src.stats.packets > 1000
    assert src.scenario.idle == ("eni-01c69b7967b1c442f",)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("  - {name: a, kind: tcp, from: web-1a, to: nope-1, rate: 1}\n", "t.yaml:5", "no network interface"),
        ("  - {name: a, kind: warp, from: web-1a, to: app-1a, rate: 1}\n", "t.yaml:5", "unknown kind"),
        ("  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: 1, colour: red}\n", "t.yaml:5", "unknown key"),
        ("  - {name: a, kind: tcp, from: web-1a, to: app-1a}\n", "t.yaml:5", "missing 'rate'"),
        ("  - {name: a, kind: udp, from: internet, to: dns, rate: 1}\n", "t.yaml:5", "destination for workloads"),
        ("  - {name: a, kind: icmp, from: web-1a, to: app-1a, port: 5, rate: 1}\n", "t.yaml:5", "ICMP has no ports"),
        ("  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: 1, start: 1h}\n", "t.yaml:5", "starts after"),
        ("  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: 1, ipv6: true}\n", "t.yaml:5", "no IPv6"),
        ("  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: 1, ports: 70000}\n", "t.yaml:5", "0-65535"),
        ("  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: -1}\n", "t.yaml:5", "below the minimum"),
        (
            "  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: 1, request_bytes: [9, 1]}\n",
            "t.yaml:5",
            "larger than max",
        ),
        ("  - {name: a, kind: tcp, from: 'cidr:10.0.0.0/33', to: app-1a, rate: 1}\n", "t.yaml:5", "bad address"),
        ("  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: 1, sources: 3}\n", "t.yaml:5",
         "sources applies to scan and bruteforce"),
        ("  - {name: a, kind: scan, from: internet, to: app-1a, rate: 1, sources: 0}\n", "t.yaml:5", "below the minimum"),
        ("  - {name: a, kind: scan, from: internet, to: app-1a, rate: 1, sources: 2.5}\n", "t.yaml:5", "whole number"),
    ],
)
def test_scenario_errors_name_file_line_and_key(text: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        loads_scenario(HEAD.format(dur="20s", seed=1) + text, source="t.yaml", topology=TOPO)
    assert message in str(e.value) and e.value.location == where and (e.value.key_path or "").startswith("workloads")


def test_top_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'workload'"):
        loads_scenario("workload: []\n", topology=TOPO)
    with pytest.raises(ConfigError, match="expected a duration"):
        loads_scenario("duration: soon\nworkloads: []\n", topology=TOPO)
    with pytest.raises(ConfigError, match="non-empty list"):
        loads_scenario("workloads: []\n", topology=TOPO)
    with pytest.raises(ConfigError, match="topology file not found"):
        loads_scenario("topology: nowhere.yaml\nworkloads: []\n", base_dir=tmp_path)
    with pytest.raises(ConfigError, match="idle"):
        loads_scenario(
            "idle: [web-1a]\nworkloads:\n  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: 1}\n", topology=TOPO
        )
    with pytest.raises(ConfigError, match="used twice"):
        loads_scenario(
            "workloads:\n" + "  - {name: a, kind: tcp, from: web-1a, to: app-1a, rate: 1}\n" * 2, topology=TOPO
        )


def test_writer_sequence_numbers_survive_batch_splits(tmp_path: Path) -> None:
    b, _ = run(TCP_WL)
    one, two = tmp_path / "one.pcap", tmp_path / "two.pcap"
    write_pcap(one, b)
    k = len(b) // 3
    write_pcap(two, [b.take(np.arange(0, k)), b.take(np.arange(k, 2 * k)), b.take(np.arange(2 * k, len(b)))])
    assert one.read_bytes() == two.read_bytes()


def test_writer_sequence_numbers_follow_the_payload() -> None:
    from vpcflow.dataplane.sources._tcpseq import TcpSequencer

    b, _ = run(TCP_WL, dur="1s")
    seq, ack = TcpSequencer().numbers(b)
    idx = next(iter(flows_of(b, 8080).values()))
    c2s = b.dst_port[idx] == 8080
    s, a = seq[idx], ack[idx]
    isn_c, isn_s = int(s[0]), int(s[1])
    assert int(a[1]) == (isn_c + 1) % 2**32  # SYN-ACK acknowledges the SYN
    assert int(a[2]) == (isn_s + 1) % 2**32 and int(a[0]) == 0  # a bare SYN carries no ACK
    # the teardown: client FIN at ISN + 1 + 3000 request bytes; the final ACK covers the server's FIN
    assert int(s[-3]) == (isn_c + 1 + 3000) % 2**32 and bool(c2s[-3])
    assert int(a[-1]) == (isn_s + 1 + 10000 + 1) % 2**32


def test_persistent_connections_carry_several_exchanges() -> None:
    wl = TCP_WL.replace("rst_fraction: 0}", "rst_fraction: 0, exchanges: 3, idle_ms: 2000}").replace(
        "rate: 20", "rate: 2"
    )
    b, _ = run(wl, dur="30s")
    flows = flows_of(b, 8080)
    assert flows
    for idx in flows.values():
        # 3 handshake + 3 x (3 request segments + 1 ACK + 7 response segments + 4 ACKs) + 3 teardown
        assert len(idx) == 51
        c2s = b.dst_port[idx] == 8080
        pushes = idx[c2s & (b.tcp_flags[idx] == 24)]  # the last request segment of each exchange
        assert len(pushes) == 3
        gaps = np.diff(b.ts_ns[pushes])
        assert bool(np.all(gaps > 2_000_000_000))  # each exchange waits for the previous one + 2 s idle
        assert b.tcp_flags[idx][:3].tolist() == [2, 18, 16] and b.tcp_flags[idx][-3:].tolist() == [17, 17, 16]


def test_exchanges_only_for_plain_tcp() -> None:
    with pytest.raises(ConfigError, match="exchanges apply"):
        loads_scenario(
            HEAD.format(dur="20s", seed=1) + "  - {name: a, kind: udp, from: web-1a, to: app-1a, rate: 1, "
            "exchanges: 2}\n",
            topology=TOPO,
        )


def test_ipv6_only_interfaces_take_ipv6_workloads_and_refuse_ipv4_ones() -> None:
    topo = load_topology(ROOT / "tests" / "fixtures" / "topology" / "ipv6-only.yaml")
    wl = "  - {name: v6, kind: tcp, from: internet, to: v6-web, port: 443, rate: 2, ipv6: true}\n"
    sc = loads_scenario(HEAD.format(dur="10s", seed=1) + wl, source="t.yaml", topology=topo)
    b = PacketBatch.concat(list(SyntheticSource(SyntheticConfig("t.yaml"), scenario=sc).batches()))
    assert len(b) and set(b.ip_version.tolist()) == {6}
    assert "2600:1f18:600:aa01::10" in set(ips(b.dst_hi, b.dst_lo))
    v4 = "  - {name: v4, kind: tcp, from: internet, to: v6-web, port: 443, rate: 2}\n"
    with pytest.raises(ConfigError, match=r"v6-web is IPv6-only \(no IPv4 address\): set ipv6: true"):
        loads_scenario(HEAD.format(dur="10s", seed=1) + v4, source="t.yaml", topology=topo)
