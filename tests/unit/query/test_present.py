"""How values read for people (query.present) and the 80-column terminal tables (cli._terminal)."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.cli._terminal import render_table
from vpcflow.query.present import display, human_bytes, iso_time


def test_iso_time_is_utc() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00Z"
    assert iso_time(1795694400) == "2026-11-26T12:00:00Z"
    assert display("first_start", 1795694400) == "2026-11-26T12:00:00Z" and display("start", None) == "-"


@given(st.integers(min_value=0, max_value=2**62))
def test_human_bytes_reads_back_within_rounding(n: int) -> None:
    text = human_bytes(n)
    m = re.fullmatch(r"(\d+(?:\.\d)?) (B|KiB|MiB|GiB|TiB|PiB)", text)
    assert m, text
    value = float(m.group(1)) * 1024 ** ["B", "KiB", "MiB", "GiB", "TiB", "PiB"].index(m.group(2))
    assert abs(value - n) <= 0.05 * max(n, 1) + 1
    if n < 1024:
        assert text == f"{n} B"


def test_identifiers_keep_their_digits() -> None:
    assert display("dstport", 3389) == "3389" and display("packets", 12345) == "12,345"


_cell = st.one_of(st.none(), st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=90))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["srcaddr", "rule", "interface_id", "bytes", "start", "packets", "x"]),
                min_size=1, max_size=7, unique=True).flatmap(
    lambda names: st.tuples(st.just(names), st.lists(st.lists(_cell, min_size=len(names), max_size=len(names)),
                                                     max_size=6))))
def test_terminal_tables_never_exceed_80_columns(data: tuple[list[str], list[list[str | None]]]) -> None:
    names, rows = data
    numeric = {"bytes", "start", "packets"}
    cols = {}
    for i, n in enumerate(names):
        values = [r[i] for r in rows]
        if n in numeric:
            cols[n] = pa.array([None if v is None else len(v) * 1_000_003 for v in values], pa.int64())
        else:
            cols[n] = pa.array(values, pa.string())
    lines = render_table(pa.table(cols), title="t")
    assert max(len(x) for x in lines) <= 80
    assert lines[1].split()[0] == names[0][:80]  # the first column always shows


def test_rule_text_wraps_instead_of_being_cut() -> None:
    rule = "sg-0c5bcc4c7b59e45e9 ingress: no rule allows it (security groups deny by default) " * 2
    lines = render_table(pa.table({"rule": [rule.strip()], "records": [3]}))
    text = " ".join(re.sub(r"\s+3$", "", x) for x in lines[2:])  # the records count ends the first line
    assert text.split() == rule.split() and len(lines) > 3


def test_times_in_terminal_tables_are_iso() -> None:
    t = int(dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC).timestamp())
    lines = render_table(pa.table({"start": [t], "bytes": [1536]}))
    assert lines[2].split() == ["2026-11-26T12:00:00Z", "1.5", "KiB"]
