"""``ladder worker``: claim a queued submission, run the protocol through an executor, land the result.

The worker holds a lease on the job and extends it from a heartbeat thread. If the worker dies, the lease
expires and another worker claims the job; the protocol resumes from its last finished stage because the
runner keeps one file per finished stage under the data directory (shared by the workers). The result and
the job's final status commit in one transaction, and only while this worker still holds the lease, so a
worker that lost its job (lease expired, cancelled) can never overwrite what another one stored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
import time
import traceback
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from harness import cancel
from harness.executors import Executor, get_executor
from harness.publish import redact
from harness.settings import Settings
from harness.store import queue
from harness.store.db import session_scope
from harness.store.ingest import ResultConflict, ingest
from harness.store.queue import LeaseLost
from harness.submission import ManifestError

logger = logging.getLogger(__name__)


_SALT = secrets.token_bytes(16)


def worker_name() -> str:
    """This worker process's id in the queue: ``worker-`` and 12 hex digits of a salted hash of ``hostname:pid``.

    The submissions table is public and shows which worker ran a job, so the id names no host and no pid (and the
    per-process salt keeps them from being guessed back from it); it is the same on every call in one process, as
    the queue's lease compares it. :func:`run_worker` logs which host and pid an id stands for."""
    digest = hashlib.sha256(_SALT + f"{socket.gethostname()}:{os.getpid()}".encode()).hexdigest()
    return f"worker-{digest[:12]}"


@dataclass
class Heartbeat:
    """Extends the lease every ``lease_seconds / 3``; remembers if the lease was lost (job taken or cancelled)."""

    engine: Engine
    submission_id: int
    worker: str
    lease_seconds: float
    lost: bool = False

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{self.submission_id}")

    def _run(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                queue.heartbeat(self.engine, self.submission_id, self.worker, self.lease_seconds)
            except LeaseLost:
                self.lost = True
                logger.warning("submission %d: lease lost (cancelled or taken over); stopping its work",
                               self.submission_id)
                cancel.cancel(f"submission {self.submission_id}: lease lost (cancelled or taken over)")
                return
            except Exception:  # a database blip: keep trying until the lease runs out
                logger.exception("heartbeat failed")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def process_one(engine: Engine, settings: Settings, executor: Executor, worker: str,
                lease_seconds: float = 300.0) -> int | None:
    """Claim and run one job; returns its id, or None when the queue is empty."""
    job = queue.claim(engine, worker, lease_seconds)
    if job is None:
        return None
    logger.info("submission %d (%s): attempt %d on %s", job.id, job.manifest.get("name"), job.attempts, worker)
    try:
        manifest = _admitted(job.manifest, settings)
    except ManifestError as err:  # written into the queue past the API's checks, or the policy changed since
        reason = "refused: " + "; ".join(f"{f}: {p}" for f, p in err.fields) if err.fields else str(err)
        logger.error("submission %d %s", job.id, reason)
        _finish_failed(engine, job.id, worker, reason)
        return job.id
    with cancel.job_scope(), Heartbeat(engine, job.id, worker, lease_seconds) as beat:
        try:
            outcome = executor.run(manifest, job.protocol, settings)
        except cancel.Cancelled as err:
            logger.warning("submission %d: stopped (%s); nothing stored", job.id, err)
            return job.id
        except Exception as err:  # any failure inside a job is that job's, never the worker's
            reason = redact(f"{type(err).__name__}: {_first_line(err)}", settings)  # public: no host paths
            logger.error("submission %d failed: %s\n%s", job.id, reason, traceback.format_exc())
            _finish_failed(engine, job.id, worker, reason)
            return job.id
    if beat.lost:
        logger.warning("submission %d: result not stored, this worker no longer holds the job", job.id)
        return job.id
    try:
        with session_scope(engine) as session:
            row = queue.owned(session, job.id, worker)
            ingest(session, row, outcome.document, outcome.items)
            row.status = outcome.document_status
            row.failure_reason = outcome.failure
            row.finished_at, row.lease_expires_at = queue.utcnow(), None
    except LeaseLost as err:
        logger.warning("submission %d: %s; result not stored", job.id, err)
    except (ResultConflict, SQLAlchemyError, LookupError, ValueError, TypeError) as err:
        # The transaction rolled back: nothing of this result is stored. Record why instead of dying, so the job
        # does not go round the queue again (a retry would meet the same error).
        reason = f"could not store the result: {type(err).__name__}: {str(err).splitlines()[0][:500]}"
        logger.error("submission %d: %s\n%s", job.id, reason, traceback.format_exc())
        _finish_failed(engine, job.id, worker, reason)
    return job.id


def _first_line(err: BaseException, limit: int = 500) -> str:
    """An exception's message for a public failure reason: its first line, cut (no traceback, no dump)."""
    text = str(err).strip().splitlines()
    return text[0][:limit] if text else ""


def _admitted(manifest: dict, settings: Settings) -> dict:
    """The job's manifest, validated again and held to the operator's policy (:mod:`harness.admission`)."""
    from harness.admission import admit, admitted_path
    from harness.submission import parse_manifest

    parsed = parse_manifest(manifest, "queued manifest")
    admit(parsed, settings, "queued manifest")
    return admitted_path(parsed, settings).model_dump(mode="json")


def _finish_failed(engine: Engine, job_id: int, worker: str, reason: str) -> None:
    try:
        queue.fail(engine, job_id, worker, reason)
    except LeaseLost as err:
        logger.warning("submission %d: %s", job_id, err)


def run_worker(engine: Engine, settings: Settings, executor_name: str = "local", once: bool = False,
               poll_seconds: float = 5.0, lease_seconds: float = 300.0, max_jobs: int | None = None) -> int:
    """Process jobs until the queue is empty (``once``) or forever; returns how many were processed."""
    executor = get_executor(executor_name)
    worker = worker_name()
    logger.info("worker %s is pid %d on %s", worker, os.getpid(), socket.gethostname())
    done = 0
    backoff, failures = 0.0, 0
    while max_jobs is None or done < max_jobs:
        try:
            job_id = process_one(engine, settings, executor, worker, lease_seconds)
        except SQLAlchemyError as err:  # locked or unreachable: wait it out; a claimed job's lease lapses
            failures += 1
            if once and failures > 5:
                raise
            backoff = min(max(2 * backoff, poll_seconds / 4, 0.5), 60.0)
            logger.warning("database unavailable (%s); retrying in %.1f s", _first_line(err, 200), backoff)
            time.sleep(backoff)
            continue
        backoff, failures = 0.0, 0
        if job_id is None:
            if once:
                break
            time.sleep(poll_seconds)
            continue
        done += 1
    return done
