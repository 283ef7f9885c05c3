"""IamWorld: parsing the topology's iam section (with key paths), resolving principals, context keys,
trust evaluation for service principals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vpcflow.core.api_errors import AuthFailureError, UnknownPrincipalError
from vpcflow.core.errors import ApiError, ConfigError
from vpcflow.iam.world import IamWorld

ACCT = "123456789012"
FL = f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/fl-0123456789abcdef0"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCT}:vpc-flow-log/*"},
            },
        }
    ],
}


def section() -> dict[str, Any]:
    return {
        "users": [
            {
                "name": "alice",
                "path": "/ops/",
                "access_keys": [{"access_key_id": "AKIAEXAMPLEALICE0001", "secret_access_key": "alice-secret-1"}],
                "managed_policies": [
                    "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
                    f"arn:aws:iam::{ACCT}:policy/team/logs-reader",
                ],
                "tags": [{"Key": "team", "Value": "net"}],
            },
            {"name": "admin", "managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
        ],
        "roles": [
            {
                "name": "delivery",
                "trust_policy": TRUST,
                "managed_policies": ["arn:aws:iam::aws:policy/CloudWatchLogsFullAccess"],
            }
        ],
        "managed_policies": [
            {
                "name": "logs-reader",
                "path": "/team/",
                "document": {
                    "Version": "2012-10-17",
                    "Statement": {"Effect": "Allow", "Action": "logs:Get*", "Resource": "*"},
                },
            }
        ],
    }


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def w() -> IamWorld:
    return IamWorld.from_section(section(), account_id=ACCT, source="topo.yaml", clock=lambda: NOW)


def test_resolve_every_form(w: IamWorld) -> None:
    alice = w.resolve("AKIAEXAMPLEALICE0001")
    assert alice.arn == f"arn:aws:iam::{ACCT}:user/ops/alice" and alice.kind == "user"
    assert w.resolve(f"arn:aws:iam::{ACCT}:user/ops/alice") == alice
    assert w.resolve(ACCT).kind == "root" and w.resolve(w.root_arn).arn == w.root_arn
    assert w.resolve(f"arn:aws:iam::{ACCT}:role/delivery").name == "delivery"
    sess = w.resolve(f"arn:aws:sts::{ACCT}:assumed-role/delivery/s1")
    assert sess.kind == "role" and sess.display.endswith("assumed-role/delivery/s1") and sess.userid.endswith(":s1")
    assert w.resolve("vpc-flow-logs.amazonaws.com").kind == "service"
    other = w.resolve("arn:aws:iam::111122223333:root")
    assert other.kind == "root" and other.account_id == "111122223333"
    assert w.secret_for("AKIAEXAMPLEALICE0001") == "alice-secret-1"
    assert w.user("alice") == alice


def test_unknown_principals_have_aws_errors(w: IamWorld) -> None:
    with pytest.raises(UnknownPrincipalError, match=r"The user with name bob cannot be found\."):
        w.resolve(f"arn:aws:iam::{ACCT}:user/bob")
    with pytest.raises(UnknownPrincipalError, match=r"The role with name nope cannot be found\.") as e:
        w.resolve(f"arn:aws:iam::{ACCT}:role/nope")
    assert e.value.code == "NoSuchEntity"
    with pytest.raises(AuthFailureError, match="AWS was not able to validate the provided access credentials") as a:
        w.resolve("AKIAUNKNOWNKEY000001")
    assert a.value.code == "AuthFailure" and a.value.http_status == 401
    with pytest.raises(ApiError):
        w.resolve("not a principal")


def test_managed_policies_customer_and_aws(w: IamWorld) -> None:
    alice = "AKIAEXAMPLEALICE0001"
    assert w.authorize(alice, "ec2:DescribeFlowLogs", "*").allowed  # AmazonEC2ReadOnlyAccess
    assert not w.authorize(alice, "ec2:CreateFlowLogs", "*").allowed
    assert w.authorize(alice, "logs:GetLogEvents", f"arn:aws:logs:us-east-1:{ACCT}:log-group:g:log-stream:s").allowed
    d = w.authorize(alice, "logs:GetLogEvents", "*")
    assert d.policy == f"arn:aws:iam::{ACCT}:policy/team/logs-reader"
    assert w.authorize(f"arn:aws:iam::{ACCT}:user/admin", "iam:PassRole", "*").allowed


def test_context_keys_filled(w: IamWorld) -> None:
    ctx = w.context_for(w.resolve("AKIAEXAMPLEALICE0001"), {"ec2:Region": "us-east-1"})
    assert ctx["aws:username"] == ("alice",)
    assert ctx["aws:principalarn"] == (f"arn:aws:iam::{ACCT}:user/ops/alice",)
    assert ctx["aws:principalaccount"] == (ACCT,)
    assert ctx["aws:principaltype"] == ("User",)
    assert ctx["aws:principaltag/team"] == ("net",)
    assert ctx["aws:currenttime"] == ("2026-01-02T03:04:05Z",)
    assert ctx["aws:epochtime"] == (str(int(NOW.timestamp())),)
    assert ctx["aws:securetransport"] == ("true",)
    assert ctx["ec2:region"] == ("us-east-1",)
    assert ctx["aws:userid"][0].startswith("AIDA")
    root = w.context_for(w.root())
    assert root["aws:principaltype"] == ("Account",) and "aws:username" not in root
    role = w.context_for(w.role("delivery"))
    assert role["aws:principaltype"] == ("AssumedRole",) and role["aws:userid"][0].startswith("AROA")
    assert w.context_for(w.resolve("delivery.logs.amazonaws.com"))["aws:principalisawsservice"] == ("true",)


def test_service_can_assume_with_source_conditions(w: IamWorld) -> None:
    role = f"arn:aws:iam::{ACCT}:role/delivery"
    good = {"aws:SourceAccount": ACCT, "aws:SourceArn": FL}
    assert w.service_can_assume(role, "vpc-flow-logs.amazonaws.com", good).allowed
    assert not w.service_can_assume(role, "ec2.amazonaws.com", good).allowed
    assert not w.service_can_assume(
        role, "vpc-flow-logs.amazonaws.com", {**good, "aws:SourceAccount": "111122223333"}
    ).allowed
    bad_arn = {**good, "aws:SourceArn": f"arn:aws:ec2:eu-west-1:{ACCT}:vpc-flow-log/fl-1"}
    assert not w.service_can_assume(role, "vpc-flow-logs.amazonaws.com", bad_arn).allowed
    assert not w.service_can_assume(role, "vpc-flow-logs.amazonaws.com", None).allowed  # conditions need the keys
    missing = w.service_can_assume(f"arn:aws:iam::{ACCT}:role/ghost", "vpc-flow-logs.amazonaws.com", good)
    assert not missing.allowed and "does not exist" in missing.reason


def test_trust_policy_is_not_an_identity_policy(w: IamWorld) -> None:
    # The role's permission policies do not let a service assume it; only trust counts.
    s = section()
    s["roles"][0]["trust_policy"] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    s["roles"][0]["managed_policies"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]
    w2 = IamWorld.from_section(s, account_id=ACCT)
    assert not w2.service_can_assume(f"arn:aws:iam::{ACCT}:role/delivery", "vpc-flow-logs.amazonaws.com", {}).allowed


def test_empty_section_is_root_only() -> None:
    w = IamWorld.from_section(None, account_id=ACCT)
    assert w.users == () and w.roles == ()
    assert w.authorize(ACCT, "ec2:CreateFlowLogs", "*").allowed


BAD: list[tuple[str, Any, str]] = [
    ("unknown-top-key", {"groups": []}, "iam.groups"),
    ("user-not-mapping", {"users": ["alice"]}, "iam.users[0]"),
    ("user-missing-name", {"users": [{"policies": []}]}, "iam.users[0].name"),
    ("bad-user-name", {"users": [{"name": "a b"}]}, "iam.users[0].name"),
    ("duplicate-user", {"users": [{"name": "a"}, {"name": "a"}]}, "iam.users[1].name"),
    ("bad-path", {"users": [{"name": "a", "path": "ops"}]}, "iam.users[0].path"),
    (
        "bad-key-id",
        {"users": [{"name": "a", "access_keys": [{"access_key_id": "x", "secret_access_key": "12345678"}]}]},
        "iam.users[0].access_keys[0].access_key_id",
    ),
    (
        "duplicate-key-id",
        {
            "users": [
                {
                    "name": "a",
                    "access_keys": [{"access_key_id": "AKIAAAAAAAAAAAAAAAA1", "secret_access_key": "12345678"}],
                },
                {
                    "name": "b",
                    "access_keys": [{"access_key_id": "AKIAAAAAAAAAAAAAAAA1", "secret_access_key": "12345678"}],
                },
            ]
        },
        "iam.users[1].access_keys[0].access_key_id",
    ),
    (
        "unknown-managed",
        {"users": [{"name": "a", "managed_policies": ["arn:aws:iam::aws:policy/Nope"]}]},
        "iam.users[0].managed_policies[0]",
    ),
    ("role-no-trust", {"roles": [{"name": "r"}]}, "iam.roles[0].trust_policy"),
    (
        "bad-effect",
        {
            "users": [
                {
                    "name": "a",
                    "policies": [
                        {"name": "p", "document": {"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}}
                    ],
                }
            ]
        },
        "iam.users[0].policies[0].document.Statement[0].Effect",
    ),
    (
        "no-action",
        {
            "users": [
                {
                    "name": "a",
                    "policies": [{"name": "p", "document": {"Statement": {"Effect": "Allow", "Resource": "*"}}}],
                }
            ]
        },
        "iam.users[0].policies[0].document.Statement.Action",
    ),
    (
        "both-action",
        {
            "users": [
                {
                    "name": "a",
                    "policies": [
                        {
                            "name": "p",
                            "document": {
                                "Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}]
                            },
                        }
                    ],
                }
            ]
        },
        "iam.users[0].policies[0].document.Statement[0].NotAction",
    ),
    (
        "bad-action",
        {
            "users": [
                {
                    "name": "a",
                    "policies": [
                        {
                            "name": "p",
                            "document": {
                                "Statement": [
                                    {"Effect": "Allow", "Action": ["s3:Get", "CreateFlowLogs"], "Resource": "*"}
                                ]
                            },
                        }
                    ],
                }
            ]
        },
        "iam.users[0].policies[0].document.Statement[0].Action[1]",
    ),
    (
        "no-resource",
        {
            "users": [
                {
                    "name": "a",
                    "policies": [{"name": "p", "document": {"Statement": [{"Effect": "Allow", "Action": "*"}]}}],
                }
            ]
        },
        "iam.users[0].policies[0].document.Statement[0].Resource",
    ),
    (
        "principal-in-identity",
        {
            "users": [
                {
                    "name": "a",
                    "policies": [
                        {
                            "name": "p",
                            "document": {
                                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]
                            },
                        }
                    ],
                }
            ]
        },
        "iam.users[0].policies[0].document.Statement[0].Principal",
    ),
    (
        "trust-no-principal",
        {"roles": [{"name": "r", "trust_policy": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}}]},
        "iam.roles[0].trust_policy.Statement[0].Principal",
    ),
    (
        "trust-with-resource",
        {
            "roles": [
                {
                    "name": "r",
                    "trust_policy": {
                        "Statement": [
                            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}
                        ]
                    },
                }
            ]
        },
        "iam.roles[0].trust_policy.Statement[0].Resource",
    ),
    (
        "bad-principal-type",
        {
            "roles": [
                {
                    "name": "r",
                    "trust_policy": {
                        "Statement": [{"Effect": "Allow", "Principal": {"Svc": "x"}, "Action": "sts:AssumeRole"}]
                    },
                }
            ]
        },
        "iam.roles[0].trust_policy.Statement[0].Principal",
    ),
    (
        "bad-version",
        {"roles": [{"name": "r", "trust_policy": {"Version": "2012-10-18", "Statement": []}}]},
        "iam.roles[0].trust_policy.Version",
    ),
    (
        "empty-statement",
        {"roles": [{"name": "r", "trust_policy": {"Version": "2012-10-17", "Statement": []}}]},
        "iam.roles[0].trust_policy.Statement",
    ),
    (
        "unknown-element",
        {"roles": [{"name": "r", "trust_policy": {"Statement": [{"effect": "Allow"}]}}]},
        "iam.roles[0].trust_policy.Statement[0].effect",
    ),
    (
        "condition-not-object",
        {
            "users": [
                {
                    "name": "a",
                    "policies": [
                        {
                            "name": "p",
                            "document": {
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "*",
                                        "Resource": "*",
                                        "Condition": {"StringEquals": "x"},
                                    }
                                ]
                            },
                        }
                    ],
                }
            ]
        },
        "iam.users[0].policies[0].document.Statement[0].Condition.StringEquals",
    ),
    (
        "condition-value-object",
        {
            "users": [
                {
                    "name": "a",
                    "policies": [
                        {
                            "name": "p",
                            "document": {
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "*",
                                        "Resource": "*",
                                        "Condition": {"StringEquals": {"k": {"x": 1}}},
                                    }
                                ]
                            },
                        }
                    ],
                }
            ]
        },
        "iam.users[0].policies[0].document.Statement[0].Condition.StringEquals.k",
    ),
    (
        "json-string-document",
        {"users": [{"name": "a", "policies": [{"name": "p", "document": "{not json"}]}]},
        "iam.users[0].policies[0].document",
    ),
    ("tags-bad", {"users": [{"name": "a", "tags": "x"}]}, "iam.users[0].tags"),
]


@pytest.mark.parametrize(("case", "sec", "key_path"), BAD, ids=[b[0] for b in BAD])
def test_config_errors_name_the_key(case: str, sec: Any, key_path: str) -> None:
    with pytest.raises(ConfigError) as e:
        IamWorld.from_section(sec, account_id=ACCT, source="topo.yaml")
    assert e.value.key_path == key_path, str(e.value)
    assert str(e.value).startswith("topo.yaml: ")


def test_locate_gives_file_line() -> None:
    lines = {"iam.users[0].name": 7}
    with pytest.raises(ConfigError) as e:
        IamWorld.from_section(
            {"users": [{"name": "a b"}]},
            account_id=ACCT,
            source="t.yaml",
            locate=lambda kp: f"t.yaml:{lines[kp]}" if kp in lines else None,
        )
    assert e.value.location == "t.yaml:7"


def test_policy_document_as_json_string() -> None:
    doc = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
    w = IamWorld.from_section({"users": [{"name": "a", "policies": [{"name": "p", "document": doc}]}]}, account_id=ACCT)
    assert w.authorize(f"arn:aws:iam::{ACCT}:user/a", "s3:GetObject", "arn:aws:s3:::b/k").allowed


def test_bad_account_id() -> None:
    with pytest.raises(ConfigError, match="12 digits"):
        IamWorld.from_section({}, account_id="123")
