"""Shared by the agent tests: a two-host network served by an in-process endpoint, fake feeds whose
packets the test places, a clock the test moves, and readers of what reached the bucket."""

from __future__ import annotations

import gzip
import ipaddress
import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_helpers import ROOT, Endpoint, serve

from vpcflow.agent.config import build_config
from vpcflow.agent.control import ControlPlane
from vpcflow.agent.feed import Feed
from vpcflow.agent.runner import Agent
from vpcflow.dataplane.packets import PacketBatch, ip_to_pair
from vpcflow.runtime.client import Ec2Client

ACCT, REGION = "123456789012", "us-east-1"
VPC, SUBNET = "vpc-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa1"
ENI_A, ENI_B = "eni-0aaaaaaaaaaaaaaa1", "eni-0bbbbbbbbbbbbbbb2"
IP_A, IP_B = "10.0.1.10", "10.0.1.20"
SG_A, SG_B = "sg-0aaaaaaaaaaaaaaa1", "sg-0bbbbbbbbbbbbbbb2"
BUCKET = "fleet-logs"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, a multiple of 600

TOPOLOGY: dict[str, Any] = {
    "account_id": ACCT, "region": REGION,
    "vpcs": [{"name": "fleet", "id": VPC, "cidr_block": "10.0.0.0/16",
              "subnets": [{"name": "a", "id": SUBNET, "cidr_block": "10.0.1.0/24", "availability_zone": "us-east-1a"}]}],
    "network_interfaces": [
        {"name": "host-a", "id": ENI_A, "subnet": "a", "private_ip": IP_A, "instance_id": "i-0aaaaaaaaaaaaaaa1",
         "security_groups": ["sg-a"]},
        {"name": "host-b", "id": ENI_B, "subnet": "a", "private_ip": IP_B, "instance_id": "i-0bbbbbbbbbbbbbbb2",
         "security_groups": ["sg-b"]},
    ],
    "security_groups": [
        {"name": "sg-a", "id": SG_A, "vpc": "fleet", "ingress": []},
        {"name": "sg-b", "id": SG_B, "vpc": "fleet",
         "ingress": [{"protocol": "tcp", "ports": 80, "cidr": "10.0.1.0/24"},
                     {"protocol": "icmp", "icmp_type": -1, "icmp_code": -1, "cidr": "10.0.1.0/24"}]},
    ],
    "s3_buckets": [{"name": BUCKET}],
    "iam": {"users": [
        {"name": "agent", "access_keys": [{"access_key_id": "AKIAAGENTFLEET000001",
                                           "secret_access_key": "agent-secret-key-000000000000000000000000"}],
         "policies": [{"name": "agent", "document": {"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:VpcflowReportDeliveryStatus", "s3:PutObject",
                                            "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                            "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:GetLogEvents"],
              "Resource": "*"}]}}]},
        {"name": "reader", "access_keys": [{"access_key_id": "AKIAREADERFLEET00001",
                                            "secret_access_key": "reader-secret-key-00000000000000000000000"}],
         "policies": [{"name": "read", "document": {"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}}]},
    ], "roles": [{
        "name": "flow-logs-delivery",
        "trust_policy": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "policies": [{"name": "deliver", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}}],
    }]},
}
ROLE = f"arn:aws:iam::{ACCT}:role/flow-logs-delivery"
AGENT_KEY = ("AKIAAGENTFLEET000001", "agent-secret-key-000000000000000000000000")
READER_KEY = ("AKIAREADERFLEET00001", "reader-secret-key-00000000000000000000000")


def fleet_endpoint(root: Path, topology: dict[str, Any] | None = None) -> Endpoint:
    dd = root / "server"
    topo = root / "topology.json"
    topo.write_text(json.dumps(topology or TOPOLOGY), encoding="utf-8")
    with Ec2Client(dd) as c:
        c.load_topology(topo)
    return serve(dd)


def use_root_credentials(monkeypatch: Any) -> None:
    import boto3

    # boto3's default session caches the credentials it resolved first: start each test afresh.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ROOT[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ROOT[1])
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@pytest.fixture(name="ep")
def fleet_ep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    """The ``ep`` fixture: a `vpcflow serve` of the fleet topology, called as the account root (a test
    module imports ``fleet_ep`` to have it)."""
    use_root_credentials(monkeypatch)
    endpoint = fleet_endpoint(tmp_path)
    try:
        yield endpoint
    finally:
        endpoint.stop()


def use_agent_credentials(monkeypatch: Any) -> None:
    """Sign as the fleet's least-privilege IAM user (docs/agent.md "The fleet's IAM user")."""
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AGENT_KEY[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AGENT_KEY[1])


def create_s3_flow_log(ep: Endpoint, resource: str = VPC, prefix: str = "") -> str:
    rtype = {"vpc": "VPC", "sub": "Subnet", "eni": "NetworkInterface"}[resource[:3]]
    resp = ep.client("ec2").create_flow_logs(
        ResourceIds=[resource], ResourceType=rtype, TrafficType="ALL", LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{BUCKET}/{prefix}", MaxAggregationInterval=60)
    assert not resp.get("Unsuccessful"), resp
    return str(resp["FlowLogIds"][0])


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeFeed(Feed):
    """A feed whose batches the test puts on the queue."""

    def __init__(self, name: str, eni: str) -> None:
        super().__init__(name, (eni,))

    def produce(self) -> None:
        self.stop.wait()


def tcp_batch(eni: str, rows: list[tuple[float, str, str, int, int, int]]) -> PacketBatch:
    """rows: (ts seconds, src, dst, sport, dport, tcp flags), 60-byte TCP packets seen on ``eni``."""
    n = len(rows)
    src = [ip_to_pair(r[1]) for r in rows]
    dst = [ip_to_pair(r[2]) for r in rows]
    return PacketBatch(
        ts_ns=np.array([round(r[0] * 1e9) for r in rows], np.int64), ip_version=np.full(n, 4, np.uint8),
        src_hi=np.array([s[0] for s in src], np.uint64), src_lo=np.array([s[1] for s in src], np.uint64),
        dst_hi=np.array([d[0] for d in dst], np.uint64), dst_lo=np.array([d[1] for d in dst], np.uint64),
        protocol=np.full(n, 6, np.uint8), src_port=np.array([r[3] for r in rows], np.uint16),
        dst_port=np.array([r[4] for r in rows], np.uint16), icmp_type=np.full(n, -1, np.int16),
        icmp_code=np.full(n, -1, np.int16), ip_len=np.full(n, 60, np.uint32),
        tcp_flags=np.array([r[5] for r in rows], np.uint8), fragment=np.zeros(n, np.uint8),
        iface=np.zeros(n, np.int16), interfaces=(eni,))


def connection(t: float, client: str, server: str, sport: int, dport: int = 80) -> list[tuple[Any, ...]]:
    """A short TCP exchange (SYN, SYN-ACK, ACK, FIN/ACK both ways) starting at ``t``."""
    return [(t, client, server, sport, dport, 2), (t + 0.1, server, client, dport, sport, 18),
            (t + 0.2, client, server, sport, dport, 16), (t + 0.3, client, server, sport, dport, 17),
            (t + 0.4, server, client, dport, sport, 17), (t + 0.5, client, server, sport, dport, 16)]


def make_agent(ep: Endpoint, state: Path, eni: str, clock: Clock, *, agent_id: str,
               segment_s: int = 60) -> tuple[Agent, FakeFeed]:
    cfg = build_config({"state_dir": str(state), "region": REGION, "endpoint_url": ep.url,
                        "devices": {"fake0": eni}, "segment_s": segment_s, "agent_id": agent_id})
    import boto3

    feed = FakeFeed("fake0", eni)
    control = ControlPlane(boto3.Session(), endpoint_url=ep.url, region=REGION)
    return Agent(cfg, [feed], control=control, clock=clock), feed


def bucket_lines(ep: Endpoint, prefix: str = "") -> list[str]:
    """Every record line of every flow-log object in the bucket (headers dropped)."""
    s3 = ep.client("s3")
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "AWSLogs/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            out += gzip.decompress(body).decode().splitlines()[1:]
    return out


def bucket_keys(ep: Endpoint) -> list[str]:
    s3 = ep.client("s3")
    return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])]


def by_eni_window(lines: list[str]) -> dict[tuple[str, int], list[str]]:
    """Default-format lines grouped by (interface-id, start of the 60-s window)."""
    out: dict[tuple[str, int], list[str]] = defaultdict(list)
    for ln in lines:
        f = ln.split(" ")
        out[(f[2], int(f[10]) - int(f[10]) % 60)].append(f[13])
    return out


def flows(lines: list[str]) -> dict[tuple[str, str, str, str, str], int]:
    """packets per (interface-id, srcaddr, dstaddr, srcport, dstport) of the OK records."""
    out: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    for ln in lines:
        f = ln.split(" ")
        if f[13] == "OK":
            out[(f[2], f[3], f[4], f[5], f[6])] += int(f[8])
    return out


def addr(ip: str) -> str:
    return str(ipaddress.ip_address(ip))
