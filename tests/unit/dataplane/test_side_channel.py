"""dataplane/side_channel.py: the REJECT side channel's JSON lines are rendered by column, and each line
is exactly what ``json.dumps(row, separators=(",", ":"))`` gives for the row (keys in column order,
ASCII escapes, ``null`` for missing values)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.dataplane.side_channel import json_lines

TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["sg-1 allows \"x\"", "naïve\\rule", "\u2028"]))
ADDR = st.one_of(st.none(), st.text(alphabet="0123456789abcdef.:", max_size=39))  # the fast path: no escapes
INT = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))


def _row_by_row(table: pa.Table) -> list[str]:
    return [json.dumps(r, separators=(",", ":")) + "\n" for r in table.to_pylist()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TEXT, INT, st.integers(0, 65535), TEXT, ADDR), max_size=40))
def test_json_lines_equal_json_dumps_of_each_row(
    rows: list[tuple[str | None, int | None, int, str | None, str | None]],
) -> None:
    table = pa.table({
        "interface_id": pa.array([r[0] for r in rows], type=pa.string()),
        "srcaddr": pa.array([r[4] for r in rows], type=pa.string()),
        "start": pa.array([r[1] for r in rows], type=pa.int64()),
        "srcport": pa.array([r[2] for r in rows], type=pa.uint16()),
        "rule": pa.array([r[3] for r in rows], type=pa.string()),
    })
    assert json_lines(table) == _row_by_row(table)


def test_side_channel_file_holds_one_line_per_reject(tmp_path: Path) -> None:
    from vpcflow.dataplane.side_channel import write_rejects

    table = pa.table({"interface_id": ["eni-1", "eni-2"], "packets": pa.array([3, 4], pa.int64()),
                      "rule": pa.array(["nacl-1 #100 deny", None])})
    path = tmp_path / "fl.rejects.jsonl"
    write_rejects(path, table, append=False)
    write_rejects(path, table.slice(1), append=True)
    lines = path.read_text().splitlines()
    assert [json.loads(x) for x in lines] == [*table.to_pylist(), table.to_pylist()[1]]


def test_bulk_replay_side_channel_is_json_dumps_of_each_row_in_canonical_order(tmp_path: Path) -> None:
    """``runtime/bulk_tasks._write_rejects`` (a Dask replay's side channel) writes the rows of every
    partition in canonical order, each line exactly ``json.dumps(row, separators=(",", ":"))``."""
    from vpcflow.dataplane.sinks.base import canonical_order
    from vpcflow.runtime.bulk_tasks import _write_rejects

    parts = [
        pa.table({"interface_id": ["eni-2", "eni-1"], "srcport": pa.array([443, None], pa.uint16()),
                  "rule": pa.array(["sg-1 \"deny\" \u00e9", None])}),
        pa.table({"interface_id": ["eni-1"], "srcport": pa.array([80], pa.uint16()), "rule": ["nacl \U0001f600"]}),
    ]
    _write_rejects(tmp_path, "fl-1", parts)
    expected = _row_by_row(canonical_order(pa.concat_tables(parts)))
    assert (tmp_path / "fl-1.rejects.jsonl").read_text().splitlines(keepends=True) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["fl-1.rejects.jsonl"]  # the temporary file is gone
