"""A self-contained HTML report page: inline CSS, inline SVG charts and a small inline script; nothing
is fetched, so the file works offline.

Tables sort (click a header; numbers and times by value) and filter (a text box per table, and one
time-range control for every table with times); times read as ISO-8601 UTC and bytes in binary units
(``query.present``), while each cell keeps its raw value in ``data-v`` for sorting. The page fits
1,400 px: long text (the rule that rejected a flow) wraps instead of widening the table.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from vpcflow.query.charts import Chart
from vpcflow.query.duck import FlowLogDatabase
from vpcflow.query.present import TIME_COLUMNS, display
from vpcflow.query.reports import REPORTS, render_sql

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;color:#212529;max-width:1340px;
padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dee2e6}
.meta{color:#868e96;font-size:.9rem} .chart svg{max-width:100%;height:auto}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:1rem} .charts h3{font-size:1rem;margin:.5rem 0}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0;width:100%}
th,td{padding:.2rem .5rem;border:1px solid #dee2e6;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal;overflow-wrap:anywhere;min-width:18rem}
th{background:#f1f3f5;text-align:left;cursor:pointer;user-select:none;white-space:nowrap}
th.asc::after{content:" \\25B2"} th.desc::after{content:" \\25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} td.t{white-space:nowrap}
.summary{width:auto} .summary td:first-child{font-weight:600;white-space:nowrap}
.controls{position:sticky;top:0;background:#fff;padding:.5rem 0;border-bottom:1px solid #dee2e6;z-index:1}
.controls input{font:inherit;padding:.15rem .3rem} input.filter{width:22rem}
.count{color:#868e96;font-size:.85rem;margin-left:.5rem}
"""

# Sorting, filtering and the time range; every table with class "data" takes part.
_JS = """
(function(){
'use strict';
function rows(t){return Array.prototype.slice.call(t.tBodies[0].rows);}
function val(td){var v=td.getAttribute('data-v');if(v===null)return td.textContent;
  var n=Number(v);return (v!==''&&!isNaN(n))?n:v;}
function cmp(a,b){if(typeof a==='number'&&typeof b==='number')return a-b;return String(a).localeCompare(String(b));}
function sortBy(th){var t=th.closest('table');var i=Array.prototype.indexOf.call(th.parentNode.children,th);
  var asc=!th.classList.contains('asc');
  Array.prototype.forEach.call(th.parentNode.children,function(h){h.classList.remove('asc','desc');});
  th.classList.add(asc?'asc':'desc');
  var rs=rows(t);rs.sort(function(x,y){var c=cmp(val(x.cells[i]),val(y.cells[i]));return asc?c:-c;});
  var b=t.tBodies[0];rs.forEach(function(r){b.appendChild(r);});}
function parseTime(s){s=s.trim();if(!s)return null;if(/^\\d+$/.test(s))return Number(s);
  var d=Date.parse(/[zZ]|[+-]\\d\\d:?\\d\\d$/.test(s)?s:s+'Z');return isNaN(d)?NaN:d/1000;}
function apply(){var lo=parseTime(document.getElementById('t-from').value);
  var hi=parseTime(document.getElementById('t-to').value);
  var bad=(lo!==null&&isNaN(lo))||(hi!==null&&isNaN(hi));
  document.getElementById('t-error').textContent=bad?'not a time: use 2026-11-26T12:00:00Z':'';
  Array.prototype.forEach.call(document.querySelectorAll('table.data'),function(t){
    var box=document.querySelector('input.filter[data-for="'+t.id+'"]');
    var q=box?box.value.trim().toLowerCase():'';var shown=0;
    rows(t).forEach(function(r){var ok=!q||r.textContent.toLowerCase().indexOf(q)>=0;
      var a=r.getAttribute('data-t0'),b=r.getAttribute('data-t1');
      if(ok&&!bad&&a!==null){if(lo!==null&&Number(b)<lo)ok=false;if(hi!==null&&Number(a)>=hi)ok=false;}
      r.style.display=ok?'':'none';if(ok)shown++;});
    var c=document.querySelector('.count[data-for="'+t.id+'"]');
    if(c)c.textContent=shown+' of '+rows(t).length+' rows';});}
document.addEventListener('click',function(e){var th=e.target.closest('table.data th');if(th)sortBy(th);});
document.addEventListener('input',function(e){if(e.target.matches('input.filter, #t-from, #t-to'))apply();});
window.vpcflowReport={sortBy:sortBy,apply:apply};
apply();
})();
"""


#: Long text that wraps (every other cell stays on one line, so these take the remaining width).
_WRAP = frozenset({"rule", "source_list", "description"})
#: The page's rejected-flows table: what a person needs to read a rejection, the deciding rule last.
_REJECTED_FLOWS_SQL = (
    "SELECT start, srcaddr, dstaddr, dstport, protocol, packets, interface_id, flow_direction AS direction, rule "
    "FROM rejections ORDER BY start, interface_id, srcaddr, dstport LIMIT {rows}"
)


@dataclass(frozen=True)
class PageTable:
    id: str  # HTML id (stable: tests and links use it)
    title: str
    description: str
    table: pa.Table


def _numeric(table: pa.Table, c: str) -> bool:
    t = table.schema.field(c).type
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def _time_span(row: dict[str, object]) -> tuple[object, object] | None:
    for lo, hi in (("start", "end"), ("first_start", "last_end")):
        if row.get(lo) is not None:
            return row[lo], row.get(hi) if row.get(hi) is not None else row[lo]
    return None


def table_html(t: PageTable) -> str:
    names = t.table.column_names
    numeric = {c for c in names if _numeric(t.table, c)}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in names)
    body = []
    for row in t.table.to_pylist():
        cells = []
        for c in names:
            v = row[c]
            cls = ' class="t"' if c in TIME_COLUMNS else (' class="n"' if c in numeric else "")
            cls = ' class="wrap"' if c in _WRAP else cls
            raw = "" if v is None else html.escape(str(v), quote=True)
            cells.append(f'<td{cls} data-v="{raw}">{html.escape(display(c, v))}</td>')
        span = _time_span(row)
        attrs = f' data-t0="{span[0]}" data-t1="{span[1]}"' if span else ""
        body.append(f"<tr{attrs}>{''.join(cells)}</tr>")
    if not body:
        return f'<p class=meta id="{t.id}">(no rows)</p>'
    box = (f'<input class="filter" data-for="{t.id}" type="search" placeholder="filter rows (any text)" '
           f'aria-label="filter {html.escape(t.title)}"><span class="count" data-for="{t.id}"></span>')
    return (f'{box}<table class="data" id="{t.id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def page_tables(db: FlowLogDatabase, *, min_ports: int = 20, min_attempts: int = 20,
                rows: int = 500) -> list[PageTable]:
    """The page's tables: findings first, then health, rejections with their rules, top talkers."""
    cols = {c for c, _ in db.columns()}
    out: list[PageTable] = []
    names = ["port-scan", "distributed-scan", "brute-force", "log-status-health", "rejected-by-rule"]
    if db.has_decisions:
        names.append("rejected-flows")
    else:
        names.append("rejected")
    names += ["top-talkers", "admin-port"]
    for name in names:
        report = REPORTS[name]
        if any(c not in cols for c in report.needs) or (report.decisions and not db.has_decisions):
            continue
        if name == "rejected-flows":
            table = db.query(_REJECTED_FLOWS_SQL.format(rows=int(rows)))
        else:
            table = db.query(render_sql(report, cols, limit=rows, min_ports=min_ports, min_attempts=min_attempts,
                                        has_decisions=db.has_decisions))
        desc = report.description.format(min_ports=min_ports, min_attempts=min_attempts)
        out.append(PageTable(name, report.title, desc, table))
    return out


def render_page(title: str, *, summary: Sequence[tuple[str, object]], charts: Sequence[Chart],
                tables: Sequence[PageTable]) -> str:
    """The page: the summary (with the flow-log selection), the time-range control, charts, tables."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    spans = [s for t in tables for s in map(_time_span, t.table.to_pylist()) if s is not None]
    first = display("start", min(int(str(s[0])) for s in spans)) if spans else "2026-11-26T12:00:00Z"
    last = display("end", max(int(str(s[1])) for s in spans)) if spans else "2026-11-26T13:00:00Z"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class=meta>Generated by vpcflow at {now}. Click a column header to sort; "
        "type in a box to filter; times are UTC.</p>",
        '<table class="summary">'
        + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in summary)
        + "</table>",
        f'<div class="controls"><label>From <input id="t-from" placeholder="{first}" size="22"></label> '
        f'<label>to <input id="t-to" placeholder="{last}" size="22"></label> '
        '<span class="meta">time range for every table (records overlapping it; ISO-8601 UTC or epoch seconds)'
        '</span> <span id="t-error" style="color:#c92a2a"></span></div>',
        '<h2>Charts</h2><div class="charts">',
    ]
    for chart in charts:
        parts.append(f'<div class="chart" id="{chart.name}"><h3>{html.escape(chart.title)}</h3>{chart.svg()}</div>')
    parts.append("</div>")
    for t in tables:
        parts.append(f"<h2>{html.escape(t.title)}</h2><p class=meta>{html.escape(t.description)}</p>{table_html(t)}")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)
