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

from vpcflow.dataplane.sinks.cwl_common import CloudWatchSinkBase
from vpcflow.storage.logstore import LogStore, ResourceAlreadyExistsError


class EmbeddedLogsSink(CloudWatchSinkBase):
    """Flow-log events into a :class:`LogStore`."""

    sink_name = "embedded-logs"

    def __init__(self, store: LogStore, *, enforce_age: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.enforce_age = enforce_age

    def _group_exists(self, group: str) -> bool:
        return self.store.log_group_exists(group)

    def _ensure_stream(self, group: str, stream: str, create_group: bool) -> None:
        # ResourceAlreadyExists: another process created it meanwhile.
        if create_group:
            with contextlib.suppress(ResourceAlreadyExistsError):
                self.store.create_log_group(logGroupName=group)
        if not self.store.log_stream_exists(group, stream):
            with contextlib.suppress(ResourceAlreadyExistsError):
                self.store.create_log_stream(logGroupName=group, logStreamName=stream)

    def _put_batch(self, run_key: str, group: str, stream: str, ts: npt.NDArray[np.int64], msgs: pa.Array,
                   seq_from: int, seq_to: int) -> None:
        self.store.put_events(group, stream, ts, msgs, enforce_age=self.enforce_age, checkpoint=(run_key, seq_to))

    def _checkpoint(self, run_key: str, group: str, stream: str) -> int:
        if not self.store.log_group_exists(group):
            return 0
        return self.store.checkpoint(run_key, group, stream)
