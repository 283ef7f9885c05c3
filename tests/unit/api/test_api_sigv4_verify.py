"""``api.sigv4.verify`` against botocore's own signer, as properties: every request botocore signs verifies
(any body, path, query string, header values, service, region), and changing any signed part fails."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.api.sigv4 import SigV4Error, parse_authorization, verify

KEY = ("AKIAPROPERTYTEST0001", "property-secret/+=0123456789")
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)

segments = st.text(alphabet=string.ascii_letters + string.digits + "-_.~ %+", min_size=1, max_size=8)
query_pairs = st.lists(st.tuples(st.text(alphabet=string.ascii_letters + ".", min_size=1, max_size=6),
                                 st.text(alphabet=string.printable.strip(), max_size=8)), max_size=3)


def _signed(method: str, path: str, query: list[tuple[str, str]], body: bytes, headers: dict[str, str],
            service: str, region: str) -> tuple[dict[str, str], str, str]:
    from urllib.parse import quote, urlencode

    raw_path = "/" + "/".join(quote(p, safe="") for p in path.split("/") if p) if path else "/"
    raw_query = urlencode(query)
    url = f"http://127.0.0.1:4566{raw_path}" + (f"?{raw_query}" if raw_query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = SigV4Auth(Credentials(*KEY), service, region)
    # botocore takes the time from its clock; pin it to NOW so the skew check passes
    import botocore.auth as auth_module

    real = auth_module.get_current_datetime
    auth_module.get_current_datetime = lambda: NOW.replace(tzinfo=None)  # type: ignore[assignment]
    try:
        signer.add_auth(req)
    finally:
        auth_module.get_current_datetime = real  # type: ignore[assignment]
    sent = {k.lower(): str(v) for k, v in req.headers.items()}
    sent["host"] = urlsplit(url).netloc
    return sent, raw_path, raw_query


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["POST", "GET"]),
    path=st.lists(segments, max_size=3).map("/".join),
    query=query_pairs,
    body=st.binary(max_size=64),
    target=st.sampled_from([None, "Logs_20140328.GetLogEvents"]),
    service=st.sampled_from(["ec2", "logs", "sts"]),
    region=st.sampled_from(["us-east-1", "eu-west-3"]),
)
def test_botocore_signed_requests_verify_and_tampering_fails(
    method: str, path: str, query: list[tuple[str, str]], body: bytes, target: str | None, service: str,
    region: str,
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if target:
        headers["X-Amz-Target"] = target
    sent, raw_path, raw_query = _signed(method, path, query, body, headers, service, region)
    auth = parse_authorization(sent["authorization"])
    assert (auth.access_key_id, auth.service, auth.region) == (KEY[0], service, region)

    def check(*, secret: str = KEY[1], p: str = raw_path, q: str = raw_query, h: dict[str, str] = sent,
              b: bytes = body) -> None:
        verify(auth, secret, method=method, raw_path=p, raw_query=q, headers=h, body=b, now=NOW)

    check()
    tampered: list[dict[str, object]] = [
        {"secret": KEY[1] + "x"},
        {"b": body + b"!"},
        {"q": raw_query + "&x=1"},
        {"p": raw_path.rstrip("/") + "/other"},
        {"h": {**sent, "content-type": "text/plain"}},
    ]
    for change in tampered:
        with pytest.raises(SigV4Error) as e:
            check(**change)  # type: ignore[arg-type]
        assert e.value.kind == "bad_signature", change


def test_signed_header_missing_from_the_request_fails() -> None:
    sent, raw_path, raw_query = _signed("POST", "", [], b"x", {"X-Amz-Target": "Logs_20140328.X"}, "logs",
                                        "us-east-1")
    auth = parse_authorization(sent["authorization"])
    del sent["x-amz-target"]
    with pytest.raises(SigV4Error) as e:
        verify(auth, KEY[1], method="POST", raw_path=raw_path, raw_query=raw_query, headers=sent, body=b"x", now=NOW)
    assert e.value.kind == "bad_signature" and "x-amz-target" in e.value.message
