"""Keeps pyarrow's probes for pandas (and dateutil) from importing them while a ``vpcflow`` command runs.

pyarrow looks for pandas so that it can recognise pandas objects: its Python layer on the first
list-to-array conversion or scalar, its C++ core on every list-to-array conversion, scalar and
``to_numpy`` call; the C++ core looks for ``dateutil.relativedelta`` the same way when it converts a
Python value. Looking means importing: about 0.25 s together, the largest single cost of ``vpcflow
run`` on a small capture (docs/benchmarks.md, "Start-up"). No vpcflow command hands pyarrow a pandas
or dateutil object, so while a command runs such a probe is told the module is not installed (a
refused probe costs microseconds; the C++ core simply asks again next time).

Only probes are refused: an ``import pandas`` statement or ``importlib.import_module("pandas")``
still imports it, and pandas its own dependencies (a library that needs pandas keeps working). A
probe is told apart by where the import comes from: compiled code called from Python (pyarrow's
shim or C++ core in the middle of a call), not an import instruction. When the command ends,
pyarrow's Python layer, which remembers a refused probe, is told again if pandas was imported
meanwhile.

The one thing a command's code cannot do is let pyarrow import pandas for it: ``table.to_pandas()``
imports pandas from compiled code too, so code that wants a DataFrame says ``import pandas`` first
(after which every pyarrow conversion works as usual: the module is loaded, nothing is asked).
"""

from __future__ import annotations

import opcode
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib.machinery import ModuleSpec
from types import FrameType

_IMPORT_NAME = opcode.opmap["IMPORT_NAME"]

#: The top-level modules pyarrow probes for; their submodules follow the parent's fate.
PROBED = frozenset({"pandas", "dateutil"})


def _is_import_statement(frame: FrameType | None) -> bool:
    """Whether the import in progress was asked for by Python code (a statement or importlib)."""
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    if frame is None:
        return True
    if frame.f_code.co_filename.endswith(("importlib/__init__.py", "importlib\\__init__.py")):
        return True  # importlib.import_module("pandas")
    if str(frame.f_globals.get("__name__", "")).split(".")[0] in PROBED:
        return True  # pandas importing its own dependencies (``__import__("dateutil")``)
    code = frame.f_code.co_code
    return 0 <= frame.f_lasti < len(code) and code[frame.f_lasti] == _IMPORT_NAME


class _RefuseProbes:
    """A meta-path finder that answers pyarrow's probes for PROBED modules with "not installed"."""

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: object = None) -> ModuleSpec | None:
        if name not in PROBED or _is_import_statement(sys._getframe(1)):
            return None  # the next finders import it as usual
        raise ModuleNotFoundError(
            f"{name} is not imported for pyarrow while a vpcflow command runs (vpcflow.cli.pandas_probes): "
            f"code that needs it imports it first", name=name)


@contextmanager
def pandas_probes_refused() -> Iterator[None]:
    """Within: pyarrow's probes fail fast instead of importing pandas or dateutil (see the module's docstring)."""
    if all(name in sys.modules for name in PROBED):
        yield  # already paid for; pyarrow may as well use them
        return
    finder = _RefuseProbes()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        _tell_pyarrow_if_pandas_arrived()


def _tell_pyarrow_if_pandas_arrived() -> None:
    """pyarrow's Python layer keeps "no pandas" after a refused probe; asking for pandas through it
    again (what ``to_pandas`` does) makes it load the module that is now there."""
    lib = sys.modules.get("pyarrow.lib")
    shim = getattr(lib, "_pandas_api", None)
    if "pandas" in sys.modules and shim is not None:
        with suppress(ImportError):  # a pandas pyarrow does not support: it says so when used
            getattr(shim, "pd", None)
