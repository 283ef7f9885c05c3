"""Re-runs after inputs changed (issue 13 items 2 and 6): new inputs are delivered in full as new,
an edit that cannot change the records (a comment, key order) delivers nothing again.

Expected deliveries are built from clean runs in fresh data directories, as multisets of record lines
(S3, decompressed) and of (stream, timestamp, message) events (CloudWatch).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from run_kit import TOPOLOGY, delivered, run_cli, write_config, write_scenario

Delivery = tuple[Counter[str], Counter[tuple[str, int, str]]]


def _clean(tmp: Path, name: str, seed: int) -> Delivery:
    scenario = write_scenario(tmp / f"{name}-scenario.yaml", seed=seed)
    cfg = write_config(tmp / f"{name}.yaml", scenario)
    r = run_cli(cfg, tmp / f"{name}-data")
    assert r.returncode == 0, r.stderr[-3000:]
    return delivered(tmp / f"{name}-data")


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Delivery]:
    tmp = tmp_path_factory.mktemp("identity-ref")
    refs = {seed: _clean(tmp, f"ref{seed}", seed) for seed in (11, 12)}
    for s3, events in refs.values():
        assert sum(s3.values()) > 100 and sum(events.values()) > 20
    return refs


def _sum(*ds: Delivery) -> Delivery:
    s3: Counter[str] = Counter()
    ev: Counter[tuple[str, int, str]] = Counter()
    for a, b in ds:
        s3 += a
        ev += b
    return s3, ev


def test_new_scenario_content_under_the_same_name_is_delivered_in_full(references: dict[int, Delivery],
                                                                       tmp_path: Path) -> None:
    # Item 2: same config file, the scenario it names now holds another seed.
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=11)
    cfg = write_config(tmp_path / "run.yaml", scenario)
    data = tmp_path / "data"
    assert run_cli(cfg, data).returncode == 0
    assert delivered(data) == references[11]
    write_scenario(scenario, seed=12)
    r = run_cli(cfg, data)
    assert r.returncode == 0, r.stderr[-3000:]
    assert delivered(data) == _sum(references[11], references[12])


def test_seed_in_the_config_is_part_of_the_identity(references: dict[int, Delivery], tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=1)
    data = tmp_path / "data"
    assert run_cli(write_config(tmp_path / "a.yaml", scenario, seed=11), data).returncode == 0
    r = run_cli(write_config(tmp_path / "a.yaml", scenario, seed=12), data)
    assert r.returncode == 0, r.stderr[-3000:]
    assert delivered(data) == _sum(references[11], references[12])


def test_comments_and_formatting_do_not_change_the_identity(references: dict[int, Delivery],
                                                            tmp_path: Path) -> None:
    # Item 6: a comment in the config (or the scenario) re-delivered every CloudWatch event.
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=11)
    cfg = write_config(tmp_path / "run.yaml", scenario)
    data = tmp_path / "data"
    assert run_cli(cfg, data).returncode == 0
    write_config(cfg, scenario, comment="edited: nothing that changes a record")
    cfg.write_text(cfg.read_text().replace("TrafficType: ALL, LogDestinationType: s3",
                                           "LogDestinationType: s3, TrafficType: ALL"))
    write_scenario(scenario, seed=11, comment="a new comment in the scenario too")
    r = run_cli(cfg, data)
    assert r.returncode == 0, r.stderr[-3000:]
    assert delivered(data) == references[11]


def test_back_to_an_input_set_already_delivered_delivers_nothing(references: dict[int, Delivery],
                                                                 tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=11)
    cfg = write_config(tmp_path / "run.yaml", scenario)
    data = tmp_path / "data"
    for seed in (11, 12, 11, 12):
        write_scenario(scenario, seed=seed)
        assert run_cli(cfg, data).returncode == 0
    assert delivered(data) == _sum(references[11], references[12])


def test_a_flow_log_added_to_the_config_does_not_redeliver_the_others(references: dict[int, Delivery],
                                                                      tmp_path: Path) -> None:
    # The identity is the inputs'; each flow log's id is part of its keys (docs/delivery.md "Run identity").
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=11)
    data = tmp_path / "data"
    assert run_cli(write_config(tmp_path / "run.yaml", scenario, with_s3=False), data).returncode == 0
    assert delivered(data) == (Counter(), references[11][1])
    r = run_cli(write_config(tmp_path / "run.yaml", scenario), data)
    assert r.returncode == 0, r.stderr[-3000:]
    assert delivered(data) == references[11]


def test_fixing_a_role_after_a_failed_delivery_delivers_the_spool_once(references: dict[int, Delivery],
                                                                      tmp_path: Path) -> None:
    # Item 6: after a failed delivery, the spool and a fresh copy both arrived. The role is fixed in the
    # topology (IAM is not part of the identity) and a comment is added to the config.
    topo = tmp_path / "topology.yaml"
    topo.write_text(TOPOLOGY.read_text())
    scenario = write_scenario(tmp_path / "scenario.yaml", seed=11)
    cfg = write_config(tmp_path / "run.yaml", scenario, role="untrusted-delivery", topology=topo)
    data = tmp_path / "data"
    assert run_cli(cfg, data).returncode == 3  # records wait in the spool: exit 3 (docs/delivery.md)
    assert delivered(data)[1] == Counter() and list((data / "spool").rglob("*.spool"))
    doc = yaml.safe_load(topo.read_text())
    for role in doc["iam"]["roles"]:
        if role["name"] == "untrusted-delivery":
            role["trust_policy"]["Statement"][0]["Principal"] = {"Service": "vpc-flow-logs.amazonaws.com"}
    topo.write_text(yaml.safe_dump(doc))
    write_config(cfg, scenario, role="untrusted-delivery", topology=topo, comment="role fixed")
    r = run_cli(cfg, data)
    assert r.returncode == 0, r.stderr[-3000:]
    assert delivered(data) == references[11]
    assert not list((data / "spool").rglob("*.spool"))
