"""What every backend that runs its model on this worker's device (``hf``, ``reward_model``) does around a batch.

A batch that runs out of GPU memory is split in half and retried down to single requests; a request that still
fails is recorded with its error, and so is every request of a batch that fails otherwise (a bad image, a model
error): the other batches' judgments survive. The device time counted is the time the device spent on attempts,
each counted once (a split batch's halves are not counted again inside the whole's time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from harness.verifiers.base import JudgeRequest, RawJudgment

logger = logging.getLogger(__name__)


def guarded_batch(backend, batch: list[JudgeRequest], run: Callable[[list[JudgeRequest]], list[RawJudgment]],
                  what: str = "verifier") -> list[RawJudgment]:
    """``run(batch)``, split on out-of-memory and made per-request failures on any other error; adds the time
    spent to ``backend.device_seconds`` (``backend.device`` says whether to synchronise CUDA first)."""
    import torch

    def spent(t0: float) -> None:
        if backend.device == "cuda":
            torch.cuda.synchronize()
        backend.device_seconds += time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        out = run(batch)
    except torch.OutOfMemoryError:
        spent(t0)
        if backend.device == "cuda":
            torch.cuda.empty_cache()
        if len(batch) == 1:
            return [RawJudgment(text=None, error="out of memory on a single request")]
        half = len(batch) // 2
        logger.warning("%s OOM on a batch of %d; splitting", what, len(batch))
        return guarded_batch(backend, batch[:half], run, what) + guarded_batch(backend, batch[half:], run, what)
    except Exception as err:  # a bad image or a model error must not lose the other batches
        spent(t0)
        logger.exception("%s batch of %d failed", what, len(batch))
        return [RawJudgment(text=None, error=f"{type(err).__name__}: {err}"[:300]) for _ in batch]
    spent(t0)
    return out


def in_batches(requests: Sequence[JudgeRequest], size: int,
               judge_batch: Callable[[list[JudgeRequest]], list[RawJudgment]]) -> list[RawJudgment]:
    """``judge_batch`` over ``requests``, ``size`` at a time (the manifest's ``generation.batch_size``), in order."""
    out: list[RawJudgment] = []
    for start in range(0, len(requests), size):
        out.extend(judge_batch(list(requests[start:start + size])))
    return out
