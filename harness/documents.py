"""The typed documents of a run, in one module that the runner, the executors, the store's ingest and the CLI share:
what a run will do (its :class:`Plan`) and what it did (the result documents, :class:`RunResult` down to one
training seed's :class:`SeedOutcome` and one item's :class:`Prediction`).

A plan is computed without loading a model or a dataset: item counts come from each task's declared size
(:meth:`harness.tasks.Task.planned_items`) and the protocol's split rule.

Pure: pydantic and the pure statistics only (no model, stage, verifier or store), so that whatever reads a stored
document (the store, the worker, the leaderboard) can parse it without the ML stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from harness.audit_metrics import AuditMetrics
from harness.cost import Cost
from harness.metrics import PairedDelta, Proportion
from harness.provenance import Provenance
from harness.seed_stats import SeedDelta

RESULT_SCHEMA_VERSION = "1"  # of an audit document
RUN_SCHEMA_VERSION = "2"  # of a run document

Status = Literal["succeeded", "failed"]


class TaskPlan(BaseModel):
    """One task's share of a run, for one training run of each student (the estimate multiplies by the seeds)."""

    task: str
    items: int = Field(description="Items in the task's protocol split (its declared size).")
    audit_items: int = Field(description="Held-out audit items judged.")
    k: int = Field(description="Candidates per audit item and student.")
    students: int
    audit_judgments: int = Field(description="audit_items x k x students.")
    selfdpo_rounds: int
    selfdpo_prompts: int = Field(description="Train prompts sampled per round.")
    k_train: int = Field(description="Candidates per self-DPO prompt.")
    selfdpo_judgments: int = Field(description="rounds x prompts x k_train, per student and training run.")
    test_items: int = Field(description="Test items each student answers before and after self-DPO.")


class Plan(BaseModel):
    """``ladder run --dry-run``: stages, counts and the GPU-hour estimate (:func:`harness.estimate.estimate`)."""

    verifier: str
    protocol: str = Field(description="Protocol version.")
    profile: str
    stages: list[str]
    tasks: list[TaskPlan]
    estimate: dict[str, Any] = Field(description="GPU-hours and dollars by task, stage and kind of work.")


# Stage 1: the rubric audit (:mod:`harness.stages.audit`).


class VerifierInfo(BaseModel):
    name: str
    family: str
    release: str
    backend: str
    simulated: bool
    parameters: int | None
    manifest_digest: str


class GateVerdict(BaseModel):
    """Rubric accuracy on this student's candidates against its frozen baseline accuracy."""

    student: str
    baseline: Proportion
    rubric_accuracy: Proportion
    verdict: Literal["above", "below"]
    decisive: bool = Field(description="The rubric accuracy's 95% CI excludes the baseline value.")

    @property
    def blocks(self) -> bool:
        return self.verdict == "below"

    def sentence(self) -> str:
        ra, b = self.rubric_accuracy, self.baseline
        word = "ABOVE" if self.verdict == "above" else "BELOW"
        sure = "" if self.decisive else " (not decisive: the CI contains the baseline)"
        action = "self-DPO may run" if self.verdict == "above" else "do NOT run self-DPO with this verifier"
        return (f"{self.student}: rubric accuracy {ra.value:.3f} [{ra.ci_low:.3f}, {ra.ci_high:.3f}] (n={ra.n}) is "
                f"{word} the frozen baseline {b.value:.3f} (n={b.n}){sure}: {action}.")


class StudentAudit(BaseModel):
    student: str
    model: dict
    metrics: AuditMetrics


class AuditResult(BaseModel):
    """The versioned result document of one (verifier, task) audit."""

    schema_version: Literal["1"] = RESULT_SCHEMA_VERSION
    kind: Literal["audit"] = "audit"
    task: str
    verifier: VerifierInfo
    metrics: AuditMetrics = Field(description="Pooled over both students' candidates.")
    students: list[StudentAudit]
    gate: list[GateVerdict]
    cost: Cost
    provenance: Provenance
    verdicts_path: str = Field(description="Per-judgment JSONL artifact.")

    @property
    def blocked(self) -> bool:
        return any(g.blocks for g in self.gate)

    def summary(self) -> dict:
        """The flat document `ladder audit --json` prints."""
        m = self.metrics
        return {
            "task": self.task,
            "verifier": self.verifier.model_dump(),
            "rubric_accuracy": m.rubric_accuracy.value, "ci_low": m.rubric_accuracy.ci_low,
            "ci_high": m.rubric_accuracy.ci_high, "n": m.rubric_accuracy.n,
            "parse_failure_rate": m.parse_failures.value,
            "pair_direction_accuracy": m.pairs_all.direction.value,
            "gated_pair_direction_accuracy": m.pairs_gated.direction.value,
            "margin_weighted_direction_accuracy": m.pairs_gated.margin_weighted,
            "gate": {g.student: {"baseline": g.baseline.value, "baseline_n": g.baseline.n,
                                 "rubric_accuracy": g.rubric_accuracy.value, "verdict": g.verdict,
                                 "decisive": g.decisive} for g in self.gate},
            "blocked": self.blocked,
            "item_limit": self.provenance.item_limit,
            "metrics": m.model_dump(),
            "students": [s.model_dump() for s in self.students],
            "cost": self.cost.model_dump(mode="json"),
            "provenance": self.provenance.model_dump(),
            "verdicts_path": self.verdicts_path,
        }


# Stage 2: self-DPO (:mod:`harness.stages.selfdpo`) and stage 3: the exact-match evaluation
# (:mod:`harness.stages.evaluate`).


class RoundLog(BaseModel):
    """What happened in one round (the per-round diagnostics of the result)."""

    round: int
    prompts: int
    judgments: int
    parse_failures: int
    pairs_formed: int
    pairs_admitted: int
    replayed: int
    direction_all: Proportion = Field(description="Right-direction share of decisive formed pairs.")
    direction_admitted: Proportion = Field(description="Right-direction share of decisive admitted pairs.")
    wrong_admitted: int = Field(description="Admitted pairs whose chosen answer is wrong and rejected right.")
    steps: int
    loss_first: float | None
    loss_last: float | None
    reward_accuracy: float | None = Field(description="TRL's rewards/accuracies, mean over the round's steps.")
    reward_margin: float | None = Field(description="TRL's rewards/margins, mean over the round's steps.")
    probe_accuracy: float | None


class SelfDPOResult(BaseModel):
    student: str
    task: str
    rounds: list[RoundLog]
    loss_curve: list[tuple[int, float]] = Field(description="(global step, DPO loss) for every step.")
    judgments: int
    device_seconds: float

    @property
    def loss_drop(self) -> float | None:
        """Mean loss of the last quarter of the steps minus that of the first quarter (None under 4 steps)."""
        losses = [loss for _, loss in self.loss_curve]
        if len(losses) < 4:
            return None
        q = len(losses) // 4
        return sum(losses[-q:]) / q - sum(losses[:q]) / q

    @property
    def loss_fell(self) -> bool:
        """The training loss decreased over the run: mean of the last quarter below the first quarter."""
        drop = self.loss_drop
        return drop is not None and drop < 0


class Prediction(BaseModel):
    """One item's greedy answer and the scorer's decision."""

    item_id: str
    response: str
    parsed: str | None
    correct: bool
    method: str


class EvalResult(BaseModel):
    predictions: list[Prediction]
    accuracy: Proportion


class SeedOutcome(BaseModel):
    """Stage 2 + 3 for one training seed: a self-DPO run from the frozen student, then its exact-match eval."""

    seed: int
    status: Status
    failure: str | None = None
    post: Proportion | None = None
    delta: PairedDelta | None = Field(default=None, description="This seed alone; its CI covers the items only.")
    selfdpo: SelfDPOResult | None = None
    post_predictions: str | None = Field(default=None, description="Per-item post-DPO eval artifact (JSON).")
    wall_seconds: float = Field(default=0.0, description="Self-DPO + evaluation wall time of this seed.")

    def summary(self) -> dict:
        d = self.delta
        return {"seed": self.seed, "status": self.status, "failure": self.failure,
                "post": self.post.value if self.post else None, "delta": d.delta if d else None,
                "delta_ci_low": d.ci_low if d else None, "delta_ci_high": d.ci_high if d else None,
                "mcnemar_p": d.mcnemar_p if d else None,
                "loss_fell": self.selfdpo.loss_fell if self.selfdpo else None,
                "loss_curve": self.selfdpo.loss_curve if self.selfdpo else [],
                "rounds": [r.model_dump() for r in self.selfdpo.rounds] if self.selfdpo else []}


# The whole protocol run (:mod:`harness.runner`).


class StudentOutcome(BaseModel):
    """Stages 2 + 3 for one student on one task: every training seed, and their seed-mean outcome."""

    student: str
    status: Status
    failure: str | None = None
    baseline: Proportion
    seeds: list[SeedOutcome] = Field(default_factory=list, description="One self-DPO run per training seed.")
    delta: SeedDelta | None = Field(default=None, description="Seed-mean post - baseline; its CI covers the test "
                                    "items and the training seeds. Set only when every seed succeeded.")
    loss_fell: bool | None = Field(default=None, description="The seed-mean DPO loss fell (last quarter of each "
                                   "seed's steps below its first quarter, on average over seeds).")
    silent_regression: bool = Field(default=False, description="The seed-mean DPO loss fell while the seed-mean "
                                    "accuracy fell (its CI over items and seeds entirely below 0).")
    wall_seconds: float = Field(default=0.0, description="Self-DPO + evaluation wall time, all seeds.")
    baseline_predictions: str | None = Field(default=None, description="Per-item baseline eval artifact (JSON).")

    @property
    def post(self) -> float | None:
        """Seed-mean post-DPO accuracy."""
        return self.delta.after if self.delta else None

    def summary(self) -> dict:
        d = self.delta
        return {
            "status": self.status, "failure": self.failure, "baseline": self.baseline.value,
            "n": self.baseline.n, "post": self.post, "seeds": len(self.seeds),
            "delta": d.delta if d else None, "delta_ci_low": d.ci_low if d else None,
            "delta_ci_high": d.ci_high if d else None, "delta_ci_method": d.method if d else None,
            "seed_deltas": d.seed_deltas if d else [s.delta.delta if s.delta else None for s in self.seeds],
            "seed_sd": d.seed_sd if d else None, "loss_fell": self.loss_fell,
            "silent_regression": self.silent_regression, "per_seed": [s.summary() for s in self.seeds],
        }


class TaskOutcome(BaseModel):
    task: str
    audit: AuditResult
    students: list[StudentOutcome]


class RunResult(BaseModel):
    """The versioned result document of a whole protocol run of one submission.

    Schema 2: each student's outcome holds one self-DPO run per training seed and their seed mean."""

    schema_version: Literal["2"] = RUN_SCHEMA_VERSION
    kind: Literal["run"] = "run"
    run_id: str
    protocol_profile: str
    protocol_digest: str
    tasks: list[TaskOutcome]

    @property
    def item_limit(self) -> int | None:
        """N when the run used only the first N items of each split (a partial result, never stored)."""
        return next((t.audit.provenance.item_limit for t in self.tasks), None)

    @property
    def status(self) -> Status:
        return run_status({"tasks": [{"students": [{"status": s.status} for s in t.students]} for t in self.tasks]})

    def summary(self) -> dict:
        return {
            "run_id": self.run_id, "status": self.status, "protocol_profile": self.protocol_profile,
            "item_limit": self.item_limit,
            "tasks": {t.task: {"audit": t.audit.summary(),
                               "students": {s.student: s.summary() for s in t.students}} for t in self.tasks},
        }


def run_status(document: Mapping[str, Any]) -> Status:
    """A run's status from its result document as stored (JSON, of any schema version): succeeded when every
    student of every task succeeded. A document without its tasks or students raises ``KeyError``."""
    ok = all(s["status"] == "succeeded" for t in document["tasks"] for s in t["students"])
    return "succeeded" if ok else "failed"
