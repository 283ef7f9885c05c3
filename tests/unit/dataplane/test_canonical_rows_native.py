"""The native core's canonical order of a group's rows (native/src/render/order.rs) is the order
pyarrow gave them (``canonical_order_oracle``): for every column kind a held record table can have
(integers of any width and sign, strings, large strings, dictionary-encoded strings whose chunks
each bring their own unsorted dictionary with unused entries), nulls anywhere, several chunks cut
differently per column, slices, duplicate rows and rows given in any order.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from canonical_order_oracle import oracle_canonical_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.native_columns import record_columns
from vpcflow.dataplane.sinks.compact import canonical_rows, compact_records

# Addresses of different lengths ("10.0.0.9" > "10.0.0.10" as text), IPv6 text longer than the
# native key, strings that are prefixes of each other, the empty string, and null.
TEXTS = ["10.0.0.9", "10.0.0.10", "10.0.0.1", "", "a", "a\x00", "2001:db8::1", "2001:db8::10", "fe80::1",
         "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7335",
         "2001:0db8:85a3:0000:0000:8a2e:0370:733", "\u00e9t\u00e9", None]
INT_TYPES = {"int8": (-128, 127), "int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1),
             "uint16": (0, 2**16 - 1), "uint64": (0, 2**64 - 1)}
KINDS = [*INT_TYPES, "string", "large_string", "dictionary", "dictionary_nullvalue"]


def _int_values(kind: str) -> st.SearchStrategy[int | None]:
    lo, hi = INT_TYPES[kind]
    edges = st.sampled_from([lo, hi, lo + 1, hi - 1])
    return st.one_of(st.integers(0, 3).map(lambda v: max(lo, min(hi, v))), edges,
                     st.integers(lo, hi), st.none())


@st.composite
def _column(draw: st.DrawFn, n: int) -> pa.ChunkedArray:
    kind = draw(st.sampled_from(KINDS))
    values = draw(st.lists(_int_values(kind) if kind in INT_TYPES else st.sampled_from(TEXTS),
                           min_size=n, max_size=n))
    cuts = sorted(set(draw(st.lists(st.integers(0, n), max_size=3))) | {0, n})
    if kind == "dictionary_nullvalue":  # pyarrow cannot unify such dictionaries (the oracle fails):
        cuts = [0, n]                   # compact_records never makes them (nulls are in the indices)
    chunks = []
    for a, b in itertools.pairwise(cuts):
        part = values[a:b]
        pad = draw(st.integers(0, 2))  # a chunk that is a slice of a longer array (an offset)
        if kind.startswith("dictionary"):
            chunks.append(_dictionary(draw, part, pad, kind == "dictionary_nullvalue"))
        else:
            typ = pa.string() if kind == "string" else pa.large_string() if kind == "large_string" \
                else pa.type_for_alias(kind)
            chunks.append(pa.array([part[0] if part else None] * pad + part, typ).slice(pad))
    return pa.chunked_array(chunks, type=chunks[0].type if chunks else pa.int64())


def _dictionary(draw: st.DrawFn, part: list, pad: int, null_value: bool) -> pa.Array:
    """``part`` as a dictionary array with its own unsorted dictionary, unused entries and, with
    ``null_value``, a null among the dictionary's values (some nulls indexing it)."""
    present = [v for v in dict.fromkeys(part) if v is not None]
    extra = draw(st.lists(st.sampled_from([t for t in TEXTS if t is not None]), max_size=3))
    words = draw(st.permutations(list(dict.fromkeys(present + extra)) + ([None] if null_value else [])))
    where = {w: i for i, w in enumerate(words)}
    indices = []
    for v in part:
        if v is None and null_value and draw(st.booleans()):
            indices.append(where[None])
        else:
            indices.append(None if v is None else where[v])
    idx = pa.array([0] * pad + indices, pa.int32()) if words else pa.array([None] * (pad + len(part)), pa.int32())
    return pa.DictionaryArray.from_arrays(idx, pa.array(words, pa.string())).slice(pad)


@st.composite
def _tables(draw: st.DrawFn) -> tuple[pa.Table, np.ndarray]:
    n = draw(st.integers(0, 120))
    cols = draw(st.lists(_column(n), min_size=1, max_size=5))
    table = pa.table(cols, names=[f"c{i}" for i in range(len(cols))])
    # up to 400 row indexes (repeats: equal rows) so that the radix sort runs, not only the small-bucket sort
    rows = draw(st.lists(st.integers(0, n - 1), max_size=400)) if n else []
    return table, np.array(rows, dtype=np.int64)


@settings(max_examples=400, deadline=None)
@given(_tables())
def test_native_canonical_order_is_pyarrows(case: tuple[pa.Table, np.ndarray]) -> None:
    table, rows = case
    expected = oracle_canonical_rows(table, rows)
    assert record_columns(table).canonical_order(rows).tolist() == expected.tolist()
    assert canonical_rows(table, rows).rows.tolist() == expected.tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TEXTS), st.sampled_from(TEXTS), st.integers(0, 3)), min_size=1, max_size=60),
       st.lists(st.integers(0, 60), max_size=4), st.randoms(use_true_random=False))
def test_held_compact_tables_order_as_pyarrow(records: list, cuts: list[int], rnd: object) -> None:
    """Tables as the S3 sink holds them: one compact table per write, concatenated."""
    n = len(records)
    table = pa.table({"interface_id": [r[0] for r in records], "srcaddr": [r[1] for r in records],
                      "packets": pa.array([r[2] for r in records], pa.int64())},
                     schema=pa.schema([("interface_id", pa.string()), ("srcaddr", pa.string()),
                                       ("packets", pa.int64())]))
    bounds = sorted({0, n, *(c for c in cuts if c <= n)})
    held = pa.concat_tables([compact_records(table.slice(a, b - a)) for a, b in itertools.pairwise(bounds)])
    rows = np.array(sorted(rnd.sample(range(n), k=n // 2)), dtype=np.int64)  # type: ignore[attr-defined]
    assert canonical_rows(held, rows).rows.tolist() == oracle_canonical_rows(held, rows).tolist()


def test_a_row_outside_the_table_is_a_clear_error() -> None:
    table = pa.table({"a": pa.array([2, 1], pa.int32())})
    with pytest.raises(ValueError, match="row 5 is outside the table of 2 rows"):
        record_columns(table).canonical_order(np.array([0, 5], dtype=np.int64))


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_large_groups_order_as_pyarrow(seed: int) -> None:
    """A group large enough for the native radix sort to split buckets of thousands of rows byte
    after byte (ENIs, IPv4 and IPv6 addresses, ports with many ties, nulls), in three writes."""
    rng = np.random.default_rng(seed)
    n = 70_000
    pool = np.array([t for t in TEXTS if t is not None] + [f"10.0.{k}.{k % 7}" for k in range(300)], dtype=object)
    src = pool[rng.integers(0, len(pool), n)]
    src[rng.random(n) < 0.01] = None
    table = pa.table({
        "version": pa.array(np.full(n, 2), pa.int32()),
        "interface_id": pa.array(rng.choice(["eni-b", "eni-a", "eni-ab"], n)),
        "srcaddr": pa.array(src, pa.string()),
        "srcport": pa.array(rng.integers(0, 4, n), pa.int32()),
        "bytes": pa.array(rng.integers(-2**62, 2**62, n), pa.int64()),
    })
    held = pa.concat_tables([compact_records(table.slice(a, b - a)) for a, b in ((0, 20_000), (20_000, 45_000),
                                                                               (45_000, n))])
    rows = rng.permutation(n)[: n - 100].astype(np.int64)
    assert canonical_rows(held, rows).rows.tolist() == oracle_canonical_rows(held, rows).tolist()
