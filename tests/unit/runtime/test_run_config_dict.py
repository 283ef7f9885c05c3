"""Run configs from Python data (issue 11, item 5): the file's document as a dict, with the topology
and scenarios in-line; no file needed, the same validation, content-based identity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.loader import load_topology
from vpcflow.runtime.run_config import load_run_config, run_config_from_dict

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCENARIO: dict[str, Any] = {
    "start": "2026-11-26T12:00:00Z", "duration": "2m", "seed": 1,
    "workloads": [{"name": "ssh", "kind": "tcp", "from": "internet", "to": ["web"], "port": 443, "rate": 1}],
}


def _topology_doc() -> dict[str, Any]:
    return json.loads((EXAMPLES / "topology" / "small.json").read_text())


def test_inline_topology_and_scenario_need_no_file(tmp_path: Path) -> None:
    cfg = run_config_from_dict({
        "topology": _topology_doc(),
        "flow_logs": {"create": [{"ResourceIds": ["vpc-0a1b2c3d4e5f60718"], "ResourceType": "VPC",
                                  "TrafficType": "ALL"}]},
        "sources": [{"scenario": SCENARIO, "seed": 3}],
    })
    assert cfg.path is None and cfg.topology is None
    assert cfg.topology_document == _topology_doc() and cfg.has_topology
    (src,) = cfg.sources
    assert src.kind == "scenario" and src.document == SCENARIO and src.seed == 3
    assert cfg.source == "<run config>"


def test_identity_is_the_content_not_a_path() -> None:
    doc = {"topology": _topology_doc(), "sources": [{"scenario": SCENARIO}]}
    reordered = {"sources": [{"scenario": dict(reversed(list(SCENARIO.items())))}], "topology": _topology_doc()}
    assert run_config_from_dict(doc).content == run_config_from_dict(reordered).content
    changed = {"topology": _topology_doc(), "sources": [{"scenario": {**SCENARIO, "seed": 2}}]}
    assert run_config_from_dict(doc).content != run_config_from_dict(changed).content


def test_topology_object_is_accepted_as_its_document() -> None:
    topo = load_topology(EXAMPLES / "topology" / "small.json")
    a = run_config_from_dict({"topology": topo, "sources": [{"scenario": SCENARIO}]})
    assert a.topology_document is not None and a.topology_document["account_id"] == "123456789012"


def test_paths_are_relative_to_base_dir_and_equal_to_the_file_form(tmp_path: Path) -> None:
    (tmp_path / "a.pcap").write_bytes(b"\xd4\xc3\xb2\xa1")
    (tmp_path / "topo.json").write_text(json.dumps(_topology_doc()))
    doc = {"topology": "topo.json", "sources": [{"capture": tmp_path / "a.pcap", "interface": "eni-1"}],
           "output": {"dir": "out", "format": "parquet"}}
    cfg = run_config_from_dict(doc, base_dir=tmp_path)
    (tmp_path / "run.yaml").write_text("topology: topo.json\nsources:\n  - {capture: a.pcap, interface: eni-1}\n"
                                       "output: {dir: out, format: parquet}\n")
    from_file = load_run_config(tmp_path / "run.yaml")
    assert (cfg.topology, cfg.sources[0].path, cfg.output_dir) == (from_file.topology, from_file.sources[0].path,
                                                                   from_file.output_dir)
    assert from_file.content == (tmp_path / "run.yaml").read_bytes() and from_file.source == str(tmp_path / "run.yaml")


@pytest.mark.parametrize(("doc", "key", "words"), [
    ({"sources": [{"scenario": SCENARIO, "interface": "eni-1"}]}, "sources[0]", "places its traffic itself"),
    ({"sources": [{"capture": "missing.pcap"}]}, "sources[0].capture", "does not exist"),
    ({"sources": []}, "sources", "at least one source"),
    ({"sources": [{"scenario": SCENARIO}], "bogus": 1}, "bogus", "unknown key"),
    ({"sources": [{"scenario": SCENARIO, "seed": "x"}]}, "sources[0].seed", "integer seed"),
])
def test_problems_name_the_key_path(tmp_path: Path, doc: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        run_config_from_dict(doc, base_dir=tmp_path)
    assert e.value.key_path == key and words in str(e.value)
    assert str(e.value).startswith(f"<run config>: {key}: ")


def test_not_plain_data_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not plain data"):
        run_config_from_dict({"sources": [{"scenario": {"x": object()}}]})
    with pytest.raises(ConfigError, match="mapping"):
        run_config_from_dict(["sources"])  # type: ignore[arg-type]
