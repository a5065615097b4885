"""Pure statistics used across stages: proportions with honest confidence intervals."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

Z95 = 1.959963984540054


def _nan_from_none(value):
    return float("nan") if value is None else value


def _none_from_nan(value: float) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


# A statistic that is undefined for empty input (the share of 0 items) is NaN in memory and null in JSON: JSON and
# PostgreSQL's json type have no NaN, and a stage file written with null must load back (as NaN).
MaybeNaN = Annotated[float, BeforeValidator(_nan_from_none), PlainSerializer(_none_from_nan)]


class Proportion(BaseModel):
    """A share of ``k`` successes in ``n`` trials with its Wilson 95% interval."""

    model_config = ConfigDict(frozen=True)

    k: int
    n: int
    value: MaybeNaN
    ci_low: MaybeNaN
    ci_high: MaybeNaN

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


class PairedDelta(BaseModel):
    """Change in accuracy between two evaluations of the same items (after - before)."""

    model_config = ConfigDict(frozen=True)

    n: int
    before: MaybeNaN
    after: MaybeNaN
    delta: MaybeNaN
    ci_low: MaybeNaN
    ci_high: MaybeNaN
    mcnemar_p: MaybeNaN
    discordant: tuple[int, int] = (0, 0)  # (right before only, right after only)
    mde: MaybeNaN  # minimum detectable effect (80% power, two-sided 5%) at this n and discordance


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of b vs c discordant pairs at p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_delta(before: list[bool], after: list[bool], resamples: int = 2000, seed: int = 0) -> PairedDelta:
    """Delta with a paired percentile-bootstrap 95% CI over items, McNemar's exact p and the MDE.

    The MDE uses the normal approximation for paired proportions with the observed discordance
    rate: (z_0.975 + z_0.8) * sqrt(discordant share / n); with no discordance it falls back to
    one item's worth (1/n), so "no change" on few items reads as "too few items to tell".
    """
    import numpy as np

    if len(before) != len(after):
        raise ValueError(f"paired evaluations need the same items: {len(before)} vs {len(after)}")
    n = len(before)
    if n == 0:
        raise ValueError("no items to compare")
    diffs = [int(a) - int(b) for b, a in zip(before, after, strict=True)]
    b_only = sum(d == -1 for d in diffs)
    a_only = sum(d == 1 for d in diffs)
    delta = sum(diffs) / n
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    stats = np.asarray(diffs, dtype=np.int64)[idx].mean(axis=1)
    lo, hi = (float(x) for x in np.quantile(stats, [0.025, 0.975]))
    disc = (b_only + a_only) / n
    mde = (Z95 + 0.8416212335729143) * math.sqrt(disc / n) if disc else 1 / n
    return PairedDelta(n=n, before=sum(before) / n, after=sum(after) / n, delta=delta, ci_low=lo, ci_high=hi,
                       mcnemar_p=mcnemar_exact(b_only, a_only), discordant=(b_only, a_only), mde=mde)
