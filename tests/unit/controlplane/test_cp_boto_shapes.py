"""Fidelity to boto3: the parameter names we accept and the result members we return are botocore's
(EC2 service model, loaded at run time), and botocore's own validator accepts our requests."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from cp_helpers import SUBNET, cwl_params, s3_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpcflow.controlplane.service import FlowLogService
from vpcflow.controlplane.validation import CREATE_PARAMS, DELETE_PARAMS, DESCRIBE_PARAMS, TAGS_PARAMS
from vpcflow.core.errors import ApiError

MODEL = botocore.session.get_session().get_service_model("ec2")


def members(op: str, side: str = "input") -> set[str]:
    o = MODEL.operation_model(op)
    shape = o.input_shape if side == "input" else o.output_shape
    return set(shape.members) if shape is not None else set()


def test_accepted_parameters_are_botocores() -> None:
    assert members("CreateFlowLogs") == CREATE_PARAMS
    assert members("DescribeFlowLogs") == DESCRIBE_PARAMS
    assert members("DeleteFlowLogs") == DELETE_PARAMS
    assert members("CreateTags") == TAGS_PARAMS == members("DeleteTags")


def test_requests_pass_botocore_validation() -> None:
    v = ParamValidator()
    for params in (s3_params(DestinationOptions={"FileFormat": "parquet"}), cwl_params(ClientToken="t")):
        report = v.validate(params, MODEL.operation_model("CreateFlowLogs").input_shape)
        assert not report.has_errors(), report.generate_report()


def test_results_use_botocore_members(svc: FlowLogService) -> None:
    tag = [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "a", "Value": "b"}]}]
    out = svc.create_flow_logs(None, **s3_params(TagSpecifications=tag, ResourceIds=["vpc-0000000000000000f"]))
    assert set(out) == members("CreateFlowLogs", "output")
    assert set(out["Unsuccessful"][0]) == set(MODEL.shape_for("UnsuccessfulItem").members)
    assert set(out["Unsuccessful"][0]["Error"]) == set(MODEL.shape_for("UnsuccessfulItemError").members)
    svc.create_flow_logs(None, **s3_params(TagSpecifications=tag))
    svc.create_flow_logs(
        None,
        **cwl_params(
            ResourceType="Subnet",
            ResourceIds=[SUBNET],
            TagFieldSpecifications=[{"ResourceType": "instance", "TagKeys": ["Name"]}],
        ),
    )
    flow_log_members = set(MODEL.shape_for("FlowLog").members)
    for fl in svc.describe_flow_logs(None)["FlowLogs"]:
        assert set(fl) <= flow_log_members
        assert set(fl.get("DestinationOptions", {})) <= set(MODEL.shape_for("DestinationOptionsResponse").members)
    assert set(svc.describe_flow_logs(None, MaxResults=5)) <= members("DescribeFlowLogs", "output")
    assert set(svc.delete_flow_logs(None, FlowLogIds=["fl-x"])) == members("DeleteFlowLogs", "output")


def test_filters_is_not_a_boto3_parameter(svc: FlowLogService) -> None:
    with pytest.raises(ApiError) as ei:
        svc.describe_flow_logs(None, Filters=[{"Name": "resource-id", "Values": ["x"]}])
    assert ei.value.code == "InvalidParameterValue" and '"Filters"' in ei.value.message


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=0, max_value=14), page=st.integers(min_value=5, max_value=9))
def test_pagination_returns_each_item_once(tmp_path_factory: Any, n: int, page: int) -> None:
    from cp_helpers import BUCKET, make_service, make_topology

    svc = make_service(tmp_path_factory.mktemp("p"), make_topology())
    made: list[str] = []
    for i in range(n):
        made += svc.create_flow_logs(None, **s3_params(LogDestination=f"arn:aws:s3:::{BUCKET}/p{i}/"))["FlowLogIds"]
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": page}
    while True:
        out = svc.describe_flow_logs(None, **kwargs)
        assert len(out["FlowLogs"]) <= page
        seen += [f["FlowLogId"] for f in out["FlowLogs"]]
        if "NextToken" not in out:
            break
        kwargs["NextToken"] = out["NextToken"]
    assert seen == made
    svc.store.close()
