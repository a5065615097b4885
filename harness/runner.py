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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel
from rich.progress import Progress

from harness.artifacts import atomic_write_text, read_json
from harness.config import ProtocolConfig, StudentConfig
from harness.documents import AuditResult, Plan, RunResult, SeedOutcome, StudentOutcome, TaskOutcome, TaskPlan
from harness.estimate import Assumptions, estimate
from harness.seed_stats import seed_delta
from harness.seeds import SeedJob, SeedRunner
from harness.settings import Settings
from harness.stages.audit import run_audit
from harness.stages.common import LazyStudent, baseline_path, protocol_splits, student_ident
from harness.stages.evaluate import load_or_evaluate
from harness.stages.students import resolve_student
from harness.submission import Manifest
from harness.tasks import chosen_tasks, get_task

logger = logging.getLogger(__name__)


def run_id(manifest: Manifest, protocol: ProtocolConfig) -> str:
    return f"{manifest.digest()[:12]}-{protocol.digest()}"


def _load(path: Path, model: type[BaseModel]):
    return model.model_validate_json(path.read_text()) if path.exists() else None


def run_protocol(manifest: Manifest, protocol: ProtocolConfig, settings: Settings, data_path: Path | None = None,
                 progress: Progress | None = None, jobs: int = 1, tasks: Sequence[str] | None = None) -> RunResult:
    """Audit, then every (student, training seed) self-DPO run and its evaluation, on every task (or on ``tasks``,
    some of the protocol's: each task's outcome is the one the whole run gives, and the store adds them up).

    ``jobs`` > 1 runs that many seed runs at once, each in its own process (on a CPU machine: one per core;
    each process then uses its share of the cores' threads). A seed's numbers do not depend on ``jobs``
    beyond the thread count: every run loads the frozen student and seeds its own generators.
    """
    names = chosen_tasks(protocol, tasks)
    rid = run_id(manifest, protocol)
    root = settings.data_dir / "runs" / rid
    outcomes = []
    with SeedRunner(jobs) as seed_runner:
        ctx = _Run(manifest, protocol, settings, data_path, root, seed_runner, progress)
        for task_name in names:
            audit_path = root / task_name / "audit.json"
            audit = _load(audit_path, AuditResult)
            if audit is None:
                audit = run_audit(manifest, protocol, task_name, settings, data_path=data_path, progress=progress)
                atomic_write_text(audit_path, audit.model_dump_json())
            else:
                logger.info("%s: audit already done, reusing it", task_name)
            students = [_student(ctx, task_name, student, audit) for student in protocol.students]
            outcomes.append(TaskOutcome(task=task_name, audit=audit, students=students))
    return RunResult(run_id=rid, protocol_profile=protocol.profile, protocol_digest=protocol.digest(), tasks=outcomes)



@dataclass(frozen=True)
class _Run:
    """What every stage of one protocol run shares."""

    manifest: Manifest
    protocol: ProtocolConfig
    settings: Settings
    data_path: Path | None
    root: Path
    seed_runner: SeedRunner
    progress: Progress | None


def _student(run: _Run, task_name: str, student: StudentConfig, audit: AuditResult) -> StudentOutcome:
    """A student's outcome: from its file when finished, else from its seed runs (each resumed from its file)."""
    manifest, protocol, settings, data_path, progress = (run.manifest, run.protocol, run.settings, run.data_path,
                                                         run.progress)
    path = run.root / task_name / f"{student.name}.json"
    done = _load(path, StudentOutcome)
    if done is not None:
        logger.info("%s/%s: self-DPO and evaluation already done, reusing them", task_name, student.name)
        return done
    t0 = time.perf_counter()
    task = get_task(task_name)
    test = protocol_splits(task, task.items(path=data_path), protocol)["test"]
    ref = resolve_student(student, settings.data_dir, protocol.split_seed)
    ident = student_ident(student.name, ref, settings)
    base_path = baseline_path(settings, ident, task.name, protocol)
    baseline = load_or_evaluate(base_path, LazyStudent(ref), task, test,
                                protocol.eval_config(), progress)
    failed = StudentOutcome(student=student.name, status="failed", baseline=baseline.accuracy,
                            baseline_predictions=str(base_path))
    if audit.metrics.parse_failures.value == 1.0:
        return failed.model_copy(update={"failure": "the verifier produced no parseable verdict in the audit"})
    before = [p.correct for p in baseline.predictions]
    jobs = [SeedJob(manifest=manifest, protocol=protocol, task=task_name, student=student.name, seed=seed,
                    data_path=data_path, out=run.root / task_name / f"{student.name}.seed{seed}.json",
                    baseline=before)
            for seed in protocol.selfdpo.training_seeds()]
    seeds = run.seed_runner.run(jobs, settings, progress)
    outcome = aggregate(failed, seeds, before)
    outcome = outcome.model_copy(update={"wall_seconds": round(time.perf_counter() - t0, 2)})
    atomic_write_text(path, outcome.model_dump_json())
    return outcome


def aggregate(failed: StudentOutcome, seeds: list[SeedOutcome], before: list[bool]) -> StudentOutcome:
    """The student's outcome from its seed runs: the seed mean with its CI over items and seeds
    (:func:`harness.seed_stats.seed_delta`) when every seed succeeded,
    else failed with the first failing seed's reason (a mean over the seeds that happened to succeed would be
    biased towards verifiers whose bad runs crash)."""
    bad = [s for s in seeds if s.status != "succeeded"]
    if bad:
        reason = "; ".join(f"seed {s.seed}: {s.failure}" for s in bad)
        return failed.model_copy(update={"seeds": seeds, "failure": reason})
    after = [[p["correct"] for p in read_json(Path(s.post_predictions))["predictions"]] for s in seeds]
    delta = seed_delta([before], after)
    drops = [s.selfdpo.loss_drop for s in seeds if s.selfdpo and s.selfdpo.loss_drop is not None]
    loss_fell = bool(drops) and sum(drops) / len(drops) < 0
    return failed.model_copy(update={"status": "succeeded", "seeds": seeds, "delta": delta, "loss_fell": loss_fell,
                                     "silent_regression": loss_fell and delta.ci_high < 0})


def plan(manifest: Manifest, protocol: ProtocolConfig, assumptions: Assumptions | None = None,
         tasks: Sequence[str] | None = None) -> Plan:
    """What a run (of ``tasks``, default all) will do: judgment and item counts, and the GPU-hours they take
    (:mod:`harness.estimate`; no model or data is loaded)."""
    from harness.tasks.splits import assign_splits

    names, tasks = chosen_tasks(protocol, tasks), []
    for name in names:
        task = get_task(name)
        n = task.planned_items()
        split = {k: v[:protocol.item_limit] for k, v in assign_splits([str(i) for i in range(n)],
                                                                      task.split_spec).items()}
        audit_n = min(protocol.audit.size, len(split["audit"]))
        cfg = protocol.selfdpo
        prompts = min(cfg.prompts_per_round, len(split["train"]))
        tasks.append(TaskPlan(
            task=name, items=n, audit_items=audit_n, k=protocol.audit.k, students=len(protocol.students),
            audit_judgments=audit_n * protocol.audit.k * len(protocol.students), selfdpo_rounds=cfg.rounds,
            selfdpo_prompts=prompts, k_train=cfg.k, selfdpo_judgments=cfg.rounds * prompts * cfg.k,
            test_items=len(split["test"])))
    return Plan(verifier=manifest.name, protocol=protocol.version, profile=protocol.profile,
                stages=["audit", "selfdpo", "evaluate"], tasks=tasks,
                estimate=estimate(manifest, protocol, tasks, assumptions or Assumptions()))
