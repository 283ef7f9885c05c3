"""Where the bundled examples are: the repository's top-level ``examples/`` folder (the README installs
vpcflow editable from a clone), or a ``vpcflow/examples`` folder next to the package if one was
installed there. ``vpcflow demo`` runs them; users copy them from ``examples/``."""

from __future__ import annotations

from pathlib import Path

from vpcflow.core.errors import ConfigError


def examples_root() -> Path:
    """The examples folder of this installation."""
    here = Path(__file__).resolve().parents[1]  # src/vpcflow
    for candidate in (here / "examples", here.parents[1] / "examples"):
        if (candidate / "topology").is_dir():
            return candidate
    raise ConfigError("the bundled examples are missing from this installation (vpcflow/examples)")


def example_path(*parts: str) -> Path:
    """A bundled example file, e.g. ``example_path("run", "demo-run.yaml")``."""
    p = examples_root().joinpath(*parts)
    if not p.exists():
        raise ConfigError(f"bundled example {'/'.join(parts)} is missing from {examples_root()}")
    return p
