"""The endpoint's S3 API over the embedded bucket store (issue 12, item 3): boto3 and the AWS CLI v1
(`aws s3 ls/cp/sync`) work unchanged; SigV4 by header and presigned URL; IAM and bucket policies; S3's
error shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import ALICE, CAROL, REGION, ROOT, Endpoint, endpoint_fixture
from botocore.config import Config
from botocore.exceptions import ClientError

from vpcflow.storage.bucketstore import BucketStore

BUCKET = "api-test-logs"  # declared by the API tests' topology


@pytest.fixture(scope="module")
def ep(tmp_path_factory: Any) -> Iterator[Endpoint]:
    yield from endpoint_fixture(tmp_path_factory)


def _s3(ep: Endpoint, key: tuple[str, str] = ROOT) -> Any:
    return ep.client("s3", key, config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}))


def test_objects_round_trip_with_boto3(ep: Endpoint) -> None:
    s3 = _s3(ep)
    assert BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    body = b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 8400 1 61 ACCEPT OK\n" * 50
    put = s3.put_object(Bucket=BUCKET, Key="AWSLogs/x/one file.log", Body=body, ACL="bucket-owner-full-control",
                        ContentType="text/plain")
    got = s3.get_object(Bucket=BUCKET, Key="AWSLogs/x/one file.log")
    assert got["Body"].read() == body and got["ETag"] == put["ETag"] and got["ContentType"] == "text/plain"
    assert s3.head_object(Bucket=BUCKET, Key="AWSLogs/x/one file.log")["ContentLength"] == len(body)
    ranged = s3.get_object(Bucket=BUCKET, Key="AWSLogs/x/one file.log", Range="bytes=2-13")
    assert ranged["Body"].read() == body[2:14]
    # the bytes are in the data directory's bucket store, where readers and reports find them
    assert BucketStore(ep.data_dir / "s3").get_object(BUCKET, "AWSLogs/x/one file.log") == body
    s3.delete_object(Bucket=BUCKET, Key="AWSLogs/x/one file.log")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=BUCKET, Key="AWSLogs/x/one file.log")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def test_list_objects_v2_pages_prefixes_and_delimiters(ep: Endpoint) -> None:
    s3 = _s3(ep)
    s3.create_bucket(Bucket="listing")
    keys = [f"AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/12/0{d}/f{i}.log.gz" for d in (1, 2) for i in range(7)]
    for k in keys:
        s3.put_object(Bucket="listing", Key=k, Body=k.encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="listing", PaginationConfig={"PageSize": 4}))
    assert len(pages) == 4
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys)
    days = s3.list_objects_v2(Bucket="listing", Prefix="AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/12/",
                              Delimiter="/")
    assert [p["Prefix"] for p in days["CommonPrefixes"]] == [
        "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/12/01/",
        "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/12/02/"]
    v1 = s3.list_objects(Bucket="listing", Prefix="AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/12/01/")
    assert len(v1["Contents"]) == 7
    deleted = s3.delete_objects(Bucket="listing", Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket="listing")["KeyCount"] == 0


def test_errors_in_s3s_shapes(ep: Endpoint) -> None:
    s3 = _s3(ep)
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="no-such-bucket-here")
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=BUCKET, Key="absent")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        _s3(ep, ("AKIAUNKNOWN000000000", "x")).list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    with pytest.raises(ClientError) as e:
        _s3(ep, (ROOT[0], "wrong-secret")).list_buckets()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"x", ACL="everyone-may-write")  # type: ignore[arg-type]
    assert e.value.response["Error"]["Code"] in ("InvalidArgument",)


def test_iam_and_bucket_policies(ep: Endpoint) -> None:
    s3 = _s3(ep)
    s3.put_object(Bucket=BUCKET, Key="shared/report.txt", Body=b"hello")
    with pytest.raises(ClientError) as e:  # carol holds logs:* only
        _s3(ep, CAROL).get_object(Bucket=BUCKET, Key="shared/report.txt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    carol_arn = "arn:aws:iam::123456789012:user/carol"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": carol_arn}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/shared/*"}]}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == policy
    assert _s3(ep, CAROL).get_object(Bucket=BUCKET, Key="shared/report.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError) as e:
        _s3(ep, CAROL).put_object(Bucket=BUCKET, Key="shared/other.txt", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=BUCKET, Policy="{not json")
    assert e.value.response["Error"]["Code"] == "MalformedPolicy"
    s3.delete_bucket_policy(Bucket=BUCKET)
    with pytest.raises(ClientError) as e:
        _s3(ep, CAROL).get_object(Bucket=BUCKET, Key="shared/report.txt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert ALICE  # alice's identity policy grants no s3:* either (checked in the delivery tests)


def test_presigned_urls(ep: Endpoint) -> None:
    # SigV4 presigning (boto3 presigns S3 with SigV2 unless told; this endpoint accepts SigV4 only)
    s3 = ep.client("s3", ROOT, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    s3.put_object(Bucket=BUCKET, Key="presigned/obj.bin", Body=b"\x00\x01binary")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "presigned/obj.bin"},
                                    ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"\x00\x01binary"
    tampered = url.replace("presigned/obj.bin", "presigned/other.bin")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "presigned/up.txt"},
                                        ExpiresIn=300)
    req = urllib.request.Request(put_url, data=b"uploaded", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    assert s3.get_object(Bucket=BUCKET, Key="presigned/up.txt")["Body"].read() == b"uploaded"


def _aws(ep: Endpoint, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ROOT[0], AWS_SECRET_ACCESS_KEY=ROOT[1], AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1")
    return subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", ep.url, *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False, cwd=cwd)


def test_aws_cli_s3_ls_cp_sync(ep: Endpoint, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "2026" / "12").mkdir(parents=True)
    for i in range(3):
        part = src / "2026" / "12" / f"part-{i}.log"
        part.write_text(f"record {i}\n" * 100)
        # S3's LastModified has whole seconds (as AWS's); a file written in the same second as its upload
        # would look newer than its object to `aws s3 sync`. Files older than the upload: what sync sees.
        os.utime(part, (1_700_000_000, 1_700_000_000))
    done = _aws(ep, "s3", "sync", str(src), f"s3://{BUCKET}/synced/")
    assert done.returncode == 0, done.stderr
    listed = _aws(ep, "s3", "ls", "--recursive", f"s3://{BUCKET}/synced/")
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[-1] for line in listed.stdout.splitlines()) == [
        f"synced/2026/12/part-{i}.log" for i in range(3)]
    again = _aws(ep, "s3", "sync", str(src), f"s3://{BUCKET}/synced/")
    assert again.returncode == 0 and "upload:" not in again.stdout  # nothing changed: nothing re-sent
    out = tmp_path / "copy.log"
    cp = _aws(ep, "s3", "cp", f"s3://{BUCKET}/synced/2026/12/part-1.log", str(out))
    assert cp.returncode == 0, cp.stderr
    assert out.read_text() == "record 1\n" * 100
    top = _aws(ep, "s3", "ls")
    assert top.returncode == 0 and BUCKET in top.stdout
