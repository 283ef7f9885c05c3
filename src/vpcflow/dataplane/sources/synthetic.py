"""Synthetic traffic: a scenario (``scenario.py``) becomes time-ordered ``PacketBatch``es of real packet
sequences - TCP handshakes, MSS-sized data with delayed ACKs, FIN or RST teardowns, SYN retransmissions
when nobody answers, UDP request/response, ICMP echo - as the original senders sent them (the policy
engine expands them into observation points and decides what security groups let through).

Vectorised: time is cut into slices; per slice and workload the flows are drawn at once (Poisson counts
shaped by the diurnal curve, uniform start times), then expanded into packets group by group ("the SYNs",
"the request segments", ...) with ``np.repeat``/``cumsum`` index arithmetic; packets still in the future
are held and merged (stable sort) with the next slice. Deterministic: every (workload, slice) draws from
its own generator seeded by (seed, workload, slice), so the same seed gives identical batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vpcflow.codecs.addresses import addresses_to_strings
from vpcflow.dataplane.packets import PacketBatch, ip_to_pair
from vpcflow.dataplane.sources.scenario import Pool, Scenario, Workload, load_scenario

NS = 1_000_000_000
US = 1_000
SEG_GAP_NS = 12 * US  # one 1500-byte segment at 1 Gbit/s
# A delayed ACK leaves right after the second segment it acknowledges (as seen next to the receiver), before
# the next segment: a capture then shows each ACK acknowledging new data, never a duplicate ACK.
ACK_DELAY_NS = 5 * US
WINDOW_SEGMENTS = 10  # segments sent per round trip (initial window)
SYN_RETRY_NS = NS  # first SYN retransmission after 1 s, then doubling (Linux)
# IP total lengths (IPv4; IPv6 adds 20): Linux TCP with timestamps.
TCP_HDR = 52  # IP 20 + TCP 32 (timestamps)
SYN_LEN = 60  # IP 20 + TCP 40 (MSS, SACK-permitted, timestamps, window scale)
RST_LEN = 40
SCAN_SYN_LEN = 44  # IP 20 + TCP 24 (MSS only, as scanners send)
MSS = 1448
UDP_HDR = 28
ICMP_ECHO_LEN = 84  # 56 bytes of data
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
EPHEMERAL_LOW, EPHEMERAL_COUNT = 32768, 28232  # Linux ip_local_port_range 32768-60999
EPHEMERAL_STRIDE = 7919  # prime, coprime with EPHEMERAL_COUNT: the walk visits every port once per cycle


@dataclass(frozen=True)
class SyntheticConfig:
    """``scenario``: the scenario file. ``seed``/``duration_s`` override the file's. ``slice_s``: the
    generation time step (memory ~ packets per slice)."""

    scenario: str
    seed: int | None = None
    duration_s: float | None = None
    slice_s: float = 10.0

    def __post_init__(self) -> None:
        if self.slice_s <= 0:
            raise ValueError(f"slice_s must be positive, got {self.slice_s}")


@dataclass
class SyntheticStats:
    packets: int = 0
    bytes: int = 0
    flows: int = 0
    per_workload: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"packets": self.packets, "bytes": self.bytes, "flows": self.flows, "per_workload": self.per_workload}


@dataclass
class _Pk:
    """Packets of one group, before addresses are filled in."""

    flow: np.ndarray  # int64 index into the flow table
    t: np.ndarray  # int64 absolute ns
    rev: np.ndarray  # bool: server -> client
    length: np.ndarray  # int64 IP length
    flags: np.ndarray  # uint8 TCP flags
    icmp: np.ndarray  # int16 ICMP type, -1 for none


def _group(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flow index, index within the flow) of a group with ``counts[f]`` packets per flow."""
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    f = np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    j = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return f, j


def _mk(
    f: np.ndarray, t: np.ndarray, rev: bool, length: np.ndarray | int, flags: np.ndarray | int, icmp: int = -1
) -> _Pk:
    n = f.shape[0]
    return _Pk(
        f,
        t.astype(np.int64),
        np.full(n, rev),
        np.broadcast_to(np.asarray(length, np.int64), (n,)),
        np.broadcast_to(np.asarray(flags, np.uint8), (n,)),
        np.full(n, icmp, np.int16),
    )


def _segments(nbytes: np.ndarray, mss: int) -> tuple[np.ndarray, np.ndarray]:
    """(segment count >= 1, payload of the last segment) per flow."""
    b = np.maximum(nbytes.astype(np.int64), 1)
    n = (b + mss - 1) // mss
    return n, b - (n - 1) * mss


def _schedule(
    c: np.ndarray,
    rtt_e: np.ndarray,
    think: np.ndarray,
    nreq: np.ndarray,
    nresp: np.ndarray,
    ex: np.ndarray,
    fe: np.ndarray,
    pause: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(start, duration) of every exchange: each starts when the previous one of its connection is done
    and the client's pause is over; the first starts at the handshake's last ACK ``c``."""
    span = ((nresp - 1) // WINDOW_SEGMENTS) * rtt_e + ((nresp - 1) % WINDOW_SEGMENTS) * SEG_GAP_NS
    dur = (nreq - 1) * SEG_GAP_NS + rtt_e // 2 + think + span + rtt_e
    step = dur + pause
    cs = np.cumsum(step) - step
    first = np.cumsum(ex) - ex
    start = c[fe] + cs - np.repeat(cs[first], ex)
    return start, dur


def _request_packets(
    fe: np.ndarray, start: np.ndarray, nreq: np.ndarray, lreq: np.ndarray, hdr: int, mss: int
) -> list[_Pk]:
    """The client's request segments and the server's delayed ACKs (one per two full segments)."""
    f, j = _group(nreq)
    last = j == nreq[f] - 1
    segs = _mk(
        fe[f],
        start[f] + j * SEG_GAP_NS,
        False,
        np.where(last, hdr + lreq[f], hdr + mss),
        np.where(last, PSH | ACK, ACK),
    )
    f, j = _group(nreq // 2)
    return [segs, _mk(fe[f], start[f] + (2 * j + 1) * SEG_GAP_NS + ACK_DELAY_NS, True, hdr, ACK)]


def _response_packets(
    fe: np.ndarray, r0: np.ndarray, rtt_e: np.ndarray, nresp: np.ndarray, lresp: np.ndarray, hdr: int, mss: int
) -> list[_Pk]:
    """The server's response segments (windows of WINDOW_SEGMENTS a round trip apart) and the client's
    ACKs (one per two segments, and one for the last)."""
    f, j = _group(nresp)
    last = j == nresp[f] - 1
    tseg = r0[f] + (j // WINDOW_SEGMENTS) * rtt_e[f] + (j % WINDOW_SEGMENTS) * SEG_GAP_NS
    segs = _mk(fe[f], tseg, True, np.where(last, hdr + lresp[f], hdr + mss), np.where(last, PSH | ACK, ACK))
    f, j = _group((nresp + 1) // 2)
    seg = np.minimum(2 * j + 1, nresp[f] - 1)
    tack = r0[f] + (seg // WINDOW_SEGMENTS) * rtt_e[f] + (seg % WINDOW_SEGMENTS) * SEG_GAP_NS + ACK_DELAY_NS
    return [segs, _mk(fe[f], tack, False, hdr, ACK)]


def _teardown_packets(end: np.ndarray, rtt: np.ndarray, rst: np.ndarray, hdr: int, extra: int) -> list[_Pk]:
    """FIN, FIN, ACK for connections that close, a server RST for those in ``rst``."""
    fin = np.flatnonzero(~rst)
    reset = np.flatnonzero(rst)
    return [
        _mk(fin, end[fin], False, hdr, FIN | ACK),
        _mk(fin, end[fin] + rtt[fin] // 2, True, hdr, FIN | ACK),
        _mk(fin, end[fin] + rtt[fin], False, hdr, ACK),
        _mk(reset, end[reset], True, RST_LEN + extra, RST | ACK),
    ]


def tcp_packets(
    t0: np.ndarray,
    rtt: np.ndarray,
    think: np.ndarray,
    req: np.ndarray,
    resp: np.ndarray,
    rst: np.ndarray,
    v6: bool,
    exchanges: np.ndarray | None = None,
    idle: np.ndarray | None = None,
) -> tuple[list[_Pk], np.ndarray]:
    """Whole TCP connections: handshake, ``exchanges[f]`` request/response exchanges (``think``, ``req``,
    ``resp``, ``idle`` are per exchange, flows' exchanges consecutive; ``idle`` is the client's pause
    after an exchange), then the teardown. Returns the packet groups and each connection's end time."""
    extra = 20 if v6 else 0
    hdr, mss = TCP_HDR + extra, MSS - extra
    n = t0.shape[0]
    idx = np.arange(n, dtype=np.int64)
    ex = np.ones(n, np.int64) if exchanges is None else exchanges.astype(np.int64)
    fe, _ = _group(ex)  # the flow of every exchange
    pause = np.zeros(fe.shape[0], np.int64) if idle is None else idle.astype(np.int64)
    c = t0 + rtt + 20 * US
    out = [
        _mk(idx, t0, False, SYN_LEN + extra, SYN),
        _mk(idx, t0 + rtt, True, SYN_LEN + extra, SYN | ACK),
        _mk(idx, c, False, hdr, ACK),
    ]
    rtt_e = rtt[fe]
    nreq, lreq = _segments(req, mss)
    nresp, lresp = _segments(resp, mss)
    start, dur = _schedule(c, rtt_e, think, nreq, nresp, ex, fe, pause)
    out += _request_packets(fe, start, nreq, lreq, hdr, mss)
    r0 = start + (nreq - 1) * SEG_GAP_NS + rtt_e // 2 + think
    out += _response_packets(fe, r0, rtt_e, nresp, lresp, hdr, mss)
    end = (start + dur)[np.cumsum(ex) - 1]
    out += _teardown_packets(end, rtt, rst, hdr, extra)
    return out, end + rtt


def unanswered_syns(t0: np.ndarray, retries: int, v6: bool, length: int = SYN_LEN) -> list[_Pk]:
    """A SYN and its retransmissions (1 s, 3 s, 7 s, ... after the first) that nobody answers."""
    f, j = _group(np.full(t0.shape[0], retries + 1))
    return [_mk(f, t0[f] + ((1 << j) - 1) * SYN_RETRY_NS, False, length + (20 if v6 else 0), SYN)]


@dataclass(frozen=True)
class AttackLabel:
    """One attack of a scenario: what a detection should find."""

    workload: str
    kind: str  # scan | bruteforce
    sources: tuple[str, ...]  # the attacking hosts' addresses
    targets: tuple[str, ...]  # the targeted interfaces (ENI ids; empty when the target is outside the VPCs)
    start_s: float
    end_s: float


class SyntheticSource:
    """Packets of a scenario, as time-ordered batches (one or more per time slice)."""

    def __init__(self, config: SyntheticConfig, *, scenario: Scenario | None = None) -> None:
        self.config = config
        self.scenario = scenario or load_scenario(Path(config.scenario), seed=config.seed, duration_s=config.duration_s)
        self.stats = SyntheticStats()
        self.interfaces: tuple[str, ...] = ()

    # ---- drawing flows
    def _rate_factor(self, w: Workload, t_s: float) -> float:
        sc = self.scenario
        if not w.diurnal or sc.amplitude == 0:
            return 1.0
        hour = ((sc.start_ns / NS + t_s) / 3600.0) % 24.0
        return float(1.0 + sc.amplitude * np.cos(2 * np.pi * (hour - sc.peak_hour) / 24.0))

    @staticmethod
    def _draw(
        pool: Pool, rng: np.random.Generator, n: int, entry: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(entry index, hi, lo) of ``n`` addresses drawn from ``pool``."""
        if entry is None:
            entry = rng.integers(0, pool.base_hi.shape[0], n)
        size = pool.size[entry]
        off = (rng.random(n) * size.astype(np.float64)).astype(np.uint64)
        off = np.minimum(off, size - np.uint64(1))
        return entry, pool.base_hi[entry], pool.base_lo[entry] + off

    def _workload_packets(
        self, wi: int, w: Workload, a: float, b: float, si: int
    ) -> tuple[list[_Pk], dict[str, np.ndarray]]:
        """The packet groups and flow endpoints of workload ``wi`` in the time slice [a, b)."""
        sc = self.scenario
        lo, hi = max(a, w.start_s), min(b, w.end_s)
        empty: tuple[list[_Pk], dict[str, np.ndarray]] = ([], {})
        if hi <= lo or w.rate == 0:
            return empty
        rng = np.random.default_rng([sc.seed, wi, si])
        n = int(rng.poisson(w.rate * self._rate_factor(w, (lo + hi) / 2) * (hi - lo)))
        if n == 0:
            return empty
        v6 = w.clients.version == 6
        t0 = sc.start_ns + (np.sort(rng.uniform(lo, hi, n)) * NS).astype(np.int64)
        se, flows = self._endpoints(wi, w, rng, n)
        rtt = (w.rtt_ms.sample(rng, n) * 1e6).astype(np.int64)
        groups: list[_Pk]
        if w.kind == "icmp":
            groups = self._icmp_packets(w, rng, n, t0, rtt, v6)
            flows["cport"][:] = 0
            flows["dport"][:] = 0
        elif w.kind == "udp":
            groups = self._udp_packets(w, rng, n, t0, rtt, v6)
        elif w.kind == "scan":
            groups = [_mk(np.arange(n, dtype=np.int64), t0, False, SCAN_SYN_LEN + (20 if v6 else 0), SYN)]
            if w.respond:  # closed ports answer with a reset
                groups.append(_mk(np.arange(n, dtype=np.int64), t0 + rtt, True, RST_LEN + (20 if v6 else 0), RST | ACK))
        elif not w.respond:
            groups = unanswered_syns(t0, w.retries, v6)
        else:
            groups, flows = self._tcp_workload_packets(wi, w, rng, n, t0, rtt, v6, se, flows)
        self._count(w, n, groups)
        return groups, flows

    def _endpoints(
        self, wi: int, w: Workload, rng: np.random.Generator, n: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(server pool entry, flow endpoint columns) of ``n`` new flows: clients, servers, ports."""
        if w.single_source:
            e, ch, cl = self._attackers(wi, w)
            # one fixed host, or each probe from one of the distributed attack's hosts
            pick = np.zeros(n, np.int64) if w.attack_sources == 1 else rng.integers(0, w.attack_sources, n)
            ce, c_hi, c_lo = e[pick], ch[pick], cl[pick]
        else:
            ce, c_hi, c_lo = self._draw(w.clients, rng, n)
        se, s_hi, s_lo = self._draw(w.servers, rng, n, ce if w.servers.per_client else None)
        if w.kind == "scan":
            start = self._scan_pos.get(wi, 0)
            dport = w.ports[(start + np.arange(n)) % w.ports.shape[0]]
            self._scan_pos[wi] = start + n
        else:
            dport = w.ports[rng.integers(0, w.ports.shape[0], n)]
        flows = {
            "c_hi": c_hi,
            "c_lo": c_lo,
            "s_hi": s_hi,
            "s_lo": s_lo,
            "cport": self._ephemeral(wi, 0, n),
            "dport": dport.astype(np.uint16),
        }
        return se, flows

    @staticmethod
    def _icmp_packets(
        w: Workload, rng: np.random.Generator, n: int, t0: np.ndarray, rtt: np.ndarray, v6: bool
    ) -> list[_Pk]:
        """Echo requests one second apart, and their replies when the workload responds."""
        q = np.rint(w.requests.sample(rng, n, log=False)).astype(np.int64)
        f, j = _group(q)
        req_t, rep_t = (128, 129) if v6 else (8, 0)
        ln = ICMP_ECHO_LEN + (20 if v6 else 0)
        groups = [_mk(f, t0[f] + j * NS, False, ln, 0, req_t)]
        if w.respond:
            groups.append(_mk(f, t0[f] + j * NS + rtt[f], True, ln, 0, rep_t))
        return groups

    @staticmethod
    def _udp_packets(
        w: Workload, rng: np.random.Generator, n: int, t0: np.ndarray, rtt: np.ndarray, v6: bool
    ) -> list[_Pk]:
        """Datagrams ``think`` apart, each answered one round trip later when the workload responds."""
        q = np.rint(w.requests.sample(rng, n, log=False)).astype(np.int64)
        f, j = _group(q)
        gap = (w.think_ms.sample(rng, n) * 1e6).astype(np.int64)
        hdr = UDP_HDR + (20 if v6 else 0)
        req = np.minimum(w.request_bytes.sample(rng, f.shape[0]).astype(np.int64), 1472)
        groups = [_mk(f, t0[f] + j * gap[f], False, hdr + req, 0)]
        if w.respond:
            resp = np.minimum(w.response_bytes.sample(rng, f.shape[0]).astype(np.int64), 1472)
            groups.append(_mk(f, t0[f] + j * gap[f] + rtt[f], True, hdr + resp, 0))
        return groups

    def _tcp_workload_packets(
        self,
        wi: int,
        w: Workload,
        rng: np.random.Generator,
        n: int,
        t0: np.ndarray,
        rtt: np.ndarray,
        v6: bool,
        se: np.ndarray,
        flows: dict[str, np.ndarray],
    ) -> tuple[list[_Pk], dict[str, np.ndarray]]:
        """Answered TCP connections; behind a load balancer, also its own leg to a target."""
        ex = np.maximum(np.rint(w.exchanges.sample(rng, n, log=False)).astype(np.int64), 1)
        n_ex = int(ex.sum())
        think = (w.think_ms.sample(rng, n_ex) * 1e6).astype(np.int64)
        req = w.request_bytes.sample(rng, n_ex)
        resp = w.response_bytes.sample(rng, n_ex)
        idle = (w.idle_ms.sample(rng, n_ex) * 1e6).astype(np.int64)
        rst = rng.random(n) < w.rst_fraction
        if w.backend is None:
            groups, _end = tcp_packets(t0, rtt, think, req, resp, rst, v6, ex, idle)
            return groups, flows
        # the load balancer's own connection to a target, inside the client's connection
        assert w.backend_ports is not None
        b_rtt = (rng.uniform(0.2, 1.5, n) * 1e6).astype(np.int64)
        b_t0 = t0 + rtt + 50 * US
        b_groups, b_end = tcp_packets(b_t0, b_rtt, think, req, resp, np.zeros(n, bool), v6)
        think = b_end - b_t0 + 100 * US
        _, b_hi, b_lo = self._draw(w.backend, rng, n)
        lb_hi, lb_lo = self._lb_private(w, se)
        bflows = {
            "c_hi": lb_hi,
            "c_lo": lb_lo,
            "s_hi": b_hi,
            "s_lo": b_lo,
            "cport": self._ephemeral(wi, 1, n),
            "dport": w.backend_ports[rng.integers(0, w.backend_ports.shape[0], n)].astype(np.uint16),
        }
        groups, _end = tcp_packets(t0, rtt, think, req, resp, rst, v6)
        # offset the backend leg's flow indexes past the front leg's
        for g in b_groups:
            g.flow = g.flow + n
        groups += b_groups
        return groups, {k: np.concatenate([flows[k], bflows[k]]) for k in flows}

    def _count(self, w: Workload, n: int, groups: list[_Pk]) -> None:
        """Add a slice's flows and packets to the workload's and the run's statistics."""
        st = self.stats.per_workload.setdefault(w.name, {"flows": 0, "packets": 0})
        st["flows"] += n
        st["packets"] += sum(g.flow.shape[0] for g in groups)
        self.stats.flows += n

    def _attackers(self, wi: int, w: Workload) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fixed source hosts of a scan or brute force (drawn once per workload from its seed)."""
        srng = np.random.default_rng([self.scenario.seed, wi])
        return self._draw(w.clients, srng, w.attack_sources)

    def attack_labels(self) -> list[AttackLabel]:
        """Ground truth for detections: each scan and brute-force workload, its source addresses and the
        interfaces it targets (addresses as the records show them)."""
        out = []
        for wi, w in enumerate(self.scenario.workloads):
            if not w.single_source or w.rate == 0:
                continue
            _, hi, lo = self._attackers(wi, w)
            sources = tuple(sorted(set(addresses_to_strings(hi, lo).to_pylist())))
            out.append(AttackLabel(w.name, w.kind, sources, tuple(w.servers.enis), w.start_s, w.end_s))
        return out

    def _ephemeral(self, wi: int, leg: int, n: int) -> np.ndarray:
        """Client ports: the ephemeral range walked with a stride, so that a workload reuses a port only
        after EPHEMERAL_COUNT connections (two live connections never share a 5-tuple, as in a real stack)."""
        key = (wi, leg)
        if key not in self._port_pos:
            seed = np.random.default_rng([self.scenario.seed, wi, leg, 7])
            self._port_pos[key] = int(seed.integers(EPHEMERAL_COUNT))
        pos = self._port_pos[key]
        self._port_pos[key] = pos + n
        k = (pos + np.arange(n, dtype=np.int64)) * EPHEMERAL_STRIDE % EPHEMERAL_COUNT
        return (EPHEMERAL_LOW + k).astype(np.uint16)

    def _lb_private(self, w: Workload, entry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Private addresses of the load-balancer ENIs the clients reached."""
        topo = self.scenario.topology
        v6 = w.servers.version == 6
        pairs = []
        for eni_id in w.servers.enis:
            e = topo.enis_by_id[eni_id]
            # the pool was built from these ENIs in the workload's family, so the address exists
            pairs.append(ip_to_pair(e.ipv6_addresses[0] if v6 and e.ipv6_addresses else e.primary_address))
        hi = np.array([p[0] for p in pairs], np.uint64)
        lo = np.array([p[1] for p in pairs], np.uint64)
        return hi[entry], lo[entry]

    # ---- packets
    def _assemble(self, w: Workload, groups: list[_Pk], flows: dict[str, np.ndarray]) -> PacketBatch:
        f = np.concatenate([g.flow for g in groups])
        rev = np.concatenate([g.rev for g in groups])
        icmp = np.concatenate([g.icmp for g in groups])
        c_hi, c_lo, s_hi, s_lo = flows["c_hi"][f], flows["c_lo"][f], flows["s_hi"][f], flows["s_lo"][f]
        cport, dport = flows["cport"][f], flows["dport"][f]
        n = f.shape[0]
        is_icmp = w.kind == "icmp"
        return PacketBatch(
            ts_ns=np.concatenate([g.t for g in groups]),
            ip_version=np.full(n, w.clients.version, np.uint8),
            src_hi=np.where(rev, s_hi, c_hi),
            src_lo=np.where(rev, s_lo, c_lo),
            dst_hi=np.where(rev, c_hi, s_hi),
            dst_lo=np.where(rev, c_lo, s_lo),
            protocol=np.full(n, w.protocol, np.uint8),
            src_port=np.where(rev, dport, cport),
            dst_port=np.where(rev, cport, dport),
            icmp_type=icmp,
            icmp_code=np.where(icmp >= 0, 0, -1).astype(np.int16) if is_icmp else np.full(n, -1, np.int16),
            ip_len=np.concatenate([g.length for g in groups]).astype(np.uint32),
            tcp_flags=np.concatenate([g.flags for g in groups]),
            fragment=np.zeros(n, np.uint8),
            iface=np.full(n, -1, np.int16),
        )

    def batches(self) -> Iterator[PacketBatch]:
        sc = self.scenario
        self.stats = SyntheticStats()  # each pass over the source counts afresh
        self._scan_pos: dict[int, int] = {}
        self._port_pos: dict[tuple[int, int], int] = {}
        step = self.config.slice_s
        n_slices = int(np.ceil(sc.duration_s / step))
        pending: PacketBatch | None = None
        for si in range(n_slices):
            a, b = si * step, min((si + 1) * step, sc.duration_s)
            parts = [] if pending is None else [pending]
            for wi, w in enumerate(sc.workloads):
                groups, flows = self._workload_packets(wi, w, a, b, si)
                if groups:
                    parts.append(self._assemble(w, groups, flows))
            if not parts:
                continue
            merged = PacketBatch.concat(parts) if len(parts) > 1 else parts[0]
            merged = merged.take(np.argsort(merged.ts_ns, kind="stable"))
            limit = sc.start_ns + int(b * NS) if si < n_slices - 1 else None
            if limit is None:
                cut = len(merged)
            else:
                cut = int(np.searchsorted(merged.ts_ns, limit, side="left"))
            pending = merged.take(slice(cut, None)) if cut < len(merged) else None  # type: ignore[arg-type]
            if cut:
                yield self._account(merged.take(slice(0, cut)) if cut < len(merged) else merged)  # type: ignore[arg-type]
        if pending is not None and len(pending):
            yield self._account(pending)

    def _account(self, batch: PacketBatch) -> PacketBatch:
        self.stats.packets += len(batch)
        self.stats.bytes += int(batch.ip_len.sum(dtype=np.int64))
        return batch
