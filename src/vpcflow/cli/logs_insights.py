"""``vpcflow logs start-query | get-query-results | stop-query | describe-queries``: CloudWatch Logs
Insights with the AWS CLI's flags and JSON (docs/insights.md).

    vpcflow logs start-query --log-group-name G --start-time 1700000000 --end-time 1700003600 \\
        --query-string 'filter protocol=17 | stats count(*) by srcAddr'
    vpcflow logs get-query-results --query-id <id>

A query runs to completion inside start-query; its results are kept in the data directory, so
get-query-results in a later process finds them. Registered on ``vpcflow logs`` (``cli/logs.py``).
Authorization as the AWS Service Authorization Reference has it: logs:StartQuery on each log group,
logs:GetQueryResults / logs:StopQuery / logs:DescribeQueries on ``*``.
"""

from __future__ import annotations

from typing import Any

import click

from vpcflow.cli.logs_group import Ctx, clean, group, run_call
from vpcflow.runtime.insights import STATUSES, InsightsService


def _service(c: Ctx) -> InsightsService:
    return InsightsService(c.data_dir, c.store())


def _split(values: tuple[str, ...]) -> list[str] | None:
    return [n for v in values for n in v.split()] or None


@group.command("start-query")
@click.option("--log-group-name", default=None, help="The log group to query.")
@click.option("--log-group-names", multiple=True, help="Log groups to query (repeat or space-separate; up to 50).")
@click.option("--log-group-identifiers", multiple=True, help="Log group names or ARNs (repeat or space-separate).")
@click.option("--start-time", type=int, required=True, help="Epoch seconds, inclusive.")
@click.option("--end-time", type=int, required=True, help="Epoch seconds, inclusive.")
@click.option("--query-string", required=True, help="The Logs Insights query.")
@click.option("--query-language", type=click.Choice(["CWLI", "SQL", "PPL"]), default=None,
              help="Only CWLI (Logs Insights QL) is supported.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=None,
              help="At most this many results (default 10,000).")
@click.pass_context
def start_query(ctx: click.Context, log_group_name: str | None, log_group_names: tuple[str, ...],
                log_group_identifiers: tuple[str, ...], start_time: int, end_time: int, query_string: str,
                query_language: str | None, limit: int | None) -> None:
    """Start a Logs Insights query (StartQuery); prints its queryId."""

    def call(c: Ctx) -> dict[str, Any]:
        svc = _service(c)
        params = clean({"logGroupName": log_group_name, "logGroupNames": _split(log_group_names),
                         "logGroupIdentifiers": _split(log_group_identifiers), "startTime": start_time,
                         "endTime": end_time, "queryString": query_string, "queryLanguage": query_language,
                         "limit": limit})
        for name in svc.log_groups(params):
            c.authorize("logs:StartQuery", c.store().group_arn(name))
        return svc.start_query(**params)

    run_call(ctx, "StartQuery", call)


@group.command("get-query-results")
@click.option("--query-id", required=True)
@click.pass_context
def get_query_results(ctx: click.Context, query_id: str) -> None:
    """Results, statistics and status of a query (GetQueryResults), every page merged."""

    def call(c: Ctx) -> dict[str, Any]:
        c.authorize("logs:GetQueryResults", "*")
        svc = _service(c)
        first = svc.get_query_results(queryId=query_id)
        token = first.pop("nextToken", None)
        while token:
            page = svc.get_query_results(queryId=query_id, nextToken=token)
            first["results"] += page["results"]
            token = page.get("nextToken")
        return first

    run_call(ctx, "GetQueryResults", call)


@group.command("stop-query")
@click.option("--query-id", required=True)
@click.pass_context
def stop_query(ctx: click.Context, query_id: str) -> None:
    """Stop a running query (StopQuery); vpcflow's queries have always finished already."""

    def call(c: Ctx) -> dict[str, Any]:
        c.authorize("logs:StopQuery", "*")
        return _service(c).stop_query(queryId=query_id)

    run_call(ctx, "StopQuery", call)


@group.command("describe-queries")
@click.option("--log-group-name", default=None, help="Only queries of this log group.")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--max-results", type=click.IntRange(1, 1000), default=None, help="One page of this many queries.")
@click.option("--next-token", default=None)
@click.pass_context
def describe_queries(ctx: click.Context, log_group_name: str | None, status: str | None, max_results: int | None,
                     next_token: str | None) -> None:
    """Recent queries, newest first (DescribeQueries)."""

    def call(c: Ctx) -> dict[str, Any]:
        c.authorize("logs:DescribeQueries", "*")
        return _service(c).describe_queries(**clean({"logGroupName": log_group_name, "status": status,
                                                      "maxResults": max_results, "nextToken": next_token}))

    run_call(ctx, "DescribeQueries", call)
