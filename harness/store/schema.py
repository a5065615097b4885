"""The results database: SQLAlchemy 2.x tables. Rows derive from the versioned result documents.

Unique constraints make every write idempotent (re-ingesting a result changes nothing), and a result
is written in one transaction (see :mod:`harness.store.ingest`). The store knows no ML: it takes the
JSON documents the harness writes and never imports a model or a task.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON, list: JSON}


class Family(Base):
    """A verifier family (e.g. 'qwen3-vl-8b-judge'); its releases are versions of one verifier."""

    __tablename__ = "families"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    releases: Mapped[list[Release]] = relationship(back_populates="family")


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("family_id", "release", name="uq_release_family_release"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("families.id"))
    release: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    backend: Mapped[str] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(500))
    parameters: Mapped[int | None] = mapped_column(BigInteger)  # a 7B verifier overflows a 32-bit INTEGER
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    family: Mapped[Family] = relationship(back_populates="releases")


class Submission(Base):
    """One manifest queued under one protocol; the unit a worker claims."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("manifest_hash", "protocol_digest", name="uq_submission_manifest_protocol"),
                      Index("ix_submissions_status_created", "status", "created_at"),
                      Index("ix_submissions_profile_status_release", "protocol_profile", "status", "release_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    manifest: Mapped[dict] = mapped_column(JSON)
    manifest_hash: Mapped[str] = mapped_column(String(64))
    protocol_version: Mapped[str] = mapped_column(String(20))
    protocol_profile: Mapped[str] = mapped_column(String(100))
    protocol_digest: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release: Mapped[Release] = relationship()


class RunDocument(Base):
    """The whole versioned result document of a submission (what every other result row derives from)."""

    __tablename__ = "run_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    schema_version: Mapped[str] = mapped_column(String(10))
    run_id: Mapped[str] = mapped_column(String(100))
    document: Mapped[dict] = mapped_column(JSON)
    document_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditRow(Base):
    __tablename__ = "audit_results"
    __table_args__ = (UniqueConstraint("submission_id", "task", name="uq_audit_submission_task"),
                      Index("ix_audit_results_task", "task", "submission_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    task: Mapped[str] = mapped_column(String(100))
    rubric_accuracy: Mapped[float] = mapped_column(Float)
    ci_low: Mapped[float] = mapped_column(Float)
    ci_high: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    parse_failure_rate: Mapped[float] = mapped_column(Float)
    gated_direction: Mapped[float | None] = mapped_column(Float)
    blocked: Mapped[bool] = mapped_column(Boolean)
    gate: Mapped[dict] = mapped_column(JSON)
    metrics: Mapped[dict] = mapped_column(JSON)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    gpu_hours_per_1k: Mapped[float | None] = mapped_column(Float)
    usd_per_1k: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[dict] = mapped_column(JSON)
    provenance: Mapped[dict] = mapped_column(JSON)


class StudentRow(Base):
    __tablename__ = "student_results"
    __table_args__ = (UniqueConstraint("submission_id", "task", "student", name="uq_student_submission_task"),
                      Index("ix_student_results_task", "task", "submission_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    task: Mapped[str] = mapped_column(String(100))
    student: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    failure: Mapped[str | None] = mapped_column(Text)
    n: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    post: Mapped[float | None] = mapped_column(Float)
    delta: Mapped[float | None] = mapped_column(Float)
    delta_ci_low: Mapped[float | None] = mapped_column(Float)
    delta_ci_high: Mapped[float | None] = mapped_column(Float)
    mcnemar_p: Mapped[float | None] = mapped_column(Float)  # one training run only (schema-1 results); else null
    silent_regression: Mapped[bool] = mapped_column(Boolean, default=False)
    rounds: Mapped[list] = mapped_column(JSON)  # the first seed's round logs (every seed's: student_seed_results)
    # Training seeds behind post/delta (seed means; the CI covers items and seeds); 1 for schema-1 results.
    seeds: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    seed_sd: Mapped[float | None] = mapped_column(Float)
    seed_deltas: Mapped[list | None] = mapped_column(JSON)
    loss_fell: Mapped[bool | None] = mapped_column(Boolean)


class SeedRow(Base):
    """One training seed's self-DPO run of a student: its post-DPO accuracy and delta (CI over items only)."""

    __tablename__ = "student_seed_results"
    __table_args__ = (UniqueConstraint("submission_id", "task", "student", "seed", name="uq_student_seed"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    task: Mapped[str] = mapped_column(String(100))
    student: Mapped[str] = mapped_column(String(200))
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    failure: Mapped[str | None] = mapped_column(Text)
    post: Mapped[float | None] = mapped_column(Float)
    delta: Mapped[float | None] = mapped_column(Float)
    delta_ci_low: Mapped[float | None] = mapped_column(Float)
    delta_ci_high: Mapped[float | None] = mapped_column(Float)
    mcnemar_p: Mapped[float | None] = mapped_column(Float)
    loss_fell: Mapped[bool | None] = mapped_column(Boolean)
    rounds: Mapped[list] = mapped_column(JSON)


class TrainingPoint(Base):
    __tablename__ = "training_curves"
    __table_args__ = (UniqueConstraint("submission_id", "task", "student", "seed", "step", name="uq_curve_point"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    task: Mapped[str] = mapped_column(String(100))
    student: Mapped[str] = mapped_column(String(200))
    seed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    step: Mapped[int] = mapped_column(Integer)
    loss: Mapped[float] = mapped_column(Float)


class VerdictRow(Base):
    """One audit judgment: a student's candidate, the verifier's score and the exact-match truth."""

    __tablename__ = "audit_verdicts"
    __table_args__ = (UniqueConstraint("submission_id", "task", "student", "item_id", "candidate",
                                       name="uq_verdict"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    task: Mapped[str] = mapped_column(String(100))
    student: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[str] = mapped_column(String(300))
    candidate: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    truth: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[bool | None] = mapped_column(Boolean)
    agrees: Mapped[bool] = mapped_column(Boolean)
    raw: Mapped[str | None] = mapped_column(Text)
    parse_error: Mapped[str | None] = mapped_column(Text)


class PredictionRow(Base):
    """One exact-match eval answer of a student, before ('baseline') or after ('post') self-DPO."""

    __tablename__ = "eval_predictions"
    __table_args__ = (UniqueConstraint("submission_id", "task", "student", "phase", "seed", "item_id",
                                       name="uq_prediction"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    task: Mapped[str] = mapped_column(String(100))
    student: Mapped[str] = mapped_column(String(200))
    phase: Mapped[str] = mapped_column(String(10))
    # The training seed of a post-DPO answer; 0 for baseline answers (the frozen student, evaluated once).
    seed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    item_id: Mapped[str] = mapped_column(String(300))
    response: Mapped[str] = mapped_column(Text)
    parsed: Mapped[str | None] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean)


class ApiToken(Base):
    """A bearer token allowed to write (queue submissions). Only its sha256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
