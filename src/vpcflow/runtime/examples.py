"""Where the bundled examples are: package data in ``vpcflow/examples`` (a clone links its top-level
``examples/`` folder there, so both name the same files). ``vpcflow demo`` runs them; users copy them
from ``examples/``."""

from __future__ import annotations

from pathlib import Path

from vpcflow.core.errors import ConfigError


def examples_root() -> Path:
    """The examples folder of this installation."""
    candidate = Path(__file__).resolve().parents[1] / "examples"
    if (candidate / "topology").is_dir():
        return candidate
    raise ConfigError(f"the bundled examples are missing from this installation (looked in {candidate})")


def example_path(*parts: str) -> Path:
    """A bundled example file, e.g. ``example_path("run", "demo-run.yaml")``."""
    p = examples_root().joinpath(*parts)
    if not p.exists():
        raise ConfigError(f"bundled example {'/'.join(parts)} is missing from {examples_root()}")
    return p
