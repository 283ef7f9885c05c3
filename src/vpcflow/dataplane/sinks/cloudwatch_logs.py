"""CloudWatch Logs destination through boto3 (AWS or any compatible endpoint, e.g. moto).

Log group created on first delivery (if the ``authorize`` callback allows it), streams created
lazily, PutLogEvents without sequence tokens (AWS ignores them now). ``ThrottlingException`` and
other transient errors are retried with bounded exponential backoff and jitter; when retries run
out the flow log is FAILED / ``Rate limited`` and the batch waits in the spool. An unreachable
endpoint is retried the same way (bounded by the client's timeouts and the retry budget), then
FAILED / ``Unknown error``. Access errors (the listed codes, any 403, no or bad credentials) ->
``Access error``; anything else -> ``Unknown error``.

Checkpoints live in ``<spool>/checkpoints.db`` with an intent written before each call. A kill
after PutLogEvents but before the checkpoint is reconciled on the next run: if the stream's newest
events are the batch's last event, the batch counts as delivered (docs/delivery.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.core.errors import DeliveryFailedError, DeliveryRetryableError
from vpcflow.dataplane.sinks.base import ACCESS_ERROR, RATE_LIMITED, UNKNOWN_ERROR
from vpcflow.dataplane.sinks.cwl_common import CloudWatchSinkBase
from vpcflow.dataplane.sinks.faults import fault_point
from vpcflow.dataplane.sinks.spool import CheckpointStore, Intent

RETRYABLE = frozenset({"ThrottlingException", "ServiceUnavailableException", "LimitExceededException",
                       "InternalFailure", "RequestTimeout"})
ACCESS = frozenset({"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
                    "KmsInvalidStateException", "ExpiredTokenException"})


def logs_client(endpoint_url: str | None = None, region: str | None = None, **kwargs: Any) -> Any:
    import boto3
    from botocore.config import Config

    from vpcflow.dataplane.sinks.s3 import CLIENT_TIMEOUTS, NO_CLIENT_RETRIES

    cfg = Config(retries=NO_CLIENT_RETRIES, **CLIENT_TIMEOUTS)
    return boto3.client("logs", endpoint_url=endpoint_url, region_name=region, config=cfg, **kwargs)


class CloudWatchLogsSink(CloudWatchSinkBase):
    """Flow-log events through a boto3 ``logs`` client."""

    sink_name = "cloudwatch-logs"

    def __init__(
        self,
        *,
        checkpoints: CheckpointStore,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.client = client if client is not None else logs_client(endpoint_url, region)
        self.checkpoints = checkpoints
        self._streams: set[tuple[str, str]] = set()
        self.destination_id = str(getattr(self.client.meta, "endpoint_url", endpoint_url or "aws"))

    def _error(self, exc: Exception, where: str) -> Exception:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            CredentialRetrievalError,
            HTTPClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        name = self.sink_name
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            text = f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
            if code in RETRYABLE or status in (429, 500, 502, 503, 504):
                return DeliveryRetryableError(text, sink=name, destination=where, aws_message=RATE_LIMITED)
            # Any 403 is the delivery role being refused, whatever code the endpoint chose (issue 13).
            aws = ACCESS_ERROR if code in ACCESS or status == 403 else UNKNOWN_ERROR
            return DeliveryFailedError(text, sink=name, destination=where, aws_message=aws)
        if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
            return DeliveryFailedError(f"no usable credentials ({exc})", sink=name, destination=where,
                                       aws_message=ACCESS_ERROR)
        if isinstance(exc, ConnectionError | HTTPClientError):
            return DeliveryRetryableError(f"endpoint unreachable ({exc})", sink=name, destination=where,
                                          aws_message=UNKNOWN_ERROR)
        if isinstance(exc, BotoCoreError):
            return DeliveryFailedError(str(exc), sink=name, destination=where, aws_message=UNKNOWN_ERROR)
        return exc

    def _call(self, where: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except Exception as e:  # botocore's many types, sorted by _error
            mapped = self._error(e, where)
            if mapped is e:
                raise
            raise mapped from e

    def _group_exists(self, group: str) -> bool:
        res = self._call(group, self.client.describe_log_groups, logGroupNamePrefix=group)
        return any(g["logGroupName"] == group for g in res.get("logGroups", []))

    def _ensure_stream(self, group: str, stream: str, create_group: bool) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if (group, stream) in self._streams and not create_group:
            return

        for fn, kw in ((self.client.create_log_group, {"logGroupName": group}) if create_group else (None, {}),
                       (self.client.create_log_stream, {"logGroupName": group, "logStreamName": stream})):
            if fn is None:
                continue
            try:
                fn(**kw)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise self._error(e, f"{group}:{stream}") from e
            except BotoCoreError as e:  # no credentials, endpoint down, ...
                raise self._error(e, f"{group}:{stream}") from e
        self._streams.add((group, stream))

    def _put_batch(self, run_key: str, group: str, stream: str, ts: npt.NDArray[np.int64], msgs: pa.Array,
                   seq_from: int, seq_to: int) -> None:
        events = [{"timestamp": t, "message": m} for t, m in zip(ts.tolist(), msgs.to_pylist(), strict=True)]
        dest = self.destination_id + "/" + group
        self.checkpoints.begin(run_key, dest, stream, Intent(seq_from, seq_to, int(ts[-1]), str(events[-1]["message"])))
        try:
            self._call(f"{group}:{stream}", self.client.put_log_events, logGroupName=group, logStreamName=stream,
                       logEvents=events)
        except (DeliveryFailedError, DeliveryRetryableError) as e:
            from botocore.exceptions import ClientError

            if isinstance(e.__cause__, ClientError):
                # The service answered with an error: the batch was not stored. (A timeout or a broken
                # connection is ambiguous: its intent stays, to be reconciled before the next attempt.)
                self.checkpoints.abandon(run_key, dest, stream)
            if isinstance(e, DeliveryRetryableError) or "ResourceNotFoundException" not in str(e):
                raise
            # Deleted behind our back: forget it and retry (re-authorize, re-create).
            self._streams = {gs for gs in self._streams if gs[0] != group}
            self._known_groups.discard(group)
            raise DeliveryRetryableError(str(e), sink=self.sink_name, destination=f"{group}:{stream}") from e
        fault_point("cwl.after_put_before_checkpoint")
        self.checkpoints.commit(run_key, dest, stream, seq_to)

    def _checkpoint(self, run_key: str, group: str, stream: str) -> int:
        dest = self.destination_id + "/" + group
        intent = self.checkpoints.intent(run_key, dest, stream)
        if intent is not None:
            if self._landed(group, stream, intent):
                self.checkpoints.commit(run_key, dest, stream, intent.seq_to)
            else:
                self.checkpoints.abandon(run_key, dest, stream)
        return self.checkpoints.get(run_key, dest, stream)

    def _landed(self, group: str, stream: str, intent: Intent) -> bool:
        """Whether the batch of an unfinished intent reached the stream (its last event is the newest)."""
        from botocore.exceptions import ClientError

        try:
            res = self.client.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False, limit=1)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            # Unknown whether the batch landed: stop rather than guess (a guess could double or lose it).
            raise self._error(e, f"{group}:{stream}") from e
        except Exception as e:  # botocore's other errors: no credentials, endpoint down
            mapped = self._error(e, f"{group}:{stream}")
            if mapped is e:
                raise
            raise mapped from e
        events = res.get("events", [])
        return bool(events) and events[-1]["timestamp"] == intent.last_timestamp and \
            events[-1]["message"] == intent.last_message
