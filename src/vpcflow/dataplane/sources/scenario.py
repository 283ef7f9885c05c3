"""Scenario files for synthetic traffic: parsing, validation (file:line + key path) and resolution of
every endpoint against the topology into address pools. The schema is documented in docs/scenarios.md.

A ``Scenario`` is plain resolved data; ``synthetic.py`` turns it into packets.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vpcflow.core.userfiles import read_input_text
from vpcflow.dataplane.packets import ip_to_pair
from vpcflow.dataplane.sources import scenario_limits as limits
from vpcflow.dataplane.sources.scenario_values import (
    Ctx,
    Range,
    parse_duration,
    read_number,
    read_ports,
    read_range,
    read_start_ns,
)
from vpcflow.model.topology.model import NetworkInterface, Topology
from vpcflow.model.topology.sourcemap import KeyPath, parse_document

KINDS = ("tcp", "udp", "icmp", "scan", "bruteforce")
DEFAULT_START = "2026-01-05T00:00:00Z"
#: Documentation ranges (RFC 5737) stand in for internet clients unless the scenario names others.
DEFAULT_INTERNET: tuple[str, ...] = ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")
DEFAULT_INTERNET6: tuple[str, ...] = ("2001:db8:1000::/48",)
METADATA = "169.254.169.254"
MAX_SEED = limits.MAX_SEED

_TOP_KEYS = {"topology", "start", "duration", "seed", "diurnal", "internet", "idle", "workloads", "description"}
_WL_KEYS = {
    "name",
    "kind",
    "from",
    "to",
    "port",
    "ports",
    "rate",
    "start",
    "duration",
    "ipv6",
    "request_bytes",
    "response_bytes",
    "rtt_ms",
    "think_ms",
    "respond",
    "retries",
    "rst_fraction",
    "requests",
    "backend",
    "diurnal",
    "description",
    "exchanges",
    "idle_ms",
    "sources",
}


@dataclass(frozen=True)
class Pool:
    """Addresses to draw from: networks (base hi/lo, size) of one family; a single address has size 1.

    ``per_client`` pools (the Amazon DNS server) hold one entry per address of the client pool, picked
    by the client's index instead of at random.
    """

    base_hi: np.ndarray
    base_lo: np.ndarray
    size: np.ndarray  # uint64 number of addresses drawn from (hosts only for a network)
    version: int
    label: str
    per_client: bool = False
    enis: tuple[str, ...] = ()  # ENI ids behind the entries, when the pool is made of ENIs


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str
    clients: Pool
    servers: Pool
    ports: np.ndarray  # destination ports (one drawn per flow; a scan walks them in order)
    protocol: int
    rate: float  # flows (or probes) per second, before the diurnal shape
    start_s: float
    end_s: float
    request_bytes: Range
    response_bytes: Range
    rtt_ms: Range
    think_ms: Range
    respond: bool
    retries: int
    rst_fraction: float
    requests: Range  # UDP datagrams / ICMP echoes per flow
    diurnal: bool
    backend: Pool | None = None
    backend_ports: np.ndarray | None = None
    single_source: bool = False  # scans and brute force come from a fixed set of addresses
    attack_sources: int = 1  # how many (scan/bruteforce `sources:`): more than one is a distributed attack
    exchanges: Range = field(default_factory=lambda: Range(1, 1))  # request/response exchanges per TCP connection
    idle_ms: Range = field(default_factory=lambda: Range(100, 2000))  # the client's pause between two exchanges


@dataclass(frozen=True)
class Scenario:
    source: str
    topology: Topology
    start_ns: int
    duration_s: float
    seed: int
    amplitude: float
    peak_hour: float
    workloads: tuple[Workload, ...]
    idle: tuple[str, ...]


class _Resolver:
    def __init__(self, topo: Topology, ctx: Ctx, internet4: tuple[str, ...], internet6: tuple[str, ...]) -> None:
        self.topo = topo
        self.ctx = ctx
        self.internet4 = internet4
        self.internet6 = internet6
        self.by_name: dict[str, NetworkInterface] = {}
        for e in topo.network_interfaces:
            for k, v in e.tags:
                if k == "Name":
                    self.by_name.setdefault(v, e)

    def eni(self, ref: str, path: KeyPath) -> NetworkInterface:
        e = self.topo.enis_by_id.get(ref) or self.by_name.get(ref)
        if e is None:
            known = ", ".join(sorted(self.by_name)[:12])
            raise self.ctx.error(path, f"no network interface with id or name {ref!r} (known names: {known})")
        return e

    def _nets(self, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network], version: int, label: str) -> Pool:
        hi, lo, size = [], [], []
        for n in nets:
            h, low = ip_to_pair(n.network_address)
            if n.num_addresses == 1:
                hi.append(h)
                lo.append(low)
                size.append(1)
            else:
                # hosts only: skip the network address (and, in IPv4, the broadcast address)
                hi.append(h)
                lo.append(low + 1)
                size.append(min(n.num_addresses - (2 if version == 4 else 1), 1 << 32))
        return Pool(np.array(hi, np.uint64), np.array(lo, np.uint64), np.array(size, np.uint64), version, label)

    def pool(self, spec: Any, path: KeyPath, *, v6: bool, role: str, clients: Pool | None = None) -> Pool:
        """Resolve an endpoint spec: ENI refs, internet[:cidrs], ip:/cidr:, dns, metadata, s3."""
        items = spec if isinstance(spec, list) else [spec]
        if not items or not all(isinstance(x, str) for x in items):
            raise self.ctx.error(path, f"expected an endpoint name or a list of them, got {spec!r}")
        version = 6 if v6 else 4
        if (len(items) == 1 and items[0] in ("dns", "metadata", "s3")) or any(
            x.startswith(("internet", "ip:", "cidr:")) for x in items
        ):
            if len(items) != 1:
                raise self.ctx.error(path, "internet/ip:/cidr:/dns/metadata/s3 endpoints cannot be mixed in a list")
            return self._special(items[0], path, version, role, clients)
        enis = [self.eni(x, (*path, i) if isinstance(spec, list) else path) for i, x in enumerate(items)]
        nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for e, ref in zip(enis, items, strict=True):
            if v6:
                if not e.ipv6_addresses:
                    raise self.ctx.error(path, f"{ref} has no IPv6 address (workload asks for ipv6)")
                nets.append(ipaddress.ip_network(e.ipv6_addresses[0]))
            elif role == "public" and e.public_ips:
                # reached from the internet: the packet is addressed to the public side (spec 2.6)
                nets.append(ipaddress.ip_network(e.public_ips[0]))
            elif e.private_ip_address is None:
                raise self.ctx.error(path, f"{ref} is IPv6-only (no IPv4 address): set ipv6: true")
            else:
                nets.append(ipaddress.ip_network(e.private_ip_address))
        pool = self._nets(nets, version, ",".join(items))
        return Pool(
            pool.base_hi, pool.base_lo, pool.size, version, pool.label, enis=tuple(e.network_interface_id for e in enis)
        )

    def _special(self, item: str, path: KeyPath, version: int, role: str, clients: Pool | None) -> Pool:
        try:
            if item == "dns" or item == "metadata":
                if role == "client" or clients is None or not clients.enis:
                    raise self.ctx.error(path, f"'{item}' is a destination for workloads from network interfaces")
                if version == 6:
                    raise self.ctx.error(path, f"'{item}' is IPv4 only here (ipv6: false)")
                addrs = []
                for eni_id in clients.enis:
                    if item == "metadata":
                        addrs.append(ipaddress.ip_network(METADATA))
                    else:
                        vpc = self.topo.vpcs_by_id[self.topo.enis_by_id[eni_id].vpc_id]
                        addrs.append(ipaddress.ip_network(vpc.dns_server))
                p = self._nets(addrs, 4, item)  # type: ignore[arg-type]
                return Pool(p.base_hi, p.base_lo, p.size, 4, item, per_client=True)
            if item == "s3":
                for pl in self.topo.prefix_lists:
                    if pl.prefix_list_name.endswith(".s3"):
                        nets = [n for n in pl.cidrs if n.version == version]
                        if nets:
                            return self._nets(nets, version, "s3")
                raise self.ctx.error(path, "'s3' needs an S3 prefix list (com.amazonaws.<region>.s3) in the topology")
            if item.startswith("internet"):
                rest = item[len("internet") :]
                if rest and not rest.startswith(":"):
                    raise self.ctx.error(path, f"unknown endpoint {item!r}")
                cidrs = rest[1:].split(",") if rest else list(self.internet6 if version == 6 else self.internet4)
                nets = [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs]
            else:
                nets = [ipaddress.ip_network(item.split(":", 1)[1].strip(), strict=False)]
        except ValueError as e:
            raise self.ctx.error(path, f"bad address in {item!r}: {e}") from e
        if any(n.version != version for n in nets):
            raise self.ctx.error(path, f"{item!r} is not IPv{version} (set ipv6: {str(version == 4).lower()}?)")
        return self._nets(nets, version, item)


def load_scenario(
    path: str | Path, *, topology: Topology | None = None, seed: int | None = None, duration_s: float | None = None
) -> Scenario:
    """Read and resolve a scenario file. ``topology`` overrides the file's ``topology`` key."""
    p = Path(path)
    text = read_input_text(p, "scenario")
    return loads_scenario(text, source=str(p), base_dir=p.parent, topology=topology, seed=seed, duration_s=duration_s)


def loads_scenario(
    text: str,
    *,
    source: str = "<string>",
    base_dir: Path | None = None,
    topology: Topology | None = None,
    seed: int | None = None,
    duration_s: float | None = None,
) -> Scenario:
    """Parse and resolve a scenario's text; ``topology``, ``seed`` and ``duration_s`` override the file's."""
    data, sm = parse_document(text, source=source, fmt="yaml")
    ctx = Ctx(sm)
    if not isinstance(data, dict):
        raise ctx.error((), "a scenario is a mapping with at least 'topology' and 'workloads'")
    for k in data:
        if k not in _TOP_KEYS:
            raise ctx.error((k,), f"unknown key {k!r} (expected one of {', '.join(sorted(_TOP_KEYS))})")
    if topology is None:
        topology = _scenario_topology(data, ctx, base_dir)
    if duration_s is not None:
        parse_duration(duration_s, ctx, ("duration",))  # an override (run config, --duration) obeys the same range
    duration = duration_s if duration_s is not None else parse_duration(data.get("duration", "1h"), ctx, ("duration",))
    if duration <= 0:
        raise ctx.error(("duration",), "the duration must be positive")
    start_ns = read_start_ns(data.get("start", DEFAULT_START), duration, ctx)
    raw_seed = data.get("seed", 0) if seed is None else seed  # an override (run config, --seed) obeys it too
    if isinstance(raw_seed, bool) or not isinstance(raw_seed, int) or not 0 <= raw_seed <= MAX_SEED:
        raise ctx.error(("seed",), f"expected an integer from 0 to {MAX_SEED}, got {raw_seed!r}")
    amplitude, peak = _diurnal(data, ctx)
    internet4, internet6 = _internet(data, ctx)
    res = _Resolver(topology, ctx, internet4, internet6)
    idle: list[str] = []
    for i, ref in enumerate(data.get("idle") or []):
        idle.append(res.eni(str(ref), ("idle", i)).network_interface_id)
    workloads = _workloads(data, ctx, res, duration, duration_s is None, amplitude, idle)
    return Scenario(source, topology, start_ns, duration, raw_seed, amplitude, peak, workloads, tuple(idle))


def _scenario_topology(data: dict[str, Any], ctx: Ctx, base_dir: Path | None) -> Topology:
    """Load the topology file the scenario names (relative to the scenario's directory)."""
    if "topology" not in data:
        raise ctx.error((), "missing 'topology' (path of the topology file, relative to the scenario)")
    from vpcflow.model.topology.loader import load_topology

    tpath = Path(str(data["topology"]))
    if not tpath.is_absolute() and base_dir is not None:
        tpath = base_dir / tpath
    if tpath.is_dir():
        raise ctx.error(("topology",), f"topology file {tpath} is a directory, not a file")
    if not tpath.exists():
        raise ctx.error(("topology",), f"topology file not found: {tpath}")
    return load_topology(tpath)


def _diurnal(data: dict[str, Any], ctx: Ctx) -> tuple[float, float]:
    """(amplitude, peak hour) of the daily swing; (0, 14) without a ``diurnal`` key."""
    if "diurnal" not in data:
        return 0.0, 14.0
    d = data["diurnal"]
    if not isinstance(d, dict) or set(d) - {"amplitude", "peak"}:
        raise ctx.error(("diurnal",), "expected {amplitude: 0..1, peak: 'HH:MM'}")
    amplitude = read_number(d.get("amplitude", 0.5), ctx, ("diurnal", "amplitude"), lo=0, hi=1)
    pk = d.get("peak", "14:00")
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(pk))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ctx.error(("diurnal", "peak"), f"expected a UTC time 'HH:MM', got {pk!r}")
    return amplitude, int(m.group(1)) + int(m.group(2)) / 60


def _internet(data: dict[str, Any], ctx: Ctx) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The IPv4 and IPv6 CIDRs standing in for internet hosts (each family's default when none given)."""
    if "internet" not in data:
        return DEFAULT_INTERNET, DEFAULT_INTERNET6
    inet = data["internet"]
    if not isinstance(inet, list) or not inet:
        raise ctx.error(("internet",), "expected a list of CIDRs standing in for internet hosts")
    try:
        nets = [ipaddress.ip_network(str(c), strict=False) for c in inet]
    except ValueError as e:
        raise ctx.error(("internet",), f"bad CIDR: {e}") from e
    internet4 = tuple(str(n) for n in nets if n.version == 4) or DEFAULT_INTERNET
    internet6 = tuple(str(n) for n in nets if n.version == 6) or DEFAULT_INTERNET6
    return internet4, internet6


def _workloads(
    data: dict[str, Any],
    ctx: Ctx,
    res: _Resolver,
    duration: float,
    strict_times: bool,
    amplitude: float,
    idle: list[str],
) -> tuple[Workload, ...]:
    """The scenario's workloads: each valid, names unique, none using an interface listed as idle."""
    wl_data = data.get("workloads")
    if not isinstance(wl_data, list) or not wl_data:
        raise ctx.error(("workloads",), "expected a non-empty list of workloads")
    workloads = []
    names: set[str] = set()
    for i, w in enumerate(wl_data):
        wl = _workload(w, ("workloads", i), ctx, res, duration, strict_times=strict_times, amplitude=amplitude)
        if wl.name in names:
            raise ctx.error(("workloads", i, "name"), f"workload name {wl.name!r} is used twice")
        names.add(wl.name)
        used = set(wl.clients.enis) | set(wl.servers.enis) | set(wl.backend.enis if wl.backend else ())
        clash = used & set(idle)
        if clash:
            raise ctx.error(("workloads", i), f"uses {sorted(clash)[0]}, which the scenario lists as idle")
        workloads.append(wl)
    return tuple(workloads)


def _workload(
    w: Any, path: KeyPath, ctx: Ctx, res: _Resolver, duration: float, strict_times: bool, amplitude: float
) -> Workload:
    """One workload; ``strict_times``: a start after the end is an error (not when the caller shortened the
    scenario with a duration override: such workloads are then simply silent). ``amplitude``: the
    scenario's diurnal swing, for the packet-rate estimate (scenario_limits)."""
    _check_workload_keys(w, path, ctx)
    name = str(w["name"])
    kind = w["kind"]
    v6 = bool(w.get("ipv6", False))
    from_internet = isinstance(w["from"], str) and w["from"].startswith(("internet", "ip:", "cidr:"))
    clients = res.pool(w["from"], (*path, "from"), v6=v6, role="client")
    servers = res.pool(w["to"], (*path, "to"), v6=v6, role="public" if from_internet else "private", clients=clients)
    protocol = {"tcp": 6, "scan": 6, "bruteforce": 6, "udp": 17, "icmp": 58 if v6 else 1}[kind]
    ports = _workload_ports(w, kind, path, ctx)
    rate = read_number(w["rate"], ctx, (*path, "rate"), lo=0, hi=limits.MAX_RATE)
    start = parse_duration(w.get("start", 0), ctx, (*path, "start"))
    dur = parse_duration(w["duration"], ctx, (*path, "duration")) if "duration" in w else duration - start
    if start >= duration and strict_times:
        raise ctx.error((*path, "start"), f"starts after the scenario ends ({start} s >= {duration} s)")
    outside = from_internet or (isinstance(w["to"], str) and w["to"].startswith(("internet", "s3", "ip:", "cidr:")))
    backend, backend_ports = _workload_backend(w, kind, servers, ports, path, ctx, res, v6)
    single = kind in ("scan", "bruteforce")
    n_sources = _attack_sources(w, single, path, ctx)
    exchanges, request_bytes, response_bytes, requests = _traffic_ranges(
        w, kind, rate, backend is not None, amplitude, path, ctx
    )
    ms = limits.MAX_MS
    return Workload(
        name=name,
        kind=kind,
        clients=clients,
        servers=servers,
        ports=ports,
        protocol=protocol,
        rate=rate,
        start_s=start,
        end_s=min(duration, start + dur),
        request_bytes=request_bytes,
        response_bytes=response_bytes,
        rtt_ms=read_range(w.get("rtt_ms"), ctx, (*path, "rtt_ms"), (20, 120) if outside else (0.2, 1.5), lo=0.001,
                          hi=ms),
        think_ms=read_range(w.get("think_ms"), ctx, (*path, "think_ms"), (1, 30), hi=ms),
        respond=bool(w.get("respond", kind not in ("scan", "bruteforce"))),
        retries=int(read_number(w.get("retries", 2), ctx, (*path, "retries"), lo=0, hi=6)),
        rst_fraction=read_number(w.get("rst_fraction", 0.02), ctx, (*path, "rst_fraction"), lo=0, hi=1),
        requests=requests,
        diurnal=bool(w.get("diurnal", True)),
        backend=backend,
        backend_ports=backend_ports,
        single_source=single,
        attack_sources=n_sources,
        exchanges=exchanges,
        idle_ms=read_range(w.get("idle_ms"), ctx, (*path, "idle_ms"), (100, 2000), hi=ms),
    )


def _check_workload_keys(w: Any, path: KeyPath, ctx: Ctx) -> None:
    """A workload is a mapping of known keys with a name, a known kind, endpoints and a rate."""
    if not isinstance(w, dict):
        raise ctx.error(path, "a workload is a mapping (name, kind, from, to, ...)")
    for k in w:
        if k not in _WL_KEYS:
            raise ctx.error((*path, k), f"unknown key {k!r} (expected one of {', '.join(sorted(_WL_KEYS))})")
    for k in ("name", "kind", "from", "to", "rate"):
        if k not in w:
            raise ctx.error(path, f"missing {k!r}")
    kind = w["kind"]
    if kind not in KINDS:
        raise ctx.error((*path, "kind"), f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")


def _workload_ports(w: dict[str, Any], kind: str, path: KeyPath, ctx: Ctx) -> np.ndarray:
    """The destination ports (none for ICMP; 22 for brute force, 53 to dns, else 80 by default)."""
    to_special = isinstance(w["to"], str) and w["to"] in ("dns", "metadata")
    if to_special and w["to"] == "dns" and kind not in ("udp", "tcp"):
        raise ctx.error((*path, "kind"), "DNS traffic is udp or tcp")
    default_port = {"bruteforce": 22}.get(kind, 53 if w["to"] == "dns" else 80)
    if kind == "icmp":
        if "port" in w or "ports" in w:
            raise ctx.error((*path, "port"), "ICMP has no ports")
        return np.zeros(1, np.uint16)
    if "ports" in w:
        return read_ports(w["ports"], ctx, (*path, "ports"))
    return read_ports(w.get("port", default_port), ctx, (*path, "port"))


def _workload_backend(
    w: dict[str, Any], kind: str, servers: Pool, ports: np.ndarray, path: KeyPath, ctx: Ctx, res: _Resolver, v6: bool
) -> tuple[Pool | None, np.ndarray | None]:
    """(targets, ports) of a load balancer's backend leg; (None, None) without a ``backend`` key."""
    if "backend" not in w:
        return None, None
    b = w["backend"]
    bpath = (*path, "backend")
    if kind != "tcp" or not isinstance(b, dict) or "to" not in b or set(b) - {"to", "port"}:
        raise ctx.error(bpath, "a backend is {to: [ENIs], port: N} on a tcp workload to a load balancer")
    if not servers.enis:
        raise ctx.error((*path, "to"), "a workload with a backend must go to load-balancer network interfaces")
    backend = res.pool(b["to"], (*bpath, "to"), v6=v6, role="private")
    return backend, read_ports(b.get("port", int(ports[0])), ctx, (*bpath, "port"))


def _attack_sources(w: dict[str, Any], single: bool, path: KeyPath, ctx: Ctx) -> int:
    """How many hosts a scan or brute force comes from (a whole number, 1 by default)."""
    if "sources" in w and not single:
        raise ctx.error((*path, "sources"), "sources applies to scan and bruteforce workloads")
    n_sources = int(read_number(w.get("sources", 1), ctx, (*path, "sources"), lo=1, hi=65536))
    if n_sources != w.get("sources", 1):
        raise ctx.error((*path, "sources"), f"expected a whole number of hosts, got {w['sources']!r}")
    return n_sources


def _traffic_ranges(
    w: dict[str, Any], kind: str, rate: float, has_backend: bool, amplitude: float, path: KeyPath, ctx: Ctx
) -> tuple[Range, Range, Range, Range]:
    """(exchanges, request_bytes, response_bytes, requests) of a flow, refused when the worst case of
    ``rate`` times the packets of such a flow exceeds the packet-rate limit."""
    exchanges = read_range(w.get("exchanges"), ctx, (*path, "exchanges"), (1, 1), lo=1, hi=limits.MAX_PER_FLOW)
    if "exchanges" in w and (kind not in ("tcp", "bruteforce") or has_backend):
        raise ctx.error((*path, "exchanges"), "exchanges apply to tcp workloads without a backend")
    size = limits.MAX_MESSAGE_BYTES
    request_bytes = read_range(w.get("request_bytes"), ctx, (*path, "request_bytes"), (200, 600), hi=size)
    response_bytes = read_range(w.get("response_bytes"), ctx, (*path, "response_bytes"), (500, 20000), hi=size)
    requests = read_range(w.get("requests"), ctx, (*path, "requests"), (4, 4) if kind == "icmp" else (1, 1), lo=1,
                      hi=limits.MAX_PER_FLOW)
    per_flow = limits.packets_per_flow(request_bytes.hi, response_bytes.hi, exchanges.hi, requests.hi)
    problem = limits.packet_rate_problem(rate, per_flow, amplitude)
    if problem is not None:
        raise ctx.error((*path, "rate"), problem)
    return exchanges, request_bytes, response_bytes, requests
