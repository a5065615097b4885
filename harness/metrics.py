"""Pure statistics used across stages: proportions with honest confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    """Two-sided exact McNemar p-value: binomial test of b vs c discordant pairs at p = 1/2.

    ``min(1, 2 * P(X <= min(b, c)))`` for X ~ Binomial(b + c, 1/2), the same value as
    ``scipy.stats.binomtest(b, b + c).pvalue``. The tail comes from scipy's regularised incomplete beta
    function (``scipy.special.bdtr``): microseconds at any n, where summing the binomial coefficients
    took seconds at 10,000 discordant pairs.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    if b == c:  # includes n == 0: the observed split is the most likely one
        return 1.0
    from scipy.special import bdtr

    return min(1.0, 2.0 * float(bdtr(min(b, c), b + c, 0.5)))


# The exact sign-flip distribution below costs (clusters with b_i != c_i) x (sum |b_i - c_i|) cells; beyond this
# many (hundreds of thousands of clusters, far past an audit's 200 items) the chi-square(1) limit is used instead.
SIGN_FLIP_MAX_CELLS = 50_000_000


class ClusteredMcNemar(BaseModel):
    """McNemar's test for paired binary outcomes that come in correlated clusters."""

    model_config = ConfigDict(frozen=True)

    clusters: int  # clusters in the test (every cluster, discordant or not)
    discordant_clusters: int  # clusters with b_i != c_i: the only ones carrying information
    discordant: tuple[int, int]  # (sum b_i, sum c_i): pairs where only the first / only the second side is right
    statistic: MaybeNaN  # Durkalski's X^2 = (sum (b_i - c_i))^2 / sum (b_i - c_i)^2
    p_value: MaybeNaN  # two-sided, from the exact sign-flip distribution of X^2
    # One-sided, from the same exact distribution of D = sum_i (c_i - b_i) (the second side's surplus):
    # p_less = P(D <= observed), the alternative that the second side is right LESS often than the first;
    # p_greater = P(D >= observed), that it is right more often. With one pair per cluster they are
    # scipy.stats.binomtest(sum c, sum b + sum c, 0.5, alternative='less' / 'greater').pvalue.
    p_less: MaybeNaN
    p_greater: MaybeNaN
    p_chi2: MaybeNaN  # two-sided, from chi-square(1): Durkalski et al.'s large-sample p-value
    exact: bool  # False when the p-values are the large-sample (chi-square(1) / normal) limits


def clustered_mcnemar(b: Sequence[int], c: Sequence[int]) -> ClusteredMcNemar:
    """McNemar's test with clusters (Obuchowski 1998; Durkalski, Palesch, Lipsitz & Rust 2003).

    ``b[i]``: pairs of cluster i where only the first side is right; ``c[i]``: where only the second is.
    Pairs within one cluster may be arbitrarily correlated (the K candidates of one audit item, judged by
    one verifier, tend to be judged alike); clusters are independent. The statistic is

        X^2 = (sum_i (b_i - c_i))^2 / sum_i (b_i - c_i)^2,

    whose denominator estimates the variance of sum_i (b_i - c_i) from the clusters themselves instead of
    assuming b + c independent pairs. Under H0 (the two sides are exchangeable within each cluster, e.g. one
    verifier judging twice) each d_i = b_i - c_i is as likely as -d_i, and the denominator does not change when
    signs flip, so the *exact* null distribution of X^2 given |d_i| is that of (sum_i e_i |d_i|)^2 / sum_i d_i^2
    over independent random signs e_i: ``p_value`` is computed from it exactly (a subset-sum recursion over the
    discordant clusters), two-sided. chi-square(1) is its large-sample limit (``p_chi2``, Durkalski's p-value),
    which is anti-conservative with few discordant clusters (four clusters of one discordant pair each give
    X^2 = 4, chi-square p = 0.046, exact p = 0.125). With one pair per cluster ``p_value`` equals the exact
    McNemar test (:func:`mcnemar_exact`).

    The same sign-flip distribution gives the one-sided p-values of D = sum_i (c_i - b_i) = sum_i e_i |d_i|:
    ``p_less`` = P(D <= observed), for the alternative that the second side is worse (a release gate that asks
    only "is B worse than A" tests at alpha with it; the two-sided test spends alpha / 2 on that direction), and
    ``p_greater`` = P(D >= observed). Both are exact and include the observed value, so each is >= 1/2 when
    D = 0 and ``p_less + p_greater = 1 + P(D = observed)``. With one pair per cluster they equal the exact
    one-sided binomial tests of sum c_i of sum b_i + sum c_i at 1/2. Beyond SIGN_FLIP_MAX_CELLS the normal
    limit Phi(+-D / sqrt(sum d_i^2)) is used.
    """
    bs, cs = list(b), list(c)
    if len(bs) != len(cs):
        raise ValueError(f"need one (b, c) per cluster: {len(bs)} vs {len(cs)}")
    if any(x < 0 for x in bs + cs):
        raise ValueError("discordant counts must be >= 0")
    d = sorted(abs(x - y) for x, y in zip(bs, cs, strict=True) if x != y)
    surplus = sum(cs) - sum(bs)  # D: the second side's surplus of right-only pairs
    total = abs(surplus)
    denom = sum(x * x for x in d)
    common = {"clusters": len(bs), "discordant_clusters": len(d), "discordant": (sum(bs), sum(cs))}
    if not d:  # no discordant cluster: D = 0 with certainty
        return ClusteredMcNemar(**common, statistic=0.0, p_value=1.0, p_less=1.0, p_greater=1.0, p_chi2=1.0,
                                exact=True)
    x2 = total * total / denom
    p_chi2 = min(1.0, math.erfc(math.sqrt(x2 / 2)))
    spread = sum(d)
    if len(d) * (spread + 1) > SIGN_FLIP_MAX_CELLS:
        z = surplus / math.sqrt(denom)
        return ClusteredMcNemar(**common, statistic=x2, p_value=p_chi2, p_less=0.5 * math.erfc(-z / math.sqrt(2)),
                                p_greater=0.5 * math.erfc(z / math.sqrt(2)), p_chi2=p_chi2, exact=False)
    import numpy as np

    # U = sum of |d_i| over the clusters whose sign is +: D = 2U - spread, so D <= observed iff
    # U <= (spread + surplus) / 2 (an integer: spread + surplus is twice the positive part), and
    # |D| >= total iff U <= (spread - total) / 2 or U >= (spread + total) / 2, two tails equal by symmetry.
    pmf = np.zeros(spread + 1)
    pmf[0] = 1.0
    reach = 0
    for x in d:
        head = pmf[: reach + 1].copy()
        pmf[: reach + 1] *= 0.5
        pmf[x : x + reach + 1] += 0.5 * head
        reach += x
    at = (spread + surplus) // 2
    p_less, p_greater = float(pmf[: at + 1].sum()), float(pmf[at:].sum())
    p = 1.0 if total == 0 else min(1.0, 2.0 * float(pmf[: (spread - total) // 2 + 1].sum()))
    return ClusteredMcNemar(**common, statistic=x2, p_value=p, p_less=min(1.0, p_less),
                            p_greater=min(1.0, p_greater), p_chi2=p_chi2, exact=True)


def cluster_bootstrap_ci(diff_sums: Sequence[float], sizes: Sequence[int], resamples: int = 2000,
                         seed: int = 0) -> tuple[float, float]:
    """Percentile 95% CI of sum(diff_sums) / sum(sizes), resampling whole clusters with replacement.

    ``diff_sums[i]`` is cluster i's summed paired difference (e.g. judgments B got right minus those A got
    right), ``sizes[i]`` its number of pairs: the ratio estimator of a mean paired difference whose pairs are
    correlated within clusters.
    """
    import numpy as np

    dsum, size = np.asarray(diff_sums, dtype=float), np.asarray(sizes, dtype=float)
    if dsum.shape != size.shape or dsum.ndim != 1:
        raise ValueError("need one (difference sum, size) per cluster")
    if dsum.size == 0 or size.sum() <= 0:
        raise ValueError("no clusters to resample")
    idx = np.random.default_rng(seed).integers(0, dsum.size, size=(resamples, dsum.size))
    num, den = dsum[idx].sum(axis=1), size[idx].sum(axis=1)
    stats = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    lo, hi = np.quantile(stats, [0.025, 0.975])
    return float(lo), float(hi)


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

    se^2 = v_items + sum of the v_X, a linear combination of independent mean squares: var_i(g) / n (n - 1 df)
    and, per side with v_X > 0, MS_seeds / (n S_X) (S_X - 1 df) minus MS_err / (n S_X) ((S_X - 1)(n - 1) df). The
    degrees of freedom are Satterthwaite's for that combination, df = se^4 / sum_k (c_k MS_k)^2 / df_k (a side
    with v_X = 0 left out). Its seed terms use MS_seeds / (n S_X), not v_X: the seed mean square carries the item x
    seed noise too, and so does its uncertainty; with v_X in their place (2-df parts of weight v_X^2) the CI
    covered 0.91 instead of 0.92 in the 1 vs 3, seed-dominated case below and 0.93 instead of 0.96 in the 3 vs 3
    case with seed and item parts alike. The 95% CI is delta -+ t_{0.975, df} se, and the one-sided p-values are
    ``p_below`` = P(T_df <= delta / se) (small when after is below before) and ``p_above`` = 1 - p_below. With
    se = 0 (every g_i equal, no seed spread) the CI is [delta, delta], df NaN and p_below is 0.5 if delta = 0,
    else 0 (delta < 0) or 1. With one item the item variance is undefined: CI, se, df and both p-values are NaN.
    With one row per side it is the paired t interval of the item differences (close to :func:`paired_delta`'s
    item bootstrap CI).

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
    import numpy as np
    from scipy.special import stdtr, stdtrit

    a, b = _matrix(before, "before"), _matrix(after, "after")
    n = a.shape[1]
    if b.shape[1] != n:
        raise ValueError(f"before and after need the same test items: {n} vs {b.shape[1]} columns")
    if n == 0:
        raise ValueError("no items to compare")
    s_a, s_b = a.shape[0], b.shape[0]
    mean_a, row_b = float(a.mean()), b.mean(axis=1)
    deltas = row_b - mean_a
    delta = float(row_b.mean()) - mean_a
    nan = float("nan")
    se = df = ci_low = ci_high = p_below = nan
    if n >= 2:
        # g_i * S_a * S_b = S_a * (after's column sum) - S_b * (before's column sum): integers, so the item variance
        # is exact (0 when every g_i is equal)
        h = [s_a * int(x) - s_b * int(y) for x, y in zip(b.sum(axis=0), a.sum(axis=0), strict=True)]
        sum_h, sum_h2 = sum(h), sum(v * v for v in h)
        v_items = (n * sum_h2 - sum_h * sum_h) / (n * n * (n - 1) * (s_a * s_b) ** 2)
        # se^2 = v_items + sum_X v_X, and the Satterthwaite denominator: sum of (term)^2 / df over the mean
        # squares se^2 is a linear combination of (var_i(g) / n; each side's MS_seeds / (n S) and MS_err / (n S))
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


def holm(pvalues: Sequence[float], alpha: float) -> list[bool]:
    """Holm's (1979) step-down procedure: which of m hypotheses to reject, family-wise error rate <= alpha.

    Sort the p-values ascending, p_(1) <= ... <= p_(m); reject H_(1), ..., H_(k) where k is the largest index such
    that p_(j) <= alpha / (m - j + 1) for every j <= k (stop at the first p that misses its level). Valid under
    any dependence between the tests. A NaN p (an undefined test) counts in m and is never rejected. Returns one
    bool per p-value, in the input order.
    """
    ps = [1.0 if p != p else float(p) for p in pvalues]  # NaN: never rejected, still counted
    m = len(ps)
    rejected = [False] * m
    for rank, i in enumerate(sorted(range(m), key=lambda i: ps[i])):
        if (m - rank) * ps[i] > alpha:  # p_(j) > alpha / (m - j + 1), multiplied out as holm_adjusted does
            break
        rejected[i] = True
    return rejected


def holm_adjusted(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values: p~_(j) = max over i <= j of min(1, (m - i + 1) p_(i)), in the input order.

    ``holm(pvalues, alpha)[i]`` is exactly ``holm_adjusted(pvalues)[i] <= alpha`` (alpha < 1): the smallest
    family-wise level at which hypothesis i is rejected. NaN in, 1 out.
    """
    ps = [1.0 if p != p else float(p) for p in pvalues]
    m = len(ps)
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: ps[i])):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out
