"""List the functions of src/vpcflow longer than a limit (issue 14: no function over ~60 lines without a reason).

    python tools/long_functions.py [LIMIT]      # default 60; lines from ``def`` to the last line, docstring included

Prints ``lines path:line name`` longest first and the count; it is a report, not a gate.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def long_functions(limit: int) -> list[tuple[int, str, str]]:
    rows = []
    for path in sorted((ROOT / "src" / "vpcflow").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    rows.append((length, f"{path.relative_to(ROOT)}:{node.lineno}", node.name))
    return sorted(rows, reverse=True)


def main() -> None:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    rows = long_functions(limit)
    for length, where, name in rows:
        print(f"{length:4} {where} {name}")
    print(f"{len(rows)} functions over {limit} lines")


if __name__ == "__main__":
    main()
