"""S3 object keys and file names against spec 4's layouts and example."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vpcflow.codecs import s3keys
from vpcflow.core.errors import ConfigError

T = int(datetime(2018, 6, 20, 16, 20, tzinfo=UTC).timestamp())


def test_spec4_file_name_example() -> None:
    name = s3keys.file_name("123456789012", "us-east-1", "fl-1234abcd", T, "fe123456")
    assert name == "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"
    assert s3keys.parse_file_name(name) == ("123456789012", "us-east-1", "fl-1234abcd", T, "fe123456", False)


def test_parquet_suffix() -> None:
    assert s3keys.file_name("1", "eu-west-1", "fl-1", T, "00000000", parquet=True).endswith("_00000000.log.parquet")


@pytest.mark.parametrize(
    ("end_s", "expected"),
    [(T, T), (T + 299, T), (T + 300, T + 300), (T - 1, T - 300)],
)
def test_spec4_period_holds_end_times_2020_to_2459(end_s: int, expected: int) -> None:
    assert s3keys.period_start(end_s) == expected


def test_file_name_rejects_unaligned_period() -> None:
    with pytest.raises(ValueError):
        s3keys.file_name("1", "us-east-1", "fl-1", T + 1, "00000000")


@pytest.mark.parametrize(
    ("prefix", "hive", "per_hour", "expected"),
    [
        ("", False, False, "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/"),
        ("", False, True, "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/16/"),
        (
            "",
            True,
            False,
            "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/"
            "year=2018/month=06/day=20/",
        ),
        (
            "my/folder/",
            True,
            True,
            "my/folder/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/"
            "year=2018/month=06/day=20/hour=16/",
        ),
        ("sub", False, False, "sub/AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/"),
    ],
)
def test_spec4_layouts(prefix: str, hive: bool, per_hour: bool, expected: str) -> None:
    assert s3keys.partition_prefix(prefix, "123456789012", "us-east-1", T, hive=hive, per_hour=per_hour) == expected


def test_zero_padding_month_day_hour() -> None:
    t = int(datetime(2021, 2, 1, 3, 5, tzinfo=UTC).timestamp())
    assert s3keys.partition_prefix("", "1", "r-1", t, per_hour=True) == "AWSLogs/1/vpcflowlogs/r-1/2021/02/01/03/"


def test_awslogs_subfolder_is_reserved() -> None:
    with pytest.raises(ConfigError, match="reserved"):
        s3keys.normalize_prefix("AWSLogs/")


@pytest.mark.parametrize("hive", [False, True])
@pytest.mark.parametrize("per_hour", [False, True])
@pytest.mark.parametrize("prefix", ["", "a/b/"])
@pytest.mark.parametrize("parquet", [False, True])
def test_key_round_trip_every_layout(hive: bool, per_hour: bool, prefix: str, parquet: bool) -> None:
    data = b"some object bytes"
    key = s3keys.object_key(
        prefix, "123456789012", "us-west-2", "fl-0123456789abcdef0", T + 600, data,
        hive=hive, per_hour=per_hour, parquet=parquet,
    )
    pk = s3keys.parse_key(key)
    assert pk is not None
    assert (pk.prefix, pk.account_id, pk.region, pk.hive, pk.per_hour, pk.parquet) == (
        prefix, "123456789012", "us-west-2", hive, per_hour, parquet,
    )
    assert (pk.year, pk.month, pk.day) == (2018, 6, 20)
    assert pk.hour == (16 if per_hour else None)
    assert pk.period_start_s == T + 600
    assert pk.digest == s3keys.content_hash(data)
    assert pk.flow_log_id == "fl-0123456789abcdef0"


def test_hash_derives_from_content() -> None:
    a = s3keys.object_key("", "1", "us-east-1", "fl-1", T, b"x")
    assert a == s3keys.object_key("", "1", "us-east-1", "fl-1", T, b"x")
    assert a != s3keys.object_key("", "1", "us-east-1", "fl-1", T, b"y")
    assert len(s3keys.content_hash(b"x")) == 8


@pytest.mark.parametrize(
    "key",
    [
        "AWSLogs/1/vpcflowlogs/us-east-1/2018/06/21/1_vpcflowlogs_us-east-1_fl-1_20180620T1620Z_abcdef01.log.gz",
        "AWSLogs/2/vpcflowlogs/us-east-1/2018/06/20/1_vpcflowlogs_us-east-1_fl-1_20180620T1620Z_abcdef01.log.gz",
        "AWSLogs/1/vpcflowlogs/us-east-1/2018/06/20/17/1_vpcflowlogs_us-east-1_fl-1_20180620T1620Z_abcdef01.log.gz",
        "AWSLogs/1/vpcflowlogs/us-east-1/2018/06/20/readme.txt",
        "AWSLogs/1/elasticloadbalancing/us-east-1/2018/06/20/x.log.gz",
    ],
)
def test_inconsistent_or_foreign_keys_are_not_flow_log_objects(key: str) -> None:
    assert s3keys.parse_key(key) is None


def test_key_filter_prunes_by_account_region_and_time() -> None:
    key = s3keys.object_key("", "111", "us-east-1", "fl-1", T, b"x")
    pk = s3keys.parse_key(key)
    assert pk is not None
    assert s3keys.KeyFilter().matches(pk)
    assert not s3keys.KeyFilter(account_ids=frozenset({"222"})).matches(pk)
    assert not s3keys.KeyFilter(regions=frozenset({"eu-west-1"})).matches(pk)
    assert s3keys.KeyFilter(start_s=T + 299).matches(pk)
    assert not s3keys.KeyFilter(start_s=T + 300).matches(pk)
    assert not s3keys.KeyFilter(end_s=T).matches(pk)
    assert s3keys.KeyFilter(end_s=T + 1).matches(pk)
    assert not s3keys.KeyFilter(start_s=T + 86400).day_may_match(pk.day_start_s)


def test_account_prefix() -> None:
    assert s3keys.account_prefix("p", "1", "us-east-1") == "p/AWSLogs/1/vpcflowlogs/us-east-1/"
    assert s3keys.account_prefix("", "1", hive=True) == "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: End times: anywhere from 1970 to 2100, and one second either side of (or on) a period boundary,
#: which is often also an hour, day or year boundary.
_END_TIMES = st.one_of(
    st.integers(0, 4_102_444_800),
    st.builds(lambda k, d: max(0, k * 300 + d), st.integers(0, 4_102_444_800 // 300), st.sampled_from([-1, 0, 1])),
    st.builds(lambda y, d: max(0, int(datetime(y, 1, 1, tzinfo=UTC).timestamp()) + d),
              st.integers(1971, 2099), st.sampled_from([-1, 0, 1])),
)


@settings(max_examples=150, deadline=None)
@given(
    account=st.from_regex(r"\d{12}", fullmatch=True),
    region=st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"]),
    fl=st.from_regex(r"fl-[0-9a-f]{17}", fullmatch=True),
    end_s=_END_TIMES,
    hive=st.booleans(), per_hour=st.booleans(), parquet=st.booleans(),
    prefix=st.sampled_from(["", "a/", "deep/er/folder/"]),
    data=st.binary(max_size=64),
)
def test_any_key_parses_back(account: str, region: str, fl: str, end_s: int, hive: bool, per_hour: bool,
                             parquet: bool, prefix: str, data: bytes) -> None:
    p = s3keys.period_start(end_s)
    key = s3keys.object_key(prefix, account, region, fl, p, data, hive=hive, per_hour=per_hour, parquet=parquet)
    pk = s3keys.parse_key(key)
    assert pk is not None
    assert (pk.account_id, pk.region, pk.flow_log_id, pk.period_start_s, pk.prefix) == (account, region, fl, p, prefix)
    assert (pk.hive, pk.per_hour, pk.parquet) == (hive, per_hour, parquet)
    assert key.startswith(s3keys.account_prefix(prefix, account, region, hive=hive))
    assert pk.day_start_s <= p < pk.day_start_s + 86400
    # An independent oracle: the 5-minute period from the calendar, and the folders and file time of spec 4.
    t = datetime.fromtimestamp(end_s, UTC)
    start = t.replace(minute=t.minute - t.minute % 5, second=0)
    assert p == int(start.timestamp())
    if hive:
        folders = f"year={start:%Y}/month={start:%m}/day={start:%d}/" + (f"hour={start:%H}/" if per_hour else "")
    else:
        folders = f"{start:%Y}/{start:%m}/{start:%d}/" + (f"{start:%H}/" if per_hour else "")
    assert key.rsplit("/", 1)[0] + "/" == s3keys.account_prefix(prefix, account, region, hive=hive) + folders
    assert key.rsplit("/", 1)[1].split("_")[4] == f"{start:%Y%m%dT%H%MZ}"
