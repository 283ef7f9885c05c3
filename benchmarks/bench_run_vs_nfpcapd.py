"""`vpcflow run` end to end against nfdump's `nfpcapd`, whole processes, alternating, on the same captures.

    python benchmarks/bench_run_vs_nfpcapd.py [--workload 5m|20m|1m-flows|all] [--rounds 5] [--workdir DIR]
    python benchmarks/bench_run_vs_nfpcapd.py --packets N --flows F [--rounds 5]      # any other size

Issue 10's three workloads (``--workload all`` runs them one after the other):

=========  ===========  ===========  ==================================================
workload   packets      5-tuples     targets (nfpcapd time / vpcflow time; peak memory)
=========  ===========  ===========  ==================================================
5m         5,000,000    20,000       at least 2x (goal 3x)
20m        20,000,000   20,000       at least 2.5x; peak memory at most 512 MiB
1m-flows   5,000,000    1,000,000    at least 1.5x; peak memory at most 512 MiB
=========  ===========  ===========  ==================================================

For each, writes (once, kept in ``--workdir``) a capture between internet clients and a 100-ENI VPC
(the topology of bench_end_to_end.py: security groups and a network ACL that reject part of the
traffic) and a run config with one VPC flow log to the local bucket store as gzip text (60-s
windows). Then, ``--rounds`` times in turn: `vpcflow run CONFIG --data-dir <fresh>` (process start,
imports, the native core, delivery included) and `nfpcapd -r FILE -w DIR`. Prints, for each tool,
the median wall time, the median CPU time (user + system), packets/s and the peak RSS over the
rounds (the child's ``ru_maxrss`` from ``wait4``), and the ratios (nfpcapd / vpcflow: above 1,
vpcflow is faster): median of the pairs and ratio of the medians, wall and CPU.

Captures are written by a child process, so this process stays small: a child's ``ru_maxrss``
starts from its parent's resident memory at ``fork``/``exec``. Prints figures; never asserts on speed.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

WORKLOADS: dict[str, tuple[int, int]] = {
    "5m": (5_000_000, 20_000),
    "20m": (20_000_000, 20_000),
    "1m-flows": (5_000_000, 1_000_000),
}
MEMORY_TARGET_MIB = 512

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


class Run:
    """One child process's figures."""

    def __init__(self, wall: float, cpu: float, rss_kib: int) -> None:
        self.wall, self.cpu, self.rss_kib = wall, cpu, rss_kib


def timed(argv: list[str]) -> tuple[Run, int]:
    """(figures, exit status) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0 and proc.stderr is not None:
        sys.stderr.write(proc.stderr.read().decode(errors="replace")[-2000:])
    if proc.stderr is not None:
        proc.stderr.close()
    return Run(wall, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss)), os.waitstatus_to_exitcode(status)


def ensure_capture(work: Path, packets: int, flows: int) -> Path:
    """The workload's capture in ``work`` (written by a child process the first time)."""
    capture = work / f"bench-{packets}-{flows}.pcap"
    if not capture.exists():
        print(f"writing {capture} ...", flush=True)
        partial = capture.with_suffix(".partial")
        code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); from pathlib import Path; "
                f"from bench_end_to_end import write_capture; write_capture(Path({str(partial)!r}), {packets}, {flows})")
        subprocess.run([sys.executable, "-c", code], check=True)
        partial.rename(capture)
    return capture


def precompile_vpcflow() -> None:
    """Byte-compile vpcflow's modules once, as installing a wheel does.

    An editable install run with ``PYTHONDONTWRITEBYTECODE=1`` (this project's machines set it)
    never caches bytecode, so every measured process compiled every module it imported: about 0.2 s
    of CPU per run, a cost no installed copy pays (docs/benchmarks.md). Done in a child process so this
    one stays small.
    """
    code = "import compileall, pathlib, vpcflow; compileall.compile_dir(pathlib.Path(vpcflow.__file__).parent, quiet=1)"
    subprocess.run([sys.executable, "-c", code], check=True)


def report(name: str, packets: int, results: dict[str, list[Run]]) -> None:
    """Medians, peak memory and ratios of one workload."""
    wall = {k: statistics.median(r.wall for r in v) for k, v in results.items()}
    cpu = {k: statistics.median(r.cpu for r in v) for k, v in results.items()}
    for tool, runs in results.items():
        peak = max(r.rss_kib for r in runs) / 1024
        print(f"  {tool:8} median {wall[tool]:6.2f} s wall, {cpu[tool]:6.2f} s CPU, "
              f"{packets / wall[tool]:>12,.0f} packets/s, peak RSS {peak:,.0f} MiB")
    pairs = list(zip(results["vpcflow"], results["nfpcapd"], strict=True))
    wall_pairs = statistics.median(n.wall / v.wall for v, n in pairs)
    cpu_pairs = statistics.median(n.cpu / v.cpu for v, n in pairs)
    print(f"  {name}: speed vs nfpcapd (nfpcapd / vpcflow): wall {wall_pairs:.2f}x (median of pairs), "
          f"{wall['nfpcapd'] / wall['vpcflow']:.2f}x (ratio of medians); CPU {cpu_pairs:.2f}x, "
          f"{cpu['nfpcapd'] / cpu['vpcflow']:.2f}x")
    peak = max(r.rss_kib for r in results["vpcflow"]) / 1024
    verdict = "within" if peak <= MEMORY_TARGET_MIB else "above"
    print(f"  {name}: vpcflow peak RSS {peak:,.0f} MiB ({verdict} {MEMORY_TARGET_MIB} MiB)", flush=True)


def run_workload(work: Path, name: str, packets: int, flows: int, rounds: int) -> None:
    capture = ensure_capture(work, packets, flows)
    from bench_end_to_end import topology_yaml

    topo = work / "topology.yaml"
    topo.write_text(topology_yaml() + "\ns3_buckets:\n  - {name: bench-flow-logs}\n")
    config = work / f"run-{packets}-{flows}.yaml"
    config.write_text(RUN_CONFIG.format(topology=topo, capture=capture))
    vpcflow = [sys.executable, "-m", "vpcflow.cli.main", "run", str(config)]
    results: dict[str, list[Run]] = {"vpcflow": [], "nfpcapd": []}
    print(f"{name}: {packets:,} packets, {flows:,} flows, {rounds} alternating rounds", flush=True)
    for r in range(rounds):
        data, nf_out = work / "data", work / "nfcapd"
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(nf_out, ignore_errors=True)
        nf_out.mkdir()
        ours, code = timed([*vpcflow, "--data-dir", str(data)])
        theirs, nf_code = timed(["nfpcapd", "-r", str(capture), "-w", str(nf_out)])
        results["vpcflow"].append(ours)
        results["nfpcapd"].append(theirs)
        print(f"  round {r + 1}: vpcflow {ours.wall:.2f} s ({ours.cpu:.2f} CPU), "
              f"nfpcapd {theirs.wall:.2f} s ({theirs.cpu:.2f} CPU)", flush=True)
        if code != 0 or nf_code != 0:
            raise SystemExit(f"a run failed (vpcflow exit {code}, nfpcapd exit {nf_code}): no figures")
    report(name, packets, results)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--workload", choices=[*WORKLOADS, "all"], default=None,
                    help="one of issue 10's workloads, or all three (default: 5m unless --packets is given)")
    ap.add_argument("--packets", type=int, default=None)
    ap.add_argument("--flows", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("nfpcapd") is None:
        raise SystemExit("nfpcapd is not installed (apt-get install nfdump)")
    if args.packets is not None and args.workload is not None:
        raise SystemExit("give --workload or --packets/--flows, not both")
    if args.packets is not None:
        if args.packets < 4 * args.flows:
            raise SystemExit(f"--packets must be at least 4 per flow ({4 * args.flows:,} for {args.flows:,} flows)")
        chosen = {f"{args.packets}/{args.flows}": (args.packets, args.flows)}
    elif args.workload in (None, "5m"):
        chosen = {"5m": WORKLOADS["5m"]}
    elif args.workload == "all":
        chosen = dict(WORKLOADS)
    else:
        chosen = {args.workload: WORKLOADS[args.workload]}
    work = args.workdir or Path(tempfile.mkdtemp(prefix="vpcflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    precompile_vpcflow()
    for name, (packets, flows) in chosen.items():
        run_workload(work, name, packets, flows, args.rounds)


if __name__ == "__main__":
    main()
