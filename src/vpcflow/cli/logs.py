"""``vpcflow logs``: the embedded CloudWatch Logs store with the AWS CLI's names, flags and JSON.

    vpcflow logs describe-log-groups [--log-group-name-prefix P]
    vpcflow logs describe-log-streams --log-group-name G [--order-by LastEventTime --descending]
    vpcflow logs get-log-events --log-group-name G --log-stream-name eni-...-all --start-from-head
    vpcflow logs filter-log-events --log-group-name G --filter-pattern '[..., action = REJECT, status]'
    vpcflow logs create-log-group | delete-log-group | put-retention-policy | delete-retention-policy
    vpcflow logs start-query | get-query-results | stop-query | describe-queries   (Insights, cli/logs_insights.py)

Output: as the AWS CLI prints it, ``--output json|text|table|yaml`` and ``--query`` (JMESPath) on every
command (``AwsCliGroup``, docs/cli-output.md). Like the AWS CLI, describe-* and filter-log-events fetch
every page and merge them unless ``--limit`` or ``--next-token`` asks for one page; get-log-events
is one call. Errors print ``An error occurred (Code) when calling the X operation: message`` and
exit 254. Reading is authorized by IAM as ``--principal`` (default: the account root) against the
data directory's stored topology: logs:DescribeLogGroups on ``log-group:*``, logs:DescribeLogStreams
and logs:FilterLogEvents on the group, logs:GetLogEvents on the stream (spec 8.4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from vpcflow.cli import logs_insights as _logs_insights  # noqa: F401  (registers the Insights commands)
from vpcflow.cli._output import PagedResponse
from vpcflow.cli.logs_group import Ctx, clean, group, run_call


def _all_pages(call: Callable[..., dict[str, Any]], key: str, params: dict[str, Any], paginate: bool) -> dict[str, Any]:
    """One page, or (AWS CLI default) every page merged under ``key`` without a nextToken (a
    ``PagedResponse``, which ``--output text`` prints page by page as the AWS CLI does)."""
    first = call(**params)
    if not paginate:
        return first
    merged = dict(first)
    pages = [first]
    token = first.get("nextToken")
    while token:
        page = call(**{**params, "nextToken": token})
        pages.append(page)
        merged[key] = merged[key] + page[key]
        if key == "events" and "searchedLogStreams" in page:
            merged["searchedLogStreams"] = page["searchedLogStreams"]
        token = page.get("nextToken")
    merged.pop("nextToken", None)
    result_keys = (key, "searchedLogStreams") if key == "events" else (key,)  # botocore's paginator result keys
    return PagedResponse(merged, pages, result_keys)


@group.command("describe-log-groups")
@click.option("--log-group-name-prefix", default=None, help="Only groups whose name starts with this.")
@click.option("--limit", type=int, default=None, help="Page size (1-50); returns one page with nextToken.")
@click.option("--next-token", default=None, help="Continue after a previous page.")
@click.pass_context
def describe_log_groups(ctx: click.Context, log_group_name_prefix: str | None, limit: int | None,
                        next_token: str | None) -> None:
    """List log groups (DescribeLogGroups)."""

    def call(c: Ctx) -> dict[str, Any]:
        store = c.store()
        c.authorize("logs:DescribeLogGroups", store.group_arn("*"))
        params = clean({"logGroupNamePrefix": log_group_name_prefix, "limit": limit, "nextToken": next_token})
        return _all_pages(store.describe_log_groups, "logGroups", params, limit is None and next_token is None)

    run_call(ctx, "DescribeLogGroups", call)


@group.command("describe-log-streams")
@click.option("--log-group-name", required=True, help="The log group.")
@click.option("--log-stream-name-prefix", default=None, help="Only streams whose name starts with this.")
@click.option("--order-by", type=click.Choice(["LogStreamName", "LastEventTime"]), default=None)
@click.option("--descending/--no-descending", default=None)
@click.option("--limit", type=int, default=None, help="Page size (1-50); returns one page with nextToken.")
@click.option("--next-token", default=None)
@click.pass_context
def describe_log_streams(ctx: click.Context, log_group_name: str, log_stream_name_prefix: str | None,
                         order_by: str | None, descending: bool | None, limit: int | None,
                         next_token: str | None) -> None:
    """List the streams of a log group (DescribeLogStreams)."""

    def call(c: Ctx) -> dict[str, Any]:
        store = c.store()
        c.authorize("logs:DescribeLogStreams", store.group_arn(log_group_name))
        params = clean({"logGroupName": log_group_name, "logStreamNamePrefix": log_stream_name_prefix,
                         "orderBy": order_by, "descending": descending, "limit": limit, "nextToken": next_token})
        return _all_pages(store.describe_log_streams, "logStreams", params, limit is None and next_token is None)

    run_call(ctx, "DescribeLogStreams", call)


@group.command("get-log-events")
@click.option("--log-group-name", required=True)
@click.option("--log-stream-name", required=True)
@click.option("--start-time", type=int, default=None, help="Epoch ms, inclusive.")
@click.option("--end-time", type=int, default=None, help="Epoch ms, exclusive.")
@click.option("--next-token", default=None, help="nextForwardToken or nextBackwardToken of a previous call.")
@click.option("--limit", type=int, default=None, help="At most this many events (1-10000).")
@click.option("--start-from-head/--no-start-from-head", default=None,
              help="Oldest events first (default: the newest page).")
@click.pass_context
def get_log_events(ctx: click.Context, log_group_name: str, log_stream_name: str, start_time: int | None,
                   end_time: int | None, next_token: str | None, limit: int | None,
                   start_from_head: bool | None) -> None:
    """Events of one stream (GetLogEvents), with forward and backward tokens."""

    def call(c: Ctx) -> dict[str, Any]:
        store = c.store()
        c.authorize("logs:GetLogEvents", store.stream_arn(log_group_name, log_stream_name))
        return store.get_log_events(**clean({
            "logGroupName": log_group_name, "logStreamName": log_stream_name, "startTime": start_time,
            "endTime": end_time, "nextToken": next_token, "limit": limit, "startFromHead": start_from_head}))

    run_call(ctx, "GetLogEvents", call)


@group.command("filter-log-events")
@click.option("--log-group-name", required=True)
@click.option("--log-stream-names", multiple=True, help="Streams to search (repeat or space-separate).")
@click.option("--log-stream-name-prefix", default=None)
@click.option("--start-time", type=int, default=None, help="Epoch ms, inclusive.")
@click.option("--end-time", type=int, default=None, help="Epoch ms, exclusive.")
@click.option("--filter-pattern", default=None, help="CloudWatch filter pattern (terms or [space, delimited]).")
@click.option("--limit", type=int, default=None, help="At most this many events (1-10000); one page.")
@click.option("--next-token", default=None)
@click.pass_context
def filter_log_events_cmd(ctx: click.Context, log_group_name: str, log_stream_names: tuple[str, ...],
                          log_stream_name_prefix: str | None, start_time: int | None, end_time: int | None,
                          filter_pattern: str | None, limit: int | None, next_token: str | None) -> None:
    """Search a log group's events with a filter pattern (FilterLogEvents)."""
    names = [n for value in log_stream_names for n in value.split()] or None

    def call(c: Ctx) -> dict[str, Any]:
        store = c.store()
        c.authorize("logs:FilterLogEvents", store.group_arn(log_group_name))
        params = clean({"logGroupName": log_group_name, "logStreamNames": names,
                         "logStreamNamePrefix": log_stream_name_prefix, "startTime": start_time,
                         "endTime": end_time, "filterPattern": filter_pattern, "limit": limit,
                         "nextToken": next_token})

        def page(**kw: Any) -> dict[str, Any]:
            from vpcflow.query.readers import filter_log_events  # Arrow and numpy: only this command reads events

            return filter_log_events(store, **kw)

        return _all_pages(page, "events", params, limit is None and next_token is None)

    run_call(ctx, "FilterLogEvents", call)


@group.command("create-log-group")
@click.option("--log-group-name", required=True)
@click.pass_context
def create_log_group(ctx: click.Context, log_group_name: str) -> None:
    """Create a log group (CreateLogGroup)."""

    def call(c: Ctx) -> dict[str, Any]:
        store = c.store()
        c.authorize("logs:CreateLogGroup", store.group_arn(log_group_name))
        return store.create_log_group(logGroupName=log_group_name)

    run_call(ctx, "CreateLogGroup", call)


@group.command("delete-log-group")
@click.option("--log-group-name", required=True)
@click.pass_context
def delete_log_group(ctx: click.Context, log_group_name: str) -> None:
    """Delete a log group with its streams and events (DeleteLogGroup)."""

    def call(c: Ctx) -> dict[str, Any]:
        store = c.store()
        c.authorize("logs:DeleteLogGroup", store.group_arn(log_group_name))
        return store.delete_log_group(logGroupName=log_group_name)

    run_call(ctx, "DeleteLogGroup", call)


@group.command("put-retention-policy")
@click.option("--log-group-name", required=True)
@click.option("--retention-in-days", type=int, required=True, help="1, 3, 5, 7, 14, 30, 60, 90, ... 3653.")
@click.pass_context
def put_retention_policy(ctx: click.Context, log_group_name: str, retention_in_days: int) -> None:
    """Keep a log group's events this many days; older ones are deleted (PutRetentionPolicy)."""

    def call(c: Ctx) -> dict[str, Any]:
        store = c.store()
        c.authorize("logs:PutRetentionPolicy", store.group_arn(log_group_name))
        return store.put_retention_policy(logGroupName=log_group_name, retentionInDays=retention_in_days)

    run_call(ctx, "PutRetentionPolicy", call)


@group.command("delete-retention-policy")
@click.option("--log-group-name", required=True)
@click.pass_context
def delete_retention_policy(ctx: click.Context, log_group_name: str) -> None:
    """Keep a log group's events forever (DeleteRetentionPolicy)."""

    def call(c: Ctx) -> dict[str, Any]:
        store = c.store()
        c.authorize("logs:DeleteRetentionPolicy", store.group_arn(log_group_name))
        return store.delete_retention_policy(logGroupName=log_group_name)

    run_call(ctx, "DeleteRetentionPolicy", call)

__all__ = ["group"]
