"""The agent's main loop: refresh the control plane, record segment after segment, deliver.

Segments (docs/agent.md "Segments"): wall-clock spans ``[start, end)`` aligned to their length
(``segment_s``, raised to the longest aggregation interval of the owned ENIs' flow logs, so no window
straddles two). Each segment is one pipeline run (``dataplane/pipeline.py``) over the journaled
packets of the owned devices, with the snapshot current when it began, records for OWNED ENIs only
(NODATA for every window of the segment without traffic) and the identity
``sha256(agent id, start, snapshot digest)``. A flow log created or deleted, a rule changed: the
next segment records with it. The policy engine (its connection tracking) carries from segment to
segment while the ENIs stay the same, so tracked connections continue across a rule change.

Crash safety: the open segment is written to the state directory before it starts; a restarted agent
replays its journal and records it again under the same identity, so what was delivered before the
kill is replaced or skipped, never doubled, and what was not is delivered now. A stop (SIGTERM,
Ctrl-C) abandons the open segment the same way, delivering nothing that could still grow.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from vpcflow.agent.config import AgentConfig
from vpcflow.agent.control import ControlPlane, Snapshot, snapshot_from_json
from vpcflow.agent.delivery import AgentDelivery
from vpcflow.agent.feed import Feed, SegmentSource
from vpcflow.agent.journal import drop_segment, next_incarnation, read_journal_file
from vpcflow.agent.state import AgentState, Segment
from vpcflow.core.errors import RunInterrupted, StateError
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions
from vpcflow.dataplane.aggregate.fields import covers
from vpcflow.dataplane.packets import PacketBatch
from vpcflow.dataplane.pipeline import run_pipeline

log = logging.getLogger("vpcflow.agent")


def segment_length(cfg: AgentConfig, snap: Snapshot) -> int:
    """``segment_s``, or the longest window of an owned ENI's flow log when that is longer."""
    longest = 60
    for eni in snap.topology.network_interfaces:
        if eni.network_interface_id not in cfg.owned:
            continue
        for fl in snap.flow_logs:
            if covers(fl, eni):
                longest = max(longest, 60 if eni.nitro else int(fl.max_aggregation_interval))
    return math.lcm(cfg.segment_s, longest)


def run_id(agent_id: str, seg: Segment) -> str:
    return hashlib.sha256(f"agent/{agent_id}/{seg.start}/{seg.digest}".encode()).hexdigest()[:32]


class Agent:
    """One agent: ``run()`` until ``stop()``; feeds and the control plane can be given (tests)."""

    def __init__(self, cfg: AgentConfig, feeds: Sequence[Feed], *, control: ControlPlane | None = None,
                 clock: Callable[[], float] = time.time, reporter: Any = None) -> None:
        self.cfg, self.feeds, self.clock = cfg, list(feeds), clock
        self.state = AgentState(cfg.state_dir)
        self.control = control
        self.reporter = reporter
        self._stop = threading.Event()
        self._current: Snapshot | None = None
        self._lock = threading.Lock()
        self._engine: Any = None
        self._engine_digest: str | None = None
        self._outage = False
        self.segments_done = 0
        #: ``(file, packets, last)`` after a followed file's packets were journaled (main.FollowProgress)
        self.journaled: Callable[[str, int, bool], None] | None = None
        self.delivery = AgentDelivery(self.state.spool, endpoint_url=cfg.endpoint_url, region=cfg.region,
                                      status=self._status)

    # -- status --------------------------------------------------------------------------------
    def _status(self, flow_log_id: str, status: str, message: str | None) -> None:
        with self._lock:
            data = self.state.statuses()
            data[flow_log_id] = {"status": status, "message": message, "at": int(self.clock())}
            self.state.set_statuses(data)

    # -- control plane ------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Fetch a snapshot; False (the last one stays) when the control plane cannot answer."""
        if self.control is None:
            return False
        try:
            snap = self.control.fetch(self.cfg.owned)
        except Exception as e:  # botocore's many errors: an outage is waited out
            if not self._outage:  # once per outage, not at every refresh
                log.warning("control plane unavailable, recording with the last snapshot: %s", e)
            self._outage = True
            return False
        if self._outage:
            log.info("control plane answers again")
        self._outage = False
        self.state.save_snapshot(snap.digest, snap.as_json())
        with self._lock:
            if self._current is None or snap.digest != self._current.digest:
                log.info("snapshot %s: %d flow log(s) cover owned ENIs", snap.digest[:12], len(snap.flow_logs))
            self._current = snap
        if self.reporter is not None:
            self.reporter.report(self.state.statuses())
        return True

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.cfg.refresh_s):
            self.refresh()

    def _snapshot(self, digest: str) -> Snapshot:
        with self._lock:
            if self._current is not None and self._current.digest == digest:
                return self._current
        data = self.state.load_snapshot(digest)
        if data is None:
            raise StateError(f"{self.state.root}: the open segment's snapshot {digest} is missing")
        return snapshot_from_json(data, self.cfg.owned)

    def _first_snapshot(self) -> Snapshot:
        while not self._stop.is_set():
            if self.refresh():
                assert self._current is not None
                return self._current
            last = self.state.latest_snapshot()
            if last is not None:  # the control plane is down: go on with what we last knew
                self._current = self._snapshot(last)
                return self._current
            self._stop.wait(min(self.cfg.refresh_s, 5.0))
        raise RunInterrupted("stop")

    # -- engine -------------------------------------------------------------------------------
    def _engine_for(self, snap: Snapshot) -> Any:
        if self._engine_digest == snap.digest:
            return self._engine
        from vpcflow.dataplane.attribute.engine import PolicyEngine

        engine = PolicyEngine(snap.topology)
        if self._engine is not None and self._engine.enis == engine.enis:
            engine.conntrack = self._engine.conntrack  # tracked connections continue (docs/policy.md)
        self._engine, self._engine_digest = engine, snap.digest
        return engine

    def _warm(self, snap: Snapshot, before: int) -> None:
        """After a restart: the last delivered segment's packets through the engine (connection state)."""
        engine = self._engine_for(snap)
        for feed in self.feeds:
            folder = self.state.journal / str(before)
            for path in sorted(folder.glob(f"*-{feed.name}.arrow")):
                for batch in read_journal_file(path):
                    if isinstance(batch, PacketBatch):
                        engine.observe(batch)

    # -- segments -----------------------------------------------------------------------------
    def new_segment(self, start: int | None) -> Segment:
        assert self._current is not None
        snap = self._current
        length = segment_length(self.cfg, snap)
        now = int(self.clock())
        current = now - now % length
        if start is None or start < current:
            # First start, or the agent was not running at the end of the last segment: nothing was
            # captured in between, so no segment (and no NODATA) claims that time.
            start = current
        seg = Segment(start=start, end=start - start % length + length, digest=snap.digest)
        self.state.set_open(seg)
        return seg

    def run_segment(self, seg: Segment) -> None:
        snap = self._snapshot(seg.digest)
        folder = self.state.journal / str(seg.start)
        inc = next_incarnation(folder)
        sources = [SegmentSource(f, folder, inc, seg.end, stop=self._stop.is_set, clock=self.clock,
                                 journaled=self.journaled) for f in self.feeds]
        rid = run_id(self.cfg.agent_id, seg)
        sinks = self.delivery.sinks(snap.flow_logs, rid)
        side = self.state.side / str(seg.start)
        options = AggregateOptions(enis=self.cfg.owned, start_s=seg.start, end_s=seg.end)
        run_pipeline(sources, self._engine_for(snap), list(snap.flow_logs), snap.topology, sinks, side_dir=side,
                     options=options, stop=lambda: "stop" if self._stop.is_set() else None)
        self.delivery.upload_side(side, {fl.flow_log_id: fl for fl in snap.flow_logs}, seg.start, self.cfg.agent_id)
        previous = self.state.delivered_until()
        self.state.set_open(None, delivered_until=seg.end)
        if previous is not None:  # keep the last delivered segment's journal (warm-up after a restart)
            drop_segment(self.state.journal / str(previous - (seg.end - seg.start)))
        for old in self.state.journal.glob("*"):
            if old.name.isdigit() and int(old.name) < seg.start - (seg.end - seg.start):
                drop_segment(old)
        self._retry_side()
        self.segments_done += 1

    def _retry_side(self) -> None:
        snap = self._current
        if snap is None or not self.state.side.is_dir():
            return
        fls = {fl.flow_log_id: fl for fl in snap.flow_logs}
        for folder in sorted(self.state.side.iterdir()):
            if folder.name.isdigit():
                self.delivery.upload_side(folder, fls, int(folder.name), self.cfg.agent_id)

    def stop(self) -> None:
        self._stop.set()

    def run(self, *, max_segments: int | None = None) -> None:
        """Record until ``stop()`` (or ``max_segments`` segments: tests)."""
        for f in self.feeds:
            f.start()
        refresher: threading.Thread | None = None
        try:
            self._first_snapshot()
            refresher = threading.Thread(target=self._refresh_loop, name="vpcflow-agent-refresh", daemon=True)
            refresher.start()
            seg = self.state.open_segment()
            if seg is not None:
                self._warm(self._snapshot(seg.digest), seg.start - (seg.end - seg.start))
            while not self._stop.is_set():
                if seg is None:
                    seg = self.new_segment(self.state.delivered_until())
                self.run_segment(seg)
                seg = None
                if max_segments is not None and self.segments_done >= max_segments:
                    break
        except RunInterrupted:
            pass  # stopped: the open segment stays open and is recorded again on restart
        finally:
            self._stop.set()
            for f in self.feeds:
                f.close()
            if refresher is not None:
                refresher.join(timeout=5)
            self.delivery.close()
