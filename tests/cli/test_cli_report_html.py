"""`vpcflow report --html/--png`: one self-contained page (nothing fetched) that opens in headless Chromium
without console errors, whose tables really sort and filter, whose time-range control works, and whose
rejected-flows table shows the deciding rule without sideways scrolling at 1,400 px."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpcflow.cli.main import cli

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
T0 = 1700000000
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _logs(folder: Path) -> Path:
    lines = [HEADER]
    rejects = []
    for i in range(40):
        t = T0 + 60 * i
        lines.append(f"2 123456789012 eni-0aaaaaaaaaaaaaaaa 10.0.0.{i % 5 + 1} 10.0.1.10 {33000 + i} 443 6 50 60000 {t} {t + 30} ACCEPT OK")
        lines.append(f"2 123456789012 eni-0aaaaaaaaaaaaaaaa 198.51.100.7 10.0.1.10 40000 {i + 1} 6 1 40 {t} {t} REJECT OK")
        rejects.append({"interface_id": "eni-0aaaaaaaaaaaaaaaa", "flow_direction": "ingress", "srcaddr": "198.51.100.7",
                        "dstaddr": "10.0.1.10", "srcport": 40000, "dstport": i + 1, "protocol": 6, "start": t, "end": t,
                        "packets": 1, "rule": "sg-0c5bcc4c7b59e45e9 ingress: no rule allows it (security groups deny "
                                              "by default), a long explanation that must wrap rather than widen"})
    for i in range(25):  # an SSH brute force from another source
        t = T0 + 30 * i
        lines.append(f"2 123456789012 eni-0aaaaaaaaaaaaaaaa 203.0.113.9 10.0.1.10 {50000 + i} 22 6 3 180 {t} {t + 5} REJECT OK")
    p = folder / "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20231114T2210Z_00000000.log.gz"
    p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    (folder / "rejects").mkdir()
    (folder / "rejects" / "fl-0123456789abcdef0.rejects.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rejects))
    return folder


def _report(tmp_path: Path, *extra: str) -> Path:
    html = tmp_path / "report.html"
    r = CliRunner().invoke(cli, ["report", "all", "--path", str(_logs(tmp_path)), "--html", str(html), *extra])
    assert r.exit_code == 0, r.output
    return html


def test_page_is_self_contained_with_the_attacker_charts(tmp_path: Path) -> None:
    pngs = tmp_path / "png"
    page = _report(tmp_path, "--png", str(pngs)).read_text()
    for chart in ("traffic-over-time", "top-rejected-sources", "ports-per-source", "top-talkers"):
        assert re.search(f'id="{chart}"><h3>[^<]*</h3><svg', page), chart
        png = pngs / f"{chart}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    # self-contained: the one script is inline; no stylesheet, image, font or script is fetched
    assert "<link" not in page and 'src="' not in page and not re.search(r'href="(?!#)', page)
    assert not re.search(r"url\((?!#)", page)  # only in-page references such as clip paths
    # the selection it was computed on, ISO times, byte units, health per flow log
    assert "all flow logs (fl-0123456789abcdef0)" in page
    assert "2023-11-14T22:13:20Z" in page and "2.3 MiB" in page
    assert 'id="log-status-health"' in page and ">fl-0123456789abcdef0</td>" in page
    assert 'id="port-scan"' in page and 'data-v="198.51.100.7"' in page


_HARNESS = """
<script>
(function(){
  var out = {errors: window.__errors || []};
  function visible(id){return Array.prototype.filter.call(document.getElementById(id).tBodies[0].rows,
    function(r){return r.style.display !== 'none';});}
  function col(id, name){var t=document.getElementById(id);
    var i=Array.prototype.map.call(t.tHead.rows[0].cells,function(c){return c.textContent;}).indexOf(name);
    return visible(id).map(function(r){return r.cells[i].getAttribute('data-v');});}
  try {
    var th = Array.prototype.filter.call(document.querySelectorAll('#rejected-flows th'),
      function(h){return h.textContent === 'dstport';})[0];
    th.click(); out.asc = col('rejected-flows', 'dstport').map(Number);
    th.click(); out.desc = col('rejected-flows', 'dstport').map(Number);
    var box = document.querySelector('input.filter[data-for="rejected-flows"]');
    box.value = '10.0.1.10'; box.dispatchEvent(new Event('input', {bubbles: true}));
    out.filtered_all = visible('rejected-flows').length;
    box.value = 'nothing matches this'; box.dispatchEvent(new Event('input', {bubbles: true}));
    out.filtered_none = visible('rejected-flows').length;
    box.value = ''; box.dispatchEvent(new Event('input', {bubbles: true}));
    var from = document.getElementById('t-from'), to = document.getElementById('t-to');
    from.value = '2023-11-14T22:30:00Z'; from.dispatchEvent(new Event('input', {bubbles: true}));
    to.value = '2023-11-14T22:40:00Z'; to.dispatchEvent(new Event('input', {bubbles: true}));
    out.in_range = col('rejected-flows', 'start').map(Number);
    from.value = 'yesterday'; from.dispatchEvent(new Event('input', {bubbles: true}));
    out.time_error = document.getElementById('t-error').textContent;
    from.value = ''; to.value = ''; from.dispatchEvent(new Event('input', {bubbles: true}));
    var rule = document.querySelector('#rejected-flows tbody td:last-child').getBoundingClientRect();
    out.rule_right = rule.right; out.rule_width = rule.width;
    out.viewport = window.innerWidth; out.scroll_width = document.documentElement.scrollWidth;
  } catch (e) { out.errors.push(String(e)); }
  var pre = document.createElement('pre'); pre.id = 'harness-result'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""
_CATCH = "<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(e.message);});</script>"


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", *args], check=True, capture_output=True,
                              text=True, timeout=120)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_sorting_filtering_and_time_range_work_in_headless_chromium(tmp_path: Path) -> None:
    page = _report(tmp_path).read_text()
    driven = tmp_path / "driven.html"
    driven.write_text(page.replace("<head>", "<head>" + _CATCH, 1).replace("</body>", _HARNESS + "</body>"))
    dom = _chromium("--window-size=1400,1000", "--dump-dom", driven.as_uri()).stdout
    m = re.search(r'<pre id="harness-result">(.*?)</pre>', dom)
    assert m, dom[-2000:]
    out = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert out["errors"] == []
    assert out["asc"] == sorted(range(1, 41)) and out["desc"] == sorted(range(1, 41), reverse=True)
    assert out["filtered_all"] == 40 and out["filtered_none"] == 0
    import datetime as dt

    lo, hi = (int(dt.datetime(2023, 11, 14, 22, m, tzinfo=dt.UTC).timestamp()) for m in (30, 40))
    expected = [T0 + 60 * i for i in range(40) if T0 + 60 * i >= lo and T0 + 60 * i < hi]
    assert sorted(out["in_range"]) == expected
    assert out["time_error"].startswith("not a time")
    # the deciding rule is on screen at 1,400 px, with room to read it, and nothing scrolls sideways
    assert out["rule_right"] <= out["viewport"] and out["rule_width"] >= 250
    assert out["scroll_width"] <= out["viewport"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_page_renders_without_console_errors(tmp_path: Path) -> None:
    html = _report(tmp_path)
    shot = tmp_path / "shot.png"
    run = _chromium("--window-size=1400,2000", "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
                    html.as_uri())
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    # The charts' colours (ACCEPT green, REJECT red) must be on screen: the SVG charts rendered.
    import matplotlib.image as mpimg
    import numpy as np

    img = (mpimg.imread(shot)[:, :, :3] * 255).astype(np.int16)
    green = np.all(np.abs(img - np.array([0x2B, 0x8A, 0x3E])) < 12, axis=2).sum()
    red = np.all(np.abs(img - np.array([0xC9, 0x2A, 0x2A])) < 12, axis=2).sum()
    assert green > 500 and red > 500, (green, red)


def test_page_names_the_chosen_flow_log(tmp_path: Path) -> None:
    page = _report(tmp_path, "--flow-log-id", "fl-0123456789abcdef0").read_text()
    assert "<td>flow logs</td><td>fl-0123456789abcdef0</td>" in page
    r = CliRunner().invoke(cli, ["report", "all", "--path", str(tmp_path), "--flow-log-id", "fl-0ffffffffffffffff"])
    assert r.exit_code != 0 and "fl-0ffffffffffffffff" in str(r.exception or r.output)
