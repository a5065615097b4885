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
image-only processor with the released processor settings (bench/gpu_common.py's helpers,
shared with bench/audit_gpu.py). The
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
import logging
import math
import sys
import time

from gpu_common import (
    Clock,
    Report,
    architecture_of,
    build_bench_tokenizer,
    build_model,
    count_parameters,
    environment,
    finish,
    image_tokens_per_image,
    make_processor,
    max_rss_gib,
    measure,
    package_versions,
    qwen3_vl_config,
    release_text_vision,
    start,
    tiny_text_vision,
)
from selfdpo_stages import dpo_stage, eval_stage, extrapolate, merge, sample_stage, shapes_items

logger = logging.getLogger("bench.selfdpo_gpu")

# Qwen3-VL-2B-Instruct's published config.json (harness/models/published: where it was found, and how
# far it is verbatim, in its sources.json); the token ids (151643.. in the release) are replaced by our tokenizer's.
RELEASE = "Qwen/Qwen3-VL-2B-Instruct"

TARGET_PROMPTS, TARGET_K, TARGET_STEPS, TARGET_EVAL_ITEMS = 64, 8, 50, 200


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


def make_config(scale: str, tokenizer, image_size: int):
    """The Qwen3VLConfig: the 2B release values (full) or tiny sizes (tiny), with our token ids."""
    text, vision, tied = release_text_vision(RELEASE)
    if scale == "tiny":
        # The real width: exercises folded_decode and the 151,936-wide logits of the DPO loss;
        # grouped-query attention, as in the 2B.
        text, vision = tiny_text_vision(image_size, text["vocab_size"], ffn_factor=3)
    return qwen3_vl_config(tokenizer, text, vision, tie_word_embeddings=tied)


def lora_config(cfg):
    """The LoraConfig that self-DPO trains (harness.stages.selfdpo.lora_config; for the dry run's count)."""
    from harness.stages.selfdpo import lora_config as protocol_lora

    return protocol_lora(cfg)


def embeddings_tied(model) -> bool:
    out = model.get_output_embeddings()
    return out is not None and out.weight is model.get_input_embeddings().weight


# --------------------------------------------------------------------------- runs


def dry_run(args: argparse.Namespace, say: Report) -> dict:
    import torch

    from harness.config import get_protocol

    tokenizer = build_bench_tokenizer(args.tokenizer)
    config = make_config("full", tokenizer, args.image_size)
    t0 = time.perf_counter()
    model = build_model(config, "meta", torch.bfloat16, args.seed)
    build_s = time.perf_counter() - t0
    params = count_parameters(model)
    tied = embeddings_tied(model)
    processor = make_processor("full", tokenizer, args.image_size)
    n_img = image_tokens_per_image(processor, args.image_size)
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
    return {"mode": "dry-run", "parameters": params, "architecture": architecture_of(config, params),
            "lm_head_tied": tied, "lora_parameters": lora_params,
            "image_tokens_per_image": n_img, "expected_image_tokens": expected, "config": config.to_dict(),
            "production_selfdpo": cfg.model_dump()}


def bench_run(args: argparse.Namespace, say: Report, res: dict) -> dict:
    """Build, sample, train and evaluate; fills ``res`` as it goes (kept if a step fails)."""
    import torch

    from harness.config import get_protocol

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
    model, processor = build_student(args, say, res, clock, device, dtype)
    # -- items: shapes prompts at a realistic image size
    task, prompts, eval_items, by_id = shapes_items(args, say, res, clock, processor)

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


def build_student(args, say: Report, res: dict, clock: Clock, device: str, dtype):
    """The random-init student on ``device`` in ``dtype``, timed, and its processor: (model, processor)."""
    tokenizer = build_bench_tokenizer(args.tokenizer)
    config = make_config(args.scale, tokenizer, args.image_size)
    processor = make_processor(args.scale, tokenizer, args.image_size)
    clock.reset_peak()
    clock.sync()
    t0 = time.perf_counter()
    model = build_model(config, device, dtype, args.seed)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    clock.sync()
    res["build_s"] = time.perf_counter() - t0
    res["parameters"] = count_parameters(model)
    res["architecture"] = architecture_of(config, res["parameters"])
    res["lm_head_tied"] = embeddings_tied(model)
    res["param_devices"] = sorted({str(p.device) for p in model.parameters()})
    res["build_peak_gpu_gib"] = clock.peak_gib()
    res["weights_gpu_gib"] = clock.allocated_gib()
    say(f"built {type(model).__name__}: {res['parameters']['total']:,} parameters on {res['param_devices']} "
        f"({res['dtype']}) in {res['build_s']:.1f} s; lm_head tied: {res['lm_head_tied']}")
    return model, processor


# --------------------------------------------------------------------------- report


def print_bench(res: dict, env: dict, say: Report) -> None:
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = start(args.out, quiet=("httpx", "transformers", "datasets"))
    say = Report()
    env = environment() | {"packages": package_versions()}
    say(f"selfdpo_gpu: {env['device_name']}; python {env['python']}, torch {env['torch']}, "
        f"transformers {env['transformers']}; {', '.join(f'{k} {v}' for k, v in env['packages'].items())}")
    res = dry_run(args, say) if args.dry_run else measure(bench_run, print_bench, args, say, env)
    res.pop("_candidates", None)
    return finish("selfdpo_gpu", res, env, say, out)


if __name__ == "__main__":
    sys.exit(main())
