"""``ladder compare A B``: is release B of a verifier worse than release A, on the same protocol?

Per task, from the stored per-item rows:
- rubric accuracy: both releases judged the *same* frozen-student candidates (the audit's candidates are
  shared by every submission under one protocol), so the difference is tested with an exact McNemar test
  on the judgments both made;
- each student's post-DPO accuracy: both students start from the same frozen baseline on the same test
  items, so delta_B - delta_A = post_B - post_A, estimated with the paired bootstrap CI and exact McNemar
  of :func:`harness.metrics.paired_delta` over the shared test items.

B is *significantly worse* on a task when its rubric accuracy is lower with p < alpha, or when a student's
delta difference has its 95% CI entirely below 0. That is what a release gate in CI needs.
"""

from __future__ import annotations

from pydantic import BaseModel, computed_field
from sqlalchemy import Engine, select

from harness.metrics import PairedDelta, mcnemar_exact, paired_delta
from harness.store.db import session_scope
from harness.store.schema import AuditRow, Family, PredictionRow, Release, Submission, VerdictRow


class CompareError(ValueError):
    """A release could not be found, or the two releases share no protocol run."""


class RubricDiff(BaseModel):
    n: int
    accuracy_a: float
    accuracy_b: float
    difference: float
    discordant: tuple[int, int]  # (A right only, B right only)
    mcnemar_p: float


class TaskComparison(BaseModel):
    task: str
    rubric: RubricDiff | None
    students: dict[str, PairedDelta]
    b_worse: bool
    reasons: list[str]


class Comparison(BaseModel):
    a: str
    b: str
    protocol_digest: str
    alpha: float
    tasks: list[TaskComparison]

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


def _posts(session, sid: int, task: str) -> dict[str, dict[str, bool]]:
    rows = session.execute(select(PredictionRow.student, PredictionRow.item_id, PredictionRow.correct)
                           .where(PredictionRow.submission_id == sid, PredictionRow.task == task,
                                  PredictionRow.phase == "post"))
    out: dict[str, dict[str, bool]] = {}
    for student, item, correct in rows:
        out.setdefault(student, {})[item] = bool(correct)
    return out


def rubric_diff(a: dict[tuple, bool], b: dict[tuple, bool]) -> RubricDiff | None:
    shared = sorted(set(a) & set(b))
    if not shared:
        return None
    only_a = sum(a[k] and not b[k] for k in shared)
    only_b = sum(b[k] and not a[k] for k in shared)
    acc_a, acc_b = sum(a[k] for k in shared) / len(shared), sum(b[k] for k in shared) / len(shared)
    return RubricDiff(n=len(shared), accuracy_a=acc_a, accuracy_b=acc_b, difference=acc_b - acc_a,
                      discordant=(only_a, only_b), mcnemar_p=mcnemar_exact(only_a, only_b))


def compare(engine: Engine, ref_a: str, ref_b: str, alpha: float = 0.05, seed: int = 0) -> Comparison:
    with session_scope(engine) as session:
        sub_a = _submission(session, ref_a, None)
        sub_b = _submission(session, ref_b, sub_a.protocol_digest)
        tasks = sorted(set(_tasks_of(session, sub_a.id)) & set(_tasks_of(session, sub_b.id)))
        out = []
        for task in tasks:
            rubric = rubric_diff(verdicts(session, sub_a.id, task), verdicts(session, sub_b.id, task))
            posts_a, posts_b = _posts(session, sub_a.id, task), _posts(session, sub_b.id, task)
            students = {}
            for student in sorted(set(posts_a) & set(posts_b)):
                items = sorted(set(posts_a[student]) & set(posts_b[student]))
                students[student] = paired_delta([posts_a[student][i] for i in items],
                                                 [posts_b[student][i] for i in items], seed=seed)
            reasons = []
            if rubric and rubric.difference < 0 and rubric.mcnemar_p < alpha:
                reasons.append(f"rubric accuracy {rubric.accuracy_b:.3f} < {rubric.accuracy_a:.3f} "
                               f"(McNemar p={rubric.mcnemar_p:.2g}, n={rubric.n})")
            reasons += [f"{s}: post-DPO accuracy {100 * d.delta:+.1f} points, 95% CI upper {100 * d.ci_high:+.1f}"
                        for s, d in students.items() if d.ci_high < 0]
            out.append(TaskComparison(task=task, rubric=rubric, students=students, b_worse=bool(reasons),
                                      reasons=reasons))
        return Comparison(a=ref_a, b=ref_b, protocol_digest=sub_a.protocol_digest, alpha=alpha, tasks=out)


def _tasks_of(session, sid: int) -> list[str]:
    return list(session.scalars(select(AuditRow.task).where(AuditRow.submission_id == sid)))
