"""Function-level benchmark of closing windows: ``FlowLogAggregator.advance`` on closed partial records.

Fills one flow log's fold state (default format, 60-s windows, three ENIs, two windows) with
``--records`` distinct partial records (IPv4, or ``--ipv6``) and times ``advance(None)``: the SKIPDATA
cut, the row order, every column and the REJECT side channel (``native/src/aggregate/records/``) plus
the Python takes over the ENI table. Prints wall and CPU seconds of one call; figures are reported,
never asserted. Run it alone on a quiet machine (one call, a few seconds of CPU).

    python benchmarks/bench_record_tables.py [--records N] [--ipv6]
"""

from __future__ import annotations

import argparse
import ipaddress
import time
from datetime import UTC, datetime

import numpy as np

from vpcflow.dataplane.aggregate.aggregator import AggregateOptions, FlowLogAggregator
from vpcflow.dataplane.aggregate.fields import EniTable
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import NetworkInterface, Subnet, Topology, Vpc

ACCOUNT = "123456789010"
T0 = 1_600_000_200  # a multiple of 60


def _aggregator() -> FlowLogAggregator:
    vpc = Vpc("vpc-abcdefab012345678", ACCOUNT, "us-east-1", (ipaddress.IPv4Network("10.0.0.0/16"),))
    subnet = Subnet("subnet-aaaaaaaa012345678", vpc.vpc_id, ipaddress.IPv4Network("10.0.0.0/24"), "us-east-1a",
                    "use1-az1")
    enis = tuple(NetworkInterface(f"eni-{i}234567890abcdef0", subnet.subnet_id, vpc.vpc_id, ACCOUNT,
                                  ipaddress.IPv4Address(f"10.0.0.{10 + i}")) for i in range(3))
    topo = Topology(account_id=ACCOUNT, region="us-east-1", vpcs=(vpc,), subnets=(subnet,), network_interfaces=enis)
    fl = FlowLog(flow_log_id="fl-0123456789abcdef0", account_id=ACCOUNT, region="us-east-1",
                 resource_id=vpc.vpc_id, resource_type="VPC", traffic_type="ALL", log_destination_type="s3",
                 creation_time=datetime(2020, 1, 1, tzinfo=UTC), log_destination="arn:aws:s3:::bench",
                 max_aggregation_interval=60)
    agg = FlowLogAggregator(fl, EniTable(topo), AggregateOptions(), [], [])
    agg.covered_indexes()
    agg._sync_enis()
    return agg


def _fill(agg: FlowLogAggregator, n: int, ipv6: bool) -> None:
    """``n`` distinct partial records: random ports and addresses, half of them REJECT."""
    rng = np.random.default_rng(1)
    u64 = np.uint64
    ws = u64(T0) + u64(60) * rng.integers(0, 2, n).astype(u64)
    keys = np.zeros((n, agg.spec.nkeys), u64)
    keys[:, 0] = rng.integers(0, 3, n).astype(u64) << u64(34) | ws
    keys[:, 1] = (rng.integers(0, 4, n).astype(u64) | u64(6) << u64(2)
                  | rng.integers(1024, 65535, n).astype(u64) << u64(10)
                  | rng.choice([80, 443, 53, 22], n).astype(u64) << u64(26) | u64(int(ipv6)) << u64(42))
    if ipv6:
        keys[:, 2], keys[:, 4] = u64(0x20010DB800000000), u64(0x20010DB800010000)
        keys[:, 3], keys[:, 5] = rng.integers(1, 2**40, n).astype(u64), rng.integers(1, 2**20, n).astype(u64)
    else:
        keys[:, 3] = u64(0xFFFF_0000_0000) | rng.integers(0x0A000000, 0x0AFFFFFF, n).astype(u64)
        keys[:, 5] = u64(0xFFFF_0000_0000) | rng.integers(0xC6336400, 0xC63364FF, n).astype(u64)
    first = (ws + rng.integers(0, 60, n).astype(u64)).astype(np.int64)
    last = np.minimum(first + rng.integers(0, 30, n), ws.astype(np.int64) + 59)
    packets = rng.integers(1, 10, n).astype(np.int64)
    agg._open.absorb(keys, packets, packets * 100, first, last, rng.choice([0, 2, 0x12, 0x13], n).astype(np.uint8),
                     np.full(n, -1, np.int32))
    agg.run_start_s = T0
    agg.note_time(T0 + 119)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--ipv6", action="store_true")
    args = ap.parse_args()
    agg = _aggregator()
    _fill(agg, args.records, args.ipv6)
    wall, cpu = time.perf_counter(), time.process_time()
    out = agg.advance(None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    family = "IPv6" if args.ipv6 else "IPv4"
    print(f"advance: {out.table.num_rows:,} rows ({family}), {wall:.3f} s wall, {cpu:.3f} s CPU")


if __name__ == "__main__":
    main()
