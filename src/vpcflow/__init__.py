"""vpcflow: AWS VPC Flow Logs, locally and faithfully.

The package reads in the order data moves: ``core`` -> ``model`` -> ``codecs`` -> ``iam``/``storage``
-> ``controlplane``/``dataplane``/``query`` -> ``runtime`` -> ``api`` -> ``cli`` -> ``workspace``.
See ``docs/ARCHITECTURE.md``.

The public Python API is the names in ``__all__`` (reference: docs/api-reference.md). They are loaded
on first use (module ``__getattr__``), so ``import vpcflow`` and ``vpcflow --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> "module:attribute", imported when first asked for.
_PUBLIC: dict[str, str] = {
    "ApiError": "vpcflow.core.errors:ApiError",
    "ConfigError": "vpcflow.core.errors:ConfigError",
    "Ec2Client": "vpcflow.runtime.client:Ec2Client",
    "RunConfig": "vpcflow.runtime.run_config:RunConfig",
    "RunResult": "vpcflow.runtime.run:RunResult",
    "Topology": "vpcflow.model.topology.model:Topology",
    "VpcflowError": "vpcflow.core.errors:VpcflowError",
    "Workspace": "vpcflow.workspace:Workspace",
    "load_run_config": "vpcflow.runtime.run_config:load_run_config",
    "load_topology": "vpcflow.model.topology.loader:load_topology",
    "run": "vpcflow.runtime.run:run",
    "run_config_from_dict": "vpcflow.runtime.run_config:run_config_from_dict",
    "to_pandas": "vpcflow.workspace:to_pandas",
}

__all__ = [
    "ApiError",
    "ConfigError",
    "Ec2Client",
    "RunConfig",
    "RunResult",
    "Topology",
    "VpcflowError",
    "Workspace",
    "__version__",
    "load_run_config",
    "load_topology",
    "run",
    "run_config_from_dict",
    "to_pandas",
]

if TYPE_CHECKING:
    from vpcflow.core.errors import ApiError, ConfigError, VpcflowError
    from vpcflow.model.topology.loader import load_topology
    from vpcflow.model.topology.model import Topology
    from vpcflow.runtime.client import Ec2Client
    from vpcflow.runtime.run import RunResult, run
    from vpcflow.runtime.run_config import RunConfig, load_run_config, run_config_from_dict
    from vpcflow.workspace import Workspace, to_pandas


def __getattr__(name: str) -> Any:
    target = _PUBLIC.get(name)
    if target is None:
        raise AttributeError(f"module 'vpcflow' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
