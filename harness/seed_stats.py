"""Seed-level statistics: a student's seed-mean delta over test items and training seeds (:func:`seed_delta`).

Split from :mod:`harness.metrics` (proportions, paired item deltas and the tests), which it builds on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from harness.metrics import MaybeNaN


class SeedDelta(BaseModel):
    """Difference of seed-mean accuracies on shared test items, with a CI covering items and training seeds."""

    model_config = ConfigDict(frozen=True)

    n: int  # shared test items
    seeds: int  # training seeds of the 'after' side
    before: MaybeNaN  # seed-mean accuracy of the 'before' side (the frozen baseline: one row)
    after: MaybeNaN  # seed-mean accuracy of the 'after' side
    delta: MaybeNaN  # after - before (seed means)
    ci_low: MaybeNaN  # 95% crossed random-effects t interval: delta -+ t_{0.975, df} * se (NaN with one item)
    ci_high: MaybeNaN
    seed_deltas: list[MaybeNaN]  # per 'after' seed: its accuracy minus the 'before' seed mean
    seed_sd: MaybeNaN  # sample SD (ddof=1) of seed_deltas; NaN with one seed
    method: str  # one line naming the procedure (shown in reports)
    # One-sided p-values of the same t statistic: p_below = P(T_df <= delta / se) (small: after is below before),
    # p_above = 1 - p_below. NaN (null in JSON) in results stored before they existed.
    p_below: MaybeNaN = float("nan")
    p_above: MaybeNaN = float("nan")
    # Standard error of delta (items and training seeds) and its Satterthwaite degrees of freedom; NaN (null in
    # JSON) in results stored before they existed, df also when se = 0.
    se: MaybeNaN = float("nan")
    df: MaybeNaN = float("nan")


SEED_DELTA_METHOD = "crossed random-effects (items x training seeds) t interval, Satterthwaite df"


def _matrix(rows, side: str):
    import numpy as np

    try:
        m = np.asarray([[bool(x) for x in row] for row in rows], dtype=float)
    except (TypeError, ValueError):  # a flat row instead of a matrix, or rows of different lengths
        m = None
    if m is None or m.ndim != 2 or m.shape[0] == 0:
        raise ValueError(f"'{side}' needs at least one row of per-item correctness (one row per seed), all rows "
                         "over the same items")
    return m


def seed_mean_squares(x) -> tuple[float, float]:
    """(MS_seeds, MS_err) of one side's (S x n) 0/1 matrix, S >= 2 and n >= 2: the two-way ANOVA without
    replication, MS_seeds = n * var_s(row means, ddof=1) with S - 1 degrees of freedom, MS_err = the sum of squared
    residuals of the additive fit (row + column effects) / ((S - 1)(n - 1)). E[MS_seeds] = n sigma^2_seed +
    sigma^2_err and E[MS_err] = sigma^2_err, so sigma^2_seed = max(0, (MS_seeds - MS_err) / n) is the variance of a
    training run's mean accuracy beyond what item-level noise explains (:func:`seed_variance`).

    Computed from integer sums (0/1 entries), so identical rows give MS_seeds = 0 exactly.
    """
    s, n = x.shape
    if s < 2 or n < 2:
        raise ValueError(f"the seed mean squares need at least 2 seeds and 2 items, got {s} x {n}")
    rows = [int(v) for v in x.sum(axis=1)]
    cols = [int(v) for v in x.sum(axis=0)]
    total = sum(rows)
    sum_r2, sum_c2 = sum(v * v for v in rows), sum(v * v for v in cols)
    # Sums of squares times S * n, exact integers (T = total, x^2 = x for 0/1 entries):
    #   S n SS_seeds = S sum_s R_s^2 - T^2,   S n SS_err = S n T - S sum_s R_s^2 - n sum_i C_i^2 + T^2
    ss_seeds = s * sum_r2 - total * total
    ss_err = s * n * total - s * sum_r2 - n * sum_c2 + total * total
    return ss_seeds / (s * n * (s - 1)), ss_err / (s * n * (s - 1) * (n - 1))


def seed_variance(x) -> float:
    """sigma^2_seed = max(0, (MS_seeds - MS_err) / n) of one side's (S x n) 0/1 matrix (:func:`seed_mean_squares`);
    exactly 0 when the rows are identical."""
    ms_seeds, ms_err = seed_mean_squares(x)
    return max(0.0, (ms_seeds - ms_err) / x.shape[1])


SEED_DELTA_NOTES = """:func:`seed_delta`'s degrees of freedom, why it is not a bootstrap, and what it assumes.

se^2 = v_items + sum of the v_X, a linear combination of independent mean squares: var_i(g) / n (n - 1 df)
and, per side with v_X > 0, MS_seeds / (n S_X) (S_X - 1 df) minus MS_err / (n S_X) ((S_X - 1)(n - 1) df). The
degrees of freedom are Satterthwaite's for that combination, df = se^4 / sum_k (c_k MS_k)^2 / df_k (a side
with v_X = 0 left out).

Why the Satterthwaite seed terms use MS_seeds / (n S_X), not v_X: the seed mean square carries the item x seed
noise too, and so does its uncertainty; with v_X in their place (2-df parts of weight v_X^2) the CI covered 0.91
instead of 0.92 in the 1 vs 3, seed-dominated case below and 0.93 instead of 0.96 in the 3 vs 3 case with seed and
item parts alike.

Why not a bootstrap. The two-level percentile bootstrap used before (one item resample shared by every row,
seeds resampled per side) covered the true delta in 85% of simulated experiments with 3 seeds when seed noise
dominates (a bootstrap of 3 numbers has the plug-in variance and normal-like tails and cannot reach past their
range); widening its seed part to the Student-t width (factor 2.69 at 3 seeds) over-covered, 99.4-100%
(``bench/compare_calibration.py``, 1000 trials per row), with A/A false alarms in 0.3% (CI upper < 0,
nominal 2.5%) and 0.7% (p_below < 0.05, nominal 5%) and power 0.16 at a 5-point drop (1200 items x 3/3
seeds, seed SD 3 points), because resampling seeds re-counts the item x seed noise that the item resample
already contains, and the factor then inflated that too. The interval here counts each variance component
once.

What it assumes: the item mean of g is approximately normal at n items (hundreds here), the seeds of a side
are exchangeable draws of the training run, and the components add (items and seeds independent). With 3
seeds and a dominant seed effect df is about 2 (t_{0.975, 2} = 4.30) and the CI is wide: 3 seeds say little
about the seed variance, and that is the honest answer. Coverage and the null distribution of p_below are
measured by simulation in tests/test_metrics.py (binary answers from probit item ease + seed shift + Bernoulli
noise; 2000 experiments per case): with 3 seeds, coverage 0.923 (1 vs 3) and 0.968 (3 vs 3) when the seed part
dominates (seed SD 4 points, 1200 items), 0.964 and 0.976 when items dominate (no seed effect, 300 items). The
runner's 1 vs 3 case with a dominant seed part is the weak spot, slightly liberal like any Welch-Satterthwaite t
with a 2-df part (A/A p_below < 0.05 in 6-7%); 3 vs 3 without a seed effect is slightly conservative (the
seed parts are truncated at 0, never negative).
"""


def seed_delta(before: Sequence[Sequence[bool]], after: Sequence[Sequence[bool]]) -> SeedDelta:
    """after - before in seed-mean accuracy on the same test items, with a crossed random-effects 95% t interval.

    ``before`` is an (S_a x n) matrix of per-item correctness (S_a = 1 for the frozen baseline, evaluated
    once), ``after`` an (S_b x n) matrix, one row per training seed; columns are the same test items in the
    same order. Deterministic (no resampling).

    Model. Each side's entry X[s, i] = grand mean + item effect + seed effect + item x seed interaction, items
    and seeds crossed (every seed, and the baseline, is evaluated on every item), items and seeds random. With
    g_i = mean_s after[s, i] - mean_s before[s, i], the estimate is delta = mean_i g_i, and its variance has
    two kinds of part:

    - *items* (the n test items are one sample of the task; seeds held): v_items = var_i(g_i, ddof=1) / n, with
      n - 1 degrees of freedom. Seed effects are constant over items and cancel from var_i; what it holds is the
      difference of the two sides' item effects and each side's item x seed noise averaged over its seeds (which
      includes the Bernoulli noise of each answer).
    - *seeds*, for each side X with S_X >= 2 rows: the seed effects' share of X's seed mean, v_X =
      sigma^2_seed(X) / S_X with S_X - 1 degrees of freedom, sigma^2_seed from X's two-way ANOVA mean squares,
      max(0, (MS_seeds - MS_err) / n) (:func:`seed_variance`). E[MS_seeds] = n sigma^2_seed + sigma^2_err and
      E[MS_err] = sigma^2_err: subtracting MS_err removes the item x seed noise, which v_items already counts.
      A side with one row (the frozen baseline) has no seed part.

    se^2 = v_items + sum of the v_X, with Satterthwaite degrees of freedom; the 95% CI is delta -+ t_{0.975, df} se;
    ``p_below`` = P(T_df <= delta / se) (small when after is below before), ``p_above`` = 1 - p_below. With se = 0
    (every g_i equal, no seed spread) the CI is [delta, delta], df NaN and p_below 0.5 if delta = 0, else 0
    (delta < 0) or 1. With one item: CI, se, df and both p-values NaN. With one row per side it is the paired t
    interval of the item differences. The df, why not a bootstrap, what it assumes: :data:`SEED_DELTA_NOTES`.
    """
    import numpy as np
    from scipy.special import stdtr, stdtrit

    a, b = _matrix(before, "before"), _matrix(after, "after")
    n = a.shape[1]
    if b.shape[1] != n:
        raise ValueError(f"before and after need the same test items: {n} vs {b.shape[1]} columns")
    if n == 0:
        raise ValueError("no items to compare")
    s_b = b.shape[0]
    mean_a, row_b = float(a.mean()), b.mean(axis=1)
    deltas = row_b - mean_a
    delta = float(row_b.mean()) - mean_a
    nan = float("nan")
    se = df = ci_low = ci_high = p_below = nan
    if n >= 2:
        var, denom, sum_h = _seed_delta_variance(a, b)
        if var > 0:
            se = math.sqrt(var)
            df = var * var / denom
            half = float(stdtrit(df, 0.975)) * se
            ci_low, ci_high = delta - half, delta + half
            p_below = float(stdtr(df, delta / se))
        else:
            se, ci_low, ci_high = 0.0, delta, delta
            p_below = 0.5 if sum_h == 0 else float(sum_h > 0)
    return SeedDelta(
        n=n, seeds=s_b, before=mean_a, after=float(row_b.mean()), delta=delta, ci_low=ci_low, ci_high=ci_high,
        seed_deltas=[float(x) for x in deltas], seed_sd=float(np.std(deltas, ddof=1)) if s_b > 1 else nan,
        p_below=p_below, p_above=1.0 - p_below, se=se, df=df, method=SEED_DELTA_METHOD)


def _seed_delta_variance(a, b) -> tuple[float, float, int]:
    """:func:`seed_delta`'s se^2 = v_items + sum_X v_X, the denominator of Satterthwaite's df (sum of
    (term)^2 / df over the mean squares se^2 combines: var_i(g) / n; each side's MS_seeds / (n S) and
    MS_err / (n S)), and sum_i h_i (the sign of the item differences when se = 0)."""
    n, s_a, s_b = a.shape[1], a.shape[0], b.shape[0]
    # g_i * S_a * S_b = S_a * (after's column sum) - S_b * (before's column sum): integers, so the item variance
    # is exact (0 when every g_i is equal)
    h = [s_a * int(x) - s_b * int(y) for x, y in zip(b.sum(axis=0), a.sum(axis=0), strict=True)]
    sum_h, sum_h2 = sum(h), sum(v * v for v in h)
    v_items = (n * sum_h2 - sum_h * sum_h) / (n * n * (n - 1) * (s_a * s_b) ** 2)
    var, denom = v_items, v_items * v_items / (n - 1)
    for x in (a, b):
        s_x = x.shape[0]
        if s_x < 2:
            continue
        ms_seeds, ms_err = seed_mean_squares(x)
        v_x = max(0.0, (ms_seeds - ms_err) / n) / s_x
        if v_x > 0:  # a side whose seeds vary no more than item noise explains adds nothing
            var += v_x
            denom += (ms_seeds / (n * s_x)) ** 2 / (s_x - 1) + (ms_err / (n * s_x)) ** 2 / ((s_x - 1) * (n - 1))
    return var, denom, sum_h
