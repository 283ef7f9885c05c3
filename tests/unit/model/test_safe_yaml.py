"""The one YAML reader (model/safe_yaml.py): alias bombs and deep nesting refused with file:line, in
every file type that is YAML (topology, scenario, run config, what-if change file) and in JSON
topologies; ordinary anchors, aliases and merge keys still work.

Every refusal here happens before anything expands the document: these tests finish in well under a
second, where the unguarded walkers grew to gigabytes (issue 13, item 8).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.sources.scenario import loads_scenario
from vpcflow.model.safe_yaml import MAX_ALIAS_NODES, MAX_DEPTH, InputLimitError, check_yaml, load_yaml
from vpcflow.model.topology.loader import loads_topology, loads_topology_document
from vpcflow.runtime.run_config import load_run_config
from vpcflow.runtime.whatif import load_change_file

ROOT = Path(__file__).resolve().parents[3]
SMALL = ROOT / "examples" / "topology" / "small.json"


def bomb(levels: int = 12, width: int = 10, key: str = "x") -> str:
    """The billion-laughs document: ``width ** levels`` scalars from a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines.append(f"{key}: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "x: " + "[" * depth + "1" + "]" * depth + "\n"


def test_alias_bomb_is_refused_with_the_line_of_the_alias_that_crosses_the_limit() -> None:
    with pytest.raises(InputLimitError) as e:
        check_yaml(bomb(), source="bomb.yaml")
    assert "alias" in e.value.message and f"{MAX_ALIAS_NODES:,}" in e.value.message
    line = int(str(e.value.location).rsplit(":", 1)[1])
    assert e.value.location.startswith("bomb.yaml:") and 2 <= line <= 13


def test_deep_nesting_is_refused_with_its_line() -> None:
    with pytest.raises(InputLimitError, match=f"nested more than {MAX_DEPTH} levels") as e:
        check_yaml("a: 1\nb:\n  " + "[" * 5000 + "]" * 5000 + "\n", source="deep.yaml")
    assert e.value.location == "deep.yaml:3"


def test_nesting_at_the_limit_and_ordinary_aliases_load() -> None:
    assert load_yaml(nested(MAX_DEPTH - 1), source="ok.yaml")["x"] is not None
    doc = load_yaml("d: &d {a: 1, b: [1, 2]}\ne: {<<: *d, c: 3}\nf: *d\n", source="ok.yaml")
    assert doc["e"] == {"a": 1, "b": [1, 2], "c": 3} and doc["f"] == {"a": 1, "b": [1, 2]}


@settings(max_examples=60, deadline=None)
@given(levels=st.integers(1, 6), width=st.integers(1, 6))
def test_alias_expansion_is_counted_exactly(levels: int, width: int) -> None:
    """Below the limit every small bomb loads, to exactly its expanded size."""
    text = bomb(levels, width)
    data = load_yaml(text, source="b.yaml")
    assert len(json.dumps(data["x"]).split('"lol"')) - 1 == width**levels


@pytest.mark.parametrize(("aliases", "refused"), [(1000, False), (1001, True)])
def test_the_alias_limit_is_exact(aliases: int, refused: bool) -> None:
    """An anchored list of 999 scalars is 1,000 nodes; each alias to it adds 1,000: 1,000 aliases add
    exactly MAX_ALIAS_NODES (accepted), one more crosses it."""
    assert MAX_ALIAS_NODES == 1000 * 1000
    text = "a: &a [" + ", ".join(["x"] * 999) + "]\nb: [" + ", ".join(["*a"] * aliases) + "]\n"
    if refused:
        with pytest.raises(InputLimitError, match="alias"):
            check_yaml(text, source="edge.yaml")
    else:
        check_yaml(text, source="edge.yaml")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_topology_bomb_or_depth_is_a_config_error(fmt: str) -> None:
    if fmt == "json":
        doc = json.loads(SMALL.read_text())
        text = json.dumps(doc)[:-1] + ', "tags": ' + "[" * 50_000 + "]" * 50_000 + "}"
        with pytest.raises(InputLimitError, match="nested more than"):
            loads_topology(text, source="deep.json", fmt="json")
    else:
        with pytest.raises(InputLimitError, match="alias bomb") as e:
            loads_topology(bomb(key="vpcs"), source="t.yaml", fmt="yaml")
        assert e.value.location is not None and e.value.location.startswith("t.yaml:")


def test_json_topology_still_loads_with_lines() -> None:
    loaded = loads_topology_document(SMALL.read_text(), source="small.json", fmt="json")
    assert loaded.locate("vpcs[0].subnets[1]") == "small.json:13"


def test_scenario_bomb_is_refused() -> None:
    with pytest.raises(InputLimitError):
        loads_scenario(bomb(key="workloads"), source="s.yaml")


def test_run_config_bomb_and_depth_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "run.yaml"
    p.write_text(bomb(key="sources"))
    with pytest.raises(InputLimitError) as e:
        load_run_config(p)
    assert str(e.value.location).startswith(f"{p}:")
    p.write_text("sources:\n" + nested(10_000))
    with pytest.raises(InputLimitError, match="nested more than"):
        load_run_config(p)


def test_change_file_bomb_is_refused_and_bad_utf8_named(tmp_path: Path) -> None:
    p = tmp_path / "change.yaml"
    p.write_text(bomb(key="set"))
    with pytest.raises(InputLimitError):
        load_change_file(p)
    p.write_bytes(b"set:\n  - x: 1\n  - y: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8") as e:
        load_change_file(p)
    assert e.value.location == f"{p}:3"
    with pytest.raises(ConfigError, match="is a directory"):
        load_change_file(tmp_path)
