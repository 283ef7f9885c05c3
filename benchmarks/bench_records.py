"""Benchmark of the record codecs: render/parse text and write/read Parquet.

Runs 1,000,000 records (``--rows``) in the default format and in the 29-field version-5 format of
the spec 8.1 Athena table, and prints records/s and the peak memory of each step. Figures are
reported, never asserted (docs/benchmarks.md, section "Record codecs").

    python benchmarks/bench_records.py [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from vpcflow.codecs.addresses import addresses_to_strings
from vpcflow.codecs.parquet import read_parquet, write_parquet
from vpcflow.codecs.records import record_table
from vpcflow.codecs.text import decode_text, render_text
from vpcflow.model.fields import FIELDS, VPC_FIELDS, ValueType
from vpcflow.model.logformat import LogFormat, parse_log_format

PAGE = os.sysconf("SC_PAGE_SIZE")

#: The spec 8.1 Athena table's columns: every VPC field up to version 5, in catalogue order.
ATHENA_V5 = [f.name for f in VPC_FIELDS if f.version <= 5]


def _ints(name: str, rng: np.random.Generator, rows: int) -> np.ndarray:
    """Integer values distributed roughly as in real flow logs (small counts, common ports)."""
    if name in ("srcport", "dstport"):
        common = np.array([22, 53, 80, 123, 443, 3306, 3389, 5432, 8080])
        return np.where(rng.random(rows) < 0.5, common[rng.integers(0, len(common), rows)],
                        rng.integers(1024, 65536, rows))
    if name == "protocol":
        return np.array([6, 17, 1, 58])[rng.integers(0, 4, rows)]
    if name == "packets":
        return rng.geometric(0.05, rows)
    if name == "bytes":
        return rng.geometric(0.05, rows) * rng.integers(40, 1500, rows)
    if name == "tcp-flags":
        return np.array([0, 1, 2, 3, 18, 19, 4])[rng.integers(0, 7, rows)]
    if name == "traffic-path":
        return rng.integers(1, 9, rows)
    f = FIELDS[name]
    return rng.integers(f.min_value or 0, min(f.max_value or 2**31, 2**31), rows)


def synthetic_table(fmt: LogFormat, rows: int, seed: int = 7) -> pa.Table:
    """Plausible records, built column-wise (a few percent NODATA-style nulls)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    null = rng.random(rows) < 0.03
    for name in fmt.fields:
        f = FIELDS[name]
        if name.endswith("addr"):
            v4 = rng.integers(0x0A000000, 0x0A00FFFF, rows, dtype=np.uint64)
            cols[name] = addresses_to_strings(np.zeros(rows, np.uint64), v4 | np.uint64(0xFFFF_0000_0000), ~null)
        elif name == "version":
            cols[name] = fmt.version
        elif f.values:
            choice = np.array(f.values, dtype=object)[rng.integers(0, len(f.values), rows)]
            cols[name] = pa.array(choice, mask=null if f.role.value == "packet" else None, type=pa.string())
        elif f.value_type is ValueType.STRING:
            pool = np.array([f"{name[:3]}-{i:017x}" for i in range(512)], dtype=object)
            cols[name] = pa.array(pool[rng.integers(0, len(pool), rows)], type=pa.string())
        elif name in ("start", "end"):
            cols[name] = 1_700_000_000 + rng.integers(0, 600, rows)
        else:
            cols[name] = np.ma.MaskedArray(_ints(name, rng, rows), mask=null)
    return record_table(fmt, cols, length=rows)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRss:
    """Samples the resident set size every 2 ms in a thread; ``peak`` is the highest seen.

    (tracemalloc misses Arrow's C++ allocations, and crashed together with pyarrow's threads.)
    """

    def __enter__(self) -> PeakRss:
        self.base = _rss()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def measure(label: str, rows: int, fn: Callable[[], Any], repeat: int) -> Any:
    result = None
    best = float("inf")
    with PeakRss() as mem:
        for _ in range(repeat):
            result = None  # let the previous result go before measuring the next one
            t0 = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - t0)
    grow = (mem.peak - mem.base) / 2**20
    print(f"  {label:<14} {rows / best:>12,.0f} records/s  {best:7.3f} s  peak RSS {mem.peak / 2**20:7.0f} MiB"
          f" (+{grow:.0f} MiB)")
    return result


def run(fmt: LogFormat, label: str, rows: int, repeat: int) -> None:
    print(f"{label}: {len(fmt.fields)} fields, version {fmt.version}, {rows:,} records")
    table = synthetic_table(fmt, rows)
    text = measure("render text", rows, lambda: render_text(table), repeat)
    measure("render+gzip", rows, lambda: gzip.compress(render_text(table), compresslevel=6, mtime=0), repeat)
    parsed = measure("parse text", rows, lambda: decode_text(text, fmt).table, repeat)
    assert parsed.num_rows == rows

    def write() -> bytes:
        buf = io.BytesIO()
        write_parquet(table, buf, log_format=fmt)
        return buf.getvalue()

    data = measure("write parquet", rows, write, repeat)
    measure("read parquet", rows, lambda: read_parquet(data), repeat)
    print(f"  sizes: text {len(text) / 2**20:.1f} MiB, parquet (gzip) {len(data) / 2**20:.1f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    run(parse_log_format(None), "default format", args.rows, args.repeat)
    v5 = parse_log_format(" ".join("${" + n + "}" for n in ATHENA_V5))
    run(v5, "Athena v5 format", args.rows, args.repeat)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of the process: {rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
