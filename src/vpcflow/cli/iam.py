"""``vpcflow iam``: simulate IAM decisions (like AWS's policy simulator) and lint a topology's IAM.

``simulate`` exits 0 when every (action, resource) pair is allowed and 1 when any is denied - the
decision is the answer, as ``grep`` answers with 1 - and 2 on bad input (docs/iam.md).
``lint`` exits 1 when it finds an error-level problem, 0 otherwise (warnings only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from vpcflow.core.errors import ConfigError
from vpcflow.iam.evaluator import Decision
from vpcflow.iam.lint import lint_iam
from vpcflow.iam.world import IamWorld
from vpcflow.model.topology.sourcemap import SourceMap, parse_document

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass
class _Loaded:
    """What the IAM commands need of a topology document."""

    iam: Mapping[str, Any]
    account_id: str
    region: str
    source: str
    smap: SourceMap | None
    buckets: dict[str, tuple[str, Mapping[str, Any] | None, str]] = field(
        default_factory=dict
    )  # name -> (owner, policy, path)


def _fmt_of(path: str) -> str:
    return "json" if path.lower().endswith(".json") else "yaml"


def _from_text(text: str, source: str, fmt: str) -> _Loaded:
    data, smap = parse_document(text, source=source, fmt=fmt)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("a topology document must be a mapping", location=source)
    account = str(data.get("account_id") or DEFAULT_ACCOUNT)
    region = str(data.get("region") or DEFAULT_REGION)
    iam = data.get("iam") or {}
    if not isinstance(iam, Mapping):
        raise ConfigError("must be a mapping", location=smap.locate("iam"), key_path="iam")
    buckets: dict[str, tuple[str, Mapping[str, Any] | None, str]] = {}
    for i, b in enumerate(data.get("s3_buckets") or []):
        if isinstance(b, Mapping) and isinstance(b.get("name"), str):
            owner = str(b.get("owner") or b.get("owner_id") or account)
            buckets[b["name"]] = (owner, b.get("policy"), f"s3_buckets[{i}].policy")
    return _Loaded(iam, account, region, source, smap, buckets)


def _load_file(path: str) -> _Loaded:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read topology file: {e.strerror}", location=path) from None
    return _from_text(text, path, _fmt_of(path))


def _load_data_dir(data_dir: str | None) -> _Loaded:
    from vpcflow.runtime.datadir import DataDir  # the control plane's stored topology

    dd = DataDir.resolve(data_dir)
    if not dd.state_path.exists():
        # A data directory never used is a fresh account with only its root; simulating must not create it.
        return _Loaded({}, DEFAULT_ACCOUNT, DEFAULT_REGION, f"{dd.path} (not initialised)", None)
    account, region = dd.settings()
    with dd.state() as st:
        doc = st.get_topology_document()
        loaded = (
            _Loaded({}, account, region, "(no topology loaded)", None)
            if doc is None
            else _from_text(doc.text, doc.source, doc.fmt)
        )
        loaded.account_id, loaded.region = account, region
        for name, (owner, _policy, kp) in list(loaded.buckets.items()):
            in_force = st.get_bucket_policy(name)  # the policy auto-attach put in force, if any
            if in_force is not None:
                loaded.buckets[name] = (owner, in_force, kp)
    return loaded


def _parse_context(items: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--context")
        out.setdefault(key, []).append(value)
    return out


def _bucket_of(resource: str) -> str | None:
    if resource.startswith("arn:aws:s3:::"):
        return resource[len("arn:aws:s3:::") :].split("/", 1)[0] or None
    return None


@click.group(name="iam")
def group() -> None:
    """IAM tools: simulate a request, lint a topology's policies."""


@group.command()
@click.option("--topology", "topology", type=click.Path(dir_okay=False), help="Topology file (YAML or JSON).")
@click.option("--data-dir", "data_dir", help="Use the topology loaded into this data directory.")
@click.option(
    "--principal", default=None, help="Caller: ARN, account id, access key id or service name (default: account root)."
)
@click.option(
    "--action", "actions", multiple=True, required=True, help="Action such as ec2:CreateFlowLogs (repeatable)."
)
@click.option("--resource", "resources", multiple=True, help="Resource ARN (repeatable; default '*').")
@click.option(
    "--context", "contexts", multiple=True, help="Condition key KEY=VALUE (repeat a key for a multi-valued key)."
)
@click.option(
    "--resource-policy", "resource_policy", type=click.Path(dir_okay=False), help="Resource-based policy JSON file."
)
@click.option("--json", "as_json", is_flag=True, help="Print decisions as JSON.")
def simulate(
    topology: str | None,
    data_dir: str | None,
    principal: str | None,
    actions: tuple[str, ...],
    resources: tuple[str, ...],
    contexts: tuple[str, ...],
    resource_policy: str | None,
    as_json: bool,
) -> None:
    """Decide whether PRINCIPAL may do ACTION on RESOURCE and show the statement that decided it.

    Exit status: 0 allowed, 1 denied, 2 bad input. An S3 resource of a bucket known to the topology
    is evaluated with that bucket's policy unless --resource-policy is given.
    """
    if topology and data_dir:
        raise click.UsageError("give --topology or --data-dir, not both")
    loaded = _load_file(topology) if topology else _load_data_dir(data_dir)
    locate = loaded.smap.locate if loaded.smap is not None else None
    world = IamWorld.from_section(loaded.iam, account_id=loaded.account_id, source=loaded.source, locate=locate)
    caller = world.resolve(principal or world.root_arn)
    context = _parse_context(contexts)
    explicit_policy: dict[str, Any] | None = None
    if resource_policy:
        try:
            explicit_policy = json.loads(Path(resource_policy).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:  # ValueError: not JSON, or not UTF-8
            raise ConfigError(f"cannot read resource policy: {e}", location=resource_policy) from None
        except RecursionError:
            raise ConfigError("cannot read resource policy: JSON nested too deep", location=resource_policy) from None
    decisions: list[Decision] = []
    for action in actions:
        for res in resources or ("*",):
            policy: Mapping[str, Any] | None = explicit_policy
            owner: str | None = None
            name = resource_policy or "resource policy"
            bucket = _bucket_of(res)
            if bucket is not None and bucket in loaded.buckets:
                owner, bpolicy, kp = loaded.buckets[bucket]
                if policy is None and bpolicy is not None:
                    policy, name = bpolicy, f"bucket policy of {bucket} ({kp})"
            decisions.append(
                world.authorize(caller, action, res, context, policy, resource_account=owner, resource_policy_name=name)
            )
    if as_json:
        click.echo(json.dumps([d.as_dict() for d in decisions], indent=2))
    else:
        for d in decisions:
            verdict = "allowed" if d.allowed else ("explicitDeny" if d.effect == "Deny" else "implicitDeny")
            click.echo(f"{verdict}  {d.action}  {d.resource}")
            click.echo(f"  principal: {d.principal}")
            click.echo(f"  reason: {d.reason}")
            if d.policy:
                click.echo(f"  policy: {d.policy}")
            if d.statement is not None:
                click.echo(f"  statement: {json.dumps(d.statement, sort_keys=True)}")
            for n in d.notes:
                click.echo(f"  note: {n}")
    click.get_current_context().exit(0 if all(d.allowed for d in decisions) else 1)


@group.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
def lint(file: str, as_json: bool) -> None:
    """Find IAM problems AWS accepts silently: unknown actions (logs:GetLogData), unknown condition
    operators, iam:PassRole on every role, delivery roles the flow-logs service cannot assume or that
    lack the logs actions. Exit status 1 when an error is found."""
    loaded = _load_file(file)
    locate = loaded.smap.locate if loaded.smap is not None else None
    bucket_policies = {kp: pol for (_owner, pol, kp) in loaded.buckets.values() if pol is not None}
    findings = lint_iam(
        loaded.iam,
        account_id=loaded.account_id,
        region=loaded.region,
        source=loaded.source,
        locate=locate,
        bucket_policies=bucket_policies,
    )
    if as_json:
        rows = [
            {
                "severity": f.severity,
                "code": f.code,
                "message": f.message,
                "key_path": f.key_path,
                "location": f.location,
            }
            for f in findings
        ]
        click.echo(json.dumps(rows, indent=2))
    else:
        for f in findings:
            click.echo(f"{f.location or file}: {f.severity}: [{f.code}] {f.message} ({f.key_path})")
        errors = sum(f.severity == "error" for f in findings)
        click.echo(f"{errors} error(s), {len(findings) - errors} warning(s)", err=True)
    click.get_current_context().exit(1 if any(f.severity == "error" for f in findings) else 0)


@group.command("credentials")
@click.option("--user", "user_name", default=None, help="An IAM user of the topology (default: the account root).")
@click.option("--data-dir", envvar="VPCFLOW_DATA_DIR", default=None, type=click.Path(file_okay=False),
              help="Data directory (default $VPCFLOW_DATA_DIR or ./vpcflow-data).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of shell exports.")
def credentials(user_name: str | None, data_dir: str | None, as_json: bool) -> None:
    """Print the access key pair that signs requests to `vpcflow serve` (the root's, or --user's).

    `vpcflow serve` never prints a secret; `eval "$(vpcflow iam credentials)"` sets up a shell.
    """
    from vpcflow.api.identity import ROOT_KEY_ENV, ROOT_SECRET_ENV, RootCredentials

    loaded = _load_data_dir(data_dir)
    if user_name is None:
        root = RootCredentials()
        key_id = _env_or(ROOT_KEY_ENV, root.access_key_id)
        secret = _env_or(ROOT_SECRET_ENV, root.secret_access_key)
    else:
        key_id, secret = _user_key(loaded, user_name)
    if as_json:
        click.echo(json.dumps({"AccessKeyId": key_id, "SecretAccessKey": secret, "Region": loaded.region}))
        return
    click.echo(f"export AWS_ACCESS_KEY_ID={key_id}")
    click.echo(f"export AWS_SECRET_ACCESS_KEY={secret}")
    click.echo(f"export AWS_DEFAULT_REGION={loaded.region}")


def _env_or(name: str, default: str) -> str:
    import os

    return os.environ.get(name) or default


def _user_key(loaded: _Loaded, user_name: str) -> tuple[str, str]:
    """The first active access key of topology user ``user_name``."""
    users = [u for u in loaded.iam.get("users") or [] if isinstance(u, Mapping)]
    for user in users:
        if user.get("name") != user_name:
            continue
        for key in user.get("access_keys") or []:
            if isinstance(key, Mapping) and str(key.get("status") or "Active") == "Active":
                return str(key["access_key_id"]), str(key["secret_access_key"])
        raise ConfigError(f"IAM user {user_name!r} has no active access key", key_path="--user")
    names = ", ".join(sorted(str(u.get("name")) for u in users)) or "none"
    raise ConfigError(f"no IAM user {user_name!r} in the data directory's topology (users: {names})",
                      key_path="--user")
