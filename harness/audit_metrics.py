"""Pure metrics of a rubric audit: agreement with the exact-match truth, discrimination,
calibration, and the direction of the preference pairs self-DPO would form.

Inputs are plain numbers: per judgment a score in [0, 1] (or ``None`` for a parse failure)
and the truth (the task scorer's decision on the candidate); per item the K candidates'
(score, truth) lists. No models, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from harness.metrics import Proportion, proportion

Judged = tuple[float | None, bool]  # (score or None on parse failure, truth)


class PairStats(BaseModel):
    """Direction of (top-scored, bottom-scored) pairs against the truth.

    A pair is *decisive* when its two candidates differ in truth; it is *right* when the
    top-scored one is the correct one. Pairs of two correct or two wrong candidates carry
    no direction and are counted apart (``neutral``).
    """

    model_config = ConfigDict(frozen=True)

    pairs: int
    neutral: int
    direction: Proportion  # right / decisive
    margin_weighted: float | None  # sum(margin * right) / sum(margin) over decisive pairs


class AuditMetrics(BaseModel):
    model_config = ConfigDict(frozen=True)

    n_judgments: int
    parse_failures: Proportion
    rubric_accuracy: Proportion
    agreement_all: Proportion
    balanced_accuracy: float | None
    tpr: Proportion
    tnr: Proportion
    auroc: float | None
    ece: float | None
    pairs_all: PairStats
    pairs_gated: PairStats
    gate_tau: float


def auroc(scores: Sequence[float], truths: Sequence[bool]) -> float | None:
    """Probability a random correct candidate outscores a random wrong one (ties count half)."""
    pos = sorted(s for s, t in zip(scores, truths, strict=True) if t)
    neg = sorted(s for s, t in zip(scores, truths, strict=True) if not t)
    if not pos or not neg:
        return None
    # Rank-sum (Mann-Whitney U) with average ranks for ties: O(n log n).
    allv = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2
        rank_sum += avg_rank * sum(flag for _, flag in allv[i:j])
        i = j
    u = rank_sum - len(pos) * (len(pos) + 1) / 2
    return u / (len(pos) * len(neg))


def expected_calibration_error(scores: Sequence[float], truths: Sequence[bool], bins: int = 10) -> float | None:
    """Equal-width-bin ECE: sum over bins of (bin share) * |mean score - accuracy|."""
    if not scores:
        return None
    totals = [[0, 0.0, 0] for _ in range(bins)]  # count, score sum, correct count
    for s, t in zip(scores, truths, strict=True):
        b = min(int(s * bins), bins - 1)
        totals[b][0] += 1
        totals[b][1] += s
        totals[b][2] += int(t)
    n = len(scores)
    return sum(c / n * abs(ssum / c - k / c) for c, ssum, k in totals if c)


def pick_pair(candidates: Sequence[Judged]) -> tuple[int, int] | None:
    """Indices (top, bottom) of the highest- and lowest-scored parsed candidates, as self-DPO
    picks them: first index on ties; ``None`` with fewer than two parsed or all scores equal."""
    parsed = [(i, s) for i, (s, _) in enumerate(candidates) if s is not None]
    if len(parsed) < 2:
        return None
    top = max(parsed, key=lambda p: p[1])
    bottom = min(parsed, key=lambda p: p[1])
    if top[1] == bottom[1]:
        return None
    return top[0], bottom[0]


def pair_stats(items: Sequence[Sequence[Judged]], tau: float = 0.0) -> PairStats:
    """Direction accuracy of the pairs whose score margin is at least ``tau``."""
    pairs = neutral = right = 0
    w_right = w_all = 0.0
    for cands in items:
        picked = pick_pair(cands)
        if picked is None:
            continue
        (s_top, t_top), (s_bot, t_bot) = cands[picked[0]], cands[picked[1]]
        margin = s_top - s_bot
        if margin < tau:
            continue
        pairs += 1
        if t_top == t_bot:
            neutral += 1
            continue
        right += int(t_top)
        w_all += margin
        w_right += margin * int(t_top)
    return PairStats(pairs=pairs, neutral=neutral, direction=proportion(right, pairs - neutral),
                     margin_weighted=w_right / w_all if w_all else None)


def audit_metrics(items: Sequence[Sequence[Judged]], tau: float, threshold: float = 0.5) -> AuditMetrics:
    """All audit metrics from per-item candidate judgments.

    ``rubric_accuracy`` follows the paper's definition, one judgment per held-out item (the
    first candidate), so n is the item count; a parse failure counts as a disagreement.
    ``agreement_all`` is the same over every judgment. TPR/TNR, AUROC and ECE use every parsed
    judgment.
    """
    flat = [j for cands in items for j in cands]
    firsts = [cands[0] for cands in items if cands]

    def agrees(j: Judged) -> bool:
        return j[0] is not None and (j[0] >= threshold) == j[1]

    parsed = [(s, t) for s, t in flat if s is not None]
    scores, truths = [s for s, _ in parsed], [t for _, t in parsed]
    pos = [s >= threshold for s, t in parsed if t]
    neg = [s < threshold for s, t in parsed if not t]
    tpr, tnr = proportion(sum(pos), len(pos)), proportion(sum(neg), len(neg))
    return AuditMetrics(
        n_judgments=len(flat),
        parse_failures=proportion(sum(s is None for s, _ in flat), len(flat)),
        rubric_accuracy=proportion(sum(map(agrees, firsts)), len(firsts)),
        agreement_all=proportion(sum(map(agrees, flat)), len(flat)),
        balanced_accuracy=(tpr.value + tnr.value) / 2 if pos and neg else None,
        tpr=tpr,
        tnr=tnr,
        auroc=auroc(scores, truths),
        ece=expected_calibration_error(scores, truths),
        pairs_all=pair_stats(items, 0.0),
        pairs_gated=pair_stats(items, tau),
        gate_tau=tau,
    )
