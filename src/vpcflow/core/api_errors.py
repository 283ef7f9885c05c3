"""Every AWS API error vpcflow raises: the one home of the ``ApiError`` subtree.

Each class is one AWS error code: ``code`` is AWS's code, ``http_status`` the status the endpoint
answers with, and a default message is AWS's text where it is known. The classes live here, in
``core``, because every layer raises them (the format parser in ``model``, the codecs, the stores,
IAM, the control plane, the query languages, the endpoint) and ``core`` is the one layer all of them
may import. The ``ApiError`` base itself stays in ``core/errors.py`` with the rest of the root tree.

::

    ApiError                                    core/errors.py
    ├── EC2 (Query protocol: <Response><Errors><Error><Code>)
    │   ├── InvalidParameterError               InvalidParameter
    │   ├── InvalidParameterValueError          InvalidParameterValue
    │   ├── MissingParameterError               MissingParameter
    │   ├── UnknownParameterError               UnknownParameter
    │   ├── InvalidActionError                  InvalidAction
    │   ├── MissingActionError                  MissingAction
    │   ├── UnauthorizedOperationError          UnauthorizedOperation (403)
    │   ├── AuthFailureError                    AuthFailure (401)
    │   ├── DryRunOperationError                DryRunOperation (412)
    │   ├── FlowLogAlreadyExistsError           FlowLogAlreadyExists
    │   ├── FlowLogsLimitExceededError          FlowLogsLimitExceeded
    │   ├── IdempotentParameterMismatchError    IdempotentParameterMismatch
    │   ├── InvalidFlowLogIdNotFoundError       InvalidFlowLogId.NotFound
    │   ├── InvalidVpcIdNotFoundError           InvalidVpcID.NotFound
    │   ├── InvalidSubnetIdNotFoundError        InvalidSubnetID.NotFound
    │   ├── InvalidNetworkInterfaceIdNotFoundError  InvalidNetworkInterfaceID.NotFound
    │   ├── UnsupportedOperationError           UnsupportedOperation
    │   │   └── ImmutableFlowLogError           (spec 2.9: flow logs cannot be modified)
    │   └── BucketPolicyTooLargeError           LogDestinationPermissionIssueException
    ├── IAM
    │   └── UnknownPrincipalError               NoSuchEntity (404)
    ├── S3 (REST protocol: <Error><Code>)
    │   ├── S3AccessDeniedError                 AccessDenied (403)
    │   ├── NoSuchBucketError                   NoSuchBucket (404)
    │   ├── NoSuchKeyError                      NoSuchKey (404)
    │   ├── NoSuchBucketPolicyError             NoSuchBucketPolicy (404)
    │   ├── BucketAlreadyOwnedByYouError        BucketAlreadyOwnedByYou (409)
    │   ├── BucketNotEmptyError                 BucketNotEmpty (409)
    │   ├── InvalidBucketNameError              InvalidBucketName
    │   ├── MalformedPolicyError                MalformedPolicy
    │   └── InvalidArgumentError                InvalidArgument
    │       └── InvalidObjectKeyError           (a key the store cannot hold)
    └── LogsApiError: CloudWatch Logs (JSON 1.1 protocol: ``__type`` is the code)
        ├── ResourceNotFoundError               ResourceNotFoundException
        ├── ResourceAlreadyExistsError          ResourceAlreadyExistsException
        ├── InvalidParameterExceptionError      InvalidParameterException
        │   └── FilterPatternError              (an invalid filter pattern)
        ├── MalformedQueryError                 MalformedQueryException (Logs Insights)
        ├── LogsAccessDeniedError               AccessDeniedException
        ├── UnknownOperationError               UnknownOperationException
        └── SerializationError                  SerializationException
"""

from __future__ import annotations

from typing import Any

from vpcflow.core.errors import ApiError

# ------------------------------------------------------------------------------------------------ EC2


class InvalidParameterError(ApiError):
    code = "InvalidParameter"


class InvalidParameterValueError(ApiError):
    code = "InvalidParameterValue"


class MissingParameterError(ApiError):
    code = "MissingParameter"


class UnknownParameterError(ApiError):
    code = "UnknownParameter"


class InvalidActionError(ApiError):
    code = "InvalidAction"


class MissingActionError(ApiError):
    code = "MissingAction"


class UnauthorizedOperationError(ApiError):
    code = "UnauthorizedOperation"
    http_status = 403


class AuthFailureError(ApiError):
    """An access key id nobody owns (EC2's AuthFailure)."""

    code = "AuthFailure"
    http_status = 401


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


def not_found_flow_logs_message(ids: list[str]) -> str:
    """AWS's runtime text for unknown flow-log ids (spec 6.4)."""
    return f"These flow log ids in the input list are not found: [TotalCount: {len(ids)}] {' '.join(ids)}"


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


class BucketPolicyTooLargeError(ApiError):
    """The merged bucket policy would exceed 20 KB (troubleshooting guide)."""

    code = "LogDestinationPermissionIssueException"


# ------------------------------------------------------------------------------------------------ IAM


class UnknownPrincipalError(ApiError):
    """The named principal does not exist in the modelled account(s)."""

    code = "NoSuchEntity"
    http_status = 404


# ------------------------------------------------------------------------------------------------- S3


class S3AccessDeniedError(ApiError):
    code = "AccessDenied"
    http_status = 403


class NoSuchBucketError(ApiError):
    code = "NoSuchBucket"
    http_status = 404


class NoSuchKeyError(ApiError):
    code = "NoSuchKey"
    http_status = 404


class NoSuchBucketPolicyError(ApiError):
    code = "NoSuchBucketPolicy"
    http_status = 404


class BucketAlreadyOwnedByYouError(ApiError):
    code = "BucketAlreadyOwnedByYou"
    http_status = 409


class BucketNotEmptyError(ApiError):
    code = "BucketNotEmpty"
    http_status = 409


class InvalidBucketNameError(ApiError):
    code = "InvalidBucketName"


class MalformedPolicyError(ApiError):
    code = "MalformedPolicy"


class InvalidArgumentError(ApiError):
    code = "InvalidArgument"


class InvalidObjectKeyError(InvalidArgumentError):
    """An object key the store cannot hold (S3 answers ``InvalidArgument``)."""


# ---------------------------------------------------------------------------------- CloudWatch Logs


class LogsApiError(ApiError):
    """A CloudWatch Logs error (JSON protocol: ``__type`` is the code)."""


class ResourceNotFoundError(LogsApiError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsError(LogsApiError):
    code = "ResourceAlreadyExistsException"


class InvalidParameterExceptionError(LogsApiError):
    code = "InvalidParameterException"


class FilterPatternError(InvalidParameterExceptionError):
    """An invalid filter pattern (CloudWatch answers InvalidParameterException)."""


class MalformedQueryError(LogsApiError):
    """AWS's ``MalformedQueryException`` with the offending span (0-based character offsets)."""

    code = "MalformedQueryException"

    def __init__(self, reason: str, query: str, start: int, end: int | None = None) -> None:
        end = max(start, end if end is not None else start)
        line = query.count("\n", 0, start) + 1
        column = start - (query.rfind("\n", 0, start) + 1) + 1
        self.reason = reason
        self.start, self.end = start, end
        super().__init__(f"{reason} at line {line} and position {column}")

    def compile_error(self) -> dict[str, Any]:
        """The ``queryCompileError`` member of the exception (botocore's shape)."""
        return {"location": {"startCharOffset": self.start, "endCharOffset": self.end}, "message": self.message}


class LogsAccessDeniedError(LogsApiError):
    """CloudWatch Logs' refusal (JSON protocol ``__type``)."""

    code = "AccessDeniedException"
    http_status = 400  # not verified against AWS (spec wire 1.4); moto uses 400 for JSON-protocol errors


class UnknownOperationError(LogsApiError):
    code = "UnknownOperationException"


class SerializationError(LogsApiError):
    code = "SerializationException"
