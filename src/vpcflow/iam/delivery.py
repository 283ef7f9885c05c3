"""Delivery-time IAM checks (issue 4 item 6), usable by delivery and testable on their own.

CloudWatch Logs (spec aws-vpc-flow-logs.md 3; aws-wire-and-iam.md 1.4): the service principal
``vpc-flow-logs.amazonaws.com`` must be able to assume the delivery role (trust policy only, with
``aws:SourceAccount`` and ``aws:SourceArn`` = the flow-log ARN), and the role's identity policies must
allow ``logs:CreateLogGroup`` (only when the group does not exist yet), ``logs:CreateLogStream``,
``logs:PutLogEvents``, ``logs:DescribeLogGroups`` and ``logs:DescribeLogStreams``. Any failure is
AWS's asynchronous ``DeliverLogsStatus=FAILED`` with ``DeliverLogsErrorMessage="Access error"``.

S3 (spec 4): the bucket policy must allow ``delivery.logs.amazonaws.com`` ``s3:PutObject`` under
``bucket/prefix/AWSLogs/ACCOUNT/`` (Hive: ``AWSLogs/aws-account-id=ACCOUNT/``) with
``s3:x-amz-acl = bucket-owner-full-control``, and ``s3:GetBucketAcl`` on the bucket.

Resource ARNs (vpcflow choices, docs/iam.md): CreateLogGroup and DescribeLogStreams are checked on
``arn:aws:logs:R:A:log-group:NAME``; CreateLogStream and PutLogEvents on
``...:log-group:NAME:log-stream:STREAM`` for each stream (``*`` when no stream is named yet);
DescribeLogGroups on ``arn:aws:logs:R:A:log-group:*``. The S3 delivery's ``aws:SourceArn`` is
``arn:aws:logs:R:A:delivery-source:FLOW_LOG_ID`` (AWS's own value is not documented; any
``arn:aws:logs:R:A:*`` pattern, the one AWS's auto policy uses, matches it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vpcflow.core.api_errors import BucketPolicyTooLargeError
from vpcflow.core.errors import ApiError
from vpcflow.iam.evaluator import Decision
from vpcflow.iam.world import IamWorld

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
LOG_DELIVERY_SERVICE = "delivery.logs.amazonaws.com"
ACCESS_ERROR = "Access error"
#: AWS's bucket-policy size limit (spec 4: the auto policy can hit it).
BUCKET_POLICY_MAX_BYTES = 20 * 1024
#: Reading a CloudWatch store: AWS's actions (``logs:GetLogData`` in a policy grants both, evaluator alias).
LOG_READ_ACTIONS = ("logs:GetLogEvents", "logs:FilterLogEvents")


@dataclass(frozen=True)
class DeliveryCheck:
    """The outcome of a delivery-time check: ``ok`` or AWS's ``aws_message`` plus every decision made."""

    ok: bool
    aws_message: str | None
    reason: str
    decisions: tuple[Decision, ...] = ()

    @property
    def allowed(self) -> bool:  # Decision-like
        return self.ok

    def explain(self) -> str:
        head = "OK" if self.ok else f"FAILED ({self.aws_message}): {self.reason}"
        return "\n".join([head, *(d.explain() for d in self.decisions)])


def log_group_arn(region: str, account_id: str, log_group_name: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:{log_group_name}"


def log_stream_arn(region: str, account_id: str, log_group_name: str, stream: str) -> str:
    return f"{log_group_arn(region, account_id, log_group_name)}:log-stream:{stream}"


def _finish(decisions: list[Decision]) -> DeliveryCheck:
    for d in decisions:
        if not d.allowed:
            return DeliveryCheck(
                False, ACCESS_ERROR, f"{d.principal} may not {d.action} on {d.resource}: {d.reason}", tuple(decisions)
            )
    return DeliveryCheck(True, None, "all delivery permissions present", tuple(decisions))


def check_cloudwatch_delivery(
    world: IamWorld,
    role_arn: str,
    flow_log_arn: str,
    account_id: str,
    region: str,
    log_group_name: str,
    log_group_exists: bool,
    stream_names: Sequence[str] = (),
) -> DeliveryCheck:
    """Can flow-log ``flow_log_arn`` deliver to ``log_group_name`` through ``role_arn``?

    Every check runs (the result lists every decision); the first failure is the reason.
    """
    trust = world.service_can_assume(
        role_arn, FLOW_LOGS_SERVICE, {"aws:SourceAccount": account_id, "aws:SourceArn": flow_log_arn}
    )
    decisions = [trust]
    try:
        role = world.role(role_arn)
    except ApiError:
        return _finish(decisions)
    group = log_group_arn(region, account_id, log_group_name)
    streams = [log_stream_arn(region, account_id, log_group_name, s) for s in (stream_names or ["*"])]
    ctx = {"aws:SourceAccount": account_id, "aws:SourceArn": flow_log_arn}
    if not log_group_exists:
        decisions.append(world.authorize(role, "logs:CreateLogGroup", group, ctx))
    decisions.append(world.authorize(role, "logs:DescribeLogGroups", log_group_arn(region, account_id, "*"), ctx))
    decisions.append(world.authorize(role, "logs:DescribeLogStreams", group, ctx))
    decisions.append(world.authorize(role, "logs:CreateLogStream", streams, ctx))
    decisions.append(world.authorize(role, "logs:PutLogEvents", streams, ctx))
    return _finish(decisions)


def _clean_prefix(prefix: str | None) -> str:
    p = (prefix or "").strip("/")
    return f"{p}/" if p else ""


def delivery_key_base(prefix: str | None, account_id: str, hive: bool) -> str:
    """``prefix/AWSLogs/ACCOUNT/`` or the Hive form ``prefix/AWSLogs/aws-account-id=ACCOUNT/`` (spec 4)."""
    acct = f"aws-account-id={account_id}" if hive else account_id
    return f"{_clean_prefix(prefix)}AWSLogs/{acct}/"


def check_s3_delivery(
    world: IamWorld,
    bucket: str,
    bucket_policy: Mapping[str, Any] | None,
    prefix: str | None,
    account_id: str,
    region: str,
    hive: bool,
    flow_log_id: str = "",
    bucket_owner: str | None = None,
    object_key: str | None = None,
) -> DeliveryCheck:
    """Does the bucket policy let the log-delivery service write this flow log's objects?

    ``object_key`` defaults to a representative key under the flow log's key base.
    """
    base = delivery_key_base(prefix, account_id, hive)
    key = object_key or f"{base}vpcflowlogs/{region}/object.log.gz"
    source_arn = f"arn:aws:logs:{region}:{account_id}:delivery-source:{flow_log_id or 'vpc-flow-log'}"
    ctx = {"aws:SourceAccount": account_id, "aws:SourceArn": source_arn, "s3:x-amz-acl": "bucket-owner-full-control"}
    owner = bucket_owner or account_id
    if bucket_policy is None:
        d = Decision(
            False,
            "ImplicitDeny",
            None,
            None,
            f"bucket {bucket} has no bucket policy",
            None,
            LOG_DELIVERY_SERVICE,
            "s3:PutObject",
            f"arn:aws:s3:::{bucket}/{key}",
        )
        return _finish([d])
    name = f"bucket policy of {bucket}"
    put = world.authorize(
        LOG_DELIVERY_SERVICE,
        "s3:PutObject",
        f"arn:aws:s3:::{bucket}/{key}",
        ctx,
        bucket_policy,
        resource_account=owner,
        resource_policy_name=name,
    )
    acl = world.authorize(
        LOG_DELIVERY_SERVICE,
        "s3:GetBucketAcl",
        f"arn:aws:s3:::{bucket}",
        {"aws:SourceAccount": account_id, "aws:SourceArn": source_arn},
        bucket_policy,
        resource_account=owner,
        resource_policy_name=name,
    )
    return _finish([put, acl])


def aws_log_delivery_bucket_policy(
    bucket: str, prefix: str | None, account: str, region: str, hive: bool
) -> dict[str, Any]:
    """The bucket policy AWS attaches for flow-log delivery to S3 (spec 4, VPC guide's form)."""
    cond = {"aws:SourceAccount": account}
    source = {"aws:SourceArn": f"arn:aws:logs:{region}:{account}:*"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSLogDeliveryWrite",
                "Effect": "Allow",
                "Principal": {"Service": LOG_DELIVERY_SERVICE},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/{delivery_key_base(prefix, account, hive)}*",
                "Condition": {
                    "StringEquals": {**cond, "s3:x-amz-acl": "bucket-owner-full-control"},
                    "ArnLike": dict(source),
                },
            },
            {
                "Sid": "AWSLogDeliveryAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": LOG_DELIVERY_SERVICE},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringEquals": dict(cond), "ArnLike": dict(source)},
            },
        ],
    }


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list) else [v]


def merge_bucket_policy(existing: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Append ``new``'s statements to ``existing`` (CloudWatch guide: "appended").

    A statement of ``new`` whose Sid already exists gains the new Resource values (spec 4: "each new
    flow log adds its bucket ARN (with folder path) to the policy's Resource"); other existing
    statements are kept untouched. Raises ``BucketPolicyTooLargeError`` past 20 KB.
    """
    if existing is None:
        merged = copy.deepcopy(dict(new))
    else:
        merged = copy.deepcopy(dict(existing))
        merged.setdefault("Version", new.get("Version", "2012-10-17"))
        statements = _as_list(merged.get("Statement", []))
        by_sid = {s.get("Sid"): s for s in statements if isinstance(s, dict) and s.get("Sid")}
        for stmt in _as_list(new.get("Statement", [])):
            target = by_sid.get(stmt.get("Sid")) if stmt.get("Sid") else None
            if target is None:
                statements.append(copy.deepcopy(stmt))
                continue
            resources = _as_list(target.get("Resource", []))
            for r in _as_list(stmt.get("Resource", [])):
                if r not in resources:
                    resources.append(r)
            target["Resource"] = resources[0] if len(resources) == 1 else resources
        merged["Statement"] = statements
    size = len(json.dumps(merged, separators=(",", ":")).encode())
    if size > BUCKET_POLICY_MAX_BYTES:
        raise BucketPolicyTooLargeError(
            f"The bucket policy would be {size} bytes, over the 20 KB limit; "
            "LogDestination permissions cannot be granted"
        )
    return merged
