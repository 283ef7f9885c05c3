"""S3's bucket and object operations on the embedded bucket store, under IAM (issue 12: one server for a fleet).

The endpoint's S3 API (``api/s3_rest.py``) calls these with the signing principal. Every operation is
authorized as S3 does: the caller's identity policies together with the bucket's policy (the one
auto-attach or PutBucketPolicy put in force, else the topology's), the bucket owner's account deciding
whether the bucket policy alone can grant (cross-account access needs both). A refusal is S3's
``AccessDenied`` (403, "Access Denied").

Buckets are the topology's ``s3_buckets`` and those created through the API (folders of
``<data-dir>/s3``); a topology bucket's folder is made on first use. Decisions where the store
differs from S3 (documented in docs/api.md): no versioning, no multipart uploads, ACLs are recorded
(``x-amz-acl``) but only the canned ones are accepted and none grants access by itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vpcflow.core.api_errors import (
    BucketAlreadyOwnedByYouError,
    InvalidArgumentError,
    MalformedPolicyError,
    NoSuchBucketError,
    NoSuchBucketPolicyError,
    S3AccessDeniedError,
)
from vpcflow.core.errors import ApiError
from vpcflow.iam.policy import parse_policy
from vpcflow.storage.bucketstore import BucketStore, ObjectInfo

if TYPE_CHECKING:
    from vpcflow.controlplane.service import FlowLogService

#: The canned ACLs S3 accepts in ``x-amz-acl`` (flow-log delivery sends bucket-owner-full-control).
CANNED_ACLS = frozenset({"private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
                         "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write"})


@dataclass(frozen=True)
class Listing:
    """One page of ListObjects(V2)."""

    objects: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    next_key: str | None  # the last key or prefix of this page, when truncated


class S3Objects:
    """The S3 API of one data directory: its bucket store, topology buckets, bucket policies and IAM."""

    def __init__(self, store: BucketStore, service: FlowLogService) -> None:
        self.store = store
        self.service = service

    # ------------------------------------------------------------------------------ buckets
    def _topology_bucket(self, bucket: str) -> Any:
        topo, _ = self.service.world()
        return topo.buckets_by_name.get(bucket) if topo is not None else None

    def owner_of(self, bucket: str) -> str:
        b = self._topology_bucket(bucket)
        return str(b.owner_id) if b is not None else self.service.account_id

    def exists(self, bucket: str) -> bool:
        return self.store.bucket_exists(bucket) or self._topology_bucket(bucket) is not None

    def _require(self, bucket: str) -> None:
        if not self.exists(bucket):
            raise NoSuchBucketError("The specified bucket does not exist")
        if not self.store.bucket_exists(bucket):
            self.store.create_bucket(bucket)  # a topology bucket's folder, made on first use

    def bucket_policy(self, bucket: str) -> dict[str, Any] | None:
        in_force = self.service.store.get_bucket_policy(bucket)
        if in_force is not None:
            return in_force
        b = self._topology_bucket(bucket)
        return dict(b.policy) if b is not None and b.policy else None

    def authorize(self, principal: str, action: str, resource: str, bucket: str | None,
                  context: dict[str, str] | None = None) -> None:
        _, world = self.service.world()
        policy = self.bucket_policy(bucket) if bucket else None
        decision = world.authorize(principal, action, resource, context or {}, resource_policy=policy,
                                   resource_account=self.owner_of(bucket) if bucket else None,
                                   resource_policy_name=f"bucket policy of {bucket}")
        if not decision.allowed:
            raise S3AccessDeniedError("Access Denied")

    def list_buckets(self, principal: str) -> list[str]:
        self.authorize(principal, "s3:ListAllMyBuckets", "*", None)
        topo, _ = self.service.world()
        own = {b.name for b in (topo.s3_buckets if topo else ()) if b.owner_id == self.service.account_id}
        return sorted(own | set(self.store.list_buckets()))

    def create_bucket(self, principal: str, bucket: str) -> None:
        self.authorize(principal, "s3:CreateBucket", f"arn:aws:s3:::{bucket}", None)
        if self.exists(bucket):
            if self.owner_of(bucket) != self.service.account_id:
                raise ApiError("The requested bucket name is not available.", code="BucketAlreadyExists",
                               http_status=409)
            if self.service.region != "us-east-1":  # us-east-1 answers 200 to its owner (S3's legacy rule)
                raise BucketAlreadyOwnedByYouError("Your previous request to create the named bucket succeeded "
                                                   "and you already own it.")
        self.store.create_bucket(bucket)

    def head_bucket(self, principal: str, bucket: str) -> None:
        self._require(bucket)
        self.authorize(principal, "s3:ListBucket", f"arn:aws:s3:::{bucket}", bucket)

    # ------------------------------------------------------------------------------ objects
    def list_objects(self, principal: str, bucket: str, *, prefix: str = "", delimiter: str = "",
                     max_keys: int = 1000, after: str = "") -> Listing:
        self._require(bucket)
        self.authorize(principal, "s3:ListBucket", f"arn:aws:s3:::{bucket}", bucket, {"s3:prefix": prefix})
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        last = ""
        for info in self.store.list_objects(bucket, prefix):
            key = info.key
            rest = key[len(prefix):]
            folder = prefix + rest[: rest.index(delimiter) + len(delimiter)] if delimiter and delimiter in rest \
                else None
            entry = folder or key
            if entry.encode() <= after.encode() or (folder and prefixes and prefixes[-1] == folder):
                continue
            if len(objects) + len(prefixes) >= max_keys:
                return Listing(objects, prefixes, True, last)
            if folder:
                prefixes.append(folder)
            else:
                objects.append(info)
            last = entry
        return Listing(objects, prefixes, False, None)

    def put_object(self, principal: str, bucket: str, key: str, body: bytes, *, acl: str | None,
                   content_type: str | None, content_encoding: str | None) -> ObjectInfo:
        self._require(bucket)
        if acl is not None and acl not in CANNED_ACLS:
            raise InvalidArgumentError(f"Invalid canned ACL {acl!r}")
        context = {"s3:x-amz-acl": acl} if acl else {}
        self.authorize(principal, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", bucket, context)
        return self.store.put_object(bucket, key, body, content_type=content_type or "binary/octet-stream",
                                     content_encoding=content_encoding, acl=acl or "private")

    def get_object(self, principal: str, bucket: str, key: str) -> tuple[ObjectInfo, bytes]:
        self._require(bucket)
        self.authorize(principal, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", bucket)
        info = self.store.head_object(bucket, key)
        return info, self.store.get_object(bucket, key)

    def head_object(self, principal: str, bucket: str, key: str) -> ObjectInfo:
        self._require(bucket)
        self.authorize(principal, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", bucket)
        return self.store.head_object(bucket, key)

    def delete_objects(self, principal: str, bucket: str, keys: list[str]) -> list[tuple[str, ApiError | None]]:
        """Delete each key (absent keys count as deleted, as S3); per-key errors are returned, not raised."""
        self._require(bucket)
        out: list[tuple[str, ApiError | None]] = []
        for key in keys:
            try:
                self.authorize(principal, "s3:DeleteObject", f"arn:aws:s3:::{bucket}/{key}", bucket)
                self.store.delete_object(bucket, key)
                out.append((key, None))
            except ApiError as e:
                out.append((key, e))
        return out

    # ------------------------------------------------------------------------------ policies
    def get_bucket_policy(self, principal: str, bucket: str) -> dict[str, Any]:
        self._require(bucket)
        self.authorize(principal, "s3:GetBucketPolicy", f"arn:aws:s3:::{bucket}", bucket)
        policy = self.bucket_policy(bucket)
        if policy is None:
            raise NoSuchBucketPolicyError("The bucket policy does not exist")
        return policy

    def put_bucket_policy(self, principal: str, bucket: str, body: bytes) -> None:
        self._require(bucket)
        self.authorize(principal, "s3:PutBucketPolicy", f"arn:aws:s3:::{bucket}", bucket)
        try:
            policy = json.loads(body)
            parse_policy(policy, name=f"bucket policy of {bucket}", kind="resource", key_path="Policy")
        except (ValueError, ApiError) as e:
            raise MalformedPolicyError(f"Policies must be valid JSON and the first byte must be '{{': {e}") \
                from None
        except Exception as e:  # the policy parser's own errors (ConfigError) name what is wrong
            raise MalformedPolicyError(str(e)) from None
        b = self._topology_bucket(bucket)
        with self.service.store.transaction() as t:
            t.set_bucket_policy(bucket, policy, dict(b.policy) if b is not None and b.policy else None)

    def delete_bucket_policy(self, principal: str, bucket: str) -> None:
        self._require(bucket)
        self.authorize(principal, "s3:DeleteBucketPolicy", f"arn:aws:s3:::{bucket}", bucket)
        with self.service.store.transaction() as t:
            t.delete_bucket_policy(bucket)
