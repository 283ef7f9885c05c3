"""How the control plane words AWS EC2 errors (spec 6.5): AWS's texts and the NotFound error per resource type.

The error classes themselves live in ``core/api_errors.py`` (the one home of the API error tree).
Per-resource failures of CreateFlowLogs/DeleteFlowLogs are not raised: they become ``Unsuccessful``
items built by :func:`unsuccessful_item` (partial success is data, not an exception).
"""

from __future__ import annotations

from typing import Any

from vpcflow.core.api_errors import (
    InvalidNetworkInterfaceIdNotFoundError,
    InvalidSubnetIdNotFoundError,
    InvalidVpcIdNotFoundError,
)
from vpcflow.core.errors import ApiError

__all__ = ["UNAUTHORIZED_MESSAGE", "not_found_error_for", "unsuccessful_item"]

#: AWS's text for every EC2 authorization failure (spec 6.5, wire 1.4).
UNAUTHORIZED_MESSAGE = "You are not authorized to perform this operation."


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
