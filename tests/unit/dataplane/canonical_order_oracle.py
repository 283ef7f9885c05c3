"""The reference for the canonical order of a group's rows: the pyarrow implementation
``sinks/compact.py::canonical_rows`` had before the native core sorted the rows (gather the rows,
replace each dictionary column by the dense rank of its values, stable ``sort_indices`` ascending by
every column, nulls last; the ranks are ``canonical_sort_keys``, which ``sinks/base.py`` still sorts
with). Kept here as the oracle the native order is compared with.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.dataplane.sinks.compact import canonical_sort_keys


def oracle_canonical_rows(table: pa.Table, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``rows`` of ``table`` in canonical order, as pyarrow sorts them."""
    if len(rows) <= 1:
        return rows
    group = table.take(pa.array(rows))
    keys = [(name, "ascending") for name in group.column_names]
    order = pc.sort_indices(canonical_sort_keys(group), sort_keys=keys).to_numpy()
    return rows[order]
