"""ClientToken idempotency (spec 6.1): the same token and parameters give the first result; different
parameters give IdempotentParameterMismatch; tokens are case-sensitive and survive restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from cp_helpers import ALICE, SUBNET, make_service, make_topology, s3_params

from vpcflow.controlplane.service import FlowLogService
from vpcflow.core.errors import ApiError


def test_same_token_same_params_returns_first_result(svc: FlowLogService) -> None:
    first = svc.create_flow_logs(None, **s3_params(ClientToken="tok-1"))
    again = svc.create_flow_logs(None, **s3_params(ClientToken="tok-1"))
    assert again == first and first["ClientToken"] == "tok-1"
    assert len(svc.describe_flow_logs(None)["FlowLogs"]) == 1  # nothing new created
    # the replay also returns the first result when it had failures (no second FlowLogAlreadyExists)
    assert again["Unsuccessful"] == []


def test_same_token_different_params_mismatch(svc: FlowLogService) -> None:
    svc.create_flow_logs(None, **s3_params(ClientToken="tok-2"))
    with pytest.raises(ApiError) as ei:
        svc.create_flow_logs(None, **s3_params(ClientToken="tok-2", TrafficType="REJECT"))
    assert (ei.value.code, ei.value.message) == (
        "IdempotentParameterMismatch",
        "The request uses the same client token as a previous, but non-identical request.",
    )


def test_param_order_does_not_matter_but_values_do(svc: FlowLogService) -> None:
    p = s3_params(ClientToken="tok-3", ResourceIds=[SUBNET], ResourceType="Subnet")
    first = svc.create_flow_logs(None, **dict(reversed(list(p.items()))))
    assert svc.create_flow_logs(None, **p) == first
    with pytest.raises(ApiError):
        svc.create_flow_logs(None, **{**p, "MaxAggregationInterval": 60})


def test_tokens_are_case_sensitive(svc: FlowLogService) -> None:
    a = svc.create_flow_logs(None, **s3_params(ClientToken="Tok"))
    b = svc.create_flow_logs(None, **s3_params(ClientToken="tok", TrafficType="ACCEPT"))
    assert a["FlowLogIds"] != b["FlowLogIds"] and b["FlowLogIds"]


def test_dry_run_does_not_consume_token(svc: FlowLogService) -> None:
    with pytest.raises(ApiError) as ei:
        svc.create_flow_logs(ALICE, **s3_params(ClientToken="tok-4", DryRun=True))
    assert ei.value.code == "DryRunOperation"
    out = svc.create_flow_logs(ALICE, **s3_params(ClientToken="tok-4"))
    assert out["FlowLogIds"]


def test_generated_token_when_none(svc: FlowLogService) -> None:
    a = svc.create_flow_logs(None, **s3_params())
    b = svc.create_flow_logs(None, **s3_params(TrafficType="REJECT"))
    assert a["ClientToken"] and b["ClientToken"] and a["ClientToken"] != b["ClientToken"]


def test_token_survives_restart(tmp_path: Path) -> None:
    svc = make_service(tmp_path, make_topology())
    first = svc.create_flow_logs(None, **s3_params(ClientToken="persist"))
    svc.store.close()
    again = make_service(tmp_path, make_topology(), seed=99).create_flow_logs(None, **s3_params(ClientToken="persist"))
    assert again == first


def test_token_too_long(svc: FlowLogService) -> None:
    with pytest.raises(ApiError) as ei:
        svc.create_flow_logs(None, **s3_params(ClientToken="x" * 65))
    assert ei.value.code == "InvalidParameterValue"
