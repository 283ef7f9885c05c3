"""The embedded local bucket store: atomic puts, metadata sidecars, listing like S3."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vpcflow.core.api_errors import (
    BucketNotEmptyError,
    InvalidBucketNameError,
    InvalidObjectKeyError,
    NoSuchBucketError,
    NoSuchKeyError,
)
from vpcflow.storage.bucketstore import BucketStore


@pytest.fixture
def store(tmp_path: Path) -> BucketStore:
    s = BucketStore(tmp_path / "s3")
    s.create_bucket("flow-logs-bucket")
    return s


def test_put_get_head(store: BucketStore, tmp_path: Path) -> None:
    info = store.put_object("flow-logs-bucket", "AWSLogs/1/x.log.gz", b"abc", content_type="application/x-gzip")
    assert (tmp_path / "s3" / "flow-logs-bucket" / "AWSLogs" / "1" / "x.log.gz").read_bytes() == b"abc"
    assert store.get_object("flow-logs-bucket", "AWSLogs/1/x.log.gz") == b"abc"
    head = store.head_object("flow-logs-bucket", "AWSLogs/1/x.log.gz")
    assert head == info
    assert head.acl == "bucket-owner-full-control"
    assert head.content_type == "application/x-gzip"
    assert head.etag == '"' + hashlib.md5(b"abc").hexdigest() + '"'
    assert head.size == 3


def test_put_replaces_and_leaves_no_temp_files(store: BucketStore, tmp_path: Path) -> None:
    store.put_object("flow-logs-bucket", "k", b"one")
    store.put_object("flow-logs-bucket", "k", b"two!")
    assert store.get_object("flow-logs-bucket", "k") == b"two!"
    assert store.head_object("flow-logs-bucket", "k").size == 4
    assert list((tmp_path / "s3" / ".vpcflow-tmp").iterdir()) == []


def test_listing_in_s3_order_with_prefix(store: BucketStore) -> None:
    for k in ["b/2", "a/1", "a/10", "a/0/x", "c", "a/1-z"]:
        store.put_object("flow-logs-bucket", k, k.encode())
    assert store.list_keys("flow-logs-bucket") == ["a/0/x", "a/1", "a/1-z", "a/10", "b/2", "c"]
    assert store.list_keys("flow-logs-bucket", "a/1") == ["a/1", "a/1-z", "a/10"]
    assert store.list_keys("flow-logs-bucket", "a/") == ["a/0/x", "a/1", "a/1-z", "a/10"]
    assert store.list_keys("flow-logs-bucket", "zz/") == []
    assert [o.key for o in store.list_objects("flow-logs-bucket", "b")] == ["b/2"]
    assert store.common_prefixes("flow-logs-bucket") == ["a/", "b/"]
    with pytest.raises(InvalidObjectKeyError, match="conflicts"):
        store.put_object("flow-logs-bucket", "a/1/x", b"")
    with pytest.raises(InvalidObjectKeyError, match="conflicts"):
        store.put_object("flow-logs-bucket", "a/0", b"")


def test_common_prefixes_nested(store: BucketStore) -> None:
    store.put_object("flow-logs-bucket", "AWSLogs/1/vpcflowlogs/us-east-1/2024/01/02/f", b"")
    store.put_object("flow-logs-bucket", "AWSLogs/1/vpcflowlogs/us-east-1/2024/01/03/f", b"")
    assert store.common_prefixes("flow-logs-bucket", "AWSLogs/1/vpcflowlogs/us-east-1/2024/01/") == [
        "AWSLogs/1/vpcflowlogs/us-east-1/2024/01/02/",
        "AWSLogs/1/vpcflowlogs/us-east-1/2024/01/03/",
    ]


def test_errors(store: BucketStore) -> None:
    with pytest.raises(NoSuchBucketError):
        store.put_object("missing-bucket", "k", b"")
    with pytest.raises(NoSuchKeyError):
        store.get_object("flow-logs-bucket", "nope")
    with pytest.raises(NoSuchKeyError):
        store.head_object("flow-logs-bucket", "nope")
    for bad in ["../escape", "a//b", "/abs", "dir/", ""]:
        with pytest.raises(InvalidObjectKeyError):
            store.put_object("flow-logs-bucket", bad, b"")
    with pytest.raises(InvalidBucketNameError):
        store.create_bucket("Bad_Name")
    assert not store.bucket_exists("Bad_Name")


def test_delete_bucket_must_be_empty_unless_forced(store: BucketStore) -> None:
    store.put_object("flow-logs-bucket", "k", b"x")
    with pytest.raises(BucketNotEmptyError):
        store.delete_bucket("flow-logs-bucket")
    store.delete_bucket("flow-logs-bucket", force=True)
    assert not store.bucket_exists("flow-logs-bucket")
    assert store.list_buckets() == []


def test_missing_sidecar_falls_back_to_the_bytes(store: BucketStore, tmp_path: Path) -> None:
    store.put_object("flow-logs-bucket", "k", b"data")
    (tmp_path / "s3" / ".vpcflow-meta" / "flow-logs-bucket" / "k.json").unlink()
    head = store.head_object("flow-logs-bucket", "k")
    assert head.size == 4 and head.etag == '"' + hashlib.md5(b"data").hexdigest() + '"'
    store.delete_object("flow-logs-bucket", "k")
    store.delete_object("flow-logs-bucket", "k")
    assert store.list_keys("flow-logs-bucket") == []
