"""The sink contract: how the pipeline hands flow records to a destination.

``RecordSink``:

* ``write(flow_log, table)``: buffer records of closed aggregation windows. ``table`` has the flow
  log's format columns (underscored names, format order). When the format lacks ``start``,
  ``end`` or ``interface-id``, the table may carry those columns in addition: sinks use them for
  file periods, event timestamps and stream names, and never write them.
* ``flush(watermark_s)``: deliver every group that can no longer grow and return a receipt per
  delivery. ``watermark_s`` is the pipeline's event time: every window ending at or before it has
  been written, so a record still to come for a flow log ends after ``watermark_s -
  max_aggregation_interval``. ``None`` delivers everything.
* ``close()``: deliver the rest; the sink is unusable afterwards.
* ``abandon()``: the run stopped early (a signal, an error): release the sink without delivering
  what it still buffers, since that could still have grown (issue 13); unusable afterwards.

A record is acknowledged (counted in a receipt) only once its destination has it, or once it is
durably kept in the spool after a terminal failure (``status="spooled"``). Delivery status changes
go to a ``StatusCallback(flow_log_id, "FAILED"|"SUCCESS", aws_message|None)``, the control plane's
``set_delivery_status``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pyarrow as pa

from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.sinks.compact import canonical_rows, takeable
from vpcflow.dataplane.sinks.faults import fault_point
from vpcflow.model.fields import to_column
from vpcflow.model.flowlog import FlowLog
from vpcflow.model.logformat import LogFormat, parse_log_format

StatusCallback = Callable[[str, str, str | None], None]
ReceiptStatus = Literal["delivered", "spooled", "redelivered", "already-delivered"]

ACCESS_ERROR = "Access error"
RATE_LIMITED = "Rate limited"
UNKNOWN_ERROR = "Unknown error"


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """One delivery: where records went and how many."""

    flow_log_id: str
    destination: str  # s3://bucket/key, or log-group:stream
    records: int
    bytes: int
    status: ReceiptStatus = "delivered"


class RecordSink(Protocol):
    def write(self, flow_log: FlowLog, table: pa.Table) -> None: ...

    def flush(self, watermark_s: int | None = None) -> list[DeliveryReceipt]: ...

    def close(self) -> None: ...

    def abandon(self) -> None: ...


def flow_log_format(flow_log: FlowLog) -> LogFormat:
    return parse_log_format(flow_log.log_format, transit_gateway=False)


@dataclass(frozen=True, slots=True)
class SplitTable:
    """A written table split into what is rendered and what only steers delivery."""

    records: pa.Table  # exactly the format's columns
    start: pa.ChunkedArray | None
    end: pa.ChunkedArray | None
    interface_id: pa.ChunkedArray | None
    resource_id: pa.ChunkedArray | None


def split_table(flow_log: FlowLog, table: pa.Table) -> SplitTable:
    """Select the format's columns (in order) and the steering columns, with a clear error if absent."""
    fmt = flow_log_format(flow_log)
    cols = [to_column(n) for n in fmt.fields]
    missing = [c for c in cols if c not in table.column_names]
    if missing:
        raise ConfigError(f"flow log {flow_log.flow_log_id}: record table lacks format columns {', '.join(missing)}")
    records = table.select(cols)

    def opt(name: str) -> pa.ChunkedArray | None:
        return table.column(name) if name in table.column_names else None

    return SplitTable(records, opt("start"), opt("end"), opt("interface_id"), opt("resource_id"))


def canonical_order(records: pa.Table) -> pa.Table:
    """The rows of ``records`` sorted by every column, in the table's column order (format order).

    An S3 object's bytes (and so its content-hashed name) must not depend on how its records reached
    the sink: in how many writes, from which capture interface, from one process or several Dask
    workers (docs/bulk.md). AWS promises no order inside a file, so vpcflow picks this one. Rows equal
    in every column are identical lines, so their relative order cannot show. Dictionary columns
    (``compact.compact_records``) sort by their values, as the text columns they stand for; nulls
    come after every value. The order is the core's (``compact.canonical_rows``), as for an S3 group.
    """
    if records.num_rows <= 1:
        return records
    return takeable(records).take(pa.array(canonical_rows(records).rows))


def require(col: pa.ChunkedArray | None, flow_log: FlowLog, what: str, name: str) -> pa.ChunkedArray:
    if col is None:
        raise ConfigError(
            f"flow log {flow_log.flow_log_id}: {what} needs the {name!r} column; its format lacks it, so the "
            f"record table must carry it as an extra column"
        )
    return col


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter for transient errors (throttling, timeouts).

    Bounded twice: at most ``max_attempts`` calls, and no retry that would start more than
    ``max_elapsed_s`` after the first call (an unreachable endpoint fails in seconds, not minutes;
    each call is bounded by the client's own connect/read timeouts).
    """

    max_attempts: int = 6
    base_s: float = 0.2
    cap_s: float = 10.0
    max_elapsed_s: float = 10.0

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait before retry ``attempt`` (1-based), ``rand`` uniform in [0, 1)."""
        return float(rand * min(self.cap_s, self.base_s * (2 ** (attempt - 1))))

    def next_delay(self, attempt: int, elapsed_s: float, rand: float) -> float | None:
        """The wait before another call after ``attempt`` failed calls, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        wait = self.delay(attempt, rand)
        return None if elapsed_s + wait > self.max_elapsed_s else wait


class DeliveryStatusMixin:
    """The delivery-status bookkeeping every sink with a spool shares.

    A sink reports SUCCESS/FAILED per flow log through its ``status`` callback only when the state
    changes (or when forced after a spool drains), remembers the AWS message of the last failure, and
    forgets a flow log's authorization when it fails so the next attempt checks again.

    After a failure, a sink built with ``retry_after_s > 0`` leaves the flow log alone (new records go
    straight to the spool) until that many seconds have passed, except for one last attempt at the
    final flush (``flush(None)``) when the failure is older than one retry budget
    (``retry.max_elapsed_s``; a failure that just happened says enough): a run against a destination
    that is down costs one or two bounded retry rounds, not one per flush (issue 13). The default 0
    tries again at every flush.
    """

    sink_name: str
    spool: Any
    status: Any
    retry: RetryPolicy
    retry_after_s: float = 0.0
    _state: dict[str, str]
    _message: dict[str, str]
    _authorized: set[str]

    def _spooled(self, fid: str) -> bool:
        """Whether this sink has spooled items for the flow log (new ones then queue behind them)."""
        return self.spool is not None and bool(self.spool.has_items(fid, self.sink_name))

    def _holding(self, fid: str, final: bool) -> bool:
        """Whether to leave a failed flow log alone in this flush (see the class docstring)."""
        failed_at: dict[str, float] = self.__dict__.setdefault("_failed_at", {})
        tried_final: set[str] = self.__dict__.setdefault("_tried_final", set())
        if self._state.get(fid) != "FAILED" or fid not in failed_at:
            return False
        since = time.monotonic() - failed_at[fid]
        if final and fid not in tried_final and since >= self.retry.max_elapsed_s:
            tried_final.add(fid)
            return False
        return since < self.retry_after_s

    def _set_status(self, fid: str, status: str, message: str | None, *, force: bool = False) -> None:
        if message is not None:
            self._message[fid] = message
        if status == "FAILED":
            self._authorized.discard(fid)
            self.__dict__.setdefault("_failed_at", {})[fid] = time.monotonic()
        if self._state.get(fid) == status and not force:
            return
        self._state[fid] = status
        if self.status is not None:
            fault_point("status.before_callback")
            self.status(fid, status, message)
