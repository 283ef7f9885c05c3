"""`vpcflow run` end to end against nfdump's `nfpcapd`, whole processes, alternating, on the same capture.

    python benchmarks/bench_run_vs_nfpcapd.py [--packets 5000000] [--flows 20000] [--rounds 5] [--workdir DIR]

Writes a capture of ``--packets`` packets over ``--flows`` flows between internet clients and a 100-ENI
VPC (the topology of bench_end_to_end.py: security groups and a network ACL that reject part of the
traffic), and a run config with one VPC flow log to the local bucket store as gzip text (60-s windows).
Then, ``--rounds`` times in turn: `vpcflow run CONFIG --data-dir <fresh>` (process start, imports, the
native core, delivery included) and `nfpcapd -r FILE -w DIR`. For each it prints the median wall time,
packets/s and peak RSS (the child's own ``ru_maxrss`` from ``wait4``), and the ratio of medians
(nfpcapd time / vpcflow time: above 1, vpcflow is faster). Issue 10's targets: 5,000,000 packets at
least 2x, 20,000,000 at least 2.5x, 1,000,000 distinct flows at least 1.5x with peak memory at most
512 MiB. Prints figures; never asserts on speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_end_to_end import topology_yaml, write_capture  # the same capture and network as the stage benchmark

RUN_CONFIG = """\
topology: {topology}
flow_logs:
  create:
    - ResourceIds: [vpc-0be0c0000000000b1]
      ResourceType: VPC
      TrafficType: ALL
      LogDestinationType: s3
      LogDestination: arn:aws:s3:::bench-flow-logs
      MaxAggregationInterval: 60
sources:
  - capture: {capture}
"""


def timed(argv: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS KiB, exit status) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0 and proc.stderr is not None:
        sys.stderr.write(proc.stderr.read().decode(errors="replace")[-2000:])
    return wall, int(usage.ru_maxrss), os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=5_000_000)
    ap.add_argument("--flows", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("nfpcapd") is None:
        raise SystemExit("nfpcapd is not installed (apt-get install nfdump)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="vpcflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    capture = work / f"bench-{args.packets}-{args.flows}.pcap"
    if not capture.exists():
        print(f"writing {capture} ...", flush=True)
        write_capture(capture, args.packets, args.flows)
    topo = work / "topology.yaml"
    topo.write_text(topology_yaml() + "\ns3_buckets:\n  - {name: bench-flow-logs}\n")
    config = work / "run.yaml"
    config.write_text(RUN_CONFIG.format(topology=topo, capture=capture))
    vpcflow = [sys.executable, "-m", "vpcflow.cli.main", "run", str(config)]
    results: dict[str, list[tuple[float, int]]] = {"vpcflow": [], "nfpcapd": []}
    for r in range(args.rounds):
        data, nf_out = work / "data", work / "nfcapd"
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(nf_out, ignore_errors=True)
        nf_out.mkdir()
        wall, rss, code = timed([*vpcflow, "--data-dir", str(data)])
        results["vpcflow"].append((wall, rss))
        nf_wall, nf_rss, nf_code = timed(["nfpcapd", "-r", str(capture), "-w", str(nf_out)])
        results["nfpcapd"].append((nf_wall, nf_rss))
        print(f"round {r + 1}: vpcflow {wall:.2f} s, nfpcapd {nf_wall:.2f} s", flush=True)
        if code != 0 or nf_code != 0:
            raise SystemExit(f"a run failed (vpcflow exit {code}, nfpcapd exit {nf_code}): no figures")
    med = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    for name, runs in results.items():
        rss = max(m for _, m in runs) / 1024
        print(f"{name:8} median {med[name]:.2f} s  {args.packets / med[name]:,.0f} packets/s  peak RSS {rss:,.0f} MiB")
    ratios = [n / v for (v, _), (n, _) in zip(results["vpcflow"], results["nfpcapd"], strict=True)]
    print(f"speed vs nfpcapd (nfpcapd time / vpcflow time): median of pairs {statistics.median(ratios):.2f}x, "
          f"ratio of medians {med['nfpcapd'] / med['vpcflow']:.2f}x  ({args.packets:,} packets, {args.flows:,} flows)")


if __name__ == "__main__":
    main()
