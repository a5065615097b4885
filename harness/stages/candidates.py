"""Frozen-student candidates for the audit, sampled once and cached.

Every verifier must be judged on identical candidates, so the K sampled answers per audit
item are keyed by (student, its revision, task, split, protocol digest) and written once to
``<data_dir>/artifacts/candidates/<key>.jsonl``. Each candidate carries the task scorer's
decision (the truth the verifier is measured against).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel
from rich.progress import Progress

from harness import cancel
from harness.artifacts import cache_key, read_jsonl, write_jsonl
from harness.config import AuditConfig, DecodingConfig
from harness.models.generate import generate_batch
from harness.tasks import Item, Task

logger = logging.getLogger(__name__)


class Candidate(BaseModel):
    item_id: str
    index: int
    response: str
    truth: bool
    parsed: str | None


def candidates_path(root: Path, student: dict, task: str, split: str, protocol_digest: str) -> Path:
    key = cache_key(student=student, task=task, split=split, protocol=protocol_digest)
    return root / "candidates" / f"{task}-{split}-{key}.jsonl"


def sample_candidates(model, processor, task: Task, items: Sequence[Item], cfg: AuditConfig,
                      progress: Progress | None = None, decoding: DecodingConfig | None = None
                      ) -> list[list[Candidate]]:
    """K sampled answers per item, scored by the task. Batch i is seeded with ``cfg.seed + i``."""
    out: list[list[Candidate]] = []
    bar = progress.add_task(f"candidates {task.name}", total=len(items)) if progress else None
    for b, start in enumerate(range(0, len(items), cfg.batch_size)):
        cancel.check()
        batch = items[start:start + cfg.batch_size]
        gens = generate_batch(model, processor, [(it.images, it.prompt) for it in batch],
                              max_new_tokens=cfg.max_new_tokens, do_sample=True, temperature=cfg.temperature,
                              top_p=cfg.top_p, num_return_sequences=cfg.k, seed=cfg.seed + b, decoding=decoding)
        for it, responses in zip(batch, gens.texts, strict=True):
            row = []
            for k, resp in enumerate(responses):
                s = task.score_item(resp, it)
                row.append(Candidate(item_id=it.id, index=k, response=resp, truth=s.correct,
                                     parsed=None if s.parsed is None else str(s.parsed)))
            out.append(row)
        if progress is not None:
            progress.advance(bar, len(batch))
    return out


def load_or_sample(path: Path, model_loader, task: Task, items: Sequence[Item], cfg: AuditConfig,
                   progress: Progress | None = None, decoding: DecodingConfig | None = None) -> list[list[Candidate]]:
    """Cached candidates at ``path`` if present (and complete for ``items``), else sample and cache.

    ``model_loader()`` returns ``(model, processor)``; it is only called on a cache miss.
    """
    wanted = [it.id for it in items]
    if path.exists():
        rows = [Candidate.model_validate(r) for r in read_jsonl(path)]
        by_item: dict[str, list[Candidate]] = {}
        for c in rows:
            by_item.setdefault(c.item_id, []).append(c)
        if all(len(by_item.get(i, [])) == cfg.k for i in wanted):
            logger.info("reusing %d cached candidates from %s", len(rows), path.name)
            return [sorted(by_item[i], key=lambda c: c.index) for i in wanted]
        logger.warning("candidate cache %s does not cover the audit items; resampling", path.name)
    model, processor = model_loader()
    cands = sample_candidates(model, processor, task, items, cfg, progress, decoding)
    write_jsonl(path, (c.model_dump() for row in cands for c in row))
    return cands
