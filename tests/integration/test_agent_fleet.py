"""`vpcflow agent` without root (issue 12 item 1): two agents, fake feeds, an in-process endpoint.

Each agent owns one ENI and sees the packets of its host; both deliver to one bucket of the endpoint.
The records are those of the owned ENIs only, no ENI-window holds NODATA and traffic, a flow log
created while the agents run starts recording at the next segment and a deleted one stops, and a
revoked security-group rule refuses new connections while a tracked one continues.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_kit import (  # noqa: F401  (fleet_ep: the `ep` fixture)
    ACCT,
    BUCKET,
    ENI_A,
    ENI_B,
    IP_A,
    IP_B,
    SG_B,
    T0,
    Clock,
    bucket_keys,
    bucket_lines,
    by_eni_window,
    connection,
    create_s3_flow_log,
    fleet_endpoint,
    fleet_ep,
    flows,
    make_agent,
    tcp_batch,
    use_root_credentials,
)
from api_helpers import Endpoint


def one_segment(agents, clock: Clock, start: int, traffic: dict) -> None:
    """Every agent records the segment [start, start + 60) with the packets given per agent index."""
    segs = []
    clock.t = start + 1
    for i, (agent, feed) in enumerate(agents):
        agent.refresh()
        segs.append(agent.new_segment(agent.state.delivered_until()))
        for rows in traffic.get(i, []):
            feed.queue.put(tcp_batch(feed.interfaces[0], rows))
    clock.t = start + 63
    for (agent, _feed), seg in zip(agents, segs, strict=True):
        assert seg.start == start
        agent.run_segment(seg)


def test_two_agents_record_only_their_own_enis_and_never_contradict(
        ep: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_kit import use_agent_credentials

    create_s3_flow_log(ep)
    use_agent_credentials(monkeypatch)  # what the agents may do: docs/agent.md "The fleet's IAM user"
    clock = Clock(T0)
    agents = [make_agent(ep, tmp_path / "a", ENI_A, clock, agent_id="host-a"),
              make_agent(ep, tmp_path / "b", ENI_B, clock, agent_id="host-b")]
    conn = connection(T0 + 10, IP_A, IP_B, 40000)
    # The same packets cross A's and B's interfaces; in the second minute nothing happens.
    one_segment(agents, clock, T0, {0: [conn], 1: [conn]})
    one_segment(agents, clock, T0 + 60, {})
    lines = bucket_lines(ep)
    windows = by_eni_window(lines)
    assert {k: sorted(set(v)) for k, v in windows.items()} == {
        (ENI_A, T0): ["OK"], (ENI_B, T0): ["OK"], (ENI_A, T0 + 60): ["NODATA"], (ENI_B, T0 + 60): ["NODATA"]}
    assert flows(lines) == {
        (ENI_A, IP_A, IP_B, "40000", "80"): 4, (ENI_A, IP_B, IP_A, "80", "40000"): 2,
        (ENI_B, IP_A, IP_B, "40000", "80"): 4, (ENI_B, IP_B, IP_A, "80", "40000"): 2}
    # Each agent wrote its own objects; nothing is doubled (one OK line per ENI and direction).
    assert len([ln for ln in lines if ln.endswith(" OK")]) == 4


def test_a_flow_log_created_later_records_from_the_next_segment_and_a_deleted_one_stops(
        ep: Endpoint, tmp_path: Path) -> None:
    clock = Clock(T0)
    agents = [make_agent(ep, tmp_path / "a", ENI_A, clock, agent_id="host-a")]
    one_segment(agents, clock, T0, {0: [connection(T0 + 5, IP_A, IP_B, 40001)]})
    assert bucket_lines(ep) == []  # no flow log yet: nothing recorded
    fid = create_s3_flow_log(ep, ENI_A, prefix="later")
    one_segment(agents, clock, T0 + 60, {0: [connection(T0 + 65, IP_A, IP_B, 40002)]})
    got = flows(bucket_lines(ep, "later/"))
    assert set(got) == {(ENI_A, IP_A, IP_B, "40002", "80"), (ENI_A, IP_B, IP_A, "80", "40002")}
    ep.client("ec2").delete_flow_logs(FlowLogIds=[fid])
    before = bucket_keys(ep)
    one_segment(agents, clock, T0 + 120, {0: [connection(T0 + 125, IP_A, IP_B, 40003)]})
    assert bucket_keys(ep) == before


def test_a_revoked_rule_refuses_new_connections_while_a_tracked_one_continues(ep: Endpoint, tmp_path: Path) -> None:
    fid = create_s3_flow_log(ep, ENI_B)
    clock = Clock(T0)
    agents = [make_agent(ep, tmp_path / "b", ENI_B, clock, agent_id="host-b")]
    syn = [(T0 + 5, IP_A, IP_B, 41000, 80, 2), (T0 + 5.1, IP_B, IP_A, 80, 41000, 18),
           (T0 + 5.2, IP_A, IP_B, 41000, 80, 16)]
    one_segment(agents, clock, T0, {0: [syn]})
    ep.client("ec2").revoke_security_group_ingress(
        GroupId=SG_B, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                      "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}])
    # The old connection goes on; a new one to port 80 is refused (spec: security groups are stateful).
    later = [(T0 + 70, IP_A, IP_B, 41000, 80, 24), (T0 + 71, IP_A, IP_B, 41001, 80, 2)]
    one_segment(agents, clock, T0 + 60, {0: [later]})
    actions = {(f.split(" ")[5], f.split(" ")[12]) for f in bucket_lines(ep)
               if f.split(" ")[13] == "OK" and int(f.split(" ")[10]) >= T0 + 60 and f.split(" ")[4] == IP_B}
    assert actions == {("41000", "ACCEPT"), ("41001", "REJECT")}
    # The deciding rule went to the same bucket under vpcflow's own prefix, outside AWSLogs/ (docs/agent.md).
    side = [k for k in bucket_keys(ep) if not k.startswith("AWSLogs/")]
    assert len(side) == 1 and side[0].startswith(f"vpcflow-side-channel/{ACCT}/us-east-1/")
    assert side[0].endswith(f"/{T0 + 60}_host-b_{fid}.rejects.jsonl")
    import json

    rows = [json.loads(ln) for ln in ep.client("s3").get_object(Bucket=BUCKET, Key=side[0])["Body"].read().splitlines()]
    assert [(r["interface_id"], r["srcport"], r["dstport"]) for r in rows] == [(ENI_B, 41001, 80)]
    assert rows[0]["rule"] and "sg-" in rows[0]["rule"]
    # Reports over the server's data directory see the fleet's deciding rules.
    from vpcflow.cli._sources import open_database

    db = open_database(ep.data_dir, ())
    seen = db.query("SELECT dstport, flow_log_id FROM vpc_flow_log_rejections").to_pylist()
    assert seen == [{"dstport": 80, "flow_log_id": fid}]


def test_delivery_status_reaches_describe_flow_logs_failed_then_success(ep: Endpoint, tmp_path: Path) -> None:
    """The vpcflow extension action (docs/agent.md): FAILED / Access error while the bucket refuses,
    the records spooled; SUCCESS once it accepts and the spool drained; nothing lost or doubled."""
    from agent_kit import REGION

    from vpcflow.agent.status import StatusReporter

    s3 = ep.client("s3")
    fid = create_s3_flow_log(ep, ENI_A)
    import json

    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                                                    "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(deny))  # the destination refuses: Access error
    clock = Clock(T0)
    agent, feed = make_agent(ep, tmp_path / "a", ENI_A, clock, agent_id="host-a")
    import boto3

    agent.reporter = StatusReporter(boto3.Session(), endpoint_url=ep.url, region=REGION, agent_id="host-a")
    one_segment([(agent, feed)], clock, T0, {0: [connection(T0 + 5, IP_A, IP_B, 42000)]})
    agent.refresh()

    def described() -> tuple[str, str | None]:
        item = ep.client("ec2").describe_flow_logs(FlowLogIds=[fid])["FlowLogs"][0]
        return item["DeliverLogsStatus"], item.get("DeliverLogsErrorMessage")

    assert agent.state.statuses()[fid]["status"] == "FAILED", agent.state.statuses()
    assert described() == ("FAILED", "Access error")
    s3.delete_bucket_policy(Bucket=BUCKET)
    one_segment([(agent, feed)], clock, T0 + 60, {})
    agent.refresh()
    assert described() == ("SUCCESS", None)
    lines = bucket_lines(ep)
    assert sorted(ln.split(" ")[13] for ln in lines) == ["NODATA", "OK", "OK"]


def test_the_status_extension_is_under_iam(ep: Endpoint) -> None:
    from api_helpers import raw_request

    fid = create_s3_flow_log(ep)
    body = f"Action=VpcflowReportDeliveryStatus&Version=2016-11-15&FlowLogId={fid}&DeliverLogsStatus=SUCCESS"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert raw_request(ep, body.encode(), headers).status == 200
    unsigned = raw_request(ep, body.encode(), headers, key=None)
    assert unsigned.status in (400, 401, 403)
    bad = raw_request(ep, body.replace("SUCCESS", "BROKEN").encode(), headers)
    assert bad.status == 400 and bad.xml_error()[0] == "InvalidParameterValue"
    unknown = raw_request(ep, body.replace(fid, "fl-0123456789abcdef0").encode(), headers)
    assert unknown.status == 400 and unknown.xml_error()[0] == "InvalidFlowLogId.NotFound"
    # Under IAM: the fleet's user may report, a user who may only describe may not.
    from agent_kit import AGENT_KEY, READER_KEY

    assert raw_request(ep, body.encode(), headers, key=AGENT_KEY).status == 200
    denied = raw_request(ep, body.encode(), headers, key=READER_KEY)
    assert denied.status == 403 and denied.xml_error()[0] == "UnauthorizedOperation"


def test_a_killed_agent_restarted_replays_its_journal_losing_and_doubling_nothing(
        ep: Endpoint, tmp_path: Path) -> None:
    """The open segment and its journal survive the process: a new agent on the same state directory
    records the segment again from the journal (same identity), so the packets read before the kill
    are delivered once, with those read after the restart."""
    create_s3_flow_log(ep, ENI_A)
    clock = Clock(T0 + 1)
    first, feed = make_agent(ep, tmp_path / "a", ENI_A, clock, agent_id="host-a")
    first.refresh()
    seg = first.new_segment(None)
    # What the killed process did: journal the first packets of the open segment, deliver nothing.
    from vpcflow.agent.feed import SegmentSource

    src = SegmentSource(feed, first.state.journal / str(seg.start), 0, seg.end, stop=lambda: False, clock=clock)
    feed.queue.put(tcp_batch(ENI_A, connection(T0 + 5, IP_A, IP_B, 43000)))
    it = src.batches()
    next(it)
    it.close()
    del first
    assert bucket_lines(ep) == []
    second, feed2 = make_agent(ep, tmp_path / "a", ENI_A, clock, agent_id="host-a")
    second.refresh()
    assert second.state.open_segment() == seg
    feed2.queue.put(tcp_batch(ENI_A, connection(T0 + 30, IP_A, IP_B, 43001)))
    clock.t = T0 + 63
    second.run_segment(seg)
    second.run_segment(seg)  # a second kill after delivery and before the segment was closed: no double
    assert flows(bucket_lines(ep)) == {
        (ENI_A, IP_A, IP_B, "43000", "80"): 4, (ENI_A, IP_B, IP_A, "80", "43000"): 2,
        (ENI_A, IP_A, IP_B, "43001", "80"): 4, (ENI_A, IP_B, IP_A, "80", "43001"): 2}


def test_cloudwatch_logs_flow_logs_get_the_owned_enis_streams_and_the_side_channel_its_own(
        ep: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_kit import ROLE, use_agent_credentials

    logs = ep.client("logs")
    logs.create_log_group(logGroupName="/fleet")
    resp = ep.client("ec2").create_flow_logs(
        ResourceIds=[ENI_B], ResourceType="NetworkInterface", TrafficType="ALL", LogGroupName="/fleet",
        DeliverLogsPermissionArn=ROLE, MaxAggregationInterval=60)
    assert resp["FlowLogIds"], resp
    ep.client("ec2").revoke_security_group_ingress(
        GroupId=SG_B, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                      "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}])
    import time

    t0 = int(time.time()) // 60 * 60 - 600  # CloudWatch Logs refuses events older than 14 days
    use_agent_credentials(monkeypatch)
    clock = Clock(t0)
    agent = make_agent(ep, tmp_path / "b", ENI_B, clock, agent_id="host-b")
    one_segment([agent], clock, t0, {0: [[(t0 + 5, IP_A, IP_B, 44000, 80, 2)]]})
    streams = sorted(s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/fleet")["logStreams"])
    assert streams == [f"{ENI_B}-all", "vpcflow-side-channel/host-b"], agent[0].state.statuses()
    events = logs.get_log_events(logGroupName="/fleet", logStreamName=f"{ENI_B}-all", startFromHead=True)["events"]
    assert [e["message"].split(" ")[12:] for e in events] == [["REJECT", "OK"]]
    side = logs.get_log_events(logGroupName="/fleet", logStreamName="vpcflow-side-channel/host-b",
                               startFromHead=True)["events"]
    assert len(side) == 1 and '"dstport":80' in side[0]["message"] and side[0]["timestamp"] == (t0 + 5) * 1000


def test_a_followed_directory_of_rotating_captures_is_read_once_across_restarts(
        ep: Endpoint, tmp_path: Path) -> None:
    import time

    import boto3

    from vpcflow.agent.config import build_config
    from vpcflow.agent.control import ControlPlane
    from vpcflow.agent.feed import FollowFeed
    from vpcflow.agent.main import FollowProgress
    from vpcflow.agent.runner import Agent
    from vpcflow.agent.state import AgentState
    from vpcflow.dataplane.sources.pcap_writer import write_pcap

    create_s3_flow_log(ep, ENI_A)
    captures = tmp_path / "captures"
    captures.mkdir()
    write_pcap(captures / "cap-001.pcap", tcp_batch(ENI_A, connection(T0 + 5, IP_A, IP_B, 45000)))
    write_pcap(captures / "cap-002.pcap", tcp_batch(ENI_A, connection(T0 + 20, IP_A, IP_B, 45001)))
    clock = Clock(T0 + 1)
    cfg = build_config({"state_dir": str(tmp_path / "st"), "region": "us-east-1", "endpoint_url": ep.url,
                        "follow": {"dir": str(captures), "interface": ENI_A, "settle_s": 0, "max_delay_s": 1},
                        "agent_id": "f"})

    def agent() -> tuple[Agent, FollowFeed]:
        progress = FollowProgress(AgentState(cfg.state_dir))
        feed = FollowFeed(captures, ENI_A, 0, progress.load, max_delay_s=1)
        a = Agent(cfg, [feed], control=ControlPlane(boto3.Session(), endpoint_url=ep.url, region="us-east-1"),
                  clock=clock)
        a.journaled = progress.record
        feed.start()
        return a, feed

    def settle(feed: FollowFeed, items: int) -> None:
        deadline = time.monotonic() + 60
        while feed.queue.qsize() < items:
            assert time.monotonic() < deadline, "the followed files were not read"
            time.sleep(0.05)

    first, feed = agent()
    first.refresh()
    seg = first.new_segment(None)
    settle(feed, 4)  # two files: a batch and an end-of-file mark each
    clock.t = T0 + 63
    first.run_segment(seg)
    feed.close()
    # A restarted agent reads only the file written since; what was read before is not read again.
    write_pcap(captures / "cap-003.pcap", tcp_batch(ENI_A, connection(T0 + 65, IP_A, IP_B, 45002)))
    second, feed2 = agent()
    second.refresh()
    seg2 = second.new_segment(second.state.delivered_until())
    settle(feed2, 2)
    clock.t = T0 + 123
    second.run_segment(seg2)
    feed2.close()
    got = flows(bucket_lines(ep))
    assert {k[3]: v for k, v in got.items() if k[1] == IP_A} == {"45000": 4, "45001": 4, "45002": 4}


def test_time_the_agent_was_not_running_is_no_segment_and_gets_no_nodata(ep: Endpoint, tmp_path: Path) -> None:
    create_s3_flow_log(ep, ENI_A)
    clock = Clock(T0)
    agents = [make_agent(ep, tmp_path / "a", ENI_A, clock, agent_id="host-a")]
    one_segment(agents, clock, T0, {})
    agent = agents[0][0]
    clock.t = T0 + 125  # not running from T0 + 60 to T0 + 125
    agent.refresh()
    seg = agent.new_segment(agent.state.delivered_until())
    assert (seg.start, seg.end) == (T0 + 120, T0 + 180)
    clock.t = T0 + 183
    agent.run_segment(seg)
    assert sorted(by_eni_window(bucket_lines(ep))) == [(ENI_A, T0), (ENI_A, T0 + 120)]


def test_an_agent_started_during_a_control_plane_outage_records_with_its_last_snapshot(
        ep: Endpoint, tmp_path: Path) -> None:
    from vpcflow.core.errors import RunInterrupted

    create_s3_flow_log(ep, ENI_A)
    clock = Clock(T0)
    first, _ = make_agent(ep, tmp_path / "a", ENI_A, clock, agent_id="host-a")
    assert first.refresh()
    known = first._current
    never, _ = make_agent(ep, tmp_path / "fresh", ENI_A, clock, agent_id="host-x")
    ep.stop()
    again, _ = make_agent(ep, tmp_path / "a", ENI_A, clock, agent_id="host-a")
    assert again._first_snapshot().digest == known.digest and len(known.flow_logs) == 1
    never.stop()  # nothing known and nobody answering: it waits (here: told to stop while waiting)
    with pytest.raises(RunInterrupted):
        never._first_snapshot()
