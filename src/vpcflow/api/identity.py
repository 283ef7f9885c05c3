"""Who is calling: the access key of a SigV4 request -> the IAM principal that owns it (docs/api.md).

Access keys come from the topology's IAM users (``iam.users[].access_keys``, looked up through
``IamWorld``), plus one pair for the **account root**: AWS gives the root user its own access keys,
and vpcflow's IAM section cannot declare them, so the endpoint has a root pair of its own:

* by default AWS's documentation example pair ``AKIAIOSFODNN7EXAMPLE`` /
  ``wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`` (recognisably fake, never valid in AWS);
* or the pair given to ``create_app(root_credentials=...)`` / ``vpcflow serve --root-access-key-id
  --root-secret-access-key`` (environment ``VPCFLOW_ROOT_ACCESS_KEY_ID`` /
  ``VPCFLOW_ROOT_SECRET_ACCESS_KEY``).

A topology user holding the same access key id wins over the root pair (the file is explicit).
An ``Inactive`` key is refused like an unknown one, as AWS does.

With signature verification off, the key still names the principal when it is known; an unknown
key (``testing``, ``test``: what moto and LocalStack users type) or no signature at all acts as the
account root, so tools configured for other local endpoints work unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from vpcflow.api.sigv4 import (
    AuthorizationHeader,
    SigV4Error,
    is_presigned,
    parse_authorization,
    parse_presigned,
    verify,
    verify_presigned,
)
from vpcflow.core.errors import ApiError
from vpcflow.iam.world import IamWorld

DEFAULT_ROOT_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DEFAULT_ROOT_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ROOT_KEY_ENV = "VPCFLOW_ROOT_ACCESS_KEY_ID"
ROOT_SECRET_ENV = "VPCFLOW_ROOT_SECRET_ACCESS_KEY"


@dataclass(frozen=True)
class RootCredentials:
    """The account root's access key pair on this endpoint."""

    access_key_id: str = DEFAULT_ROOT_ACCESS_KEY_ID
    secret_access_key: str = DEFAULT_ROOT_SECRET_ACCESS_KEY


@dataclass(frozen=True)
class Caller:
    """The authenticated principal (an IAM ARN) and the request's credential scope."""

    principal: str
    access_key_id: str | None
    region: str | None
    service: str | None


def owner_of(world: IamWorld, access_key_id: str, root: RootCredentials) -> tuple[str, str]:
    """``(principal ARN, secret)`` of an access key; ``unknown_key`` when nobody holds it (or it is inactive)."""
    for user in world.users:
        for key in user.access_keys:
            if key.access_key_id == access_key_id:
                if key.status != "Active":
                    raise SigV4Error("unknown_key", "AWS was not able to validate the provided access credentials")
                return user.arn, key.secret_access_key
    if access_key_id == root.access_key_id:
        return world.root_arn, root.secret_access_key
    raise SigV4Error("unknown_key", "AWS was not able to validate the provided access credentials")


def authenticate(
    world: IamWorld,
    root: RootCredentials,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    expected_service: str,
    region: str,
    verify_signatures: bool,
) -> Caller:
    """Identify (and, when ``verify_signatures``, verify) the caller of one request."""
    lower = {k.lower(): v for k, v in headers.items()}
    if not verify_signatures:
        try:
            auth = parse_authorization(lower.get("authorization"))
        except SigV4Error:
            return Caller(world.root_arn, None, None, None)
        if auth.service != expected_service:  # routing, not security: checked in both modes
            check_scope(auth, expected_service, auth.region)
        try:
            principal, _ = owner_of(world, auth.access_key_id, root)
        except SigV4Error:
            principal = world.root_arn
        return Caller(principal, auth.access_key_id, auth.region, auth.service)
    if "x-amz-security-token" in lower:
        raise SigV4Error(
            "unknown_key",
            "The security token included in the request is invalid: vpcflow has no temporary (STS) credentials; "
            "sign with an IAM user's or the root's access key",
        )
    if expected_service == "s3" and "authorization" not in lower and is_presigned(raw_query):
        presigned = parse_presigned(raw_query)
        check_scope(presigned.auth, expected_service, region)
        principal, secret = owner_of(world, presigned.auth.access_key_id, root)
        verify_presigned(presigned, secret, method=method, raw_path=raw_path, raw_query=raw_query, headers=headers,
                         now=now)
        return Caller(principal, presigned.auth.access_key_id, presigned.auth.region, "s3")
    auth = parse_authorization(lower.get("authorization"))
    check_scope(auth, expected_service, region)
    principal, secret = owner_of(world, auth.access_key_id, root)
    verify(auth, secret, method=method, raw_path=raw_path, raw_query=raw_query, headers=headers, body=body, now=now)
    return Caller(principal, auth.access_key_id, auth.region, auth.service)


def check_scope(auth: AuthorizationHeader, service: str, region: str) -> None:
    """The credential scope must name the service the request is for and this endpoint's region.

    AWS answers a scope for another service with "Credential should be scoped to correct service";
    a request signed for another region reaches another region's endpoint in AWS, and this
    endpoint serves one region (the data directory's).
    """
    if auth.service != service:
        raise SigV4Error("wrong_scope", f"Credential should be scoped to correct service: '{service}'. ")
    if auth.region != region:
        raise SigV4Error(
            "wrong_scope",
            f"Credential should be scoped to a valid region. This endpoint serves region '{region}' "
            f"(the data directory's), the request is signed for '{auth.region}'.",
        )


#: How each SigV4 failure reads in each protocol: kind -> (code, HTTP status).
EC2_AUTH_ERRORS: dict[str, tuple[str, int]] = {
    "missing": ("MissingAuthenticationToken", 401),
    "incomplete": ("IncompleteSignature", 400),
    "unknown_key": ("AuthFailure", 401),
    "bad_signature": ("AuthFailure", 401),
    "wrong_scope": ("AuthFailure", 401),
    "expired": ("RequestExpired", 400),
}
LOGS_AUTH_ERRORS: dict[str, tuple[str, int]] = {
    "missing": ("MissingAuthenticationTokenException", 400),
    "incomplete": ("IncompleteSignatureException", 400),
    "unknown_key": ("UnrecognizedClientException", 400),
    "bad_signature": ("InvalidSignatureException", 400),
    "wrong_scope": ("InvalidSignatureException", 400),
    "expired": ("InvalidSignatureException", 400),
}
S3_AUTH_ERRORS: dict[str, tuple[str, int]] = {
    "missing": ("AccessDenied", 403),
    "incomplete": ("AuthorizationHeaderMalformed", 400),
    "unknown_key": ("InvalidAccessKeyId", 403),
    "bad_signature": ("SignatureDoesNotMatch", 403),
    "wrong_scope": ("AuthorizationHeaderMalformed", 400),
    "expired": ("AccessDenied", 403),
}
STS_AUTH_ERRORS: dict[str, tuple[str, int]] = {
    "missing": ("MissingAuthenticationToken", 403),
    "incomplete": ("IncompleteSignature", 400),
    "unknown_key": ("InvalidClientTokenId", 403),
    "bad_signature": ("SignatureDoesNotMatch", 403),
    "wrong_scope": ("SignatureDoesNotMatch", 403),
    "expired": ("SignatureDoesNotMatch", 403),
}


def as_api_error(e: SigV4Error, protocol: str) -> ApiError:
    """The protocol's error for a SigV4 failure (table in ``sigv4``'s docstring)."""
    table = {"ec2": EC2_AUTH_ERRORS, "logs": LOGS_AUTH_ERRORS, "sts": STS_AUTH_ERRORS, "s3": S3_AUTH_ERRORS}[protocol]
    code, status = table[e.kind]
    message = e.message
    if protocol == "ec2" and e.kind == "expired":
        message = f"Request has expired. {e.message}"
    if protocol == "ec2" and e.kind == "missing":
        message = "The request must contain either a valid (registered) AWS access key ID or X.509 certificate."
    if protocol == "s3" and e.kind == "unknown_key":
        message = "The AWS Access Key Id you provided does not exist in our records."
    if protocol == "s3" and e.kind == "missing":
        message = "Access Denied"
    if protocol in ("logs", "sts") and e.kind == "unknown_key":
        message = "The security token included in the request is invalid."
    if protocol in ("logs", "sts") and e.kind == "missing":
        message = "Missing Authentication Token"
    return ApiError(message, code=code, http_status=status)
