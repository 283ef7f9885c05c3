"""Helpers for the control-plane tests: a small hand-built topology (no loader needed) with IAM."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vpcflow.controlplane.service import FlowLogService, seeded_ids
from vpcflow.model.topology.model import (
    NetworkInterface,
    S3Bucket,
    Subnet,
    Topology,
    Vpc,
    VpcPeeringConnection,
)
from vpcflow.storage.state import StateStore

ACCT = "123456789012"
OTHER = "210987654321"
REGION = "us-east-1"
VPC = "vpc-0a1b2c3d4e5f60718"
SUBNET = "subnet-0a1b2c3d4e5f60718"
ENI = "eni-0a1b2c3d4e5f60718"
CLASSIC_ENI = "eni-0c1a551c0000000001"
PEER_VPC = "vpc-0eeeeeeeeeeeeeee1"  # another account's VPC, peered with VPC
OWN_PEER_VPC = "vpc-0fffffffffffffff2"  # a second VPC of ours, peered with VPC
OTHER_REGION_VPC = "vpc-0ddddddddddddddd3"
BUCKET = "flow-bucket"
BARE_BUCKET = "bare-bucket"  # ours, no policy: auto-attach
FOREIGN_BUCKET = "foreign-bucket"  # another account's, no policy: access denied
ROLE = f"arn:aws:iam::{ACCT}:role/flow-logs-delivery"
UNTRUSTED_ROLE = f"arn:aws:iam::{ACCT}:role/untrusted"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
CAROL = f"arn:aws:iam::{ACCT}:user/carol"
ERIN = f"arn:aws:iam::{ACCT}:user/erin"

DELIVERY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AWSLogDeliveryWrite",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        },
        {
            "Sid": "AWSLogDeliveryAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{BUCKET}",
        },
    ],
}

LOGS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
            ],
            "Resource": "*",
        }
    ],
}


def trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def iam_section(*, trusted_service: str = "ec2.amazonaws.com") -> dict[str, Any]:
    """alice: everything incl. PassRole (scoped); bob: no PassRole; carol: describe only, denies delete."""
    return {
        "users": [
            {
                "name": "alice",
                "access_keys": [{"access_key_id": "AKIAIOSFODNN7ALICE01", "secret_access_key": "x" * 40}],
                "policies": [
                    {
                        "name": "admin",
                        "document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": ["ec2:*FlowLogs", "ec2:*Tags"], "Resource": "*"},
                                {"Effect": "Allow", "Action": "logs:*LogDelivery", "Resource": "*"},
                                {"Effect": "Allow", "Action": "s3:*BucketPolicy", "Resource": "*"},
                                {
                                    "Effect": "Allow",
                                    "Action": "iam:PassRole",
                                    "Resource": f"arn:aws:iam::{ACCT}:role/*",
                                    "Condition": {
                                        "StringEquals": {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}
                                    },
                                },
                            ],
                        },
                    }
                ],
            },
            {
                "name": "bob",
                "policies": [
                    {
                        "name": "no-passrole",
                        "document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["ec2:CreateFlowLogs", "ec2:DescribeFlowLogs", "ec2:DeleteFlowLogs"],
                                    "Resource": "*",
                                }
                            ],
                        },
                    }
                ],
            },
            {
                "name": "carol",
                "policies": [
                    {
                        "name": "read",
                        "document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
                                {"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
                                 "Condition": {"StringEquals": {"aws:RequestTag/team": "net"}}},
                                {"Effect": "Deny", "Action": "ec2:DeleteFlowLogs", "Resource": "*"},
                            ],
                        },
                    }
                ],
            },
            {
                "name": "erin",
                "policies": [
                    {
                        "name": "no-bucket-policy",
                        "document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["ec2:CreateFlowLogs", "logs:CreateLogDelivery"],
                                    "Resource": "*",
                                }
                            ],
                        },
                    }
                ],
            },
        ],
        "roles": [
            {"name": "flow-logs-delivery", "trust_policy": trust("vpc-flow-logs.amazonaws.com"),
             "policies": [{"name": "logs", "document": LOGS_POLICY}]},
            {"name": "untrusted", "trust_policy": trust(trusted_service),
             "policies": [{"name": "logs", "document": LOGS_POLICY}]},
        ],
    }  # fmt: skip


def make_topology(*, trusted_service: str = "ec2.amazonaws.com") -> Topology:
    net = ipaddress.IPv4Network
    return Topology(
        account_id=ACCT,
        region=REGION,
        vpcs=(
            Vpc(VPC, ACCT, REGION, (net("10.0.0.0/16"),), tags=(("Name", "main"),)),
            Vpc(PEER_VPC, OTHER, REGION, (net("10.1.0.0/16"),)),
            Vpc(OWN_PEER_VPC, ACCT, REGION, (net("10.2.0.0/16"),)),
            Vpc(OTHER_REGION_VPC, ACCT, "eu-west-1", (net("10.3.0.0/16"),)),
        ),
        subnets=(Subnet(SUBNET, VPC, net("10.0.1.0/24"), "us-east-1a", "use1-az1", owner_id=ACCT),),
        network_interfaces=(
            NetworkInterface(ENI, SUBNET, VPC, ACCT, ipaddress.IPv4Address("10.0.1.10"), tags=(("env", "prod"),)),
            NetworkInterface(CLASSIC_ENI, SUBNET, VPC, ACCT, ipaddress.IPv4Address("10.0.1.11"), ec2_classic=True),
        ),
        vpc_peering_connections=(
            VpcPeeringConnection("pcx-0aaaaaaaaaaaaaaa1", VPC, ACCT, REGION, PEER_VPC, OTHER, REGION),
            VpcPeeringConnection("pcx-0aaaaaaaaaaaaaaa2", VPC, ACCT, REGION, OWN_PEER_VPC, ACCT, REGION),
        ),
        s3_buckets=(
            S3Bucket(BUCKET, ACCT, REGION, DELIVERY_POLICY),
            S3Bucket(BARE_BUCKET, ACCT, REGION, None),
            S3Bucket(FOREIGN_BUCKET, OTHER, REGION, None),
        ),
        iam=iam_section(trusted_service=trusted_service),
        source="test-topology",
    )


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def make_service(path: Path, topo: Topology | None, *, seed: int = 7) -> FlowLogService:
    """A service whose topology 'loader' returns ``topo`` for whatever text was stored."""
    holder = {"topo": topo}

    def loader(text: str, fmt: str, source: str) -> Topology:
        t = holder["topo"]
        assert t is not None
        return t

    store = StateStore(path / "state.db")
    svc = FlowLogService(
        store, account_id=ACCT, region=REGION, id_factory=seeded_ids(seed), clock=Clock(), topology_loader=loader
    )
    if topo is not None:
        svc.load_topology("{}", fmt="json", source="test-topology")
    svc.holder = holder  # type: ignore[attr-defined]
    return svc


def s3_params(**over: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "ResourceIds": [VPC],
        "ResourceType": "VPC",
        "TrafficType": "ALL",
        "LogDestinationType": "s3",
        "LogDestination": f"arn:aws:s3:::{BUCKET}",
    }
    p.update(over)
    return {k: v for k, v in p.items() if v is not None}


def cwl_params(**over: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "ResourceIds": [VPC],
        "ResourceType": "VPC",
        "TrafficType": "ALL",
        "LogGroupName": "/vpc/flow",
        "DeliverLogsPermissionArn": ROLE,
    }
    p.update(over)
    return {k: v for k, v in p.items() if v is not None}
