"""The Jinja2 environment of the leaderboard: autoescaping on for every template, strict undefined names,
and the number formats every page shares (accuracies as percentages with their CI and n)."""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or math.isnan(x) else f"{100 * x:.{digits}f}%"


def points(x: float | None) -> str:
    """An accuracy change in percentage points, signed."""
    return "–" if x is None or math.isnan(x) else f"{100 * x:+.1f}"


def ci(low: float | None, high: float | None, signed: bool = False) -> str:
    if low is None or high is None:
        return ""
    fmt = points if signed else (lambda v: f"{100 * v:.1f}")
    return f"[{fmt(low)}, {fmt(high)}]"


def params(n: int | None) -> str:
    if n is None:
        return "–"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def usd(x: float | None) -> str:
    if x is None:
        return "–"
    return "$0" if x == 0 else (f"${x:.4f}" if x < 0.01 else f"${x:.2f}")


def num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def when(x: datetime | str | None) -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    return x.strftime("%Y-%m-%d %H:%M UTC")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=pct, points=points, ci=ci, params=params, usd=usd, num=num, when=when)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
