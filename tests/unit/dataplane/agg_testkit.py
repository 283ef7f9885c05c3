"""Builders for aggregation tests: a tiny topology and hand-made observation batches."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

import numpy as np

from vpcflow.dataplane.packets import ObservationBatch, PacketBatch, ip_to_pair
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import NetworkInterface, Subnet, Topology, Vpc

ACCOUNT = "123456789010"


def topology(nitro: bool = True) -> Topology:
    vpc = Vpc("vpc-abcdefab012345678", ACCOUNT, "us-east-1", (ipaddress.ip_network("10.0.0.0/16"),))
    subnets = (
        Subnet("subnet-aaaaaaaa012345678", vpc.vpc_id, ipaddress.ip_network("10.0.0.0/24"), "us-east-1a", "use1-az1"),
        Subnet("subnet-bbbbbbbb012345678", vpc.vpc_id, ipaddress.ip_network("10.0.1.0/24"), "us-east-1b", "use1-az2"),
    )
    enis = (
        NetworkInterface("eni-1235b8ca123456789", subnets[0].subnet_id, vpc.vpc_id, ACCOUNT,
                         ipaddress.ip_address("10.0.0.62"), instance_id="i-01234567890123456", nitro=nitro,
                         tags=(("Name", "web one"),)),
        NetworkInterface("eni-22222222222222222", subnets[1].subnet_id, vpc.vpc_id, ACCOUNT,
                         ipaddress.ip_address("10.0.1.5"), instance_id="i-0aaaaaaaaaaaaaaaa", nitro=nitro),
        NetworkInterface("eni-33333333333333333", subnets[1].subnet_id, vpc.vpc_id, ACCOUNT,
                         ipaddress.ip_address("10.0.1.220"), interface_type="nat_gateway",
                         requester_managed=True, nitro=nitro),
    )
    return Topology(account_id=ACCOUNT, region="us-east-1", vpcs=(vpc,), subnets=subnets, network_interfaces=enis)


def flow_log(resource_id: str = "vpc-abcdefab012345678", resource_type: str = "VPC", *, fmt: str | None = None,
             traffic_type: str = "ALL", interval: int = 600, fid: str = "fl-0123456789abcdef0", **kw: Any) -> FlowLog:
    extra = {} if fmt is None else {"log_format": fmt}
    return FlowLog(flow_log_id=fid, account_id=ACCOUNT, region="us-east-1", resource_id=resource_id,
                   resource_type=resource_type, traffic_type=traffic_type,  # type: ignore[arg-type]
                   log_destination_type="s3", creation_time=datetime(2020, 1, 1, tzinfo=UTC),
                   log_destination="arn:aws:s3:::bucket", max_aggregation_interval=interval, **extra, **kw)


def packets(rows: list[dict[str, Any]]) -> PacketBatch:
    """rows: dicts with ts (float seconds), src, dst, sport, dport, proto, len, flags."""
    n = len(rows)
    src = [ip_to_pair(r["src"]) for r in rows]
    dst = [ip_to_pair(r["dst"]) for r in rows]
    return PacketBatch(
        ts_ns=np.array([round(r["ts"] * 1e9) for r in rows], dtype=np.int64),
        ip_version=np.array([6 if ":" in r["src"] else 4 for r in rows], dtype=np.uint8),
        src_hi=np.array([s[0] for s in src], dtype=np.uint64), src_lo=np.array([s[1] for s in src], dtype=np.uint64),
        dst_hi=np.array([d[0] for d in dst], dtype=np.uint64), dst_lo=np.array([d[1] for d in dst], dtype=np.uint64),
        protocol=np.array([r.get("proto", 6) for r in rows], dtype=np.uint8),
        src_port=np.array([r.get("sport", 0) for r in rows], dtype=np.uint16),
        dst_port=np.array([r.get("dport", 0) for r in rows], dtype=np.uint16),
        icmp_type=np.full(n, -1, dtype=np.int16), icmp_code=np.full(n, -1, dtype=np.int16),
        ip_len=np.array([r.get("len", 60) for r in rows], dtype=np.uint32),
        tcp_flags=np.array([r.get("flags", 0) for r in rows], dtype=np.uint8),
        fragment=np.zeros(n, dtype=np.uint8), iface=np.full(n, -1, dtype=np.int16),
    )


def observe(pk: PacketBatch, rows: list[dict[str, Any]], enis: tuple[str, ...], rules: tuple[str, ...] = ()) -> \
        ObservationBatch:
    """rows: dicts with packet (index), eni (index), dir (0 in / 1 out), action (0/1), optional rule, path, peer."""
    n = len(rows)
    pidx = np.array([r["packet"] for r in rows], dtype=np.int64)

    def col(name: str, dtype: Any, default: Any) -> np.ndarray:
        return np.array([r.get(name, default) for r in rows], dtype=dtype)

    return ObservationBatch(
        packets=pk, packet=pidx, eni=col("eni", np.int32, 0), direction=col("dir", np.uint8, 0),
        action=col("action", np.uint8, 0),
        src_hi=pk.src_hi[pidx], src_lo=pk.src_lo[pidx], dst_hi=pk.dst_hi[pidx], dst_lo=pk.dst_lo[pidx],
        pkt_src_hi=pk.src_hi[pidx], pkt_src_lo=pk.src_lo[pidx], pkt_dst_hi=pk.dst_hi[pidx], pkt_dst_lo=pk.dst_lo[pidx],
        traffic_path=col("path", np.int8, -1), rule=col("rule", np.int32, -1) if n else np.zeros(0, np.int32),
        peer_eni=col("peer", np.int32, -1), enis=enis, rules=rules,
    )
