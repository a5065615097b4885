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

The settled student must also not over-use a letter (no share above ``max_answer_share``); a warm-up that ends
out of the band or unbalanced is tried again from the next seed (:func:`harness.stages.students` keeps the first
accepted attempt). Every letter is right for about a quarter of the items, so a student that says one letter 37%
of the time gains accuracy from any update that spreads its answers: measured here, a confident-wrong verifier
improved such a student by 8 points. A balanced student gains only from better answers to what it sees.

With ``confusion`` > 0 (the demo's students) a share of the pool is labelled with the option after the answer
(:func:`confused`): the student learns to hesitate between each item's answer and one fixed neighbour, so that a
preference pair is nearly always "answer vs neighbour" and the verifier decides which one self-DPO teaches.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import torch
from pydantic import BaseModel, Field

from harness.config import WarmupConfig
from harness.models.generate import user_message
from harness.tasks import Item, Task

logger = logging.getLogger(__name__)


class WarmupReport(BaseModel):
    steps: int
    probe_accuracy: float
    in_band: bool
    history: list[tuple[int, float]]
    answer_shares: dict[str, float] = Field(default_factory=dict, description="Probe answers per letter, at the end.")
    seed: int = Field(default=0, description="The warm-up seed of this (the kept) attempt.")
    attempts: int = Field(default=1, description="Warm-ups tried until this one was kept.")

    def accepted(self, config: WarmupConfig) -> bool:
        """In the band and balanced: every letter's share within [min_answer_share, max_answer_share]."""
        shares = self.answer_shares.values()
        return self.in_band and bool(shares) and (config.min_answer_share <= min(shares)
                                                  and max(shares) <= config.max_answer_share)


def _batch_inputs(processor, items: Sequence[Item]):
    """The whole conversation as the chat template renders it; labels mask everything but the assistant's
    turn (the answer letter, ``<|im_end|>`` and the newline the template puts after it). The completion is
    exactly what TRL's DPO trains on (``apply_chat_template`` of the assistant message): a token the warm-up
    never taught (the trailing newline) would put most of self-DPO's SFT gradient on that content-free token."""
    prompts = [processor.apply_chat_template(user_message(it.images, it.prompt), add_generation_prompt=True,
                                             tokenize=False) for it in items]
    full = [processor.apply_chat_template(user_message(it.images, it.prompt) + [
        {"role": "assistant", "content": [{"type": "text", "text": it.answer}]}], tokenize=False) for it in items]
    if not all(f.startswith(p) for f, p in zip(full, prompts, strict=True)):
        raise ValueError("the chat template renders the prompt differently with and without the answer")
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
    """Train ``model`` in place until its probe accuracy enters the band (or max_steps), then settle it.

    At the warm-up's constant learning rate the student is still moving fast when it first enters the band
    (measured here: its greedy answer shares swung by up to 40 points between two checks ten steps apart), so
    stopping there would hand self-DPO a student on a knife edge, whose accuracy any update moves, whatever the
    preference. The settle phase continues on the same data for ``settle_steps`` steps while the learning rate
    decays linearly to zero, so the student ends where the optimiser comes to rest.
    """
    from harness.config import EvalConfig
    from harness.stages.evaluate import evaluate

    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    probe, pool = list(train[:config.probe_size]), list(train[config.probe_size:])
    if config.pool_size is not None:
        pool = pool[:config.pool_size]
    pool = confused(pool, config.confusion, config.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
    history: list[tuple[int, float]] = []

    def check(step: int, loss: float) -> tuple[float, dict[str, float]]:
        model.eval()
        result = evaluate(model, processor, task, probe, EvalConfig(max_new_tokens=4))
        acc, shares = result.accuracy.value, answer_shares(result.predictions, probe)
        history.append((step, acc))
        logger.info("warm-up step %d: loss %.3f, probe accuracy %.3f, answers %s", step, loss, acc, shares)
        return acc, shares

    def draw() -> list[Item]:
        return rng.sample(pool, min(config.batch_size, len(pool)))

    step = 0
    for step in range(1, config.max_steps + 1):
        loss = _train_step(model, processor, draw(), opt, step)
        if step % config.check_every == 0:
            acc, shares = check(step, loss)
            if acc >= config.target_low and min(shares.values(), default=1.0) >= config.min_answer_share:
                break
    for i in range(config.settle_steps):
        for group in opt.param_groups:
            group["lr"] = config.lr * (1 - (i + 1) / (config.settle_steps + 1))
        loss = _train_step(model, processor, draw(), opt, step + i + 1)
    acc, shares = check(step + config.settle_steps, loss)
    model.eval()
    return WarmupReport(steps=step + config.settle_steps, probe_accuracy=acc,
                        in_band=config.target_low <= acc <= config.target_high, history=history,
                        answer_shares=shares, seed=config.seed)


def confused(items: Sequence[Item], share: float, seed: int) -> list[Item]:
    """``items`` with the answer of a ``share`` of them (drawn by ``seed``) replaced by the next option letter, the
    last wrapping to the first (on ``shapes``: one more shape than drawn, four read as one), so every letter stays
    the label of about a quarter of the items."""
    rng = random.Random(f"confusion:{seed}")
    out = []
    for it in items:
        if it.answer in it.letters and rng.random() < share:
            letters = it.letters
            it = it.model_copy(update={"answer": letters[(letters.index(it.answer) + 1) % len(letters)]})
        out.append(it)
    return out


def _train_step(model, processor, batch: Sequence[Item], opt, step: int) -> float:
    model.train()
    loss = model(**_batch_inputs(processor, batch)).loss
    if not torch.isfinite(loss):
        raise FloatingPointError(f"warm-up loss is {loss.item()} at step {step}")
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


def answer_shares(predictions, items: Sequence[Item]) -> dict[str, float]:
    """Share of greedy answers parsed as each option letter of the (multiple-choice) probe items."""
    letters = sorted({letter for it in items for letter in it.letters})
    n = len(predictions) or 1
    return {letter: round(sum(p.parsed == letter for p in predictions) / n, 3) for letter in letters}
