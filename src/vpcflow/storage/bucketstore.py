"""The embedded local bucket store: S3 buckets as folders of a data directory.

Layout (decided here, documented in docs/delivery.md)::

    <root>/<bucket>/<key>                         the object's bytes, the key's "/" as folders
    <root>/.vpcflow-meta/<bucket>/<key>.json      its metadata sidecar (ACL, content type, ...)
    <root>/.vpcflow-tmp/                          temporary files of in-flight writes

``.vpcflow-meta`` and ``.vpcflow-tmp`` cannot collide with a bucket: bucket names never start with
a dot. Writes are atomic (temporary file, fsync, rename, fsync of the folder), so a reader or a
killed writer never sees half an object; re-putting a key replaces it, as S3 does.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from vpcflow.core.api_errors import (
    BucketNotEmptyError,
    InvalidBucketNameError,
    InvalidObjectKeyError,
    NoSuchBucketError,
    NoSuchKeyError,
)
from vpcflow.core.filewrite import write_all
from vpcflow.storage.guard import storage_error

META_DIR = ".vpcflow-meta"
TMP_DIR = ".vpcflow-tmp"
DEFAULT_ACL = "bucket-owner-full-control"

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What HeadObject/ListObjectsV2 say about an object."""

    bucket: str
    key: str
    size: int
    etag: str  # quoted MD5 hex, as S3 gives for single-part uploads
    last_modified: float  # epoch seconds (upload time)
    content_type: str = "application/octet-stream"
    content_encoding: str | None = None
    acl: str = DEFAULT_ACL


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | bytearray, tmp_dir: Path, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never a part.

    A full disk or a read-only file system is a ``StateError`` naming it (storage/guard.py): the data
    directory itself is unusable, which no destination retry or spool can help with."""
    try:
        _atomic_write(path, data, tmp_dir, fsync=fsync)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise storage_error(path, e) from e
        raise


def _atomic_write(path: Path, data: bytes | bytearray, tmp_dir: Path, *, fsync: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
    try:
        with os.fdopen(fd, "wb") as fh:
            write_all(fh, data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(path.parent)


class BucketStore:
    """Buckets and objects under one root folder (``<data-dir>/s3``)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync

    # -- buckets ---------------------------------------------------------------------------------
    def _bucket_dir(self, bucket: str) -> Path:
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise InvalidBucketNameError(f"The specified bucket is not valid: {bucket!r}")
        return self.root / bucket

    def create_bucket(self, bucket: str) -> None:
        self._bucket_dir(bucket).mkdir(parents=True, exist_ok=True)

    def bucket_exists(self, bucket: str) -> bool:
        try:
            return self._bucket_dir(bucket).is_dir()
        except InvalidBucketNameError:
            return False

    def list_buckets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def delete_bucket(self, bucket: str, *, force: bool = False) -> None:
        """Remove a bucket; like S3 it must be empty unless ``force``."""
        d = self._require_bucket(bucket)
        if not force and any(self.list_objects(bucket)):
            raise BucketNotEmptyError("The bucket you tried to delete is not empty")
        shutil.rmtree(d)
        shutil.rmtree(self.root / META_DIR / bucket, ignore_errors=True)

    def _require_bucket(self, bucket: str) -> Path:
        d = self._bucket_dir(bucket)
        if not d.is_dir():
            raise NoSuchBucketError(f"The specified bucket does not exist: {bucket}")
        return d

    # -- objects ---------------------------------------------------------------------------------
    @staticmethod
    def _check_key(key: str) -> None:
        parts = key.split("/")
        if not key or key.startswith("/") or key.endswith("/") or any(p in ("", ".", "..") for p in parts):
            raise InvalidObjectKeyError(f"object key not storable in the local bucket store: {key!r}")

    def object_path(self, bucket: str, key: str) -> Path:
        self._check_key(key)
        return self._bucket_dir(bucket) / key

    def _meta_path(self, bucket: str, key: str) -> Path:
        return self.root / META_DIR / bucket / (key + ".json")

    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | bytearray,
        *,
        content_type: str = "application/octet-stream",
        content_encoding: str | None = None,
        acl: str = DEFAULT_ACL,
    ) -> ObjectInfo:
        """Store an object atomically (replacing any previous one) with its metadata sidecar."""
        d = self._require_bucket(bucket)
        self._check_key(key)
        tmp = self.root / TMP_DIR
        info = ObjectInfo(
            bucket=bucket,
            key=key,
            size=len(data),
            etag='"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"',
            last_modified=time.time(),
            content_type=content_type,
            content_encoding=content_encoding,
            acl=acl,
        )
        # Sidecar first: an object is visible only once its bytes are renamed into place, and a
        # leftover sidecar of a killed put describes bytes that a retry will write identically.
        target = d / key
        if target.is_dir() or any(p.is_file() for p in target.parents if p != d and d in p.parents):
            # A folder store cannot hold both ``a/1`` and ``a/1/x`` (flow-log keys never do).
            raise InvalidObjectKeyError(f"object key {key!r} conflicts with an existing key of bucket {bucket}")
        atomic_write(self._meta_path(bucket, key), json.dumps(asdict(info)).encode(), tmp, fsync=self.fsync)
        atomic_write(target, data, tmp, fsync=self.fsync)
        return info

    def get_object(self, bucket: str, key: str) -> bytes:
        self._require_bucket(bucket)
        path = self.object_path(bucket, key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NoSuchKeyError(f"The specified key does not exist: {key}") from None

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        self._require_bucket(bucket)
        path = self.object_path(bucket, key)
        if not path.is_file():
            raise NoSuchKeyError(f"The specified key does not exist: {key}")
        return self._info(bucket, key, path)

    def _info(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        st = path.stat()
        try:
            meta = json.loads(self._meta_path(bucket, key).read_text())
            if meta.get("size") == st.st_size:
                return ObjectInfo(**meta)
        except (FileNotFoundError, ValueError, TypeError):
            pass
        # No (or a stale) sidecar: describe the bytes themselves.
        etag = '"' + hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() + '"'
        return ObjectInfo(bucket=bucket, key=key, size=st.st_size, etag=etag, last_modified=st.st_mtime)

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete a key (no error when absent, as S3)."""
        self._require_bucket(bucket)
        self.object_path(bucket, key).unlink(missing_ok=True)
        self._meta_path(bucket, key).unlink(missing_ok=True)

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key starting with ``prefix``, in S3's order (UTF-8 byte order)."""
        d = self._require_bucket(bucket)
        folder, _, _ = prefix.rpartition("/")
        start = d / folder if folder else d
        if not start.is_dir():
            return []
        keys: list[str] = []
        base = len(str(d)) + 1
        for dirpath, _dirs, files in os.walk(start):
            rel = dirpath[base:].replace(os.sep, "/")
            for f in files:
                key = f"{rel}/{f}" if rel else f
                if key.startswith(prefix):
                    keys.append(key)
        keys.sort(key=lambda k: k.encode())
        return keys

    def list_objects(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """ObjectInfo of every key starting with ``prefix``, in key order."""
        for key in self.list_keys(bucket, prefix):
            yield self._info(bucket, key, self._bucket_dir(bucket) / key)

    def common_prefixes(self, bucket: str, prefix: str = "") -> list[str]:
        """Sub-folders directly under ``prefix`` (ListObjectsV2 with Delimiter='/')."""
        d = self._require_bucket(bucket)
        if prefix and not prefix.endswith("/"):
            raise InvalidObjectKeyError(f"common_prefixes needs a folder prefix ending in '/': {prefix!r}")
        folder = d / prefix if prefix else d
        if not folder.is_dir():
            return []
        return sorted(prefix + p.name + "/" for p in folder.iterdir() if p.is_dir())
