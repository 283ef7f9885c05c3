"""Reading the CloudWatch store: resources per action, the logs:GetLogData alias, AWS's refusal."""

from __future__ import annotations

from typing import Any

import pytest

from vpcflow.core.api_errors import LogsAccessDeniedError
from vpcflow.iam.readers import authorize_log_read, read_resource, require_log_read
from vpcflow.iam.world import IamWorld

ACCT = "123456789012"
R = "us-east-1"


def world(statements: list[dict[str, Any]]) -> IamWorld:
    doc = {"Version": "2012-10-17", "Statement": statements}
    return IamWorld.from_section(
        {"users": [{"name": "r", "policies": [{"name": "p", "document": doc}]}]}, account_id=ACCT
    )


USER = f"arn:aws:iam::{ACCT}:user/r"


def test_resources_per_action() -> None:
    assert read_resource("logs:GetLogEvents", R, ACCT, "g", "s") == f"arn:aws:logs:{R}:{ACCT}:log-group:g:log-stream:s"
    assert read_resource("logs:FilterLogEvents", R, ACCT, "g") == f"arn:aws:logs:{R}:{ACCT}:log-group:g"
    assert read_resource("logs:DescribeLogStreams", R, ACCT, "g") == f"arn:aws:logs:{R}:{ACCT}:log-group:g"
    assert read_resource("logs:DescribeLogGroups", R, ACCT, None) == f"arn:aws:logs:{R}:{ACCT}:log-group:*"
    with pytest.raises(ValueError, match="not a CloudWatch Logs read action"):
        read_resource("logs:PutLogEvents", R, ACCT, "g")
    with pytest.raises(ValueError, match="needs a log stream"):
        read_resource("logs:GetLogEvents", R, ACCT, "g")


def test_get_log_data_alias_grants_reading() -> None:
    w = world([{"Effect": "Allow", "Action": "logs:GetLogData", "Resource": "*"}])
    assert authorize_log_read(w, USER, "logs:GetLogEvents", R, ACCT, "g", ["eni-1-all"]).allowed
    assert authorize_log_read(w, USER, "logs:FilterLogEvents", R, ACCT, "g").allowed
    assert not authorize_log_read(w, USER, "logs:DescribeLogStreams", R, ACCT, "g").allowed


def test_scoped_to_one_group() -> None:
    w = world(
        [
            {
                "Effect": "Allow",
                "Action": ["logs:GetLogEvents", "logs:FilterLogEvents"],
                "Resource": f"arn:aws:logs:{R}:{ACCT}:log-group:flows*",
            }
        ]
    )
    assert authorize_log_read(w, USER, "logs:GetLogEvents", R, ACCT, "flows", ["a", "b"]).allowed
    assert authorize_log_read(w, USER, "logs:FilterLogEvents", R, ACCT, "flows").allowed
    assert not authorize_log_read(w, USER, "logs:FilterLogEvents", R, ACCT, "other").allowed


def test_refusal_message_is_aws_shaped() -> None:
    w = world([{"Effect": "Allow", "Action": "logs:FilterLogEvents", "Resource": "*"}])
    with pytest.raises(LogsAccessDeniedError) as e:
        require_log_read(w, USER, "logs:GetLogEvents", R, ACCT, "g", ["s"])
    assert e.value.code == "AccessDeniedException"
    assert (
        e.value.message
        == f"User: {USER} is not authorized to perform: logs:GetLogEvents on resource: arn:aws:logs:{R}:{ACCT}:log-group:g:log-stream:s"
    )
    deny = world(
        [
            {"Effect": "Allow", "Action": "logs:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "logs:GetLogData", "Resource": "*"},
        ]
    )
    with pytest.raises(LogsAccessDeniedError, match=r"with an explicit deny$"):
        require_log_read(deny, USER, "logs:FilterLogEvents", R, ACCT, "g")
    assert require_log_read(w, USER, "logs:FilterLogEvents", R, ACCT, "g").allowed
