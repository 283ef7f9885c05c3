"""Packet-source throughput: the synthetic generator, the pcap writer and the pcap reader.

Generates ~5,000,000 packets over ~50,000 TCP flows (headers only, snaplen 128, as flow tools capture)
into a temporary directory, then measures, each reader run in a fresh subprocess (page cache warm):

* generator packets/s (flows drawn and expanded into packets, time-sorted; nothing written),
* generator + pcap writer packets/s,
* pcap parse packets/s and the reader's peak memory (ru_maxrss of the subprocess),
* the same for the gzip-compressed file when ``--gzip`` is given, and for a pcapng copy with ``--pcapng``.

Prints figures; asserts nothing. Usage: ``python benchmarks/bench_sources.py [--flows 50000] [--gzip]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = """
topology: {topology}
start: "2026-01-05T12:00:00Z"
duration: {duration}s
seed: 1
workloads:
  - name: bulk
    kind: tcp
    from: [web-1a, web-1b, app-1a, app-1b, bastion, tools-1a]
    to: [app-1a, app-1b, db-1a, db-1b, web-1a, web-1b]
    ports: [80, 443, 5432, 8080]
    rate: {rate}
    diurnal: false
    request_bytes: [200, 3000]
    response_bytes: [60000, 116000]
"""


def child_parse(path: str) -> None:
    from vpcflow.dataplane.sources.capture import open_capture

    src = open_capture(path)
    t, c = time.perf_counter(), time.process_time()
    n = sum(len(b) for b in src.batches())
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"packets": n, "seconds": dt, "cpu": cpu, "maxrss_kb": rss}))


def run_child(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child-parse", str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=50_000)
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--gzip", action="store_true", help="also measure reading a gzip-compressed copy")
    ap.add_argument("--pcapng", action="store_true", help="also write the packets as pcapng and read that")
    ap.add_argument("--keep", type=Path, help="write the capture here instead of a temporary directory")
    ap.add_argument("--child-parse", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_parse:
        child_parse(args.child_parse)
        return

    from vpcflow.dataplane.sources.pcap_writer import PcapngWriter, PcapWriter
    from vpcflow.dataplane.sources.scenario import loads_scenario
    from vpcflow.dataplane.sources.synthetic import SyntheticConfig, SyntheticSource

    text = SCENARIO.format(
        topology=ROOT / "examples" / "topology" / "three-tier.yaml",
        duration=args.duration,
        rate=args.flows / args.duration,
    )
    scenario = loads_scenario(text, source="bench-scenario")
    tmp = Path(tempfile.mkdtemp(prefix="vpcflow-bench-"))
    out_dir = args.keep or tmp
    pcap = out_dir / "bench.pcap"
    try:
        # warm the page cache and the imports on a tiny run
        warm = SyntheticSource(
            SyntheticConfig("bench"),
            scenario=loads_scenario(text.replace(f"duration: {args.duration}s", "duration: 1s"), source="warm"),
        )
        with PcapWriter(tmp / "warm.pcap", snaplen=128) as w:
            for b in warm.batches():
                w.write(b)
        run_child(tmp / "warm.pcap")

        gen = SyntheticSource(SyntheticConfig("bench"), scenario=scenario)
        t, c = time.perf_counter(), time.process_time()
        n_gen = sum(len(b) for b in gen.batches())
        gen_s, gen_cpu = time.perf_counter() - t, time.process_time() - c
        gen_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        src = SyntheticSource(SyntheticConfig("bench"), scenario=scenario)
        t, c = time.perf_counter(), time.process_time()
        with PcapWriter(pcap, snaplen=128) as w:
            for b in src.batches():
                w.write(b)
        write_s, write_cpu = time.perf_counter() - t, time.process_time() - c
        size = pcap.stat().st_size

        parse = run_child(pcap)
        print(f"capture: {n_gen:,} packets, {gen.stats.flows:,} flows, snaplen 128, {size / 2**20:,.0f} MiB")
        print("                      wall clock            per CPU second (load-independent)")
        print(
            f"generator:            {n_gen / gen_s / 1e6:6.2f} M packets/s  {n_gen / gen_cpu / 1e6:6.2f} M packets/s"
            f"  ({gen_s:.2f} s, peak RSS {gen_rss / 1024:,.0f} MiB)"
        )
        print(
            f"generator + writer:   {n_gen / write_s / 1e6:6.2f} M packets/s  "
            f"{n_gen / write_cpu / 1e6:6.2f} M packets/s  ({write_s:.2f} s)"
        )
        print(
            f"pcap reader:          {parse['packets'] / parse['seconds'] / 1e6:6.2f} M packets/s  "
            f"{parse['packets'] / parse['cpu'] / 1e6:6.2f} M packets/s  ({parse['seconds']:.2f} s, "
            f"{size / parse['seconds'] / 2**20:,.0f} MiB/s, peak RSS {parse['maxrss_kb'] / 1024:,.0f} MiB)"
        )
        assert parse["packets"] == n_gen
        if args.gzip:
            gz = out_dir / "bench.pcap.gz"
            with open(pcap, "rb") as fi, gzip.open(gz, "wb", compresslevel=1) as fo:
                shutil.copyfileobj(fi, fo, 1 << 22)
            pz = run_child(gz)
            print(
                f"pcap.gz reader:       {pz['packets'] / pz['seconds'] / 1e6:6.2f} M packets/s  "
                f"{pz['packets'] / pz['cpu'] / 1e6:6.2f} M packets/s  ({pz['seconds']:.2f} s, "
                f"peak RSS {pz['maxrss_kb'] / 1024:,.0f} MiB)"
            )
        if args.pcapng:
            ng = out_dir / "bench.pcapng"
            with PcapngWriter(ng, snaplen=128) as wng:
                for b in SyntheticSource(SyntheticConfig("bench"), scenario=scenario).batches():
                    wng.write(b)
            pn = run_child(ng)
            print(
                f"pcapng reader:        {pn['packets'] / pn['seconds'] / 1e6:6.2f} M packets/s  "
                f"{pn['packets'] / pn['cpu'] / 1e6:6.2f} M packets/s  ({pn['seconds']:.2f} s, "
                f"peak RSS {pn['maxrss_kb'] / 1024:,.0f} MiB)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
