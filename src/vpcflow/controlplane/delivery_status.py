"""Delivery-time permission checks and the S3 bucket-policy auto-attach (spec 3, 4; wire 1.4).

* CloudWatch Logs: ``vpc-flow-logs.amazonaws.com`` must be able to assume the delivery role and the
  role must allow the ``logs:`` actions (``iam.delivery.check_cloudwatch_delivery``). A failure is
  AWS's asynchronous ``DeliverLogsStatus=FAILED`` / ``Access error``; a later check that passes (the
  trust policy was fixed and the topology reloaded) brings the flow log back to ``SUCCESS``.
* S3: the bucket policy must let ``delivery.logs.amazonaws.com`` write under the flow log's key base.
  At creation, if it does not and the creator owns the bucket and may ``s3:GetBucketPolicy`` and
  ``s3:PutBucketPolicy``, AWS's policy is appended (stored in the state store, the topology file is
  never rewritten); otherwise creation reports AWS's access-denied ``Unsuccessful`` item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vpcflow.iam.delivery import (
    DeliveryCheck,
    aws_log_delivery_bucket_policy,
    check_cloudwatch_delivery,
    check_s3_delivery,
    merge_bucket_policy,
)
from vpcflow.iam.principals import Principal
from vpcflow.iam.world import IamWorld
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import Topology

#: Spec 6.2, AWS-RECORDED (code "400", bucket name without the ARN prefix, no trailing period).
BUCKET_MISSING = "LogDestination: {} does not exist"
BUCKET_DENIED = "Access Denied for LogDestination: {}. Please check LogDestination permission"


@dataclass(frozen=True)
class BucketOutcome:
    """What CreateFlowLogs decided about an S3 destination."""

    ok: bool
    message: str | None = None  # the Unsuccessful message when not ok
    new_policy: dict[str, Any] | None = None  # the policy to store when auto-attach changed it


def effective_bucket_policy(topo: Topology | None, bucket: str, overrides: dict[str, Any] | None) -> Any:
    """The bucket policy in force: auto-attach's stored one, else the topology file's."""
    if overrides is not None:
        return overrides
    b = topo.buckets_by_name.get(bucket) if topo else None
    return b.policy if b else None


def prepare_s3_destination(
    world: IamWorld,
    topo: Topology | None,
    creator: Principal,
    *,
    bucket: str,
    prefix: str,
    hive: bool,
    account_id: str,
    region: str,
    policy_in_force: dict[str, Any] | None,
) -> BucketOutcome:
    """Check (and if AWS would, auto-attach) the bucket policy for a new S3 flow log."""
    b = topo.buckets_by_name.get(bucket) if topo else None
    if b is None:
        return BucketOutcome(False, BUCKET_MISSING.format(bucket))
    check = check_s3_delivery(world, bucket, policy_in_force, prefix, account_id, region, hive, bucket_owner=b.owner_id)
    if check.ok:
        return BucketOutcome(True)
    arn = f"arn:aws:s3:::{bucket}"
    may_manage = (
        b.owner_id == account_id
        and world.authorize(creator, "s3:GetBucketPolicy", arn).allowed
        and world.authorize(creator, "s3:PutBucketPolicy", arn).allowed
    )
    if not may_manage:
        return BucketOutcome(False, BUCKET_DENIED.format(bucket))
    new = merge_bucket_policy(policy_in_force, aws_log_delivery_bucket_policy(bucket, prefix, account_id, region, hive))
    return BucketOutcome(True, None, new)


def check_flow_log(
    world: IamWorld,
    topo: Topology | None,
    fl: FlowLog,
    *,
    bucket_policy: dict[str, Any] | None = None,
    log_group_exists: bool | None = None,
) -> DeliveryCheck:
    """Can this flow log deliver now? CWL: trust + role permissions; S3: the bucket policy."""
    if fl.log_destination_type == "s3":
        bucket = fl.s3_bucket or ""
        b = topo.buckets_by_name.get(bucket) if topo else None
        if b is None:
            return DeliveryCheck(False, "Access error", f"bucket {bucket} does not exist")
        opts = fl.destination_options
        return check_s3_delivery(
            world,
            bucket,
            bucket_policy if bucket_policy is not None else b.policy,
            fl.s3_prefix,
            fl.account_id,
            fl.region,
            bool(opts and opts.hive_compatible_partitions),
            fl.flow_log_id,
            bucket_owner=b.owner_id,
        )
    group = fl.log_group_name or ""
    if log_group_exists is None:
        log_group_exists = bool(topo and any(g.log_group_name == group for g in topo.log_groups))
    role = fl.deliver_logs_permission_arn or ""
    if not role:
        return DeliveryCheck(False, "Access error", "no delivery role")
    return check_cloudwatch_delivery(world, role, fl.arn, fl.account_id, fl.region, group, log_group_exists)
