"""End-to-end data-plane benchmark: a pcap file -> AWS flow records on disk, against nfdump's nfpcapd.

    python benchmarks/bench_end_to_end.py [--packets 5000000] [--flows 50000] [--workdir DIR]
                                          [--memory-packets 20000000] [--stages] [--keep]

1. Writes a capture of ``--packets`` packets over ``--flows`` TCP/UDP/ICMP flows (Ethernet, headers
   only: snaplen 128, as flow tools capture) between internet clients and a 100-ENI topology
   (4 subnets, security groups and network ACLs that reject part of the traffic).
2. Runs vpcflow in a child process: pcap source -> policy engine (real SG/NACL evaluation and
   connection tracking) -> aggregation (one VPC flow log, default format, 60-s windows) -> gzip text
   records on disk. Prints packets/s, records, and the child's peak memory (ru_maxrss).
3. Runs ``nfpcapd -r FILE -w DIR`` on the same file in the same run and prints its packets/s, peak
   memory and the ratio. Target (issue #5): vpcflow >= 1.5x nfpcapd's packets/s.
4. With ``--memory-packets N`` (default 0 = skip), repeats step 2 on an N-packet capture and prints
   the peak memory (target < 1 GiB for 20,000,000 packets).

Prints figures; it is a report, never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_ENIS = 100
SUBNETS = 4
T0 = 1_700_000_000 - 1_700_000_000 % 600


def topology_yaml() -> str:
    """A 100-ENI VPC: 4 subnets of 25 web/app/db hosts, SGs per role, a NACL denying one network."""
    lines = [
        'account_id: "123456789012"', "region: us-east-1", "regions:", "  - name: us-east-1",
        "    availability_zones: [{name: us-east-1a, id: use1-az1}, {name: us-east-1b, id: use1-az2}]",
        "vpcs:", "  - name: bench", "    id: vpc-0be0c0000000000b1", "    cidr_block: 10.0.0.0/16", "    subnets:",
    ]
    for s in range(SUBNETS):
        az = "us-east-1a" if s % 2 == 0 else "us-east-1b"
        lines.append(f"      - {{name: sub{s}, id: subnet-0be0c00000000000{s}, cidr_block: 10.0.{s}.0/24, "
                     f"availability_zone: {az}}}")
    lines.append("network_interfaces:")
    for i in range(N_ENIS):
        s, h = divmod(i, N_ENIS // SUBNETS)
        role = ("web", "app", "db")[i % 3]
        lines += [f"  - name: host{i}", f"    id: eni-0be0c{i:012x}", f"    subnet: sub{s}",
                  f"    instance_id: i-0be0c{i:012x}", f"    private_ip: 10.0.{s}.{10 + h}",
                  f"    security_groups: [{role}-sg]"]
    lines += [
        "security_groups:",
        "  - name: web-sg", "    id: sg-0be0c000000000001", "    vpc: bench", "    ingress:",
        "      - {protocol: tcp, ports: 80, cidr: 0.0.0.0/0}", "      - {protocol: tcp, ports: 443, cidr: 0.0.0.0/0}",
        "      - {protocol: icmp, icmp_type: -1, cidr: 0.0.0.0/0}",
        "  - name: app-sg", "    id: sg-0be0c000000000002", "    vpc: bench", "    ingress:",
        "      - {protocol: tcp, ports: 8080, cidr: 0.0.0.0/0}", "      - {protocol: udp, ports: 53, cidr: 0.0.0.0/0}",
        "  - name: db-sg", "    id: sg-0be0c000000000003", "    vpc: bench", "    ingress:",
        "      - {protocol: tcp, ports: 5432, cidr: 10.0.0.0/16}",
        "network_acls:",
        "  - name: nacl", "    id: acl-0be0c000000000001", "    vpc: bench",
        f"    subnets: [{', '.join(f'sub{s}' for s in range(SUBNETS))}]",
        "    ingress:",
        "      - {rule: 50, protocol: all, action: deny, cidr: 45.0.0.0/8}",
        "      - {rule: 100, protocol: all, action: allow, cidr: 0.0.0.0/0}",
        "    egress:",
        "      - {rule: 100, protocol: all, action: allow, cidr: 0.0.0.0/0}",
        "route_tables:",
        "  - {name: rt, id: rtb-0be0c000000000001, vpc: bench, main: true,",
        "     routes: [{destination: 0.0.0.0/0, internet_gateway: igw}]}",
        "internet_gateways:", "  - {name: igw, id: igw-0be0c000000000001, vpc: bench}",
    ]
    return "\n".join(lines) + "\n"


def write_capture(path: Path, packets: int, flows: int, seed: int = 5) -> None:
    """Flows between internet clients and the ENIs: handshake, data both ways, FIN teardown."""
    from vpcflow.dataplane.packets import V4_MAPPED_LO, PacketBatch
    from vpcflow.dataplane.sources.pcap_writer import PcapWriter

    rng = np.random.default_rng(seed)
    per_flow = rng.multinomial(packets - 4 * flows, np.ones(flows) / flows) + 4  # >= 4 packets per flow
    server = rng.integers(0, N_ENIS, flows)
    s_net, s_host = np.divmod(server, N_ENIS // SUBNETS)
    server_ip = (10 << 24) | (s_net << 8) | (10 + s_host)
    client_ip = rng.integers(20 << 24, 60 << 24, flows)  # 20.0.0.0 - 59.255.255.255 (45/8 is denied by the NACL)
    kind = rng.choice(6, flows, p=[0.35, 0.25, 0.15, 0.1, 0.1, 0.05])
    dport = np.array([443, 80, 8080, 5432, 53, 0])[kind]  # 5432 from the internet: rejected by db-sg
    proto = np.where(kind == 4, 17, np.where(kind == 5, 1, 6))
    sport = rng.integers(1024, 65535, flows)
    start = rng.uniform(0, 540, flows)
    dur = rng.exponential(20, flows) + 0.01
    order_f = np.repeat(np.arange(flows), per_flow)
    j = np.arange(packets) - np.repeat(np.cumsum(per_flow) - per_flow, per_flow)
    n_f = per_flow[order_f]
    ts = T0 + start[order_f] + dur[order_f] * j / np.maximum(n_f - 1, 1)
    rev = (j % 2 == 1)  # odd packets: server -> client
    tcp = proto[order_f] == 6
    flags = np.where(j == 0, 0x02, np.where(j == 1, 0x12, np.where(j >= n_f - 2, 0x11, 0x10)))
    flags = np.where(tcp, flags, 0).astype(np.uint8)
    ip_len = np.where(tcp, np.where(rev, rng.integers(52, 1500, packets), rng.integers(52, 600, packets)),
                      np.where(proto[order_f] == 17, rng.integers(40, 512, packets), 84))
    order = np.argsort(ts, kind="stable")
    c_ip, s_ip = client_ip[order_f], server_ip[order_f]
    src = np.where(rev, s_ip, c_ip)[order]
    dst = np.where(rev, c_ip, s_ip)[order]
    sp = np.where(rev, dport[order_f], sport[order_f])[order]
    dp = np.where(rev, sport[order_f], dport[order_f])[order]
    pr = proto[order_f][order]
    icmp = pr == 1
    sp = np.where(icmp, 0, sp)
    dp = np.where(icmp, 0, dp)
    itype = np.where(icmp, np.where(rev[order], 0, 8), -1).astype(np.int16)
    step = 1 << 20
    with PcapWriter(path, snaplen=128) as w:
        for a in range(0, packets, step):
            b = min(packets, a + step)
            n = b - a
            w.write(PacketBatch(
                ts_ns=(ts[order][a:b] * 1e9).astype(np.int64), ip_version=np.full(n, 4, np.uint8),
                src_hi=np.zeros(n, np.uint64), src_lo=V4_MAPPED_LO | src[a:b].astype(np.uint64),
                dst_hi=np.zeros(n, np.uint64), dst_lo=V4_MAPPED_LO | dst[a:b].astype(np.uint64),
                protocol=pr[a:b].astype(np.uint8), src_port=sp[a:b].astype(np.uint16),
                dst_port=dp[a:b].astype(np.uint16), icmp_type=itype[a:b],
                icmp_code=np.where(icmp[a:b], 0, -1).astype(np.int16),
                ip_len=ip_len[order][a:b].astype(np.uint32), tcp_flags=flags[order][a:b],
                fragment=np.zeros(n, np.uint8), iface=np.full(n, -1, np.int16),
            ))


def _hwm_kb(pid: int | str = "self") -> int:
    """Peak resident set (VmHWM) of a live process. Unlike ru_maxrss it restarts at exec, so a child
    does not inherit the parent's peak (the parent has just generated the capture)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def child(capture: str, out: str, topo_path: str, stage: str = "full") -> None:
    """The measured vpcflow run (in its own process, so ru_maxrss is its own).

    ``stage``: ``full`` (pcap -> records on disk, aggregation in a worker thread), ``inline`` (the same
    in one thread), ``source`` (reading and parsing only) or ``engine`` (reading + attribution and
    SG/NACL evaluation, no aggregation): the stage breakdown.
    """
    from datetime import UTC, datetime

    from vpcflow.dataplane.aggregate.aggregator import AggregateOptions
    from vpcflow.dataplane.attribute.engine import PolicyEngine
    from vpcflow.dataplane.pipeline import run_pipeline
    from vpcflow.dataplane.sinks.files import FilesSink
    from vpcflow.dataplane.sources.capture import open_capture
    from vpcflow.model.flowlog import FlowLog
    from vpcflow.model.topology.loader import load_topology

    topo = load_topology(topo_path)
    engine = PolicyEngine(topo)
    fl = FlowLog(flow_log_id="fl-0be0c000000000001", account_id="123456789012", region="us-east-1",
                 resource_id="vpc-0be0c0000000000b1", resource_type="VPC", traffic_type="ALL",
                 log_destination_type="s3", creation_time=datetime(2023, 1, 1, tzinfo=UTC),
                 log_destination="arn:aws:s3:::bench", max_aggregation_interval=60)
    sink = FilesSink(Path(out))
    cpu0 = _cpu_s()
    if stage not in ("full", "inline"):
        t = time.perf_counter()
        n = 0
        for b in open_capture(capture, reorder_window_s=0.0).batches():
            n += len(b)
            if stage == "engine":
                engine.observe(b)
        print(json.dumps({"packets": n, "records": 0, "wall_s": time.perf_counter() - t, "cpu_s": _cpu_s() - cpu0,
                          "maxrss_kb": _hwm_kb()}))
        return
    t = time.perf_counter()
    stats = run_pipeline([open_capture(capture, reorder_window_s=0.0)], engine, [fl], topo,
                         {fl.flow_log_id: sink}, options=AggregateOptions(), threaded=stage == "full")
    wall = time.perf_counter() - t
    print(json.dumps({"packets": stats.packets, "records": stats.records, "wall_s": wall, "cpu_s": _cpu_s() - cpu0,
                      "maxrss_kb": _hwm_kb()}))


def run_vpcflow(capture: Path, work: Path, topo: Path, stage: str = "full") -> dict[str, float]:
    out = work / "vpcflow-out"
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--child", str(capture), str(out), str(topo), stage],
                       capture_output=True, text=True, check=False)
    total = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"vpcflow child failed:\n{p.stderr}")
    res: dict[str, float] = json.loads(p.stdout.strip().splitlines()[-1])
    res["process_s"] = total
    return res


def run_nfpcapd(capture: Path, work: Path) -> dict[str, float] | None:
    exe = shutil.which("nfpcapd")
    if exe is None:
        print("nfpcapd not found (Debian package nfdump): skipping the comparison")
        return None
    out = work / "nfpcapd-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.Popen([exe, "-r", str(capture), "-w", str(out)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    rss = 0
    while p.poll() is None:  # sample VmHWM until it exits (ru_maxrss would include our own peak)
        rss = max(rss, _hwm_kb(p.pid))
        time.sleep(0.01)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the delta is nfpcapd's (reaped by poll)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if p.returncode != 0:
        err = p.stderr.read() if p.stderr else ""
        print(f"nfpcapd failed ({p.returncode}): {err.strip()[:500]}")
        return None
    return {"wall_s": wall, "cpu_s": cpu, "maxrss_kb": float(rss)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=5_000_000)
    ap.add_argument("--flows", type=int, default=50_000)
    ap.add_argument("--memory-packets", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--stages", action="store_true", help="also time source-only and source+engine runs")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="vpcflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    topo = work / "topology.yaml"
    topo.write_text(topology_yaml())
    cap = work / "bench.pcap"
    t = time.perf_counter()
    write_capture(cap, args.packets, args.flows)
    print(f"capture: {args.packets:,} packets, {args.flows:,} flows, snaplen 128, {cap.stat().st_size / 2**20:,.0f} MiB "
          f"(written in {time.perf_counter() - t:.1f} s)")
    subprocess.run(["cat", str(cap)], stdout=subprocess.DEVNULL, check=False)  # warm the page cache for both
    v = run_vpcflow(cap, work, topo)
    v_pps = v["packets"] / v["wall_s"]
    v_cpu = v["packets"] / v["cpu_s"]
    print(f"vpcflow : {v['packets']:,.0f} packets -> {v['records']:,.0f} records in {v['wall_s']:.2f} s "
          f"(pipeline) / {v['process_s']:.2f} s (process, incl. imports and JIT load): {v_pps:,.0f} packets/s "
          f"({v['packets'] / v['process_s']:,.0f} incl. start-up; {v_cpu:,.0f} per CPU second); "
          f"peak RSS {v['maxrss_kb'] / 1024:,.0f} MiB")
    if args.stages:
        for stage in ("source", "engine", "inline"):
            r = run_vpcflow(cap, work, topo, stage)
            print(f"  stage {stage:6s}: {r['wall_s']:.2f} s, {r['packets'] / r['wall_s']:,.0f} packets/s "
                  f"({r['packets'] / r['cpu_s']:,.0f} per CPU second), peak RSS {r['maxrss_kb'] / 1024:,.0f} MiB")
    n = run_nfpcapd(cap, work)
    if n is not None:
        n_pps = args.packets / n["wall_s"]
        n_cpu = args.packets / n["cpu_s"]
        print(f"nfpcapd : {args.packets:,} packets in {n['wall_s']:.2f} s: {n_pps:,.0f} packets/s "
              f"({n_cpu:,.0f} per CPU second); peak RSS {n['maxrss_kb'] / 1024:,.0f} MiB")
        print(f"ratio   : vpcflow / nfpcapd = {v_pps / n_pps:.2f}x (pipeline, wall), "
              f"{v['packets'] / v['process_s'] / n_pps:.2f}x (whole process, wall), {v_cpu / n_cpu:.2f}x (per CPU "
              "second); target >= 1.5x")
    if args.memory_packets:
        big = work / "memory.pcap"
        write_capture(big, args.memory_packets, max(args.flows, args.memory_packets // 100), seed=7)
        m = run_vpcflow(big, work, topo)
        print(f"memory  : {m['packets']:,.0f} packets, peak RSS {m['maxrss_kb'] / 1024:,.0f} MiB (target < 1024 MiB), "
              f"{m['packets'] / m['wall_s']:,.0f} packets/s")
        big.unlink()
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    elif not args.keep:
        os.remove(cap)


if __name__ == "__main__":
    main()
