"""Principals: who makes a request (account root, IAM user, IAM role, AWS service, anonymous).

A ``Principal`` carries what the evaluator needs: its ARN, account, kind, identity policies (inline
and managed, already parsed), tags, and for roles the trust policy. ``IamWorld`` (``world.py``)
builds them from the topology file; a service principal is built with ``service_principal``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Literal

from vpcflow.iam.policy import Policy

PrincipalKind = Literal["root", "user", "role", "service", "anonymous"]

#: aws:PrincipalType values (IAM global condition keys reference).
PRINCIPAL_TYPES: dict[str, str] = {
    "root": "Account",
    "user": "User",
    "role": "AssumedRole",
    "service": "Service",
    "anonymous": "Anonymous",
}


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    status: str = "Active"


@dataclass(frozen=True, slots=True)
class Principal:
    """A request's principal. ``arn`` is the identity ARN (role ARN for roles, not a session ARN)."""

    arn: str
    kind: PrincipalKind
    account_id: str
    name: str = ""
    path: str = "/"
    userid: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    policies: tuple[Policy, ...] = field(default=(), compare=False)
    trust_policy: Policy | None = field(default=None, compare=False)
    access_keys: tuple[AccessKey, ...] = field(default=(), compare=False)
    service: str = ""  # for kind == "service": vpc-flow-logs.amazonaws.com
    session_name: str = ""  # for roles called through an assumed-role ARN

    @property
    def principal_type(self) -> str:
        return PRINCIPAL_TYPES[self.kind]

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:root"

    @property
    def display(self) -> str:
        """How AWS names the caller in messages (``User: arn:...``)."""
        if self.kind == "service":
            return self.service
        if self.kind == "role" and self.session_name:
            return f"arn:aws:sts::{self.account_id}:assumed-role/{self.name}/{self.session_name}"
        return self.arn


def unique_id(prefix: str, arn: str) -> str:
    """AWS-shaped unique id (``AIDA``/``AROA`` + 17 chars), stable for a given ARN."""
    digest = hashlib.sha256(arn.encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:17]


def service_principal(service: str, *, account_id: str = "") -> Principal:
    """An AWS service principal such as ``vpc-flow-logs.amazonaws.com`` (used in trust/bucket policies)."""
    return Principal(arn=service, kind="service", account_id=account_id, name=service, service=service)


def anonymous_principal() -> Principal:
    return Principal(arn="*", kind="anonymous", account_id="", name="anonymous")
