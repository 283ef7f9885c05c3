"""What every CloudWatch Logs sink shares: streams per ENI, ordered batches, checkpoints, spool.

On each flush every buffered record (they all belong to closed windows) becomes an event of its
ENI's stream ``<eni-id>-all`` (spec 3) with ``timestamp = start x 1000`` and the record line as
message. Per stream the events are sorted chronologically (ties by message, so the order does not
depend on how the records were written) and cut into PutLogEvents calls within AWS's limits (``codecs/cloudwatch.py``).

Exactly-once across kills: within a run, the events of (flow log, stream) form a deterministic
sequence numbered 0, 1, 2, ...; the destination's checkpoint says how much of it was delivered by
the same ``run_id`` (the runtime derives it from the run's configuration and inputs), and a re-run
skips those. Spooled batches count as taken over: their range is skipped too, and re-delivering
them advances the checkpoint.

Backends implement ``_group_exists``, ``_ensure_stream``, ``_put_batch`` and ``_checkpoint``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.codecs import cloudwatch as cw
from vpcflow.codecs.text import render_lines
from vpcflow.core.errors import ConfigError, DeliveryFailedError, DeliveryRetryableError, StateError
from vpcflow.dataplane.sinks.base import (
    RATE_LIMITED,
    DeliveryReceipt,
    DeliveryStatusMixin,
    RetryPolicy,
    StatusCallback,
    require,
    split_table,
)
from vpcflow.dataplane.sinks.faults import fault_point
from vpcflow.dataplane.sinks.spool import Spool, decode_events, encode_events
from vpcflow.model.flowlog import FlowLog

#: ``authorize(flow_log, log_group_exists) -> None | AWS message`` (iam/delivery.check_cloudwatch_delivery).
LogsAuthorizer = Callable[[FlowLog, bool], str | None]


def log_group_of(flow_log: FlowLog) -> str:
    """The log group a flow log delivers to (``LogGroupName`` or the name inside ``LogDestination``)."""
    if flow_log.log_group_name:
        return flow_log.log_group_name
    dest = flow_log.log_destination or ""
    if ":log-group:" in dest:
        return dest.split(":log-group:", 1)[1].removesuffix(":*")
    raise ConfigError(f"flow log {flow_log.flow_log_id} has no CloudWatch Logs log group")


class CloudWatchSinkBase(DeliveryStatusMixin):
    """The CloudWatch Logs sink logic over an abstract backend."""

    sink_name = "cloudwatch-logs"

    def __init__(
        self,
        *,
        run_id: str = "default",
        spool: Spool | None = None,
        status: StatusCallback | None = None,
        authorize: LogsAuthorizer | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_batch_events: int = cw.MAX_BATCH_EVENTS,
        max_batch_bytes: int = cw.MAX_BATCH_BYTES,
        retry_after_s: float = 0.0,
    ) -> None:
        self.retry_after_s = retry_after_s
        self.run_id = run_id
        self.spool = spool
        self.status = status
        self.authorize = authorize
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rand = random.Random()
        self.max_batch_events = max_batch_events
        self.max_batch_bytes = max_batch_bytes
        self._flow_logs: dict[str, FlowLog] = {}
        self._buf: dict[str, list[tuple[pa.Table, pa.Array, pa.Array]]] = {}
        self._seq: dict[tuple[str, str, str], int] = {}
        self._ckpt: dict[tuple[str, str, str], int] = {}
        self._state: dict[str, str] = {}
        self._message: dict[str, str] = {}
        self._authorized: set[str] = set()
        self._known_groups: set[str] = set()  # groups seen to exist since the last authorization
        self._closed = False

    # -- backend ----------------------------------------------------------------------------------
    def _group_exists(self, group: str) -> bool:
        raise NotImplementedError

    def _ensure_stream(self, group: str, stream: str, create_group: bool) -> None:
        raise NotImplementedError

    def _put_batch(self, run_key: str, group: str, stream: str, ts: npt.NDArray[np.int64], msgs: pa.Array,
                   seq_from: int, seq_to: int) -> None:
        raise NotImplementedError

    def _checkpoint(self, run_key: str, group: str, stream: str) -> int:
        raise NotImplementedError

    # -- RecordSink -------------------------------------------------------------------------------
    def adopt(self, flow_log: FlowLog) -> None:
        self._flow_logs[flow_log.flow_log_id] = flow_log

    def write(self, flow_log: FlowLog, table: pa.Table) -> None:
        if self._closed:
            raise RuntimeError("write() on a closed sink")
        if flow_log.log_destination_type != "cloud-watch-logs":
            raise ConfigError(f"flow log {flow_log.flow_log_id} does not deliver to CloudWatch Logs")
        log_group_of(flow_log)
        if table.num_rows == 0:
            return
        parts = split_table(flow_log, table)
        start = require(parts.start, flow_log, "CloudWatch event timestamps (start x 1000)", "start")
        iface = require(parts.interface_id, flow_log, "CloudWatch stream names (<eni-id>-all)", "interface_id")
        fallback = parts.resource_id.combine_chunks() if parts.resource_id is not None else None
        streams = cw.stream_names(iface, fallback)
        self._flow_logs[flow_log.flow_log_id] = flow_log
        self._buf.setdefault(flow_log.flow_log_id, []).append((parts.records, start.combine_chunks(), streams))

    def flush(self, watermark_s: int | None = None) -> list[DeliveryReceipt]:
        receipts: list[DeliveryReceipt] = []
        self._authorized.clear()  # delivery permissions are checked again at every flush
        self._known_groups.clear()
        for fid in sorted(self._flow_logs):
            if not self._holding(fid, final=watermark_s is None):
                receipts += self._redeliver(fid)
            if fid in self._buf:
                receipts += self._flush_flow_log(self._flow_logs[fid])
        return receipts

    def abandon(self) -> None:
        """Stop without delivering what is buffered (the pipeline flushes at every write, so this is
        empty unless a flush failed midway); a re-run delivers it, its checkpoints skip what landed."""
        self._buf.clear()
        self._closed = True

    # -- internals --------------------------------------------------------------------------------
    def _run_key(self, fid: str) -> str:
        return f"{self.run_id}/{fid}"

    def _flush_flow_log(self, fl: FlowLog) -> list[DeliveryReceipt]:
        fid = fl.flow_log_id
        chunks = self._buf.pop(fid)
        records = pa.concat_tables([c[0] for c in chunks])
        start = pa.concat_arrays([c[1] for c in chunks])
        streams = pa.concat_arrays([c[2] for c in chunks])
        messages = render_lines(records)
        ts = cw.event_timestamps_ms(start.fill_null(0))
        enc = pc.dictionary_encode(streams)
        names = enc.dictionary.to_pylist()
        name_rank = np.argsort(np.array(names, dtype=object)).argsort()
        codes = name_rank[np.asarray(enc.indices.to_numpy(zero_copy_only=False))]
        # By stream name, then time, then message: ties in time get one order however the records
        # were written (one pass or partitions on Dask workers, docs/bulk.md).
        order = np.asarray(pc.sort_indices(
            pa.table({"stream": codes, "ts": ts, "message": messages}),
            sort_keys=[("stream", "ascending"), ("ts", "ascending"), ("message", "ascending")],
        ).to_numpy(zero_copy_only=False))
        sorted_codes = codes[order]
        cuts = np.flatnonzero(np.diff(sorted_codes)) + 1
        group = log_group_of(fl)
        run_key = self._run_key(fid)
        receipts: list[DeliveryReceipt] = []
        for seg in np.split(order, cuts):
            if len(seg) == 0:
                continue
            stream = str(streams[int(seg[0])].as_py())
            key = (fid, group, stream)
            base = self._seq.get(key, 0)
            self._seq[key] = base + len(seg)
            done = self._delivered_upto(run_key, group, stream)
            skip = min(len(seg), max(0, done - base))
            if skip:
                receipts.append(DeliveryReceipt(fid, f"{group}:{stream}", skip, 0, "already-delivered"))
            seg = seg[skip:]
            if len(seg) == 0:
                continue
            s_ts = ts[seg]
            s_msgs = messages.take(pa.array(seg))
            plan = cw.plan_batches(s_ts, cw.event_sizes(s_msgs), max_events=self.max_batch_events,
                                   max_bytes=self.max_batch_bytes)
            first = base + skip
            for a, b in plan.slices():
                receipts.append(self._deliver_or_spool(fl, group, stream, s_ts[a:b], s_msgs.slice(a, b - a),
                                                       first + a, first + b))
        return receipts

    def _delivered_upto(self, run_key: str, group: str, stream: str) -> int:
        key = (run_key, group, stream)
        if key not in self._ckpt:
            done = self._checkpoint(run_key, group, stream)
            fid = run_key.rsplit("/", 1)[-1]
            if self.spool is not None:
                # Spooled batches count as taken over only while they follow on without a gap: after
                # a missing item (deleted, or never written) this run re-derives everything from the gap.
                for m in sorted((i.meta for i in self.spool.items(fid) if self._same_stream(i.meta, run_key, group,
                                                                                          stream)),
                                key=lambda m: int(m["seq_from"])):
                    if int(m["seq_from"]) > done:
                        break
                    done = max(done, int(m["seq_to"]))
            self._ckpt[key] = done
        return self._ckpt[key]

    def _same_stream(self, m: dict[str, object], run_key: str, group: str, stream: str) -> bool:
        return m.get("kind") == self.sink_name and m.get("run_key") == run_key and m.get("group") == group \
            and m.get("stream") == stream

    def _check_access(self, fl: FlowLog, group: str) -> bool:
        """Authorize (once per flush per flow log); returns whether the group must be created."""
        if fl.flow_log_id in self._authorized and group in self._known_groups:
            return False
        exists = self._group_exists(group)
        if exists:
            self._known_groups.add(group)
        if fl.flow_log_id not in self._authorized:
            if self.authorize is not None:
                msg = self.authorize(fl, exists)
                if msg is not None:
                    raise DeliveryFailedError("delivery not authorized", sink=self.sink_name, destination=group,
                                              aws_message=msg)
            self._authorized.add(fl.flow_log_id)
        return not exists

    def _attempt(self, fl: FlowLog, group: str, stream: str, ts: npt.NDArray[np.int64], msgs: pa.Array,
                 seq_from: int, seq_to: int) -> None:
        attempt = 0
        began = time.monotonic()
        while True:
            attempt += 1
            try:
                create = self._check_access(fl, group)
                self._ensure_stream(group, stream, create)
                fault_point("cwl.before_batch")
                self._put_batch(self._run_key(fl.flow_log_id), group, stream, ts, msgs, seq_from, seq_to)
                fault_point("cwl.after_batch")
                self._ckpt[(self._run_key(fl.flow_log_id), group, stream)] = seq_to
                return
            except DeliveryRetryableError as e:
                wait = self.retry.next_delay(attempt, time.monotonic() - began, self._rand.random())
                if wait is None:
                    raise DeliveryFailedError(f"gave up after {attempt} attempts: {e}", sink=self.sink_name,
                                              destination=f"{group}:{stream}",
                                              aws_message=e.aws_message or RATE_LIMITED) from e
                self._sleep(wait)

    def _deliver_or_spool(self, fl: FlowLog, group: str, stream: str, ts: npt.NDArray[np.int64], msgs: pa.Array,
                          seq_from: int, seq_to: int) -> DeliveryReceipt:
        fid = fl.flow_log_id
        dest = f"{group}:{stream}"
        size = int(cw.event_sizes(msgs).sum())
        if self._state.get(fid) != "FAILED" and not self._spooled(fid):
            try:
                self._attempt(fl, group, stream, ts, msgs, seq_from, seq_to)
            except DeliveryFailedError as e:
                self._set_status(fid, "FAILED", e.aws_message)
            else:
                self._set_status(fid, "SUCCESS", None)
                return DeliveryReceipt(fid, dest, len(ts), size)
        if self.spool is None:
            raise DeliveryFailedError("delivery failed and no spool is configured", sink=self.sink_name,
                                      destination=dest, aws_message=self._message.get(fid, "Unknown error"))
        run_key = self._run_key(fid)
        item_id = f"{self.run_id}|{group}|{stream}|{seq_from:012d}"
        self.spool.put(fid, item_id, encode_events(ts, msgs), {
            "kind": self.sink_name, "run_key": run_key, "group": group, "stream": stream,
            "seq_from": seq_from, "seq_to": seq_to,
        })
        self._ckpt[(run_key, group, stream)] = max(self._ckpt.get((run_key, group, stream), 0), seq_to)
        return DeliveryReceipt(fid, dest, len(ts), size, "spooled")

    def _redeliver(self, fid: str) -> list[DeliveryReceipt]:
        """Deliver the flow log's spool in sequence order, stream by stream, from each checkpoint on."""
        if self.spool is None or not self._spooled(fid):
            return []
        fl = self._flow_logs[fid]
        receipts: list[DeliveryReceipt] = []
        done: dict[tuple[str, str, str], int] = {}
        blocked: set[tuple[str, str, str]] = set()
        items = [i for i in self.spool.items(fid) if i.meta.get("kind") == self.sink_name]
        items.sort(key=lambda i: (str(i.meta["run_key"]), str(i.meta["group"]), str(i.meta["stream"]),
                                  int(i.meta["seq_from"])))
        for item in items:
            m = item.meta
            key = (str(m["run_key"]), str(m["group"]), str(m["stream"]))
            if key in blocked:
                continue
            seq_from, seq_to = int(m["seq_from"]), int(m["seq_to"])
            if key not in done:
                done[key] = self._checkpoint(*key)
            if seq_from > done[key]:
                blocked.add(key)
                self._gap(fid, key, done[key], seq_from)
                continue
            if done[key] < seq_to:
                ts, msgs = decode_events(self.spool.payload(item))
                skip = done[key] - seq_from  # overlapping items: only what the stream lacks
                ts, msgs = ts[skip:], msgs.slice(skip)
                try:
                    create = self._check_access(fl, key[1])
                    self._ensure_stream(key[1], key[2], create)
                    self._put_batch(key[0], key[1], key[2], ts, msgs, done[key], seq_to)
                except (DeliveryFailedError, DeliveryRetryableError) as e:
                    self._authorized.discard(fid)
                    self._set_status(fid, "FAILED", getattr(e, "aws_message", RATE_LIMITED))
                    return receipts
                done[key] = seq_to
                if key in self._ckpt:  # this run's flushes must not deliver the same range again
                    self._ckpt[key] = max(self._ckpt[key], seq_to)
                receipts.append(DeliveryReceipt(fid, f"{key[1]}:{key[2]}", len(ts), int(cw.event_sizes(msgs).sum()),
                                                "redelivered"))
            self.spool.remove(item)
            fault_point("spool.after_redeliver")
        if not blocked:
            self._set_status(fid, "SUCCESS", None, force=True)
        return receipts

    def _gap(self, fid: str, key: tuple[str, str, str], have: int, next_from: int) -> None:
        """Events ``have..next_from`` of a spooled stream are in no spool item (one was deleted).

        This run re-derives them when it is the run that spooled them (same identity: its flush
        starts the stream again at the gap); another run's gap cannot be filled here."""
        if key[0].startswith(f"{self.run_id}/"):
            return
        raise StateError(
            f"the spool of flow log {fid} lacks events {have}..{next_from - 1} of {key[1]}:{key[2]} for run "
            f"{key[0].split('/', 1)[0]} (a spool item was deleted); run that run's config again to re-derive "
            f"them, or delete its remaining items under {self.spool.root / fid} to give them up"
        )

    def close(self) -> None:
        if not self._closed:
            self.flush(None)
            # Batches this flush had to queue behind a re-derived gap: deliver them now, not next run.
            for fid in sorted(self._flow_logs):
                if self._state.get(fid) != "FAILED":
                    self._redeliver(fid)
            self._closed = True
