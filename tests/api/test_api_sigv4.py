"""SigV4 on the endpoint (wire spec 3): the access key names the principal, botocore's signer verifies,
and every failure reads as the service's own error (EC2 XML / CloudWatch Logs JSON)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    FORM,
    GROUP,
    ROOT,
    Endpoint,
    cwl_params,
    endpoint_fixture,
    logs_headers,
    make_data_dir,
    raw_request,
    serve,
)
from botocore.exceptions import ClientError

from vpcflow.api.identity import RootCredentials
from vpcflow.api.sigv4 import SigV4Error, check_skew, parse_authorization

DESCRIBE = b"Action=DescribeFlowLogs&Version=2016-11-15"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


@pytest.fixture(scope="module")
def ep(tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from endpoint_fixture(tmp_path_factory)


def _error(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_the_access_key_decides_who_calls(ep: Endpoint) -> None:
    # the same call, three principals: root and alice may describe, carol (logs reader only) may not
    assert ep.client("ec2", ROOT).describe_flow_logs()["FlowLogs"] == []
    assert ep.client("ec2", ALICE).describe_flow_logs()["FlowLogs"] == []
    with pytest.raises(ClientError) as e:
        ep.client("ec2", CAROL).describe_flow_logs()
    assert _error(e)[0] == "UnauthorizedOperation"


def test_wrong_secret(ep: Endpoint) -> None:
    with pytest.raises(ClientError) as e:
        ep.client("ec2", (ALICE[0], "not-alices-secret")).describe_flow_logs()
    assert _error(e) == ("AuthFailure", SIGNATURE_MISMATCH, 401)
    with pytest.raises(ClientError) as e:
        ep.client("logs", (ALICE[0], "not-alices-secret")).describe_log_groups()
    assert _error(e) == ("InvalidSignatureException", SIGNATURE_MISMATCH, 400)


def test_unknown_and_inactive_keys(ep: Endpoint) -> None:
    for key in (("AKIANOBODYHASTHIS001", "whatever-secret"), DAVE):
        with pytest.raises(ClientError) as e:
            ep.client("ec2", key).describe_flow_logs()
        assert _error(e) == ("AuthFailure", "AWS was not able to validate the provided access credentials", 401)
        with pytest.raises(ClientError) as e:
            ep.client("logs", key).describe_log_groups()
        assert _error(e) == ("UnrecognizedClientException", "The security token included in the request is invalid.",
                             400)


def test_tampered_body_fails_verification(ep: Endpoint) -> None:
    assert raw_request(ep, DESCRIBE, FORM, key=ALICE).status == 200
    # alice signed a describe; on the way the body becomes a delete
    evil = b"Action=DeleteFlowLogs&Version=2016-11-15&FlowLogId.1=fl-00000000000000001"
    answer = raw_request(ep, DESCRIBE, FORM, key=ALICE, send_body=evil)
    assert answer.status == 401
    assert answer.xml_error() == ("AuthFailure", SIGNATURE_MISMATCH)
    json_body = b'{"logGroupNamePrefix": "/"}'
    tampered = raw_request(ep, json_body, logs_headers("DescribeLogGroups"), service="logs",
                           send_body=b'{"logGroupNamePrefix": "x"}')
    assert tampered.status == 400 and tampered.json()["__type"] == "InvalidSignatureException"


def test_a_header_changed_after_signing_fails(ep: Endpoint) -> None:
    answer = raw_request(ep, b"{}", logs_headers("DescribeLogGroups"), service="logs",
                         extra_headers={"X-Amz-Target": "Logs_20140328.DescribeLogStreams"})
    assert answer.json() == {"__type": "InvalidSignatureException", "message": SIGNATURE_MISMATCH}


def test_unsigned_requests_are_refused(ep: Endpoint) -> None:
    answer = raw_request(ep, DESCRIBE, FORM, key=None)
    assert answer.status == 401
    assert answer.xml_error() == (
        "MissingAuthenticationToken",
        "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.",
    )
    logs = raw_request(ep, b"{}", logs_headers("DescribeLogGroups"), key=None)
    assert logs.json() == {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}


def test_malformed_authorization_is_an_incomplete_signature(ep: Endpoint) -> None:
    answer = raw_request(ep, DESCRIBE, FORM, key=None,
                         extra_headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=abc",
                                        "X-Amz-Date": "20260101T000000Z"})
    assert answer.status == 400 and answer.xml_error()[0] == "IncompleteSignature"
    with pytest.raises(SigV4Error) as e:
        parse_authorization("AWS AKIA:abc")
    assert e.value.kind == "incomplete" and "AWS4-HMAC-SHA256" in e.value.message


def test_credential_scope_must_name_the_service_and_region(ep: Endpoint) -> None:
    with pytest.raises(ClientError) as e:
        ep.client("ec2", ALICE, region_name="eu-west-1").describe_flow_logs()
    code, message, status = _error(e)
    assert (code, status) == ("AuthFailure", 401)
    assert "us-east-1" in message and "eu-west-1" in message
    as_ec2 = raw_request(ep, b"{}", logs_headers("DescribeLogGroups"), service="ec2")
    assert as_ec2.json() == {"__type": "InvalidSignatureException",
                             "message": "Credential should be scoped to correct service: 'logs'. "}


def test_session_tokens_are_refused(ep: Endpoint) -> None:
    with pytest.raises(ClientError) as e:
        ep.client("ec2", ALICE, aws_session_token="FQoGZXIvYXdzE").describe_flow_logs()
    assert _error(e)[0] == "AuthFailure" and "temporary" in _error(e)[1]


@pytest.mark.parametrize("offset_min", [20, -20])
def test_clock_skew_beyond_15_minutes(tmp_path: Any, offset_min: int) -> None:
    dd = make_data_dir(tmp_path)
    ep = serve(dd, clock=lambda: datetime.now(UTC) + timedelta(minutes=offset_min))
    try:
        with pytest.raises(ClientError) as e:
            ep.client("ec2", ALICE).describe_flow_logs()
        code, message, status = _error(e)
        assert (code, status) == ("RequestExpired", 400)
        assert message.startswith("Request has expired.")
        with pytest.raises(ClientError) as e:
            ep.client("logs").describe_log_groups()
        code, message, status = _error(e)
        assert code == "InvalidSignatureException"
        assert message.startswith("Signature expired" if offset_min > 0 else "Signature not yet current")
    finally:
        ep.stop()


def test_skew_boundary_is_15_minutes() -> None:
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    check_skew("20261126T114500Z", now)  # exactly 15 minutes: accepted
    check_skew("20261126T121500Z", now)
    with pytest.raises(SigV4Error) as e:
        check_skew("20261126T114459Z", now)
    assert e.value.message == (
        "Signature expired: 20261126T114459Z is now earlier than 20261126T114500Z (20261126T120000Z - 15 min.)"
    )
    with pytest.raises(SigV4Error):
        check_skew("20261126T121501Z", now)


def test_verification_off_keeps_identity_but_skips_the_check(tmp_path: Any) -> None:
    dd = make_data_dir(tmp_path)
    ep = serve(dd, verify_signatures=False)
    try:
        # moto/LocalStack-style credentials act as the account root
        root_like = ep.client("ec2", ("testing", "testing"))
        created = root_like.create_flow_logs(**cwl_params())
        assert len(created["FlowLogIds"]) == 1
        # a known key with the wrong secret is still its owner: bob, who may not pass the role
        with pytest.raises(ClientError) as e:
            ep.client("ec2", (BOB[0], "wrong")).create_flow_logs(**cwl_params(LogGroupName="/other"))
        assert _error(e)[0] == "UnauthorizedOperation"
        assert raw_request(ep, DESCRIBE, FORM, key=None).status == 200  # unsigned: root
        logs = ep.client("logs", ("testing", "testing"))
        logs.create_log_group(logGroupName=GROUP)
        assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == [GROUP]
    finally:
        ep.stop()


def test_custom_root_credentials(tmp_path: Any) -> None:
    dd = make_data_dir(tmp_path)
    ep = serve(dd, root_credentials=RootCredentials("AKIAMYOWNROOTKEY0001", "my-own-root-secret"))
    try:
        assert ep.client("ec2", ("AKIAMYOWNROOTKEY0001", "my-own-root-secret")).describe_flow_logs()["FlowLogs"] == []
        with pytest.raises(ClientError) as e:
            ep.client("ec2", ROOT).describe_flow_logs()  # the default pair no longer works
        assert _error(e)[0] == "AuthFailure"
    finally:
        ep.stop()


def test_sts_get_caller_identity_names_the_key_owner(ep: Endpoint) -> None:
    alice = ep.client("sts", ALICE).get_caller_identity()
    assert alice["Arn"] == "arn:aws:iam::123456789012:user/alice"
    assert alice["Account"] == "123456789012"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", alice["UserId"])
    assert alice["ResponseMetadata"]["RequestId"]
    root = ep.client("sts", ROOT).get_caller_identity()
    assert (root["Arn"], root["UserId"]) == ("arn:aws:iam::123456789012:root", "123456789012")
    with pytest.raises(ClientError) as e:
        ep.client("sts", (ALICE[0], "wrong")).get_caller_identity()
    assert _error(e) == ("SignatureDoesNotMatch", SIGNATURE_MISMATCH, 403)
    with pytest.raises(ClientError) as e:
        ep.client("sts", DAVE).get_caller_identity()
    assert _error(e) == ("InvalidClientTokenId", "The security token included in the request is invalid.", 403)
    with pytest.raises(ClientError) as e:
        ep.client("sts", ALICE).assume_role(RoleArn="arn:aws:iam::123456789012:role/flow-logs-delivery",
                                            RoleSessionName="session")
    assert _error(e)[0] == "InvalidAction" and "temporary credentials" in _error(e)[1]


def test_aws_cli_get_caller_identity(ep: Endpoint) -> None:
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("awscli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=BOB[0], AWS_SECRET_ACCESS_KEY=BOB[1], AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    out = subprocess.run([sys.executable, "-m", "awscli", "sts", "get-caller-identity", "--endpoint-url", ep.url],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"] == "arn:aws:iam::123456789012:user/bob"


def test_endpoint_url_with_a_path_prefix(ep: Endpoint) -> None:
    import boto3
    from botocore.config import Config

    ec2 = boto3.client("ec2", endpoint_url=ep.url + "/behind/a/proxy/", region_name="us-east-1",
                       aws_access_key_id=ALICE[0], aws_secret_access_key=ALICE[1],
                       config=Config(retries={"total_max_attempts": 1}))
    assert ec2.describe_flow_logs()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_signed_payload_hash_must_match_the_body(ep: Endpoint) -> None:
    import hashlib

    declared = {**FORM, "X-Amz-Content-SHA256": hashlib.sha256(DESCRIBE).hexdigest()}
    assert raw_request(ep, DESCRIBE, declared, key=ALICE).status == 200
    evil = b"Action=DeleteFlowLogs&Version=2016-11-15&FlowLogId.1=fl-00000000000000001"
    answer = raw_request(ep, DESCRIBE, declared, key=ALICE, send_body=evil)
    assert answer.status == 401
    assert answer.xml_error() == ("AuthFailure", "The provided 'x-amz-content-sha256' header does not match what "
                                                 "was computed.")


def test_the_json_operation_header_must_be_signed(ep: Endpoint) -> None:
    unsigned_target = raw_request(ep, b"{}", {"Content-Type": "application/x-amz-json-1.1"}, service="logs",
                                  extra_headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
    assert unsigned_target.status == 400
    assert unsigned_target.json() == {
        "__type": "IncompleteSignatureException",
        "message": "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
    }


def test_a_reloaded_topology_counts_from_the_next_request(tmp_path: Any) -> None:
    import copy
    import json

    from api_helpers import ERIN, TOPOLOGY

    from vpcflow.runtime.client import Ec2Client

    dd = make_data_dir(tmp_path)
    ep = serve(dd)
    try:
        with pytest.raises(ClientError):
            ep.client("ec2", ERIN).describe_flow_logs()
        topo = copy.deepcopy(TOPOLOGY)
        erin = next(u for u in topo["iam"]["users"] if u["name"] == "erin")
        erin["policies"] = [{"name": "read", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ec2:DescribeFlowLogs", "Resource": "*"}]}}]
        new_key = ("AKIAAPITESTNEWUSER01", "new-user-secret-0000000000")
        topo["iam"]["users"].append({"name": "newcomer", "access_keys": [
            {"access_key_id": new_key[0], "secret_access_key": new_key[1]}]})
        path = tmp_path / "topology-v2.json"
        path.write_text(json.dumps(topo), encoding="utf-8")
        with Ec2Client(dd) as c:  # another client on the same data directory, as `vpcflow topology load` is
            c.load_topology(path)
        assert ep.client("ec2", ERIN).describe_flow_logs()["FlowLogs"] == []
        assert ep.client("sts", new_key).get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:user/newcomer"
    finally:
        ep.stop()
