"""Stage 2, verifier-driven self-DPO with progress-gated replay, on one student and one task.

Each round: sample prompts from the task's train split; sample K candidates from the current
student; the verifier scores every candidate through the rubric prompt; the top- and
bottom-scored candidates form a preference pair (ties and unparsed scores skipped); a pair enters
the replay buffer only if its score margin is at least ``tau`` (progress-gated replay); the
student is updated with TRL's ``DPOTrainer`` on the newly admitted pairs plus a replay sample of
earlier ones. The truth (the task's exact-match scorer) is never shown to the student or the
verifier; it is only logged, as the share of admitted pairs whose direction is wrong — the
mechanism behind silent regression.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from harness import cancel
from harness.audit_metrics import pick_pair
from harness.config import SAMPLE_BATCH_PROMPTS, DecodingConfig, SelfDPOConfig
from harness.documents import RoundLog, SelfDPOResult
from harness.metrics import Proportion, proportion
from harness.models.generate import generate_batch
from harness.stages.verdict import parse_verdict
from harness.tasks import Item, Task
from harness.verifiers import JudgeRequest, VerifierBackend

logger = logging.getLogger(__name__)


class Pair(BaseModel):
    item_id: str
    chosen: str
    rejected: str
    margin: float
    chosen_truth: bool
    rejected_truth: bool
    round: int

    @property
    def direction(self) -> Literal["right", "wrong", "neutral"]:
        if self.chosen_truth == self.rejected_truth:
            return "neutral"
        return "right" if self.chosen_truth else "wrong"


def _rows(pairs: Sequence[Pair], items: dict[str, Item]) -> list[dict]:
    def conv(role: str, text: str, images: int = 0) -> list[dict]:
        content = [{"type": "image"} for _ in range(images)] + [{"type": "text", "text": text}]
        return [{"role": role, "content": content}]

    return [{"images": items[p.item_id].images,
             "prompt": conv("user", items[p.item_id].prompt, len(items[p.item_id].images)),
             "chosen": conv("assistant", p.chosen), "rejected": conv("assistant", p.rejected)} for p in pairs]


def form_pairs(items: Sequence[Item], candidates: Sequence[Sequence[tuple[str, bool]]],
               scores: Sequence[Sequence[float | None]], round_index: int) -> list[Pair]:
    """Top- vs bottom-scored candidate per item (ties and unparsed skipped), as self-DPO forms them."""
    pairs = []
    for it, cands, sc in zip(items, candidates, scores, strict=True):
        picked = pick_pair(list(zip(sc, (t for _, t in cands), strict=True)))
        if picked is None:
            continue
        top, bottom = picked
        if cands[top][0] == cands[bottom][0]:
            continue  # the same answer text twice: nothing to prefer
        pairs.append(Pair(item_id=it.id, chosen=cands[top][0], rejected=cands[bottom][0],
                          margin=float(sc[top]) - float(sc[bottom]), chosen_truth=cands[top][1],
                          rejected_truth=cands[bottom][1], round=round_index))
    return pairs


def _direction(pairs: Sequence[Pair]) -> Proportion:
    decisive = [p for p in pairs if p.direction != "neutral"]
    return proportion(sum(p.direction == "right" for p in decisive), len(decisive))


def lora_config(cfg: SelfDPOConfig):
    """The LoRA adapter of a ``lora`` protocol: every linear layer but the (tied) output head."""
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, target_modules="all-linear",
                      exclude_modules=["lm_head"], task_type="CAUSAL_LM")


class Trainee:
    """The student under self-DPO: the model (wrapped in its LoRA adapter once, for ``lora`` protocols) and one
    AdamW optimiser, both kept across rounds, so the rounds form one training run.

    Two traps this avoids, both measured here: handing TRL a ``peft_config`` every round re-initialises the
    adapter each time (PEFT's ``get_peft_model`` on an already-adapted model resets ``lora_A``/``lora_B``), so
    the student kept only the last round's update; and a fresh optimiser per round restarts Adam's moment
    estimates, whose first steps move every weight by the full learning rate whatever its gradient, so a
    verifier's effect depended on its number of rounds more than on its pairs.

    The DPO reference is the frozen student for the whole run (the base with the adapter disabled, or a frozen
    copy of the full weights), not the student as it starts each round: DPO's pull back towards the reference
    then bounds how far the rounds together can move the student, instead of restarting every round.
    """

    def __init__(self, model, cfg: SelfDPOConfig) -> None:
        import copy

        import torch

        self.reference = None
        if cfg.lora:
            from peft import get_peft_model

            model = get_peft_model(model, lora_config(cfg))
        else:
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        self.model = model
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=cfg.learning_rate, momentum=0.9)
        else:  # the defaults of the Trainer's own AdamW (torch), with the protocol's learning rate
            self.optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, betas=(0.9, 0.999), eps=1e-8,
                                               weight_decay=0.0)
        warm = cfg.warmup_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: min(1.0, (step + 1) / warm) if warm else 1.0)


def _stop_when_cancelled():
    """A Trainer callback that ends training at the next step once the job is cancelled (:mod:`harness.cancel`)."""
    from transformers import TrainerCallback

    class StopWhenCancelled(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            cancel.check()

    return StopWhenCancelled()


def train_dpo(trainee: Trainee, processor, rows: list[dict], cfg: SelfDPOConfig, out_dir: Path,
              seed: int) -> list[dict]:
    """One DPOTrainer pass over ``rows`` with the trainee's model and optimiser; returns TRL's per-step logs."""
    import datasets
    from trl import DPOConfig, DPOTrainer

    model = trainee.model
    args = DPOConfig(
        output_dir=str(out_dir), per_device_train_batch_size=cfg.batch_size, num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate, beta=cfg.beta, loss_type=list(cfg.loss_type), logging_steps=1,
        report_to=[], save_strategy="no", seed=seed, bf16=False, gradient_checkpointing=False,
        use_cpu=model.device.type == "cpu", disable_tqdm=True, lr_scheduler_type="constant",
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer = DPOTrainer(model=model, ref_model=trainee.reference, args=args,
                         train_dataset=datasets.Dataset.from_list(rows), processing_class=processor,
                         optimizers=(trainee.optimizer, trainee.scheduler))
    if "ref" in getattr(model, "peft_config", {}):
        # TRL copies an adapter it is handed into a "ref" adapter to compare against; without it TRL disables the
        # adapter for the reference pass, i.e. compares against the frozen student, which is the protocol's reference.
        model.delete_adapter("ref")
        model.set_adapter("default")
    # The Trainer prints its log dicts to stdout; ours must stay clean (`ladder run --json`).
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(_stop_when_cancelled())
    trainer.train()
    return [r for r in trainer.state.log_history if "loss" in r]


def self_dpo(model, processor, task: Task, train: Sequence[Item], probe: Sequence[Item], backend: VerifierBackend,
             render: Callable[[str, str], str], cfg: SelfDPOConfig, student: str, work_dir: Path,
             progress=None, decoding: DecodingConfig | None = None) -> SelfDPOResult:
    """Run all rounds in place on ``model`` (its weights, or the LoRA adapter injected into it); returns the logs.
    The student generates as ``decoding`` says (the protocol's; None: the defaults). Raises FloatingPointError on a
    NaN loss."""
    from harness.config import EvalConfig
    from harness.stages.evaluate import evaluate

    rng = random.Random(cfg.seed)
    import torch

    torch.manual_seed(cfg.seed)  # the LoRA adapter's initial weights
    trainee = Trainee(model, cfg)  # for LoRA, injects the adapter into ``model`` in place: it generates with it
    by_id = {it.id: it for it in train}
    buffer: list[Pair] = []
    rounds: list[RoundLog] = []
    curve: list[tuple[int, float]] = []
    judgments = 0
    bar = progress.add_task(f"self-DPO {student}", total=cfg.rounds) if progress else None
    for r in range(cfg.rounds):
        prompts = rng.sample(list(train), min(cfg.prompts_per_round, len(train)))
        model.eval()
        cands = _sample_round(model, processor, task, prompts, cfg, seed=cfg.seed * 100_003 + r * 1000,
                              decoding=decoding)
        raws, flat, scores = _judge_round(backend, render, prompts, cands, cfg.k, f"{student}/round{r}")
        judgments += len(raws)
        formed = form_pairs(prompts, cands, scores, r)
        admitted = [p for p in formed if p.margin >= cfg.tau]
        n_replay = min(len(buffer), math.floor(cfg.replay_ratio * len(admitted)))
        replayed = rng.sample(buffer, n_replay)
        buffer.extend(admitted)
        logs: list[dict] = []
        if admitted:
            model.train()
            logs = train_dpo(trainee, processor, _rows(admitted + replayed, by_id), cfg,
                             work_dir / f"round{r}", seed=cfg.seed + r)
            losses = [float(x["loss"]) for x in logs]
            if any(not math.isfinite(v) for v in losses):
                raise FloatingPointError(f"{student}: DPO loss is not finite in round {r}: {losses[-5:]}")
            curve += [(len(curve) + i + 1, v) for i, v in enumerate(losses)]
        model.eval()
        probe_cfg = EvalConfig(max_new_tokens=cfg.max_new_tokens, decoding=decoding or DecodingConfig())
        probe_acc = evaluate(model, processor, task, probe, probe_cfg).accuracy.value if probe else None
        rounds.append(RoundLog(
            round=r, prompts=len(prompts), judgments=len(raws), parse_failures=sum(s is None for s in flat),
            pairs_formed=len(formed), pairs_admitted=len(admitted), replayed=n_replay,
            direction_all=_direction(formed), direction_admitted=_direction(admitted),
            wrong_admitted=sum(p.direction == "wrong" for p in admitted), steps=len(logs),
            loss_first=float(logs[0]["loss"]) if logs else None, loss_last=float(logs[-1]["loss"]) if logs else None,
            reward_accuracy=_mean(logs, "rewards/accuracies"), reward_margin=_mean(logs, "rewards/margins"),
            probe_accuracy=probe_acc,
        ))
        logger.info("%s round %d: %d/%d pairs admitted (%d wrong-direction), %d steps, loss %s, probe %s",
                    student, r, len(admitted), len(formed), rounds[-1].wrong_admitted, len(logs),
                    rounds[-1].loss_last, probe_acc)
        if progress is not None:
            progress.advance(bar)
    return SelfDPOResult(student=student, task=task.name, rounds=rounds, loss_curve=curve, judgments=judgments,
                         device_seconds=getattr(backend, "device_seconds", 0.0))


def _sample_round(model, processor, task: Task, prompts: Sequence[Item], cfg: SelfDPOConfig, seed: int,
                  decoding: DecodingConfig | None = None) -> list[list[tuple[str, bool]]]:
    """``cfg.k`` sampled answers per prompt with their exact-match truth, in batches of
    ``SAMPLE_BATCH_PROMPTS`` prompts (batch ``b`` seeded ``seed + b``); checks for a cancel between batches."""
    cands: list[list[tuple[str, bool]]] = []
    for b in range(0, len(prompts), SAMPLE_BATCH_PROMPTS):
        cancel.check()
        batch = prompts[b:b + SAMPLE_BATCH_PROMPTS]
        gen = generate_batch(model, processor, [(it.images, it.prompt) for it in batch],
                             max_new_tokens=cfg.max_new_tokens, do_sample=True, temperature=cfg.temperature,
                             num_return_sequences=cfg.k, seed=seed + b, decoding=decoding)
        cands += [[(t, task.score_item(t, it).correct) for t in texts]
                  for it, texts in zip(batch, gen.texts, strict=True)]
    return cands


def _judge_round(backend: VerifierBackend, render: Callable[[str, str], str], prompts: Sequence[Item],
                 cands: list[list[tuple[str, bool]]], k: int, who: str):
    """The verifier's raw judgments of every candidate, their parsed scores (flat, and ``k`` per prompt)."""
    requests = [JudgeRequest(item_id=it.id, candidate_index=i, student=who, images=it.images,
                             prompt=render(it.prompt, text), question=it.prompt, candidate=text, truth=truth)
                for it, cs in zip(prompts, cands, strict=True) for i, (text, truth) in enumerate(cs)]
    raws = backend.judge(requests)
    flat = [parse_verdict(x.text).score if x.text is not None else None for x in raws]
    return raws, flat, [flat[i * k:(i + 1) * k] for i in range(len(prompts))]


def _mean(logs: list[dict], key: str) -> float | None:
    vals = [float(x[key]) for x in logs if key in x]
    return sum(vals) / len(vals) if vals else None
