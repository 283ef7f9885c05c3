"""What a report says first: the selection it was computed on, its size and time range, and what the
detections found (scanners, brute-forcers), over the ``flows`` view (``query.selection``)."""

from __future__ import annotations

from vpcflow.query.duck import FlowLogDatabase
from vpcflow.query.present import display
from vpcflow.query.reports import REPORTS, render_sql
from vpcflow.query.selection import FLOWS, Selection


def _count(cols: set[str], col: str, cond: str) -> str:
    return f"COUNT(*) FILTER (WHERE {cond})" if col in cols else "NULL"


def summary_rows(db: FlowLogDatabase, selection: Selection, *, min_ports: int = 20,
                 min_attempts: int = 20) -> list[tuple[str, str]]:
    """(label, text) pairs: selection, records, time range, accept/reject, NODATA/SKIPDATA, findings."""
    cols = {c for c, _ in db.columns()}

    def agg(col: str, expr: str) -> str:
        return expr if col in cols else "NULL"

    accept, reject = "action = 'ACCEPT'", "action = 'REJECT'"
    last_end = 'MAX("end")'
    nodata, skipdata = "log_status = 'NODATA'", "log_status = 'SKIPDATA'"
    total = db.query(
        f"SELECT COUNT(*) AS records, {agg('interface_id', 'COUNT(DISTINCT interface_id)')} AS interfaces, "
        f"{_count(cols, 'action', accept)} AS accept, {_count(cols, 'action', reject)} AS reject, "
        f"{_count(cols, 'log_status', nodata)} AS nodata, {_count(cols, 'log_status', skipdata)} AS skipdata, "
        f"{agg('packets', 'SUM(packets)')} AS packets, {agg('bytes', 'SUM(bytes)')} AS bytes, "
        f"{agg('start', 'MIN(start)')} AS first_start, {agg('end', last_end)} AS last_end FROM {FLOWS}"
    ).to_pylist()[0]
    rows = [
        ("flow logs", selection.describe()),
        ("records", f"{total['records']:,} ({selection.duplicates:,} duplicates of overlapping flow logs "
                    "counted once)"),
        ("interfaces", display("interfaces", total["interfaces"])),
        ("time range", f"{display('start', total['first_start'])} .. {display('end', total['last_end'])}"),
        ("accepted / rejected", f"{display('n', total['accept'])} / {display('n', total['reject'])} records"),
        ("packets / bytes", f"{display('packets', total['packets'])} / {display('bytes', total['bytes'])}"),
        ("NODATA / SKIPDATA", f"{display('n', total['nodata'])} / {display('n', total['skipdata'])} records"),
        ("direction from", selection.direction_from),
    ]
    for name, label, what in (("port-scan", "port scanners", "distinct_ports"),
                              ("brute-force", "brute-forcers", "attempts")):
        report = REPORTS[name]
        if any(c not in cols for c in report.needs):
            rows.append((label, "(the logs' formats lack the fields)"))
            continue
        found = db.query(render_sql(report, cols, limit=5, min_ports=min_ports, min_attempts=min_attempts))
        unit = "ports" if what == "distinct_ports" else "attempts"
        text = ", ".join(f"{r['srcaddr']} ({r[what]:,} {unit})" for r in found.to_pylist()) or "none"
        rows.append((label, text))
    return rows
