"""S3's REST protocol on the endpoint: path-style requests to the embedded bucket store (issue 12, item 3).

Served: ListBuckets (``GET /``, signed), CreateBucket, HeadBucket, GetBucketLocation, ListObjects and
ListObjectsV2 (``encoding-type=url`` as the AWS CLI asks), PutObject (``x-amz-acl``), GetObject (with a
``Range``), HeadObject, DeleteObject, DeleteObjects, Get/Put/DeleteBucketPolicy. Bodies and headers
follow S3's XML; errors are ``<Error><Code>..<Message>..<Resource>..<RequestId>..</Error>`` (no body
for HEAD). Requests address buckets path-style (``/bucket/key``), which is what boto3 and the AWS CLI
use against an endpoint URL given as an address.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from email.utils import formatdate
from urllib.parse import parse_qsl, quote, unquote
from xml.etree import ElementTree as ET

from vpcflow.controlplane.s3_objects import Listing, S3Objects
from vpcflow.core.api_errors import InvalidArgumentError
from vpcflow.core.errors import ApiError
from vpcflow.storage.bucketstore import ObjectInfo

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_TYPE = "application/xml"

Answer = tuple[int, dict[str, str], bytes]


def error_xml(code: str, message: str, resource: str, request_id: str) -> bytes:
    root = ET.Element("Error")
    for tag, text in (("Code", code), ("Message", message), ("Resource", resource), ("RequestId", request_id)):
        ET.SubElement(root, tag).text = text
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def split_path(raw_path: str) -> tuple[str, str]:
    """``/bucket/some/key`` -> (``bucket``, ``some/key``), percent-decoded."""
    path = raw_path.split("?", 1)[0].lstrip("/")
    bucket, _, key = path.partition("/")
    return unquote(bucket), unquote(key)


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {"ETag": info.etag, "Last-Modified": formatdate(info.last_modified, usegmt=True),
               "Content-Type": info.content_type, "Accept-Ranges": "bytes"}
    if info.content_encoding:
        headers["Content-Encoding"] = info.content_encoding
    return headers


class S3Rest:
    """One S3 request -> (status, headers, body), for an authenticated principal."""

    def __init__(self, objects: S3Objects, region: str) -> None:
        self.objects = objects
        self.region = region

    def handle(self, method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes,
               principal: str) -> Answer:
        bucket, key = split_path(raw_path)
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        if not bucket:
            if method != "GET":
                raise ApiError("The specified method is not allowed against this resource.", code="MethodNotAllowed",
                               http_status=405)
            return self._list_buckets(principal)
        handler = self._bucket_handler(method, query) if not key else self._object_handler(method)
        if handler is None:
            raise ApiError(f"vpcflow's S3 API does not serve {method} {'/bucket/key' if key else '/bucket'} with "
                           f"{sorted(query) or 'no sub-resource'}", code="NotImplemented", http_status=501)
        return handler(bucket, key, query, headers, body, principal)

    # ------------------------------------------------------------------------------ routing
    def _bucket_handler(self, method: str, query: dict[str, str]) -> Callable[..., Answer] | None:
        if "policy" in query:
            return {"GET": self._get_policy, "PUT": self._put_policy, "DELETE": self._delete_policy}.get(method)
        if "location" in query and method == "GET":
            return self._location
        if "delete" in query and method == "POST":
            return self._delete_objects
        if set(query) - {"list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after",
                         "encoding-type", "marker", "fetch-owner", "x-id"}:
            return None
        return {"GET": self._list_objects, "PUT": self._create_bucket, "HEAD": self._head_bucket}.get(method)

    def _object_handler(self, method: str) -> Callable[..., Answer] | None:
        return {"GET": self._get_object, "PUT": self._put_object, "HEAD": self._head_object,
                "DELETE": self._delete_object}.get(method)

    # ------------------------------------------------------------------------------ buckets
    def _list_buckets(self, principal: str) -> Answer:
        names = self.objects.list_buckets(principal)
        root = ET.Element("ListAllMyBucketsResult", xmlns=XMLNS)
        owner = ET.SubElement(root, "Owner")
        ET.SubElement(owner, "ID").text = self.objects.service.account_id
        ET.SubElement(owner, "DisplayName").text = self.objects.service.account_id
        buckets = ET.SubElement(root, "Buckets")
        for name in names:
            b = ET.SubElement(buckets, "Bucket")
            ET.SubElement(b, "Name").text = name
            ET.SubElement(b, "CreationDate").text = _iso(0 if not self.objects.store.bucket_exists(name) else
                                                         (self.objects.store.root / name).stat().st_mtime)
        return 200, {"Content-Type": XML_TYPE}, _xml(root)

    def _create_bucket(self, bucket: str, _k: str, _q: dict[str, str], _h: dict[str, str], _b: bytes,
                       principal: str) -> Answer:
        self.objects.create_bucket(principal, bucket)
        return 200, {"Location": f"/{bucket}"}, b""

    def _head_bucket(self, bucket: str, _k: str, _q: dict[str, str], _h: dict[str, str], _b: bytes,
                     principal: str) -> Answer:
        self.objects.head_bucket(principal, bucket)
        return 200, {"x-amz-bucket-region": self.region}, b""

    def _location(self, bucket: str, _k: str, _q: dict[str, str], _h: dict[str, str], _b: bytes,
                  principal: str) -> Answer:
        self.objects.head_bucket(principal, bucket)
        root = ET.Element("LocationConstraint", xmlns=XMLNS)
        root.text = None if self.region == "us-east-1" else self.region  # S3 answers us-east-1 as empty
        return 200, {"Content-Type": XML_TYPE}, _xml(root)

    def _list_objects(self, bucket: str, _k: str, query: dict[str, str], _h: dict[str, str], _b: bytes,
                      principal: str) -> Answer:
        v2 = query.get("list-type") == "2"
        try:
            max_keys = int(query.get("max-keys", "1000"))
        except ValueError:
            raise InvalidArgumentError("Provided max-keys not an integer or within integer range") from None
        if max_keys < 0:
            raise InvalidArgumentError("max-keys must be a non-negative integer")
        after = query.get("start-after", "") if v2 else query.get("marker", "")
        token = query.get("continuation-token")
        if v2 and token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except ValueError:
                raise InvalidArgumentError("The continuation token provided is incorrect") from None
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        page = self.objects.list_objects(principal, bucket, prefix=prefix, delimiter=delimiter,
                                         max_keys=min(max_keys, 1000), after=after)
        root = self._listing_xml(bucket, query, page, v2, min(max_keys, 1000))
        return 200, {"Content-Type": XML_TYPE}, _xml(root)

    def _listing_xml(self, bucket: str, query: dict[str, str], page: Listing, v2: bool, max_keys: int) -> ET.Element:
        url = query.get("encoding-type") == "url"

        def enc(text: str) -> str:
            return quote(text, safe="/") if url else text

        root = ET.Element("ListBucketResult", xmlns=XMLNS)
        ET.SubElement(root, "Name").text = bucket
        ET.SubElement(root, "Prefix").text = enc(query.get("prefix", ""))
        if v2:
            ET.SubElement(root, "KeyCount").text = str(len(page.objects) + len(page.common_prefixes))
            if "continuation-token" in query:
                ET.SubElement(root, "ContinuationToken").text = query["continuation-token"]
            if "start-after" in query:
                ET.SubElement(root, "StartAfter").text = enc(query["start-after"])
        else:
            ET.SubElement(root, "Marker").text = enc(query.get("marker", ""))
        ET.SubElement(root, "MaxKeys").text = str(max_keys)
        if query.get("delimiter"):
            ET.SubElement(root, "Delimiter").text = enc(query["delimiter"])
        if url:
            ET.SubElement(root, "EncodingType").text = "url"
        ET.SubElement(root, "IsTruncated").text = "true" if page.truncated else "false"
        if page.truncated and page.next_key is not None:
            if v2:
                token = base64.urlsafe_b64encode(page.next_key.encode()).decode()
                ET.SubElement(root, "NextContinuationToken").text = token
            elif query.get("delimiter"):
                ET.SubElement(root, "NextMarker").text = enc(page.next_key)
        for info in page.objects:
            c = ET.SubElement(root, "Contents")
            ET.SubElement(c, "Key").text = enc(info.key)
            ET.SubElement(c, "LastModified").text = _iso(info.last_modified)
            ET.SubElement(c, "ETag").text = info.etag
            ET.SubElement(c, "Size").text = str(info.size)
            ET.SubElement(c, "StorageClass").text = "STANDARD"
        for p in page.common_prefixes:
            ET.SubElement(ET.SubElement(root, "CommonPrefixes"), "Prefix").text = enc(p)
        return root

    def _delete_objects(self, bucket: str, _k: str, _q: dict[str, str], _h: dict[str, str], body: bytes,
                        principal: str) -> Answer:
        try:
            request = ET.fromstring(body)
        except ET.ParseError:
            raise ApiError("The XML you provided was not well-formed", code="MalformedXML") from None
        ns = request.tag[: request.tag.index("}") + 1] if request.tag.startswith("{") else ""
        keys = [o.findtext(f"{ns}Key") or "" for o in request.findall(f"{ns}Object")]
        quiet = (request.findtext(f"{ns}Quiet") or "").lower() == "true"
        root = ET.Element("DeleteResult", xmlns=XMLNS)
        for key, err in self.objects.delete_objects(principal, bucket, keys):
            if err is None and not quiet:
                ET.SubElement(ET.SubElement(root, "Deleted"), "Key").text = key
            elif err is not None:
                e = ET.SubElement(root, "Error")
                for tag, text in (("Key", key), ("Code", err.code), ("Message", err.message)):
                    ET.SubElement(e, tag).text = text
        return 200, {"Content-Type": XML_TYPE}, _xml(root)

    # ------------------------------------------------------------------------------ policies
    def _get_policy(self, bucket: str, _k: str, _q: dict[str, str], _h: dict[str, str], _b: bytes,
                    principal: str) -> Answer:
        policy = self.objects.get_bucket_policy(principal, bucket)
        return 200, {"Content-Type": "application/json"}, json.dumps(policy).encode()

    def _put_policy(self, bucket: str, _k: str, _q: dict[str, str], _h: dict[str, str], body: bytes,
                    principal: str) -> Answer:
        self.objects.put_bucket_policy(principal, bucket, body)
        return 204, {}, b""

    def _delete_policy(self, bucket: str, _k: str, _q: dict[str, str], _h: dict[str, str], _b: bytes,
                       principal: str) -> Answer:
        self.objects.delete_bucket_policy(principal, bucket)
        return 204, {}, b""

    # ------------------------------------------------------------------------------ objects
    def _put_object(self, bucket: str, key: str, _q: dict[str, str], headers: dict[str, str], body: bytes,
                    principal: str) -> Answer:
        info = self.objects.put_object(principal, bucket, key, body, acl=headers.get("x-amz-acl"),
                                       content_type=headers.get("content-type"),
                                       content_encoding=headers.get("content-encoding"))
        return 200, {"ETag": info.etag}, b""

    def _get_object(self, bucket: str, key: str, _q: dict[str, str], headers: dict[str, str], _b: bytes,
                    principal: str) -> Answer:
        info, data = self.objects.get_object(principal, bucket, key)
        out = _object_headers(info)
        wanted = _range(headers.get("range"), len(data))
        if wanted is None:
            return 200, out, data
        lo, hi = wanted
        out["Content-Range"] = f"bytes {lo}-{hi}/{len(data)}"
        return 206, out, data[lo: hi + 1]

    def _head_object(self, bucket: str, key: str, _q: dict[str, str], _h: dict[str, str], _b: bytes,
                     principal: str) -> Answer:
        info = self.objects.head_object(principal, bucket, key)
        return 200, {**_object_headers(info), "Content-Length": str(info.size)}, b""

    def _delete_object(self, bucket: str, key: str, _q: dict[str, str], _h: dict[str, str], _b: bytes,
                       principal: str) -> Answer:
        for _key, err in self.objects.delete_objects(principal, bucket, [key]):
            if err is not None:
                raise err
        return 204, {}, b""


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> inclusive (lo, hi); None: the whole object."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    lo_text, _, hi_text = header[6:].partition("-")
    try:
        if not lo_text:
            n = int(hi_text)
            lo, hi = max(0, size - n), size - 1
        else:
            lo, hi = int(lo_text), int(hi_text) if hi_text else size - 1
    except ValueError:
        return None
    if lo >= size or lo > hi:
        raise ApiError("The requested range is not satisfiable", code="InvalidRange", http_status=416)
    return lo, min(hi, size - 1)


def error_answer(e: ApiError, method: str, raw_path: str, request_id: str) -> Answer:
    """S3's error answer (HEAD carries no body)."""
    body = b"" if method == "HEAD" else error_xml(e.code, e.message, raw_path.split("?", 1)[0], request_id)
    return e.http_status, {"Content-Type": XML_TYPE} if body else {}, body

