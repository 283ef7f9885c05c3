"""The AWS CLI shorthand and list syntax used by ``vpcflow ec2`` (cli/_shorthand.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.cli._shorthand import ShorthandError, expand_list_options, parse_struct, strings, structs, to_bool


def test_structs() -> None:
    assert parse_struct("Name=resource-id,Values=vpc-1,vpc-2") == {"Name": "resource-id", "Values": ["vpc-1", "vpc-2"]}
    assert parse_struct("Name=tag:team,Values=net") == {"Name": "tag:team", "Values": "net"}
    assert parse_struct("ResourceType=vpc-flow-log,Tags=[{Key=a,Value=1},{Key=b,Value=2}]") == {
        "ResourceType": "vpc-flow-log",
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    }
    assert parse_struct("Key=k,Value=") == {"Key": "k", "Value": ""}
    assert parse_struct("Key='a,b',Value=\"c=d\"") == {"Key": "a,b", "Value": "c=d"}
    assert structs(['{"Name": "x", "Values": ["a"]}', "Name=y,Values=b"], "--filter") == [
        {"Name": "x", "Values": ["a"]},
        {"Name": "y", "Values": "b"},
    ]


@pytest.mark.parametrize("bad", ["novalue", "Tags=[{Key=a}", "Key=a,Key=b", "=x"])
def test_bad_shorthand(bad: str) -> None:
    with pytest.raises(ShorthandError):
        parse_struct(bad)


def test_lists_and_bools() -> None:
    assert strings(["a", "b"]) == ["a", "b"]
    assert strings(['["a", "b"]']) == ["a", "b"]
    assert to_bool("TRUE", "x") is True and to_bool("false", "x") is False and to_bool(True, "x") is True
    with pytest.raises(ShorthandError):
        to_bool("yes", "x")
    assert expand_list_options(["--ids", "a", "b", "--x", "1", "--ids=c"], {"--ids"}) == [
        "--ids", "a", "--ids", "b", "--x", "1", "--ids", "c",
    ]  # fmt: skip


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.:/", min_size=1, max_size=12)


@settings(max_examples=150)
@given(st.dictionaries(st.sampled_from(["Name", "Key", "Value", "FileFormat"]), _word, min_size=1))
def test_round_trip_flat(d: dict[str, str]) -> None:
    text = ",".join(f"{k}={v}" for k, v in d.items())
    assert parse_struct(text) == d
