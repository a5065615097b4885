"""The whole protocol for one submission: audit, then self-DPO and evaluation of both students,
on every task of the profile, resumable stage by stage.

Each finished stage is written (atomically) under ``<data_dir>/runs/<run id>/``: the task's
audit, then per student the self-DPO logs with the post-DPO evaluation. A rerun loads finished
stages instead of redoing them, so killing ``ladder run`` loses at most the stage in progress;
with the same seeds the redone stage gives the same numbers. Bad states (a NaN loss, no pair
admitted, a verifier without a single parseable verdict) end that part with a recorded reason.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from rich.progress import Progress

from harness.artifacts import atomic_write_text
from harness.estimate import Assumptions, estimate
from harness.metrics import PairedDelta, Proportion, paired_delta
from harness.models.loading import load_vlm
from harness.models.students import resolve_student
from harness.protocol import ProtocolConfig
from harness.settings import Settings
from harness.stages.audit import (
    AuditResult,
    LazyStudent,
    baseline_path,
    protocol_splits,
    render_rubric,
    run_audit,
)
from harness.stages.evaluate import EvalConfig, evaluate, load_or_evaluate
from harness.stages.selfdpo import SelfDPOResult, self_dpo
from harness.submission import Manifest
from harness.tasks import get_task
from harness.verifiers import make_backend

logger = logging.getLogger(__name__)


class StudentOutcome(BaseModel):
    """Stage 2 + 3 for one student on one task."""

    student: str
    status: Literal["succeeded", "failed"]
    failure: str | None = None
    baseline: Proportion
    post: Proportion | None = None
    delta: PairedDelta | None = None
    silent_regression: bool = Field(default=False, description="DPO loss fell while accuracy fell (CI < 0).")
    selfdpo: SelfDPOResult | None = None
    wall_seconds: float = Field(default=0.0, description="Self-DPO + evaluation wall time.")
    baseline_predictions: str | None = Field(default=None, description="Per-item baseline eval artifact (JSON).")
    post_predictions: str | None = Field(default=None, description="Per-item post-DPO eval artifact (JSON).")

    def summary(self) -> dict:
        d = self.delta
        return {
            "status": self.status, "failure": self.failure, "baseline": self.baseline.value,
            "n": self.baseline.n, "post": self.post.value if self.post else None,
            "delta": d.delta if d else None, "delta_ci_low": d.ci_low if d else None,
            "delta_ci_high": d.ci_high if d else None, "mcnemar_p": d.mcnemar_p if d else None,
            "mde": d.mde if d else None, "silent_regression": self.silent_regression,
            "loss_curve": self.selfdpo.loss_curve if self.selfdpo else [],
            "rounds": [r.model_dump() for r in self.selfdpo.rounds] if self.selfdpo else [],
        }


class TaskOutcome(BaseModel):
    task: str
    audit: AuditResult
    students: list[StudentOutcome]


class RunResult(BaseModel):
    """The versioned result document of a whole protocol run of one submission."""

    schema_version: Literal["1"] = "1"
    kind: Literal["run"] = "run"
    run_id: str
    protocol_profile: str
    protocol_digest: str
    tasks: list[TaskOutcome]

    @property
    def status(self) -> Literal["succeeded", "failed"]:
        ok = all(s.status == "succeeded" for t in self.tasks for s in t.students)
        return "succeeded" if ok else "failed"

    def summary(self) -> dict:
        return {
            "run_id": self.run_id, "status": self.status, "protocol_profile": self.protocol_profile,
            "tasks": {t.task: {"audit": t.audit.summary(),
                               "students": {s.student: s.summary() for s in t.students}} for t in self.tasks},
        }


def run_id(manifest: Manifest, protocol: ProtocolConfig) -> str:
    return f"{manifest.digest()[:12]}-{protocol.digest()}"


def _load(path: Path, model: type[BaseModel]):
    return model.model_validate_json(path.read_text()) if path.exists() else None


def run_protocol(manifest: Manifest, protocol: ProtocolConfig, settings: Settings, data_path: Path | None = None,
                 progress: Progress | None = None) -> RunResult:
    rid = run_id(manifest, protocol)
    root = settings.data_dir / "runs" / rid
    tasks = []
    for task_name in protocol.tasks:
        audit_path = root / task_name / "audit.json"
        audit = _load(audit_path, AuditResult)
        if audit is None:
            audit = run_audit(manifest, protocol, task_name, settings, data_path=data_path, progress=progress)
            atomic_write_text(audit_path, audit.model_dump_json())
        else:
            logger.info("%s: audit already done, reusing it", task_name)
        students = []
        for student in protocol.students:
            path = root / task_name / f"{student.name}.json"
            outcome = _load(path, StudentOutcome)
            if outcome is None:
                t0 = time.perf_counter()
                outcome = _train_and_evaluate(manifest, protocol, task_name, student, audit, settings, data_path,
                                              root / task_name / f"{student.name}.work", progress)
                outcome = outcome.model_copy(update={"wall_seconds": round(time.perf_counter() - t0, 2)})
                atomic_write_text(path, outcome.model_dump_json())
            else:
                logger.info("%s/%s: self-DPO and evaluation already done, reusing them", task_name, student.name)
            students.append(outcome)
        tasks.append(TaskOutcome(task=task_name, audit=audit, students=students))
    return RunResult(run_id=rid, protocol_profile=protocol.profile, protocol_digest=protocol.digest(), tasks=tasks)


def _train_and_evaluate(manifest, protocol, task_name, student, audit: AuditResult, settings, data_path, work_dir,
                        progress) -> StudentOutcome:
    task = get_task(task_name)
    items = task.items(path=data_path)
    splits = protocol_splits(task, items, protocol)
    train, test = splits["train"], splits["test"]
    ref = resolve_student(student, settings.data_dir, protocol.split_seed)
    ident = {"name": student.name, **ref.describe()}
    eval_cfg = EvalConfig(max_new_tokens=protocol.eval_max_new_tokens)
    baseline = load_or_evaluate(baseline_path(settings, ident, task.name, protocol), LazyStudent(ref), task, test,
                                eval_cfg, progress)
    from harness.verifiers.hf import pick_device

    device = pick_device()
    base_path = baseline_path(settings, ident, task.name, protocol)
    failed = StudentOutcome(student=student.name, status="failed", baseline=baseline.accuracy,
                            baseline_predictions=str(base_path))
    if audit.metrics.parse_failures.value == 1.0:
        return failed.model_copy(update={"failure": "the verifier produced no parseable verdict in the audit"})
    model, processor = load_vlm(ref, device=device, dtype="float32" if device == "cpu" else student.dtype)
    cfg = protocol.selfdpo
    render = render_rubric(manifest.rubric_template or protocol.rubric_template)
    try:
        with make_backend(manifest) as backend:
            result = self_dpo(model, processor, task, train, train[:cfg.probe_size], backend, render, cfg,
                              student.name, work_dir, progress)
    except FloatingPointError as err:
        return failed.model_copy(update={"failure": f"NaN loss: {err}"})
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if not any(r.pairs_admitted for r in result.rounds):
        return failed.model_copy(update={"failure": "no preference pair passed the replay gate in any round",
                                         "selfdpo": result})
    post = evaluate(model, processor, task, test, eval_cfg, progress)
    post_path = work_dir.parent / f"{student.name}.post.json"
    atomic_write_text(post_path, post.model_dump_json())
    delta = paired_delta([p.correct for p in baseline.predictions], [p.correct for p in post.predictions],
                         seed=protocol.selfdpo.seed)
    return StudentOutcome(student=student.name, status="succeeded", baseline=baseline.accuracy, post=post.accuracy,
                          baseline_predictions=str(base_path), post_predictions=str(post_path), delta=delta,
                          silent_regression=result.loss_fell and delta.ci_high < 0, selfdpo=result)


# Item counts of the production splits (hub dataset sizes), for planning without a download.
KNOWN_SIZES = {"mathvista": 1000, "mmmu": 900, "blink": 1901}


def plan(manifest: Manifest, protocol: ProtocolConfig, assumptions: Assumptions | None = None) -> dict:
    """What a run will do: judgment and item counts, and the GPU-hours they take
    (:mod:`harness.estimate`; no model or data is loaded)."""
    from harness.tasks.splits import assign_splits

    tasks = []
    for name in protocol.tasks:
        task = get_task(name)
        n = KNOWN_SIZES.get(name, getattr(task, "n_items", 0))
        split = assign_splits([str(i) for i in range(n)], task.split_spec)
        audit_n = min(protocol.audit.size, len(split["audit"]))
        cfg = protocol.selfdpo
        tasks.append({
            "task": name, "items": n, "audit_items": audit_n, "k": protocol.audit.k,
            "students": len(protocol.students),
            "audit_judgments": audit_n * protocol.audit.k * len(protocol.students),
            "selfdpo_rounds": cfg.rounds, "selfdpo_prompts": min(cfg.prompts_per_round, len(split["train"])),
            "k_train": cfg.k, "selfdpo_judgments": cfg.rounds * min(cfg.prompts_per_round, len(split["train"])) * cfg.k,
            "test_items": len(split["test"]),
        })
    return {"verifier": manifest.name, "protocol": protocol.version, "profile": protocol.profile,
            "stages": ["audit", "selfdpo", "evaluate"], "tasks": tasks,
            "estimate": estimate(manifest, protocol, tasks, assumptions or Assumptions())}
