"""S3 destination through boto3: AWS itself, MinIO, Ceph, moto, ... (any ``endpoint_url``).

Objects land under the same keys as AWS's (``s3_common.py``) and are put with
``ACL='bucket-owner-full-control'`` (spec 4). Credentials come from boto3's standard chain.
Errors are mapped to the delivery contract:

* throttling, 5xx -> ``DeliveryRetryableError`` (retried with bounded exponential backoff and
  jitter; if retries run out: FAILED / ``Rate limited``);
* a refused connection, a connect or read timeout -> retried the same way, then FAILED / ``Unknown
  error`` (the endpoint is down: AWS's "internal error"); the client's timeouts (``CLIENT_TIMEOUTS``)
  and the sink's retry budget keep an unreachable endpoint to seconds (issue 13);
* ``NoSuchBucket``, ``AccessDenied``, any 403 or 404, no or bad credentials -> ``DeliveryFailedError``
  / ``Access error`` (the delivery service cannot write);
* anything else -> ``DeliveryFailedError`` / ``Unknown error``.
"""

from __future__ import annotations

from typing import Any

from vpcflow.core.errors import DeliveryFailedError, DeliveryRetryableError
from vpcflow.dataplane.sinks.base import ACCESS_ERROR, RATE_LIMITED, UNKNOWN_ERROR
from vpcflow.dataplane.sinks.s3_common import S3Object, S3ObjectSink

RETRYABLE_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed", "InternalError",
    "ServiceUnavailable", "503", "500", "RequestLimitExceeded",
})
ACCESS_CODES = frozenset({
    "NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "AccountProblem", "InvalidBucketState", "403", "404", "KMS.DisabledException", "KMS.NotFoundException",
})
#: botocore client timeouts (seconds): an endpoint that does not answer fails each call quickly; the
#: sink retries within ``RetryPolicy.max_elapsed_s`` and then spools.
CLIENT_TIMEOUTS = {"connect_timeout": 3, "read_timeout": 10}
#: The sink retries (bounded, with backoff): botocore makes one attempt. (``max_attempts: 1`` in
#: standard mode would still allow one retry; ``total_max_attempts`` counts the first call.)
NO_CLIENT_RETRIES: dict[str, Any] = {"total_max_attempts": 1, "mode": "standard"}


def s3_client(endpoint_url: str | None = None, region: str | None = None, **kwargs: Any) -> Any:
    """A boto3 S3 client (path-style addressing, so any endpoint and bucket name works)."""
    import boto3
    from botocore.config import Config

    cfg = Config(s3={"addressing_style": "path"}, retries=NO_CLIENT_RETRIES,
                 **CLIENT_TIMEOUTS)
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=cfg, **kwargs)


def map_client_error(exc: Exception, *, sink: str, destination: str) -> Exception:
    """The delivery error for a botocore exception."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        CredentialRetrievalError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        text = f"{code}: {err.get('Message', '')}"
        if code in RETRYABLE_CODES or status in (429, 500, 502, 503, 504):
            return DeliveryRetryableError(text, sink=sink, destination=destination, aws_message=RATE_LIMITED)
        if code in ACCESS_CODES or status in (403, 404):
            return DeliveryFailedError(text, sink=sink, destination=destination, aws_message=ACCESS_ERROR)
        return DeliveryFailedError(text, sink=sink, destination=destination, aws_message=UNKNOWN_ERROR)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return DeliveryFailedError(f"no usable credentials ({exc})", sink=sink, destination=destination,
                                   aws_message=ACCESS_ERROR)
    if isinstance(exc, ConnectionError | HTTPClientError):
        return DeliveryRetryableError(f"endpoint unreachable ({exc})", sink=sink, destination=destination,
                                      aws_message=UNKNOWN_ERROR)
    if isinstance(exc, BotoCoreError):
        return DeliveryFailedError(str(exc), sink=sink, destination=destination, aws_message=UNKNOWN_ERROR)
    return exc


class S3Sink(S3ObjectSink):
    """S3-layout objects through a boto3 client (``client`` or built from ``endpoint_url``)."""

    sink_name = "s3"

    def __init__(
        self, *, client: Any = None, endpoint_url: str | None = None, region: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.client = client if client is not None else s3_client(endpoint_url, region)

    def _put(self, obj: S3Object) -> None:
        try:
            self.client.put_object(
                Bucket=obj.bucket, Key=obj.key, Body=obj.data, ContentType=obj.content_type,
                ACL="bucket-owner-full-control",
            )
        except Exception as e:  # botocore raises many types; map_client_error sorts them
            mapped = map_client_error(e, sink=self.sink_name, destination=self._destination(obj))
            if mapped is e:
                raise
            raise mapped from e
