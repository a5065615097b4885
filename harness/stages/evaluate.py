"""Exact-match evaluation: greedy answers from a student, scored by the task's own scorer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from rich.progress import Progress

from harness import cancel
from harness.artifacts import atomic_write_text
from harness.config import EvalConfig
from harness.documents import EvalResult, Prediction
from harness.metrics import proportion
from harness.models.generate import generate
from harness.tasks import Item, Task

logger = logging.getLogger(__name__)


def evaluate(model, processor, task: Task, items: Sequence[Item], config: EvalConfig | None = None,
             progress: Progress | None = None) -> EvalResult:
    """Greedy-decode every item and score it with ``task.score`` on the hub row."""
    config = config or EvalConfig()
    predictions: list[Prediction] = []
    bar = progress.add_task(f"eval {task.name}", total=len(items)) if progress else None
    for start in range(0, len(items), config.batch_size):
        cancel.check()
        batch = items[start:start + config.batch_size]
        outs = generate(model, processor, [(it.images, it.prompt) for it in batch],
                        max_new_tokens=config.max_new_tokens, decoding=config.decoding)
        for it, (response,) in zip(batch, outs, strict=True):
            s = task.score_item(response, it)
            predictions.append(Prediction(item_id=it.id, response=response, correct=s.correct, method=s.method,
                                          parsed=None if s.parsed is None else str(s.parsed)))
        if progress is not None:
            progress.advance(bar, len(batch))
    k = sum(p.correct for p in predictions)
    return EvalResult(predictions=predictions, accuracy=proportion(k, len(predictions)))


def load_or_evaluate(path: Path, model_loader, task: Task, items: Sequence[Item], config: EvalConfig | None = None,
                     progress: Progress | None = None) -> EvalResult:
    """The cached evaluation at ``path`` when it covers ``items``; otherwise evaluate and cache it.

    Used for the frozen baseline of a (student, revision, task, protocol): computed once, reused
    by every submission. ``model_loader()`` is only called on a cache miss.
    """
    if path.exists():
        cached = EvalResult.model_validate_json(path.read_text())
        if [p.item_id for p in cached.predictions] == [it.id for it in items]:
            return cached
        logger.warning("baseline cache %s does not match the items; re-evaluating", path.name)
    model, processor = model_loader()
    result = evaluate(model, processor, task, items, config, progress)
    atomic_write_text(path, result.model_dump_json())
    return result
