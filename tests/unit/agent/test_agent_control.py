"""From DescribeFlowLogs items and a topology document to what an agent records (owned ENIs, spec 2.8)."""

from __future__ import annotations

from datetime import UTC, datetime

from vpcflow.agent.config import build_config
from vpcflow.agent.control import build_snapshot, flow_log_from_item, snapshot_from_json
from vpcflow.agent.runner import segment_length

ACCT = "123456789012"
VPC, SUB = "vpc-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa1"
ENI_A, ENI_B = "eni-0aaaaaaaaaaaaaaa1", "eni-0bbbbbbbbbbbbbbb2"
DOC = {
    "account_id": ACCT, "region": "us-east-1",
    "vpcs": [{"name": "v", "id": VPC, "cidr_block": "10.0.0.0/16",
              "subnets": [{"name": "s", "id": SUB, "cidr_block": "10.0.1.0/24", "availability_zone": "us-east-1a"}]}],
    "network_interfaces": [{"name": "a", "id": ENI_A, "subnet": "s", "private_ip": "10.0.1.10"},
                           {"name": "b", "id": ENI_B, "subnet": "s", "private_ip": "10.0.1.20", "nitro": False}],
}


def item(fid: str, resource: str, **extra: object) -> dict[str, object]:
    return {"FlowLogId": fid, "ResourceId": resource, "TrafficType": "ALL", "LogDestinationType": "s3",
            "LogDestination": "arn:aws:s3:::b/p/", "LogFormat": "${version} ${interface-id}",
            "MaxAggregationInterval": 600, "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
            "FlowLogStatus": "ACTIVE", "DeliverLogsStatus": "SUCCESS", **extra}


def test_a_describe_item_becomes_a_flow_log() -> None:
    fl = flow_log_from_item(item("fl-0123456789abcdef0", SUB, DestinationOptions={"FileFormat": "parquet"}),
                            ACCT, "us-east-1")
    assert (fl.resource_type, fl.s3_bucket, fl.s3_prefix, fl.max_aggregation_interval) == ("Subnet", "b", "p/", 600)
    assert fl.destination_options is not None and fl.destination_options.file_format == "parquet"


def test_only_flow_logs_covering_owned_enis_are_kept_and_status_does_not_change_the_digest() -> None:
    items = [item("fl-000000000000000a1", ENI_A), item("fl-000000000000000b2", ENI_B),
             item("fl-000000000000000c3", VPC), item("fl-000000000000000d4", SUB, FlowLogStatus="DELETING"),
             item("fl-000000000000000e5", "tgw-0123456789abcdef0")]
    snap = build_snapshot(DOC, items, frozenset({ENI_A}))
    assert [f.flow_log_id for f in snap.flow_logs] == ["fl-000000000000000a1", "fl-000000000000000c3"]
    failed = [dict(i, DeliverLogsStatus="FAILED", DeliverLogsErrorMessage="Access error") for i in items]
    assert build_snapshot(DOC, failed, frozenset({ENI_A})).digest == snap.digest
    assert snapshot_from_json(snap.as_json(), frozenset({ENI_A})).digest == snap.digest
    assert build_snapshot(DOC, items[:1], frozenset({ENI_A})).digest != snap.digest


def test_segments_hold_whole_windows_of_every_owned_eni() -> None:
    # ENI_A is Nitro (60-s windows whatever the flow log says, spec 2.1); ENI_B is not: 600 s.
    items = [item("fl-000000000000000c3", VPC)]
    cfg = build_config({"state_dir": "/s", "region": "us-east-1", "devices": {"e0": ENI_A}, "segment_s": 120})
    assert segment_length(cfg, build_snapshot(DOC, items, cfg.owned)) == 120
    cfg_b = build_config({"state_dir": "/s", "region": "us-east-1", "devices": {"e0": ENI_B}, "segment_s": 120})
    assert segment_length(cfg_b, build_snapshot(DOC, items, cfg_b.owned)) == 600
