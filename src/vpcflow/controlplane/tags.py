"""CreateTags / DeleteTags on flow logs: the only change a flow log allows (spec 2.9).

Mixed into ``FlowLogService``. Only flow-log ids (``fl-...``) are taggable here; tags of VPCs,
subnets and ENIs come from the topology file. EC2 semantics: CreateTags overwrites a key's value;
DeleteTags without a Value deletes any value, with a Value only a matching one, and without Tags
every tag. 50 tags per resource.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vpcflow.controlplane.authorization import Authorizer, Check, flow_log_arn
from vpcflow.controlplane.validation import (
    MAX_TAGS_PER_RESOURCE,
    TAGS_PARAMS,
    check_known,
    opt_bool,
    str_list,
    validate_tags,
)
from vpcflow.core.api_errors import InvalidFlowLogIdNotFoundError, MissingParameterError, UnsupportedOperationError
from vpcflow.core.errors import ApiError
from vpcflow.iam.principals import Principal
from vpcflow.model.topology.model import Topology
from vpcflow.storage.state import StateStore, StateTxn


class TagOperations:
    """Needs ``store``, ``region``, ``account_id`` and ``_authorizer()`` from the service."""

    store: StateStore
    region: str
    account_id: str
    _authorizer: Callable[[], tuple[Topology | None, Authorizer]]

    def _tag_targets(self, params: dict[str, Any], operation: str) -> tuple[list[str], bool]:
        check_known(params, TAGS_PARAMS, operation)
        dry_run = opt_bool(params, "DryRun")
        resources = str_list(params, "Resources")
        if not resources:
            raise MissingParameterError("The request must contain the parameter Resources")
        for r in resources:
            if not r.startswith("fl-"):
                raise UnsupportedOperationError(
                    f"vpcflow tags flow logs only (ids fl-...); the tags of {r} come from the topology file"
                )
        return list(dict.fromkeys(resources)), dry_run

    def create_tags(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        resources, dry_run = self._tag_targets(params, "CreateTags")
        if params.get("Tags") is None:
            raise MissingParameterError("The request must contain the parameter Tags")
        tags = tuple((k, v or "") for k, v in validate_tags(params["Tags"]))
        _, auth = self._authorizer()
        caller = auth.resolve(principal)
        self._require_tagging(auth, caller, "ec2:CreateTags", resources, tags, dry_run)
        with self.store.transaction() as t:
            self._require_existing(t, resources)
            for r in resources:
                current = dict(t.tags_of(r))
                current.update(tags)
                if len(current) > MAX_TAGS_PER_RESOURCE:
                    raise ApiError(
                        f"The maximum number of tags per resource ({MAX_TAGS_PER_RESOURCE}) was exceeded for {r}.",
                        code="TagLimitExceeded",
                    )
                for k, v in tags:
                    t.put_tag(r, k, v)
        return {}

    def delete_tags(self, principal: str | None = None, **params: Any) -> dict[str, Any]:
        resources, dry_run = self._tag_targets(params, "DeleteTags")
        tags = validate_tags(params.get("Tags") or [], allow_missing_value=True)
        _, auth = self._authorizer()
        caller = auth.resolve(principal)
        self._require_tagging(auth, caller, "ec2:DeleteTags", resources, tags, dry_run)
        with self.store.transaction() as t:
            self._require_existing(t, resources)
            for r in resources:
                if not tags:  # EC2: no Tags deletes every tag of the resource
                    for k, _ in t.tags_of(r):
                        t.delete_tag(r, k)
                for k, v in tags:
                    t.delete_tag(r, k, v)
        return {}

    def _require_tagging(
        self,
        auth: Authorizer,
        caller: Principal,
        action: str,
        resources: list[str],
        tags: tuple[tuple[str, str | None], ...],
        dry_run: bool,
    ) -> None:
        ctx: dict[str, Any] = {"ec2:Region": self.region}
        if tags:
            ctx["aws:TagKeys"] = [k for k, _ in tags]
            ctx.update({f"aws:RequestTag/{k}": v for k, v in tags if v is not None})
        arns = tuple(flow_log_arn(self.region, self.account_id, r) for r in resources)
        auth.require(caller, [Check(action, arns, ctx)], dry_run=dry_run)

    @staticmethod
    def _require_existing(t: StateTxn, resources: list[str]) -> None:
        missing = [r for r in resources if not t.flow_log_exists(r)]
        if missing:
            raise InvalidFlowLogIdNotFoundError.for_ids(missing)
