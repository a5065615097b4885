"""Training seeds: one self-DPO run of one student from its frozen checkpoint, and the pool that runs many.

The protocol repeats stage 2 (self-DPO) and stage 3 (the post-DPO evaluation) ``selfdpo.seeds`` times per
(verifier, student), each run from the same frozen student with its own seed, because one run's delta mixes the
verifier's effect with its training trajectory. A run is a :class:`SeedJob`; :func:`run_seed` does it and writes
its :class:`SeedOutcome` (and the per-item predictions) atomically, so an interrupted protocol resumes seed by
seed. :class:`SeedRunner` runs a batch of jobs in this process (``jobs=1``, with progress bars per round) or in
a pool of processes (``jobs>1``: a CPU machine trains one tiny student per core). A worker process that dies
fails its seed with the reason instead of the whole run.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress

from harness import cancel
from harness.artifacts import atomic_write_text
from harness.config import ProtocolConfig
from harness.documents import SeedOutcome
from harness.metrics import paired_delta
from harness.settings import Settings
from harness.submission import Manifest

logger = logging.getLogger(__name__)


class SeedJob(BaseModel):
    """Everything one seed's run needs (sent to a worker process as is)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    manifest: Manifest
    protocol: ProtocolConfig
    task: str
    student: str
    seed: int
    data_path: Path | None
    out: Path = Field(description="Where the seed's outcome is written; its predictions go beside it.")
    baseline: list[bool] = Field(description="The frozen student's per-item correctness on the test split.")


def run_seed(job: SeedJob, settings: Settings, progress: Progress | None = None) -> SeedOutcome:
    """One self-DPO run and its evaluation; the outcome is also written to ``job.out``."""
    from harness.models.loading import load_vlm, pick_device
    from harness.stages.common import protocol_splits, submission_rubric
    from harness.stages.evaluate import evaluate
    from harness.stages.selfdpo import self_dpo
    from harness.stages.students import resolve_student
    from harness.tasks import get_task
    from harness.verifiers import make_backend

    t0 = time.perf_counter()
    protocol, manifest = job.protocol, job.manifest
    student = protocol.student(job.student)
    task = get_task(job.task)
    splits = protocol_splits(task, task.items(path=job.data_path), protocol)
    train, test = splits["train"], splits["test"]
    cfg = protocol.selfdpo.model_copy(update={"seed": job.seed})
    device = pick_device()
    model, processor = load_vlm(resolve_student(student, settings.data_dir, protocol.split_seed), device=device,
                                dtype="float32" if device == "cpu" else student.dtype)
    # This attempt's own folder: a worker whose lease lapsed while it still ran must not share (or delete) the
    # folder of the worker that took the job over.
    work_dir = job.out.with_name(f"{job.out.stem}.work-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    failed = SeedOutcome(seed=job.seed, status="failed")
    try:
        with make_backend(manifest) as backend, submission_rubric(manifest, protocol) as render:
            result = self_dpo(model, processor, task, train, train[:cfg.probe_size], backend, render, cfg,
                              student.name, work_dir, progress, protocol.decoding)
    except FloatingPointError as err:
        return _finish(job, failed.model_copy(update={"failure": f"NaN loss: {err}"}), t0)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    if not any(r.pairs_admitted for r in result.rounds):
        return _finish(job, failed.model_copy(update={
            "failure": "no preference pair passed the replay gate in any round", "selfdpo": result}), t0)
    post = evaluate(model, processor, task, test, protocol.eval_config(), progress)
    post_path = job.out.with_suffix(".post.json")
    atomic_write_text(post_path, post.model_dump_json())
    delta = paired_delta(job.baseline, [p.correct for p in post.predictions], seed=job.seed)
    return _finish(job, SeedOutcome(seed=job.seed, status="succeeded", post=post.accuracy, delta=delta,
                                    selfdpo=result, post_predictions=str(post_path)), t0)


def _finish(job: SeedJob, outcome: SeedOutcome, t0: float) -> SeedOutcome:
    outcome = outcome.model_copy(update={"wall_seconds": round(time.perf_counter() - t0, 2)})
    atomic_write_text(job.out, outcome.model_dump_json())
    return outcome


def _result(future: Future) -> SeedOutcome:
    """The future's outcome, waiting in short steps so that a cancelled job stops waiting (its seed processes exit
    on their own: :mod:`harness.parallel`)."""
    from concurrent.futures import TimeoutError as FutureTimeout

    while True:
        cancel.check()
        try:
            return future.result(timeout=0.5)
        except FutureTimeout:
            continue


class SeedRunner:
    """Runs seed jobs in this process (``jobs=1``) or in ``jobs`` worker processes; a context manager that
    shuts its pool down. A job whose outcome file exists is not run again (resume)."""

    def __init__(self, jobs: int = 1) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> SeedRunner:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            from harness.parallel import spawn_pool

            self._pool = spawn_pool(self.jobs)
        return self._pool

    def run(self, jobs: list[SeedJob], settings: Settings, progress: Progress | None = None) -> list[SeedOutcome]:
        """The outcomes of ``jobs``, in their order."""
        done: dict[int, SeedOutcome] = {}
        for i, job in enumerate(jobs):
            if job.out.exists():
                logger.info("%s/%s seed %d: already done, reusing it", job.task, job.student, job.seed)
                done[i] = SeedOutcome.model_validate_json(job.out.read_text())
        todo = [i for i in range(len(jobs)) if i not in done]
        if not todo:
            return [done[i] for i in range(len(jobs))]
        if self.jobs == 1:
            for i in todo:
                done[i] = run_seed(jobs[i], settings, progress)
            return [done[i] for i in range(len(jobs))]
        first = jobs[todo[0]]
        bar = progress.add_task(f"self-DPO {first.student}: {len(todo)} seeds x {self.jobs} processes",
                                total=len(todo)) if progress else None
        futures: dict[int, Future] = {i: self._executor().submit(run_seed, jobs[i], settings) for i in todo}
        for i, future in futures.items():
            try:
                done[i] = _result(future)
            except BrokenProcessPool as err:
                self._pool = None  # a dead worker breaks the pool: the next batch starts a fresh one
                cancel.check()  # its workers exited because the job was cancelled: stop here too
                done[i] = SeedOutcome(seed=jobs[i].seed, status="failed",
                                      failure=f"the worker process running this seed died ({err or 'killed'})")
            if progress is not None:
                progress.advance(bar)
        return [done[i] for i in range(len(jobs))]
