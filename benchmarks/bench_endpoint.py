"""The endpoint under load: DescribeFlowLogs from concurrent boto3 clients against `vpcflow serve` on loopback.

    python benchmarks/bench_endpoint.py [--clients 8] [--calls 400] [--flow-logs 20] [--workers 1]
                                        [--client-processes 1]

Starts `vpcflow serve` as its own process (port 0, a fresh data directory holding the test topology and
``--flow-logs`` flow logs), then measures (wall clock, on the client side):

* throughput: ``--clients`` threads, each with its own boto3 client and kept-alive connection, making
  ``--calls`` DescribeFlowLogs calls each; requests/s over the whole batch. With ``--client-processes P``
  the clients are spread over P processes (boto3's own CPU per call, under one interpreter lock, is
  otherwise the limit); ``--workers W`` runs `vpcflow serve --workers W`;
* server CPU: the server process tree's user + system CPU (from /proc) over the throughput batch, per
  request: on a machine where the clients share the cores, the capacity the server alone would have;
* latency: one client making ``--calls`` calls in a row; p50 / p90 / p99 in milliseconds.

Targets (issue 12): at least 1,000 requests/s with 8 clients, one client's p50 under 5 ms.
Prints figures; never asserts on speed. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
HERE = Path(__file__).resolve().parent


def _data_dir(root: Path, flow_logs: int) -> Path:
    sys.path.insert(0, str(HERE.parent / "tests" / "api"))
    from api_helpers import VPC, make_data_dir  # the API tests' topology: a VPC, a subnet, an ENI, IAM users

    dd = make_data_dir(root)
    from vpcflow.runtime.client import Ec2Client

    with Ec2Client(dd) as c:
        for i in range(flow_logs):
            c.create_flow_logs(ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL",
                               LogDestinationType="s3", LogDestination=f"arn:aws:s3:::api-test-logs/p{i}/")
    return dd


def _client(url: str) -> Any:
    return boto3.client("ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ROOT[0],
                        aws_secret_access_key=ROOT[1], config=Config(retries={"total_max_attempts": 1}))


def _serve(dd: Path, workers: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "vpcflow.cli.main", "serve", "--data-dir", str(dd), "--port", "0",
                             "--log-level", "warning", "--workers", str(workers)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    m = re.match(r"vpcflow endpoint (http://\S+) ", proc.stdout.readline())
    if not m:
        proc.kill()
        raise SystemExit("the endpoint did not start")
    url = m.group(1)
    deadline = time.monotonic() + 30
    while True:
        try:
            _client(url).describe_flow_logs()
            return proc, url
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.2)


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (uvicorn's worker processes), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def throughput(url: str, clients: int, calls: int) -> float:
    start, end = _batch(url, clients, calls)
    return clients * calls / (end - start)


def _batch(url: str, clients: int, calls: int) -> tuple[float, float]:
    """Run the batch; (start, end) wall-clock epoch seconds from the moment every client is warm."""
    ready = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def work() -> None:
        c = _client(url)
        c.describe_flow_logs()  # connection and signer warm
        ready.wait()
        try:
            for _ in range(calls):
                c.describe_flow_logs()
        except BaseException as e:  # reported, not raised in a thread
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.time()
    for t in threads:
        t.join()
    t1 = time.time()
    if errors:
        raise errors[0]
    return t0, t1


def _throughput_child(args: tuple[str, int, int]) -> tuple[float, float, int]:
    """One client process: (start, end, calls) of its threads' batch, wall clock."""
    url, clients, calls = args
    start, end = _batch(url, clients, calls)
    return start, end, clients * calls


def throughput_processes(url: str, clients: int, calls: int, processes: int) -> float:
    from multiprocessing import get_context

    per = max(1, clients // processes)
    with get_context("spawn").Pool(processes) as pool:
        spans = pool.map(_throughput_child, [(url, per, calls)] * processes)
    start, end = min(s for s, _, _ in spans), max(e for _, e, _ in spans)
    return sum(n for _, _, n in spans) / (end - start)


def latency(url: str, calls: int) -> list[float]:
    c = _client(url)
    for _ in range(20):
        c.describe_flow_logs()
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        c.describe_flow_logs()
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--flow-logs", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--client-processes", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dd = _data_dir(Path(tmp), args.flow_logs)
        proc, url = _serve(dd, args.workers)
        try:
            cpu0, client0 = _tree_cpu_s(proc.pid), time.process_time()
            rps = (throughput(url, args.clients, args.calls) if args.client_processes == 1 else
                   throughput_processes(url, args.clients, args.calls, args.client_processes))
            server_cpu = _tree_cpu_s(proc.pid) - cpu0
            client_cpu = time.process_time() - client0  # this process's clients (not --client-processes' children)
            lat = latency(url, args.calls)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    q = statistics.quantiles(lat, n=100)
    print(json.dumps({
        "describe_flow_logs": {"flow_logs": args.flow_logs, "clients": args.clients, "workers": args.workers,
                               "client_processes": args.client_processes, "requests_per_s": round(rps, 1),
                               # the server's own CPU per request: what caps it when clients run elsewhere
                               "server_cpu_ms_per_request": round(1000 * server_cpu / (args.clients * args.calls), 3),
                               # boto3's own CPU per call (signing, HTTP, parsing): on 2 cores it is the limit
                               **({"client_cpu_ms_per_request": round(1000 * client_cpu / (args.clients * args.calls), 3)}
                                  if args.client_processes == 1 else {})},
        "one_client_ms": {"p50": round(q[49], 2), "p90": round(q[89], 2), "p99": round(q[98], 2),
                          "calls": len(lat)},
    }, indent=2))


if __name__ == "__main__":
    main()
