"""SigV4 on the server side: who signed a request, and is the signature right (wire spec section 3).

The caller is named by the access key id in the ``Authorization`` header's credential scope
(``AKID/yyyymmdd/region/service/aws4_request``). Verification recomputes the signature with
botocore's own ``SigV4Auth`` over the signed headers, the raw path, the raw query string and the
raw body, with the secret of that access key, and compares in constant time.

Failures are :class:`SigV4Error` with a protocol-neutral ``kind``; the protocol modules turn a kind
into EC2's or CloudWatch Logs' code, message and HTTP status (the two services disagree):

========================  ===================================  =====================================
kind                      EC2 (Query, XML)                     CloudWatch Logs (JSON 1.1)
========================  ===================================  =====================================
``missing``               MissingAuthenticationToken, 401      MissingAuthenticationTokenException
``incomplete``            IncompleteSignature, 400             IncompleteSignatureException
``unknown_key``           AuthFailure, 401                     UnrecognizedClientException
``bad_signature``         AuthFailure, 401                     InvalidSignatureException
``expired``               RequestExpired, 400                  InvalidSignatureException
``wrong_scope``           AuthFailure, 401                     InvalidSignatureException
========================  ===================================  =====================================

Presigned query-string signatures (``X-Amz-Signature``) and SigV2 are not accepted: boto3 and the
AWS CLI sign the EC2 and Logs APIs with the Authorization header only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from vpcflow.core.errors import VpcflowError

ALGORITHM = "AWS4-HMAC-SHA256"
#: AWS refuses a request whose X-Amz-Date is more than 15 minutes from the server's clock.
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class SigV4Error(VpcflowError):
    """A request that is not (correctly) signed; ``kind`` picks the per-protocol error."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(f"{kind}: {message}")


@dataclass(frozen=True)
class AuthorizationHeader:
    """The parts of ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> AuthorizationHeader:
    """Split the header; anything malformed is an ``incomplete`` signature (EC2 IncompleteSignature)."""
    if not value:
        raise SigV4Error("missing", "Request is missing Authentication Token")
    if not value.startswith(ALGORITHM + " "):
        algo = value.split(" ", 1)[0]
        raise SigV4Error(
            "incomplete", f"Unsupported AWS 'algorithm': '{algo}' (this endpoint accepts {ALGORITHM} only)"
        )
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            raise SigV4Error("incomplete", f"Authorization header requires 'key=value' pairs, got {part.strip()!r}")
        fields[key] = val
    for needed in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(needed):
            raise SigV4Error("incomplete", f"Authorization header requires '{needed}' parameter")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise SigV4Error(
            "incomplete",
            f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/aws4_request,"
            f" got '{fields['Credential']}'",
        )
    signed = tuple(h.strip().lower() for h in fields["SignedHeaders"].split(";"))
    if "host" not in signed:
        raise SigV4Error("incomplete", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return AuthorizationHeader(scope[0], scope[1], scope[2], scope[3], signed, fields["Signature"])


def parse_amz_date(value: str | None) -> datetime:
    if not value:
        raise SigV4Error("incomplete", "Authorization header requires existence of either a 'X-Amz-Date' or a "
                                       "'Date' header")
    try:
        return datetime.strptime(value, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SigV4Error("incomplete", f"X-Amz-Date '{value}' is not a yyyyMMddTHHmmssZ timestamp") from None


def check_skew(amz_date: str | None, now: datetime) -> datetime:
    """Refuse a request signed more than 15 minutes before or after ``now`` (``expired``)."""
    when = parse_amz_date(amz_date)
    if when < now - MAX_SKEW:
        raise SigV4Error(
            "expired",
            f"Signature expired: {when.strftime(_AMZ_DATE)} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} - 15 min.)",
        )
    if when > now + MAX_SKEW:
        raise SigV4Error(
            "expired",
            f"Signature not yet current: {when.strftime(_AMZ_DATE)} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + 15 min.)",
        )
    return when


def expected_signature(
    auth: AuthorizationHeader,
    secret: str,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    amz_date: str,
) -> str:
    """The signature botocore would have computed for this request with ``secret``.

    ``headers`` is looked up case-insensitively (pass Starlette's ``request.headers``); only the
    signed ones take part, so a proxy adding headers does not break verification.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in auth.signed_headers if h not in lower]
    if missing:
        raise SigV4Error("bad_signature", f"signed header {missing[0]!r} is not in the request")
    host = lower.get("host", "localhost")
    url = f"http://{host}{raw_path or '/'}" + (f"?{raw_query}" if raw_query else "")
    req = AWSRequest(method=method, url=url, data=body, headers={h: lower[h] for h in auth.signed_headers})
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(auth.access_key_id, secret), auth.service, auth.region)
    canonical = signer.canonical_request(req)
    return str(signer.signature(signer.string_to_sign(req, canonical), req))


def verify(
    auth: AuthorizationHeader,
    secret: str,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> None:
    """Raise :class:`SigV4Error` unless the request is signed with ``secret`` within the time window.

    Order follows AWS: a wrong signature is reported before an expired one (a forged request learns
    nothing about the clock).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    amz_date = lower.get("x-amz-date")
    parse_amz_date(amz_date)
    assert amz_date is not None
    if auth.date != amz_date[:8]:
        raise SigV4Error(
            "bad_signature",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    if "x-amz-target" in lower and "x-amz-target" not in auth.signed_headers:
        # The JSON operation is named by this header: unsigned, a captured request could be replayed
        # as another operation.
        raise SigV4Error("incomplete", "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
    declared = lower.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        # botocore's canonical request trusts this header instead of hashing the body: check it,
        # or a body swapped under a signed hash would verify (AWS refuses the mismatch too).
        raise SigV4Error(
            "bad_signature", "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    wanted = expected_signature(
        auth, secret, method=method, raw_path=raw_path, raw_query=raw_query, headers=headers, body=body,
        amz_date=amz_date,
    )
    if not hmac.compare_digest(wanted, auth.signature):
        raise SigV4Error(
            "bad_signature",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
    check_skew(amz_date, now)
