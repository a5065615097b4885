#!/usr/bin/env python
"""Bench: one self-DPO round of a Qwen3-VL-2B-sized student with LoRA, on one GPU in bf16.

What it measures, through the harness's own code path (harness/stages/selfdpo.py):
  1. sampling: ``generate_batch`` draws K candidates (temperature and seeds as ``self_dpo``
     draws them, 16 prompts per call) for --prompts prompts;
  2. DPO: ``train_dpo`` (TRL's DPOTrainer with the production protocol's LoRA, batch size,
     loss terms, beta and learning rate) on --steps x batch_size pairs, built from the sampled
     candidates with ``_rows`` as a round builds them, one epoch: exactly --steps optimizer steps;
  3. evaluation: ``evaluate`` greedy-decodes --eval-items items with the LoRA-updated student.
The student has the published Qwen3-VL-2B-Instruct architecture and size, built from its
config with random weights (no hub access), with our locally built BPE tokenizer and an
image-only processor with the released processor settings (bench/audit_gpu.py's helpers). The
prompts are ``shapes`` items at --image-size pixels (448: 196 image tokens per image).

Prints seconds per stage, throughput, peak GPU memory per stage, and an extrapolation from this
one round to the production protocol's self-DPO on one task (GPU-hours).

Scales:
  --scale full  (default; needs CUDA) the 2B model, built on the GPU in bf16.
  --scale tiny  the same code path with a tiny config, for a CPU test:
                python bench/selfdpo_gpu.py --scale tiny --prompts 4 --k 2 --steps 2 --eval-items 8 \\
                    --image-size 64 --sample-new-tokens 8 --eval-new-tokens 4
  --dry-run     build the full config on the meta device and print its parameter count (and the
                LoRA adapter size and the processor's image-token count); allocates no weights.

Random weights never stop at EOS and produce garbage: generation is forced to exactly
--sample-new-tokens / --eval-new-tokens tokens (an upper bound for a real student, which stops
at EOS). The sampled ids span the model's 151,936-wide vocabulary while our bench tokenizer knows
a few hundred tokens, so during sampling only, ids beyond the tokenizer are folded into its regular
tokens before decoding (``folded_decode``): the DPO pairs then carry completions of about the
sampled length rather than empty strings.

--time-budget-s (default 480 s from start) shortens the later stages (fewer sampling calls, an
early stop of the DPO steps, fewer evaluation batches), says so, and extrapolates from what ran.

Writes ``selfdpo_gpu.json`` and ``selfdpo_gpu_report.txt`` to --out (default: $OUT, else ./bench-out).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

T_START = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights; nothing is fetched

from bench import audit_gpu as ag  # noqa: E402  (shared helpers: tokenizer, processor, build, env, nvidia-smi)
from harness.config import SAMPLE_BATCH_PROMPTS  # noqa: E402
from harness.estimate import dpo_steps  # noqa: E402

logger = logging.getLogger("bench.selfdpo_gpu")

# Qwen3-VL-2B-Instruct's published config.json (Qwen3VLForConditionalGeneration; transformers 4.57),
# https://huggingface.co/Qwen/Qwen3-VL-2B-Instruct/blob/main/config.json (not reachable from here).
# Values as copied in full in OpenVINO GenAI's modeling tests (xzhan34/openvino.genai,
# src/cpp/src/modeling/tests/qwen3_vl_spec_test.cpp, test Qwen3VLSpecTest.ParseAndValidateConfig:
# text 2048 hidden, 6144 intermediate, 28 layers, 16 heads, 8 kv heads, head_dim 128, vocab
# 151936, rope_theta 5e6, mrope [24, 20, 20] interleaved, tied embeddings; vision depth 24,
# hidden 1024, intermediate 4096, 16 heads, patch 16, merge 2, temporal 2, out_hidden 2048,
# 2304 position embeddings, deepstack [5, 11, 17]); cross-checked against a public project plan
# that tabulates "the current 2B config" (all of the above except the FFN width, which it does
# not list), the text model of Qwen3-1.7B (2048 / 6144 / 28 layers / 16+8 heads / head_dim 128 /
# tied, the LM Qwen3-VL-2B is built on), and the parameter count: --dry-run gives 2.13 B, the
# model card's "2B". (Third-party copies giving an FFN of 5632 or 8192 disagree with that count.)
# The token ids (151643.. in the release) are replaced by our tokenizer's ids.
QWEN3_VL_2B_TEXT = {
    "vocab_size": 151936,
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 262144,
    "rms_norm_eps": 1e-6,
    "attention_bias": False,
    "rope_parameters": {
        "rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [24, 20, 20], "mrope_interleaved": True,
    },
}
QWEN3_VL_2B_VISION = {
    "depth": 24,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_heads": 16,
    "hidden_act": "gelu_pytorch_tanh",
    "in_channels": 3,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "out_hidden_size": 2048,
    "num_position_embeddings": 2304,
    "deepstack_visual_indexes": [5, 11, 17],
}
QWEN3_VL_2B_TIE_WORD_EMBEDDINGS = True

TARGET_PROMPTS, TARGET_K, TARGET_STEPS, TARGET_EVAL_ITEMS = 64, 8, 50, 200
# Test-split sizes of the production tasks (harness/tasks/splits.py: audit 200, half the rest test).
PRODUCTION_TEST_ITEMS = {"mathvista": 400, "mmmu": 350, "blink": 851}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=["full", "tiny"], default="full",
                   help="full: Qwen3-VL-2B on CUDA; tiny: CPU test")
    p.add_argument("--prompts", type=int, default=TARGET_PROMPTS, help="prompts sampled (one image each)")
    p.add_argument("--k", type=int, default=TARGET_K, help="candidates sampled per prompt")
    p.add_argument("--steps", type=int, default=TARGET_STEPS,
                   help="DPO optimizer steps: steps x the protocol's batch size pairs, one epoch")
    p.add_argument("--eval-items", type=int, default=TARGET_EVAL_ITEMS, help="items evaluated greedily")
    p.add_argument("--image-size", type=int, default=448, help="side of the shapes images (pixels)")
    p.add_argument("--sample-new-tokens", type=int, default=64,
                   help="candidate length (the production protocol allows 512; random weights never stop early)")
    p.add_argument("--eval-new-tokens", type=int, default=32, help="greedy answer length in evaluation")
    p.add_argument("--eval-batch-size", type=int, default=16, help="items per generate call (EvalConfig)")
    p.add_argument("--dtype", choices=["auto", "bfloat16", "float32"], default="auto",
                   help="auto: bfloat16 on CUDA, float32 on CPU (as harness.models.loading loads students)")
    p.add_argument("--time-budget-s", type=float, default=480.0,
                   help="seconds from start after which the later stages are cut short and extrapolated")
    p.add_argument("--tokenizer", choices=["bench", "harness"], default="bench",
                   help="bench: harness.models.tiny's BPE also trained on rubric text (audit_gpu.py's); "
                        "harness: build_tokenizer(384) exactly")
    p.add_argument("--no-force-length", action="store_true",
                   help="let generation stop at EOS (random weights: arbitrary lengths)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true",
                   help="full config on the meta device: parameter count and processor check, no weights")
    p.add_argument("--out", default=None, help="output folder (default: $OUT if set, else ./bench-out)")
    args = p.parse_args(argv)
    for name in ("prompts", "steps", "eval_items", "image_size", "sample_new_tokens", "eval_new_tokens",
                 "eval_batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.k < 2:
        p.error("--k must be >= 2 (a pair needs two candidates)")
    if args.image_size < 32:
        p.error("--image-size must be >= 32 (the shapes task's minimum)")
    return args


# --------------------------------------------------------------------------- model pieces


def make_config(scale: str, tokenizer, image_size: int):
    """The Qwen3VLConfig: the 2B release values (full) or tiny sizes (tiny), with our token ids."""
    from transformers import Qwen3VLConfig

    from harness.config import TinySpec

    ids = ag.token_ids(tokenizer)
    if scale == "full":
        text, vision = json.loads(json.dumps(QWEN3_VL_2B_TEXT)), json.loads(json.dumps(QWEN3_VL_2B_VISION))
    else:
        spec = TinySpec(family="qwen3_vl", image_size=image_size)
        text = {
            "vocab_size": QWEN3_VL_2B_TEXT["vocab_size"],  # the real width: exercises folded_decode and the
            "hidden_size": spec.hidden_size,               # 151,936-wide logits of the DPO loss
            "intermediate_size": spec.hidden_size * 3,
            "num_hidden_layers": spec.layers,
            "num_attention_heads": spec.heads,
            "num_key_value_heads": spec.heads // 2,  # grouped-query attention, as in the 2B
            "head_dim": spec.head_dim,
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                "mrope_section": spec.mrope_section(), "mrope_interleaved": True},
        }
        vision = {
            "depth": spec.vision_depth, "hidden_size": spec.vision_width, "intermediate_size": spec.vision_width * 2,
            "num_heads": spec.heads, "patch_size": spec.patch_size, "spatial_merge_size": 2, "temporal_patch_size": 2,
            "out_hidden_size": spec.hidden_size, "deepstack_visual_indexes": [spec.vision_depth - 1],
            "num_position_embeddings": max(16, (image_size // spec.patch_size) ** 2),
        }
    largest = max(ids.values())
    if largest >= text["vocab_size"]:
        raise ValueError(f"tokenizer id {largest} >= vocab_size {text['vocab_size']}")
    text |= {"bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
             "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": QWEN3_VL_2B_TIE_WORD_EMBEDDINGS}
    return Qwen3VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=QWEN3_VL_2B_TIE_WORD_EMBEDDINGS,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )


def lora_config(cfg):
    """The LoraConfig that self-DPO trains (harness.stages.selfdpo.lora_config; for the dry run's count)."""
    from harness.stages.selfdpo import lora_config as protocol_lora

    return protocol_lora(cfg)


def embeddings_tied(model) -> bool:
    out = model.get_output_embeddings()
    return out is not None and out.weight is model.get_input_embeddings().weight


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


class Clock:
    """Stage timing against the budget; syncs CUDA so that times are device times."""

    def __init__(self, budget_s: float, cuda: bool):
        self.budget_s, self.cuda = budget_s, cuda

    def elapsed(self) -> float:
        return time.perf_counter() - T_START

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def sync(self) -> None:
        ag.sync()

    def reset_peak(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float | None:
        if not self.cuda:
            return None
        import torch

        return torch.cuda.max_memory_allocated() / 2**30

    def allocated_gib(self) -> float | None:
        if not self.cuda:
            return None
        import torch

        return torch.cuda.memory_allocated() / 2**30


def max_rss_gib() -> float | None:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    except (ImportError, OSError):
        return None


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


# --------------------------------------------------------------------------- runs


def dry_run(args: argparse.Namespace, say: ag.Report) -> dict:
    import torch

    from harness.config import get_protocol

    tokenizer = ag.build_bench_tokenizer(args.tokenizer)
    config = make_config("full", tokenizer, args.image_size)
    t0 = time.perf_counter()
    model = ag.build_model(config, "meta", torch.bfloat16, args.seed)
    build_s = time.perf_counter() - t0
    params = ag.count_parameters(model)
    tied = embeddings_tied(model)
    processor = ag.make_processor("full", tokenizer, args.image_size)
    n_img = ag.image_tokens_per_image(processor, args.image_size)
    expected = (args.image_size // 16) ** 2 // 4
    cfg = get_protocol("production").selfdpo
    lora_params = None
    try:
        from peft import get_peft_model

        peft_model = get_peft_model(model, lora_config(cfg))
        lora_params = sum(p.numel() for n, p in peft_model.named_parameters() if "lora_" in n)
    except Exception as err:  # noqa: BLE001  (the count is informative only)
        logger.warning("LoRA count on meta failed: %s", err)
    say("== dry run: Qwen3-VL-2B config on the meta device (no weights allocated) ==")
    say(f"model class: {type(model).__name__}; built on meta in {build_s:.1f} s; "
        f"param device: {next(model.parameters()).device}")
    say(f"parameters: total {params['total']:,} ({params['total'] / 1e9:.3f} B) = vision {params['vision']:,} "
        f"+ language model {params['language_model']:,} + lm_head {params['lm_head']:,}"
        + (f" + other {params['other']:,}" if params["other"] else "")
        + f"; lm_head tied to the input embeddings: {tied}")
    say(f"bf16 weights: {params['total'] * 2 / 1e9:.2f} GB")
    if lora_params is not None:
        say(f"LoRA (r={cfg.lora_r}, all-linear but lm_head, as train_dpo): {lora_params:,} trainable parameters "
            f"({lora_params / params['total']:.2%})")
    say(f"tokenizer: {len(tokenizer)} tokens (ids < vocab_size {config.text_config.vocab_size}); "
        f"image_token_id {config.image_token_id}")
    say(f"processor: a {args.image_size}x{args.image_size} image -> {n_img} image tokens (expected {expected})")
    say(f"production self-DPO (get_protocol('production').selfdpo): {cfg.model_dump()}")
    return {"mode": "dry-run", "parameters": params, "architecture": ag.architecture_of(config, params),
            "lm_head_tied": tied, "lora_parameters": lora_params,
            "image_tokens_per_image": n_img, "expected_image_tokens": expected, "config": config.to_dict(),
            "production_selfdpo": cfg.model_dump()}


def bench_run(args: argparse.Namespace, say: ag.Report, res: dict) -> dict:
    """Build, sample, train and evaluate; fills ``res`` as it goes (kept if a step fails)."""
    import torch

    from harness.config import get_protocol
    from harness.tasks import get_task

    cuda = torch.cuda.is_available()
    if args.scale == "full" and not cuda:
        raise SystemExit("--scale full needs a CUDA GPU; use --scale tiny (CPU test) or --dry-run")
    device = "cuda" if cuda else "cpu"
    dtype = {"auto": torch.bfloat16 if cuda else torch.float32,
             "bfloat16": torch.bfloat16, "float32": torch.float32}[args.dtype]
    clock = Clock(args.time_budget_s, cuda)
    prod = get_protocol("production")
    cfg = prod.selfdpo.model_copy(update={"epochs": 1})  # the production batch size, LoRA, losses, beta, lr
    res |= {"mode": "bench", "scale": args.scale, "device": device, "dtype": str(dtype).removeprefix("torch."),
            "prompts": args.prompts, "k": args.k, "steps_requested": args.steps, "eval_items": args.eval_items,
            "image_size": args.image_size, "sample_new_tokens": args.sample_new_tokens,
            "eval_new_tokens": args.eval_new_tokens, "eval_batch_size": args.eval_batch_size,
            "force_length": not args.no_force_length, "time_budget_s": args.time_budget_s,
            "selfdpo_config": cfg.model_dump(), "budget_cuts": []}

    # -- build
    tokenizer = ag.build_bench_tokenizer(args.tokenizer)
    config = make_config(args.scale, tokenizer, args.image_size)
    processor = ag.make_processor(args.scale, tokenizer, args.image_size)
    clock.reset_peak()
    clock.sync()
    t0 = time.perf_counter()
    model = ag.build_model(config, device, dtype, args.seed)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    clock.sync()
    res["build_s"] = time.perf_counter() - t0
    res["parameters"] = ag.count_parameters(model)
    res["architecture"] = ag.architecture_of(config, res["parameters"])
    res["lm_head_tied"] = embeddings_tied(model)
    res["param_devices"] = sorted({str(p.device) for p in model.parameters()})
    res["build_peak_gpu_gib"] = clock.peak_gib()
    res["weights_gpu_gib"] = clock.allocated_gib()
    say(f"built {type(model).__name__}: {res['parameters']['total']:,} parameters on {res['param_devices']} "
        f"({res['dtype']}) in {res['build_s']:.1f} s; lm_head tied: {res['lm_head_tied']}")

    # -- items: shapes prompts at a realistic image size
    t0 = time.perf_counter()
    task = get_task("shapes", image_size=args.image_size, n_items=max(3200, args.prompts + args.eval_items))
    items = task.items(limit=args.prompts + args.eval_items)
    prompts, eval_items = items[:args.prompts], items[args.prompts:]
    by_id = {it.id: it for it in items}
    res["items_build_s"] = time.perf_counter() - t0
    res["image_tokens_per_image"] = ag.image_tokens_per_image(processor, args.image_size)
    say(f"{len(items)} shapes items ({args.image_size}px, {res['image_tokens_per_image']} image tokens each) "
        f"built in {res['items_build_s']:.1f} s; elapsed {clock.elapsed():.0f} s of the "
        f"{args.time_budget_s:.0f} s budget")

    # The stages after the build share what is left of the budget: sampling may use 35% of it,
    # DPO runs until the evaluation's reserve, evaluation until the end.
    t_stages = clock.elapsed()
    sample_deadline = t_stages + 0.35 * max(0.0, args.time_budget_s - t_stages)

    # -- 1. sampling: K candidates per prompt, as self_dpo samples them (round 0)
    merge(res, sample_stage(args, say, clock, model, processor, task, prompts, cfg, sample_deadline))
    cands = res.pop("_candidates")
    sampled = prompts[:len(cands)]

    # -- 2. DPO: steps x batch_size pairs from the sampled candidates, one epoch
    eval_batches = math.ceil(args.eval_items / args.eval_batch_size)
    per_call = res.get("sample_steady_s_per_call") or res["sample_s_per_call"][0]
    est_eval = eval_batches * per_call * args.eval_new_tokens / args.sample_new_tokens  # fewer sequences: upper
    eval_reserve = max(0.1 * max(0.0, args.time_budget_s - t_stages), 1.5 * est_eval)
    merge(res, dpo_stage(args, say, clock, model, processor, sampled, cands, by_id, cfg,
                         args.time_budget_s - eval_reserve))

    # -- 3. greedy evaluation of the LoRA-updated student
    merge(res, eval_stage(args, say, clock, model, processor, task, eval_items))
    res["rss_peak_gib"] = max_rss_gib()
    res["extrapolation"] = extrapolate(res, prod)
    return res


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


# --------------------------------------------------------------------------- report


def print_bench(res: dict, env: dict, say: ag.Report) -> None:
    def f(key, fmt="{:.2f}", unit=""):
        v = res.get(key)
        return "n/a" if v is None else fmt.format(v) + unit

    def mem(key):
        v = res.get(key)
        return "n/a (CPU)" if v is None else f"{v:.1f} GiB"

    p = res["parameters"]
    cfg = res["selfdpo_config"]
    say("")
    say("== selfdpo_gpu: one self-DPO round, Qwen3-VL-2B-sized random student, LoRA ==" if res["scale"] == "full"
        else "== selfdpo_gpu (tiny scale: a CPU test of the code path; numbers are NOT the 2B's) ==")
    say(f"device:          {env['device_name']}  (torch {env['torch']}, transformers {env['transformers']})")
    say(f"model:           {p['total']:,} parameters ({p['total'] / 1e9:.3f} B; vision {p['vision']:,}, "
        f"LM {p['language_model']:,}, lm_head {p['lm_head']:,}; tied {res['lm_head_tied']}), {res['dtype']} "
        f"on {res['device']}")
    say(f"build:           {f('build_s', unit=' s')}  (random init on {res['param_devices']}; weights "
        f"{mem('weights_gpu_gib')}, peak {mem('build_peak_gpu_gib')})")
    say(f"sampling:        {f('sample_s', unit=' s')} for {res['candidates']} candidates ({res['sampled_prompts']} "
        f"prompts x {res['k']}, {res['sample_new_tokens']} new tokens each, {res['image_tokens_per_image']} image "
        f"tokens/prompt, ~{f('mean_prompt_tokens', '{:.0f}')} prompt tokens): {f('candidates_per_s', unit=' cand/s')}; "
        f"steady {f('sample_steady_s_per_candidate', '{:.4f}', ' s/cand')}; peak {mem('sample_peak_gpu_gib')}")
    say(f"DPO:             {f('dpo_s', unit=' s')} total = setup {f('dpo_setup_s', unit=' s')} + "
        f"{res['dpo_steps']} steps {f('dpo_steps_s', unit=' s')}: {f('dpo_s_per_step', '{:.3f}', ' s/step')} "
        f"(steady {f('dpo_steady_s_per_step', '{:.3f}')}); batch {res['dpo_batch_size']} pairs, LoRA "
        f"r={cfg['lora_r']} ({res['lora_parameters']:,} trainable), completions "
        f"~{f('dpo_mean_completion_tokens', '{:.0f}')} tokens; peak {mem('dpo_peak_gpu_gib')}")
    say(f"                 loss {f('dpo_loss_first', '{:.3f}')} -> {f('dpo_loss_last', '{:.3f}')} "
        f"(finite: {res['dpo_losses_finite']})")
    say(f"eval:            {f('eval_s', unit=' s')} for {res['evaluated']} items (greedy, {res['eval_new_tokens']} "
        f"new tokens, batch {res['eval_batch_size']}): {f('eval_items_per_s', '{:.1f}', ' items/s')}; "
        f"peak {mem('eval_peak_gpu_gib')}")
    if res.get("rss_peak_gib") is not None:
        say(f"host memory:     peak RSS {res['rss_peak_gib']:.1f} GiB")
    for cut in res["budget_cuts"]:
        say(f"BUDGET CUT:      {cut}")
    ex = res.get("extrapolation") or {}
    if ex:
        say(f"EXTRAPOLATION from this one round (not measured): the production protocol's self-DPO on one task = "
            f"{ex['rounds']} rounds x {ex['prompts_per_round']} prompts x {ex['k']} = {ex['candidates']:,} "
            f"candidates, {ex['dpo_steps']} DPO steps of {ex['dpo_batch_size']} (every prompt's pair admitted, "
            f"replayed 1:1 from round 2: an upper bound; {ex['dpo_steps_without_replay']} without replay), "
            f"{ex['probe_items']} probe items + the test split twice, + one model build; verifier judging NOT "
            f"included (bench/audit_gpu.py)")
        lf = ex["length_factors"]
        for name, t in ex["tasks"].items():
            say(f"  {name:10s} ({t['eval_items']} eval items): {t['gpu_hours_bench_lengths']:.3f} GPU-hours at this "
                f"bench's lengths; {t['gpu_hours_scaled_to_max_new_tokens']:.3f} GPU-hours scaled linearly to the "
                f"production max_new_tokens (x{lf['sample']:.1f} sampling, x{lf['dpo']:.2f} DPO, x{lf['eval']:.1f} "
                f"eval; an upper bound: real answers stop at EOS)")
        if res["scale"] != "full":
            say("  (tiny scale: these hours describe the tiny model on this CPU, not the 2B on a GPU)")
    say("caveats:         random weights: the text is garbage; generation was "
        + ("forced to exactly the max_new_tokens (an upper bound: a real student stops at EOS)"
           if res["force_length"] else "allowed to stop at EOS at random"))
    say("                 shapes prompts are short and their images square; benchmark images are often larger "
        "(more image tokens); our BPE tokenizer stands in for Qwen's")
    say(f"sample outputs:  {res.get('sample_candidates', [])!r}")


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("trl", "peft", "datasets", "accelerate", "pyarrow", "huggingface_hub"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("httpx", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.WARNING)
    out = Path(args.out or os.environ.get("OUT") or "bench-out")
    out.mkdir(parents=True, exist_ok=True)
    say = ag.Report()
    env = ag.environment() | {"packages": package_versions()}
    say(f"selfdpo_gpu: {env['device_name']}; python {env['python']}, torch {env['torch']}, "
        f"transformers {env['transformers']}; {', '.join(f'{k} {v}' for k, v in env['packages'].items())}")
    if args.dry_run:
        res = dry_run(args, say)
    else:
        res = {}
        try:
            bench_run(args, say, res)
        except (Exception, KeyboardInterrupt) as err:  # keep what was measured up to the failure
            import traceback

            res["error"] = f"{type(err).__name__}: {err}"
            res["traceback"] = traceback.format_exc()
            say(f"FAILED: {res['error']}")
            say(res["traceback"])
        else:
            print_bench(res, env, say)
    res.pop("_candidates", None)
    res["environment"] = env
    res["total_wall_s"] = time.perf_counter() - T_START
    smi = ag.nvidia_smi()
    if smi:
        res["nvidia_smi"] = smi
        say("")
        say("nvidia-smi:")
        for line in smi.rstrip().splitlines():
            say(line)
    say(f"total wall: {res['total_wall_s']:.1f} s; wrote {out / 'selfdpo_gpu.json'}")
    (out / "selfdpo_gpu.json").write_text(json.dumps(res, indent=2, default=str))
    (out / "selfdpo_gpu_report.txt").write_text("\n".join(say.lines) + "\n")
    return 1 if "error" in res else 0


if __name__ == "__main__":
    sys.exit(main())
