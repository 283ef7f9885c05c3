"""Fuzz the capture parsers of the native core: at least 1,000,000 cases of arbitrary bytes and mutations
of real captures (the shipped bastion capture, as pcap and as pcapng written by vpcflow's writer), read
as the readers read them with --skip-bad. Prints what it found; asserts nothing about speed.

    python benchmarks/fuzz_capture.py [--cases N] [--seed S]

A case that panics inside the core is caught there and counted (``panics``); any panic is a bug to fix.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import vpcflow._native as native
from vpcflow.dataplane.sources.capture import CaptureSource
from vpcflow.dataplane.sources.pcap import CaptureConfig
from vpcflow.dataplane.sources.pcap_writer import write_pcapng

BASTION = Path(__file__).parents[1] / "src" / "vpcflow" / "examples" / "run" / "captures" / "bastion.pcap"


def seeds() -> list[bytes]:
    """Small slices of real captures (a case reads its whole input, so seeds stay a few KiB)."""
    data = BASTION.read_bytes()
    out = [data[:4096], data[:24] + data[40_000:44_000], data[:24] + data[-3000:]]
    first = next(iter(CaptureSource(CaptureConfig(str(BASTION), batch_packets=24)).batches()))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "b.pcapng"
        write_pcapng(p, first, snaplen=128)
        out.append(p.read_bytes()[:6000])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20261204)
    args = ap.parse_args()
    corpus = seeds()
    t0 = time.perf_counter()
    report = native.fuzz_capture(corpus, args.cases, args.seed)
    took = time.perf_counter() - t0
    print(f"seeds: {len(corpus)} ({', '.join(str(len(s)) for s in corpus)} bytes)")
    for k, v in report.items():
        print(f"{k:>18}: {v:,}")
    print(f"{'cases per second':>18}: {args.cases / took:,.0f}")
    print("no panic" if report["panics"] == 0 else f"PANICS: first at case {report['first_panic_case']}")


if __name__ == "__main__":
    main()
