"""Write a finished run into the store: the result document and every row derived from it, in one transaction.

Input is JSON only: the run document (``RunResult.model_dump(mode="json")``, parsed back with
:class:`harness.documents.RunResult` to derive the rows; a schema-1 document by :mod:`harness.store.legacy`) and its
per-item rows (audit verdicts and eval predictions, read from the run's artifacts by :mod:`harness.results`).
Ingesting the same document twice changes nothing. A submission's results add up task by task and lose nothing
(:func:`merge`): an audit-only record (``ladder audit``: tasks without students) is completed by audits and runs of
other tasks and by the run of the same task; ``ladder run --tasks`` results of one submission add up to the whole
run; a different outcome for a task already stored is refused, so a stored result is never silently replaced.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from harness.config import digest as canonical_digest
from harness.documents import AuditResult, RunResult, SeedOutcome, StudentOutcome
from harness.store import legacy
from harness.store.schema import (
    AuditRow,
    PredictionRow,
    RunDocument,
    SeedRow,
    StudentRow,
    Submission,
    TrainingPoint,
    VerdictRow,
)


class ResultConflict(RuntimeError):
    """A submission already holds a different result document (``submission_id`` names it: the stored result stays)."""

    def __init__(self, message: str, submission_id: int) -> None:
        super().__init__(message)
        self.submission_id = submission_id


class PartialResult(ValueError):
    """A result of a run on the first N items only (``--limit``): never stored, so never ranked."""


def partial(document: dict) -> int | None:
    """The item limit a result document was made under, or None for a whole result."""
    return next((((t.get("audit") or {}).get("provenance") or {}).get("item_limit")
                 for t in document.get("tasks") or []), None)


def refuse_partial(document: dict) -> None:
    """Raise :class:`PartialResult` for a result made on the first N items only."""
    if (limit := partial(document)) is not None:
        raise PartialResult(f"a partial result (first {limit} items of each split) is never stored")


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None: JSON (and PostgreSQL's json type) has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def document_hash(document: dict) -> str:
    return canonical_digest(document)


def audit_row(submission_id: int, task: str, audit: AuditResult) -> dict:
    m, acc = audit.metrics, audit.metrics.rubric_accuracy
    gate = {g.student: {"verdict": g.verdict, "baseline": g.baseline.value, "baseline_n": g.baseline.n,
                        "decisive": g.decisive} for g in audit.gate}
    return json_safe({
        "submission_id": submission_id, "task": task, "rubric_accuracy": acc.value, "ci_low": acc.ci_low,
        "ci_high": acc.ci_high, "n": acc.n, "parse_failure_rate": m.parse_failures.value,
        "gated_direction": m.pairs_gated.direction.value, "blocked": audit.blocked, "gate": gate,
        "metrics": m.model_dump(mode="json"), "provenance": audit.provenance.model_dump(mode="json"),
        **legacy.cost_columns(audit.cost.model_dump(mode="json"))})


def seed_row(submission_id: int, task: str, student: str, run: SeedOutcome) -> dict:
    d, selfdpo = run.delta, run.selfdpo
    drop = selfdpo.loss_drop if selfdpo else None
    return json_safe({
        "submission_id": submission_id, "task": task, "student": student, "seed": run.seed, "status": run.status,
        "failure": run.failure, "post": run.post.value if run.post else None, "delta": d.delta if d else None,
        "delta_ci_low": d.ci_low if d else None, "delta_ci_high": d.ci_high if d else None,
        "mcnemar_p": d.mcnemar_p if d else None, "loss_fell": None if drop is None else drop < 0,
        "rounds": [r.model_dump(mode="json") for r in selfdpo.rounds] if selfdpo else []})


def student_row(submission_id: int, task: str, s: StudentOutcome) -> dict:
    """The student's seed-mean outcome; its rounds are those of its first training run."""
    d, first = s.delta, s.seeds[0].selfdpo if s.seeds else None
    return json_safe({
        "submission_id": submission_id, "task": task, "student": s.student, "status": s.status,
        "failure": s.failure, "n": s.baseline.n, "baseline": s.baseline.value, "post": d.after if d else None,
        "delta": d.delta if d else None, "delta_ci_low": d.ci_low if d else None,
        "delta_ci_high": d.ci_high if d else None, "silent_regression": s.silent_regression, "mcnemar_p": None,
        "seeds": len(s.seeds), "seed_sd": d.seed_sd if d else None, "seed_deltas": d.seed_deltas if d else None,
        "loss_fell": s.loss_fell, "rounds": [r.model_dump(mode="json") for r in first.rounds] if first else []})


def document_rows(submission_id: int, document: dict) -> dict[type, list[dict]]:
    """The audit, student, seed and training-curve rows of a (JSON-safe) run document, by table.

    A document is parsed with :class:`RunResult` (one that does not fit, or of an unknown schema, is refused with
    pydantic's ``ValidationError``), except one of schema 1, which no model describes any more: that one is read
    key by key (:mod:`harness.store.legacy`)."""
    if document.get("schema_version") == legacy.SCHEMA_VERSION:
        return legacy.document_rows(submission_id, document)
    run, sid = RunResult.model_validate(document), submission_id
    rows: dict[type, list[dict]] = {AuditRow: [], StudentRow: [], SeedRow: [], TrainingPoint: []}
    for task in run.tasks:
        rows[AuditRow].append(audit_row(sid, task.task, task.audit))
        for s in task.students:
            rows[StudentRow].append(student_row(sid, task.task, s))
            for r in s.seeds:
                rows[SeedRow].append(seed_row(sid, task.task, s.student, r))
                curve = r.selfdpo.loss_curve if r.selfdpo else []
                rows[TrainingPoint] += [json_safe({"submission_id": sid, "task": task.task, "student": s.student,
                                                   "seed": r.seed, "step": step, "loss": loss})
                                        for step, loss in curve]
    return rows


def _student_outcome(s: dict) -> Any:
    """What two runs of one student must agree on (timings, dates and file paths left out)."""
    return (s.get("status"), s.get("baseline"), s.get("delta"), s.get("silent_regression"), s.get("loss_fell"),
            [(r.get("seed"), r.get("status"), r.get("post"), r.get("delta")) for r in s.get("seeds") or []])


def _metrics(t: dict) -> Any:
    return (t.get("audit") or {}).get("metrics")


def _task_outcome(t: dict) -> Any:
    return _metrics(t), {s.get("student"): _student_outcome(s) for s in t.get("students") or []}


def merge(stored: dict, incoming: dict) -> tuple[dict, set[str]] | None:
    """What to store when ``incoming`` meets ``stored`` for the same submission, task by task, and which tasks come
    from ``incoming``; None for a conflict. A task only one holds is kept; an audit-only task (``ladder audit``) is
    completed by the same task's run, whose audit must agree; a task both ran must have the same outcome (a resumed
    run: the same numbers, other timings), and the stored one stays. So ``ladder run --tasks a`` then ``--tasks b``
    add up to the whole run, and nothing stored is ever replaced by different numbers."""
    if stored.get("schema_version") != incoming.get("schema_version"):
        return None
    old = {t.get("task"): t for t in stored.get("tasks") or []}
    merged, taken = dict(old), set()
    for t in incoming.get("tasks") or []:
        name, before = t.get("task"), old.get(t.get("task"))
        if before is not None:
            if _metrics(before) != _metrics(t) or (
                    t.get("students") and before.get("students") and _task_outcome(before) != _task_outcome(t)):
                return None
            if not t.get("students") or before.get("students"):
                continue  # held already
        merged[name] = t  # a new task, or the run of an audit-only one
        taken.add(name)
    if not taken:
        return stored, taken
    if taken == set(merged):
        return incoming, taken
    return {**stored, "tasks": list(merged.values())}, taken


def _drop(session: Session, submission_id: int, tasks: set[str]) -> None:
    """Delete a submission's document and derived rows, and the item rows of ``tasks`` (inside the caller's
    transaction), to store its merged document."""
    for table in [RunDocument, AuditRow, StudentRow, SeedRow, TrainingPoint]:
        session.execute(delete(table).where(table.submission_id == submission_id))
    for table in [VerdictRow, PredictionRow]:
        session.execute(delete(table).where(table.submission_id == submission_id, table.task.in_(tasks)))


def ingest(session: Session, submission: Submission, document: dict, items: dict[str, Any]) -> bool:
    """Store ``document`` and its rows for ``submission``; False when it adds nothing to what is stored.

    A submission that already holds a result gets the two merged task by task (:func:`merge`); a different outcome
    of a task already stored raises :class:`ResultConflict` and the stored result stays.
    ``items``: ``{"verdicts": [row, ...], "predictions": [row, ...]}`` with the columns of
    :class:`VerdictRow` / :class:`PredictionRow` (minus ``submission_id``). Must run inside the caller's
    transaction, so that the result and the submission's final status commit together.
    """
    refuse_partial(document)
    document = json_safe(document)
    items = {kind: [json_safe(r) for r in rows] for kind, rows in items.items()}
    digest = document_hash(document)
    stored = session.scalar(select(RunDocument).where(RunDocument.submission_id == submission.id))
    if stored is not None:
        if stored.document_hash == digest:
            return False
        merged = merge(stored.document, document)
        if merged is None:
            raise ResultConflict(f"submission {submission.id} already holds result {stored.document_hash[:12]}, "
                                 f"refusing to replace it with {digest[:12]}", submission.id)
        document, taken = merged
        if not taken:
            return False
        items = {kind: [r for r in rows if r.get("task") in taken] for kind, rows in items.items()}
        _drop(session, submission.id, taken)
        session.flush()
        digest = document_hash(document)
    _insert(session, submission.id, document, digest, items)
    return True


def _insert(session: Session, sid: int, document: dict, digest: str, items: dict[str, Any]) -> None:
    session.add(RunDocument(submission_id=sid, schema_version=document["schema_version"], run_id=document["run_id"],
                            document=document, document_hash=digest))
    rows = document_rows(sid, document)
    rows[VerdictRow] = [{"submission_id": sid, **r} for r in items.get("verdicts", [])]
    rows[PredictionRow] = [{"submission_id": sid, **r} for r in items.get("predictions", [])]
    for table, values in rows.items():
        if values:
            session.execute(insert(table), values)
