"""A finished run as what the store ingests: the JSON document plus its per-item rows from the artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.artifacts import read_jsonl
from harness.runner import RunResult

VERDICT_COLUMNS = ("student", "item_id", "candidate", "response", "truth", "score", "verdict", "agrees", "raw",
                   "parse_error")


def _predictions(path: str | None, task: str, student: str, phase: str) -> list[dict]:
    if not path or not Path(path).exists():
        return []
    doc = json.loads(Path(path).read_text())
    return [{"task": task, "student": student, "phase": phase, "item_id": p["item_id"], "response": p["response"],
             "parsed": p["parsed"], "correct": p["correct"]} for p in doc["predictions"]]


def item_rows(result: RunResult) -> dict[str, list[dict[str, Any]]]:
    """Audit verdicts and baseline/post predictions of every task and student of ``result``."""
    verdicts, predictions = [], []
    for task in result.tasks:
        path = Path(task.audit.verdicts_path)
        if path.exists():
            verdicts += [{"task": task.task, **{k: row.get(k) for k in VERDICT_COLUMNS}} for row in read_jsonl(path)]
        for s in task.students:
            predictions += _predictions(s.baseline_predictions, task.task, s.student, "baseline")
            predictions += _predictions(s.post_predictions, task.task, s.student, "post")
    return {"verdicts": verdicts, "predictions": predictions}


def post_correctness(results: list[RunResult]) -> dict[tuple[str, str, str], list[bool]]:
    """``(verifier name, task, student) -> post-DPO correctness`` in test-item order, from the run artifacts."""
    out = {}
    for result in results:
        for task in result.tasks:
            for s in task.students:
                rows = _predictions(s.post_predictions, task.task, s.student, "post")
                if rows:
                    out[(task.audit.verifier.name, task.task, s.student)] = [
                        r["correct"] for r in sorted(rows, key=lambda r: r["item_id"])]
    return out
