"""Start-up of the ``vpcflow`` command (issue 10, item 4), whole processes.

    python benchmarks/bench_startup.py [--rounds 7] [--src DIR ...]

Runs, ``--rounds`` times in turn, ``vpcflow --help``, ``vpcflow fields`` and ``vpcflow run
examples/run/pcap-run.yaml --data-dir <fresh>`` (1,074 packets, one flow log to the local bucket
store) as ``python -m vpcflow.cli.main`` in fresh interpreters, and prints each one's minimum and
median wall time and CPU time (user + system of the child). ``--src`` (repeatable) names other
``src`` folders to alternate with this checkout's (e.g. an export of an older commit, with its
``vpcflow/_native`` extension): load changes then hit every tree alike. Bytecode is cached in a
temporary folder shared by the rounds (the first round of each tree compiles; a user's install has
its ``__pycache__``). Issue 10's targets: ``--help`` and ``fields`` under 0.3 s, the run under 0.5 s
wall. Then prints where a run's import time goes (``-X importtime``, self times summed per top-level
package, the minimum of the rounds). Prints figures; never asserts on speed.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "run" / "pcap-run.yaml"


def commands(data_dir: Path) -> dict[str, list[str]]:
    return {"--help": ["--help"], "fields": ["fields"],
            "run (1,074 packets)": ["run", str(CONFIG), "--data-dir", str(data_dir)]}


def environment(src: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONPYCACHEPREFIX=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(args: list[str], env: dict[str, str], stderr: int | None = subprocess.DEVNULL) -> tuple[float, float, str]:
    """(wall s, CPU s, stderr text) of one ``python -m vpcflow.cli.main ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=stderr if stderr is not None else subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr or ""


def import_profile(text: str) -> dict[str, int]:
    """Self import time (µs) per top-level package from ``-X importtime`` output."""
    per: dict[str, int] = collections.Counter()
    for line in text.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            self_us, _, name = line[len("import time:"):].split("|")
            per[name.strip().split(".")[0]] += int(self_us)
    return per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--src", action="append", type=Path, default=[], help="another src folder to alternate with")
    a = ap.parse_args()
    trees = [ROOT / "src", *a.src]
    work = Path(tempfile.mkdtemp(prefix="vpcflow-startup-"))
    results: dict[tuple[Path, str], list[tuple[float, float]]] = collections.defaultdict(list)
    imports: dict[Path, dict[str, int]] = {}
    try:
        for r in range(a.rounds + 1):  # round 0 fills the bytecode cache and is not counted
            for tree in trees:
                env = environment(tree, work / "pycache")
                for label, args in commands(work / "data").items():
                    shutil.rmtree(work / "data", ignore_errors=True)
                    wall, cpu, _ = timed(["-m", "vpcflow.cli.main", *args], env)
                    if r:
                        results[(tree, label)].append((wall, cpu))
                shutil.rmtree(work / "data", ignore_errors=True)
                run_args = commands(work / "data")["run (1,074 packets)"]
                _, _, err = timed(["-X", "importtime", "-m", "vpcflow.cli.main", *run_args], env, stderr=None)
                per = import_profile(err)
                if r:  # the minimum over the counted rounds: the figure least disturbed by other work
                    imports[tree] = {k: min(v, imports.get(tree, per).get(k, v)) for k, v in per.items()}
        for (tree, label), v in results.items():
            walls, cpus = [x[0] for x in v], [x[1] for x in v]
            print(f"{tree!s:40s} {label:20s} wall min {min(walls):.3f} s median {statistics.median(walls):.3f} s"
                  f" | CPU min {min(cpus):.3f} s median {statistics.median(cpus):.3f} s")
        for tree, per in imports.items():
            top = sorted(per.items(), key=lambda kv: -kv[1])[:10]
            print(f"{tree}: run imports {sum(per.values()) / 1000:.0f} ms: "
                  + ", ".join(f"{k} {v / 1000:.0f}" for k, v in top))
        print(f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
