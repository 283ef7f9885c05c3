"""Shared by the API tests: a data directory with a small topology and IAM users, the endpoint served
in-process by uvicorn on 127.0.0.1 (a free port), and real boto3 clients pointed at it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import uvicorn
from botocore.config import Config

from vpcflow.api.app import create_app
from vpcflow.api.identity import DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_SECRET_ACCESS_KEY
from vpcflow.api.server import bind, server_config
from vpcflow.runtime.client import Ec2Client

ACCT = "123456789012"
REGION = "us-east-1"
VPC = "vpc-0a1b2c3d4e5f60718"
SUBNET = "subnet-0a1b2c3d4e5f60719"
ENI = "eni-0a1b2c3d4e5f6071b"
ROLE = f"arn:aws:iam::{ACCT}:role/flow-logs-delivery"
GROUP = "/vpcflow/api-test"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCT}:log-group:{GROUP}"

ROOT = (DEFAULT_ROOT_ACCESS_KEY_ID, DEFAULT_ROOT_SECRET_ACCESS_KEY)
ALICE = ("AKIAAPITESTALICE0001", "alice-secret-key-0000000000000000000000")  # flow logs + PassRole
BOB = ("AKIAAPITESTBOB000001", "bob-secret-key-00000000000000000000000000")  # flow logs, no PassRole
CAROL = ("AKIAAPITESTCAROL0001", "carol-secret-key-000000000000000000000000")  # logs reader of one group only
DAVE = ("AKIAAPITESTDAVE00001", "dave-secret-key-0000000000000000000000000")  # inactive key
ERIN = ("AKIAAPITESTERIN00001", "erin-secret-key-0000000000000000000000000")  # nothing at all

_ALLOW_FLOWLOGS = {"Effect": "Allow", "Action": ["ec2:*FlowLogs", "ec2:*Tags"], "Resource": "*"}


def _user(name: str, key: tuple[str, str], statements: list[dict[str, Any]], status: str = "Active") -> dict[str, Any]:
    user: dict[str, Any] = {
        "name": name,
        "access_keys": [{"access_key_id": key[0], "secret_access_key": key[1], "status": status}],
    }
    if statements:
        user["policies"] = [{"name": f"{name}-policy", "document": {"Version": "2012-10-17", "Statement": statements}}]
    return user


TOPOLOGY: dict[str, Any] = {
    "account_id": ACCT,
    "region": REGION,
    "vpcs": [
        {
            "name": "api-vpc",
            "id": VPC,
            "cidr_block": "172.31.0.0/16",
            "subnets": [
                {"name": "a", "id": SUBNET, "cidr_block": "172.31.0.0/20", "availability_zone": "us-east-1a"},
            ],
        }
    ],
    "network_interfaces": [{"name": "web", "id": ENI, "subnet": "a", "private_ip": "172.31.0.10"}],
    "s3_buckets": [{"name": "api-test-logs"}],
    "iam": {
        "users": [
            _user(
                "alice",
                ALICE,
                [
                    _ALLOW_FLOWLOGS,
                    {"Effect": "Allow", "Action": "logs:CreateLogDelivery", "Resource": "*"},
                    {"Effect": "Allow", "Action": "s3:*BucketPolicy", "Resource": "*"},  # S3 auto-attach
                    {
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": ROLE,
                        "Condition": {"StringEquals": {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}},
                    },
                ],
            ),
            _user("bob", BOB, [_ALLOW_FLOWLOGS]),
            _user(
                "carol",
                CAROL,
                [
                    {"Effect": "Allow", "Action": ["logs:GetLogEvents", "logs:FilterLogEvents",
                                                   "logs:DescribeLogStreams"], "Resource": [GROUP_ARN, f"{GROUP_ARN}:*"]},
                ],
            ),
            _user("dave", DAVE, [_ALLOW_FLOWLOGS], status="Inactive"),
            _user("erin", ERIN, []),
        ],
        "roles": [
            {
                "name": "flow-logs-delivery",
                "trust_policy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "policies": [
                    {
                        "name": "deliver",
                        "document": {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
                        },
                    }
                ],
            }
        ],
    },
}


def make_data_dir(root: Path) -> Path:
    """A data directory holding TOPOLOGY (loaded the way users load one)."""
    dd = root / "data"
    topo = root / "topology.json"
    topo.write_text(json.dumps(TOPOLOGY), encoding="utf-8")
    with Ec2Client(dd) as c:
        c.load_topology(topo)
    return dd


@dataclass
class Endpoint:
    url: str
    data_dir: Path
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, service: str, key: tuple[str, str] = ROOT, **kwargs: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=kwargs.pop("region_name", REGION),
            aws_access_key_id=key[0],
            aws_secret_access_key=key[1],
            config=kwargs.pop("config", Config(retries={"total_max_attempts": 1})),
            **kwargs,
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(data_dir: Path, **app_kwargs: Any) -> Endpoint:
    """The endpoint in a uvicorn thread on 127.0.0.1, a free port."""
    app = create_app(data_dir, **app_kwargs)
    sock = bind("127.0.0.1", 0)  # as `vpcflow serve` binds (TCP_NODELAY)
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the endpoint did not start")
        time.sleep(0.01)
    return Endpoint(f"http://127.0.0.1:{port}", data_dir, server, thread)


THREE_TIER = Path(__file__).resolve().parents[2] / "examples" / "topology" / "three-tier.yaml"


def three_tier_endpoint(root: Path) -> Iterator[Endpoint]:
    """The endpoint over a data directory holding the bundled three-tier example (a richer network)."""
    dd = root / "data"
    with Ec2Client(dd) as c:
        c.load_topology(THREE_TIER)
    endpoint = serve(dd)
    try:
        yield endpoint
    finally:
        endpoint.stop()


def endpoint_fixture(tmp_path_factory: Any, **app_kwargs: Any) -> Iterator[Endpoint]:
    dd = make_data_dir(tmp_path_factory.mktemp("api"))
    ep = serve(dd, **app_kwargs)
    try:
        yield ep
    finally:
        ep.stop()


def cwl_params(**extra: Any) -> dict[str, Any]:
    """CreateFlowLogs to CloudWatch Logs on the VPC with the delivery role."""
    return {
        "ResourceIds": [VPC],
        "ResourceType": "VPC",
        "TrafficType": "ALL",
        "LogGroupName": GROUP,
        "DeliverLogsPermissionArn": ROLE,
        **extra,
    }


@dataclass
class RawAnswer:
    status: int
    body: bytes
    headers: dict[str, str]

    def xml_error(self) -> tuple[str, str]:
        """(Code, Message) of an EC2 error body."""
        from xml.etree import ElementTree as ET

        root = ET.fromstring(self.body)
        assert root.tag == "Response", self.body
        err = root.find("./Errors/Error")
        assert err is not None and root.find("RequestID") is not None, self.body
        return err.findtext("Code") or "", err.findtext("Message") or ""

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    ep: Endpoint,
    body: bytes,
    headers: dict[str, str],
    *,
    key: tuple[str, str] | None = ROOT,
    service: str = "ec2",
    region: str = REGION,
    send_body: bytes | None = None,
    extra_headers: dict[str, str] | None = None,
) -> RawAnswer:
    """POST ``body`` signed with botocore's SigV4 (``key=None``: unsigned); ``send_body`` replaces the
    body after signing (tampering); ``extra_headers`` are added after signing."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=ep.url + "/", data=body, headers=dict(headers))
    if key is not None:
        SigV4Auth(Credentials(key[0], key[1]), service, region).add_auth(req)
    sent_headers = {k: str(v) for k, v in req.headers.items()}
    sent_headers.update(extra_headers or {})
    http = urllib.request.Request(ep.url + "/", data=send_body if send_body is not None else body,
                                  headers=sent_headers, method="POST")
    try:
        with urllib.request.urlopen(http, timeout=10) as r:
            return RawAnswer(r.status, r.read(), dict(r.headers))
    except urllib.error.HTTPError as e:
        return RawAnswer(e.code, e.read(), dict(e.headers))


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def logs_headers(operation: str) -> dict[str, str]:
    return {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Logs_20140328.{operation}"}
