"""The ``vpcflow run`` configuration file: parsing and validation with file:line:key errors.

A run config (YAML) names where the account lives, which flow logs record, and what traffic flows::

    data_dir: ./vpcflow-data            # optional; --data-dir wins; else $VPCFLOW_DATA_DIR / ./vpcflow-data
    topology: ../topology/three-tier.yaml   # optional: loaded into the data directory first
    principal: arn:aws:iam::123456789012:root   # optional caller of CreateFlowLogs (default: account root)
    flow_logs:
      create:                           # CreateFlowLogs requests, boto3's parameter names
        - ResourceIds: [vpc-0a1b2c3d4e5f60001]
          ResourceType: VPC
          TrafficType: ALL
          LogDestinationType: s3
          LogDestination: arn:aws:s3:::flow-logs-bucket/demo/
      ids: [fl-0123456789abcdef0]       # existing flow logs (optional)
    sources:
      - capture: web.pcap               # pcap or pcapng (sniffed); or `pcap:` / `pcapng:`
        interface: eni-0a1b2c3d4e5f60011    # the ENI the file was captured on (optional)
        interface_map: {eth0: eni-...}  # pcapng interface names -> ENIs (optional)
      - live: eth0                      # a live Linux interface (root or CAP_NET_RAW)
        interface: eni-0a1b2c3d4e5f60011    # the ENI it stands for
        duration_s: 60                  # stop after (or max_packets: N, or Ctrl-C)
      - scenario: ../scenarios/demo.yaml    # synthetic traffic
        seed: 7                         # optional: the scenario's own seed otherwise
        duration_s: 300                 # optional: the scenario's own duration otherwise
    output: {dir: out, format: text}    # optional: also write records as files
    aggregation: {skipdata_capacity: 1000000, nodata: true}
    delivery:                           # optional: deliver through boto3 instead of the data directory
      s3_endpoint_url: http://127.0.0.1:9000    # `aws` for AWS itself; credentials: boto3's chain
      logs_endpoint_url: aws

Relative paths are relative to the config file. With neither ``create`` nor ``ids``, every flow
log of the data directory records. Every problem is a ``ConfigError`` naming ``file:line`` and the
key path (``sources[1].seed``).

The same document can be given as Python data (``run_config_from_dict``, for notebooks and scripts):
then ``topology`` may also be the topology document itself (a dict) or a ``Topology``, and a
``scenario`` source the scenario document (a dict); relative paths are relative to ``base_dir`` (default
the working directory) and problems name ``<run config>`` and the key path. ``RunConfig.content`` is
what identifies the config's text: the file's bytes, or the canonical JSON of the given document.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vpcflow.core.errors import ConfigError
from vpcflow.core.userfiles import input_file_problem, read_input_text
from vpcflow.dataplane.sources.scenario_limits import MAX_DURATION_S, MAX_SEED
from vpcflow.model.safe_yaml import compose_yaml, load_yaml
from vpcflow.model.topology.document import topology_to_document
from vpcflow.model.topology.model import Topology

SOURCE_KINDS = ("capture", "pcap", "pcapng", "scenario", "live")
_TOP_KEYS = {"data_dir", "topology", "principal", "flow_logs", "sources", "output", "aggregation", "delivery"}
_SOURCE_KEYS = {"capture", "pcap", "pcapng", "scenario", "live", "interface", "interface_map", "skip_bad", "seed",
                "duration_s", "reorder_window_s", "max_packets", "snaplen"}
OUTPUT_FORMATS = ("text", "parquet")
#: How far back a capture's timestamps may jump: a generous hour (docs/sources.md).
MAX_REORDER_WINDOW_S = 3600.0


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # capture | pcap | pcapng | scenario
    path: Path
    interface: str | None = None
    interface_map: dict[str, str] = field(default_factory=dict)
    skip_bad: bool = False
    seed: int | None = None
    duration_s: float | None = None
    reorder_window_s: float | None = None
    where: str = ""  # file:line, for messages at run time
    max_packets: int | None = None  # live: stop after this many packets
    snaplen: int | None = None  # live: bytes kept of each frame
    document: dict[str, Any] | None = None  # scenario given in-line (``path`` is then only a label)


@dataclass(frozen=True)
class RunConfig:
    """A validated run config (``load_run_config`` from a file, ``run_config_from_dict`` from Python data)."""

    path: Path | None  # the config file; None when built from Python data
    data_dir: Path | None = None
    topology: Path | None = None
    principal: str | None = None
    create: tuple[dict[str, Any], ...] = ()
    create_where: tuple[str, ...] = ()
    flow_log_ids: tuple[str, ...] = ()
    sources: tuple[SourceSpec, ...] = ()
    output_dir: Path | None = None
    output_format: str = "text"
    skipdata_capacity: int | None = None
    nodata: bool = True
    s3_endpoint_url: str | None = None  # None: the local bucket store; "aws": AWS itself; else that endpoint
    logs_endpoint_url: str | None = None  # None: the embedded log store; "aws" or an endpoint: through boto3
    topology_document: dict[str, Any] | None = None  # topology given in-line instead of ``topology``
    source: str = ""  # what messages name: the file's path or ``<run config>``
    content: bytes = b""  # the file's bytes, or the canonical JSON of the document it was built from

    @property
    def has_topology(self) -> bool:
        return self.topology is not None or self.topology_document is not None


class _Lines:
    """key path -> line number, from the YAML node tree."""

    def __init__(self, path: Path | str, root: yaml.Node | None) -> None:
        self.path = path
        self.lines: dict[str, int] = {}
        if root is not None:
            self._walk(root, "")

    def _walk(self, node: yaml.Node, key: str) -> None:
        self.lines[key] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                child = f"{key}.{k.value}" if key else str(k.value)
                self.lines[child] = k.start_mark.line + 1
                self._walk(v, child)
                self.lines[child] = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._walk(v, f"{key}[{i}]")

    def where(self, key: str) -> str:
        k = key
        while k and k not in self.lines:
            k = k.rsplit(".", 1)[0] if "." in k else (k.rsplit("[", 1)[0] if "[" in k else "")
        if not self.lines:  # built from Python data: no lines to name
            return str(self.path)
        return f"{self.path}:{self.lines.get(k, 1)}"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, location=self.where(key), key_path=key or None)


def _expect(lines: _Lines, key: str, value: Any, typ: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and typ in (int, float, (int, float)):
        raise lines.error(key, f"expected {what}, got {value!r}")
    if not isinstance(value, typ):
        raise lines.error(key, f"expected {what}, got {type(value).__name__} {value!r}")
    return value


def _unknown(lines: _Lines, base: str, mapping: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(mapping) - allowed)
    if extra:
        key = f"{base}.{extra[0]}" if base else extra[0]
        raise lines.error(key, f"unknown key {extra[0]!r}; expected one of: {', '.join(sorted(allowed))}")


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a run config (see the module docstring)."""
    p = Path(path)
    text = read_input_text(p, "run config")
    node = compose_yaml(text, source=str(p))
    doc = load_yaml(text, source=str(p))
    return _parse(doc, _Lines(p, node), p.parent, path=p, content=text.encode("utf-8"), inline=False)


def _canonical_value(value: Any) -> Any:
    """JSON-shaped form of a run-config document: paths as strings, a ``Topology`` as its document."""
    if isinstance(value, Topology):
        return topology_to_document(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def run_config_from_dict(doc: Mapping[str, Any], *, base_dir: str | Path | None = None,
                         name: str = "<run config>") -> RunConfig:
    """A run config from Python data: the file's document, where ``topology`` may also be a topology
    document (dict) or a ``Topology`` and a ``scenario`` source a scenario document (dict). No file is
    read but the captures, scenarios and topology it names by path (relative to ``base_dir``)."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"expected a mapping at the top level, got {type(doc).__name__}", location=name)
    data = _canonical_value(doc)
    try:
        content = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    except (TypeError, ValueError) as e:
        raise ConfigError(f"the run config holds a value that is not plain data: {e}", location=name) from e
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    return _parse(data, _Lines(name, None), base, path=None, content=content, inline=True)


class _Paths:
    """Paths of a config: ``~`` expanded, relative ones against the config's folder (or ``base_dir``)."""

    def __init__(self, lines: _Lines, base: Path) -> None:
        self.lines, self.base = lines, base

    def __call__(self, key: str, value: Any) -> Path:
        _expect(self.lines, key, value, str, "a path")
        q = Path(value).expanduser()
        return q if q.is_absolute() else self.base / q


def _parse(doc: Any, lines: _Lines, base: Path, *, path: Path | None, content: bytes, inline: bool) -> RunConfig:
    """Validate a run-config document (from a file or, ``inline``, from Python data) into a ``RunConfig``."""
    if doc is None:
        doc = {}
    _expect(lines, "", doc, dict, "a mapping at the top level")
    _unknown(lines, "", doc, _TOP_KEYS)
    path_of = _Paths(lines, base)
    data_dir = path_of("data_dir", doc["data_dir"]) if doc.get("data_dir") is not None else None
    topology: Path | None = None
    topology_document: dict[str, Any] | None = None
    if inline and isinstance(doc.get("topology"), dict):
        topology_document = doc["topology"]
    elif doc.get("topology") is not None:
        topology = path_of("topology", doc["topology"])
        if (problem := input_file_problem(topology, "topology file")) is not None:
            raise lines.error("topology", problem)
    principal = doc.get("principal")
    if principal is not None:
        _expect(lines, "principal", principal, str, "a principal ARN or access key id")
    create, create_where, ids = _flow_logs(doc, lines)
    raw_sources = doc.get("sources")
    if raw_sources is None:
        raise lines.error("", "the run config needs `sources` (captures and/or a synthetic scenario)")
    sources = [_source(s, f"sources[{i}]", lines, path_of, inline)
               for i, s in enumerate(_expect(lines, "sources", raw_sources, list, "a list of sources"))]
    if not sources:
        raise lines.error("sources", "the run config needs at least one source")
    out_dir, out_fmt = _output(doc, lines, path_of)
    cap, nodata = _aggregation(doc, lines)
    endpoints = _delivery(doc, lines)
    return RunConfig(
        s3_endpoint_url=endpoints["s3_endpoint_url"], logs_endpoint_url=endpoints["logs_endpoint_url"],
        path=path, data_dir=data_dir, topology=topology, principal=principal, create=tuple(create),
        create_where=tuple(create_where), flow_log_ids=tuple(ids), sources=tuple(sources), output_dir=out_dir,
        output_format=out_fmt, skipdata_capacity=cap, nodata=nodata, topology_document=topology_document,
        source=str(path) if path is not None else str(lines.path), content=content,
    )


def _flow_logs(doc: dict[str, Any], lines: _Lines) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    create: list[dict[str, Any]] = []
    create_where: list[str] = []
    ids: list[str] = []
    fls = doc.get("flow_logs") or {}
    _expect(lines, "flow_logs", fls, dict, "a mapping with `create` and/or `ids`")
    _unknown(lines, "flow_logs", fls, {"create", "ids"})
    for i, req in enumerate(_expect(lines, "flow_logs.create", fls.get("create") or [], list, "a list of requests")):
        key = f"flow_logs.create[{i}]"
        _expect(lines, key, req, dict, "a CreateFlowLogs request (a mapping of boto3 parameter names)")
        create.append(dict(req))
        create_where.append(lines.where(key))
    for i, fid in enumerate(_expect(lines, "flow_logs.ids", fls.get("ids") or [], list, "a list of flow-log ids")):
        key = f"flow_logs.ids[{i}]"
        _expect(lines, key, fid, str, "a flow-log id")
        if not fid.startswith("fl-"):
            raise lines.error(key, f"{fid!r} is not a flow-log id (fl-...)")
        ids.append(fid)
    return create, create_where, ids


def _source_input(s: dict[str, Any], kind: str, key: str, lines: _Lines, path_of: _Paths,
                  inline: bool) -> tuple[Path, dict[str, Any] | None]:
    """Where a source reads from: (path, None), or for an in-line scenario (label, document)."""
    if kind == "live":
        _expect(lines, f"{key}.live", s["live"], str, "a Linux network device name, e.g. eth0")
        return Path(s["live"]), None
    if kind == "scenario" and inline and isinstance(s["scenario"], dict):
        return Path(f"{lines.path}:{key}.scenario"), s["scenario"]
    src_path = path_of(f"{key}.{kind}", s[kind])
    if (problem := input_file_problem(src_path, "file")) is not None:
        raise lines.error(f"{key}.{kind}", problem)
    return src_path, None


def _source(s: Any, key: str, lines: _Lines, path_of: _Paths, inline: bool) -> SourceSpec:
    _expect(lines, key, s, dict, "a source mapping")
    _unknown(lines, key, s, _SOURCE_KEYS)
    kinds = [k for k in SOURCE_KINDS if k in s]
    if len(kinds) != 1:
        raise lines.error(key, f"a source names exactly one of {', '.join(SOURCE_KINDS)}; got {kinds or 'none'}")
    kind = kinds[0]
    src_path, document = _source_input(s, kind, key, lines, path_of, inline)
    for opt in ("max_packets", "snaplen"):
        if s.get(opt) is not None:
            _expect(lines, f"{key}.{opt}", s[opt], int, "a positive integer")
            if kind != "live" or s[opt] < 1:
                raise lines.error(f"{key}.{opt}", f"`{opt}` (> 0) applies to a `live` source only")
    iface = s.get("interface")
    if iface is not None:
        _expect(lines, f"{key}.interface", iface, str, "an ENI id")
    imap = s.get("interface_map") or {}
    _expect(lines, f"{key}.interface_map", imap, dict, "a mapping of capture interface names to ENI ids")
    for k, v in imap.items():
        _expect(lines, f"{key}.interface_map.{k}", v, str, "an ENI id")
    skip_bad = _expect(lines, f"{key}.skip_bad", s.get("skip_bad", False), bool, "true or false")
    seed = s.get("seed")
    if seed is not None:
        _expect(lines, f"{key}.seed", seed, int, "an integer seed")
        if not 0 <= seed <= MAX_SEED:
            raise lines.error(f"{key}.seed", f"expected an integer from 0 to {MAX_SEED}, got {seed}")
        if kind != "scenario":
            raise lines.error(f"{key}.seed", "`seed` applies to a synthetic `scenario` source only")
    dur = s.get("duration_s")
    if dur is not None:
        _expect(lines, f"{key}.duration_s", dur, (int, float), "a number of seconds")
        if kind not in ("scenario", "live") or not 0 < dur <= MAX_DURATION_S:  # False for NaN too
            raise lines.error(f"{key}.duration_s", f"`duration_s` (> 0 and at most {MAX_DURATION_S:,.0f} s) "
                              f"applies to a `scenario` or `live` source only, got {dur!r}")
    if kind == "scenario" and (iface is not None or imap):
        raise lines.error(key, "a synthetic scenario places its traffic itself: no `interface`/`interface_map`")
    rw = s.get("reorder_window_s")
    if rw is not None:
        _expect(lines, f"{key}.reorder_window_s", rw, (int, float), "a number of seconds")
        if not 0 <= rw <= MAX_REORDER_WINDOW_S:  # False for NaN too
            raise lines.error(f"{key}.reorder_window_s", f"must be from 0 to {MAX_REORDER_WINDOW_S:g} s, got {rw}")
    return SourceSpec(kind=kind, path=src_path, interface=iface, interface_map={str(k): v for k, v in imap.items()},
                      skip_bad=skip_bad, seed=seed, duration_s=None if dur is None else float(dur),
                      reorder_window_s=None if rw is None else float(rw), where=lines.where(key),
                      max_packets=s.get("max_packets"), snaplen=s.get("snaplen"), document=document)


def _output(doc: dict[str, Any], lines: _Lines, path_of: _Paths) -> tuple[Path | None, str]:
    out = doc.get("output") or {}
    _expect(lines, "output", out, dict, "a mapping with `dir` and `format`")
    _unknown(lines, "output", out, {"dir", "format"})
    out_dir = path_of("output.dir", out["dir"]) if out.get("dir") is not None else None
    out_fmt = out.get("format", "text")
    if out_fmt not in OUTPUT_FORMATS:
        raise lines.error("output.format", f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {out_fmt!r}")
    return out_dir, str(out_fmt)


def _aggregation(doc: dict[str, Any], lines: _Lines) -> tuple[int | None, bool]:
    agg = doc.get("aggregation") or {}
    _expect(lines, "aggregation", agg, dict, "a mapping")
    _unknown(lines, "aggregation", agg, {"skipdata_capacity", "nodata"})
    cap = agg.get("skipdata_capacity")
    if cap is not None:
        _expect(lines, "aggregation.skipdata_capacity", cap, int, "a positive integer")
        if cap < 1:
            raise lines.error("aggregation.skipdata_capacity", f"must be at least 1, got {cap}")
    nodata = _expect(lines, "aggregation.nodata", agg.get("nodata", True), bool, "true or false")
    return cap, bool(nodata)


def _delivery(doc: dict[str, Any], lines: _Lines) -> dict[str, str | None]:
    dlv = doc.get("delivery") or {}
    _expect(lines, "delivery", dlv, dict, "a mapping with s3_endpoint_url and/or logs_endpoint_url")
    _unknown(lines, "delivery", dlv, {"s3_endpoint_url", "logs_endpoint_url"})
    endpoints: dict[str, str | None] = {}
    for key in ("s3_endpoint_url", "logs_endpoint_url"):
        value = dlv.get(key)
        if value is not None:
            _expect(lines, f"delivery.{key}", value, str, "`aws` or an endpoint URL (http://host:port)")
            if value != "aws" and not value.startswith(("http://", "https://")):
                raise lines.error(f"delivery.{key}", f"expected `aws` or an http(s):// URL, got {value!r}")
        endpoints[key] = value
    return endpoints


def check_source_interfaces(cfg: RunConfig, topology: Topology) -> None:
    """Refuse an ``interface`` or ``interface_map`` ENI that the topology does not have.

    A typo there used to be ignored: the capture was then attributed as if unlabelled (by address),
    which records different traffic on different ENIs. The message lists the ENIs that exist.
    """
    known = topology.enis_by_id
    for i, spec in enumerate(cfg.sources):
        named = [("interface", spec.interface)] if spec.interface is not None else []
        named += [(f"interface_map.{k}", v) for k, v in spec.interface_map.items()]
        for key, eni in named:
            if eni not in known:
                ids = sorted(known)
                shown = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
                raise ConfigError(f"{eni!r} is not a network interface of the topology; it has: {shown or 'none'}",
                                  location=spec.where, key_path=f"sources[{i}].{key}")
