"""``vpcflow run CONFIG``: flow logs created through the control plane, records delivered, taps, errors."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "golden"))
from test_dataplane_golden import TOPOLOGY, batch

from vpcflow.cli.main import main
from vpcflow.dataplane.sources.pcap_writer import write_pcap

ENI = "eni-1235b8ca123456789"
T = 1418530000  # 600-s aligned


def _invoke(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    (tmp_path / "topology.yaml").write_text(TOPOLOGY + "s3_buckets:\n  - {name: golden-flow-logs}\n")
    rows = [(T + 10 + i, "172.31.16.139", "172.31.16.21", 6, 20641, 22, 200, 0x02 if i == 0 else 0x10)
            for i in range(5)]
    rows += [(T + 20, "198.51.100.7", "172.31.16.139", 6, 50000, 3389, 60, 0x02)]  # no SG rule: REJECT
    write_pcap(tmp_path / "capture.pcap", batch(sorted(rows)))
    (tmp_path / "run.yaml").write_text(f"""\
topology: topology.yaml
flow_logs:
  create:
    - ResourceIds: [{ENI}]
      ResourceType: NetworkInterface
      TrafficType: ALL
      LogDestinationType: s3
      LogDestination: arn:aws:s3:::golden-flow-logs/run/
      MaxAggregationInterval: 600
sources:
  - capture: capture.pcap
""")
    return tmp_path


EXPECTED = [
    f"2 123456789010 {ENI} 172.31.16.139 172.31.16.21 20641 22 6 5 1000 {T + 10} {T + 14} ACCEPT OK",
    f"2 123456789010 {ENI} 198.51.100.7 172.31.16.139 50000 3389 6 1 60 {T + 20} {T + 20} REJECT OK",
]


def _s3_lines(data_dir: Path) -> list[str]:
    objs = sorted((data_dir / "s3" / "golden-flow-logs").rglob("*.log.gz"))
    lines: list[str] = []
    for o in objs:
        lines += gzip.decompress(o.read_bytes()).decode().splitlines()
    return lines


def test_run_creates_the_flow_log_and_delivers_to_the_local_bucket(setup: Path, capsys):
    dd = setup / "data"
    code, _out, err = _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(dd)], capsys)
    assert code == 0, err
    lines = _s3_lines(dd)
    assert lines[0] == "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes " \
                       "start end action log-status"
    assert lines[1:] == EXPECTED
    key = next((dd / "s3" / "golden-flow-logs").rglob("*.log.gz")).relative_to(dd / "s3" / "golden-flow-logs")
    assert str(key).startswith("run/AWSLogs/123456789010/vpcflowlogs/us-east-1/2014/12/14/")
    assert "records per flow log" in err  # the summary table
    rejects = list((dd / "rejects").glob("*.rejects.jsonl"))
    assert len(rejects) == 1
    row = json.loads(rejects[0].read_text().splitlines()[0])
    assert row["dstport"] == 3389 and row["rule"]


def test_rerun_reuses_the_flow_log_instead_of_failing(setup: Path, capsys):
    dd = setup / "data"
    assert _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(dd), "-q"], capsys)[0] == 0
    assert _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(dd), "-q"], capsys)[0] == 0
    from vpcflow.runtime.datadir import DataDir

    with DataDir.resolve(dd).state() as st:
        assert len(st.list_flow_logs()) == 1


def test_output_folder_and_aggregate_tap(setup: Path, capsys):
    dd, out = setup / "data", setup / "out"
    code, stdout, err = _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(dd), "--output", str(out),
                                 "--tap", "aggregate", "-q"], capsys)
    assert code == 0, err
    (folder,) = list(out.iterdir())
    assert (folder / "records.log").read_text().splitlines()[1:] == EXPECTED
    assert [ln.split(" ", 1)[1] for ln in stdout.splitlines()] == EXPECTED
    assert not (dd / "s3" / "golden-flow-logs" / "run").exists()


def test_parquet_output(setup: Path, capsys):
    out = setup / "out"
    code, _, err = _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(setup / "data"), "--output", str(out),
                            "--format", "parquet", "-q"], capsys)
    assert code == 0, err
    from vpcflow.codecs.parquet import read_parquet

    (part,) = list(out.rglob("*.parquet"))
    t = read_parquet(part)
    assert t.column("packets").to_pylist() == [5, 1] and t.column("action").to_pylist() == ["ACCEPT", "REJECT"]


def test_evaluate_tap_names_the_rule(setup: Path, capsys):
    code, stdout, err = _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(setup / "data"), "--tap",
                                 "evaluate", "-q"], capsys)
    assert code == 0, err
    reject = [ln for ln in stdout.splitlines() if "REJECT" in ln]
    assert len(reject) == 1 and "3389" in reject[0] and "rule=" in reject[0]


def test_config_errors_name_file_line_and_key(setup: Path, capsys):
    bad = setup / "bad.yaml"
    bad.write_text("topology: topology.yaml\nsources:\n  - capture: capture.pcap\n    seed: 3\n")
    code, _, err = _invoke(["run", str(bad), "--data-dir", str(setup / "data")], capsys)
    assert code == 2
    assert f"{bad}:4: sources[0].seed: `seed` applies to a synthetic `scenario` source only" in err


def test_create_refusal_is_reported_with_its_location(setup: Path, capsys):
    cfg = setup / "run.yaml"
    cfg.write_text(cfg.read_text().replace("MaxAggregationInterval: 600", "MaxAggregationInterval: 300"))
    code, _, err = _invoke(["run", str(cfg), "--data-dir", str(setup / "data")], capsys)
    assert code == 2
    assert f"{cfg}:4: flow_logs.create[0]: CreateFlowLogs refused: " in err


def test_missing_capture_file(setup: Path, capsys):
    cfg = setup / "run.yaml"
    cfg.write_text(cfg.read_text().replace("capture.pcap", "nope.pcap"))
    code, _, err = _invoke(["run", str(cfg), "--data-dir", str(setup / "data")], capsys)
    assert code == 2 and "sources[0].capture: file" in err and "does not exist" in err


def test_help(capsys):
    code, out, _ = _invoke(["run", "--help"], capsys)
    assert code == 0 and "--tap" in out and "--skip-bad" in out


EXAMPLES = Path(__file__).parents[2] / "examples" / "run"


def test_shipped_pcap_example_runs(tmp_path: Path, capsys):
    dd = tmp_path / "data"
    code, stdout, err = _invoke(["run", str(EXAMPLES / "pcap-run.yaml"), "--data-dir", str(dd), "--tap", "aggregate",
                                 "-q"], capsys)
    assert code == 0, err
    lines = [ln.split(" ", 1)[1] for ln in stdout.splitlines()]
    rejects = [ln for ln in lines if " REJECT " in ln]
    # The brute force: 200 SYNs from one host, one record each (distinct source ports), all REJECTed.
    assert len(rejects) == 200 and all("203.0.113.66 10.0.0.20" in ln for ln in rejects)
    # Nothing of the DNS and metadata traffic (spec 2.7).
    assert not any("10.0.0.2 " in ln or "169.254.169.254" in ln for ln in lines)
    # The ping: echo requests in, replies out, both accepted (4 packets, 336 bytes each way).
    assert sum(1 for ln in lines if " 0 0 1 4 336 " in ln and " ACCEPT " in ln) == 2
    assert list((dd / "s3" / "vpcflow-demo-logs" / "AWSLogs").rglob("*.log.gz"))


def test_bad_capture_stops_with_file_and_offset_unless_skip_bad(setup: Path, capsys):
    cap = setup / "capture.pcap"
    data = cap.read_bytes()
    # Garbage in the middle: a record header claiming an absurd captured length after the 3rd record.
    rec = 16 + 14 + 200  # record header + Ethernet + IP length 200 (snaplen 65535: nothing cut)
    cut = 24 + 3 * rec
    cap.write_bytes(data[:cut] + b"\xff" * 16 + data[cut:])
    code, _, err = _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(setup / "data"), "-q"], capsys)
    assert code == 2 and f"{cap} at byte {cut}" in err
    code, _, err = _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(setup / "data2"), "--skip-bad"], capsys)
    assert code == 0, err
    assert "bad records skipped" in err


def test_attribute_tap_shows_eni_and_direction(setup: Path, capsys):
    code, stdout, err = _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(setup / "data"), "--tap",
                                 "attribute", "-q"], capsys)
    assert code == 0, err
    lines = stdout.splitlines()
    assert len(lines) == 6 and all(ln.startswith("attribute ts=") for ln in lines)
    assert sum(f"eni={ENI} egress 172.31.16.139:20641 > 172.31.16.21:22" in ln for ln in lines) == 5
    assert sum(f"eni={ENI} ingress 198.51.100.7:50000 > 172.31.16.139:3389" in ln for ln in lines) == 1
    assert not any("ACCEPT" in ln or "REJECT" in ln for ln in lines)  # decisions are the evaluate tap's


def test_rerun_into_the_same_output_replaces_instead_of_appending(setup: Path, capsys):
    dd, out = setup / "data", setup / "out"
    for _ in range(2):
        assert _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(dd), "--output", str(out), "-q"],
                       capsys)[0] == 0
    (folder,) = list(out.iterdir())
    assert (folder / "records.log").read_text().splitlines()[1:] == EXPECTED


def test_existing_flow_logs_by_id_or_all(setup: Path, capsys):
    dd = setup / "data"
    assert _invoke(["run", str(setup / "run.yaml"), "--data-dir", str(dd), "-q"], capsys)[0] == 0
    from vpcflow.runtime.datadir import DataDir

    with DataDir.resolve(dd).state() as st:
        (fl,) = st.list_flow_logs()
    by_id = setup / "by-id.yaml"
    by_id.write_text(f"flow_logs:\n  ids: [{fl.flow_log_id}]\nsources:\n  - capture: capture.pcap\n")
    out = setup / "out"
    code, _, err = _invoke(["run", str(by_id), "--data-dir", str(dd), "--output", str(out), "-q"], capsys)
    assert code == 0, err
    assert (out / fl.flow_log_id / "records.log").read_text().splitlines()[1:] == EXPECTED
    every = setup / "all.yaml"
    every.write_text("sources:\n  - capture: capture.pcap\n")
    assert _invoke(["run", str(every), "--data-dir", str(dd), "--output", str(setup / "out2"), "-q"], capsys)[0] == 0
    assert (setup / "out2" / fl.flow_log_id / "records.log").exists()
    missing = setup / "missing.yaml"
    missing.write_text("flow_logs:\n  ids: [fl-00000000000000bad]\nsources:\n  - capture: capture.pcap\n")
    code, _, err = _invoke(["run", str(missing), "--data-dir", str(dd), "-q"], capsys)
    assert code == 2 and "fl-00000000000000bad do not exist" in err


def test_empty_data_dir_without_topology_is_a_clear_error(setup: Path, capsys):
    cfg = setup / "no-topo.yaml"
    cfg.write_text("sources:\n  - capture: capture.pcap\n")
    code, _, err = _invoke(["run", str(cfg), "--data-dir", str(setup / "empty"), "-q"], capsys)
    assert code == 2 and "has no topology" in err


def test_delivery_to_an_s3_endpoint_through_boto3(setup: Path, capsys, monkeypatch):
    moto_server = pytest.importorskip("moto.server")
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                     "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(k, v)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="golden-flow-logs")
        cfg = setup / "run.yaml"
        cfg.write_text(cfg.read_text() + f"delivery:\n  s3_endpoint_url: {endpoint}\n")
        code, _, err = _invoke(["run", str(cfg), "--data-dir", str(setup / "data"), "-q"], capsys)
        assert code == 0, err
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="golden-flow-logs").get("Contents", [])]
        assert len(keys) == 1 and keys[0].startswith("run/AWSLogs/123456789010/vpcflowlogs/us-east-1/2014/12/14/")
        body = gzip.decompress(s3.get_object(Bucket="golden-flow-logs", Key=keys[0])["Body"].read()).decode()
        assert body.splitlines()[1:] == EXPECTED
        assert not (setup / "data" / "s3" / "golden-flow-logs" / "run").exists()  # not the local store
    finally:
        server.stop()


@pytest.mark.slow
def test_shipped_demo_example_runs(tmp_path: Path, capsys):
    dd = tmp_path / "data"
    code, _, err = _invoke(["run", str(EXAMPLES / "demo-run.yaml"), "--data-dir", str(dd)], capsys)
    assert code == 0, err
    bucket = dd / "s3" / "vpcflow-demo-logs"
    assert list(bucket.rglob("*.log.gz")) and list(bucket.rglob("*.log.parquet"))
    from vpcflow.storage.logstore import LogStore

    store = LogStore(dd / "logs.db")
    try:
        streams = set(store.stream_names("/vpcflow/demo"))
        events = store.filter_log_events(logGroupName="/vpcflow/demo", logStreamNames=["eni-01c69b7967b1c442f-all"],
                                         limit=10000)["events"]
    finally:
        store.close()
    nodata_only = (len(events), sum(e["message"].endswith(" NODATA") for e in events))
    # Both database ENIs have a stream; the idle standby (db-1b) logs NODATA records only, one a minute.
    assert {"eni-0df26292f842a29fc-all", "eni-01c69b7967b1c442f-all"} <= streams
    assert nodata_only[0] >= 60 and nodata_only[0] == nodata_only[1]
