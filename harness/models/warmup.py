"""Warm up a tiny student on a task's train split to a middling accuracy (the demo's students).

Self-DPO can only move a student that sometimes answers right and sometimes wrong: a random
tiny model never emits an answer letter, a fully trained one has nothing left to learn. The
demo therefore trains each tiny student with plain supervised steps (cross-entropy on the
answer letter only) and stops on a step-count check of its greedy accuracy on a probe set,
as soon as it enters ``[target_low, target_high]`` (never on wall time, which varies here) *and* every
option letter makes up at least ``min_answer_share`` of its probe answers. The second condition matters:
measured here, a tiny Qwen2.5-VL student first reaches ~0.55 by answering only A, B or D ("few" vs "many"
shapes); self-DPO on such a degenerate student mostly shifts one decision boundary back and forth, and
with a 0.97-direction verifier its accuracy still moved -11 to +11 points from seed to seed. A student
that uses every answer (~0.6 at ~425 steps) responds to the verifier's preferences instead.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import torch
from pydantic import BaseModel, Field

from harness.models.generate import user_message
from harness.models.warmup_config import WarmupConfig  # noqa: F401  (re-exported)
from harness.tasks import Item, Task

logger = logging.getLogger(__name__)


class WarmupReport(BaseModel):
    steps: int
    probe_accuracy: float
    in_band: bool
    history: list[tuple[int, float]]
    answer_shares: dict[str, float] = Field(default_factory=dict, description="Probe answers per letter, at the end.")


def _batch_inputs(processor, items: Sequence[Item]):
    """Prompt + answer letter; labels mask everything but the answer tokens and the end token."""
    prompts = [processor.apply_chat_template(user_message(it.images, it.prompt), add_generation_prompt=True,
                                             tokenize=False) for it in items]
    full = [p + it.answer + "<|im_end|>" for p, it in zip(prompts, items, strict=True)]
    processor.tokenizer.padding_side = "right"
    try:
        enc = processor(text=full, images=[it.images for it in items], return_tensors="pt", padding=True)
        prompt_lens = [len(x) for x in processor(text=prompts, images=[it.images for it in items])["input_ids"]]
    finally:
        processor.tokenizer.padding_side = "left"
    labels = enc["input_ids"].clone()
    for row, n in enumerate(prompt_lens):
        labels[row, :n] = -100
    labels[enc["attention_mask"] == 0] = -100
    enc["labels"] = labels
    return enc


def warmup(model, processor, task: Task, train: Sequence[Item], config: WarmupConfig) -> WarmupReport:
    """Train ``model`` in place until its probe accuracy enters the band (or max_steps)."""
    from harness.stages.evaluate import EvalConfig, evaluate

    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    probe, pool = list(train[:config.probe_size]), list(train[config.probe_size:])
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
    history: list[tuple[int, float]] = []
    acc, shares = 0.0, {}
    for step in range(1, config.max_steps + 1):
        model.train()
        batch = rng.sample(pool, min(config.batch_size, len(pool)))
        loss = model(**_batch_inputs(processor, batch)).loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"warm-up loss is {loss.item()} at step {step}")
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step % config.check_every == 0:
            model.eval()
            result = evaluate(model, processor, task, probe, EvalConfig(max_new_tokens=4))
            acc, shares = result.accuracy.value, answer_shares(result.predictions, probe)
            history.append((step, acc))
            logger.info("warm-up step %d: loss %.3f, probe accuracy %.3f, answers %s", step, loss.item(), acc, shares)
            if acc >= config.target_low and min(shares.values(), default=1.0) >= config.min_answer_share:
                break
    model.eval()
    return WarmupReport(steps=step, probe_accuracy=acc, in_band=config.target_low <= acc <= config.target_high,
                        history=history, answer_shares=shares)


def answer_shares(predictions, items: Sequence[Item]) -> dict[str, float]:
    """Share of greedy answers parsed as each option letter of the (multiple-choice) probe items."""
    letters = sorted({letter for it in items for letter in it.letters})
    n = len(predictions) or 1
    return {letter: round(sum(p.parsed == letter for p in predictions) / n, 3) for letter in letters}
