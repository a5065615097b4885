"""What the leaderboard shows and serves, as pydantic models: the JSON API's schemas and the templates' input.

Everything here is read from the store's rows; nothing is computed from a model. User-controlled strings
(verifier names, families, releases, notes) pass through unchanged: templates autoescape them, CSV and JSON
encode them, plots draw them as paths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from fastapi import Query
from pydantic import BaseModel, Field

# Request parameters bounded to what the store can hold (ids are 32-bit in PostgreSQL): a larger number is a 422,
# not an overflow deep in the database driver.
MAX_ID = 2**31 - 1
SubmissionId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="A submission id.")]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
Page = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]


class StudentCell(BaseModel):
    """One student's outcome under one verifier on one task."""

    student: str
    status: str
    gate: Literal["above", "below"] | None = Field(description="Rubric accuracy vs this student's frozen baseline.")
    baseline: float | None = Field(description="The student's frozen exact-match accuracy (test split).")
    gate_baseline: float | None = Field(description="The baseline the gate compared with (audit candidates).")
    n: int
    post: float | None
    delta: float | None = Field(description="Post - baseline exact-match accuracy (test split).")
    delta_ci_low: float | None
    delta_ci_high: float | None
    mcnemar_p: float | None
    silent_regression: bool = Field(description="DPO loss fell while accuracy fell with its CI below 0.")


class LeaderboardRow(BaseModel):
    """One verifier release on one task: its newest succeeded submission under the profile."""

    rank: int = Field(description="1 = best: rubric accuracy descending, ties broken by cost ascending.")
    submission_id: int
    name: str
    family: str
    release: str
    backend: str
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
    cost_kind: str | None
    usd_per_1k: float | None = Field(description="Dollars per 1,000 judgments (None: not priced on this hardware).")
    gpu_hours_per_1k: float | None
    pareto: bool | None = Field(description="No other priced verifier is at least as accurate and as cheap, "
                                            "and better in one; None when this one is not priced.")
    students: list[StudentCell]
    silent_regression: bool = Field(description="Any student regressed silently.")
    finished_at: datetime | None

    def student(self, name: str) -> StudentCell | None:
        return next((s for s in self.students if s.student == name), None)


class Leaderboard(BaseModel):
    profile: str
    task: str
    students: list[str]
    total: int = Field(description="Rows matching the filters (before paging).")
    rows: list[LeaderboardRow]


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
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


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


class StudentDetail(StudentCell):
    rounds: list[dict[str, Any]]
    failure: str | None


class ReleaseHistoryEntry(BaseModel):
    submission_id: int
    release: str
    finished_at: datetime | None
    rubric: dict[str, float] = Field(description="Task -> rubric accuracy.")
    regressed: dict[str, bool] = Field(description="Task -> rubric accuracy significantly below the previous "
                                                   "release's (exact McNemar on shared judgments, p < 0.05).")
    previous_id: int | None


class SubmissionDetail(BaseModel):
    submission: SubmissionSummary
    manifest: dict[str, Any]
    protocol_digest: str
    audits: list[TaskAudit]
    students: dict[str, list[StudentDetail]] = Field(description="Task -> per-student outcomes.")
    history: list[ReleaseHistoryEntry]
