"""Charts of delivered flow logs (matplotlib, headless): traffic over time, accepted vs rejected,
top talkers. Each chart is drawn once and saved as SVG (inlined in the HTML report) and/or PNG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vpcflow.query.duck import FlowLogDatabase

_COLORS = {"ACCEPT": "#2b8a3e", "REJECT": "#c92a2a"}


@dataclass(frozen=True)
class Chart:
    name: str  # file stem: traffic-over-time, accept-reject, top-talkers
    title: str
    figure: Any  # matplotlib Figure

    def svg(self) -> str:
        buf = io.StringIO()
        self.figure.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        text = buf.getvalue()
        return text[text.find("<svg") :]

    def save_png(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.png"
        self.figure.savefig(path, format="png", dpi=110, bbox_inches="tight")
        return path


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: the report is written to files
    import matplotlib.pyplot as plt

    return plt


def build_charts(db: FlowLogDatabase, *, top: int = 10) -> list[Chart]:
    """The three standard charts over the database's ``vpc_flow_logs`` view (empty logs give empty axes)."""
    plt = _plt()
    charts: list[Chart] = []
    cols = {c for c, _ in db.columns()}
    ok = "log_status = 'OK'" if "log_status" in cols else "true"

    # Traffic over time, by action: bucket width chosen so the span has at most ~120 bars.
    span = db.query(f"SELECT MIN(start) AS lo, MAX(\"end\") AS hi FROM vpc_flow_logs WHERE {ok}").to_pylist()[0]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    if span["lo"] is not None:
        width = max(60, ((int(span["hi"]) - int(span["lo"])) // 120 // 60 + 1) * 60)
        rows = db.query(
            f"SELECT (start // {width}) * {width} AS t, action, SUM(bytes) AS bytes FROM vpc_flow_logs "
            f"WHERE {ok} GROUP BY ALL ORDER BY t"
        ).to_pylist()
        import datetime as dt

        for action in ("ACCEPT", "REJECT"):
            pts = [(dt.datetime.fromtimestamp(r["t"], dt.UTC), r["bytes"] or 0) for r in rows if r["action"] == action]
            if pts:
                ax.bar([p[0] for p in pts], [p[1] for p in pts], width=width / 86400 * 0.9, label=action,
                       color=_COLORS[action], alpha=0.85)
        ax.legend(loc="upper right")
        # Rejected traffic is usually orders of magnitude smaller than accepted: a log scale shows both.
        ax.set_yscale("log")
        ax.set_ylabel("bytes (log scale)")
        fig.autofmt_xdate()
    ax.set_title("Traffic over time (bytes per interval, UTC)")
    charts.append(Chart("traffic-over-time", "Traffic over time", fig))

    # Accepted vs rejected: records and packets.
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    rows = db.query(
        f"SELECT action, COUNT(*) AS records, SUM(packets) AS packets FROM vpc_flow_logs WHERE {ok} "
        "AND action IS NOT NULL GROUP BY action ORDER BY action"
    ).to_pylist()
    labels = [r["action"] for r in rows]
    colors = [_COLORS.get(a, "#868e96") for a in labels]
    ax1.bar(labels, [r["records"] for r in rows], color=colors)
    ax1.set_title("Records by action")
    ax2.bar(labels, [r["packets"] or 0 for r in rows], color=colors)
    ax2.set_yscale("log")
    ax2.set_title("Packets by action (log scale)")
    charts.append(Chart("accept-reject", "Accepted vs rejected", fig))

    # Top talkers by bytes.
    fig, ax = plt.subplots(figsize=(9, 3.6))
    rows = db.query(
        f"SELECT srcaddr, SUM(bytes) AS bytes FROM vpc_flow_logs WHERE {ok} GROUP BY srcaddr "
        f"ORDER BY bytes DESC NULLS LAST LIMIT {int(top)}"
    ).to_pylist()
    rows = [r for r in rows if r["srcaddr"] is not None]
    ax.barh([r["srcaddr"] for r in reversed(rows)], [r["bytes"] or 0 for r in reversed(rows)], color="#1c7ed6")
    ax.set_xlabel("bytes")
    ax.set_title(f"Top {top} talkers (source address, bytes)")
    charts.append(Chart("top-talkers", "Top talkers", fig))
    return charts


def close(charts: list[Chart]) -> None:
    plt = _plt()
    for c in charts:
        plt.close(c.figure)
