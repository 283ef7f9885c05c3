"""``vpcflow serve``: the AWS-compatible endpoint (EC2 flow logs + CloudWatch Logs) over HTTP with uvicorn.

boto3 and the AWS CLI work unchanged with ``endpoint_url``/``--endpoint-url``; requests are SigV4
signed with an IAM user's access key from the topology, or the root pair (docs/api.md).

The banner names the root's access key id but never a secret (``vpcflow iam credentials`` prints the
pair on request). Listening beyond loopback is refused unless ``--allow-remote`` says it is meant, and
then the banner warns loudly: the endpoint holds an account's flow logs and its root's keys.
"""

from __future__ import annotations

import sys

import click

from vpcflow.core.errors import ConfigError


@click.command("serve")
@click.option(
    "--data-dir",
    envvar="VPCFLOW_DATA_DIR",
    default=None,
    type=click.Path(file_okay=False),
    help="Data directory (default $VPCFLOW_DATA_DIR or ./vpcflow-data).",
)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (beyond loopback only with --allow-remote).")
@click.option("--allow-remote", is_flag=True,
              help="Allow --host to be an address other machines can reach (loopback only by default).")
@click.option("--max-body-bytes", default=8 * 1024 * 1024, show_default=True, type=click.IntRange(1024, None),
              help="Largest request body accepted; larger ones get HTTP 413 before they are read.")
@click.option("--port", default=4566, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port, printed at start).")
@click.option("--no-verify-signatures", is_flag=True,
              help="Accept unsigned or wrongly signed requests; an unknown access key acts as the account root.")
@click.option("--root-access-key-id", envvar="VPCFLOW_ROOT_ACCESS_KEY_ID", default=None,
              help="The account root's access key id (default AKIAIOSFODNN7EXAMPLE).")
@click.option("--root-secret-access-key", envvar="VPCFLOW_ROOT_SECRET_ACCESS_KEY", default=None,
              help="The account root's secret access key (default AWS's documentation example secret).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port (each with its own connections to the data directory).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True, help="uvicorn's log level (info logs every request).")
def command(
    data_dir: str | None,
    host: str,
    allow_remote: bool,
    max_body_bytes: int,
    port: int,
    no_verify_signatures: bool,
    root_access_key_id: str | None,
    root_secret_access_key: str | None,
    workers: int,
    log_level: str,
) -> None:
    """Serve EC2 flow-log calls and CloudWatch Logs calls on one port, for boto3 and the AWS CLI."""
    from vpcflow.api.app import create_app
    from vpcflow.api.identity import RootCredentials
    from vpcflow.api.server import bind, is_loopback, run, run_workers, url_of
    from vpcflow.runtime.datadir import DataDir

    if (root_access_key_id is None) != (root_secret_access_key is None):
        raise ConfigError("give both --root-access-key-id and --root-secret-access-key, or neither",
                          key_path="--root-access-key-id")
    root = RootCredentials()
    if root_access_key_id:
        root = RootCredentials(root_access_key_id, root_secret_access_key or "")
    remote = not is_loopback(host)
    if remote and not allow_remote:
        raise ConfigError(f"{host} is reachable from other machines; the endpoint serves an account's flow logs "
                          "and accepts its root's keys: add --allow-remote if that is meant", key_path="--host")
    dd = DataDir.resolve(data_dir)
    account, region = dd.settings()
    sock = bind(host, port)
    url = url_of(sock)
    verify = not no_verify_signatures
    click.echo(f"vpcflow endpoint {url}  (data dir {dd.path}, account {account}, region {region})")
    click.echo(f"  SigV4 verification: {'on' if verify else 'OFF (any credentials act as their owner or root)'}")
    if remote:
        click.echo(f"  WARNING: listening on {host}, reachable from other machines: anyone holding the keys "
                   "below can read and change this account's flow logs")
    click.echo(f"  root access key id: {root.access_key_id}  (the pair: vpcflow iam credentials)")
    click.echo("  IAM users sign with their access keys from the topology file (iam.users[].access_keys).")
    click.echo(f"  AWS CLI: aws --endpoint-url {url} --region {region} sts get-caller-identity")
    click.echo(f"           aws --endpoint-url {url} --region {region} ec2 describe-flow-logs")
    click.echo(f"           aws --endpoint-url {url} --region {region} logs describe-log-groups")
    click.echo(f'  boto3:   boto3.client("ec2", endpoint_url="{url}", region_name="{region}", '
               'aws_access_key_id=..., aws_secret_access_key=...)')
    sys.stdout.flush()  # the URL must be readable before the server blocks (scripts wait for it)
    if workers > 1:
        run_workers({"data_dir": str(dd.path), "verify_signatures": verify, "max_body_bytes": max_body_bytes,
                     "root_credentials": [root.access_key_id, root.secret_access_key]}, sock, workers=workers,
                    log_level=log_level)
        return
    app = create_app(dd, verify_signatures=verify, root_credentials=root, max_body_bytes=max_body_bytes)
    run(app, sock, log_level=log_level)
