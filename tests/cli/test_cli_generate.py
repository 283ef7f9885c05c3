"""``vpcflow generate``: writes a capture that vpcflow and tshark read identically; deterministic by seed;
purposeful errors exit 2 with one line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from tshark_totals import tshark_totals

from vpcflow.cli.main import cli
from vpcflow.dataplane.sources.capture import five_tuple_totals, open_capture

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "scenarios" / "demo.yaml"


def generate(tmp_path: Path, *args: str, name: str = "out.pcap") -> tuple[Path, str]:
    out = tmp_path / name
    res = CliRunner().invoke(cli, ["generate", str(DEMO), "--pcap", str(out), *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out, res.output


def test_generate_writes_a_capture_vpcflow_reads_back(tmp_path: Path) -> None:
    out, text = generate(tmp_path, "--duration", "30s", "--seed", "7", "--snaplen", "128")
    assert "web-https" in text and "total" in text
    src = open_capture(str(out))
    batches = list(src.batches())
    assert src.stats.packets == sum(len(b) for b in batches) > 10_000
    assert src.stats.malformed == 0 and src.stats.non_ip == 0 and src.stats.truncated_l4 == 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, _ = generate(tmp_path, "--duration", "5", "--seed", "3", "-q", name="a.pcap")
    b, _ = generate(tmp_path, "--duration", "5", "--seed", "3", "-q", name="b.pcap")
    c, _ = generate(tmp_path, "--duration", "5", "--seed", "4", "-q", name="c.pcap")
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_gzip_output(tmp_path: Path) -> None:
    out, _ = generate(tmp_path, "--duration", "3", "-q", name="o.pcap.gz")
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert sum(len(b) for b in open_capture(str(out)).batches()) > 0


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install -y tshark)")
def test_tshark_agrees_per_five_tuple(tmp_path: Path) -> None:
    out, _ = generate(tmp_path, "--duration", "20s", "--snaplen", "96", "-q")
    ours = five_tuple_totals(open_capture(str(out)).batches())
    theirs = tshark_totals(out)
    assert len(ours) > 500
    assert ours == theirs


def test_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    from vpcflow.cli.main import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"topology: {ROOT / 'examples' / 'topology' / 'three-tier.yaml'}\nworkloads:\n"
        "  - {name: a, kind: tcp, from: web-1a, to: no-such-eni, rate: 1}\n"
    )
    for args in (
        [str(bad), "--pcap", str(tmp_path / "x.pcap")],
        [str(tmp_path / "missing.yaml"), "--pcap", str(tmp_path / "x.pcap")],
        [str(DEMO), "--pcap", str(tmp_path / "x.pcap"), "--duration", "soon"],
    ):
        with pytest.raises(SystemExit) as e:
            main(["generate", *args])
        assert e.value.code == 2


def test_help() -> None:
    res = CliRunner().invoke(cli, ["generate", "--help"])
    assert res.exit_code == 0 and "--pcap" in res.output and "--seed" in res.output


def test_pcapng_output_by_suffix(tmp_path: Path) -> None:
    out, _ = generate(tmp_path, "--duration", "3", "-q", name="o.pcapng")
    src = open_capture(str(out))
    n = sum(len(b) for b in src.batches())
    assert src.format == "pcapng" and n == src.stats.packets > 0


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install -y tshark)")
def test_tshark_sees_clean_tcp_conversations(tmp_path: Path) -> None:
    """Sequence/acknowledgment numbers are consistent: no retransmission, out-of-order or duplicate-ACK
    analysis flags in ordinary traffic (the demo's attacks start later than the first 20 s)."""
    out, _ = generate(tmp_path, "--duration", "20s", "-q")
    text = subprocess.run(
        ["tshark", "-n", "-r", str(out), "-Y", "tcp.analysis.flags", "-T", "fields", "-e", "frame.number"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert text.split() == []
