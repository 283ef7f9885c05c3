"""AWS EC2 API errors raised by the control plane, one class per AWS error code (spec 6.5).

Each class carries AWS's ``code`` and HTTP status; the message is AWS's text where it is known.
Per-resource failures of CreateFlowLogs/DeleteFlowLogs are not raised: they become ``Unsuccessful``
items built by :func:`unsuccessful_item` (partial success is data, not an exception).
"""

from __future__ import annotations

from typing import Any

from vpcflow.core.errors import (
    ApiError,
    InvalidParameterError,
    InvalidParameterValueError,
    MissingParameterError,
    UnauthorizedOperationError,
)

__all__ = [
    "UNAUTHORIZED_MESSAGE",
    "ApiError",
    "DryRunOperationError",
    "FlowLogAlreadyExistsError",
    "FlowLogsLimitExceededError",
    "IdempotentParameterMismatchError",
    "ImmutableFlowLogError",
    "InvalidFlowLogIdNotFoundError",
    "InvalidNetworkInterfaceIdNotFoundError",
    "InvalidParameterError",
    "InvalidParameterValueError",
    "InvalidSubnetIdNotFoundError",
    "InvalidVpcIdNotFoundError",
    "MissingParameterError",
    "UnauthorizedOperationError",
    "UnsupportedOperationError",
    "not_found_error_for",
    "unsuccessful_item",
]

#: AWS's text for every EC2 authorization failure (spec 6.5, wire 1.4).
UNAUTHORIZED_MESSAGE = "You are not authorized to perform this operation."


class DryRunOperationError(ApiError):
    """A DryRun request that would have succeeded (EC2 answers it as an error, HTTP 412)."""

    code = "DryRunOperation"
    http_status = 412

    def __init__(self, message: str = "Request would have succeeded, but DryRun flag is set.") -> None:
        super().__init__(message)


class FlowLogAlreadyExistsError(ApiError):
    code = "FlowLogAlreadyExists"

    def __init__(
        self, message: str = "Error. There is an existing Flow Log with the same configuration and log destination."
    ) -> None:
        super().__init__(message)


class FlowLogsLimitExceededError(ApiError):
    code = "FlowLogsLimitExceeded"

    def __init__(self, message: str = "You've reached the limit on the number of flow logs you can create.") -> None:
        super().__init__(message)


class IdempotentParameterMismatchError(ApiError):
    code = "IdempotentParameterMismatch"

    def __init__(
        self, message: str = "The request uses the same client token as a previous, but non-identical request."
    ) -> None:
        super().__init__(message)


class InvalidFlowLogIdNotFoundError(ApiError):
    code = "InvalidFlowLogId.NotFound"

    @classmethod
    def for_ids(cls, ids: list[str]) -> InvalidFlowLogIdNotFoundError:
        return cls(not_found_flow_logs_message(ids))


class InvalidVpcIdNotFoundError(ApiError):
    code = "InvalidVpcID.NotFound"


class InvalidSubnetIdNotFoundError(ApiError):
    code = "InvalidSubnetID.NotFound"


class InvalidNetworkInterfaceIdNotFoundError(ApiError):
    code = "InvalidNetworkInterfaceID.NotFound"


class UnsupportedOperationError(ApiError):
    """A real EC2 code; vpcflow uses it for what the model does not cover (other resource types)."""

    code = "UnsupportedOperation"


class ImmutableFlowLogError(UnsupportedOperationError):
    """Anything that tries to change a flow log after creation (spec 2.9: delete and re-create)."""

    def __init__(self, what: str = "a flow log") -> None:
        super().__init__(
            f"Flow logs cannot be modified after creation ({what}). Delete the flow log and create a new one; "
            "only tags can change (CreateTags/DeleteTags)."
        )


def not_found_flow_logs_message(ids: list[str]) -> str:
    """AWS's runtime text for unknown flow-log ids (spec 6.4)."""
    return f"These flow log ids in the input list are not found: [TotalCount: {len(ids)}] {' '.join(ids)}"


#: EC2's NotFound code and message noun for each resource type CreateFlowLogs takes.
_NOT_FOUND: dict[str, tuple[type[ApiError], str]] = {
    "VPC": (InvalidVpcIdNotFoundError, "vpc"),
    "Subnet": (InvalidSubnetIdNotFoundError, "subnet"),
    "NetworkInterface": (InvalidNetworkInterfaceIdNotFoundError, "networkInterface"),
}


def not_found_error_for(resource_type: str, resource_id: str, detail: str = "") -> ApiError:
    """EC2's standard NotFound error for a missing resource (``The vpc ID 'vpc-1' does not exist``)."""
    cls, noun = _NOT_FOUND[resource_type]
    message = f"The {noun} ID '{resource_id}' does not exist"
    if detail:
        message += f" ({detail})"
    return cls(message)


def unsuccessful_item(resource_id: str, code: str, message: str) -> dict[str, Any]:
    """One ``Unsuccessful`` entry in boto3's shape."""
    return {"Error": {"Code": code, "Message": message}, "ResourceId": resource_id}
