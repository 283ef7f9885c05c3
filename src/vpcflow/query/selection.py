"""The records a report is computed on: a flow-log selection, overlapping coverage counted once, and
each record's direction relative to its own network interface.

``vpc_flow_logs`` holds every record of every source, so an ENI covered by two flow logs (its VPC's
and its own) appears twice. :func:`prepare_flows` creates the ``flows`` table that reports and charts
read instead:

* **selection**: only the chosen flow logs (``--flow-log-id``, repeatable), or all of them;
* **de-duplication**: records of different flow logs with the same interface, 5-tuple, action and log
  status whose capture windows overlap describe the same traffic; only the record of the flow log
  with the richest format (most fields) is kept, ties going to the smallest flow-log id. Records of
  one flow log are never merged with each other (``_dedup_sql``);
* **direction**: ``flow-direction`` where the format has it; otherwise derived from the interface's own
  addresses, because AWS writes the interface's primary private IPv4 (or its IPv6) on the interface's
  side of srcaddr/dstaddr, also for traffic to a secondary or public address (spec 1.3 srcaddr/dstaddr,
  2.6): dstaddr is the interface's own address -> ingress, srcaddr is -> egress. The addresses come
  from the topology in the data
  directory; for an interface the topology does not know, from the records themselves (the address,
  per IP version, that appears in most of the interface's records: every record of an interface
  carries its address on one side; see ``_inferred_addresses`` for ties). Neither side matching
  leaves the direction NULL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from vpcflow.core.errors import ConfigError
from vpcflow.query.duck import DECISIONS_VIEW, VIEW, FlowLogDatabase

FLOWS = "flows"
REJECTIONS = "rejections"  # the side channel's REJECT decisions, same selection, counted once
SELECTED = "selected_flow_logs"
ENI_ADDRESSES = "eni_addresses"
#: The columns that identify one record of one interface (those a format has).
_KEY = ("interface_id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "action", "log_status")


@dataclass(frozen=True)
class Selection:
    """What the ``flows`` view was computed on (shown in reports)."""

    flow_log_ids: tuple[str, ...]  # the chosen ones; empty: all
    available: tuple[str, ...]  # every flow-log id in the sources
    records: int  # records of the selection before de-duplication
    kept: int  # after de-duplication
    direction_from: str  # "flow-direction", "interface addresses" or "flow-direction and interface addresses"

    @property
    def duplicates(self) -> int:
        return self.records - self.kept

    def describe(self) -> str:
        chosen = ", ".join(self.flow_log_ids) if self.flow_log_ids else "all flow logs"
        if not self.flow_log_ids and self.available:
            chosen += f" ({', '.join(self.available)})"
        return chosen


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _register_addresses(db: FlowLogDatabase, eni_addresses: Mapping[str, Iterable[str]]) -> None:
    rows = sorted({(eni, str(a)) for eni, addrs in eni_addresses.items() for a in addrs})
    table = pa.table({"interface_id": pa.array([r[0] for r in rows], pa.string()),
                      "addr": pa.array([r[1] for r in rows], pa.string())})
    db.con.register("_known_eni_addresses", table)


def _inferred_addresses(db: FlowLogDatabase, columns: set[str], known: set[str]) -> dict[str, list[str]]:
    """Per interface the topology does not list, per IP version, the address in most of its records.

    An interface that talks to one peer only has two such addresses; the one that is another
    interface's own address is the peer's, so the other is kept (else the smaller, a guess).
    """
    if not {"interface_id", "srcaddr", "dstaddr"} <= columns:
        return {}
    rows = db.query(
        "SELECT interface_id, addr FROM (SELECT interface_id, addr, COUNT(*) AS n, MAX(COUNT(*)) OVER "
        "(PARTITION BY interface_id, strpos(addr, ':') > 0) AS top FROM ("
        f"SELECT interface_id, srcaddr AS addr FROM {SELECTED} UNION ALL "
        f"SELECT interface_id, dstaddr FROM {SELECTED}) WHERE addr IS NOT NULL AND interface_id IS NOT NULL "
        "GROUP BY interface_id, addr) WHERE n = top ORDER BY interface_id, addr"
    ).to_pylist()
    candidates: dict[tuple[str, bool], list[str]] = {}
    for r in rows:
        if r["interface_id"] not in known:
            candidates.setdefault((r["interface_id"], ":" in r["addr"]), []).append(r["addr"])
    settled = {addrs[0] for addrs in candidates.values() if len(addrs) == 1}
    out: dict[str, list[str]] = {}
    for (eni, _v6), addrs in sorted(candidates.items()):
        free = [a for a in addrs if a not in settled] or addrs
        out.setdefault(eni, []).append(free[0])
    return out


def prepare_flows(db: FlowLogDatabase, *, flow_log_ids: Sequence[str] = (),
                  eni_addresses: Mapping[str, Iterable[str]] | None = None) -> Selection:
    """Create the ``flows`` view (and ``selected_flow_logs``, the selection before de-duplication)."""
    columns = {c for c, _ in db.columns()}
    available = tuple(r["flow_log_id"] for r in db.query(
        f"SELECT DISTINCT flow_log_id FROM {VIEW} WHERE flow_log_id IS NOT NULL ORDER BY 1").to_pylist())
    unknown = [f for f in flow_log_ids if f not in available]
    if unknown:
        raise ConfigError(f"--flow-log-id {unknown[0]}: no records of this flow log in the sources "
                          f"(flow logs with records: {', '.join(available) or 'none'})")
    where = f"WHERE flow_log_id IN ({', '.join(_q(f) for f in flow_log_ids)})" if flow_log_ids else ""
    db.con.execute(f"DROP TABLE IF EXISTS {FLOWS}")
    db.con.execute(f"CREATE OR REPLACE VIEW {SELECTED} AS SELECT * FROM {VIEW} {where}")
    known = {k: list(v) for k, v in (eni_addresses or {}).items()}
    _register_addresses(db, {**_inferred_addresses(db, columns, set(known)), **known})
    db.con.execute(f"CREATE OR REPLACE TABLE {ENI_ADDRESSES} AS SELECT DISTINCT interface_id, addr "
                   "FROM _known_eni_addresses")

    db.con.execute(f"CREATE OR REPLACE TABLE {FLOWS} AS {_dedup_sql(columns)}")
    if db.has_decisions:
        dwhere = where.replace("flow_log_id", "d.flow_log_id")
        db.con.execute(
            f"CREATE OR REPLACE VIEW {REJECTIONS} AS SELECT * EXCLUDE (_rank) FROM (SELECT d.*, dense_rank() OVER "
            "(PARTITION BY interface_id, srcaddr, dstaddr, srcport, dstport, protocol, start, \"end\" ORDER BY "
            f"flow_log_id) AS _rank FROM {DECISIONS_VIEW} d {dwhere}) WHERE _rank = 1"
        )
    counts = db.query(f"SELECT (SELECT COUNT(*) FROM {SELECTED}) AS n, (SELECT COUNT(*) FROM {FLOWS}) AS k")
    n, kept = counts.column("n")[0].as_py(), counts.column("k")[0].as_py()
    has_fd = "flow_direction" in columns
    source = "flow-direction" if has_fd else "interface addresses"
    if has_fd and db.query(f"SELECT COUNT(*) AS n FROM {SELECTED} WHERE flow_direction IS NULL AND srcaddr "
                           "IS NOT NULL").column("n")[0].as_py():
        source = "flow-direction and interface addresses"
    return Selection(tuple(flow_log_ids), available, int(n), int(kept), source)


def _dedup_sql(columns: set[str]) -> str:
    """The selection with every record that a better flow log also recorded left out.

    A table, not a view: every report and chart reads it, and the comparison runs once. Two records
    of different flow logs are the same traffic when interface, 5-tuple, action and log status are
    equal and their capture windows overlap (flow logs with different aggregation intervals cut
    different windows: a 600 s record covers ten 60 s ones). The better flow log has the richer
    format (most non-empty fields), then the smaller id; records of one flow log never compete.
    """
    record_cols = [c for c in columns if c not in ("date", "flow_log_id")]
    richness = " + ".join(f'CAST("{c}" IS NOT NULL AS INTEGER)' for c in sorted(record_cols)) or "0"
    ranked = (f"WITH s AS (SELECT *, {richness} AS _rich FROM {SELECTED}), "
              "r AS (SELECT *, MAX(_rich) OVER (PARTITION BY flow_log_id) AS _fl_rich, "
              "COALESCE(flow_log_id, '~') AS _fl, row_number() OVER () AS _row FROM s)")
    direction = _direction_sql(columns)
    keep = "true"
    if {"start", "end"} <= columns:
        same = " AND ".join(f'a."{c}" IS NOT DISTINCT FROM b."{c}"' for c in _KEY if c in columns) or "true"
        ranked += (f", beaten AS (SELECT DISTINCT a._row FROM r a JOIN r b ON {same} AND b.start <= a.\"end\" "
                   "AND a.start <= b.\"end\" AND (b._fl_rich > a._fl_rich OR (b._fl_rich = a._fl_rich "
                   "AND b._fl < a._fl)))")
        keep = "k._row NOT IN (SELECT _row FROM beaten)"
    return f"{ranked} SELECT * EXCLUDE (_rich, _fl_rich, _fl, _row), {direction} AS direction FROM r AS k WHERE {keep}"


def _direction_sql(columns: set[str]) -> str:
    if not {"interface_id", "srcaddr", "dstaddr"} <= columns:
        return "flow_direction" if "flow_direction" in columns else "CAST(NULL AS VARCHAR)"
    derived = (
        f"CASE WHEN EXISTS (SELECT 1 FROM {ENI_ADDRESSES} a WHERE a.interface_id = k.interface_id AND "
        f"a.addr = k.dstaddr) THEN 'ingress' WHEN EXISTS (SELECT 1 FROM {ENI_ADDRESSES} a WHERE "
        "a.interface_id = k.interface_id AND a.addr = k.srcaddr) THEN 'egress' END"
    )
    return f"COALESCE(flow_direction, {derived})" if "flow_direction" in columns else derived
