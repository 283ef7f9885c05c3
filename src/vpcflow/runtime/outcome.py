"""What became of a run's records: delivered, spooled, still pending; the flow logs' true status.

``delivery_outcome`` reads it after a run (finished or stopped early) from the pipeline's receipt
tallies, the data directory's spool and the state store, and makes the status truthful: a flow log
with records waiting in the spool is ``FAILED`` (with the sink's AWS message, else ``Unknown
error``) until they are delivered, whatever set SUCCESS meanwhile (spec 3, DeliverLogsStatus /
DeliverLogsErrorMessage; issue 13). ``stopped_message`` is the one line a run stopped by a signal
or an error ends with. The CLI turns ``DeliveryOutcome.spooled_records`` into exit code 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from vpcflow.core.errors import RunInterrupted
from vpcflow.dataplane.pipeline import PipelineStats
from vpcflow.dataplane.sinks.spool import Spool
from vpcflow.model.flowlog import FlowLog
from vpcflow.storage.state import StateStore

#: Exit code of a run that finished but left records in the spool (a destination refused them).
EXIT_SPOOLED = 3


@dataclass(frozen=True, slots=True)
class FlowLogOutcome:
    flow_log_id: str
    records: int  # handed to the sink by this run
    delivered: int  # by this run, fresh
    redelivered: int  # from the spool of earlier runs
    already_delivered: int  # found delivered by an earlier attempt of the same run
    pending: int  # handed over, neither delivered nor spooled (groups still open when the run stopped)
    spool_items: int  # waiting in the spool now (any run)
    spool_records: int
    status: str | None  # DeliverLogsStatus after the run (None: not a delivery flow log)
    message: str | None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    flow_logs: dict[str, FlowLogOutcome] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(int(getattr(o, name)) for o in self.flow_logs.values())

    @property
    def spooled_records(self) -> int:
        return self.total("spool_records")

    def failed(self) -> list[FlowLogOutcome]:
        return [o for o in self.flow_logs.values() if o.spool_items]


def _item_records(meta: dict[str, Any]) -> int:
    if "records" in meta:
        return int(meta["records"])
    return max(0, int(meta.get("seq_to", 0)) - int(meta.get("seq_from", 0)))


def delivery_outcome(flow_logs: list[FlowLog], stats: PipelineStats, spool: Spool,
                     store: StateStore | None, delivering: set[str]) -> DeliveryOutcome:
    """The outcome per flow log; corrects a SUCCESS status that hides spooled records (``delivering``:
    ids whose records go to a destination with a spool, not to files)."""
    stored = {s.flow_log.flow_log_id: s for s in store.list_stored_flow_logs()} if store is not None else {}
    out: dict[str, FlowLogOutcome] = {}
    for fl in flow_logs:
        fid = fl.flow_log_id
        items = spool.items(fid) if fid in delivering else []
        s = stored.get(fid)
        status = s.deliver_logs_status if s is not None and fid in delivering else None
        message = s.deliver_logs_error_message if s is not None else None
        if items and status != "FAILED" and store is not None:
            # Records wait in the spool: the flow log is not delivering, whoever wrote SUCCESS.
            status, message = "FAILED", message or "Unknown error"
            store.set_delivery_status(fid, "FAILED", message)  # type: ignore[arg-type]
        fs = stats.flow_logs.get(fid)
        out[fid] = FlowLogOutcome(
            fid, fs.records if fs else 0, fs.delivered if fs else 0, fs.redelivered if fs else 0,
            fs.already_delivered if fs else 0, fs.pending if fs and fid in delivering else 0,
            len(items), sum(_item_records(i.meta) for i in items), status, message if status == "FAILED" else None,
        )
    return DeliveryOutcome(out)


def spool_line(outcome: DeliveryOutcome) -> str:
    """``N records of K flow log(s) wait in the spool (fl-1: Access error, ...)``, or '' if none."""
    failed = outcome.failed()
    if not failed:
        return ""
    why = ", ".join(f"{o.flow_log_id}: {o.message or 'Unknown error'}" for o in failed)
    return (f"{outcome.spooled_records:,} records of {len(failed)} flow log(s) wait in the spool, "
            f"DeliverLogsStatus FAILED ({why}); the next run that reaches the destination delivers them")


def stopped_message(cause: str, stats: PipelineStats, outcome: DeliveryOutcome) -> str:
    """The one line a run stopped early ends with: what was delivered, what is pending."""
    delivered = outcome.total("delivered") + outcome.total("redelivered")
    head = f"{cause}: " if cause else ""
    parts = [f"{head}stopped after {stats.packets:,} packets; {delivered:,} records delivered"]
    if outcome.total("already_delivered"):
        parts.append(f"{outcome.total('already_delivered'):,} found delivered earlier")
    if outcome.spooled_records:
        parts.append(f"{outcome.spooled_records:,} in the spool (FAILED)")
    pending = outcome.total("pending")
    parts.append(f"{pending:,} records of groups that could still grow left for the re-run" if pending
                 else "no group left half-delivered")
    return "; ".join(parts) + "; run the same command again to deliver the rest (nothing is delivered twice)"


def raise_stopped(e: BaseException, stats: PipelineStats, outcome: DeliveryOutcome) -> NoReturn:
    """Re-raise what stopped a run with the account of its delivery (``RunInterrupted`` for signals)."""
    if isinstance(e, RunInterrupted):
        raise RunInterrupted(e.reason, stopped_message(f"interrupted by {e.reason}", stats, outcome)) from None
    if isinstance(e, KeyboardInterrupt):
        raise RunInterrupted("SIGINT", stopped_message("interrupted by SIGINT", stats, outcome)) from e
    # The error keeps its type (callers catch SourceError, DeliveryFailedError...); the account of
    # the delivery rides along as a note, which the CLI prints on the same line.
    e.add_note(stopped_message("", stats, outcome))
    raise e
