"""The simulated data of bench/compare_calibration.py (its docstring describes both models): the verifier
model (items with a shared probit difficulty, candidates grouped by answer, one verdict per distinct answer), the
student model (items x training seeds, crossed), and the two-level bootstrap the student test replaced."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri, stdtrit


def task_sample(rng, items: int, students: int, k: int, same_answer: float):
    """(item difficulties z, answer-group index of every candidate: 0 = the modal answer, c + 1 = its own)."""
    z = rng.standard_normal(items)
    modal = rng.random((items, students, k)) < same_answer
    group = np.where(modal, 0, 1 + np.arange(k))
    return z, group


def judge(rng, p_item, group, k: int):
    """Agreement of every candidate: one Bernoulli(p_i) draw per distinct answer of a (student, item)."""
    items, students, _ = group.shape
    per_answer = rng.random((items, students, k + 1)) < p_item[:, None, None]
    return np.take_along_axis(per_answer, group, axis=2)


def as_verdicts(agrees) -> dict[tuple, bool]:
    items, students, k = agrees.shape
    flat = agrees.ravel().tolist()
    keys = [(f"s{s}", f"i{i}", c) for i in range(items) for s in range(students) for c in range(k)]
    return dict(zip(keys, flat, strict=True))


def icc(agrees) -> float:
    """One-way ANOVA intra-class correlation of agreement within items (both students' candidates pooled)."""
    x = agrees.reshape(agrees.shape[0], -1).astype(float)
    m = x.shape[1]
    msb = m * x.mean(axis=1).var(ddof=1)
    msw = x.var(axis=1, ddof=1).mean()
    return float((msb - msw) / (msb + (m - 1) * msw))


def student_rows(rng, z, mean: float, seeds: int, seed_sd: float, item_sd: float):
    """(seeds x items) post-DPO correctness of one release: a seed effect on the mean accuracy, item effects shared
    by every run, Bernoulli noise per (run, item)."""
    m = np.clip(mean + seed_sd * rng.standard_normal(seeds), 0.005, 0.995)
    mu = ndtri(m) * np.sqrt(1 + item_sd**2)
    return rng.random((seeds, z.size)) < ndtr(mu[:, None] + item_sd * z[None, :])


def as_posts(rows) -> dict[int, dict[str, bool]]:
    ids = [f"t{j:05d}" for j in range(rows.shape[1])]
    return {seed: dict(zip(ids, row.tolist(), strict=True)) for seed, row in enumerate(rows)}


def seed_kappa(seeds: int) -> float:
    """The previous gate's small-sample factor: sqrt(S / (S - 1)) * t_{S-1, 0.975} / z_{0.975} (1 for S = 1)."""
    return 1.0 if seeds == 1 else math.sqrt(seeds / (seeds - 1)) * float(stdtrit(seeds - 1, 0.975)) / 1.959963984540054


def two_level_bootstrap(before, after, widen: bool, resamples: int = 2000, seed: int = 0):
    """The student CI this benchmark's gate used before the crossed random-effects interval, as it was: (CI low,
    CI high, one-sided p_below). Each replicate draws ONE item resample shared by both sides and every seed, and
    S rows per side with replacement; with ``widen`` each side's seed part (drawn-seed mean minus the all-rows mean
    on the same items) is scaled by kappa_S to the Student-t width. p_below = share of replicates >= 0, floored at
    1 / (resamples + 1)."""
    a, b = np.asarray(before, dtype=np.float32), np.asarray(after, dtype=np.float32)
    n = a.shape[1]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n), dtype=np.int32)
    flat = (idx + np.int32(n) * np.arange(resamples, dtype=np.int32)[:, None]).ravel()
    counts = np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float32)

    def side(x):
        acc = (counts @ x.T).astype(np.float64) / n  # (resamples, S): each row's accuracy on the drawn items
        pick = rng.integers(0, x.shape[0], size=(resamples, x.shape[0]))
        drawn = acc[np.arange(resamples)[:, None], pick].mean(axis=1)
        full = acc.mean(axis=1)
        return full + (seed_kappa(x.shape[0]) if widen else 1.0) * (drawn - full)

    before_part = side(a)  # the order the old code drew its seed picks in: before, then after
    stats = side(b) - before_part
    lo, hi = np.quantile(stats, [0.025, 0.975])
    return float(lo), float(hi), max(1 / (resamples + 1), float(np.count_nonzero(stats >= 0)) / resamples)
