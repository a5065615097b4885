"""The paper's three findings, checked on a ladder of runs (the demo ladder, or any four comparable verifiers).

1. *Above-threshold verifiers help*: a verifier whose rubric accuracy is above a student's frozen baseline
   improves that student (seed-mean delta, 95% CI over test items and training seeds above 0).
2. *Silent regression*: a sub-threshold verifier regresses the student (CI below 0) while the DPO loss falls.
3. *Confidence inversion*: of two sub-threshold verifiers, the confident one with the *higher* rubric accuracy
   regresses the student more, with a CI that separates the two (seed means on the same test items; the CI
   covers the shared items and both verifiers' seeds), because progress-gated replay admits many
   more of its wrong-direction pairs.

Also: the audit's gated pair-direction accuracy (> 0.5 or not) predicts the sign of every seed-mean delta.
Every finding is judged on the seed-aggregated outcome (all training seeds of a (verifier, student)), never on
one training run. Pure: takes the run results and the post-DPO per-item correctness; reads no files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from harness.documents import RunResult, StudentOutcome, TaskOutcome
from harness.seed_stats import seed_delta


class Finding(BaseModel):
    name: str
    holds: bool
    evidence: list[str]


def wrong_admitted_per_100_prompts(outcome: StudentOutcome) -> float:
    """Wrong-direction pairs that passed the replay gate, per 100 prompts over all rounds of all seeds."""
    rounds = [r for s in outcome.seeds if s.selfdpo for r in s.selfdpo.rounds]
    prompts = sum(r.prompts for r in rounds)
    return 100 * sum(r.wrong_admitted for r in rounds) / prompts if prompts else 0.0


def _fmt(o: StudentOutcome) -> str:
    d = o.delta
    if d is None:
        return f"{o.status}: {o.failure}"
    seeds = ", ".join(f"{100 * x:+.1f}" for x in d.seed_deltas)
    return (f"{100 * d.delta:+.1f} [{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}] "
            f"(n={d.n} items x {d.seeds} seeds: {seeds})")


def check_findings(results: Sequence[RunResult], posts: Mapping[tuple[str, str, str], list[list[bool]]],
                   task: str = "shapes") -> list[Finding]:
    """``posts[(verifier name, task, student)]``: post-DPO correctness, one row per training seed, each per test
    item in one shared item order (:func:`harness.results.post_correctness`)."""
    rows: list[TaskOutcome] = [t for r in results for t in r.tasks if t.task == task]
    above, below = [], []
    for t in rows:
        gates = {g.student: g.verdict for g in t.audit.gate}
        for s in t.students:
            (above if gates[s.student] == "above" else below).append((t, s))
    helps = [f"{t.audit.verifier.name} -> {s.student}: {_fmt(s)}" for t, s in above]
    silent = [f"{t.audit.verifier.name} -> {s.student}: {_fmt(s)}, seed-mean DPO loss fell: {s.loss_fell}"
              for t, s in below]
    findings = [
        Finding(name="above-threshold verifiers improve every student", evidence=helps,
                holds=bool(above) and all(s.delta is not None and s.delta.ci_low > 0 for _, s in above)),
        Finding(name="sub-threshold verifiers regress every student while the DPO loss falls (silent regression)",
                evidence=silent, holds=bool(below) and all(s.silent_regression for _, s in below)),
    ]
    findings.append(_inversion(rows, below, posts, task))
    signs = []
    ok = True
    for t in rows:
        direction = t.audit.metrics.pairs_gated.direction.value
        for s in t.students:
            if s.delta is None:
                continue
            agree = (direction > 0.5) == (s.delta.delta > 0)
            ok &= agree
            signs.append(f"{t.audit.verifier.name} -> {s.student}: gated direction {direction:.2f}, "
                         f"delta {100 * s.delta.delta:+.1f}{'' if agree else ' (sign mispredicted)'}")
    findings.append(Finding(name="the audit's gated pair-direction accuracy predicts the sign of every delta",
                            holds=bool(signs) and ok, evidence=signs))
    return findings


def _inversion(rows, below, posts, task) -> Finding:
    name = ("confidence inversion: the more accurate but confident sub-threshold verifier regresses every "
            "student more")
    verifiers = {t.audit.verifier.name: t for t, _ in below}
    if len(verifiers) < 2:
        return Finding(name=name, holds=False, evidence=["needs two sub-threshold verifiers"])
    by_acc = sorted(verifiers.values(), key=lambda t: t.audit.metrics.rubric_accuracy.value)
    low, high = by_acc[0], by_acc[-1]
    evidence, ok = [], True
    for s_high in high.students:
        s_low = next(s for s in low.students if s.student == s_high.student)
        a = posts.get((low.audit.verifier.name, task, s_high.student))
        b = posts.get((high.audit.verifier.name, task, s_high.student))
        if a is None or b is None or s_high.delta is None or s_low.delta is None:
            ok = False
            evidence.append(f"{s_high.student}: missing post-DPO predictions")
            continue
        gap = seed_delta(a, b)  # seed-mean post(high) - post(low) on the same items
        ok &= gap.ci_high < 0
        evidence.append(
            f"{s_high.student}: {high.audit.verifier.name} (rubric {high.audit.metrics.rubric_accuracy.value:.3f}) "
            f"{_fmt(s_high)} vs {low.audit.verifier.name} (rubric {low.audit.metrics.rubric_accuracy.value:.3f}) "
            f"{_fmt(s_low)}; gap {100 * gap.delta:+.1f} [{100 * gap.ci_low:+.1f}, {100 * gap.ci_high:+.1f}]; "
            f"wrong-direction pairs admitted per 100 prompts {wrong_admitted_per_100_prompts(s_high):.1f} vs "
            f"{wrong_admitted_per_100_prompts(s_low):.1f}")
    return Finding(name=name, holds=ok, evidence=evidence)
