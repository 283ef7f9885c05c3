"""Delivery from an agent: the flow logs' own destinations through boto3, spool and checkpoints in
the state directory, and the side channel of deciding rules next to (never inside) AWS's layout.

Records go through the runtime's sinks unchanged (``dataplane/sinks/s3.py``, ``cloudwatch_logs.py``):
S3 object names hash the segment's identity with the bytes, CloudWatch checkpoints are kept per
(identity, flow log, stream), so a segment delivered again after a restart replaces or skips what
already arrived. Undeliverable payloads wait in ``<state>/spool`` and every later segment's sinks
adopt the flow logs, so they drain when the destination is back.

Side channel (docs/agent.md): per segment and flow log, the REJECT rows with the rule that decided
go, for an S3 flow log, to ``s3://<bucket>/<prefix>vpcflow-side-channel/<account>/<region>/<fl-id>/
<segment-start>_<agent-id>_<fl-id>.rejects.jsonl`` (outside ``<prefix>AWSLogs/``); for a CloudWatch Logs
flow log, to the stream ``vpcflow-side-channel/<agent-id>`` of the same log group (AWS's streams
are ``<eni>-all``). The file waits in ``<state>/side/`` until that put succeeded.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vpcflow.dataplane.sinks.spool import CheckpointStore, Spool
from vpcflow.model.flowlog import FlowLog

log = logging.getLogger("vpcflow.agent")
SIDE_PREFIX = "vpcflow-side-channel"
StatusCallback = Callable[[str, str, str | None], None]


def side_key(fl: FlowLog, segment_start: int, agent_id: str) -> str:
    # The name ends like the runtime's side files (``<fl-id>.rejects.jsonl``): readers take the id from it.
    return (f"{fl.s3_prefix}{SIDE_PREFIX}/{fl.account_id}/{fl.region}/{fl.flow_log_id}/"
            f"{segment_start}_{agent_id}_{fl.flow_log_id}.rejects.jsonl")


def side_stream(agent_id: str) -> str:
    return f"{SIDE_PREFIX}/{agent_id}"


class AgentDelivery:
    """Sinks for one segment at a time, over clients and a spool that live as long as the agent."""

    def __init__(self, spool_dir: Path, *, endpoint_url: str | None, region: str, status: StatusCallback) -> None:
        from vpcflow.dataplane.sinks.cloudwatch_logs import logs_client
        from vpcflow.dataplane.sinks.s3 import s3_client

        self.spool = Spool(spool_dir)
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints = CheckpointStore(spool_dir / "checkpoints.db")
        self.s3 = s3_client(endpoint_url, region)
        self.logs = logs_client(endpoint_url, region)
        self.status = status

    def sinks(self, flow_logs: tuple[FlowLog, ...], run_id: str) -> dict[str, Any]:
        from vpcflow.dataplane.sinks.cloudwatch_logs import CloudWatchLogsSink
        from vpcflow.dataplane.sinks.s3 import S3Sink

        s3: Any = None
        cwl: Any = None
        out: dict[str, Any] = {}
        for fl in flow_logs:
            if fl.log_destination_type == "s3":
                s3 = s3 or S3Sink(client=self.s3, spool=self.spool, status=self.status, run_id=run_id)
                sink = s3
            else:
                cwl = cwl or CloudWatchLogsSink(checkpoints=self.checkpoints, client=self.logs, run_id=run_id,
                                                spool=self.spool, status=self.status)
                sink = cwl
            sink.adopt(fl)  # an earlier segment's spool drains with this one's deliveries
            out[fl.flow_log_id] = sink
        return out

    def upload_side(self, folder: Path, flow_logs: dict[str, FlowLog], segment_start: int, agent_id: str) -> None:
        """Put the segment's side-channel files; each is removed once its destination has it."""
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.rejects.jsonl")):
            fl = flow_logs.get(path.name.split(".", 1)[0])
            if fl is None:
                continue
            data = path.read_bytes()
            try:
                if fl.log_destination_type == "s3" and fl.s3_bucket:
                    self.s3.put_object(Bucket=fl.s3_bucket, Key=side_key(fl, segment_start, agent_id), Body=data,
                                       ContentType="application/x-ndjson", ACL="bucket-owner-full-control")
                elif fl.log_group_name:
                    self._put_side_events(fl.log_group_name, data, agent_id)
            except Exception as e:  # botocore's many errors: the file waits for the next try
                log.warning("side channel of %s not delivered yet (kept in %s): %s", fl.flow_log_id, folder, e)
                continue
            path.unlink()
        if not any(folder.iterdir()):
            folder.rmdir()

    def _put_side_events(self, group: str, data: bytes, agent_id: str) -> None:
        stream = side_stream(agent_id)
        with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events: list[dict[str, Any]] = []
        for line in data.decode().splitlines():
            row = json.loads(line)
            events.append({"timestamp": int(row.get("start") or 0) * 1000, "message": line})
        events.sort(key=lambda e: int(e["timestamp"]))
        for i in range(0, len(events), 5000):
            self.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i:i + 5000])

    def close(self) -> None:
        self.checkpoints.close()
