"""NODATA across partitions (docs/bulk.md): per-ENI partitions plus ``Aggregator.gap_nodata`` give
exactly the records one aggregation over every packet gives.

A bulk replay aggregates each capture interface's packets alone; each partition knows only its own
packet span, while a single-process run writes NODATA over the whole run's span. Property: for any
packet times per ENI (an ENI may have none), the partitions' records of their own ENI plus the gap
NODATA equal the single aggregation's records, for Nitro (60 s) and non-Nitro (600 s) windows.
"""

from __future__ import annotations

from collections import Counter

import pyarrow.compute as pc
import pytest
from agg_testkit import flow_log, observe, packets, topology
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.text import render_lines
from vpcflow.dataplane.aggregate.aggregator import AggregateOptions, Aggregator

T0 = 1_700_000_000 - 1_700_000_000 % 600
ENIS = ("eni-1235b8ca123456789", "eni-22222222222222222", "eni-33333333333333333")
times = st.lists(st.floats(0, 1800, allow_nan=False), max_size=6)


def _second(t: float) -> int:
    """The packet second the aggregator sees for offset ``t`` (as ``agg_testkit.packets`` rounds it)."""
    return round((T0 + t) * 1e9) // 1_000_000_000


def _feed(agg: Aggregator, pkts: list[tuple[float, int, int]]) -> None:
    """Packets (offset, ENI index, number within the ENI: its source port) in time order, one batch."""
    pkts = sorted(pkts)
    if not pkts:
        return
    rows = [{"ts": T0 + t, "src": "10.0.0.62", "dst": "10.0.1.5", "sport": 1000 + 10 * e + k, "dport": 443}
            for t, e, k in pkts]
    pk = packets(rows)
    agg.add(observe(pk, [{"packet": i, "eni": e} for i, (_, e, _) in enumerate(pkts)], ENIS))


def _lines(outputs: list, keep: str | None = None) -> Counter[str]:
    out: Counter[str] = Counter()
    for o in outputs:
        t = o.sink_table()
        if keep is not None:
            t = t.filter(pc.equal(t.column("interface_id"), keep))
        if t.num_rows:
            out.update(render_lines(t.select(o.table.column_names)).to_pylist())
    return out


@pytest.mark.parametrize("nitro", [True, False])
@settings(max_examples=40, deadline=None)
@given(per_eni=st.tuples(times, times, times))
def test_partitions_plus_gap_nodata_equal_one_aggregation(nitro: bool, per_eni: tuple[list[float], ...]) -> None:
    topo = topology(nitro=nitro)
    fls = [flow_log(interval=600)]
    everything = [(t, e, k) for e, ts in enumerate(per_eni) for k, t in enumerate(ts)]
    single = Aggregator(fls, topo, AggregateOptions())
    _feed(single, everything)
    want = _lines(single.finish())

    got: Counter[str] = Counter()
    spans: dict[str, tuple[int, int]] = {}
    for e, ts in enumerate(per_eni):
        if not ts:
            continue  # an ENI no partition captured
        part = Aggregator(fls, topo, AggregateOptions())
        _feed(part, [(t, e, k) for k, t in enumerate(ts)])
        got += _lines(part.finish(), keep=ENIS[e])
        spans[ENIS[e]] = (_second(min(ts)), _second(max(ts)))
    if everything:
        first = min(a for a, _ in spans.values())
        last = max(b for _, b in spans.values())
        got += _lines(Aggregator(fls, topo, AggregateOptions()).gap_nodata(first, last, spans))
    assert got == want
