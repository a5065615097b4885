"""Write a finished run into the store: the result document and every row derived from it, in one transaction.

Input is JSON only: the run document (``RunResult.model_dump(mode="json")``) and its per-item rows (audit
verdicts and eval predictions, read from the run's artifacts by :mod:`harness.results`). Ingesting the same
document twice changes nothing; a different document for a submission that already has one is refused, so a
stored result is never silently replaced.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from harness.config import digest as canonical_digest
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
    """A submission already holds a different result document."""


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


def _cost_columns(cost: dict) -> dict:
    return {"cost_usd": cost.get("usd"), "usd_per_1k": cost.get("usd_per_1k_judgments"),
            "gpu_hours_per_1k": cost.get("device_hours_per_1k_judgments"), "cost": cost}


def audit_row(submission_id: int, task: str, audit: dict) -> dict:
    m = audit["metrics"]
    acc = m["rubric_accuracy"]
    gate = {g["student"]: {"verdict": g["verdict"], "baseline": g["baseline"]["value"],
                           "baseline_n": g["baseline"]["n"], "decisive": g["decisive"]} for g in audit["gate"]}
    return {"submission_id": submission_id, "task": task, "rubric_accuracy": acc["value"], "ci_low": acc["ci_low"],
            "ci_high": acc["ci_high"], "n": acc["n"], "parse_failure_rate": m["parse_failures"]["value"],
            "gated_direction": m["pairs_gated"]["direction"]["value"],
            "blocked": any(g["verdict"] == "below" for g in audit["gate"]), "gate": gate, "metrics": m,
            "provenance": audit["provenance"], **_cost_columns(audit["cost"])}


def seed_runs(s: dict, schema: str) -> list[dict]:
    """A student's training runs as schema-2 seed outcomes (a schema-1 result is one run, seed 0)."""
    if schema == "1":
        return [{"seed": 0, "status": s["status"], "failure": s.get("failure"), "post": s.get("post"),
                 "delta": s.get("delta"), "selfdpo": s.get("selfdpo")}]
    return s.get("seeds") or []


def _seed_row(submission_id: int, task: str, student: str, run: dict) -> dict:
    d, selfdpo = run.get("delta") or {}, run.get("selfdpo") or {}
    curve = [loss for _, loss in selfdpo.get("loss_curve", [])]
    q = len(curve) // 4
    loss_fell = sum(curve[-q:]) / q < sum(curve[:q]) / q if q else None
    return {"submission_id": submission_id, "task": task, "student": student, "seed": run["seed"],
            "status": run["status"], "failure": run.get("failure"), "post": (run.get("post") or {}).get("value"),
            "delta": d.get("delta"), "delta_ci_low": d.get("ci_low"), "delta_ci_high": d.get("ci_high"),
            "mcnemar_p": d.get("mcnemar_p"), "loss_fell": loss_fell, "rounds": selfdpo.get("rounds", [])}


def student_row(submission_id: int, task: str, s: dict, runs: list[dict], schema: str) -> dict:
    d = s.get("delta") or {}
    row = {"submission_id": submission_id, "task": task, "student": s["student"], "status": s["status"],
           "failure": s.get("failure"), "n": s["baseline"]["n"], "baseline": s["baseline"]["value"],
           "delta": d.get("delta"), "delta_ci_low": d.get("ci_low"), "delta_ci_high": d.get("ci_high"),
           "silent_regression": bool(s.get("silent_regression")),
           "rounds": ((runs[0] if runs else {}).get("selfdpo") or {}).get("rounds", [])}
    if schema == "1":  # one training run: its post, its item-only CI and McNemar p
        return {**row, "post": (s.get("post") or {}).get("value"), "mcnemar_p": d.get("mcnemar_p"), "seeds": 1}
    return {**row, "post": d.get("after"), "mcnemar_p": None, "seeds": len(runs), "seed_sd": d.get("seed_sd"),
            "seed_deltas": d.get("seed_deltas"), "loss_fell": s.get("loss_fell")}


def ingest(session: Session, submission: Submission, document: dict, items: dict[str, Any]) -> bool:
    """Store ``document`` and its rows for ``submission``; False when exactly this document is already stored.

    ``items``: ``{"verdicts": [row, ...], "predictions": [row, ...]}`` with the columns of
    :class:`VerdictRow` / :class:`PredictionRow` (minus ``submission_id``). Must run inside the caller's
    transaction, so that the result and the submission's final status commit together.
    """
    document = json_safe(document)
    items = {kind: [json_safe(r) for r in rows] for kind, rows in items.items()}
    digest = document_hash(document)
    stored = session.scalar(select(RunDocument).where(RunDocument.submission_id == submission.id))
    if stored is not None:
        if stored.document_hash == digest:
            return False
        raise ResultConflict(f"submission {submission.id} already holds result {stored.document_hash[:12]}, "
                             f"refusing to replace it with {digest[:12]}")
    sid = submission.id
    session.add(RunDocument(submission_id=sid, schema_version=document["schema_version"], run_id=document["run_id"],
                            document=document, document_hash=digest))
    schema = document["schema_version"]
    audits, students, seeds, points = [], [], [], []
    for task in document["tasks"]:
        audits.append(audit_row(sid, task["task"], task["audit"]))
        for s in task["students"]:
            runs = seed_runs(s, schema)
            students.append(student_row(sid, task["task"], s, runs, schema))
            for run in runs:
                seeds.append(_seed_row(sid, task["task"], s["student"], run))
                curve = (run.get("selfdpo") or {}).get("loss_curve", [])
                points += [{"submission_id": sid, "task": task["task"], "student": s["student"], "seed": run["seed"],
                            "step": step, "loss": loss} for step, loss in curve]
    for table, rows in ((AuditRow, audits), (StudentRow, students), (SeedRow, seeds), (TrainingPoint, points),
                        (VerdictRow, [{"submission_id": sid, **r} for r in items.get("verdicts", [])]),
                        (PredictionRow, [{"submission_id": sid, **r} for r in items.get("predictions", [])])):
        if rows:
            session.execute(insert(table), rows)
    return True
