"""The state is guarded (issue 13 item 7): an emptied or damaged state.db / logs.db beside delivered data
is one line naming the file with a recovery hint (exit 2), never a new account, never a run that goes on.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from run_kit import GROUP, cli, delivered, env, run_cli, write_config, write_scenario


@pytest.fixture(scope="module")
def used(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, a data directory after one clean run)."""
    tmp = tmp_path_factory.mktemp("guarded")
    cfg = write_config(tmp / "run.yaml", write_scenario(tmp / "scenario.yaml", seed=31))
    data = tmp / "data"
    r = run_cli(cfg, data)
    assert r.returncode == 0, r.stderr[-3000:]
    return cfg, data


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for side in ("state.db-wal", "state.db-shm", "logs.db-wal", "logs.db-shm"):
        (dst / side).unlink(missing_ok=True)
    return dst


def _one_line(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    line = r.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    for w in words:
        assert w in line, (w, line)


def _commands(data: Path) -> list[list[str]]:
    return [cli("ec2", "--data-dir", data, "describe-flow-logs"), cli("read", "--data-dir", data),
            cli("logs", "--data-dir", data, "filter-log-events", "--log-group-name", GROUP)]


def test_zero_byte_state_db_is_not_a_new_account(used: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, src = used
    data = _copy(src, tmp_path / "data")
    before = delivered(data)
    (data / "state.db").write_bytes(b"")
    _one_line(run_cli(cfg, data), "state.db", "empty (0 bytes)", "s3/", "logs.db", "backup")
    assert (data / "state.db").stat().st_size == 0
    for cmd in _commands(data):
        _one_line(subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=120), "state.db")
    assert delivered(data) == before


def _damage_text(db: Path, marker: bytes) -> None:
    raw = bytearray(db.read_bytes())
    at = raw.find(marker)
    assert at > 0, marker
    raw[at:at + len(marker)] = b"\xff" * len(marker)  # not UTF-8
    db.write_bytes(bytes(raw))


def test_damaged_state_db_is_one_line_in_every_command(used: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, src = used
    data = _copy(src, tmp_path / "data")
    _damage_text(data / "state.db", b"/vpcflow/identity")  # a flow log's LogGroupName
    _one_line(run_cli(cfg, data), "state.db", "corrupt")
    for cmd in _commands(data)[:2]:  # (logs commands never read flow logs)
        _one_line(subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=120), "state.db", "corrupt")


def test_malformed_state_db_pages(used: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, src = used
    data = _copy(src, tmp_path / "data")
    raw = bytearray((data / "state.db").read_bytes())
    raw[4096 * 2:4096 * 4] = bytes(range(256)) * 32  # two b-tree pages of garbage
    (data / "state.db").write_bytes(bytes(raw))
    _one_line(run_cli(cfg, data), "state.db", "corrupt")


def test_malformed_logs_db_stops_the_run(used: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, src = used
    data = _copy(src, tmp_path / "data")
    # A new input set, so the run has events to write into the damaged store.
    write_scenario(cfg.parent / "scenario2.yaml", seed=32)
    cfg2 = write_config(tmp_path / "run2.yaml", cfg.parent / "scenario2.yaml")
    db = data / "logs.db"
    c = sqlite3.connect(db)
    root = c.execute("SELECT rootpage FROM sqlite_master WHERE name='events'").fetchone()[0]
    page = c.execute("PRAGMA page_size").fetchone()[0]
    c.close()
    raw = bytearray(db.read_bytes())
    raw[(root - 1) * page:root * page] = (b"\x0d" + bytes(range(1, 256)) * (page // 255 + 1))[:page]  # a leaf of junk
    db.write_bytes(bytes(raw))
    r = run_cli(cfg2, data)
    _one_line(r, "logs.db", "corrupt")


def test_zero_byte_logs_db_beside_state(used: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, src = used
    data = _copy(src, tmp_path / "data")
    (data / "logs.db").write_bytes(b"")
    _one_line(run_cli(cfg, data), "logs.db", "empty (0 bytes)", "move it away")
    (data / "logs.db").unlink()  # the recovery the message gives: the events come back, exactly once
    r = run_cli(cfg, data)
    assert r.returncode == 0, r.stderr[-3000:]
    assert delivered(data) == delivered(src)
