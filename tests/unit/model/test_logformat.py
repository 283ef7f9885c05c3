"""LogFormat parsing with AWS's rules (spec 1.6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.core.api_errors import InvalidParameterError
from vpcflow.model.fields import DEFAULT_FORMAT, TGW_DEFAULT_FORMAT, VPC_FIELD_NAMES
from vpcflow.model.logformat import (
    LogFormat,
    log_format_from_header,
    looks_like_header,
    parse_log_format,
    validate_for_resource,
)

SPEC_7_5 = (
    "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} "
    "${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} "
    "${tcp-flags} ${log-status}"
)


def test_omitted_format_is_the_default() -> None:
    fmt = parse_log_format(None)
    assert fmt.text == DEFAULT_FORMAT
    assert fmt.version == 2
    assert fmt.is_default
    assert fmt.columns[1] == "account_id"
    assert fmt.header == "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def test_spec_7_5_format() -> None:
    fmt = parse_log_format(SPEC_7_5)
    assert fmt.version == 3
    assert len(fmt.fields) == 21
    assert fmt.fields[-1] == "log-status"
    assert not fmt.is_default


def test_format_without_version_field_still_has_a_version() -> None:
    fmt = parse_log_format("${instance-id} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr}")
    assert fmt.version == 3


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" ${version}", "leading space"),
        ("${version} ", "trailing space"),
        (DEFAULT_FORMAT + " ", "trailing space"),  # spec 1.6's recorded failure
        ("${version}  ${srcaddr}", "'${version}'"),
        ("${version} srcaddr", "'srcaddr'"),
        ("${version} $srcaddr", "'$srcaddr'"),
        ("${version} ${srcaddr", "'${srcaddr'"),
        ("${version} {srcaddr}", "'{srcaddr}'"),
        ("${version}${srcaddr}", "'${version}${srcaddr}'"),
        ("${version}\t${srcaddr}", "${version}\t${srcaddr}"),
        ("${version} ${Srcaddr}", "'${Srcaddr}'"),
        ("${version} ${src-addr}", "'${src-addr}'"),
        ("${version} ${pkt_srcaddr}", "'${pkt_srcaddr}'"),
        ("${version} ${tgw-id}", "'${tgw-id}'"),
        ("${version} ${packets-lost-blackhole}", "'${packets-lost-blackhole}'"),
        ("${srcaddr} ${dstaddr} ${srcaddr}", "'${srcaddr}' is listed more than once"),
    ],
)
def test_invalid_formats_are_rejected_naming_the_token(text: str, token: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        parse_log_format(text)
    assert info.value.code == "InvalidParameter"
    assert token in info.value.message
    assert "at 'logFormat' has an invalid format" in info.value.message


def test_duplicate_field_is_rejected_decision() -> None:
    # AWS: UNCONFIRMED (spec 1.6). vpcflow: rejected (docs/formats.md, "Duplicate fields").
    with pytest.raises(InvalidParameterError, match="listed more than once"):
        parse_log_format("${version} ${version}")


def test_transit_gateway_formats() -> None:
    tgw = validate_for_resource(None, "TransitGateway")
    assert tgw.text == TGW_DEFAULT_FORMAT
    assert tgw.version == 6
    assert validate_for_resource("${tgw-id} ${srcaddr}", "TransitGatewayAttachment").fields == ("tgw-id", "srcaddr")
    with pytest.raises(InvalidParameterError, match="not available in transit gateway"):
        validate_for_resource("${tgw-id} ${vpc-id}", "TransitGateway")
    with pytest.raises(InvalidParameterError, match="transit gateway field"):
        validate_for_resource("${tgw-id}", "VPC")
    assert validate_for_resource(None, "Subnet").is_default


def test_header_round_trip() -> None:
    fmt = parse_log_format(SPEC_7_5)
    assert looks_like_header(fmt.header)
    assert log_format_from_header(fmt.header) == fmt
    assert not looks_like_header("2 123456789010 eni-1 - - - - - - - 1 2 - NODATA")


def test_from_fields_accepts_either_spelling() -> None:
    assert LogFormat.from_fields(["version", "log_status"]).text == "${version} ${log-status}"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(VPC_FIELD_NAMES), min_size=1, unique=True))
def test_any_subset_in_any_order_is_valid(names: list[str]) -> None:
    text = " ".join("${" + n + "}" for n in names)
    fmt = parse_log_format(text)
    assert fmt.fields == tuple(names)
    assert fmt.text == text
    assert fmt.columns == tuple(n.replace("-", "_") for n in names)
    from vpcflow.model.fields import FIELDS

    assert fmt.version == max(FIELDS[n].version for n in names)
