"""The planted bugs of benchmarks/mutation_run.py: one line each, across the layers.

Each names the file, an exact fragment that occurs there once, its replacement, the tests expected to
notice, and why the bug matters. A fragment that no longer occurs makes the mutation *stale* in the
report: the code moved on, so update the mutation with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    id: str
    area: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str


MUTATIONS: list[Mutation] = [
    Mutation("s3key-period", "S3 keys", "src/vpcflow/codecs/s3keys.py",
             "return end_s - end_s % PERIOD_S", "return end_s - end_s % (PERIOD_S * 2)",
             ("tests/unit/codecs/test_s3keys.py", "tests/golden"), "objects grouped into 10-minute periods"),
    Mutation("s3key-hive-hour", "S3 keys", "src/vpcflow/codecs/s3keys.py",
             'return key + (f"hour={t:%H}/" if per_hour else "")', 'return key + (f"{t:%H}/" if per_hour else "")',
             ("tests/unit/codecs/test_s3keys.py",), "Hive hourly partitions lose their hour= name"),
    Mutation("cwl-event-overhead", "CloudWatch batching", "src/vpcflow/codecs/cloudwatch.py",
             "EVENT_OVERHEAD_BYTES = 26", "EVENT_OVERHEAD_BYTES = 0",
             ("tests/unit/codecs/test_cloudwatch_codec.py",), "batches overrun PutLogEvents' 1 MB limit"),
    Mutation("iam-deny-wins", "IAM", "src/vpcflow/iam/evaluator.py",
             'if h.statement.effect == "Deny"), None)', 'if h.statement.effect == "Denied"), None)',
             ("tests/unit/iam",), "an explicit Deny no longer beats an Allow"),
    Mutation("iam-notaction", "IAM", "src/vpcflow/iam/evaluator.py",
             "return not any(action_matches(a, action) for a in stmt.not_actions)",
             "return any(action_matches(a, action) for a in stmt.not_actions)",
             ("tests/unit/iam",), "NotAction applies to the actions it names"),
    Mutation("sigv4-skew", "API", "src/vpcflow/api/sigv4.py",
             "MAX_SKEW = timedelta(minutes=15)", "MAX_SKEW = timedelta(days=15)",
             ("tests/unit/api", "tests/api/test_api_sigv4.py"), "stale signed requests are replayable"),
    Mutation("describe-filter-any", "API", "src/vpcflow/controlplane/describe_filters.py",
             "if not any(fnmatch.fnmatchcase(h, w) for h in have for w in wanted):",
             "if any(fnmatch.fnmatchcase(h, w) for h in have for w in wanted) and False:",
             ("tests/api/test_api_network_describe.py",), "Describe* filters select everything"),
    Mutation("nacl-text-order", "policy engine", "src/vpcflow/dataplane/evaluate/network_acls.py",
             "key=lambda e: e.rule_number)", "key=lambda e: str(e.rule_number))",
             ("tests/unit/dataplane", "tests/golden"), "NACL rules ordered as text: rule 100 before 90"),
    Mutation("matcher-port-range", "policy engine", "native/src/policy/matcher.rs",
             "self.port_lo[r] <= q.dport && q.dport <= self.port_hi[r]",
             "self.port_lo[r] <= q.dport && q.dport < self.port_hi[r]",
             ("tests/unit/dataplane", "tests/golden"), "a rule's last port no longer matches"),
    Mutation("tcpflags-overwrite", "aggregation", "native/src/aggregate/groups.rs",
             "self.flags[g] |= a.flags;", "self.flags[g] = a.flags;",
             ("tests/unit/dataplane", "tests/golden"), "tcp-flags keep the last packet's flags instead of the OR"),
    Mutation("synack-18", "aggregation", "native/src/aggregate/key.rs",
             "        f |= SYN_ACK_BIT;\n", "        f |= 0;\n",
             ("tests/unit/dataplane", "tests/golden"), "SYN-ACK no longer counts 18 (spec 1.4)"),
    Mutation("text-null", "codecs", "src/vpcflow/codecs/text.py",
             'NULL = "-"', 'NULL = "?"', ("tests/unit/codecs", "tests/golden"), "absent fields print as ? not -"),
    Mutation("filter-ge-gt", "filter patterns", "src/vpcflow/query/filter_pattern.py",
             '">=": pc.greater_equal,', '">=": pc.greater,', ("tests/unit/query",),
             "[bytes>=N] misses records of exactly N bytes"),
    Mutation("insights-count-distinct", "Insights", "src/vpcflow/query/insights_functions.py",
             'return f"count(DISTINCT {x[0]})", "int"', 'return f"count({x[0]})", "int"',
             ("tests/unit/query", "tests/api/test_api_insights.py"), "count_distinct counts duplicates"),
    Mutation("insights-sort-order", "Insights", "src/vpcflow/query/insights_sql.py",
             "terms.append(f\"{sql} {'DESC' if desc else 'ASC'} NULLS LAST\")",
             "terms.append(f\"{sql} {'ASC' if desc else 'DESC'} NULLS LAST\")",
             ("tests/unit/query", "tests/api/test_api_insights.py"), "sort ... desc sorts ascending"),
    Mutation("conntrack-rst", "policy engine", "native/src/policy/conntrack.rs",
             "self.state |= ST_CLOSED | ST_BOTH_LAST_ACKS;", "self.state |= ST_BOTH_LAST_ACKS;",
             ("tests/unit/dataplane", "tests/golden"), "an RST no longer closes the tracked connection"),
    Mutation("report-top-tcp-udp", "reports", "src/vpcflow/query/reports.py",
             'f"FROM flows WHERE {_OK} AND protocol = 6 GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",',
             'f"FROM flows WHERE {_OK} AND protocol = 17 GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",',
             ("tests/unit/query/test_reports.py", "tests/unit/query/test_selection.py"), "top-tcp selects UDP"),
    Mutation("report-accepted-rejects", "reports", "src/vpcflow/query/reports.py",
             """"SELECT {records} FROM flows WHERE action = 'ACCEPT' ORDER BY start LIMIT {limit}", ("action",)),""",
             """"SELECT {records} FROM flows WHERE action = 'REJECT' ORDER BY start LIMIT {limit}", ("action",)),""",
             ("tests/unit/query/test_reports.py", "tests/unit/query/test_selection.py"),
             "the accepted report lists rejected records"),
    Mutation("report-talkers-order", "reports", "src/vpcflow/query/reports.py",
             'f"WHERE {_OK} GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}", ("srcaddr", "bytes")),',
             'f"WHERE {_OK} GROUP BY ALL ORDER BY bytes ASC LIMIT {{limit}}", ("srcaddr", "bytes")),',
             ("tests/unit/query/test_reports.py", "tests/unit/query/test_selection.py"),
             "top talkers ranked from the smallest"),
    Mutation("dedup-overlap", "reports", "src/vpcflow/query/selection.py",
             "(b._fl_rich > a._fl_rich OR (b._fl_rich = a._fl_rich ",
             "(b._fl_rich > a._fl_rich + 999 OR (b._fl_rich = a._fl_rich + 999 ",
             ("tests/unit/query/test_selection.py", "tests/unit/query/test_reports.py"),
             "overlapping flow logs counted twice"),
    Mutation("direction-swapped", "reports", "src/vpcflow/query/selection.py",
             """"a.addr = k.dstaddr) THEN 'ingress' WHEN EXISTS""", """"a.addr = k.dstaddr) THEN 'egress' WHEN EXISTS""",
             ("tests/unit/query/test_selection.py", "tests/unit/query/test_reports.py"),
             "direction derived backwards without flow-direction"),
    Mutation("gap-nodata-span", "bulk replay", "src/vpcflow/dataplane/aggregate/aggregator.py",
             "windows = range(p_first - p_first % itv, p_last - p_last % itv + itv, itv)",
             "windows = range(p_first - p_first % itv, p_last - p_last % itv, itv)",
             ("tests/unit/dataplane/test_gap_nodata.py",),
             "a partitioned run doubles NODATA in the last window of a partition's span"),
    Mutation("s3-canonical-order", "bulk replay", "src/vpcflow/dataplane/sinks/base.py",
             "if records.num_rows <= 1:", "if records.num_rows >= 0:",
             ("tests/unit/dataplane/test_canonical_record_order.py",),
             "S3 objects depend on how records were written: a bulk replay delivers other bytes and names"),
]
