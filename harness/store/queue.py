"""The submission queue: submit, claim with a lease, heartbeat, finish, fail, cancel.

Every state change is one conditional UPDATE that names the state it expects (``WHERE status = ... AND
worker = ...``) and checks that exactly one row changed, so two workers can never both win a job: on
PostgreSQL the candidate row is also picked with ``FOR UPDATE SKIP LOCKED`` (racing workers skip each other's
rows instead of waiting); on SQLite, which has one writer at a time, the conditional UPDATE alone decides.

A worker holds a lease (``lease_expires_at``) that its heartbeats extend. A job whose worker stopped
heartbeating is claimable again once the lease has expired; it resumes from its last finished stage (the
runner's stage files). ``attempts`` counts claims; past ``max_attempts`` an expired job is failed with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from harness.store.db import session_scope
from harness.store.schema import Family, Release, Submission

logger = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """The worker no longer owns the job (its lease expired and another worker took it, or it was cancelled)."""


@dataclass(frozen=True)
class ProtocolKey:
    """The protocol a submission is queued under: the whole configuration travels with the job."""

    version: str
    profile: str
    digest: str
    config: dict

    @classmethod
    def of(cls, protocol) -> ProtocolKey:
        """The key of a protocol configuration (its version, profile, digest and whole configuration)."""
        return cls(version=protocol.version, profile=protocol.profile, digest=protocol.digest(),
                   config=protocol.model_dump(mode="json"))


def _update():
    # No in-Python re-evaluation of the WHERE clause against loaded objects (SQLite returns naive datetimes).
    return update(Submission).execution_options(synchronize_session=False)


def utcnow() -> datetime:
    return datetime.now(UTC)


def model_label(manifest: dict) -> str | None:
    """What the verifier runs, as one string: 'hub_id@revision', a local folder's name (the public releases table
    names no host path), or the endpoint's model name."""
    model, endpoint = manifest.get("model"), manifest.get("endpoint")
    if isinstance(model, dict):
        if model.get("hub_id"):
            return f"{model['hub_id']}@{model.get('revision')}"[:500]
        return str(model.get("path")).rstrip("/").rsplit("/", 1)[-1][:500] or None
    if isinstance(endpoint, dict):
        return f"{endpoint.get('model')} via {endpoint.get('base_url')}"[:500]
    return None


def _release(session, manifest: dict) -> Release:
    """Get or create the manifest's family and release (race-safe: a lost insert race re-reads)."""
    for _ in range(2):
        family = session.scalar(select(Family).where(Family.name == manifest["family"]))
        if family is None:
            try:
                with session.begin_nested():
                    family = Family(name=manifest["family"])
                    session.add(family)
            except IntegrityError:
                continue
        release = session.scalar(select(Release).where(Release.family_id == family.id,
                                                       Release.release == manifest["release"]))
        if release is None:
            try:
                with session.begin_nested():
                    release = Release(family_id=family.id, release=manifest["release"], name=manifest["name"],
                                      backend=manifest["backend"], model=model_label(manifest),
                                      parameters=manifest.get("parameters"),
                                      simulated=manifest["backend"] == "simulated")
                    session.add(release)
            except IntegrityError:
                continue
        return release
    raise RuntimeError(f"could not register release {manifest['family']}/{manifest['release']}")


def submit(engine: Engine, manifest: dict, manifest_hash: str, protocol: ProtocolKey,
           max_attempts: int = 3) -> tuple[Submission, bool]:
    """Queue a validated manifest; returns (submission, created). A duplicate returns the existing one."""
    with session_scope(engine) as session:
        existing = session.scalar(select(Submission).where(Submission.manifest_hash == manifest_hash,
                                                           Submission.protocol_digest == protocol.digest))
        if existing is not None:
            return existing, False
        release = _release(session, manifest)
        sub = Submission(release_id=release.id, manifest=manifest, manifest_hash=manifest_hash,
                         protocol_version=protocol.version, protocol_profile=protocol.profile,
                         protocol_digest=protocol.digest, protocol=protocol.config, status="queued",
                         attempts=0, max_attempts=max_attempts)
        try:
            with session.begin_nested():
                session.add(sub)
        except IntegrityError:  # a concurrent submit of the same manifest won
            existing = session.scalar(select(Submission).where(Submission.manifest_hash == manifest_hash,
                                                               Submission.protocol_digest == protocol.digest))
            return existing, False
        return sub, True


def _claimable(now: datetime):
    expired = and_(Submission.status == "running", Submission.lease_expires_at < now)
    return or_(Submission.status == "queued", expired)


def claim(engine: Engine, worker: str, lease_seconds: float, now: datetime | None = None) -> Submission | None:
    """Take the oldest queued job, or one whose lease expired; None when there is nothing to do."""
    while True:
        now = now or utcnow()
        with session_scope(engine) as session:
            query = select(Submission).where(_claimable(now)).order_by(Submission.created_at, Submission.id).limit(1)
            if engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            job = session.scalar(query)
            if job is None:
                return None
            expected = (Submission.status == job.status, Submission.attempts == job.attempts)
            if job.attempts >= job.max_attempts:
                reason = (f"gave up after {job.attempts} attempts: the worker holding it stopped heartbeating "
                          f"(last worker {job.worker!r})")
                changed = session.execute(_update().where(Submission.id == job.id, *expected).values(
                    status="failed", failure_reason=reason, finished_at=now, lease_expires_at=None)).rowcount
                if changed:
                    logger.warning("submission %d: %s", job.id, reason)
                continue
            changed = session.execute(_update().where(Submission.id == job.id, *expected,
                                                               _claimable(now)).values(
                status="running", worker=worker, attempts=job.attempts + 1, heartbeat_at=now,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                started_at=job.started_at or now)).rowcount
            if changed != 1:
                now = None
                continue  # another worker took it between our read and our write: look again
        with session_scope(engine) as session:
            return session.get(Submission, job.id)


def heartbeat(engine: Engine, submission_id: int, worker: str, lease_seconds: float) -> None:
    """Extend the lease; raises LeaseLost when the job is no longer this worker's (or was cancelled)."""
    now = utcnow()
    with session_scope(engine) as session:
        changed = session.execute(_update().where(
            Submission.id == submission_id, Submission.worker == worker, Submission.status == "running",
        ).values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds))).rowcount
    if changed != 1:
        raise LeaseLost(f"submission {submission_id} is no longer held by {worker}")


def owned(session, submission_id: int, worker: str) -> Submission:
    """The job row locked for this transaction, if this worker still holds it; else LeaseLost."""
    query = select(Submission).where(Submission.id == submission_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    job = session.scalar(query)
    if job is None or job.status != "running" or job.worker != worker:
        raise LeaseLost(f"submission {submission_id} is no longer held by {worker}")
    return job


def fail(engine: Engine, submission_id: int, worker: str, reason: str) -> None:
    """Mark a job failed with its reason (a stage raised, a NaN loss, a bad state): not retried."""
    with session_scope(engine) as session:
        job = owned(session, submission_id, worker)
        job.status, job.failure_reason, job.finished_at, job.lease_expires_at = "failed", reason, utcnow(), None


def cancel(engine: Engine, submission_id: int) -> bool:
    """Cancel a queued or running job; a running worker notices at its next heartbeat. False if already final."""
    with session_scope(engine) as session:
        changed = session.execute(_update().where(
            Submission.id == submission_id, Submission.status.in_(("queued", "running")),
        ).values(status="cancelled", finished_at=utcnow(), lease_expires_at=None)).rowcount
    return changed == 1


def get(engine: Engine, submission_id: int) -> Submission | None:
    with session_scope(engine) as session:
        return session.get(Submission, submission_id)


def listing(engine: Engine, limit: int = 100) -> list[Submission]:
    """The newest ``limit`` submissions, newest first; ``limit=0``: all of them (as the API's ``limit=0``)."""
    with session_scope(engine) as session:
        query = select(Submission).order_by(Submission.id.desc())
        return list(session.scalars(query.limit(limit) if limit else query))


def record(engine: Engine, manifest: dict, manifest_hash: str, protocol: ProtocolKey, document: dict,
           items: dict, worker: str = "in-process") -> Submission:
    """Store a run made outside the queue (``ladder demo``) as a succeeded submission, in one transaction.

    The same run recorded again changes nothing; a submission of this manifest that a worker holds, or that
    already has a different result, is refused (ResultConflict / ValueError), so nothing stored is replaced.
    """
    from harness.store.ingest import ingest, refuse_partial

    refuse_partial(document)  # before a submission is made for it: nothing is queued either
    job, _ = submit(engine, manifest, manifest_hash, protocol)
    with session_scope(engine) as session:
        row = session.get(Submission, job.id)
        if row.status == "running":
            raise ValueError(f"submission {row.id} is being run by {row.worker}; not recording over it")
        changed = ingest(session, row, document, items)
        now = utcnow()
        row.status, row.worker, row.failure_reason = "succeeded", worker, None
        row.attempts = max(row.attempts, 1)
        # finished_at: when its stored result last changed (an audit-only record completed by its run, runs of some
        # tasks added up), which the leaderboard's cache key follows.
        row.started_at, row.lease_expires_at = row.started_at or now, None
        row.finished_at = now if changed or row.finished_at is None else row.finished_at
    with session_scope(engine) as session:
        return session.get(Submission, job.id)
