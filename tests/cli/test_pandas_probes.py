"""pyarrow's probes for pandas are refused while a command runs; pandas itself stays importable
(vpcflow.cli.pandas_probes). Each case runs in a fresh interpreter: the test process has pandas loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _run(body: str) -> str:
    code = "import sys\nfrom vpcflow.cli.pandas_probes import pandas_probes_refused\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_pyarrow_conversions_inside_do_not_import_pandas() -> None:
    out = _run("""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        with pandas_probes_refused():
            ints = pa.array([1, None, 3], type=pa.int64())
            text = pa.array(["a", None], type=pa.string())
            floats = pa.array(np.array([1.5, np.nan]))
            shifted = pc.add(ints, pa.scalar(1, pa.int64()))
            back = ints.to_numpy(zero_copy_only=False)
            joined = pc.binary_join_element_wise(text, text, ".")
        print("pandas" in sys.modules or "dateutil" in sys.modules)
        print(ints.to_pylist(), text.to_pylist(), shifted.to_pylist(), floats.null_count, np.isnan(back).tolist(), joined.to_pylist())
    """)
    assert out.splitlines() == ["False", "[1, None, 3] ['a', None] [2, None, 4] 0 [False, True, False] ['a.a', None]"]


@pytest.mark.parametrize("how", ["import pandas", "import importlib; importlib.import_module('pandas')"])
def test_pandas_asked_for_by_python_code_still_imports(how: str) -> None:
    out = _run(f"""
        import pyarrow as pa
        with pandas_probes_refused():
            pa.array([1])
            {how}
            print("pandas" in sys.modules, pa.table({{"a": [1, 2]}}).to_pandas().shape)
    """)
    assert out == "True (2, 1)"


def test_to_pandas_inside_a_command_needs_pandas_imported_first() -> None:
    out = _run("""
        import pyarrow as pa
        with pandas_probes_refused():
            try:
                pa.table({"a": [1]}).to_pandas()
            except ImportError as e:
                print(e)
    """)
    assert "imports it first" in out


def test_after_the_command_pyarrow_recognises_pandas_objects_again() -> None:
    # from_pandas semantics (NaN becomes null) apply only to objects pyarrow recognises as pandas'.
    out = _run("""
        import pyarrow as pa
        with pandas_probes_refused():
            pa.array([1])  # the refused probe: pyarrow now believes pandas is absent
            import pandas as pd
        print(pa.array(pd.Series([1.0, float("nan")])).null_count)
    """)
    assert out == "1"


def test_with_pandas_already_loaded_nothing_is_refused() -> None:
    out = _run("""
        import pandas
        before = list(sys.meta_path)
        with pandas_probes_refused():
            print(sys.meta_path == before)
    """)
    assert out == "True"


def test_timezones_and_durations_convert_the_same_with_probes_refused() -> None:
    # pyarrow's C++ core also looks up dateutil.tz and pandas for time zones: a refused probe must not
    # change a converted value (UTC, a fixed offset, a named zone; both directions; durations).
    body = """
        import contextlib, datetime as dt
        from zoneinfo import ZoneInfo
        import pyarrow as pa
        import pyarrow.compute as pc
        with pandas_probes_refused() if REFUSE else contextlib.nullcontext():
            for tz in (dt.timezone.utc, dt.timezone(dt.timedelta(hours=2)), ZoneInfo("Europe/Paris")):
                d = dt.datetime(2024, 5, 1, 12, 0, tzinfo=tz)
                print(pa.array([d]).type, pa.array([d]).to_pylist(), pa.scalar(d).as_py())
                print(pa.array([d], type=pa.timestamp("ms", tz="UTC")).to_pylist())
            paris = pa.array([1714564800000], type=pa.timestamp("ms", tz="Europe/Paris"))
            print(paris.to_pylist(), paris.to_numpy(zero_copy_only=False), pc.strftime(paris, format="%H:%M"))
            print(pa.array([dt.timedelta(seconds=5)]).to_pylist())
    """
    refused, plain = (_run(f"REFUSE = {flag}\n" + textwrap.dedent(body)) for flag in (True, False))
    assert refused == plain
    assert "Europe/Paris" in refused
