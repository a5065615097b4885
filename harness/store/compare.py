"""``ladder compare A B``: is release B of a verifier worse than release A, on the same protocol?

Per task, from the stored per-item rows:

- rubric accuracy on the leaderboard's definition (each audit item's first candidate, candidate 0, pooled over
  both students, a parse failure counting as a disagreement: exactly ``audit_results.rubric_accuracy``) is
  reported for each release with its n and Wilson CI. It is descriptive: n is only 2 x 200 per task.
- the test uses every judgment: both releases judged the *same* frozen-student candidates (the audit's candidates
  are shared by every submission under one protocol), so judgments are paired by (student, item, candidate), and
  the difference of all-K agreement B - A is tested with the clustered McNemar test
  (:func:`harness.metrics.clustered_mcnemar`, Durkalski et al. 2003), clusters = task items (both students' K
  candidates of one item pooled), with an item-clustered paired bootstrap 95% CI. The gate asks one question, "is
  B worse?", so it uses the ONE-sided (lower-tail) p from the statistic's exact sign-flip distribution
  (``p_less``: B's agreement lower); the two-sided p of the same distribution is shown beside it. Judgments of
  one item are strongly correlated (a verifier that misreads an item tends to misjudge all its candidates, which
  often share the answer text and truth), so the old exact McNemar over all judgments as independent pairs made
  the p-value far too small.
- each student's post-DPO accuracy, over its training seeds: both releases train each student from the same
  frozen checkpoint and evaluate it on the same test items, so delta_B - delta_A = post_B - post_A, and the
  seed-mean post-DPO accuracies are compared with :func:`harness.seed_stats.seed_delta` (before = A's per-seed post
  rows, after = B's): the items shared by both (aligned by item id, sorted), only the seeds whose rows cover all
  of them (a schema-1 submission has one seed, 0), and a crossed random-effects 95% t interval (items x training
  seeds: the item variance of the per-item seed-mean differences plus each side's seed variance from its two-way
  ANOVA, Satterthwaite degrees of freedom; 3 seeds say little about the seed variance, and the t quantile says
  so) with its one-sided p (``p_below``: B below A). One training run's accuracy moves by a few points from seed
  to seed, so the paired item bootstrap of one seed each, used before, flagged a release against a re-run of
  itself with new seeds in 28% of simulated comparisons (seed SD 3 points, 1200 items x 3 seeds:
  ``bench/compare_calibration.py``); the plain two-level bootstrap (items and seeds resampled) did in 7.8% (nominal
  2.5%), and with its seed part widened to the Student-t width it over-covered (99.4%; false alarms 0.7% at
  p_below < 0.05, power 0.16 at a 5-point drop). The crossed interval false-alarms in 4.4% at p_below < 0.05 (its
  CI covers the truth in 96%), with power 0.44 at a 5-point drop and 0.91 at 10 points (see
  :func:`harness.seed_stats.seed_delta`).

The gate is ONE family of tests: every task's rubric test (its one-sided p, ``test.p_less``) and every student's
test (its one-sided p, ``SeedDelta.p_below``), m in all (production: 3 tasks x (rubric + 2 students) = 9). ORing
m tests each at alpha false-alarms far more often than alpha, so Holm's step-down procedure
(:func:`harness.metrics.holm`) is applied over all m at ``alpha``, which then is the gate's family-wise
false-alarm rate (valid under any dependence between the tests). B is *significantly worse* when Holm rejects any
test whose estimate is negative (the rubric's all-K agreement difference, or a student's seed-mean difference).
Each test's own p is reported beside its Holm-adjusted p. In simulation (``bench/compare_calibration.py``, part 3)
the gate flags a re-run of the same verifier in 4.6% of 3-task comparisons (9 tests), 31% without the correction.
That is what a release gate in CI needs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import Engine, select

from harness.metrics import (
    ClusteredMcNemar,
    MaybeNaN,
    Proportion,
    cluster_bootstrap_ci,
    clustered_mcnemar,
    holm,
    holm_adjusted,
    proportion,
)
from harness.seed_stats import SeedDelta, seed_delta
from harness.store.db import session_scope
from harness.store.schema import AuditRow, Family, PredictionRow, Release, Submission, VerdictRow


class CompareError(ValueError):
    """A release could not be found, or the two releases share no protocol run."""


RUBRIC_METHOD = ("clustered McNemar test (Durkalski et al. 2003) of all-K agreement, paired by (student, item, "
                 "candidate), clusters = task items (both students' candidates pooled), one-sided p (B lower) from "
                 "its exact sign-flip distribution (two-sided p shown too); 95% CI: item-clustered paired bootstrap")


class RubricComparison(BaseModel):
    """Rubric accuracy of two releases on one task, and the test of their agreement difference."""

    model_config = ConfigDict(frozen=True)

    method: str  # the test and CI, in one line (shown on every surface)
    # The leaderboard's rubric accuracy of each release (first candidate, both students pooled, parse failure =
    # disagreement; each release's own rows): audit_results.rubric_accuracy, with its n and Wilson CI.
    accuracy_a: Proportion
    accuracy_b: Proportion
    # Pairing: judgments (student, item, candidate) both releases made, and the items they fall in.
    shared_judgments: int
    shared_items: int
    dropped: tuple[int, int]  # judgments only A / only B has (left out of the test)
    # All-K agreement with the truth on the shared judgments, and its difference B - A (the tested quantity).
    agreement_a: MaybeNaN
    agreement_b: MaybeNaN
    difference: MaybeNaN
    ci_low: MaybeNaN  # item-clustered paired bootstrap 95% CI of ``difference``
    ci_high: MaybeNaN
    test: ClusteredMcNemar  # discordant counts (A right only, B right only), X^2, p_less (B lower), two-sided p

    @computed_field
    @property
    def p_value(self) -> float | None:
        """The gate's p-value: one-sided, B's agreement lower (``test.p_less``; null in JSON when undefined)."""
        return _finite(self.test.p_less)

    @computed_field
    @property
    def p_two_sided(self) -> float | None:
        """The two-sided p-value of the same exact distribution (shown, not gated on)."""
        return _finite(self.test.p_value)

    def b_worse(self, alpha: float) -> bool:
        """B's agreement is lower with the one-sided (lower-tail) p < alpha."""
        return self.difference < 0 and self.test.p_less < alpha


def _finite(x: float) -> float | None:
    return None if x != x else x


class SeedAccuracy(BaseModel):
    """One training seed's post-DPO accuracy on the shared test items."""

    model_config = ConfigDict(frozen=True)

    seed: int
    accuracy: MaybeNaN


class StudentSeeds(BaseModel):
    """The training seeds behind one student's comparison."""

    model_config = ConfigDict(frozen=True)

    a: list[SeedAccuracy]  # A's seeds in the comparison (their rows cover every shared item)
    b: list[SeedAccuracy]
    left_out: tuple[list[int], list[int]] = ([], [])  # seeds of A / B whose rows miss a shared item


HOLM_METHOD = ("Holm's step-down procedure over all m tests of the comparison (each task's rubric test, one-sided p; "
               "each student's test, one-sided t p), family-wise false-alarm rate <= alpha under any "
               "dependence; B is worse when a rejected test's B - A is negative")


class GateTest(BaseModel):
    """One test of the release gate, and what Holm's procedure over all the comparison's tests made of it."""

    model_config = ConfigDict(frozen=True)

    task: str
    kind: Literal["rubric", "student"]
    name: str  # "rubric", or the student's name
    estimate: MaybeNaN  # B - A: all-K agreement difference (rubric) or seed-mean post-DPO accuracy difference
    p_value: MaybeNaN  # the test's own one-sided p (B lower): rubric test.p_less, student SeedDelta.p_below
    p_holm: MaybeNaN  # Holm-adjusted p over all m tests: rejected iff p_holm <= alpha
    rejected: bool  # Holm rejected it at the family-wise alpha
    b_worse: bool  # rejected and estimate < 0


class TaskComparison(BaseModel):
    task: str
    rubric: RubricComparison | None
    # Per student: B's seed-mean post-DPO accuracy minus A's on the shared test items ('before' = A, 'after' = B),
    # with the crossed random-effects (items x seeds) 95% t interval and one-sided p_below; ``seeds`` there counts
    # B's seeds.
    students: dict[str, SeedDelta]
    student_seeds: dict[str, StudentSeeds] = {}
    tests: list[GateTest] = []  # this task's tests of the gate (rubric first, then students by name)
    b_worse: bool  # Holm rejected one of this task's tests with B - A < 0
    reasons: list[str]  # one per such test, naming it


class Comparison(BaseModel):
    a: str
    b: str
    protocol_digest: str
    alpha: float  # the gate's family-wise level: Holm over all m tests
    correction: str = HOLM_METHOD
    tasks: list[TaskComparison]

    @computed_field
    @property
    def m(self) -> int:
        """Number of tests in the family Holm's procedure corrects over (every task's rubric and student tests)."""
        return sum(len(t.tests) for t in self.tasks)

    @computed_field
    @property
    def b_worse(self) -> bool:
        return any(t.b_worse for t in self.tasks)


def _submission(session, ref: str, protocol_digest: str | None) -> Submission:
    """``FAMILY@RELEASE`` or a submission id: the latest succeeded submission of that release."""
    query = select(Submission).where(Submission.status == "succeeded").order_by(Submission.id.desc())
    if ref.isdigit():
        if int(ref) > 2**31 - 1:  # beyond any stored id (and PostgreSQL's integer)
            raise CompareError(f"no submission {ref}")
        query = query.where(Submission.id == int(ref))
    else:
        family, sep, release = ref.rpartition("@")
        if not sep or not family or not release:
            raise CompareError(f"{ref!r}: give FAMILY@RELEASE or a submission id")
        query = query.join(Release).join(Family).where(Family.name == family, Release.release == release)
    if protocol_digest:
        query = query.where(Submission.protocol_digest == protocol_digest)
    sub = session.scalars(query).first()
    if sub is None:
        raise CompareError(f"no succeeded submission for {ref!r}" + (f" under protocol {protocol_digest}"
                                                                       if protocol_digest else ""))
    return sub


def verdicts(session, sid: int, task: str) -> dict[tuple, bool]:
    rows = session.execute(select(VerdictRow.student, VerdictRow.item_id, VerdictRow.candidate, VerdictRow.agrees)
                           .where(VerdictRow.submission_id == sid, VerdictRow.task == task))
    return {(s, i, c): bool(a) for s, i, c, a in rows}


def posts(session, sid: int, task: str) -> dict[str, dict[int, dict[str, bool]]]:
    """One submission's post-DPO rows on one task: ``{student: {training seed: {item_id: correct}}}``."""
    rows = session.execute(select(PredictionRow.student, PredictionRow.seed, PredictionRow.item_id,
                                  PredictionRow.correct)
                           .where(PredictionRow.submission_id == sid, PredictionRow.task == task,
                                  PredictionRow.phase == "post"))
    out: dict[str, dict[int, dict[str, bool]]] = {}
    for student, seed, item, correct in rows:
        out.setdefault(student, {}).setdefault(int(seed or 0), {})[item] = bool(correct)
    return out


def student_comparison(a: dict[int, dict[str, bool]],
                       b: dict[int, dict[str, bool]]) -> tuple[SeedDelta, StudentSeeds] | None:
    """B's seed-mean post-DPO accuracy minus A's, from ``{training seed: {item_id: correct}}`` per release.

    The shared items are those both releases have rows for (sorted by id); a seed enters only when its rows cover
    every shared item (a partial seed would compare other items). Should no seed of a side cover them all, the
    shared items shrink to those every seed of both sides has. None when nothing is shared.
    """
    def complete(rows, items):
        return [s for s in sorted(rows) if all(i in rows[s] for i in items)]

    def union(rows):
        return set().union(*rows.values()) if rows else set()

    items = sorted(union(a) & union(b))
    keep_a, keep_b = complete(a, items), complete(b, items)
    if not keep_a or not keep_b:
        items = sorted(set.intersection(*(set(r) for r in (*a.values(), *b.values())))) if a and b else []
        keep_a, keep_b = sorted(a), sorted(b)
    if not items:
        return None
    rows_a = [[a[s][i] for i in items] for s in keep_a]
    rows_b = [[b[s][i] for i in items] for s in keep_b]
    delta = seed_delta(rows_a, rows_b)

    def accuracies(keep, rows):
        return [SeedAccuracy(seed=s, accuracy=sum(r) / len(items)) for s, r in zip(keep, rows, strict=True)]

    seeds = StudentSeeds(a=accuracies(keep_a, rows_a), b=accuracies(keep_b, rows_b),
                         left_out=(sorted(set(a) - set(keep_a)), sorted(set(b) - set(keep_b))))
    return delta, seeds


def first_candidate_accuracy(rows: dict[tuple, bool]) -> Proportion:
    """The leaderboard's rubric accuracy from one release's verdict rows: candidate 0 of every (student, item),
    pooled over students; a parse failure is stored as ``agrees = False`` (a disagreement)."""
    firsts = [agrees for (_, _, candidate), agrees in rows.items() if candidate == 0]
    return proportion(sum(firsts), len(firsts))


def rubric_comparison(a: dict[tuple, bool], b: dict[tuple, bool], resamples: int = 2000,
                      seed: int = 0) -> RubricComparison | None:
    """Compare two releases' verdicts ``{(student, item_id, candidate): agrees}`` on one task; None when they
    share no judgment."""
    shared = set(a) & set(b)
    if not shared:
        return None
    per_item: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # A only, B only, judgments, A agrees
    for key in shared:
        cell = per_item[key[1]]
        cell[0] += a[key] and not b[key]
        cell[1] += b[key] and not a[key]
        cell[2] += 1
        cell[3] += a[key]
    items = [per_item[i] for i in sorted(per_item)]
    n = len(shared)
    agree_a = sum(c[3] for c in items)
    agree_b = agree_a - sum(c[0] for c in items) + sum(c[1] for c in items)
    lo, hi = cluster_bootstrap_ci([c[1] - c[0] for c in items], [c[2] for c in items], resamples, seed)
    return RubricComparison(
        method=RUBRIC_METHOD, accuracy_a=first_candidate_accuracy(a), accuracy_b=first_candidate_accuracy(b),
        shared_judgments=n, shared_items=len(items), dropped=(len(a) - n, len(b) - n),
        agreement_a=agree_a / n, agreement_b=agree_b / n, difference=(agree_b - agree_a) / n, ci_low=lo, ci_high=hi,
        test=clustered_mcnemar([c[0] for c in items], [c[1] for c in items]))


def _holm_clause(t: GateTest, alpha: float, m: int) -> str:
    return f"Holm-adjusted p={t.p_holm:.2g} <= {alpha:g} over {m} tests"


def rubric_reason(r: RubricComparison, t: GateTest, alpha: float, m: int) -> str:
    return (f"rubric test: all-K agreement {r.agreement_a:.3f} -> {r.agreement_b:.3f} "
            f"({100 * r.difference:+.1f} points, clustered McNemar one-sided p={r.test.p_less:.2g}, "
            f"{_holm_clause(t, alpha, m)}, {r.shared_items} items); leaderboard rubric accuracy "
            f"{r.accuracy_a.value:.3f} -> {r.accuracy_b.value:.3f}")


def student_reason(student: str, d: SeedDelta, seeds: StudentSeeds, t: GateTest, alpha: float, m: int) -> str:
    return (f"student test {student}: seed-mean post-DPO accuracy {d.before:.3f} -> {d.after:.3f} "
            f"({100 * d.delta:+.1f} points [{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}], {d.n} items x "
            f"{len(seeds.a)}/{len(seeds.b)} seeds, one-sided t p={d.p_below:.2g} (df {d.df:.1f}), "
            f"{_holm_clause(t, alpha, m)})")


def gate(tasks: list[TaskComparison], alpha: float) -> list[TaskComparison]:
    """Holm's step-down over every task's rubric and student tests at family-wise ``alpha``: each task's ``tests``,
    ``b_worse`` and ``reasons`` (the tests Holm rejected with B - A < 0, named)."""
    family = []  # (task index, kind, name, estimate, one-sided p)
    for i, t in enumerate(tasks):
        if t.rubric is not None:
            family.append((i, "rubric", "rubric", t.rubric.difference, t.rubric.test.p_less))
        family += [(i, "student", s, d.delta, d.p_below) for s, d in t.students.items()]
    ps = [p for *_, p in family]
    rejected, adjusted = holm(ps, alpha), holm_adjusted(ps)
    m = len(family)
    out = []
    for i, t in enumerate(tasks):
        tests, reasons = [], []
        for (j, kind, name, estimate, p), rej, adj in zip(family, rejected, adjusted, strict=True):
            if j != i:
                continue
            worse = rej and estimate < 0
            test = GateTest(task=t.task, kind=kind, name=name, estimate=estimate, p_value=p, p_holm=adj,
                            rejected=rej, b_worse=worse)
            tests.append(test)
            if worse:
                reasons.append(rubric_reason(t.rubric, test, alpha, m) if kind == "rubric" else
                               student_reason(name, t.students[name], t.student_seeds[name], test, alpha, m))
        out.append(t.model_copy(update={"tests": tests, "b_worse": bool(reasons), "reasons": reasons}))
    return out


def compare(engine: Engine, ref_a: str, ref_b: str, alpha: float = 0.05, seed: int = 0) -> Comparison:
    """Compare B with A on every task both ran; ``alpha`` is the gate's family-wise level (Holm over all tests)."""
    with session_scope(engine) as session:
        sub_a = _submission(session, ref_a, None)
        sub_b = _submission(session, ref_b, sub_a.protocol_digest)
        tasks = sorted(set(_tasks_of(session, sub_a.id)) & set(_tasks_of(session, sub_b.id)))
        out = []
        for task in tasks:
            rubric = rubric_comparison(verdicts(session, sub_a.id, task), verdicts(session, sub_b.id, task),
                                       seed=seed)
            posts_a, posts_b = posts(session, sub_a.id, task), posts(session, sub_b.id, task)
            students, student_seeds = {}, {}
            for student in sorted(set(posts_a) & set(posts_b)):
                compared = student_comparison(posts_a[student], posts_b[student])
                if compared is not None:
                    students[student], student_seeds[student] = compared
            out.append(TaskComparison(task=task, rubric=rubric, students=students, student_seeds=student_seeds,
                                      b_worse=False, reasons=[]))
        return Comparison(a=ref_a, b=ref_b, protocol_digest=sub_a.protocol_digest, alpha=alpha,
                          tasks=gate(out, alpha))


def _tasks_of(session, sid: int) -> list[str]:
    return list(session.scalars(select(AuditRow.task).where(AuditRow.submission_id == sid)))
