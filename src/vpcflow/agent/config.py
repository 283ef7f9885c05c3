"""The agent's configuration: where the control plane is, which devices carry which ENIs, the state dir.

Read from a YAML file (``vpcflow agent --config agent.yaml``) and/or command-line flags (flags win)::

    endpoint_url: http://10.0.0.1:4566   # omit (or `aws`) for AWS itself
    region: us-east-1
    profile: fleet                        # or access_key_id + secret_access_key; else boto3's chain
    state_dir: /var/lib/vpcflow-agent
    devices:                              # live capture: device -> the ENI it carries
      eth0: eni-0123456789abcdef0
    follow:                               # or: a directory of rotating capture files
      dir: /var/spool/captures
      interface: eni-0123456789abcdef0
      max_delay_s: 120                    # rotation period + settle time
    refresh_s: 30                         # control-plane refresh
    segment_s: 60                         # wall-clock segment (docs/agent.md "Segments")

Every problem is a ``ConfigError`` naming the file and key.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vpcflow.core.errors import ConfigError
from vpcflow.model.safe_yaml import load_yaml

ENI_ID = re.compile(r"^eni-[0-9a-f]{8,17}$")
KEYS = {"endpoint_url", "region", "profile", "access_key_id", "secret_access_key", "state_dir", "devices",
        "follow", "refresh_s", "segment_s", "agent_id", "report_status"}
#: a segment is whole windows: a multiple of 60 s, at most a day
MAX_SEGMENT_S = 86_400


@dataclass(frozen=True)
class FollowSpec:
    directory: Path
    interface: str
    settle_s: float = 2.0  # a file unchanged this long (or with a newer file beside it) is complete
    #: after a segment's end, how long to wait for the file holding its last packets (the rotation
    #: period plus settle_s); a segment ends sooner once a file reaches past its end
    max_delay_s: float = 120.0


@dataclass(frozen=True)
class AgentConfig:
    state_dir: Path
    region: str
    endpoint_url: str | None = None  # None: AWS itself
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    devices: dict[str, str] = field(default_factory=dict)  # device -> ENI id
    follow: FollowSpec | None = None
    refresh_s: float = 30.0
    segment_s: int = 60
    agent_id: str = field(default_factory=socket.gethostname)
    report_status: bool = True  # the vpcflow extension action (never sent to AWS itself)

    @property
    def owned(self) -> frozenset[str]:
        enis = set(self.devices.values())
        if self.follow is not None:
            enis.add(self.follow.interface)
        return frozenset(enis)


def _fail(where: str, key: str, message: str) -> ConfigError:
    return ConfigError(message, location=where, key_path=key)


def _eni(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not ENI_ID.match(value):
        raise _fail(where, key, f"expected an ENI id (eni-...), got {value!r}")
    return value


def _number(where: str, key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _fail(where, key, f"expected a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _devices(where: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise _fail(where, "devices", "expected a mapping of network device -> ENI id (eth0: eni-...)")
    return {str(dev): _eni(where, f"devices.{dev}", eni) for dev, eni in raw.items()}


def _follow(where: str, raw: Any, base: Path) -> FollowSpec:
    if not isinstance(raw, dict) or set(raw) - {"dir", "interface", "settle_s", "max_delay_s"} or "dir" not in raw:
        raise _fail(where, "follow", "expected a mapping with `dir`, `interface` (an ENI id) and optional "
                    "`settle_s`, `max_delay_s`")
    d = Path(str(raw["dir"])).expanduser()
    d = d if d.is_absolute() else base / d
    if not d.is_dir():
        raise _fail(where, "follow.dir", f"no such directory: {d}")
    settle = _number(where, "follow.settle_s", raw.get("settle_s", 2.0), 0, 3600)
    delay = _number(where, "follow.max_delay_s", raw.get("max_delay_s", 120.0), 0, 86_400)
    return FollowSpec(d, _eni(where, "follow.interface", raw.get("interface")), settle, delay)


def build_config(doc: dict[str, Any], *, where: str = "<flags>", base: Path | None = None) -> AgentConfig:
    """Validate a configuration document (the file's, with flags merged over it)."""
    base = base or Path.cwd()
    extra = sorted(set(doc) - KEYS)
    if extra:
        raise _fail(where, extra[0], f"unknown key {extra[0]!r}; expected one of: {', '.join(sorted(KEYS))}")
    if not doc.get("state_dir"):
        raise _fail(where, "state_dir", "the agent needs a state directory (--state-dir)")
    state = Path(str(doc["state_dir"])).expanduser()
    region = doc.get("region")
    if not isinstance(region, str) or not re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", region):
        raise _fail(where, "region", f"expected a region such as us-east-1, got {region!r}")
    url = doc.get("endpoint_url")
    if url == "aws":
        url = None
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise _fail(where, "endpoint_url", f"expected `aws` or an http(s):// URL, got {url!r}")
    devices = _devices(where, doc.get("devices") or {})
    follow = _follow(where, doc["follow"], base) if doc.get("follow") else None
    if not devices and follow is None:
        raise _fail(where, "devices", "name the devices to capture (--device eth0=eni-...) or a directory to follow")
    keys = (doc.get("access_key_id"), doc.get("secret_access_key"))
    if (keys[0] is None) != (keys[1] is None):
        raise _fail(where, "access_key_id", "give both access_key_id and secret_access_key, or neither")
    segment = _number(where, "segment_s", doc.get("segment_s", 60), 60, MAX_SEGMENT_S)
    if segment % 60:
        raise _fail(where, "segment_s", f"a segment is whole minutes (a multiple of 60), got {segment:g}")
    agent_id = str(doc.get("agent_id") or socket.gethostname())
    if not re.match(r"^[A-Za-z0-9._-]{1,64}$", agent_id):
        raise _fail(where, "agent_id", f"letters, digits, '.', '_' and '-' only (at most 64), got {agent_id!r}")
    return AgentConfig(
        state_dir=state if state.is_absolute() else base / state, region=region, endpoint_url=url,
        profile=doc.get("profile"), access_key_id=keys[0], secret_access_key=keys[1], devices=devices,
        follow=follow, refresh_s=_number(where, "refresh_s", doc.get("refresh_s", 30), 1, 86_400),
        segment_s=int(segment), agent_id=agent_id, report_status=bool(doc.get("report_status", True)),
    )


def load_config(path: Path | None, flags: dict[str, Any]) -> AgentConfig:
    """The file's document (if any) with the flags that were given merged over it."""
    doc: dict[str, Any] = {}
    where, base = "<flags>", Path.cwd()
    if path is not None:
        from vpcflow.core.userfiles import read_input_text

        loaded = load_yaml(read_input_text(path, "agent config"), source=str(path))
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("expected a mapping at the top level", location=str(path))
        doc = dict(loaded or {})
        where, base = str(path), path.parent
    for k, v in flags.items():
        if v is None or v == {} or v == ():
            continue
        if k == "devices":
            doc["devices"] = {**(doc.get("devices") or {}), **v}
        else:
            doc[k] = v
    return build_config(doc, where=where, base=base)
