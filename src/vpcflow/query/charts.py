"""Charts of delivered flow logs (matplotlib, headless) over the ``flows`` view (``query.selection``:
the chosen flow logs, overlapping coverage counted once): traffic over time, the top rejected
sources, distinct ports probed per source over time (what a scanner looks like), top talkers. Each
chart is drawn once and saved as SVG (inlined in the HTML report) and/or PNG.
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
    """The standard charts over the ``flows`` view (empty logs give empty axes)."""
    plt = _plt()
    charts: list[Chart] = []
    cols = {c for c, _ in db.columns()} | {"direction"}
    ok = "log_status = 'OK'" if "log_status" in cols else "true"

    # Traffic over time, by action: bucket width chosen so the span has at most ~120 bars.
    span = db.query(f"SELECT MIN(start) AS lo, MAX(\"end\") AS hi FROM flows WHERE {ok}").to_pylist()[0]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    if span["lo"] is not None:
        width = max(60, ((int(span["hi"]) - int(span["lo"])) // 120 // 60 + 1) * 60)
        rows = db.query(
            f"SELECT (start // {width}) * {width} AS t, action, SUM(bytes) AS bytes FROM flows "
            f"WHERE {ok} GROUP BY ALL ORDER BY t"
        ).to_pylist()
        import datetime as dt

        for action in ("ACCEPT", "REJECT"):
            pts = [(dt.datetime.fromtimestamp(r["t"], dt.UTC), r["bytes"] or 0) for r in rows if r["action"] == action]
            if pts:
                ax.bar([p[0] for p in pts], [p[1] for p in pts], width=width / 86400 * 0.9, label=action,
                       color=_COLORS[action])
        ax.legend(loc="lower left", fontsize=8)
        # Rejected traffic is usually orders of magnitude smaller than accepted: a log scale shows both.
        ax.set_yscale("log")
        ax.set_ylabel("bytes (log scale)")
        fig.autofmt_xdate()
    ax.set_title("Traffic over time (bytes per interval, UTC)")
    charts.append(Chart("traffic-over-time", "Traffic over time", fig))

    charts.append(_top_rejected_sources(plt, db, ok, cols, top))
    charts.append(_ports_per_source(plt, db, ok, cols))

    # Top talkers by bytes.
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    rows = db.query(
        f"SELECT srcaddr, SUM(bytes) AS bytes FROM flows WHERE {ok} GROUP BY srcaddr "
        f"ORDER BY bytes DESC NULLS LAST LIMIT {int(top)}"
    ).to_pylist()
    rows = [r for r in rows if r["srcaddr"] is not None]
    ax.barh([r["srcaddr"] for r in reversed(rows)], [r["bytes"] or 0 for r in reversed(rows)], color="#1c7ed6")
    ax.set_xlabel("bytes (log scale)")
    ax.set_xscale("log")
    ax.set_title(f"Top {top} talkers (source address, bytes)")
    charts.append(Chart("top-talkers", "Top talkers", fig))
    return charts


def close(charts: list[Chart]) -> None:
    plt = _plt()
    for c in charts:
        plt.close(c.figure)


def _top_rejected_sources(plt: Any, db: FlowLogDatabase, ok: str, cols: set[str], top: int) -> Chart:
    """Sources by rejected records: the attackers stand out (a scanner, a brute-forcer)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    if {"action", "srcaddr"} <= cols:
        rows = db.query(
            f"SELECT srcaddr, COUNT(*) AS records FROM flows WHERE {ok} AND action = 'REJECT' "
            f"GROUP BY srcaddr ORDER BY records DESC, srcaddr LIMIT {int(top)}"
        ).to_pylist()
        ax.barh([r["srcaddr"] for r in reversed(rows)], [r["records"] for r in reversed(rows)], color=_COLORS["REJECT"])
    ax.set_xlabel("rejected records")
    ax.set_title(f"Top {top} rejected sources")
    return Chart("top-rejected-sources", "Top rejected sources", fig)


def _ports_per_source(plt: Any, db: FlowLogDatabase, ok: str, cols: set[str]) -> Chart:
    """Distinct destination ports each source has probed so far (rejected or unanswered inbound flows,
    as the port-scan report counts them): a scan climbs steeply, a slow scan steadily, a client stays at
    one or two ports."""
    import datetime as dt

    from vpcflow.query.reports import REPORTS, probes_sql

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    if all(c in cols for c in REPORTS["port-scan"].needs) and "start" in cols:
        span = db.query(f"SELECT MIN(start) AS lo, MAX(start) AS hi FROM flows WHERE {ok}").to_pylist()[0]
        width = 60 if span["lo"] is None else max(60, ((int(span["hi"]) - int(span["lo"])) // 60 // 60 + 1) * 60)
        rows = db.query(
            f"{probes_sql(cols)}, first_seen AS (SELECT srcaddr, dstport, MIN(start) // {width} * {width} AS t "
            "FROM probes WHERE probe GROUP BY srcaddr, dstport), "
            "top AS (SELECT srcaddr FROM first_seen GROUP BY srcaddr HAVING COUNT(*) > 1 "
            "ORDER BY COUNT(*) DESC, srcaddr LIMIT 5) "
            "SELECT srcaddr, t, SUM(COUNT(*)) OVER (PARTITION BY srcaddr ORDER BY t) AS ports FROM first_seen "
            "WHERE srcaddr IN (SELECT srcaddr FROM top) GROUP BY srcaddr, t ORDER BY srcaddr, t"
        ).to_pylist()
        end = dt.datetime.fromtimestamp(int(span["hi"] or 0) + width, dt.UTC)
        for src in sorted({r["srcaddr"] for r in rows}):
            pts = [(dt.datetime.fromtimestamp(r["t"], dt.UTC), int(r["ports"])) for r in rows if r["srcaddr"] == src]
            pts.append((end, pts[-1][1]))  # the count holds to the end of the range
            ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", marker="o", markersize=3,
                    markevery=list(range(len(pts) - 1)), label=src)
        if rows:
            ax.set_xlim(dt.datetime.fromtimestamp(int(span["lo"]), dt.UTC), end)
            # from 1 (a client that touched one or two ports sits at the bottom) to above the busiest source
            ax.set_ylim(1, max(int(r["ports"]) for r in rows) * 3)
            ax.legend(loc="lower right", fontsize=7)
            ax.set_yscale("log")
        ax.set_ylabel("distinct ports probed so far")
        fig.autofmt_xdate()
    ax.set_title("Ports probed per source over time (top 5)")
    return Chart("ports-per-source", "Ports probed per source", fig)
