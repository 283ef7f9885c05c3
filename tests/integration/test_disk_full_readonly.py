"""A full disk and a read-only file system are named as such (one line, exit 2), and the re-run after the
space is freed (or the file system is writable again) completes exactly (issue 13 items 7 and 9).

Needs root (tmpfs mounts); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from run_kit import delivered, run_cli, write_config, write_scenario

pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None,
                                 reason="mounting a small tmpfs needs root and mount(8)")]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _inputs(folder: Path, seed: int) -> Path:
    return write_config(folder / f"run{seed}.yaml", write_scenario(folder / f"scenario{seed}.yaml", seed=seed))


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Counter[str], Counter[tuple[str, int, str]]]:
    """What runs of seeds 41 and 42 deliver together, from clean runs on an ordinary disk."""
    tmp = tmp_path_factory.mktemp("full-ref")
    data = tmp / "data"
    for seed in (41, 42):
        r = run_cli(_inputs(tmp, seed), data)
        assert r.returncode == 0, r.stderr[-3000:]
    return delivered(data)


def _fill(mnt: Path, leave: int) -> Path:
    filler = mnt / "filler"
    st = os.statvfs(mnt)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with filler.open("wb") as fh:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            n = fh.write(chunk[: min(size, len(chunk))])
            size -= n
    return filler


def _one_line(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    line = r.stderr.strip()
    assert "\n" not in line and "Traceback" not in line and "cannot rollback" not in line, line
    for w in words:
        assert w in line, (w, line)


@pytest.mark.parametrize("leave", [0, 48 * 1024, 160 * 1024])
def test_disk_full_is_named_and_the_rerun_completes(tmpfs: Path, tmp_path: Path, leave: int,
                                                    expected: tuple[Counter[str], Counter[tuple[str, int, str]]]
                                                    ) -> None:
    data = tmpfs / "data"
    first = run_cli(_inputs(tmp_path, 41), data)
    assert first.returncode == 0, first.stderr[-3000:]
    filler = _fill(tmpfs, leave)
    cfg = _inputs(tmp_path, 42)
    _one_line(run_cli(cfg, data), "no space left on the device")
    filler.unlink()
    again = run_cli(cfg, data)
    assert again.returncode == 0, again.stderr[-3000:]
    assert delivered(data) == expected


def test_read_only_file_system_is_named_and_the_rerun_completes(
        tmpfs: Path, tmp_path: Path, expected: tuple[Counter[str], Counter[tuple[str, int, str]]]) -> None:
    data = tmpfs / "data"
    assert run_cli(_inputs(tmp_path, 41), data).returncode == 0
    cfg = _inputs(tmp_path, 42)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    try:
        _one_line(run_cli(cfg, data), "read-only")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    again = run_cli(cfg, data)
    assert again.returncode == 0, again.stderr[-3000:]
    assert delivered(data) == expected
