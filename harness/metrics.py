"""Pure statistics used across stages: proportions with honest confidence intervals."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

Z95 = 1.959963984540054


class Proportion(BaseModel):
    """A share of ``k`` successes in ``n`` trials with its Wilson 95% interval."""

    model_config = ConfigDict(frozen=True)

    k: int
    n: int
    value: float
    ci_low: float
    ci_high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}] (n={self.n})"


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (0, 1) when n == 0."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(k: int, n: int) -> Proportion:
    lo, hi = wilson_interval(k, n)
    return Proportion(k=k, n=n, value=k / n if n else float("nan"), ci_low=lo, ci_high=hi)
