"""What the leaderboard shows and serves, as pydantic models: the JSON API's schemas and the templates' input.

Everything here is read from the store's rows; nothing is computed from a model. User-controlled strings
(verifier names, families, releases, notes) pass through unchanged: templates autoescape them, CSV and JSON
encode them, plots draw them as paths.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from fastapi import Query
from pydantic import AfterValidator, BaseModel, Field

# Request parameters bounded to what the store can hold (ids are 32-bit in PostgreSQL): a larger number is a 422,
# not an overflow deep in the database driver.
MAX_ID = 2**31 - 1
SubmissionId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="A submission id.")]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
Page = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]


def utc(value: datetime | None) -> datetime | None:
    """The store's times are UTC; SQLite hands them back without a zone, PostgreSQL in its session's zone: served
    as timezone-aware ISO 8601 (``...Z``) either way, so a client never has to guess."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(utc)]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the bad field or parameter ('(body)' for the whole body).")
    message: str


class Problem(BaseModel):
    """The one error body of the API, whatever the status (400, 401, 404, 413, 415, 422, 500)."""

    detail: str = Field(description="What went wrong, in one sentence.")
    errors: list[FieldError] = Field(default_factory=list, description="One entry per invalid field or parameter "
                                     "(422); empty otherwise.")


class StudentCell(BaseModel):
    """One student's outcome under one verifier on one task: the mean of its training seeds (each seed a self-DPO
    run from the same frozen student), with a CI that covers the test items and the training seeds."""

    student: str
    status: str
    gate: Literal["above", "below"] | None = Field(description="Rubric accuracy vs this student's frozen baseline.")
    baseline: float | None = Field(description="The student's frozen exact-match accuracy (test split).")
    gate_baseline: float | None = Field(description="The baseline the gate compared with (audit candidates).")
    n: int = Field(description="Test items behind baseline, post and delta (each seed is evaluated on all of them).")
    post: float | None = Field(description="Post-DPO exact-match accuracy (test split), mean over training seeds.")
    delta: float | None = Field(description="Post - baseline exact-match accuracy (test split), mean over training "
                                            "seeds.")
    delta_ci_low: float | None = Field(description="95% CI of delta, lower end: a crossed random-effects t interval "
                                                   "covering the test items AND the training seeds (items only when "
                                                   "seeds = 1).")
    delta_ci_high: float | None = Field(description="95% CI of delta, upper end: a crossed random-effects t interval "
                                                    "covering the test items AND the training seeds (items only when "
                                                    "seeds = 1).")
    mcnemar_p: float | None = Field(description="Exact McNemar p of a single training run (results with one seed "
                                                "only); null when delta is a mean over seeds.")
    seeds: int = Field(default=1, description="Training seeds behind post and delta (self-DPO runs from the same "
                                              "frozen student); 1 for results measured before training seeds.")
    seed_sd: float | None = Field(default=None, description="Sample SD (ddof=1) of the per-seed deltas: the "
                                                            "spread from training alone; null with one seed.")
    seed_deltas: list[float | None] = Field(default_factory=list, description=(
        "Each training seed's post - baseline, in seed order (their mean is delta; each alone has an item-only "
        "CI, see the submission's seed results). One entry for a single-seed result; empty when a seed failed "
        "(the student then has no seed mean)."))
    loss_fell: bool | None = Field(default=None, description="The seed-mean DPO loss fell (null: not recorded).")
    silent_regression: bool = Field(description="DPO loss fell while accuracy fell with its CI (items and seeds) "
                                                "below 0.")


class LeaderboardRow(BaseModel):
    """One verifier release on one task: its newest succeeded submission under the profile."""

    rank: int = Field(description="1 = best: rubric accuracy descending, ties broken by cost ascending.")
    submission_id: int
    name: str
    family: str
    release: str
    backend: str
    kind: str = Field(default="generative", description="generative (its answer is parsed for a score), logprob "
                      "(P(yes) / (P(yes) + P(no)) of its first token), reward (a reward model's scalar reward, mapped "
                      "to a score by its manifest's declared logistic) or simulated.")
    model: str | None
    parameters: int | None
    simulated: bool
    protocol_version: str
    protocol_digest: str
    rubric_accuracy: float
    ci_low: float
    ci_high: float
    n: int = Field(description="Audit judgments behind the rubric accuracy.")
    parse_failure_rate: float
    gated_direction: float | None = Field(description="Right-direction share of replay-gated audit pairs.")
    auroc: float | None = Field(default=None, description="AUROC of the audit's scores against exact match: the "
                                "chance a right candidate outscores a wrong one (threshold-free; None when every "
                                "candidate was right, or every one wrong).")
    cost_kind: str | None
    usd_per_1k: float | None = Field(description="Dollars per 1,000 judgments (None: not priced on this hardware).")
    gpu_hours_per_1k: float | None
    pareto: bool | None = Field(description="No other priced verifier is at least as accurate and as cheap, "
                                            "and better in one; None when this one is not priced.")
    students: list[StudentCell]
    silent_regression: bool = Field(description="Any student regressed silently.")
    audit_only: bool = Field(default=False, description="Only the rubric audit was run (`ladder audit`): ranked like "
                             "any other, the students' gate verdicts known, their self-DPO not run.")
    finished_at: UtcTime | None

    def student(self, name: str) -> StudentCell | None:
        return next((s for s in self.students if s.student == name), None)


class Leaderboard(BaseModel):
    profile: str
    task: str
    students: list[str]
    total: int = Field(description="Rows matching the filters (before paging).")
    items: list[LeaderboardRow]


class CompactLeaderboard(BaseModel):
    """The leaderboard as a table: one array per row, in the order of ``columns`` (the CSV download's)."""

    profile: str
    task: str
    students: list[str]
    total: int = Field(description="Rows matching the filters.")
    columns: list[str]
    items: list[list[Any]] = Field(description="One array per row, values in the order of `columns`.")


class SubmissionSummary(BaseModel):
    id: int
    name: str
    family: str
    release: str
    backend: str
    status: str
    protocol_profile: str
    protocol_version: str
    attempts: int
    max_attempts: int
    worker: str | None
    failure_reason: str | None
    created_at: UtcTime | None
    started_at: UtcTime | None
    finished_at: UtcTime | None


class TaskAudit(BaseModel):
    task: str
    rubric_accuracy: float
    ci_low: float
    ci_high: float
    n: int
    metrics: dict[str, Any]
    gate: dict[str, Any]
    cost: dict[str, Any]
    provenance: dict[str, Any]


class SeedResult(BaseModel):
    """One training seed's self-DPO run of a student (stage 2 + its post-DPO evaluation)."""

    seed: int
    status: str
    failure: str | None
    post: float | None = Field(description="This seed's post-DPO exact-match accuracy (test split).")
    delta: float | None = Field(description="This seed's post - baseline exact-match accuracy.")
    delta_ci_low: float | None = Field(description="95% paired bootstrap CI of this seed's delta, over the test "
                                                   "items only (one training run).")
    delta_ci_high: float | None = Field(description="Upper end of this seed's item-only 95% CI.")
    mcnemar_p: float | None = Field(description="Exact McNemar p of this run against the baseline.")
    loss_fell: bool | None = Field(description="This run's DPO loss fell (last quarter of steps below the first).")
    rounds: list[dict[str, Any]] = Field(description="This run's per-round diagnostics.")


class StudentDetail(StudentCell):
    rounds: list[dict[str, Any]] = Field(description="The first training seed's per-round diagnostics (every "
                                                     "seed's: seed_results).")
    failure: str | None
    seed_results: list[SeedResult] = Field(default_factory=list, description="One entry per training seed, in "
                                           "seed order.")


class ReleaseHistoryEntry(BaseModel):
    submission_id: int
    release: str
    finished_at: UtcTime | None
    rubric: dict[str, float] = Field(description="Task -> rubric accuracy.")
    regressed: dict[str, bool] = Field(description="Task -> rubric agreement significantly below the previous "
                                                   "release's on that task: all-K judgments, clustered McNemar test "
                                                   "with items as clusters, one-sided p (B lower) < 0.05. This is "
                                                   "the task's rubric test alone, one test, so uncorrected; `ladder "
                                                   "compare` gates on every task's rubric and student tests "
                                                   "together, Holm-corrected to a family-wise 0.05.")
    previous_id: int | None


class SubmissionDetail(BaseModel):
    submission: SubmissionSummary
    manifest: dict[str, Any]
    protocol_digest: str
    audits: list[TaskAudit]
    students: dict[str, list[StudentDetail]] = Field(description="Task -> per-student outcomes.")
    history: list[ReleaseHistoryEntry]
