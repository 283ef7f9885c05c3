"""The reference for the canonical order of a group's rows: the pyarrow implementation
``sinks/compact.py::canonical_rows`` had before the native core sorted the rows (gather the rows,
replace each dictionary column by the dense rank of its values, stable ``sort_indices`` ascending by
every column, nulls last). Kept here as the oracle the native order is compared with.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc


def canonical_sort_keys(records: pa.Table) -> pa.Table:
    """A table whose ascending sort is the ascending sort of ``records`` by its values, column by
    column: a dictionary column becomes the rank of each record's value among the dictionary's
    values (equal values, equal ranks; nulls stay null), every other column is itself."""
    cols = []
    for col in records.columns:
        if pa.types.is_dictionary(col.type):
            whole = col.combine_chunks()  # one dictionary for all chunks (Arrow unifies them)
            rank = pc.rank(whole.dictionary, sort_keys="ascending", tiebreaker="dense")
            col = rank.take(whole.indices)
        cols.append(col)
    return pa.table(cols, names=records.column_names)


def oracle_canonical_rows(table: pa.Table, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``rows`` of ``table`` in canonical order, as pyarrow sorts them."""
    if len(rows) <= 1:
        return rows
    group = table.take(pa.array(rows))
    keys = [(name, "ascending") for name in group.column_names]
    order = pc.sort_indices(canonical_sort_keys(group), sort_keys=keys).to_numpy()
    return rows[order]
