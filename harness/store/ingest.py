"""Write a finished run into the store: the result document and every row derived from it, in one transaction.

Input is JSON only: the run document (``RunResult.model_dump(mode="json")``) and its per-item rows (audit
verdicts and eval predictions, read from the run's artifacts by :mod:`harness.results`). Ingesting the same
document twice changes nothing; a different document for a submission that already has one is refused, so a
stored result is never silently replaced.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from harness.store.schema import AuditRow, PredictionRow, RunDocument, StudentRow, Submission, TrainingPoint, VerdictRow


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
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _cost_columns(cost: dict) -> dict:
    return {"cost_usd": cost.get("usd"), "usd_per_1k": cost.get("usd_per_1k_judgments"),
            "gpu_hours_per_1k": cost.get("device_hours_per_1k_judgments"), "cost": cost}


def _audit_row(submission_id: int, task: str, audit: dict) -> dict:
    m = audit["metrics"]
    acc = m["rubric_accuracy"]
    gate = {g["student"]: {"verdict": g["verdict"], "baseline": g["baseline"]["value"],
                           "baseline_n": g["baseline"]["n"], "decisive": g["decisive"]} for g in audit["gate"]}
    return {"submission_id": submission_id, "task": task, "rubric_accuracy": acc["value"], "ci_low": acc["ci_low"],
            "ci_high": acc["ci_high"], "n": acc["n"], "parse_failure_rate": m["parse_failures"]["value"],
            "gated_direction": m["pairs_gated"]["direction"]["value"],
            "blocked": any(g["verdict"] == "below" for g in audit["gate"]), "gate": gate, "metrics": m,
            "provenance": audit["provenance"], **_cost_columns(audit["cost"])}


def _student_row(submission_id: int, task: str, s: dict) -> dict:
    d = s.get("delta") or {}
    return {"submission_id": submission_id, "task": task, "student": s["student"], "status": s["status"],
            "failure": s.get("failure"), "n": s["baseline"]["n"], "baseline": s["baseline"]["value"],
            "post": (s.get("post") or {}).get("value"), "delta": d.get("delta"), "delta_ci_low": d.get("ci_low"),
            "delta_ci_high": d.get("ci_high"), "mcnemar_p": d.get("mcnemar_p"),
            "silent_regression": bool(s.get("silent_regression")),
            "rounds": (s.get("selfdpo") or {}).get("rounds", [])}


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
    audits, students, points = [], [], []
    for task in document["tasks"]:
        audits.append(_audit_row(sid, task["task"], task["audit"]))
        for s in task["students"]:
            students.append(_student_row(sid, task["task"], s))
            curve = (s.get("selfdpo") or {}).get("loss_curve", [])
            points += [{"submission_id": sid, "task": task["task"], "student": s["student"], "step": step,
                        "loss": loss} for step, loss in curve]
    for table, rows in ((AuditRow, audits), (StudentRow, students), (TrainingPoint, points),
                        (VerdictRow, [{"submission_id": sid, **r} for r in items.get("verdicts", [])]),
                        (PredictionRow, [{"submission_id": sid, **r} for r in items.get("predictions", [])])):
        if rows:
            session.execute(insert(table), rows)
    return True
