"""DeleteFlowLogs (spec 6.4) and CreateTags/DeleteTags on flow logs (spec 2.9: only tags change)."""

from __future__ import annotations

import pytest
from cp_helpers import VPC, s3_params

from vpcflow.controlplane.service import FlowLogService
from vpcflow.core.errors import ApiError


def test_delete_success_shape(svc: FlowLogService) -> None:
    fl = svc.create_flow_logs(None, **s3_params())["FlowLogIds"][0]
    assert svc.delete_flow_logs(None, FlowLogIds=[fl]) == {"Unsuccessful": []}
    assert svc.describe_flow_logs(None)["FlowLogs"] == []
    # the same subscription can be created again after deletion (delete + re-create, spec 2.9)
    assert svc.create_flow_logs(None, **s3_params())["FlowLogIds"]


def test_delete_unknown_id_spec_6_4(svc: FlowLogService) -> None:
    assert svc.delete_flow_logs(None, FlowLogIds=["bad-fl"]) == {
        "Unsuccessful": [
            {
                "Error": {
                    "Code": "InvalidFlowLogId.NotFound",
                    "Message": "These flow log ids in the input list are not found: [TotalCount: 1] bad-fl",
                },
                "ResourceId": "bad-fl",
            }
        ]
    }


def test_delete_mixed(svc: FlowLogService) -> None:
    fl = svc.create_flow_logs(None, **s3_params())["FlowLogIds"][0]
    out = svc.delete_flow_logs(None, FlowLogIds=["fl-a", fl, "fl-b"])
    msg = "These flow log ids in the input list are not found: [TotalCount: 2] fl-a fl-b"
    assert [u["ResourceId"] for u in out["Unsuccessful"]] == ["fl-a", "fl-b"]
    assert all(u["Error"] == {"Code": "InvalidFlowLogId.NotFound", "Message": msg} for u in out["Unsuccessful"])
    assert svc.describe_flow_logs(None)["FlowLogs"] == []


def test_delete_null_or_missing_ids(svc: FlowLogService) -> None:
    with pytest.raises(ApiError) as ei:
        svc.delete_flow_logs(None, FlowLogIds=[""])
    assert (ei.value.code, ei.value.message) == (
        "InvalidParameterValue",
        "1 validation error detected: Value null at 'flowLogId' has an invalid format",
    )
    with pytest.raises(ApiError) as ei:
        svc.delete_flow_logs(None)
    assert ei.value.code == "MissingParameter"


def test_delete_removes_tags(svc: FlowLogService) -> None:
    fl = svc.create_flow_logs(None, **s3_params())["FlowLogIds"][0]
    svc.create_tags(None, Resources=[fl], Tags=[{"Key": "a", "Value": "1"}])
    svc.delete_flow_logs(None, FlowLogIds=[fl])
    with svc.store.transaction(write=False) as t:
        assert t.tags_of(fl) == ()


def test_create_and_delete_tags(svc: FlowLogService) -> None:
    fl = svc.create_flow_logs(None, **s3_params())["FlowLogIds"][0]
    tags = lambda: svc.describe_flow_logs(None)["FlowLogs"][0]["Tags"]  # noqa: E731
    assert svc.create_tags(None, Resources=[fl], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]) == {}
    assert tags() == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    svc.create_tags(None, Resources=[fl], Tags=[{"Key": "a", "Value": "new"}])  # overwrite
    assert tags()[0] == {"Key": "a", "Value": "new"}
    svc.delete_tags(None, Resources=[fl], Tags=[{"Key": "a", "Value": "old"}])  # value differs: kept
    assert len(tags()) == 2
    svc.delete_tags(None, Resources=[fl], Tags=[{"Key": "a"}])  # no value: any value
    assert tags() == [{"Key": "b", "Value": "2"}]
    svc.delete_tags(None, Resources=[fl])  # no Tags: every tag
    assert tags() == []


def test_tags_errors(svc: FlowLogService) -> None:
    fl = svc.create_flow_logs(None, **s3_params())["FlowLogIds"][0]
    with pytest.raises(ApiError) as ei:
        svc.create_tags(None, Resources=["fl-00000000000000000"], Tags=[{"Key": "a", "Value": "1"}])
    assert ei.value.code == "InvalidFlowLogId.NotFound"
    with pytest.raises(ApiError) as ei:
        svc.create_tags(None, Resources=[VPC], Tags=[{"Key": "a", "Value": "1"}])
    assert ei.value.code == "UnsupportedOperation" and "topology" in ei.value.message
    with pytest.raises(ApiError) as ei:
        svc.create_tags(None, Resources=[fl], Tags=[{"Key": "aws:x", "Value": "1"}])
    assert "reserved" in ei.value.message
    with pytest.raises(ApiError) as ei:
        svc.create_tags(None, Resources=[fl])
    assert ei.value.code == "MissingParameter"
    svc.create_tags(None, Resources=[fl], Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)])
    with pytest.raises(ApiError) as ei:
        svc.create_tags(None, Resources=[fl], Tags=[{"Key": "one-more", "Value": ""}])
    assert ei.value.code == "TagLimitExceeded"


def test_flow_log_itself_is_unchanged_by_tags(svc: FlowLogService) -> None:
    fl = svc.create_flow_logs(None, **s3_params())["FlowLogIds"][0]
    before = svc.store.get_flow_log(fl)
    svc.create_tags(None, Resources=[fl], Tags=[{"Key": "a", "Value": "1"}])
    assert svc.store.get_flow_log(fl) == before
