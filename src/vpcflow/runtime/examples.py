"""Where the bundled examples are: the repository's top-level ``examples/`` folder (the README installs
vpcflow editable from a clone), else the copy a wheel installs under ``<prefix>/share/vpcflow/examples``.
``vpcflow demo`` runs them; users copy them from ``examples/``."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

from vpcflow.core.errors import ConfigError


def examples_root() -> Path:
    """The examples folder of this installation."""
    here = Path(__file__).resolve().parents[1]  # src/vpcflow in a clone
    candidates = [here.parents[1] / "examples"]
    for prefix in dict.fromkeys((sysconfig.get_path("data"), sys.prefix)):
        candidates.append(Path(prefix) / "share" / "vpcflow" / "examples")
    for candidate in candidates:
        if (candidate / "topology").is_dir():
            return candidate
    raise ConfigError("the bundled examples are missing from this installation (looked in: "
                      + ", ".join(str(c) for c in candidates) + ")")


def example_path(*parts: str) -> Path:
    """A bundled example file, e.g. ``example_path("run", "demo-run.yaml")``."""
    p = examples_root().joinpath(*parts)
    if not p.exists():
        raise ConfigError(f"bundled example {'/'.join(parts)} is missing from {examples_root()}")
    return p
