"""Mutation run: plant one-line bugs, one at a time, and check the test suite catches every one.

    python benchmarks/mutation_run.py [--only ID ...] [--list] [--keep]

Each mutation (``MUTATIONS`` in benchmarks/mutations.py) names a file, one exact line fragment that
must occur there exactly once, its replacement, and the tests that should notice. The run makes a
scratch copy of the checkout (``git worktree add`` at HEAD, so uncommitted edits are not part of it),
then for each mutation: edits the copy, rebuilds the native core when the mutation is in Rust (cargo,
release, one shared target folder so only the crate recompiles), runs the named tests against the copy
(``PYTHONPATH`` points at the copy's ``src``), and restores the file. A mutation is *caught* when the
tests fail, *missed* when they pass, *stale* when its fragment is no longer in the file (the code
moved on: update the mutation). The report lists every mutation and ends with
``caught N of M``; the exit status is 1 when any is missed or stale.

It is a report like the other scripts here (minutes of CPU: not part of CI); docs/testing.md explains it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutations import MUTATIONS, Mutation  # a sibling data module

ROOT = Path(__file__).resolve().parents[1]


def _scratch() -> Path:
    where = Path(tempfile.mkdtemp(prefix="vpcflow-mutation-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where / "tree"), "HEAD"],
                   check=True, capture_output=True)
    tree = where / "tree"
    for built in (ROOT / "src" / "vpcflow").glob("_native*.so"):  # the installed native core, unmutated
        shutil.copy2(built, tree / "src" / "vpcflow" / built.name)
    return tree


def _build_native(tree: Path, target: Path) -> bool:
    env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    done = subprocess.run(["cargo", "build", "--release", "--features", "extension-module", "--manifest-path",
                           str(tree / "native" / "Cargo.toml")], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return False
    so = next((tree / "src" / "vpcflow").glob("_native*.so"), tree / "src" / "vpcflow" / "_native.abi3.so")
    shutil.copy2(target / "release" / "libvpcflow_native.so", so)
    return True


def _run_tests(tree: Path, tests: tuple[str, ...]) -> bool:
    """True when the tests pass (the mutation was missed)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "VPCFLOW_STRICT_SKIPS": "0"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "--timeout", "600",
                           *tests], cwd=tree, env=env, capture_output=True, text=True)
    return done.returncode == 0


def run_one(tree: Path, target: Path, m: Mutation) -> str:
    path = tree / m.file
    original = path.read_text()
    if original.count(m.old) != 1:
        return "stale"
    path.write_text(original.replace(m.old, m.new))
    try:
        if m.file.startswith("native/") and not _build_native(tree, target):
            return "caught (does not compile)"
        return "MISSED" if _run_tests(tree, m.tests) else "caught"
    finally:
        path.write_text(original)
        if m.file.startswith("native/"):
            _build_native(tree, target)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="mutation ids to run")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if args.only is None or m.id in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.id:28} {m.area:14} {m.file}")
        return
    tree = _scratch()
    target = tree.parent / "target"
    results: list[tuple[Mutation, str, float]] = []
    try:
        for m in chosen:
            t0 = time.monotonic()
            outcome = run_one(tree, target, m)
            results.append((m, outcome, time.monotonic() - t0))
            print(f"{m.id:28} {m.area:14} {outcome:26} {time.monotonic() - t0:6.1f} s  {m.why}", flush=True)
    finally:
        if not args.keep:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
            shutil.rmtree(tree.parent, ignore_errors=True)
    caught = sum(outcome.startswith("caught") for _, outcome, _ in results)
    print(f"caught {caught} of {len(results)}")
    sys.exit(0 if caught == len(results) else 1)


if __name__ == "__main__":
    main()
