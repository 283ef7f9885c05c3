"""The agent's state directory: which segment is open, the snapshots segments use, delivery status.

::

    <state>/agent.json               the open segment {start, end, digest} and the last delivered end
    <state>/snapshots/<digest>.json  a snapshot (topology document + flow logs) a segment recorded with
    <state>/journal/<start>/         the open segment's capture journal (journal.py)
    <state>/spool/                   undelivered payloads and CloudWatch checkpoints (dataplane/sinks/spool.py)
    <state>/side/                    side-channel files waiting for upload (side_channel.py)
    <state>/status.json              the last delivery status per flow log, waiting to be reported

Every file is written atomically (temp file, fsync, rename): a SIGKILL leaves the old or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vpcflow.core.errors import StateError
from vpcflow.storage.bucketstore import atomic_write


@dataclass(frozen=True)
class Segment:
    """Wall-clock seconds [start, end) recorded with one snapshot; ``end`` may move earlier (a change)."""

    start: int
    end: int
    digest: str


class AgentState:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "snapshots").mkdir(exist_ok=True)

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def side(self) -> Path:
        return self.root / "side"

    def read_json(self, name: str) -> dict[str, Any]:
        path = self.root / name
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise StateError(f"{path}: unreadable agent state ({e}); remove it to start afresh") from e
        if not isinstance(data, dict):
            raise StateError(f"{path}: unreadable agent state; remove it to start afresh")
        return data

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        atomic_write(self.root / name, json.dumps(data, sort_keys=True).encode(), self.root)

    def open_segment(self) -> Segment | None:
        seg = self.read_json("agent.json").get("open")
        return Segment(**seg) if seg else None

    def delivered_until(self) -> int | None:
        value = self.read_json("agent.json").get("delivered_until")
        return int(value) if value is not None else None

    def set_open(self, seg: Segment | None, *, delivered_until: int | None = None) -> None:
        data = self.read_json("agent.json")
        data["open"] = asdict(seg) if seg else None
        if delivered_until is not None:
            data["delivered_until"] = delivered_until
        self.write_json("agent.json", data)

    #: snapshots kept besides the open segment's (the newest: the one to record with in an outage)
    KEEP_SNAPSHOTS = 8

    def save_snapshot(self, digest: str, data: dict[str, Any]) -> None:
        """Keep a snapshot; the newest saved (or saved again) is ``latest_snapshot``."""
        path = self.root / "snapshots" / f"{digest}.json"
        if path.exists():
            os.utime(path)  # current again (a rule put back): the newest once more
        else:
            atomic_write(path, json.dumps(data, sort_keys=True).encode(), self.root)
        files = sorted((self.root / "snapshots").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        seg = self.open_segment()
        for old in files[: -self.KEEP_SNAPSHOTS]:
            if seg is None or old.stem != seg.digest:
                old.unlink(missing_ok=True)

    def load_snapshot(self, digest: str) -> dict[str, Any] | None:
        path = self.root / "snapshots" / f"{digest}.json"
        return self.read_json(f"snapshots/{digest}.json") if path.exists() else None

    def latest_snapshot(self) -> str | None:
        files = sorted((self.root / "snapshots").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        return files[-1].stem if files else None

    def statuses(self) -> dict[str, Any]:
        return self.read_json("status.json")

    def set_statuses(self, data: dict[str, Any]) -> None:
        self.write_json("status.json", data)
