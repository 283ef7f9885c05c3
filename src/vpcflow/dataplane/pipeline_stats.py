"""A run's figures: what the pipeline counted (packets, records per flow log...) and what the
sinks' receipts say became of the records (delivered, spooled, re-delivered, already delivered),
so a run that stops early can say what is pending. Filled by ``pipeline.run_pipeline``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FlowLogStats:
    records: int = 0
    ok: int = 0
    accept: int = 0
    reject: int = 0
    nodata: int = 0
    skipdata: int = 0
    skipped_records: int = 0
    skipped_packets: int = 0
    # What the sinks' receipts say (records; items = S3 objects or CloudWatch batches):
    delivered: int = 0
    delivered_items: int = 0
    spooled: int = 0
    spooled_items: int = 0
    redelivered: int = 0  # records of earlier runs that left the spool in this run
    already_delivered: int = 0  # records a re-run found delivered by the same run before

    @property
    def pending(self) -> int:
        """Records handed to the sink that it neither delivered nor spooled (groups still open)."""
        return max(0, self.records - self.delivered - self.spooled - self.already_delivered)

    def count_receipt(self, status: str, records: int) -> None:
        if status == "delivered":
            self.delivered += records
            self.delivered_items += 1
        elif status == "spooled":
            self.spooled += records
            self.spooled_items += 1
        elif status == "redelivered":
            self.redelivered += records
        elif status == "already-delivered":
            self.already_delivered += records


@dataclass
class PipelineStats:
    packets: int = 0
    bytes: int = 0
    batches: int = 0
    observations: int = 0
    not_captured: dict[str, int] = field(default_factory=dict)
    flow_logs: dict[str, FlowLogStats] = field(default_factory=dict)
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None

    @property
    def records(self) -> int:
        return sum(s.records for s in self.flow_logs.values())

    def total(self, name: str) -> int:
        """A ``FlowLogStats`` figure summed over the flow logs (``delivered``, ``pending``, ...)."""
        return sum(int(getattr(s, name)) for s in self.flow_logs.values())

    def count_receipts(self, receipts: object) -> None:
        """Tally what a sink's ``flush`` returned (``DeliveryReceipt``s; other sinks return None)."""
        if not isinstance(receipts, list):
            return
        for r in receipts:
            fs = self.flow_logs.get(getattr(r, "flow_log_id", ""))
            if fs is not None:
                fs.count_receipt(str(getattr(r, "status", "")), int(getattr(r, "records", 0)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "bytes": self.bytes,
            "batches": self.batches,
            "observations": self.observations,
            "not_captured": dict(self.not_captured),
            "records": self.records,
            "flow_logs": {k: vars(v).copy() for k, v in self.flow_logs.items()},
        }
