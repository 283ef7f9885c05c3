"""Assembling an agent from its configuration: feeds, control plane, status reporter."""

from __future__ import annotations

from vpcflow.agent.config import AgentConfig
from vpcflow.agent.control import ControlPlane
from vpcflow.agent.feed import Feed, FollowFeed, LiveFeed
from vpcflow.agent.runner import Agent
from vpcflow.agent.state import AgentState


def build_agent(cfg: AgentConfig) -> Agent:
    import boto3

    session = boto3.Session()
    state = AgentState(cfg.state_dir)
    feeds: list[Feed] = [LiveFeed(dev, eni) for dev, eni in cfg.devices.items()]
    if cfg.follow is not None:
        progress = FollowProgress(state)
        feed = FollowFeed(cfg.follow.directory, cfg.follow.interface, cfg.follow.settle_s, progress.load,
                          max_delay_s=cfg.follow.max_delay_s)
        feeds.append(feed)
    control = ControlPlane(session, endpoint_url=cfg.endpoint_url, region=cfg.region)
    reporter = None
    if cfg.report_status and cfg.endpoint_url is not None:  # AWS has no such action: never sent there
        from vpcflow.agent.status import StatusReporter

        reporter = StatusReporter(session, endpoint_url=cfg.endpoint_url, region=cfg.region, agent_id=cfg.agent_id)
    agent = Agent(cfg, feeds, control=control, reporter=reporter)
    if cfg.follow is not None:
        agent.journaled = progress.record
    return agent


class FollowProgress:
    """Followed files and how many of their packets were journaled (``<state>/follow.json``)."""

    def __init__(self, state: AgentState) -> None:
        self.state = state
        self.path = "follow.json"

    def load(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.state.read_json(self.path).items()}

    def record(self, name: str, packets: int, last: bool) -> None:
        data = self.load()
        data[name] = -1 if last else data.get(name, 0) + packets
        self.state.write_json(self.path, data)
