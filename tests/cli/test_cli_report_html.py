"""`vpcflow report --html/--png`: the page is self-contained, opens in headless Chromium and shows its charts."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpcflow.cli.main import cli

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def _logs(folder: Path) -> Path:
    lines = [HEADER]
    for i in range(40):
        t = 1700000000 + 60 * i
        lines.append(f"2 123456789012 eni-0aaaaaaaaaaaaaaaa 10.0.0.{i % 5 + 1} 10.0.1.10 {33000 + i} 443 6 50 60000 {t} {t + 30} ACCEPT OK")
        lines.append(f"2 123456789012 eni-0aaaaaaaaaaaaaaaa 198.51.100.7 10.0.1.10 40000 {i + 1} 6 1 40 {t} {t} REJECT OK")
    p = folder / "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20231114T2210Z_00000000.log.gz"
    p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return p


def test_html_and_png_charts(tmp_path: Path) -> None:
    logs = _logs(tmp_path)
    html = tmp_path / "report.html"
    pngs = tmp_path / "png"
    r = CliRunner().invoke(cli, ["report", "all", "--path", str(logs), "--html", str(html), "--png", str(pngs)])
    assert r.exit_code == 0, r.output
    page = html.read_text()
    for chart in ("traffic-over-time", "accept-reject", "top-talkers"):
        assert f'id="{chart}"><svg' in page
        png = pngs / f"{chart}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    # self-contained: nothing is fetched (no scripts, stylesheets, images or fonts by URL)
    import re

    assert "<script" not in page and "<link" not in page and 'src="' not in page
    assert not re.search(r"url\((?!#)", page)  # only in-page references such as clip paths
    assert "Port-scan candidates" in page and "198.51.100.7" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    logs = _logs(tmp_path)
    html = tmp_path / "report.html"
    r = CliRunner().invoke(cli, ["report", "all", "--path", str(logs), "--html", str(html)])
    assert r.exit_code == 0, r.output
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1200,2000", f"--screenshot={shot}", html.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    assert shot.exists()
    # The charts' bar colours (ACCEPT green, REJECT red) must be on screen: the SVG charts rendered.
    import matplotlib.image as mpimg
    import numpy as np

    img = (mpimg.imread(shot)[:, :, :3] * 255).astype(np.int16)
    green = np.all(np.abs(img - np.array([0x2B, 0x8A, 0x3E])) < 12, axis=2).sum()
    red = np.all(np.abs(img - np.array([0xC9, 0x2A, 0x2A])) < 12, axis=2).sum()
    assert green > 500 and red > 500, (green, red)
