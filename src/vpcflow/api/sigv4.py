"""SigV4 on the server side: who signed a request, and is the signature right (wire spec section 3).

The caller is named by the access key id in the ``Authorization`` header's credential scope
(``AKID/yyyymmdd/region/service/aws4_request``). Verification recomputes the signature botocore's
``SigV4Auth`` would compute over the signed headers, the raw path, the raw query string and the raw
body, with the secret of that access key, and compares in constant time.

Speed (issue 12): for the usual request (not S3, a plain host, a path starting with ``/``, no header
botocore never signs) the canonical request is written here, step for step as ``SigV4Auth`` writes it
(botocore's own path normaliser; ``tests/unit/api/test_api_sigv4_equivalence.py`` checks the two agree
over random requests); anything else goes through botocore's ``AWSRequest`` and signer as before. The
signing key (four HMACs) is kept per (secret, date, region, service), and ``X-Amz-Date`` is read
without ``strptime`` when it has the canonical shape.

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

S3 (the endpoint's bucket API) signs as S3 does: the path is not normalised, the payload hash is the
``x-amz-content-sha256`` header (``UNSIGNED-PAYLOAD`` allowed), and presigned URLs carry the
signature in the query string (``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``; :func:`parse_presigned`,
:func:`verify_presigned`). The EC2, Logs and STS APIs take the Authorization header only, as boto3 and
the AWS CLI sign them. SigV2 is not accepted.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

from botocore.auth import SIGNED_HEADERS_BLACKLIST, S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path

from vpcflow.core.errors import VpcflowError

ALGORITHM = "AWS4-HMAC-SHA256"
#: AWS refuses a request whose X-Amz-Date is more than 15 minutes from the server's clock.
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: The longest X-Amz-Expires a presigned URL may carry (7 days, as AWS).
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600
_AMZ_DATE_SHAPE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
#: Headers botocore leaves out of a canonical request even when the client lists them as signed.
_NEVER_SIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)
#: A host the URL ``http://{host}{path}`` keeps whole (no '/', '?', '#', '@', blank, unbalanced bracket).
_PLAIN_HOST = re.compile(r"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?")


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
    return _parse_authorization(value)


@functools.lru_cache(maxsize=64)  # routing, screening and verifying one request each read the header
def _parse_authorization(value: str | None) -> AuthorizationHeader:
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
    if _AMZ_DATE_SHAPE.fullmatch(value):
        try:
            return datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]), int(value[11:13]),
                            int(value[13:15]), tzinfo=UTC)
        except ValueError:
            pass  # not a date (month 13...): strptime refuses it too
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
    canonical = _canonical_request(auth, method, raw_path, raw_query, lower, body)
    if canonical is None:
        canonical = _botocore_canonical_request(auth, secret, method, raw_path, raw_query, lower, body, amz_date)
    day = amz_date[:8]
    to_sign = "\n".join([ALGORITHM, amz_date, f"{day}/{auth.region}/{auth.service}/aws4_request",
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = signing_key(secret, day, auth.region, auth.service)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=256)
def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """SigV4's derived key (``AWS4`` + secret, then date, region, service, ``aws4_request``): the same for
    every request of a key on one day, so kept rather than derived again per request."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _canonical_request(auth: AuthorizationHeader, method: str, raw_path: str, raw_query: str,
                       lower: Mapping[str, str], body: bytes) -> str | None:
    """``SigV4Auth.canonical_request`` of the URL ``http://{host}{raw_path}?{raw_query}``, or None outside
    the shapes written here (then botocore's own code decides)."""
    path = raw_path or "/"
    host = lower.get("host", "localhost")
    if (auth.service == "s3" or not path.startswith("/") or not _PLAIN_HOST.fullmatch(host)
            or not _NEVER_SIGNED.isdisjoint(auth.signed_headers)
            or any(c in path for c in "?#\t\r\n") or any(c in raw_query for c in "#\t\r\n")):
        return None  # urlsplit would cut or clean the URL differently; or botocore drops a signed header
    query = "&".join(f"{k}={v}" for k, v in sorted(pair.partition("=")[::2] for pair in raw_query.split("&"))
                     ) if raw_query else ""
    names = sorted(set(auth.signed_headers))
    headers = "".join(f"{name}:{' '.join(lower[name].split())}\n" for name in names)
    declared = lower.get("x-amz-content-sha256") if "x-amz-content-sha256" in names else None
    payload = declared if declared is not None else hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), quote(normalize_url_path(path), safe="/~"), query, headers, ";".join(names),
                      payload])


def _botocore_canonical_request(auth: AuthorizationHeader, secret: str, method: str, raw_path: str, raw_query: str,
                                lower: Mapping[str, str], body: bytes, amz_date: str) -> str:
    host = lower.get("host", "localhost")
    url = f"http://{host}{raw_path or '/'}" + (f"?{raw_query}" if raw_query else "")
    req = AWSRequest(method=method, url=url, data=body, headers={h: lower[h] for h in auth.signed_headers})
    req.context["timestamp"] = amz_date
    signer_class = S3SigV4Auth if auth.service == "s3" else SigV4Auth
    signer = signer_class(Credentials(auth.access_key_id, secret), auth.service, auth.region)
    return str(signer.canonical_request(req))


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
    if declared is not None and declared.startswith("STREAMING-"):
        raise SigV4Error("incomplete", f"x-amz-content-sha256 {declared} (aws-chunked uploads) is not supported by "
                                       "this endpoint; sign the payload or send UNSIGNED-PAYLOAD")
    if declared is not None and declared != UNSIGNED_PAYLOAD and declared != hashlib.sha256(body).hexdigest():
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


@dataclass(frozen=True)
class Presigned:
    """The signature a presigned URL carries in its query string."""

    auth: AuthorizationHeader
    amz_date: str
    expires_s: int


def is_presigned(raw_query: str) -> bool:
    return "X-Amz-Signature=" in raw_query and "X-Amz-Credential=" in raw_query


def parse_presigned(raw_query: str) -> Presigned:
    """The X-Amz-* fields of a presigned URL; anything malformed is ``incomplete``."""
    fields = dict(parse_qsl(raw_query, keep_blank_values=True))
    if fields.get("X-Amz-Algorithm") != ALGORITHM:
        raise SigV4Error("incomplete", f"X-Amz-Algorithm must be {ALGORITHM}")
    try:
        key, date, region, service, terminator = fields["X-Amz-Credential"].split("/")
        signed = tuple(fields["X-Amz-SignedHeaders"].split(";"))
        signature, amz_date, expires = fields["X-Amz-Signature"], fields["X-Amz-Date"], int(fields["X-Amz-Expires"])
    except (KeyError, ValueError):
        raise SigV4Error("incomplete", "a presigned URL needs X-Amz-Credential (5 parts), X-Amz-Date, "
                                       "X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature") from None
    if terminator != "aws4_request" or not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise SigV4Error("incomplete", f"X-Amz-Expires must be 1 to {MAX_PRESIGN_EXPIRES} seconds and the "
                                       "credential scope end in aws4_request")
    parse_amz_date(amz_date)
    return Presigned(AuthorizationHeader(key, date, region, service, signed, signature), amz_date, expires)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_presigned(p: Presigned, secret: str, *, method: str, raw_path: str, raw_query: str,
                     headers: Mapping[str, str], now: datetime) -> None:
    """Check a presigned URL's signature (payload ``UNSIGNED-PAYLOAD``), then its validity window."""
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in p.auth.signed_headers if h not in lower]
    if missing:
        raise SigV4Error("bad_signature", f"signed header {missing[0]!r} is not in the request")
    pairs = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True) if k != "X-Amz-Signature"]
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))
    canonical_headers = "".join(f"{h}:{' '.join(lower[h].split())}\n" for h in p.auth.signed_headers)
    canonical = "\n".join([method.upper(), raw_path or "/", query, canonical_headers,
                           ";".join(p.auth.signed_headers), UNSIGNED_PAYLOAD])
    scope = f"{p.auth.date}/{p.auth.region}/{p.auth.service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, p.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(secret, p.auth.date, p.auth.region, p.auth.service)
    wanted = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(wanted, p.auth.signature):
        raise SigV4Error("bad_signature", "The request signature we calculated does not match the signature you "
                                          "provided. Check your key and signing method.")
    signed_at = parse_amz_date(p.amz_date)
    if now > signed_at + timedelta(seconds=p.expires_s):
        raise SigV4Error("expired", "Request has expired")
    if signed_at > now + MAX_SKEW:
        raise SigV4Error("expired", "Request is not yet valid")
