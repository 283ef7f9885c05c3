"""``vpcflow topology load FILE``: put a topology file (network, buckets, IAM) into the data directory.

It replaces the previous topology; flow logs and tags stay. Loading into an account without flow
logs adopts the file's account id and region. Registered on the ``topology`` group by one line at
the end of ``cli/topology.py``.
"""

from __future__ import annotations

import json

import click

from vpcflow.runtime.client import Ec2Client


@click.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--data-dir",
    envvar="VPCFLOW_DATA_DIR",
    default=None,
    type=click.Path(file_okay=False),
    help="Data directory (default $VPCFLOW_DATA_DIR or ./vpcflow-data).",
)
def command(file: str, data_dir: str | None) -> None:
    """Load FILE (YAML or JSON) as the data directory's topology and IAM."""
    with Ec2Client(data_dir) as c:
        topo = c.load_topology(file)
        summary = {
            "DataDir": str(c.data_dir.path),
            "Source": file,
            "AccountId": topo.account_id,
            "Region": topo.region,
            "Vpcs": len(topo.vpcs),
            "Subnets": len(topo.subnets),
            "NetworkInterfaces": len(topo.network_interfaces),
            "Buckets": len(topo.s3_buckets),
            "Users": len(topo.iam.get("users") or []),
            "Roles": len(topo.iam.get("roles") or []),
        }
    click.echo(json.dumps(summary, indent=4))
