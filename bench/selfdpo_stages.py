"""bench/selfdpo_gpu.py's stages: sampling K candidates per prompt, DPO on pairs of them and the greedy
evaluation, each timed against the budget, and the extrapolation to the production protocol's self-DPO."""

from __future__ import annotations

import contextlib
import itertools
import math
import tempfile
import time
from pathlib import Path
from unittest import mock

from gpu_common import Clock, image_tokens_per_image

from harness.config import SAMPLE_BATCH_PROMPTS
from harness.estimate import dpo_steps

# Test-split sizes of the production tasks (harness/tasks/splits.py: audit 200, half the rest test).
PRODUCTION_TEST_ITEMS = {"mathvista": 400, "mmmu": 350, "blink": 851}


@contextlib.contextmanager
def folded_decode(processor):
    """During sampling only: fold ids beyond the tokenizer into its regular (non-special) tokens.

    A random 2B student samples across its 151,936-wide vocabulary; our bench tokenizer knows
    a few hundred tokens and would decode the rest to nothing, leaving the DPO stage with empty
    completions. Folding keeps one decoded token per sampled token, so the pairs have about the
    sampled length. Only the text changes; generation itself is untouched.
    """
    import torch

    tok = processor.tokenizer
    n = len(tok)
    special = set(tok.all_special_ids)
    regular = torch.tensor([i for i in range(n) if i not in special])
    original = processor.batch_decode

    def batch_decode(sequences, *a, **kw):
        ids = torch.as_tensor(sequences)
        folded = torch.where(ids >= n, regular.to(ids.device)[ids % len(regular)], ids)
        return original(folded, *a, **kw)

    with mock.patch.object(processor, "batch_decode", batch_decode):
        yield


# --------------------------------------------------------------------------- timing helpers


def steady(times: list[float], counts: list[int]) -> float | None:
    """Seconds per unit after the first call (CUDA/cuBLAS warm-up and allocator growth left out)."""
    if len(times) > 1 and sum(counts[1:]):
        return sum(times[1:]) / sum(counts[1:])
    return times[0] / counts[0] if times and counts[0] else None


def make_step_timer(deadline_s: float, clock: Clock):
    """A TrainerCallback that times every optimizer step and stops training at ``deadline_s``."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.train_begin: float | None = None
            self.step_s: list[float] = []
            self.stopped_by_budget = False
            self._t0 = 0.0

        def on_train_begin(self, args, state, control, **kw):
            clock.sync()
            self.train_begin = time.perf_counter()

        def on_step_begin(self, args, state, control, **kw):
            clock.sync()
            self._t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            clock.sync()
            self.step_s.append(time.perf_counter() - self._t0)
            estimate = max(self.step_s[-3:])
            if clock.elapsed() + estimate > deadline_s and state.global_step < state.max_steps:
                self.stopped_by_budget = True
                control.should_training_stop = True
            return control

    return StepTimer()


# --------------------------------------------------------------------------- stages


def shapes_items(args, say, res: dict, clock: Clock, processor):
    """The shapes prompts (--prompts) and evaluation items (--eval-items) at --image-size pixels:
    (task, prompts, eval items, every item by id)."""
    from harness.tasks import get_task

    t0 = time.perf_counter()
    task = get_task("shapes", image_size=args.image_size, n_items=max(3200, args.prompts + args.eval_items))
    items = task.items(limit=args.prompts + args.eval_items)
    prompts, eval_items = items[:args.prompts], items[args.prompts:]
    by_id = {it.id: it for it in items}
    res["items_build_s"] = time.perf_counter() - t0
    res["image_tokens_per_image"] = image_tokens_per_image(processor, args.image_size)
    say(f"{len(items)} shapes items ({args.image_size}px, {res['image_tokens_per_image']} image tokens each) "
        f"built in {res['items_build_s']:.1f} s; elapsed {clock.elapsed():.0f} s of the "
        f"{args.time_budget_s:.0f} s budget")
    return task, prompts, eval_items, by_id


def merge(res: dict, out: dict) -> None:
    """Add a stage's figures to ``res``; its budget cuts are appended, not replaced."""
    res["budget_cuts"] += out.pop("budget_cuts", [])
    res |= out


def sample_stage(args, say, clock: Clock, model, processor, task, prompts, cfg, deadline: float) -> dict:
    model.eval()
    if not args.no_force_length:
        model.generation_config.min_new_tokens = args.sample_new_tokens
    clock.reset_peak()
    try:
        with folded_decode(processor):
            return _sample(args, say, clock, model, processor, task, prompts, cfg, deadline)
    finally:
        model.generation_config.min_new_tokens = None


def _sample(args, say, clock: Clock, model, processor, task, prompts, cfg, deadline: float) -> dict:
    from harness.models.generate import generate_batch

    cands: list[list[tuple[str, bool]]] = []
    call_s, call_n, input_tokens, output_tokens = [], [], [], []
    cut = None
    batches = [prompts[b:b + SAMPLE_BATCH_PROMPTS] for b in range(0, len(prompts), SAMPLE_BATCH_PROMPTS)]
    for i, batch in enumerate(batches):
        estimate = max(call_s[-3:] or [0.0])
        if i > 0 and clock.elapsed() + estimate > deadline:
            cut = (f"sampling stopped after {i}/{len(batches)} calls ({len(cands)} prompts): the next call "
                   f"(~{estimate:.1f} s) would pass the sampling share of the budget (t={deadline:.0f} s)")
            say("time budget: " + cut)
            break
        clock.sync()
        t0 = time.perf_counter()
        gen = generate_batch(model, processor, [(it.images, it.prompt) for it in batch],
                             max_new_tokens=args.sample_new_tokens, do_sample=True, temperature=cfg.temperature,
                             num_return_sequences=args.k, seed=cfg.seed * 100_003 + i * SAMPLE_BATCH_PROMPTS)
        cands += [[(t, task.score_item(t, it).correct) for t in texts]
                  for it, texts in zip(batch, gen.texts, strict=True)]
        clock.sync()
        dt = time.perf_counter() - t0
        call_s.append(dt)
        call_n.append(len(batch) * args.k)
        input_tokens += gen.input_tokens
        output_tokens += [n for ns in gen.output_tokens for n in ns]
        say(f"  sampling call {i + 1}/{len(batches)}: {len(batch)} prompts x {args.k} = {len(batch) * args.k} "
            f"candidates in {dt:.2f} s ({len(batch) * args.k / dt:.1f}/s); elapsed {clock.elapsed():.0f} s")
    n = sum(call_n)
    wall = sum(call_s)
    out = {
        "_candidates": cands, "sample_s": wall, "sample_s_per_call": [round(s, 3) for s in call_s],
        "sampled_prompts": len(cands), "candidates": n, "candidates_per_s": n / wall if wall else None,
        "sample_steady_s_per_candidate": steady(call_s, call_n),
        "sample_steady_s_per_call": steady(call_s, [1] * len(call_s)) if len(call_s) > 1 else None,
        "sample_peak_gpu_gib": clock.peak_gib(),
        "mean_prompt_tokens": sum(input_tokens) / len(input_tokens) if input_tokens else None,
        "mean_candidate_tokens": sum(output_tokens) / len(output_tokens) if output_tokens else None,
        "distinct_candidates_share": (sum(len({t for t, _ in cs}) for cs in cands) / n) if n else None,
        "sample_candidates": [cands[0][j][0][:80] for j in range(min(2, len(cands[0])))] if cands else [],
    }
    if cut:
        out["budget_cuts"] = [cut]
    return out


def dpo_stage(args, say, clock: Clock, model, processor, sampled, cands, by_id, cfg, deadline: float) -> dict:
    import transformers.trainer as hf_trainer

    from harness.stages import selfdpo as sd

    n_rows = args.steps * cfg.batch_size
    combos = list(itertools.combinations(range(args.k), 2))
    pairs = []
    for r in range(n_rows):  # every prompt in turn, each time with the next pair of its candidates
        p, (a, b) = r % len(sampled), combos[(r // len(sampled)) % len(combos)]
        (chosen, chosen_truth), (rejected, rejected_truth) = cands[p][a], cands[p][b]
        pairs.append(sd.Pair(item_id=sampled[p].id, chosen=chosen, rejected=rejected, margin=1.0,
                             chosen_truth=chosen_truth, rejected_truth=rejected_truth, round=0))
    rows = sd._rows(pairs, by_id)
    tok = processor.tokenizer
    completion_tokens = [len(tok(x, add_special_tokens=False)["input_ids"]) for p in pairs[:256]
                         for x in (p.chosen, p.rejected)]
    timer = make_step_timer(deadline, clock)
    say(f"DPO: {len(rows)} pairs ({len(sampled)} prompts x pairs of their {args.k} candidates), batch "
        f"{cfg.batch_size}, 1 epoch -> {math.ceil(len(rows) / cfg.batch_size)} steps; LoRA r={cfg.lora_r} "
        f"(lora={cfg.lora}), loss {list(cfg.loss_type)}, beta {cfg.beta}, lr {cfg.learning_rate}; "
        f"completions ~{sum(completion_tokens) / len(completion_tokens):.0f} tokens; "
        f"DPO may run until t={deadline:.0f} s")
    clock.reset_peak()
    clock.sync()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="selfdpo-gpu-") as tmp, \
            mock.patch.object(hf_trainer, "DEFAULT_CALLBACKS", [*hf_trainer.DEFAULT_CALLBACKS, timer]):
        model.train()
        logs = sd.train_dpo(sd.Trainee(model, cfg), processor, rows, cfg, Path(tmp) / "round0", seed=cfg.seed)
    model.eval()
    clock.sync()
    wall = time.perf_counter() - t0
    steps = len(timer.step_s)
    losses = [float(x["loss"]) for x in logs]
    out = {
        "dpo_pairs": len(rows), "dpo_batch_size": cfg.batch_size, "dpo_steps": steps, "dpo_s": wall,
        "dpo_setup_s": (timer.train_begin - t0) if timer.train_begin else None,
        "dpo_steps_s": sum(timer.step_s), "dpo_step_s": [round(s, 3) for s in timer.step_s],
        "dpo_s_per_step": sum(timer.step_s) / steps if steps else None,
        "dpo_steady_s_per_step": steady(timer.step_s, [1] * steps) if steps else None,
        "dpo_peak_gpu_gib": clock.peak_gib(),
        "dpo_mean_completion_tokens": sum(completion_tokens) / len(completion_tokens),
        "dpo_loss_first": losses[0] if losses else None, "dpo_loss_last": losses[-1] if losses else None,
        "dpo_losses_finite": all(math.isfinite(v) for v in losses),
        "dpo_reward_accuracy_mean": sd._mean(logs, "rewards/accuracies"),
        "lora_parameters": sum(p.numel() for n, p in model.named_parameters() if "lora_" in n),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    if timer.stopped_by_budget:
        cut = (f"DPO stopped after {steps}/{math.ceil(len(rows) / cfg.batch_size)} steps: the next step would "
               f"pass t={deadline:.0f} s (the evaluation's reserve)")
        say("time budget: " + cut)
        out["budget_cuts"] = [cut]
    say(f"  DPO: {steps} steps in {out['dpo_steps_s']:.1f} s ({out['dpo_s_per_step'] or 0:.2f} s/step; steady "
        f"{out['dpo_steady_s_per_step'] or 0:.2f}); setup (dataset, trainer, LoRA) {out['dpo_setup_s'] or 0:.1f} s; "
        f"loss {out['dpo_loss_first'] or 0:.3f} -> {out['dpo_loss_last'] or 0:.3f}; elapsed {clock.elapsed():.0f} s")
    return out


def eval_stage(args, say, clock: Clock, model, processor, task, items) -> dict:
    from harness.config import EvalConfig
    from harness.stages.evaluate import evaluate

    ecfg = EvalConfig(batch_size=args.eval_batch_size, max_new_tokens=args.eval_new_tokens)
    if not args.no_force_length:
        model.generation_config.min_new_tokens = args.eval_new_tokens
    clock.reset_peak()
    call_s, call_n, correct = [], [], 0
    cut = None
    chunks = [items[i:i + ecfg.batch_size] for i in range(0, len(items), ecfg.batch_size)]
    for i, chunk in enumerate(chunks):  # one evaluate() call per batch, so that the budget can cut in
        estimate = max(call_s[-3:] or [0.0])
        if i > 0 and clock.elapsed() + estimate > args.time_budget_s:
            cut = (f"evaluation stopped after {i}/{len(chunks)} batches ({sum(call_n)} items): the next batch "
                   f"would pass the {args.time_budget_s:.0f} s budget")
            say("time budget: " + cut)
            break
        clock.sync()
        t0 = time.perf_counter()
        result = evaluate(model, processor, task, chunk, ecfg)
        clock.sync()
        call_s.append(time.perf_counter() - t0)
        call_n.append(len(chunk))
        correct += sum(p.correct for p in result.predictions)
    model.generation_config.min_new_tokens = None
    n, wall = sum(call_n), sum(call_s)
    out = {"evaluated": n, "eval_s": wall, "eval_items_per_s": n / wall if wall else None,
           "eval_steady_s_per_item": steady(call_s, call_n), "eval_s_per_batch": [round(s, 3) for s in call_s],
           "eval_accuracy": correct / n if n else None, "eval_peak_gpu_gib": clock.peak_gib()}
    if cut:
        out["budget_cuts"] = [cut]
    say(f"  eval: {n} items in {wall:.1f} s ({out['eval_items_per_s']:.1f} items/s); elapsed {clock.elapsed():.0f} s")
    return out


def extrapolate(res: dict, prod) -> dict:
    """GPU-hours of the production protocol's self-DPO on one task, from this one round's rates.

    Per task: ``rounds`` rounds; each samples ``prompts_per_round`` x ``k`` candidates, trains on
    the admitted pairs (at most one per prompt; upper bound: all admitted) plus as many replayed
    ones (``replay_ratio``) once the buffer holds them, and scores ``probe_size`` probe items; the
    test split is evaluated twice (before and after). The verifier's judging (rounds x prompts x k
    judgments) is not included: bench/audit_gpu.py measures it.
    """
    cfg = prod.selfdpo
    steps = dpo_steps(cfg.rounds, cfg.prompts_per_round, cfg.replay_ratio, cfg.batch_size, cfg.epochs)
    steps_without_replay = dpo_steps(cfg.rounds, cfg.prompts_per_round, 0.0, cfg.batch_size, cfg.epochs)
    candidates = cfg.rounds * cfg.prompts_per_round * cfg.k
    s_cand = res.get("sample_steady_s_per_candidate")
    s_step = res.get("dpo_steady_s_per_step")
    s_item = res.get("eval_steady_s_per_item")
    if None in (s_cand, s_step, s_item):
        return {}
    prompt_tok = res.get("mean_prompt_tokens") or 0.0
    # Length scaling (linear in generated tokens / sequence length): an upper bound, since a real
    # student stops at EOS long before the production protocol's 512-token limit on short answers.
    f_sample = cfg.max_new_tokens / res["sample_new_tokens"]
    f_dpo = (prompt_tok + cfg.max_new_tokens) / (prompt_tok + res["dpo_mean_completion_tokens"])
    f_eval = prod.eval_max_new_tokens / res["eval_new_tokens"]
    out = {"rounds": cfg.rounds, "prompts_per_round": cfg.prompts_per_round, "k": cfg.k,
           "candidates": candidates, "dpo_steps": steps, "dpo_steps_without_replay": steps_without_replay,
           "dpo_batch_size": cfg.batch_size,
           "probe_items": cfg.rounds * cfg.probe_size, "length_factors": {
               "sample": f_sample, "dpo": f_dpo, "eval": f_eval},
           "tasks": {}}
    for name, test in PRODUCTION_TEST_ITEMS.items():
        eval_items = 2 * test + cfg.rounds * cfg.probe_size
        bench_len = candidates * s_cand + steps * s_step + eval_items * s_item
        scaled = candidates * s_cand * f_sample + steps * s_step * f_dpo + eval_items * s_item * f_eval
        out["tasks"][name] = {
            "eval_items": eval_items,
            "gpu_hours_bench_lengths": (bench_len + res["build_s"]) / 3600,
            "gpu_hours_scaled_to_max_new_tokens": (scaled + res["build_s"]) / 3600,
            "seconds_bench_lengths": {"sample": candidates * s_cand, "dpo": steps * s_step,
                                      "eval": eval_items * s_item, "load": res["build_s"]},
        }
    return out
