"""A run's identity: one digest over everything that determines the records a run delivers.

Delivery is exactly-once *per identity* (docs/delivery.md "Run identity"): CloudWatch checkpoints
are kept per (identity, flow log, stream) and S3 object names hash the identity with the object's
bytes. So the identity must change whenever the records could change, and must not change when
they cannot:

* the topology, as the canonical document of the loaded network (``topology_to_document``), not
  the file's text, so comments and key order do not matter, and without its buckets, log groups and
  IAM (they decide whether delivery is allowed, never what the records say: fixing a role after a
  failed delivery must let the spooled records go out, not deliver a second copy);
* not the set of flow logs: a flow log's records depend on the inputs and on its own definition only,
  which never changes under its id (AWS has no ModifyFlowLogs), and the id is part of every key the
  identity is used in (CloudWatch checkpoints ``<identity>/<flow-log-id>``, S3 file names). So a
  flow log added to a config gets its records delivered without re-delivering the others', and the
  same inputs give the same identity in every data directory;
* every source, in order: its kind, the XXH3-128 digest of the file's bytes for captures (the
  native core reads the file in 1 MiB chunks with the GIL released: SHA-256 of a 667 MB capture
  took about 0.5 s of a 2-3 s run; the digest only has to change with the bytes, it guards against
  no forger, since the capture is the user's own input), the canonical parsed document for
  scenarios, and every option that changes what the source yields (seed, duration, interface,
  interface map, skip-bad, reorder window, limits);
* the aggregation options.

Where the files are (paths), where records go (``output``, ``delivery`` endpoints, the data
directory), who creates the flow logs (``principal``) and how the config file is written
(comments, key order, flow-style or block-style YAML) are not part of it. A live interface never
yields the same traffic twice: a run with a ``live:`` source gets a fresh identity every time.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vpcflow.core.errors import ConfigError
from vpcflow.model.safe_yaml import load_yaml
from vpcflow.model.topology.document import topology_to_document
from vpcflow.model.topology.model import Topology
from vpcflow.runtime.run_config import RunConfig, SourceSpec

#: Bumped when what goes into the identity changes (every identity changes with it).
#: 3: captures named by XXH3-128 instead of SHA-256.
SCHEME = "vpcflow-run-identity/3"
#: Topology sections that only govern delivery (authorization, destinations), never record content.
_DELIVERY_ONLY = frozenset({"s3_buckets", "log_groups", "iam"})


def file_digest(path: Path) -> str:
    """XXH3-128 of a file's content as 32 hex digits (``native/src/digest.rs``: streamed, so captures of
    many GB cost no memory)."""
    from vpcflow._native import file_digest as native_digest  # loaded only by runs that hash a file

    try:
        return native_digest(str(path))
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}", location=str(path)) from e


class PendingDigest:
    """A capture's digest being computed by a background thread; ``result()`` waits for it and
    re-raises its error. (A thread and two slots: ``concurrent.futures`` is not worth its import for
    this, see tests/cli/test_cli_startup.py.)"""

    def __init__(self, path: Path) -> None:
        self._value: str | None = None
        self._error: BaseException | None = None
        # A daemon: a run that fails before its identity does not wait for a large file's digest.
        self._thread = threading.Thread(target=self._work, args=(path,), name="vpcflow-digest", daemon=True)
        self._thread.start()

    def _work(self, path: Path) -> None:
        try:
            self._value = file_digest(path)
        except BaseException as e:  # handed to whoever asks for the digest
            self._error = e

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def prefetch_digests(cfg: RunConfig) -> dict[Path, PendingDigest]:
    """Start the file digests of ``cfg``'s capture sources in background threads (the native digest
    releases the GIL), so they overlap with preparing the run on the other core; ``run_identity(...,
    digests=...)`` waits for them. A digest that fails raises its ``ConfigError`` when used."""
    out: dict[Path, PendingDigest] = {}
    for spec in cfg.sources:
        if spec.kind in ("live", "scenario") or spec.path in out:
            continue
        out[spec.path] = PendingDigest(spec.path)
    return out


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _scenario_content(spec: SourceSpec) -> Any:
    # The scenario was already loaded (and validated, bounded) by the source; here only its meaning
    # matters, so an edited comment or a reformatted file keeps the identity.
    if spec.document is not None:  # given in-line (run_config_from_dict)
        return spec.document
    try:
        return load_yaml(spec.path.read_text(encoding="utf-8"), source=str(spec.path))
    except (OSError, UnicodeDecodeError, ConfigError):
        return {"xxh3_128": file_digest(spec.path)}


def _source(spec: SourceSpec, digests: Mapping[Path, PendingDigest]) -> dict[str, Any]:
    # ``skip_bad`` is not part of it: a run without it stops at the first bad record, and every group it
    # delivered before is exactly what the run with it delivers too (the README's recipe: an error, then
    # the same run with --skip-bad, must deliver nothing twice; issue 13 item 3).
    out: dict[str, Any] = {
        "kind": spec.kind, "interface": spec.interface, "interface_map": dict(sorted(spec.interface_map.items())),
        "seed": spec.seed, "duration_s": spec.duration_s,
        "reorder_window_s": spec.reorder_window_s, "max_packets": spec.max_packets, "snaplen": spec.snaplen,
    }
    if spec.kind == "live":
        out["nonce"] = uuid.uuid4().hex  # live traffic never repeats: every run is new
    elif spec.kind == "scenario":
        out["scenario"] = _scenario_content(spec)
    else:
        pending = digests.get(spec.path)
        out["xxh3_128"] = pending.result() if pending is not None else file_digest(spec.path)
    return out


def identity_document(cfg: RunConfig, topology: Topology, *, skip_bad: bool = False,
                      digests: Mapping[Path, PendingDigest] | None = None) -> dict[str, Any]:
    """The canonical description the identity hashes (exposed for tests and debugging). ``digests``:
    capture digests already under way (``prefetch_digests``)."""
    return {
        "scheme": SCHEME,
        "topology": {k: v for k, v in topology_to_document(topology).items() if k not in _DELIVERY_ONLY},
        "sources": [_source(s, digests or {}) for s in cfg.sources],
        "aggregation": {"skipdata_capacity": cfg.skipdata_capacity, "nodata": cfg.nodata},
    }


def run_identity(cfg: RunConfig, topology: Topology, *, skip_bad: bool = False,
                 digests: Mapping[Path, PendingDigest] | None = None) -> str:
    """16 hex digits naming the run's inputs (checkpoint keys, spool item ids, salt of S3 object names)."""
    doc = identity_document(cfg, topology, skip_bad=skip_bad, digests=digests)
    return hashlib.sha256(_canonical(doc).encode()).hexdigest()[:16]
