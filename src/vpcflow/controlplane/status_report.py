"""A vpcflow extension of the EC2 API: agents report the delivery status they see (docs/agent.md).

AWS has no public call for this (its own delivery service writes ``DeliverLogsStatus``). vpcflow's
endpoint accepts ``Action=VpcflowReportDeliveryStatus`` (EC2 Query protocol, SigV4-signed like any
EC2 call) with ``FlowLogId``, ``DeliverLogsStatus`` (``SUCCESS`` | ``FAILED``) and, for FAILED,
``DeliverLogsErrorMessage`` (AWS's texts: ``Access error``, ``Rate limited``, ``Unknown error``). It is
authorized as the IAM action ``ec2:VpcflowReportDeliveryStatus`` on the flow log's ARN, so a fleet's
agents get a policy allowing exactly that; the latest report wins. An agent pointed at AWS itself
never sends it.
"""

from __future__ import annotations

from typing import Any

from vpcflow.controlplane.authorization import Check, flow_log_arn
from vpcflow.core.api_errors import InvalidFlowLogIdNotFoundError, InvalidParameterValueError

ACTION = "VpcflowReportDeliveryStatus"
IAM_ACTION = f"ec2:{ACTION}"
MESSAGES = ("Access error", "Rate limited", "Unknown error")


def report_delivery_status(svc: Any, principal: str | None, params: dict[str, str]) -> None:
    """Validate, authorize and record one report (``svc``: the ``FlowLogService``)."""
    extra = sorted(set(params) - {"FlowLogId", "DeliverLogsStatus", "DeliverLogsErrorMessage"})
    if extra:
        raise InvalidParameterValueError(f"The parameter {extra[0]} is not recognized")
    fid = params.get("FlowLogId", "")
    status = params.get("DeliverLogsStatus", "")
    message = params.get("DeliverLogsErrorMessage")
    if not fid.startswith("fl-"):
        raise InvalidParameterValueError(f"Invalid flow log id: {fid!r}")
    if status not in ("SUCCESS", "FAILED"):
        raise InvalidParameterValueError(f"DeliverLogsStatus must be SUCCESS or FAILED, not {status!r}")
    if status == "FAILED" and message not in MESSAGES:
        raise InvalidParameterValueError(f"DeliverLogsErrorMessage must be one of {', '.join(MESSAGES)}")
    _, auth = svc._authorizer()
    caller = auth.resolve(principal)
    auth.require(caller, [Check(IAM_ACTION, (flow_log_arn(svc.region, svc.account_id, fid),),
                                {"ec2:Region": svc.region})])
    if not svc.store.set_delivery_status(fid, status, message if status == "FAILED" else None):
        raise InvalidFlowLogIdNotFoundError.for_ids([fid])
