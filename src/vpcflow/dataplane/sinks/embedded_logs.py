"""The embedded CloudWatch Logs destination: the data directory's log store (``logs.db``).

The log group is created on first delivery, and only when the delivery role allows
``logs:CreateLogGroup`` (the ``authorize`` callback, wired by the runtime to
``iam/delivery.check_cloudwatch_delivery``, is told whether the group exists); streams are created
lazily per ENI (spec 3, 9). Each PutLogEvents batch and the run's checkpoint for its stream are
committed in one SQLite transaction, so delivery is exactly-once even when the process is killed.

Events older than 14 days are accepted (``enforce_age=False`` by default): vpcflow replays old
captures, whose records AWS would have delivered minutes after they happened (docs/delivery.md).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.core.api_errors import ResourceAlreadyExistsError, ResourceNotFoundError
from vpcflow.core.errors import DeliveryRetryableError, StateLockedError
from vpcflow.dataplane.sinks.cwl_common import CloudWatchSinkBase
from vpcflow.storage.logstore import LogStore


class EmbeddedLogsSink(CloudWatchSinkBase):
    """Flow-log events into a :class:`LogStore`."""

    sink_name = "embedded-logs"

    def __init__(self, store: LogStore, *, enforce_age: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.enforce_age = enforce_age
        self._streams: set[tuple[str, str]] = set()  # streams known to exist

    def forget(self, group: str) -> None:
        self._streams = {gs for gs in self._streams if gs[0] != group}
        self._known_groups.discard(group)

    def _group_exists(self, group: str) -> bool:
        return self.store.log_group_exists(group)

    def _ensure_stream(self, group: str, stream: str, create_group: bool) -> None:
        # ResourceAlreadyExists: another process created it meanwhile.
        if create_group:
            with contextlib.suppress(ResourceAlreadyExistsError):
                self.store.create_log_group(logGroupName=group)
        if (group, stream) in self._streams:
            return
        if not self.store.log_stream_exists(group, stream):
            with contextlib.suppress(ResourceAlreadyExistsError):
                self.store.create_log_stream(logGroupName=group, logStreamName=stream)
        self._streams.add((group, stream))

    def _put_batch(self, run_key: str, group: str, stream: str, ts: npt.NDArray[np.int64], msgs: pa.Array,
                   seq_from: int, seq_to: int) -> None:
        try:
            # first_seq: what another delivery of the same run stored meanwhile is not stored twice.
            self.store.put_events(group, stream, ts, msgs, enforce_age=self.enforce_age, checkpoint=(run_key, seq_to),
                                  first_seq=seq_from)
        except ResourceNotFoundError as e:
            # The group or stream was deleted behind our back: forget what we knew and retry,
            # which re-authorizes (CreateLogGroup) and re-creates them.
            self.forget(group)
            raise DeliveryRetryableError(e.message, sink=self.sink_name, destination=f"{group}:{stream}") from e
        except StateLockedError as e:  # locked by another process for too long: transient
            # Any other StateError (corrupt, disk full, read-only) stops the run: never spool past it.
            raise DeliveryRetryableError(str(e), sink=self.sink_name, destination=f"{group}:{stream}") from e

    def _checkpoint(self, run_key: str, group: str, stream: str) -> int:
        if not self.store.log_group_exists(group):
            return 0
        return self.store.checkpoint(run_key, group, stream)
