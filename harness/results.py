"""A finished run as what the store ingests: the JSON document plus its per-item rows from the artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.artifacts import read_jsonl
from harness.documents import RunResult

VERDICT_COLUMNS = ("student", "item_id", "candidate", "response", "truth", "score", "verdict", "agrees", "raw",
                   "parse_error")


def _predictions(path: str | None, task: str, student: str, phase: str, seed: int = 0) -> list[dict]:
    """Rows of one evaluation artifact; ``seed`` is the training seed of a post-DPO evaluation (0 for the
    baseline, which no training preceded)."""
    if not path or not Path(path).exists():
        return []
    doc = json.loads(Path(path).read_text())
    return [{"task": task, "student": student, "phase": phase, "seed": seed, "item_id": p["item_id"],
             "response": p["response"], "parsed": p["parsed"], "correct": p["correct"]} for p in doc["predictions"]]


def item_rows(result: RunResult) -> dict[str, list[dict[str, Any]]]:
    """Audit verdicts and baseline/post predictions of every task and student of ``result``."""
    verdicts, predictions = [], []
    for task in result.tasks:
        path = Path(task.audit.verdicts_path)
        if path.exists():
            verdicts += [{"task": task.task, **{k: row.get(k) for k in VERDICT_COLUMNS}} for row in read_jsonl(path)]
        for s in task.students:
            predictions += _predictions(s.baseline_predictions, task.task, s.student, "baseline")
            for run in s.seeds:
                predictions += _predictions(run.post_predictions, task.task, s.student, "post", run.seed)
    return {"verdicts": verdicts, "predictions": predictions}


def post_correctness(results: list[RunResult]) -> dict[tuple[str, str, str], list[list[bool]]]:
    """``(verifier name, task, student) -> post-DPO correctness``, one row per training seed (seeds in order),
    each in test-item id order, from the run artifacts; only students whose every seed has its predictions."""
    out = {}
    for result in results:
        for task in result.tasks:
            for s in task.students:
                rows = [_predictions(run.post_predictions, task.task, s.student, "post", run.seed) for run in s.seeds]
                if rows and all(rows):
                    out[(task.audit.verifier.name, task.task, s.student)] = [
                        [r["correct"] for r in sorted(seed_rows, key=lambda r: r["item_id"])] for seed_rows in rows]
    return out
