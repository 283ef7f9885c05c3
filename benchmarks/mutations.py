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
             'if hit.statement.effect == "Deny":', 'if hit.statement.effect == "Denied":',
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
]
