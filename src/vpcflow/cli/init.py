"""``vpcflow init``: create a data directory (a fresh, empty AWS account) with its account id and region.

Optional: every command creates the data directory on first use with account 123456789012 in
us-east-1; ``init`` picks others. Changing them is refused once the account holds flow logs.
"""

from __future__ import annotations

import json

import click

from vpcflow.runtime.datadir import DataDir


@click.command("init")
@click.option(
    "--data-dir",
    envvar="VPCFLOW_DATA_DIR",
    default=None,
    type=click.Path(file_okay=False),
    help="Data directory (default $VPCFLOW_DATA_DIR or ./vpcflow-data).",
)
@click.option("--account-id", default=None, help="12-digit account id (default 123456789012).")
@click.option("--region", default=None, help="Region (default us-east-1).")
def command(data_dir: str | None, account_id: str | None, region: str | None) -> None:
    """Create (or show) a data directory's account id and region."""
    dd = DataDir.resolve(data_dir)
    account, reg = dd.init(account_id=account_id, region=region)
    click.echo(json.dumps({"DataDir": str(dd.path), "AccountId": account, "Region": reg}, indent=4))
