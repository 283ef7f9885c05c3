"""``vpcflow ec2``: the flow-log operations with the AWS CLI's names, flags and JSON output.

    vpcflow ec2 create-flow-logs --resource-ids vpc-1 --resource-type VPC --traffic-type ALL \\
        --log-destination-type s3 --log-destination arn:aws:s3:::bucket/prefix/
    vpcflow ec2 describe-flow-logs --filter Name=resource-id,Values=vpc-1
    vpcflow ec2 delete-flow-logs --flow-log-ids fl-...

Output is the AWS CLI's (PascalCase keys, ISO-8601 timestamps, no ResponseMetadata): ``--output
json|text|table|yaml`` and ``--query`` (JMESPath) on every command, as ``aws`` prints them (docs/cli-output.md).
An API error prints ``An error occurred (Code) when calling the Operation operation: message`` on
stderr and exits 254, the AWS CLI's code for service errors. ``--principal`` (or
``$VPCFLOW_PRINCIPAL``) is the caller: an IAM user/role ARN or an access key id; default the root.
``check-delivery`` runs the delivery-time permission checks now (docs/controlplane.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from vpcflow.cli._output import AwsCliGroup, PagedResponse, emit_aws_response
from vpcflow.cli._shorthand import AwsCommand, ShorthandError, strings, struct, structs, to_bool
from vpcflow.core.errors import ApiError
from vpcflow.runtime.client import Ec2Client

AWS_CLI_ERROR_EXIT = 254


def api_call(operation: str, fn: Callable[[], dict[str, Any]]) -> None:
    try:
        result = fn()
    except ApiError as e:
        click.echo(f"\nAn error occurred ({e.code}) when calling the {operation} operation: {e.message}", err=True)
        sys.exit(AWS_CLI_ERROR_EXIT)
    emit_aws_response(operation, result)  # nothing at all for an empty response (create-tags)


def _client(ctx: click.Context, data_dir: str | None, principal: str | None) -> Ec2Client:
    parent = ctx.find_object(dict) or {}
    return Ec2Client(data_dir or parent.get("data_dir"), principal or parent.get("principal"))


def common(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--data-dir`` and ``--principal`` on every subcommand too (AWS CLI global options go anywhere)."""
    f = click.option("--principal", default=None, help="Caller: IAM user/role ARN or access key id (default: root).")(f)
    f = click.option("--data-dir", default=None, type=click.Path(file_okay=False), help="Data directory.")(f)
    return click.pass_context(f)


@click.group(cls=AwsCliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    envvar="VPCFLOW_DATA_DIR",
    default=None,
    type=click.Path(file_okay=False),
    help="Data directory (default $VPCFLOW_DATA_DIR or ./vpcflow-data).",
)
@click.option(
    "--principal",
    envvar="VPCFLOW_PRINCIPAL",
    default=None,
    help="Caller: IAM user/role ARN, assumed-role ARN or access key id (default: the account root).",
)
@click.pass_context
def group(ctx: click.Context, data_dir: str | None, principal: str | None) -> None:
    """EC2 flow-log operations (AWS CLI names, flags and output)."""
    ctx.obj = {"data_dir": data_dir, "principal": principal}  # fmt: skip


def _tag_specs(values: tuple[str, ...]) -> list[dict[str, Any]] | None:
    if not values:
        return None
    return structs(values, "--tag-specifications")


def _destination_options(value: str | None) -> dict[str, Any] | None:
    opts = struct(value, "--destination-options")
    if opts is None:
        return None
    for key in ("HiveCompatiblePartitions", "PerHourPartition"):
        if key in opts:
            opts[key] = to_bool(opts[key], key)
    return opts


@group.command("create-flow-logs", cls=AwsCommand)
@click.option("--resource-ids", multiple=True, required=True, help="VPC, subnet or ENI ids (space-separated).")
@click.option("--resource-type", required=True, help="VPC | Subnet | NetworkInterface.")
@click.option("--traffic-type", default=None, help="ACCEPT | REJECT | ALL.")
@click.option("--log-destination-type", default=None, help="cloud-watch-logs (default) | s3.")
@click.option("--log-destination", default=None, help="arn:aws:s3:::bucket[/prefix/] or a log-group ARN.")
@click.option("--log-group-name", default=None, help="CloudWatch Logs group (cloud-watch-logs only).")
@click.option("--deliver-logs-permission-arn", default=None, help="IAM role the service assumes (CloudWatch Logs).")
@click.option("--log-format", default=None, help="Custom format: '${version} ${srcaddr} ...'.")
@click.option("--max-aggregation-interval", type=int, default=None, help="60 or 600 (default).")
@click.option(
    "--destination-options",
    default=None,
    help="FileFormat=plain-text|parquet,HiveCompatiblePartitions=bool,PerHourPartition=bool (or JSON).",
)
@click.option("--tag-specifications", multiple=True, help="ResourceType=vpc-flow-log,Tags=[{Key=k,Value=v}] (or JSON).")
@click.option("--client-token", default=None, help="Idempotency token.")
@click.option("--dry-run/--no-dry-run", default=False, help="Check permissions only.")
@common
def create_flow_logs(ctx: click.Context, data_dir: str | None, principal: str | None, **o: Any) -> None:
    """Create flow logs (one per resource id)."""
    try:
        params: dict[str, Any] = {
            "ResourceIds": strings(o["resource_ids"]),
            "ResourceType": o["resource_type"],
            "TrafficType": o["traffic_type"],
            "LogDestinationType": o["log_destination_type"],
            "LogDestination": o["log_destination"],
            "LogGroupName": o["log_group_name"],
            "DeliverLogsPermissionArn": o["deliver_logs_permission_arn"],
            "LogFormat": o["log_format"],
            "MaxAggregationInterval": o["max_aggregation_interval"],
            "DestinationOptions": _destination_options(o["destination_options"]),
            "TagSpecifications": _tag_specs(o["tag_specifications"]),
            "ClientToken": o["client_token"],
            "DryRun": o["dry_run"] or None,
        }
    except ShorthandError as e:
        raise click.UsageError(e.format_message()) from None
    params = {k: v for k, v in params.items() if v is not None}
    with _client(ctx, data_dir, principal) as c:
        api_call("CreateFlowLogs", lambda: c.create_flow_logs(**params))


@group.command("describe-flow-logs", cls=AwsCommand)
@click.option("--filter", "filters", multiple=True, help="Name=NAME,Values=V1,V2 (or JSON); repeatable.")
@click.option("--flow-log-ids", multiple=True, help="Flow log ids (space-separated).")
@click.option("--max-results", type=int, default=None, help="Page size (5-1000).")
@click.option("--next-token", default=None, help="Token from a previous page.")
@click.option("--dry-run/--no-dry-run", default=False, help="Check permissions only.")
@common
def describe_flow_logs(ctx: click.Context, data_dir: str | None, principal: str | None, **o: Any) -> None:
    """Describe flow logs (all pages unless --max-results is given, like the AWS CLI)."""
    try:
        filters = structs(o["filters"], "--filter") if o["filters"] else None
    except ShorthandError as e:
        raise click.UsageError(e.format_message()) from None
    if filters:
        for f in filters:
            v = f.get("Values")
            if isinstance(v, str):
                f["Values"] = [v]
    params: dict[str, Any] = {
        "Filter": filters,
        "FlowLogIds": strings(o["flow_log_ids"]) if o["flow_log_ids"] else None,
        "MaxResults": o["max_results"],
        "NextToken": o["next_token"],
        "DryRun": o["dry_run"] or None,
    }
    params = {k: v for k, v in params.items() if v is not None}
    with _client(ctx, data_dir, principal) as c:
        if o["max_results"] is not None or o["next_token"] is not None:
            api_call("DescribeFlowLogs", lambda: c.describe_flow_logs(**params))
            return

        def all_pages() -> dict[str, Any]:
            pages = list(c.get_paginator("describe_flow_logs").paginate(**params))
            merged = {"FlowLogs": [fl for page in pages for fl in page["FlowLogs"]]}
            return PagedResponse(merged, pages, ("FlowLogs",))  # text output prints page by page

        api_call("DescribeFlowLogs", all_pages)


@group.command("delete-flow-logs", cls=AwsCommand)
@click.option("--flow-log-ids", multiple=True, required=True, help="Flow log ids (space-separated).")
@click.option("--dry-run/--no-dry-run", default=False, help="Check permissions only.")
@common
def delete_flow_logs(ctx: click.Context, data_dir: str | None, principal: str | None, **o: Any) -> None:
    """Delete flow logs (delivered data is kept, spec 2.9)."""
    params: dict[str, Any] = {"FlowLogIds": strings(o["flow_log_ids"])}
    if o["dry_run"]:
        params["DryRun"] = True
    with _client(ctx, data_dir, principal) as c:
        api_call("DeleteFlowLogs", lambda: c.delete_flow_logs(**params))


def _tags(values: tuple[str, ...], *, need_value: bool) -> list[dict[str, Any]]:
    try:
        items = structs(values, "--tags")
    except ShorthandError as e:
        raise click.UsageError(e.format_message()) from None
    if need_value:
        for t in items:
            t.setdefault("Value", "")
    return items


@group.command("create-tags", cls=AwsCommand)
@click.option("--resources", multiple=True, required=True, help="Flow log ids (space-separated).")
@click.option("--tags", multiple=True, required=True, help="Key=k,Value=v (space-separated, or JSON).")
@click.option("--dry-run/--no-dry-run", default=False, help="Check permissions only.")
@common
def create_tags(ctx: click.Context, data_dir: str | None, principal: str | None, **o: Any) -> None:
    """Add or overwrite tags of flow logs (the only change a flow log allows)."""
    params: dict[str, Any] = {"Resources": strings(o["resources"]), "Tags": _tags(o["tags"], need_value=True)}
    if o["dry_run"]:
        params["DryRun"] = True
    with _client(ctx, data_dir, principal) as c:
        api_call("CreateTags", lambda: c.create_tags(**params))


@group.command("delete-tags", cls=AwsCommand)
@click.option("--resources", multiple=True, required=True, help="Flow log ids (space-separated).")
@click.option("--tags", multiple=True, help="Key=k[,Value=v]: without Value any value; no --tags: every tag.")
@click.option("--dry-run/--no-dry-run", default=False, help="Check permissions only.")
@common
def delete_tags(ctx: click.Context, data_dir: str | None, principal: str | None, **o: Any) -> None:
    """Remove tags from flow logs."""
    params: dict[str, Any] = {"Resources": strings(o["resources"])}
    if o["tags"]:
        params["Tags"] = _tags(o["tags"], need_value=False)
    if o["dry_run"]:
        params["DryRun"] = True
    with _client(ctx, data_dir, principal) as c:
        api_call("DeleteTags", lambda: c.delete_tags(**params))


@group.command("modify-flow-logs", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@common
def modify_flow_logs(ctx: click.Context, data_dir: str | None, principal: str | None) -> None:
    """Refused: flow logs are immutable (spec 2.9); delete and re-create, or change tags."""
    with _client(ctx, data_dir, principal) as c:
        api_call("ModifyFlowLogs", lambda: c.modify_flow_logs())


@group.command("check-delivery", cls=AwsCommand)
@click.option("--flow-log-ids", multiple=True, help="Only these flow logs (default: all).")
@click.option("--explain/--no-explain", default=False, help="Add every IAM decision behind each result.")
@common
def check_delivery(ctx: click.Context, data_dir: str | None, principal: str | None, **o: Any) -> None:
    """Run the delivery-time permission checks now and update DeliverLogsStatus (vpcflow addition)."""
    ids = strings(o["flow_log_ids"]) if o["flow_log_ids"] else None
    with _client(ctx, data_dir, principal) as c:

        def run() -> dict[str, Any]:
            results = c.check_delivery(ids)
            items = []
            for fl_id, check in results.items():
                item: dict[str, Any] = {"FlowLogId": fl_id, "DeliverLogsStatus": "SUCCESS" if check.ok else "FAILED"}
                if not check.ok:
                    item["DeliverLogsErrorMessage"] = check.aws_message or "Access error"
                item["Reason"] = check.reason
                if o["explain"]:
                    item["Decisions"] = [d.explain() for d in check.decisions]
                items.append(item)
            return {"FlowLogs": items}

        api_call("CheckDelivery", run)
