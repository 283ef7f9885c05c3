"""Run config validation: every problem names file:line and the key path (ConfigError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpcflow.core.errors import ConfigError
from vpcflow.runtime.run_config import load_run_config


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "topo.yaml").write_text("account_id: '123456789012'\n")
    (tmp_path / "a.pcap").write_bytes(b"\xd4\xc3\xb2\xa1")
    (tmp_path / "s.yaml").write_text("workloads: []\n")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    p = folder / "run.yaml"
    p.write_text(text)
    return p


def test_full_config_is_parsed_with_paths_relative_to_the_file(folder):
    cfg = load_run_config(write(folder, """\
data_dir: data
topology: topo.yaml
principal: arn:aws:iam::123456789012:user/alice
flow_logs:
  create:
    - {ResourceIds: [vpc-1], ResourceType: VPC, TrafficType: ALL}
  ids: [fl-0123456789abcdef0]
sources:
  - capture: a.pcap
    interface: eni-1
    skip_bad: true
  - pcapng: a.pcap
    interface_map: {eth0: eni-2}
  - scenario: s.yaml
    seed: 4
    duration_s: 30
output: {dir: out, format: parquet}
aggregation: {skipdata_capacity: 10, nodata: false}
delivery: {s3_endpoint_url: "http://127.0.0.1:9000", logs_endpoint_url: aws}
"""))
    assert (cfg.s3_endpoint_url, cfg.logs_endpoint_url) == ("http://127.0.0.1:9000", "aws")
    assert cfg.data_dir == folder / "data" and cfg.topology == folder / "topo.yaml"
    assert cfg.create == ({"ResourceIds": ["vpc-1"], "ResourceType": "VPC", "TrafficType": "ALL"},)
    assert cfg.create_where == (f"{folder / 'run.yaml'}:6",)
    assert cfg.flow_log_ids == ("fl-0123456789abcdef0",)
    kinds = [(s.kind, s.path.name, s.interface, s.interface_map, s.skip_bad, s.seed, s.duration_s)
             for s in cfg.sources]
    assert kinds == [("capture", "a.pcap", "eni-1", {}, True, None, None),
                     ("pcapng", "a.pcap", None, {"eth0": "eni-2"}, False, None, None),
                     ("scenario", "s.yaml", None, {}, False, 4, 30.0)]
    assert (cfg.output_dir, cfg.output_format, cfg.skipdata_capacity, cfg.nodata) == (folder / "out", "parquet", 10,
                                                                                      False)


@pytest.mark.parametrize(("text", "where", "message"), [
    ("sources: []\nbogus: 1\n", "2: bogus", "unknown key 'bogus'"),
    ("topology: topo.yaml\n", "1", "needs `sources`"),
    ("sources: []\n", "1: sources", "at least one source"),
    ("sources:\n  - capture: a.pcap\n    pcap: a.pcap\n", "2: sources[0]", "exactly one of"),
    ("sources:\n  - capture: missing.pcap\n", "2: sources[0].capture", "does not exist"),
    ("sources:\n  - capture: a.pcap\n    skip_bad: maybe\n", "3: sources[0].skip_bad", "true or false"),
    ("sources:\n  - scenario: s.yaml\n    interface: eni-1\n", "2: sources[0]", "no `interface`"),
    ("sources:\n  - capture: a.pcap\n    seed: 1\n", "3: sources[0].seed", "scenario"),
    ("sources:\n  - capture: a.pcap\n    interface_map: {eth0: 7}\n", "3: sources[0].interface_map.eth0",
     "an ENI id"),
    ("topology: nope.yaml\nsources:\n  - capture: a.pcap\n", "1: topology", "does not exist"),
    ("flow_logs:\n  ids: [vpc-1]\nsources:\n  - capture: a.pcap\n", "2: flow_logs.ids[0]", "not a flow-log id"),
    ("flow_logs:\n  create: [3]\nsources:\n  - capture: a.pcap\n", "2: flow_logs.create[0]", "CreateFlowLogs"),
    ("flow_logs: {update: []}\nsources:\n  - capture: a.pcap\n", "1: flow_logs.update", "unknown key"),
    ("sources:\n  - capture: a.pcap\noutput: {format: csv}\n", "3: output.format", "text, parquet"),
    ("sources:\n  - capture: a.pcap\naggregation:\n  skipdata_capacity: 0\n", "4: aggregation.skipdata_capacity",
     "at least 1"),
    ("sources:\n  - capture: a.pcap\naggregation: {nodata: 1}\n", "3: aggregation.nodata", "true or false"),
    ("sources:\n  - capture: a.pcap\ndelivery: {s3_endpoint_url: minio}\n", "3: delivery.s3_endpoint_url",
     "http(s):// URL"),
    ("sources:\n  - capture: a.pcap\ndelivery: {firehose: aws}\n", "3: delivery.firehose", "unknown key"),
    ("sources: [\n", "2", "not valid YAML"),
    ("- a\n- b\n", "1", "a mapping at the top level"),
])
def test_errors_name_line_and_key(folder, text, where, message):
    path = write(folder, text)
    with pytest.raises(ConfigError) as e:
        load_run_config(path)
    assert str(e.value).startswith(f"{path}:{where}")
    assert message in str(e.value)


def test_unreadable_config(tmp_path):
    with pytest.raises(ConfigError, match="the run config does not exist"):
        load_run_config(tmp_path / "absent.yaml")
