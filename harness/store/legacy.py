"""The rows of a schema-1 run document, read key by key: no model describes that schema any more (its students
held one training run each, with no seeds), so :mod:`harness.store.ingest` cannot parse it with
:class:`harness.documents.RunResult`. A schema-1 result is one training run, seed 0.
"""

from __future__ import annotations

from harness.store.schema import AuditRow, SeedRow, StudentRow, TrainingPoint

SCHEMA_VERSION = "1"


def cost_columns(cost: dict) -> dict:
    """The cost columns of an audit row, from its cost document (as JSON); shared with :mod:`harness.store.ingest`."""
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
            "provenance": audit["provenance"], **cost_columns(audit["cost"])}


def seed_run(s: dict) -> dict:
    """A schema-1 student's one training run, as a schema-2 seed outcome (seed 0)."""
    return {"seed": 0, "status": s["status"], "failure": s.get("failure"), "post": s.get("post"),
            "delta": s.get("delta"), "selfdpo": s.get("selfdpo")}


def seed_row(submission_id: int, task: str, student: str, run: dict) -> dict:
    d, selfdpo = run.get("delta") or {}, run.get("selfdpo") or {}
    curve = [loss for _, loss in selfdpo.get("loss_curve", [])]
    q = len(curve) // 4
    loss_fell = sum(curve[-q:]) / q < sum(curve[:q]) / q if q else None
    return {"submission_id": submission_id, "task": task, "student": student, "seed": run["seed"],
            "status": run["status"], "failure": run.get("failure"), "post": (run.get("post") or {}).get("value"),
            "delta": d.get("delta"), "delta_ci_low": d.get("ci_low"), "delta_ci_high": d.get("ci_high"),
            "mcnemar_p": d.get("mcnemar_p"), "loss_fell": loss_fell, "rounds": selfdpo.get("rounds", [])}


def student_row(submission_id: int, task: str, s: dict) -> dict:
    """One training run: its post, its item-only CI and McNemar p."""
    d = s.get("delta") or {}
    return {"submission_id": submission_id, "task": task, "student": s["student"], "status": s["status"],
            "failure": s.get("failure"), "n": s["baseline"]["n"], "baseline": s["baseline"]["value"],
            "delta": d.get("delta"), "delta_ci_low": d.get("ci_low"), "delta_ci_high": d.get("ci_high"),
            "silent_regression": bool(s.get("silent_regression")),
            "rounds": (s.get("selfdpo") or {}).get("rounds", []),
            "post": (s.get("post") or {}).get("value"), "mcnemar_p": d.get("mcnemar_p"), "seeds": 1}


def document_rows(submission_id: int, document: dict) -> dict[type, list[dict]]:
    """The audit, student, seed and training-curve rows of a (JSON-safe) schema-1 run document, by table."""
    sid = submission_id
    rows: dict[type, list[dict]] = {AuditRow: [], StudentRow: [], SeedRow: [], TrainingPoint: []}
    for task in document["tasks"]:
        rows[AuditRow].append(audit_row(sid, task["task"], task["audit"]))
        for s in task["students"]:
            run = seed_run(s)
            rows[StudentRow].append(student_row(sid, task["task"], s))
            rows[SeedRow].append(seed_row(sid, task["task"], s["student"], run))
            rows[TrainingPoint] += [{"submission_id": sid, "task": task["task"], "student": s["student"], "seed": 0,
                                     "step": step, "loss": loss}
                                    for step, loss in (run.get("selfdpo") or {}).get("loss_curve", [])]
    return rows
