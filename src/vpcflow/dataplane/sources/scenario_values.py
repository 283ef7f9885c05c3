"""Reading a scenario's values: numbers, ranges, durations, the start time and ports, each checked
against ``scenario_limits`` and reported with ``file:line`` and the key path (docs/scenarios.md)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from vpcflow.core.errors import ConfigError
from vpcflow.dataplane.sources import scenario_limits as limits
from vpcflow.model.topology.sourcemap import KeyPath, SourceMap, format_path

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclass(frozen=True)
class Range:
    """A value drawn per flow from [lo, hi] (log-uniform when both are positive)."""

    lo: float
    hi: float

    def sample(self, rng: np.random.Generator, n: int, log: bool = True) -> np.ndarray:
        if self.lo == self.hi:
            return np.full(n, self.lo)
        if log and self.lo > 0:
            return np.exp(rng.uniform(np.log(self.lo), np.log(self.hi), n))
        return rng.uniform(self.lo, self.hi, n)


class Ctx:
    """Where a scenario's keys are: errors carry ``file:line`` and the key path."""

    def __init__(self, sm: SourceMap) -> None:
        self.sm = sm

    def error(self, path: KeyPath, message: str) -> ConfigError:
        return ConfigError(message, location=self.sm.locate(path), key_path=format_path(path) or None)


def parse_duration(value: Any, ctx: Ctx, path: KeyPath) -> float:
    if isinstance(value, bool):
        raise ctx.error(path, f"expected a duration (e.g. 90, '15m', '1h'), got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ctx.error(path, f"expected a duration (e.g. 90, '15m', '1h'), got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(seconds) or seconds < 0:
        raise ctx.error(path, f"a duration is a finite number of seconds >= 0, got {value!r}")
    if seconds > limits.MAX_DURATION_S:
        raise ctx.error(path, f"{value!r} is longer than the {limits.MAX_DURATION_S:,.0f} s (366 days) vpcflow allows")
    return seconds


def read_number(value: Any, ctx: Ctx, path: KeyPath, *, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.error(path, f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ctx.error(path, f"expected a finite number, got {value!r}")
    if lo is not None and value < lo:
        raise ctx.error(path, f"{value:g} is below the minimum {lo:g}")
    if hi is not None and value > hi:
        raise ctx.error(path, f"{value:g} is above the maximum {hi:g} (docs/scenarios.md, limits)")
    return float(value)


def read_range(
    value: Any, ctx: Ctx, path: KeyPath, default: tuple[float, float], *, lo: float = 0, hi: float | None = None
) -> Range:
    if value is None:
        return Range(*default)
    if isinstance(value, list):
        if len(value) != 2:
            raise ctx.error(path, f"expected a number or [min, max], got {value!r}")
        a = read_number(value[0], ctx, (*path, 0), lo=lo, hi=hi)
        b = read_number(value[1], ctx, (*path, 1), lo=lo, hi=hi)
        if a > b:
            raise ctx.error(path, f"min {a} is larger than max {b}")
        return Range(a, b)
    v = read_number(value, ctx, path, lo=lo, hi=hi)
    return Range(v, v)


def read_ports(value: Any, ctx: Ctx, path: KeyPath) -> np.ndarray:
    items = value if isinstance(value, list) else [value]
    out: list[np.ndarray] = []
    for i, item in enumerate(items):
        p = (*path, i) if isinstance(value, list) else path
        if isinstance(item, int) and not isinstance(item, bool):
            lo = hi = item
        elif isinstance(item, str) and re.fullmatch(r"\d+\s*-\s*\d+", item):
            lo, hi = (int(x) for x in item.split("-"))
        else:
            raise ctx.error(p, f"expected a port, a range 'lo-hi' or a list of them, got {item!r}")
        if not (0 <= lo <= hi <= 65535):
            raise ctx.error(p, f"port range {lo}-{hi} is not within 0-65535")
        out.append(np.arange(lo, hi + 1, dtype=np.uint16))
    if not out:
        raise ctx.error(path, "no ports given")
    return np.concatenate(out)


def read_start_ns(value: Any, duration: float, ctx: Ctx) -> int:
    """The scenario's start in ns since the epoch; the whole scenario must lie in 1970..2099 (scenario_limits)."""
    start_text = value.isoformat() if isinstance(value, datetime) else str(value)
    try:
        start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
    except ValueError as e:
        raise ctx.error(("start",), f"expected an ISO 8601 time like 2026-01-05T00:00:00Z, got {start_text!r}") from e
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if start < limits.EARLIEST_START or start.timestamp() + duration >= limits.END_OF_TIME.timestamp():
        raise ctx.error(("start",), f"the scenario ({start_text} plus {duration:g} s) must lie between "
                                   "1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z")
    return int(start.timestamp()) * 1_000_000_000 + start.microsecond * 1000
