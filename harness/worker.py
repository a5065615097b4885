"""``ladder worker``: claim a queued submission, run the protocol through an executor, land the result.

The worker holds a lease on the job and extends it from a heartbeat thread. If the worker dies, the lease
expires and another worker claims the job; the protocol resumes from its last finished stage because the
runner keeps one file per finished stage under the data directory (shared by the workers). The result and
the job's final status commit in one transaction, and only while this worker still holds the lease, so a
worker that lost its job (lease expired, cancelled) can never overwrite what another one stored.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from harness.executors import Executor, ExecutorError, get_executor
from harness.settings import Settings
from harness.store import queue
from harness.store.db import session_scope
from harness.store.ingest import ResultConflict, ingest
from harness.store.queue import LeaseLost

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
                logger.warning("submission %d: lease lost (cancelled or taken over)", self.submission_id)
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
    with Heartbeat(engine, job.id, worker, lease_seconds) as beat:
        try:
            outcome = executor.run(job.manifest, job.protocol, settings)
        except (ExecutorError, FloatingPointError, ValueError, RuntimeError, OSError) as err:
            reason = f"{type(err).__name__}: {err}"
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
    done = 0
    while max_jobs is None or done < max_jobs:
        job_id = process_one(engine, settings, executor, worker, lease_seconds)
        if job_id is None:
            if once:
                break
            time.sleep(poll_seconds)
            continue
        done += 1
    return done
