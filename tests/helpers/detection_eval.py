"""Precision and recall of the detection reports (port-scan, distributed-scan, brute-force) over seeded
synthetic scenarios whose attacks are known (``SyntheticSource.attack_labels``).

Each scenario runs the three-tier example network for ten minutes of ordinary traffic plus, in most,
one attack, recorded by one VPC-wide flow log in the **default format** (no flow-direction: the hard
case, where direction comes from the interfaces' addresses). Scored per source address: a detected
source is a true positive when it is one of the attack's hosts.

    python -m tests.helpers.detection_eval      # prints the table shown in docs/reports.md
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from vpcflow.cli._sources import open_flows
from vpcflow.dataplane.sources.synthetic import SyntheticConfig, SyntheticSource
from vpcflow.query.reports import REPORTS, render_sql
from vpcflow.runtime.examples import example_path
from vpcflow.runtime.run import execute, prepare_run

VPC = "vpc-097d5b620001373d6"
MIN_PORTS, MIN_ATTEMPTS = 20, 20

# Ordinary load of the demo (busy web, app and database tiers, office SSH), ten minutes.
BUSY = """
  - {name: web-https, kind: tcp, from: internet, to: [nlb-1a, nlb-1b], port: 443, rate: 6,
     request_bytes: [300, 3000], response_bytes: [2000, 60000], backend: {to: [web-1a, web-1b], port: 443}}
  - {name: web-to-app, kind: tcp, from: [web-1a, web-1b], to: [app-1a, app-1b], port: 8080, rate: 8}
  - {name: app-to-db, kind: tcp, from: [app-1a, app-1b], to: db-1a, port: 5432, rate: 0.5, exchanges: [5, 30]}
  - {name: app-outbound, kind: tcp, from: [app-1a, app-1b], to: "internet:93.184.216.0/24", port: 443, rate: 0.5}
  - {name: metrics, kind: tcp, from: tools-1a, to: [app-1a, app-1b], port: 9100, rate: 0.5}
  - {name: office-ssh, kind: tcp, from: "internet:198.51.100.0/24", to: bastion, port: 22, rate: 0.05}
"""
ATTACKS = {
    "busy servers": "",
    "port scan": "  - {name: scan, kind: scan, from: 'internet:185.220.101.0/24', to: nlb-1a, ports: 1-1024, "
                 "rate: 30, start: 2m, duration: 2m, diurnal: false}\n",
    "slow scan": "  - {name: slow-scan, kind: scan, from: 'internet:185.220.102.0/24', to: bastion, ports: 1-300, "
                 "rate: 0.5, diurnal: false}\n",
    "distributed scan": "  - {name: dscan, kind: scan, from: 'internet:45.83.64.0/22', sources: 200, to: nlb-1a, "
                        "ports: 1-1024, rate: 20, start: 1m, duration: 3m, diurnal: false}\n",
    "brute force": "  - {name: ssh-brute, kind: bruteforce, from: 'internet:45.155.205.0/24', to: bastion, port: 22, "
                   "rate: 1, start: 1m, duration: 5m, diurnal: false}\n",
}
REPORT_KIND = {"port-scan": "scan", "distributed-scan": "scan", "brute-force": "bruteforce",
               "port-scan + distributed-scan": "scan"}


@dataclass(frozen=True)
class Score:
    scenario: str
    seed: int
    report: str
    detected: int
    true_positives: int
    attackers: int

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.detected if self.detected else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.attackers if self.attackers else None


def _write(folder: Path, scenario: str, seed: int) -> Path:
    topo = example_path("topology", "three-tier.yaml")
    (folder / "scenario.yaml").write_text(
        f"topology: {topo}\nstart: '2026-11-26T12:00:00Z'\nduration: 10m\nseed: {seed}\nworkloads:\n"
        + BUSY + ATTACKS[scenario], encoding="utf-8")
    (folder / "run.yaml").write_text(
        f"topology: {topo}\nflow_logs:\n  create:\n    - {{ResourceIds: [{VPC}], ResourceType: VPC, TrafficType: ALL, "
        "LogDestinationType: s3, LogDestination: 'arn:aws:s3:::vpcflow-demo-logs', MaxAggregationInterval: 60}\n"
        f"sources:\n  - {{scenario: scenario.yaml, seed: {seed}}}\n", encoding="utf-8")
    return folder


def _detected(db: object, report: str) -> set[str]:
    if report == "port-scan + distributed-scan":
        return _detected(db, "port-scan") | _detected(db, "distributed-scan")
    cols = {c for c, _ in db.columns()}  # type: ignore[attr-defined]
    rows = db.query(render_sql(REPORTS[report], cols, limit=100_000, min_ports=MIN_PORTS,  # type: ignore[attr-defined]
                               min_attempts=MIN_ATTEMPTS)).to_pylist()
    if report == "distributed-scan":
        return {s for r in rows for s in r["source_list"].split()}
    return {r["srcaddr"] for r in rows}


def score(scenario: str, seed: int) -> list[Score]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = _write(Path(tmp), scenario, seed)
        labels = SyntheticSource(SyntheticConfig(str(folder / "scenario.yaml"), seed=seed)).attack_labels()
        data = folder / "data"
        execute(prepare_run(folder / "run.yaml", data_dir=data))
        db, _ = open_flows(data, ())
        out = []
        for report, kind in REPORT_KIND.items():
            truth = {s for lab in labels if lab.kind == kind for s in lab.sources}
            found = _detected(db, report)
            out.append(Score(scenario, seed, report, len(found), len(found & truth), len(truth)))
        return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def table(scores: list[Score]) -> str:
    """A Markdown table: one row per scenario and report, seeds pooled."""
    lines = ["| scenario | report | seeds | attackers | detected | true positives | precision | recall |",
             "|---|---|---|---|---|---|---|---|"]
    keys = sorted({(s.scenario, s.report) for s in scores}, key=lambda k: (list(ATTACKS).index(k[0]), k[1]))
    for sc, rep in keys:
        group = [s for s in scores if (s.scenario, s.report) == (sc, rep)]
        det, tp, att = (sum(getattr(s, f) for s in group) for f in ("detected", "true_positives", "attackers"))
        p = tp / det if det else None
        r = tp / att if att else None
        lines.append(f"| {sc} | {rep} | {len(group)} | {att} | {det} | {tp} | {_pct(p)} | {_pct(r)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    all_scores = [s for sc in ATTACKS for seed in (1, 2, 3) for s in score(sc, seed)]
    print(table(all_scores))
