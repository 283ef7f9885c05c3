"""Precision and recall of the detection reports over seeded synthetic scenarios whose attacks are known
(tests/helpers/detection_eval.py; the table is in docs/reports.md).

Thresholds: the scenarios have no background noise, and each attack is far above the report thresholds
(20 ports, 20 attempts), so a correct detection finds every attacker and nothing else. The one
exception is a single report on a distributed scan: each of its ~185 hosts sends about 20 probes,
around the threshold, so port-scan alone finds those that crossed it and distributed-scan the rest;
together they must find all. Busy servers (many clients, many ephemeral ports, replies on
every client) must give no detection at all: the reply flows are not scans.
"""

from __future__ import annotations

import pytest
from tests.helpers.detection_eval import ATTACKS, Score, score

SEEDS = (1, 2)


@pytest.fixture(scope="module")
def scores() -> list[Score]:
    return [s for sc in ATTACKS for seed in SEEDS for s in score(sc, seed)]


def _pick(scores: list[Score], scenario: str, report: str) -> tuple[int, int, int]:
    group = [s for s in scores if s.scenario == scenario and s.report == report]
    assert len(group) == len(SEEDS)
    return (sum(s.detected for s in group), sum(s.true_positives for s in group), sum(s.attackers for s in group))


def test_busy_servers_give_no_detection(scores: list[Score]) -> None:
    for report in ("port-scan", "distributed-scan", "brute-force"):
        assert _pick(scores, "busy servers", report)[0] == 0, report


@pytest.mark.parametrize(("scenario", "report"), [
    ("port scan", "port-scan"), ("slow scan", "port-scan"), ("brute force", "brute-force"),
    ("distributed scan", "port-scan + distributed-scan"),
])
def test_attacks_found_with_full_precision_and_recall(scores: list[Score], scenario: str, report: str) -> None:
    detected, tp, attackers = _pick(scores, scenario, report)
    assert attackers > 0
    assert tp == detected, f"precision {tp}/{detected}"
    assert tp == attackers, f"recall {tp}/{attackers}"


def test_no_report_blames_an_innocent_source(scores: list[Score]) -> None:
    for s in scores:
        assert s.true_positives == s.detected, s
