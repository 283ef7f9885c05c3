"""runtime/run_identity.py: what changes a run's identity and what does not (issue 13 items 2 and 6)."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.model.topology.loader import load_topology
from vpcflow.model.topology.model import Topology
from vpcflow.runtime import run_identity as ri
from vpcflow.runtime.run_config import load_run_config

ROOT = Path(__file__).resolve().parents[3]
TOPO = ROOT / "examples" / "topology" / "three-tier.yaml"


@functools.cache
def _three_tier() -> Topology:
    return load_topology(TOPO)


@pytest.fixture(scope="module")
def topology() -> Topology:
    return _three_tier()


def _config(folder: Path, body: str, name: str = "run.yaml") -> Path:
    p = folder / name
    p.write_text(body)
    return p


def _id(path: Path, topology: Topology, skip_bad: bool = False) -> str:
    return ri.run_identity(load_run_config(path), topology, skip_bad=skip_bad)


def test_capture_content_not_its_name_or_mtime(tmp_path: Path, topology: Topology) -> None:
    cap = tmp_path / "web.pcap"
    cap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(100))
    cfg = _config(tmp_path, "sources:\n  - capture: web.pcap\n")
    first = _id(cfg, topology)
    assert _id(cfg, topology) == first
    cap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(99) + b"\x01")  # same size, one byte differs
    assert _id(cfg, topology) != first
    cap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(100))
    assert _id(cfg, topology) == first
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other-name.pcap").write_bytes(cap.read_bytes())
    moved = _config(tmp_path / "sub", "sources:\n  - capture: other-name.pcap\n")
    assert _id(moved, topology) == first  # where the bytes live is not what they are


@pytest.mark.parametrize(("data", "expected"), [
    # XXH3-128 (seed 0) reference values of the xxHash project (``xxhsum -H2``)
    (b"", "99aa06d3014798d86001c324468d497f"),
    (b"abc", "06b05ab6733a618578af5f94892f3950"),
])
def test_file_digest_is_xxh3_128_of_the_bytes(tmp_path: Path, data: bytes, expected: str) -> None:
    (tmp_path / "f").write_bytes(data)
    assert ri.file_digest(tmp_path / "f") == expected


def test_capture_sources_are_named_by_their_digest(tmp_path: Path, topology: Topology) -> None:
    cap = tmp_path / "web.pcap"
    cap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(3 << 20))  # past the core's 1 MiB read chunks
    doc = ri.identity_document(load_run_config(_config(tmp_path, "sources:\n  - capture: web.pcap\n")), topology)
    assert doc["sources"][0]["xxh3_128"] == ri.file_digest(cap)
    assert "sha256" not in doc["sources"][0]


def test_unreadable_capture_is_a_config_error(tmp_path: Path) -> None:
    from vpcflow.core.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot read"):
        ri.file_digest(tmp_path / "missing.pcap")


def test_scenario_meaning_seed_and_options(tmp_path: Path, topology: Topology) -> None:
    scen = tmp_path / "s.yaml"
    scen.write_text("start: '2026-01-01T00:00:00Z'\nduration: 60\nseed: 1\nworkloads: []\n")
    cfg = _config(tmp_path, "sources:\n  - scenario: s.yaml\n")
    first = _id(cfg, topology)
    scen.write_text("# a comment\nseed: 1\nduration: 60\nstart: '2026-01-01T00:00:00Z'\nworkloads: []\n")
    assert _id(cfg, topology) == first
    scen.write_text("start: '2026-01-01T00:00:00Z'\nduration: 60\nseed: 2\nworkloads: []\n")
    second = _id(cfg, topology)
    assert second != first
    assert _id(_config(tmp_path, "sources:\n  - scenario: s.yaml\n    seed: 3\n"), topology) != second
    assert _id(_config(tmp_path, "sources:\n  - scenario: s.yaml\n    duration_s: 30\n"), topology) != second
    # --skip-bad changes nothing a run delivers before its first bad record: the same identity, so the
    # README's recipe (an error, then --skip-bad) delivers nothing twice (issue 13 item 3)
    assert _id(cfg, topology, skip_bad=True) == _id(cfg, topology)


def test_topology_and_aggregation(tmp_path: Path, topology: Topology) -> None:
    (tmp_path / "c.pcap").write_bytes(b"x")
    cfg = _config(tmp_path, "sources:\n  - capture: c.pcap\n")
    base = _id(cfg, topology)
    # Buckets, log groups and IAM govern delivery, not records: fixing a role keeps the identity.
    assert _id(cfg, dataclasses.replace(topology, iam={}, s3_buckets=(), log_groups=())) == base
    smaller = dataclasses.replace(topology, vpcs=topology.vpcs[:1])
    assert _id(cfg, smaller) != base
    assert _id(_config(tmp_path, "sources:\n  - capture: c.pcap\naggregation: {nodata: false}\n"), topology) != base


def test_live_sources_never_repeat(tmp_path: Path, topology: Topology) -> None:
    cfg = _config(tmp_path, "sources:\n  - live: lo\n    interface: eni-0d141998882628620\n    duration_s: 1\n")
    assert _id(cfg, topology) != _id(cfg, topology)


@settings(max_examples=25, deadline=None)
@given(comment=st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=40),
       flow_style=st.booleans(), where_first=st.booleans())
def test_config_formatting_never_changes_the_identity(tmp_path_factory: pytest.TempPathFactory, comment: str,
                                                      flow_style: bool, where_first: bool) -> None:
    topology = _three_tier()
    d = tmp_path_factory.mktemp("fmt")
    (d / "c.pcap").write_bytes(b"x")
    plain = _config(d, "sources:\n  - capture: c.pcap\n    skip_bad: true\n", "plain.yaml")
    src = ("sources: [{skip_bad: true, capture: c.pcap}]\n" if flow_style
           else "sources:\n  - skip_bad: true\n    capture: c.pcap\n")
    extra = "output: {dir: out}\ndelivery: {logs_endpoint_url: 'http://127.0.0.1:9'}\n"
    body = (extra + src if where_first else src + extra) + f"# {comment}\n"
    assert _id(_config(d, body, "styled.yaml"), topology) == _id(plain, topology)


def test_in_line_scenarios_are_identified_by_their_document(topology: Topology) -> None:
    from vpcflow.runtime.run_config import run_config_from_dict

    def ident(doc: dict[str, object]) -> str:
        cfg = run_config_from_dict({"sources": [{"scenario": doc}]})
        return ri.run_identity(cfg, topology)

    doc = {"start": "2026-01-01T00:00:00Z", "duration": 60, "seed": 1, "workloads": []}
    assert ident(doc) == ident(dict(reversed(list(doc.items()))))
    assert ident(doc) != ident({**doc, "seed": 2})


def test_prefetched_digests_give_the_same_identity(tmp_path: Path, topology: Topology) -> None:
    (tmp_path / "a.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(5000))
    (tmp_path / "b.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(7000))
    cfg = load_run_config(_config(tmp_path, "sources:\n  - capture: a.pcap\n  - capture: b.pcap\n"))
    digests = ri.prefetch_digests(cfg)
    assert sorted(p.name for p in digests) == ["a.pcap", "b.pcap"]
    assert ri.run_identity(cfg, topology, digests=digests) == ri.run_identity(cfg, topology)


def test_a_prefetched_digest_that_failed_raises_when_used(tmp_path: Path, topology: Topology) -> None:
    from vpcflow.core.errors import ConfigError

    cap = tmp_path / "gone.pcap"
    cap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(100))
    cfg = load_run_config(_config(tmp_path, "sources:\n  - capture: gone.pcap\n"))
    cap.unlink()
    digests = ri.prefetch_digests(cfg)
    with pytest.raises(ConfigError, match="cannot read"):
        ri.run_identity(cfg, topology, digests=digests)
