"""Read-only queries of the results store, returning :mod:`leaderboard.views` models.

The leaderboard of a task under a protocol is made of each verifier release's newest succeeded submission
under that protocol (profile + digest): results of different protocol configurations are never ranked
together. Only the columns a view needs are selected (the big JSON columns are read for one submission at a
time), so a page over thousands of releases stays a handful of indexed queries.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.config import PROFILES
from harness.store.schema import (
    AuditRow,
    Family,
    PredictionRow,
    Release,
    RunDocument,
    SeedRow,
    StudentRow,
    Submission,
    TrainingPoint,
    VerdictRow,
)
from leaderboard.ranking import Scored, official_ranks, pareto_flags, verifier_kind
from leaderboard.views import (
    LeaderboardRow,
    ReleaseHistoryEntry,
    SeedResult,
    StudentCell,
    StudentDetail,
    SubmissionDetail,
    SubmissionSummary,
    TaskAudit,
)

# Tasks in the order the protocol profiles list them (production's first), then any other by name.
TASK_ORDER = tuple(dict.fromkeys(t for make in PROFILES.values() for t in make().tasks))


@dataclass(frozen=True)
class Protocol:
    """A protocol results were measured under: rows are only ranked against rows of the same one."""

    profile: str
    version: str
    digest: str
    submissions: int
    latest_id: int = 0
    #: When the newest result landed: a stored result completed in place (an audit-only record by its run, runs of
    #: some tasks added up) changes it although no submission was added.
    latest_finished: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.profile} v{self.version} ({self.digest[:8]})"


def protocols(session: Session) -> list[Protocol]:
    """Every protocol with succeeded submissions, newest first."""
    query = (select(Submission.protocol_profile, Submission.protocol_version, Submission.protocol_digest,
                    func.count(), func.max(Submission.id), func.max(Submission.finished_at))
             .where(Submission.status == "succeeded")
             .group_by(Submission.protocol_profile, Submission.protocol_version, Submission.protocol_digest)
             .order_by(func.max(Submission.id).desc()))
    return [Protocol(p, v, d, n, latest, done) for p, v, d, n, latest, done in session.execute(query)]


def pick_protocol(found: list[Protocol], profile: str | None, digest: str | None = None) -> Protocol | None:
    """The protocol a view shows: the asked profile (and digest prefix), else production, else the newest."""
    if digest:
        return next((p for p in found if p.digest.startswith(digest) and (not profile or p.profile == profile)),
                    None)
    if profile:
        return next((p for p in found if p.profile == profile), None)
    return next((p for p in found if p.profile == "production"), found[0] if found else None)


def _latest_per_release(protocol: Protocol):
    return (select(func.max(Submission.id))
            .where(Submission.status == "succeeded", Submission.protocol_profile == protocol.profile,
                   Submission.protocol_digest == protocol.digest)
            .group_by(Submission.release_id))


def tasks(session: Session, protocol: Protocol) -> list[str]:
    found = session.scalars(select(AuditRow.task).distinct()
                            .where(AuditRow.submission_id.in_(_latest_per_release(protocol))))
    return sorted(found, key=_task_key)


def _task_key(task: str) -> tuple:
    return (TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER), task)


def _students(session: Session, task: str, ids) -> dict[int, list]:
    cols = (StudentRow.submission_id, StudentRow.student, StudentRow.status, StudentRow.n, StudentRow.baseline,
            StudentRow.post, StudentRow.delta, StudentRow.delta_ci_low, StudentRow.delta_ci_high,
            StudentRow.mcnemar_p, StudentRow.silent_regression, StudentRow.seeds, StudentRow.seed_sd,
            StudentRow.seed_deltas, StudentRow.loss_fell)
    out: dict[int, list] = defaultdict(list)
    for row in session.execute(select(*cols).where(StudentRow.task == task, StudentRow.submission_id.in_(ids))
                               .order_by(StudentRow.submission_id, StudentRow.student)):
        out[row.submission_id].append(row)
    return out


def _finite(x: float | None) -> float | None:
    """A stored number as the API serves it: NaN and infinities (which strict JSON cannot hold) become None."""
    return x if x is None or math.isfinite(x) else None


def _seed_deltas(row) -> list[float | None]:
    """The per-seed deltas of a student row; a single-seed (schema-1) row has its one delta as the only one."""
    if row.seed_deltas is not None:
        return [_finite(d) for d in row.seed_deltas]
    return [_finite(row.delta)] if row.delta is not None and (row.seeds or 1) == 1 else []


def _cell(row, gate: dict) -> StudentCell:
    g = gate.get(row.student) or {}
    return StudentCell(student=row.student, status=row.status, gate=g.get("verdict"), baseline=_finite(row.baseline),
                       gate_baseline=g.get("baseline"), n=row.n, post=_finite(row.post), delta=_finite(row.delta),
                       delta_ci_low=_finite(row.delta_ci_low), delta_ci_high=_finite(row.delta_ci_high),
                       mcnemar_p=_finite(row.mcnemar_p), seeds=row.seeds if row.seeds is not None else 1,
                       seed_sd=_finite(row.seed_sd), seed_deltas=_seed_deltas(row), loss_fell=row.loss_fell,
                       silent_regression=row.silent_regression)


def _not_run(student: str, gate: dict) -> StudentCell:
    """A student of an audit-only record: its gate verdict is known, its self-DPO was not run."""
    return StudentCell(student=student, status="not run", gate=gate.get("verdict"),
                       baseline=_finite(gate.get("baseline")), gate_baseline=gate.get("baseline"),
                       n=gate.get("baseline_n") or 0, post=None, delta=None, delta_ci_low=None, delta_ci_high=None,
                       mcnemar_p=None, seeds=0, seed_sd=None, seed_deltas=[], loss_fell=None, silent_regression=False)


def leaderboard(session: Session, protocol: Protocol, task: str) -> list[LeaderboardRow]:
    """Every release's row for ``task``, in the official order, with ranks and Pareto flags."""
    ids = _latest_per_release(protocol)
    query = (select(AuditRow.submission_id, AuditRow.rubric_accuracy, AuditRow.ci_low, AuditRow.ci_high,
                    AuditRow.n, AuditRow.parse_failure_rate, AuditRow.gated_direction, AuditRow.usd_per_1k,
                    AuditRow.gpu_hours_per_1k, AuditRow.gate, AuditRow.cost, Release.name, Release.release,
                    Release.backend, Release.model, Release.parameters, Release.simulated,
                    Family.name.label("family"), Submission.protocol_version, Submission.protocol_digest,
                    Submission.finished_at, Submission.manifest["judging"]["mode"].as_string().label("judging"),
                    AuditRow.metrics["auroc"].as_float().label("auroc"))
             .join(Submission, Submission.id == AuditRow.submission_id)
             .join(Release, Release.id == Submission.release_id).join(Family, Family.id == Release.family_id)
             .where(AuditRow.task == task, AuditRow.submission_id.in_(ids)))
    audits = list(session.execute(query))
    students = _students(session, task, ids)
    scored = [Scored(a.rubric_accuracy, a.usd_per_1k) for a in audits]
    rows = []
    for a, rank, pareto in zip(audits, official_ranks(scored), pareto_flags(scored), strict=True):
        audit_only = a.submission_id not in students
        cells = ([_not_run(name, g) for name, g in (a.gate or {}).items()] if audit_only
                 else [_cell(s, a.gate or {}) for s in students[a.submission_id]])
        rows.append(LeaderboardRow(
            rank=rank, submission_id=a.submission_id, name=a.name, family=a.family, release=a.release,
            backend=a.backend, kind=verifier_kind(a.simulated, a.judging, a.backend), model=a.model,
            parameters=a.parameters, simulated=a.simulated, protocol_version=a.protocol_version,
            protocol_digest=a.protocol_digest,
            rubric_accuracy=a.rubric_accuracy, ci_low=a.ci_low, ci_high=a.ci_high, n=a.n,
            parse_failure_rate=a.parse_failure_rate, gated_direction=a.gated_direction, auroc=a.auroc,
            cost_kind=((a.cost or {}).get("basis") or {}).get("kind"), usd_per_1k=a.usd_per_1k,
            gpu_hours_per_1k=a.gpu_hours_per_1k, pareto=pareto, students=cells,
            silent_regression=any(c.silent_regression for c in cells), audit_only=audit_only,
            finished_at=a.finished_at))
    rows.sort(key=lambda r: (r.rank, r.name.casefold(), r.submission_id))
    return rows


def student_names(rows: list[LeaderboardRow]) -> list[str]:
    return sorted({s.student for r in rows for s in r.students})


def _summary(sub: Submission, release: Release, family: Family) -> SubmissionSummary:
    return SubmissionSummary(
        id=sub.id, name=release.name, family=family.name, release=release.release, backend=release.backend,
        status=sub.status, protocol_profile=sub.protocol_profile, protocol_version=sub.protocol_version,
        attempts=sub.attempts, max_attempts=sub.max_attempts, worker=sub.worker, failure_reason=sub.failure_reason,
        created_at=sub.created_at, started_at=sub.started_at, finished_at=sub.finished_at)


def submissions(session: Session, status: str | None = None, limit: int = 100,
                offset: int = 0) -> tuple[int, list[SubmissionSummary]]:
    """(total, one page of submissions, newest first), optionally of one status."""
    base = select(Submission, Release, Family).join(Release, Release.id == Submission.release_id).join(
        Family, Family.id == Release.family_id)
    count = select(func.count()).select_from(Submission)
    if status:
        base, count = base.where(Submission.status == status), count.where(Submission.status == status)
    rows = session.execute(base.order_by(Submission.id.desc()).limit(limit).offset(offset))
    return session.scalar(count), [_summary(s, r, f) for s, r, f in rows]


def document(session: Session, submission_id: int) -> dict | None:
    return session.scalar(select(RunDocument.document).where(RunDocument.submission_id == submission_id))


def _history(session: Session, sub: Submission, family_id: int) -> list[ReleaseHistoryEntry]:
    """Every release of the family under the same protocol, oldest first, regressions against the previous one."""
    from harness.store.compare import rubric_comparison, verdicts

    query = (select(Submission.id, Release.release, Submission.finished_at)
             .join(Release, Release.id == Submission.release_id)
             .where(Release.family_id == family_id, Submission.status == "succeeded",
                    Submission.protocol_digest == sub.protocol_digest)
             .order_by(Submission.id))
    latest = {}
    for sid, release, finished in session.execute(query):
        latest[release] = (sid, finished)  # newest submission of each release
    entries: list[ReleaseHistoryEntry] = []
    prev_id = None
    for release, (sid, finished) in sorted(latest.items(), key=lambda kv: kv[1][0]):
        rubric = dict(session.execute(select(AuditRow.task, AuditRow.rubric_accuracy)
                                      .where(AuditRow.submission_id == sid)).all())
        regressed = {}
        for task in rubric:
            if prev_id is not None:
                diff = rubric_comparison(verdicts(session, prev_id, task), verdicts(session, sid, task),
                                         resamples=200)  # only the test decides here; the CI is not shown
                regressed[task] = bool(diff and diff.b_worse(0.05))
        entries.append(ReleaseHistoryEntry(submission_id=sid, release=release, finished_at=finished, rubric=rubric,
                                           regressed=regressed, previous_id=prev_id))
        prev_id = sid
    return entries


def submission_detail(session: Session, submission_id: int) -> SubmissionDetail | None:
    found = session.execute(select(Submission, Release, Family).join(Release, Release.id == Submission.release_id)
                            .join(Family, Family.id == Release.family_id)
                            .where(Submission.id == submission_id)).first()
    if found is None:
        return None
    sub, release, family = found
    audits = [TaskAudit(task=a.task, rubric_accuracy=a.rubric_accuracy, ci_low=a.ci_low, ci_high=a.ci_high, n=a.n,
                        metrics=a.metrics, gate=a.gate, cost=a.cost, provenance=a.provenance)
              for a in session.scalars(select(AuditRow).where(AuditRow.submission_id == sub.id)
                                       .order_by(AuditRow.task))]
    audits.sort(key=lambda a: _task_key(a.task))
    students = student_details(session, sub.id, gates={a.task: a.gate for a in audits})
    history = _history(session, sub, family.id) if sub.status == "succeeded" else []
    return SubmissionDetail(submission=_summary(sub, release, family), manifest=sub.manifest,
                            protocol_digest=sub.protocol_digest, audits=audits, students=students,
                            history=history)


def _seed_result(row) -> SeedResult:
    return SeedResult(seed=row.seed, status=row.status, failure=row.failure, post=_finite(row.post),
                      delta=_finite(row.delta), delta_ci_low=_finite(row.delta_ci_low),
                      delta_ci_high=_finite(row.delta_ci_high), mcnemar_p=_finite(row.mcnemar_p),
                      loss_fell=row.loss_fell, rounds=row.rounds or [])


def student_details(session: Session, submission_id: int, task: str | None = None, student: str | None = None,
                    gates: dict[str, dict] | None = None) -> dict[str, list[StudentDetail]]:
    """Task -> each student's outcome with its training seeds, optionally of one task and student only.

    A row stored before training seeds existed (no seed rows) shows as its one run, seed 0."""
    def where(table, query):
        query = query.where(table.submission_id == submission_id)
        if task is not None:
            query = query.where(table.task == task)
        return query.where(table.student == student) if student is not None else query

    if gates is None:
        query = select(AuditRow.task, AuditRow.gate).where(AuditRow.submission_id == submission_id)
        gates = dict(session.execute(query if task is None else query.where(AuditRow.task == task)).all())
    seeds: dict[tuple[str, str], list[SeedResult]] = defaultdict(list)
    for row in session.scalars(where(SeedRow, select(SeedRow)).order_by(SeedRow.task, SeedRow.student,
                                                                         SeedRow.seed)):
        seeds[(row.task, row.student)].append(_seed_result(row))
    out: dict[str, list[StudentDetail]] = defaultdict(list)
    for s in session.scalars(where(StudentRow, select(StudentRow)).order_by(StudentRow.task, StudentRow.student)):
        cell = _cell(s, gates.get(s.task) or {})
        runs = seeds.get((s.task, s.student))
        if runs is None and cell.seeds == 1:  # a schema-1 row ingested before the seed table existed
            runs = [SeedResult(seed=0, status=s.status, failure=s.failure, post=cell.post, delta=cell.delta,
                               delta_ci_low=cell.delta_ci_low, delta_ci_high=cell.delta_ci_high,
                               mcnemar_p=cell.mcnemar_p, loss_fell=s.loss_fell, rounds=s.rounds or [])]
        out[s.task].append(StudentDetail(**cell.model_dump(), rounds=s.rounds, failure=s.failure,
                                         seed_results=runs or []))
    return dict(out)


def training(session: Session, submission_id: int, task: str | None = None,
             student: str | None = None) -> dict[tuple[str, str], dict[int, list[tuple[int, float]]]]:
    """(task, student) -> {training seed: [(step, DPO loss), ...]}, optionally of one task and student only."""
    out: dict[tuple[str, str], dict[int, list[tuple[int, float]]]] = defaultdict(dict)
    query = (select(TrainingPoint.task, TrainingPoint.student, TrainingPoint.seed, TrainingPoint.step,
                    TrainingPoint.loss)
             .where(TrainingPoint.submission_id == submission_id)
             .order_by(TrainingPoint.task, TrainingPoint.student, TrainingPoint.seed, TrainingPoint.step))
    if task is not None:
        query = query.where(TrainingPoint.task == task)
    if student is not None:
        query = query.where(TrainingPoint.student == student)
    for task, student, seed, step, loss in session.execute(query):
        out[(task, student)].setdefault(seed, []).append((step, loss))
    return dict(out)


# Per-item (and per-seed) downloads of a submission. New columns go at the end: a download's columns keep their
# positions across versions.
ITEM_TABLES = {
    "verdicts": (VerdictRow, ("task", "student", "item_id", "candidate", "response", "truth", "score", "verdict",
                              "agrees", "raw", "parse_error")),
    "predictions": (PredictionRow, ("task", "student", "phase", "item_id", "response", "parsed", "correct",
                                    "seed")),
    "seeds": (SeedRow, ("task", "student", "seed", "status", "failure", "post", "delta", "delta_ci_low",
                        "delta_ci_high", "mcnemar_p", "loss_fell")),
}


def submission_state(session: Session, sid: int) -> tuple | None:
    """What of a submission's own row its page shows and may change (None: no such submission): part of the
    page's cache version."""
    sub = session.get(Submission, sid)
    if sub is None:
        return None
    return (sub.status, sub.attempts, sub.worker, sub.failure_reason, sub.started_at, sub.finished_at)


def item_query(submission_id: int, kind: str):
    """(columns, query) of a submission's per-item audit verdicts or eval predictions, or its per-seed results."""
    table, columns = ITEM_TABLES[kind]
    return columns, (select(*(getattr(table, c) for c in columns)).where(table.submission_id == submission_id)
                     .order_by(table.id))


def item_rows(session: Session, submission_id: int, kind: str) -> tuple[tuple[str, ...], list[tuple]]:
    """(columns, rows) of :func:`item_query`, all in memory (Parquet, tests)."""
    columns, query = item_query(submission_id, kind)
    return columns, [tuple(r) for r in session.execute(query)]

