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


def _sign_flip_pmf(d: Sequence[int]):
    """The distribution of U = sum of the d_i whose independent fair sign is +: ``pmf[u] = P(U = u)`` for
    u = 0..sum(d) (a subset-sum recursion, one pass per d_i)."""
    import numpy as np

    pmf = np.zeros(sum(d) + 1)
    pmf[0] = 1.0
    reach = 0
    for x in d:
        head = pmf[: reach + 1].copy()
        pmf[: reach + 1] *= 0.5
        pmf[x : x + reach + 1] += 0.5 * head
        reach += x
    return pmf


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
    # U = sum of |d_i| over the clusters whose sign is +: D = 2U - spread, so D <= observed iff
    # U <= (spread + surplus) / 2 (an integer: spread + surplus is twice the positive part), and
    # |D| >= total iff U <= (spread - total) / 2 or U >= (spread + total) / 2, two tails equal by symmetry.
    pmf = _sign_flip_pmf(d)
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
