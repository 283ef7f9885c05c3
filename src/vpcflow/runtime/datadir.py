"""The data directory: where one local AWS account lives (docs/controlplane.md "Data directory").

Resolution: an explicit path (``--data-dir``), else ``$VPCFLOW_DATA_DIR``, else ``./vpcflow-data``.
Layout::

    <data-dir>/state.db        control-plane state (storage/state.py): topology, flow logs, tags, settings
    <data-dir>/logs.db         embedded CloudWatch Logs store (delivery)
    <data-dir>/s3/<bucket>/<key>   local buckets
    <data-dir>/spool/          delivery work files

A new data directory is a fresh, empty AWS account: account id 123456789012 and region us-east-1
unless ``init`` was given others (stored in state.db's ``settings`` table, so every process sees
the same account). Nothing is created until the directory is first used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.build_network import region_code
from vpcflow.storage.state import StateStore, StateTxn

ENV_VAR = "VPCFLOW_DATA_DIR"
DEFAULT_PATH = "vpcflow-data"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


def resolve_path(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir`` wins, then ``$VPCFLOW_DATA_DIR``, then ``./vpcflow-data``."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(DEFAULT_PATH)


def _check_account_id(account_id: str) -> str:
    if len(account_id) != 12 or not account_id.isdigit():
        raise ConfigError(f"account id must be 12 digits, got {account_id!r}", key_path="account_id")
    return account_id


def _check_region(region: str) -> str:
    # The rule a topology's region names follow (docs/topology.md), so `init` never accepts a region
    # that a topology file would refuse: two letters, an optional gov/iso/isob, a direction, a number.
    if region_code(region) is None:
        raise ConfigError(
            f"{region!r} is not an AWS region name (like us-east-1, eu-central-2 or us-gov-west-1)", key_path="region"
        )
    return region


def _account_and_region(t: StateTxn) -> tuple[str, str]:
    return t.get_setting("account_id") or DEFAULT_ACCOUNT_ID, t.get_setting("region") or DEFAULT_REGION


@dataclass(frozen=True)
class DataDir:
    """A resolved data directory. Use :meth:`resolve`; :meth:`state` opens its state store."""

    path: Path

    @classmethod
    def resolve(cls, data_dir: DataDir | str | os.PathLike[str] | None = None) -> DataDir:
        if isinstance(data_dir, DataDir):
            return data_dir
        return cls(resolve_path(data_dir))

    # -- layout -----------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.path / "state.db"

    @property
    def logs_path(self) -> Path:
        return self.path / "logs.db"

    @property
    def s3_root(self) -> Path:
        return self.path / "s3"

    @property
    def spool(self) -> Path:
        return self.path / "spool"

    def bucket_path(self, bucket: str) -> Path:
        return self.s3_root / bucket

    def ensure(self) -> None:
        """Create the directory and its sub-folders (idempotent)."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"data directory {self.path} exists and is not a directory", key_path="--data-dir")
        for p in (self.path, self.s3_root, self.spool):
            p.mkdir(parents=True, exist_ok=True)

    def state(self, *, timeout_s: float = 10.0) -> StateStore:
        """The state store (created with its schema on first use)."""
        self.ensure()
        return StateStore(self.state_path, timeout_s=timeout_s)

    # -- settings ---------------------------------------------------------------------------
    def settings(self, store: StateStore | None = None) -> tuple[str, str]:
        """``(account_id, region)`` of this data directory (defaults when never initialised)."""
        own = store is None
        st = store or self.state()
        try:
            # Kept until state.db changes: the endpoint checks them on every request (Backend.refresh).
            return st.read_cached("account_and_region", _account_and_region)
        finally:
            if own:
                st.close()

    def init(self, *, account_id: str | None = None, region: str | None = None) -> tuple[str, str]:
        """Set the account id and region. Refused once flow logs exist (they carry the old account)."""
        account = _check_account_id(account_id) if account_id else None
        reg = _check_region(region) if region else None
        with self.state() as st, st.transaction() as t:
            current = (t.get_setting("account_id") or DEFAULT_ACCOUNT_ID, t.get_setting("region") or DEFAULT_REGION)
            wanted = (account or current[0], reg or current[1])
            if wanted != current and t.stored_flow_logs():
                raise ConfigError(
                    f"data directory {self.path} already holds flow logs of account {current[0]} in {current[1]}; "
                    "use a new --data-dir for another account or region"
                )
            t.set_setting("account_id", wanted[0])
            t.set_setting("region", wanted[1])
        return wanted
