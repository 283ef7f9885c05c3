"""``FlowLogService``: CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs, CreateTags, DeleteTags.

Parameters and results are boto3's dicts exactly (spec 6). The order of work is AWS's: parameter
rules (validation.py) -> the caller's permissions (authorization.py; DryRun answers here) ->
ClientToken replay -> resource look-ups and per-resource failures (``Unsuccessful`` items) -> one
write transaction. Flow logs are immutable (spec 2.9): there is no update; only tags change.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from vpcflow.controlplane.authorization import (
    Authorizer,
    Check,
    flow_log_arn,
    resource_arn,
    resource_tag_context,
    tag_context,
)
from vpcflow.controlplane.delivery_status import BUCKET_DENIED, check_flow_log, prepare_s3_destination
from vpcflow.controlplane.describe import describe, iso_ms
from vpcflow.controlplane.errors import unsuccessful_item
from vpcflow.controlplane.network import NetworkOperations
from vpcflow.controlplane.resources import Target, TargetError, lookup
from vpcflow.controlplane.security_group_edit import SecurityGroupEdits
from vpcflow.controlplane.tags import TagOperations
from vpcflow.controlplane.validation import (
    DELETE_PARAMS,
    CreateRequest,
    check_known,
    opt_bool,
    refuse_modification,
    validate_create,
    validate_flow_log_ids,
)
from vpcflow.core.api_errors import (
    FlowLogsLimitExceededError,
    IdempotentParameterMismatchError,
    InvalidFlowLogIdNotFoundError,
    not_found_flow_logs_message,
)
from vpcflow.core.errors import ConfigError
from vpcflow.iam.delivery import DeliveryCheck
from vpcflow.iam.principals import Principal
from vpcflow.iam.world import IamWorld
from vpcflow.model.flowlog import DestinationOptions, FlowLog, TagFieldSpecification
from vpcflow.model.logformat import parse_log_format
from vpcflow.model.topology.model import Topology
from vpcflow.storage.state import StateStore, StateTxn, StoredFlowLog

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
MAX_FLOW_LOGS_PER_RESOURCE = 250  # spec 6.6: UNCONFIRMED; a 2026 third-party summary states 250


def new_flow_log_id() -> str:
    """``fl-`` + 17 lowercase hex digits (spec 6.6)."""
    return "fl-" + secrets.token_hex(9)[:17]


@functools.lru_cache(maxsize=2)
def _parse_document(text: str, fmt: str, source: str) -> Topology:
    """A topology document parsed once per process: a run validates, stores and then reads the same
    text (a ``Topology`` is immutable, so sharing it is safe; parsing a 100-ENI file costs ~0.1-0.2 s)."""
    from vpcflow.model.topology.loader import loads_topology  # the topology layer's parser

    topo: Topology = loads_topology(text, source=source, fmt=fmt)
    return topo


def seeded_ids(seed: int) -> Callable[[], str]:
    """A deterministic id factory for tests and golden files."""
    import random

    rng = random.Random(seed)
    return lambda: "fl-" + "".join(rng.choice("0123456789abcdef") for _ in range(17))


class FlowLogService(TagOperations, NetworkOperations, SecurityGroupEdits):
    """The flow-log API of one account (``account_id`` in ``region``) on one state store."""

    def __init__(
        self,
        store: StateStore,
        *,
        account_id: str,
        region: str,
        id_factory: Callable[[], str] = new_flow_log_id,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        topology_loader: Callable[[str, str, str], Topology] | None = None,
    ) -> None:
        self.store = store
        self.account_id = account_id
        self.region = region
        self.new_id = id_factory
        self.clock = clock
        self._loader = topology_loader
        self._cache: tuple[datetime, Topology, IamWorld] | None = None
        self.max_flow_logs_per_resource = MAX_FLOW_LOGS_PER_RESOURCE

    # ------------------------------------------------------------------------------ the world
    def parse_topology(self, text: str, fmt: str, source: str) -> Topology:
        """Parse a topology document with the topology layer's loader (errors name file:line)."""
        return self._parse_topology(text, fmt, source)

    def _parse_topology(self, text: str, fmt: str, source: str) -> Topology:
        if self._loader is not None:
            return self._loader(text, fmt, source)
        return _parse_document(text, fmt, source)

    def world(self) -> tuple[Topology | None, IamWorld]:
        """The loaded topology (None: a fresh, empty account) and its IAM world (cached per load)."""
        doc = self.store.get_topology_document()
        if doc is None:
            return None, IamWorld.from_section({}, account_id=self.account_id, source="(no topology loaded)")
        if self._cache is not None and self._cache[0] == doc.loaded_at:
            return self._cache[1], self._cache[2]
        topo = self._parse_topology(doc.text, doc.fmt, doc.source)
        world = IamWorld.from_section(topo.iam, account_id=self.account_id, source=doc.source)
        self._cache = (doc.loaded_at, topo, world)
        return topo, world

    def _authorizer(self) -> tuple[Topology | None, Authorizer]:
        topo, world = self.world()
        return topo, Authorizer(world)

    # ------------------------------------------------------------------------------ create
    def create_flow_logs(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        req = validate_create(params, region=self.region, account_id=self.account_id)
        log_format = parse_log_format(req.log_format).text  # the record layer's rules (spec 1.6)
        topo, auth = self._authorizer()
        caller = auth.resolve(principal)

        targets = [
            lookup(topo, req.resource_type, r, account_id=self.account_id, region=self.region) for r in req.resource_ids
        ]
        ids = [self.new_id() for _ in req.resource_ids]
        auth.require(caller, self._create_checks(req, targets, ids), dry_run=req.dry_run)

        with self.store.transaction() as t:
            if req.client_token is not None:
                earlier = t.get_client_token("CreateFlowLogs", req.client_token)
                if earlier is not None:
                    if earlier[1] != req.fingerprint():
                        raise IdempotentParameterMismatchError()
                    return earlier[2]
            result = self._create_in(t, req, caller, auth, topo, targets, ids, log_format)
            if req.client_token is not None:
                t.put_client_token("CreateFlowLogs", req.client_token, caller.arn, req.fingerprint(), result)
        return result

    def _create_checks(self, req: CreateRequest, targets: list[Target | TargetError], ids: list[str]) -> list[Check]:
        checks: list[Check] = []
        req_tags = tag_context(req.tags)
        for rid, target, fl_id in zip(req.resource_ids, targets, ids, strict=True):
            ctx: dict[str, Any] = {"ec2:Region": self.region, **req_tags}
            if isinstance(target, Target):
                ctx["ec2:Vpc"] = resource_arn(self.region, self.account_id, "VPC", target.vpc_id)
                if target.subnet_id:
                    ctx["ec2:Subnet"] = resource_arn(self.region, self.account_id, "Subnet", target.subnet_id)
                ctx.update(resource_tag_context(target.tags))
            arns = (
                flow_log_arn(self.region, self.account_id, fl_id),
                resource_arn(self.region, self.account_id, req.resource_type, rid),
            )
            checks.append(Check("ec2:CreateFlowLogs", arns, ctx))
            if req.tags:
                checks.append(
                    Check(
                        "ec2:CreateTags",
                        (arns[0],),
                        {"ec2:Region": self.region, "ec2:CreateAction": "CreateFlowLogs", **req_tags},
                    )
                )
        if req.deliver_logs_permission_arn:
            # One PassRole question per new flow log: iam:AssociatedResourceArn is the flow log's ARN.
            for fl_id in ids:
                checks.append(
                    Check(
                        "iam:PassRole",
                        (req.deliver_logs_permission_arn,),
                        {
                            "iam:PassedToService": FLOW_LOGS_SERVICE,
                            "iam:AssociatedResourceArn": flow_log_arn(self.region, self.account_id, fl_id),
                        },
                    )
                )
        if req.log_destination_type == "s3":
            checks.append(Check("logs:CreateLogDelivery", ("*",), {}))
        return checks

    def _create_in(
        self,
        t: StateTxn,
        req: CreateRequest,
        caller: Principal,
        auth: Authorizer,
        topo: Topology | None,
        targets: list[Target | TargetError],
        ids: list[str],
        log_format: str,
    ) -> dict[str, Any]:
        unsuccessful: list[dict[str, Any]] = []
        created: list[str] = []
        destination_error = self._destination_error(t, req, caller, auth, topo)
        existing = t.stored_flow_logs()
        now = iso_ms(self.clock().astimezone(UTC))
        for rid, target, fl_id in zip(req.resource_ids, targets, ids, strict=True):
            if isinstance(target, TargetError):
                unsuccessful.append(unsuccessful_item(rid, target.code, target.message))
                continue
            if destination_error is not None:
                unsuccessful.append(unsuccessful_item(rid, "400", destination_error))
                continue
            if any(self._same_subscription(s.flow_log, req, rid) for s in existing):
                # Spec 6.5: FlowLogAlreadyExists, reported per resource (AWS returns partial success).
                unsuccessful.append(
                    unsuccessful_item(
                        rid,
                        "FlowLogAlreadyExists",
                        "Error. There is an existing Flow Log with the same configuration and log destination.",
                    )
                )
                continue
            if sum(1 for s in existing if s.flow_log.resource_id == rid) >= self.max_flow_logs_per_resource:
                # Spec 6.6: quota UNCONFIRMED (3P: 250 subscriptions per resource); per-resource item.
                err = FlowLogsLimitExceededError()
                unsuccessful.append(unsuccessful_item(rid, err.code, err.message))
                continue
            fl = self._flow_log(req, fl_id, rid, now, log_format)
            t.insert_flow_log(fl)
            for k, v in req.tags:
                t.put_tag(fl_id, k, v)
            created.append(fl_id)
            existing.append(StoredFlowLog(fl, "SUCCESS", None, None, req.tags))
        token = req.client_token if req.client_token is not None else str(uuid.uuid4())
        return {"ClientToken": token, "FlowLogIds": created, "Unsuccessful": unsuccessful}

    def _destination_error(
        self, t: StateTxn, req: CreateRequest, caller: Principal, auth: Authorizer, topo: Topology | None
    ) -> str | None:
        """The per-resource ``400`` message for a destination that cannot be used, or None.

        S3: a missing bucket, or one whose policy denies delivery and that the caller may not fix.
        CWL: a log group of another account, or the ``:*`` ARN form (spec 3: access-denied errors).
        """
        if req.log_destination_type == "s3":
            bucket = req.s3_bucket or ""
            prefix = (req.log_destination or "").removeprefix(f"arn:aws:s3:::{bucket}").strip("/")
            stored = t.get_bucket_policy(bucket)
            b = topo.buckets_by_name.get(bucket) if topo else None
            in_force = stored[0] if stored else (b.policy if b else None)
            opts = req.destination_options
            outcome = prepare_s3_destination(
                auth.world,
                topo,
                caller,
                bucket=bucket,
                prefix=prefix,
                hive=bool(opts and opts[1]),
                account_id=self.account_id,
                region=self.region,
                policy_in_force=in_force,
            )
            if not outcome.ok:
                return outcome.message
            if outcome.new_policy is not None:
                t.set_bucket_policy(bucket, outcome.new_policy, b.policy if b else None)
            return None
        arn = req.log_destination or ""
        group_account = arn.split(":")[4] if arn.count(":") >= 5 else self.account_id
        if req.log_group_arn_star or group_account != self.account_id:
            shown = arn.removeprefix(f"arn:aws:logs:{self.region}:{group_account}:log-group:")
            return BUCKET_DENIED.format(shown + (":*" if req.log_group_arn_star else ""))
        return None

    @staticmethod
    def _same_subscription(fl: FlowLog, req: CreateRequest, rid: str) -> bool:
        """Spec 6.5 duplicate rule: same resource, same destination, same traffic type (decided)."""
        if fl.resource_id != rid or fl.log_destination_type != req.log_destination_type:
            return False
        if fl.traffic_type != req.traffic_type:
            return False
        return (fl.log_destination or "").rstrip("/") == (req.log_destination or "").rstrip("/")

    def _flow_log(self, req: CreateRequest, fl_id: str, rid: str, now: datetime, log_format: str) -> FlowLog:
        opts = DestinationOptions(*req.destination_options) if req.destination_options else None  # type: ignore[arg-type]
        return FlowLog(
            flow_log_id=fl_id,
            account_id=self.account_id,
            region=self.region,
            resource_id=rid,
            resource_type=req.resource_type,  # type: ignore[arg-type]
            traffic_type=req.traffic_type,  # type: ignore[arg-type]
            log_destination_type=req.log_destination_type,  # type: ignore[arg-type]
            creation_time=now,
            log_destination=req.log_destination,
            log_group_name=req.log_group_name,
            deliver_logs_permission_arn=req.deliver_logs_permission_arn,
            log_format=log_format,
            max_aggregation_interval=req.max_aggregation_interval,
            destination_options=opts,
            tag_field_specifications=tuple(
                TagFieldSpecification(rt, keys)  # type: ignore[arg-type]
                for rt, keys in req.tag_field_specifications
            ),
        )

    # ------------------------------------------------------------------------------ describe
    def describe_flow_logs(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        _, auth = self._authorizer()
        caller = auth.resolve(principal)
        dry_run = opt_bool(params, "DryRun")
        # Kept until state.db changes (any process): an endpoint answers Describe from the same rows often.
        items = self.store.read_cached("stored_flow_logs", lambda t: tuple(t.stored_flow_logs()))
        result = describe(items, params)  # parameter rules first, then permissions
        auth.require(caller, [Check("ec2:DescribeFlowLogs", ("*",), {"ec2:Region": self.region})], dry_run=dry_run)
        return result

    # ------------------------------------------------------------------------------ delete
    def delete_flow_logs(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        check_known(params, DELETE_PARAMS, "DeleteFlowLogs")
        dry_run = opt_bool(params, "DryRun")
        ids = validate_flow_log_ids(params, required=True)
        _, auth = self._authorizer()
        caller = auth.resolve(principal)
        with self.store.transaction(write=False) as t:
            known = {s.flow_log.flow_log_id: s for s in t.stored_flow_logs(ids)}
        checks = [
            Check(
                "ec2:DeleteFlowLogs",
                (flow_log_arn(self.region, self.account_id, i),),
                {"ec2:Region": self.region, **resource_tag_context(known[i].tags if i in known else ())},
            )
            for i in dict.fromkeys(ids)
        ]
        if any(s.flow_log.log_destination_type == "s3" for s in known.values()):
            # Spec 4: S3 flow logs are log deliveries; removing one needs logs:DeleteLogDelivery.
            checks.append(Check("logs:DeleteLogDelivery", ("*",), {}))
        auth.require(caller, checks, dry_run=dry_run)
        missing: list[str] = []
        with self.store.transaction() as t:
            for i in dict.fromkeys(ids):
                if not t.delete_flow_log(i):
                    missing.append(i)
        # Spec 6.4: unknown ids are Unsuccessful items (3P fixture); each names every id not found.
        message = not_found_flow_logs_message(missing)
        return {"Unsuccessful": [unsuccessful_item(i, "InvalidFlowLogId.NotFound", message) for i in missing]}

    # ------------------------------------------------------------------------------ immutability
    def modify_flow_logs(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        """There is no such operation in AWS (spec 2.9): always refused with a clear error."""
        raise refuse_modification("ModifyFlowLogs")

    # ------------------------------------------------------------------------------ delivery status
    def check_delivery(self, flow_log_ids: list[str] | None = None, *, record: bool = True,
                       spooled: Collection[str] = ()) -> dict[str, DeliveryCheck]:
        """Run the delivery-time permission checks and record SUCCESS / FAILED ``Access error``.

        Delivery runs the same checks when it delivers; this lets a user (``vpcflow ec2
        check-delivery``) see the status change without traffic. ``record=False`` only asks: the
        sinks do, which record the status from what the destination did (a passing check says
        nothing about a bucket that is gone or an endpoint that is down). ``spooled``: ids whose
        records wait in the delivery spool: they stay FAILED with their message whatever the check
        says, until a run delivers them (issue 13).
        """
        topo, world = self.world()
        with self.store.transaction(write=False) as t:
            items = t.stored_flow_logs(flow_log_ids)
            if flow_log_ids is not None:
                missing = sorted(set(flow_log_ids) - {s.flow_log.flow_log_id for s in items})
                if missing:
                    raise InvalidFlowLogIdNotFoundError.for_ids(missing)
            policies = {b: t.get_bucket_policy(b) for b in {s.flow_log.s3_bucket for s in items} if b}
        results: dict[str, DeliveryCheck] = {}
        for s in items:
            fl = s.flow_log
            stored = policies.get(fl.s3_bucket or "")
            check = check_flow_log(world, topo, fl, bucket_policy=stored[0] if stored else None)
            if check.ok and fl.flow_log_id in spooled:
                check = DeliveryCheck(False, s.deliver_logs_error_message or "Unknown error",
                                      "the permissions allow delivery, but records wait in the delivery spool "
                                      "since a delivery failed; the next run that reaches the destination "
                                      "delivers them", check.decisions)
            results[fl.flow_log_id] = check
        if not record:
            return results
        with self.store.transaction() as t:
            for fl_id, check in results.items():
                if check.ok:
                    t.set_delivery_status(fl_id, "SUCCESS", None)
                else:
                    t.set_delivery_status(fl_id, "FAILED", check.aws_message or "Access error")
        return results

    # ------------------------------------------------------------------------------ topology
    def load_topology(self, text: str, *, fmt: str, source: str) -> Topology:
        """Validate and store a topology document; it replaces the previous one.

        Bucket policies auto-attach changed are kept unless the file now gives that bucket a
        different policy than the one they were derived from (the file's change wins).
        """
        topo = self._parse_topology(text, fmt, source)
        IamWorld.from_section(topo.iam, account_id=self.account_id, source=source)  # validate IAM now
        if topo.account_id != self.account_id:
            raise ConfigError(
                f"the topology is for account {topo.account_id}, but this data directory is account "
                f"{self.account_id}; run `vpcflow init --account-id {topo.account_id}` on a new data directory",
                location=source,
            )
        with self.store.transaction() as t:
            t.put_topology(text, fmt, source)
            for bucket in t.bucket_policy_overrides():
                found = t.get_bucket_policy(bucket)
                b = topo.buckets_by_name.get(bucket)
                new_base = b.policy if b else None
                if found is not None and found[1] != new_base:
                    t.delete_bucket_policy(bucket)
        self._cache = None
        return topo
