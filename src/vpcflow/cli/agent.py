"""``vpcflow agent``: record this host's ENIs for the flow logs the control plane names (docs/agent.md).

Credentials come the standard boto3 ways: the environment (``AWS_ACCESS_KEY_ID``...), a profile
(``--profile``), instance metadata, or ``--access-key-id``/``--secret-access-key`` (put in this
process's environment, so every boto3 client of the agent uses them). SIGTERM and Ctrl-C stop it: the
open segment is abandoned and recorded again from the journal at the next start.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

import click

from vpcflow.core.errors import ConfigError


def _device(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        dev, sep, eni = v.partition("=")
        if not sep or not dev or not eni:
            raise ConfigError(f"expected DEVICE=ENI (eth0=eni-0123456789abcdef0), got {v!r}", key_path="--device")
        out[dev] = eni
    return out


@click.command("agent")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The agent's YAML configuration (flags override it).")
@click.option("--endpoint-url", default=None, help="The control plane (a `vpcflow serve` URL); omit for AWS.")
@click.option("--region", default=None, envvar="AWS_DEFAULT_REGION", help="The region of the flow logs.")
@click.option("--profile", default=None, help="A profile of ~/.aws/config.")
@click.option("--access-key-id", default=None, help="An access key id (else boto3's credential chain).")
@click.option("--secret-access-key", default=None, help="Its secret access key.")
@click.option("--device", "devices", multiple=True, metavar="DEVICE=ENI",
              help="Capture DEVICE live as the ENI it carries (repeat for each device).")
@click.option("--follow", "follow_dir", default=None, type=click.Path(file_okay=False),
              help="Instead of live capture, follow a directory of rotating capture files...")
@click.option("--follow-interface", default=None, metavar="ENI", help="...which carry this ENI's traffic.")
@click.option("--state-dir", default=None, type=click.Path(file_okay=False), help="Journal, spool, checkpoints.")
@click.option("--refresh-s", default=None, type=float, help="Seconds between control-plane refreshes (30).")
@click.option("--segment-s", default=None, type=int, help="Wall-clock segment length, whole minutes (60).")
@click.option("--agent-id", default=None, help="This agent's name in object names (default: the host name).")
@click.option("--no-status-report", is_flag=True, help="Do not report delivery status to the endpoint.")
def command(config_path: Path | None, endpoint_url: str | None, region: str | None, profile: str | None,
            access_key_id: str | None, secret_access_key: str | None, devices: tuple[str, ...],
            follow_dir: str | None, follow_interface: str | None, state_dir: str | None, refresh_s: float | None,
            segment_s: int | None, agent_id: str | None, no_status_report: bool) -> None:
    """Record this host's ENIs for the control plane's flow logs and deliver them (runs until stopped)."""
    from vpcflow.agent.config import load_config
    from vpcflow.agent.main import build_agent

    flags: dict[str, Any] = {
        "endpoint_url": endpoint_url, "region": region, "profile": profile, "access_key_id": access_key_id,
        "secret_access_key": secret_access_key, "devices": _device(devices), "state_dir": state_dir,
        "refresh_s": refresh_s, "segment_s": segment_s, "agent_id": agent_id,
        "report_status": False if no_status_report else None,
    }
    if follow_dir is not None:
        flags["follow"] = {"dir": follow_dir, "interface": follow_interface}
    cfg = load_config(config_path, flags)
    if cfg.access_key_id and cfg.secret_access_key:
        os.environ["AWS_ACCESS_KEY_ID"] = cfg.access_key_id
        os.environ["AWS_SECRET_ACCESS_KEY"] = cfg.secret_access_key
        os.environ.pop("AWS_SESSION_TOKEN", None)
    if cfg.profile:
        os.environ["AWS_PROFILE"] = cfg.profile
    logging.basicConfig(level=logging.INFO, format="%(asctime)s vpcflow-agent %(levelname)s %(message)s")
    agent = build_agent(cfg)

    def stop(_signum: int, _frame: Any) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"vpcflow agent {cfg.agent_id}: owns {', '.join(sorted(cfg.owned))}; control plane "
               f"{cfg.endpoint_url or 'AWS'} ({cfg.region}); state {cfg.state_dir}", err=True)
    agent.run()
