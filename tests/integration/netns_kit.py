"""What the network-namespace tests share: the root and tool checks, and the two-host lab network
(one VPC, one subnet, an open security group, host-a and host-b as ENIs) that their topologies start with."""

from __future__ import annotations

import os
import shutil

import pytest

TOOLS = ("ip", "tcpdump", "tshark")
ENI_A, ENI_B = "eni-0000000000000000a", "eni-0000000000000000b"


def require_root_and_tools(tools: tuple[str, ...] = TOOLS) -> None:
    """Skip (with the reason) unless this runs as root with ``tools`` installed; CI runs as root."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces (CI runs as root)")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)} (apt-get install -y iproute2 tcpdump tshark)")


def lab_network_yaml(ip_a: str, ip_b: str) -> str:
    """The lab's topology document up to its network interfaces; callers append what else they need."""
    net = ip_a[: ip_a.rindex(".")] + ".0/24"
    return f"""
account_id: "123456789012"
region: us-east-1
vpcs:
  - name: lab
    id: vpc-0000000000000000a
    cidr_block: {net}
    subnets:
      - {{name: lab-1a, id: subnet-0000000000000000a, cidr_block: {net}, availability_zone: us-east-1a}}
security_groups:
  - {{name: open, id: sg-0000000000000000a, vpc: lab, ingress: [{{protocol: all, cidr: 0.0.0.0/0}}]}}
network_interfaces:
  - {{name: host-a, id: {ENI_A}, subnet: lab-1a, private_ip: {ip_a}, security_groups: [open]}}
  - {{name: host-b, id: {ENI_B}, subnet: lab-1a, private_ip: {ip_b}, security_groups: [open]}}
"""
