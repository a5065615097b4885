#!/usr/bin/env python
"""Bench: the ``hf`` verifier backend judging audit requests with a Qwen3-VL-8B-sized verifier.

What it measures: :class:`harness.verifiers.hf.HFBackend` (the real backend, loaded through
``harness.models.loading.load_vlm`` from a local folder) judging ``items x k`` rubric requests
(one synthetic image each, the protocol's DEFAULT_RUBRIC rendered with a multiple-choice question
and a short candidate answer), in batches of ``--batch-size``, on CUDA in bf16. The verifier has
the published Qwen3-VL-8B-Instruct architecture and size, built from its config with random
weights (no hub access), our locally built BPE tokenizer and an image-only processor with the
released processor settings (patch 16, merge 2: a 448x448 image gives 196 image tokens).

Goal: <= 5 GPU-minutes for 200 items x 8 candidates on one H100.

Scales:
  --scale full  (default; needs CUDA) the 8B model, built on the GPU in bf16, saved with
                safetensors to --model-dir, loaded back by HFBackend (save and load timed apart).
  --scale tiny  the same code path with a tiny config on CPU (float32, as HFBackend uses on CPU),
                for testing:  python bench/audit_gpu.py --scale tiny --items 4 --k 2 --image-size 64
  --dry-run     build the full config on the meta device, print its parameter count, check the
                processor's image-token count; allocates no weights.

Random weights give garbage text: generation is forced to exactly --max-new-tokens tokens
(min_new_tokens), so the timing is an upper bound for a real verifier that stops at EOS earlier.
A --time-budget-s (default 480 s from start) stops judging further batches and extrapolates.

Writes ``audit_gpu.json`` and ``audit_gpu_report.txt`` to --out (default: $OUT, else ./bench-out).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from audit_stages import TARGET_GPU_MINUTES, TARGET_ITEMS, TARGET_K, save_load_judge
from gpu_common import (
    Report,
    architecture_of,
    build_bench_tokenizer,
    build_model,
    count_parameters,
    environment,
    finish,
    image_tokens_per_image,
    make_processor,
    measure,
    qwen3_vl_config,
    release_text_vision,
    start,
    sync,
    tiny_text_vision,
)

logger = logging.getLogger("bench.audit_gpu")

# Qwen3-VL-8B-Instruct's published config.json (harness/models/published: where it was found, and how
# far it is verbatim, in its sources.json); the token ids (151643.. in the release) are replaced by our tokenizer's.
RELEASE = "Qwen/Qwen3-VL-8B-Instruct"

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=["full", "tiny"], default="full",
                   help="full: Qwen3-VL-8B on CUDA; tiny: CPU test")
    p.add_argument("--items", type=int, default=TARGET_ITEMS, help="audit items (one image each)")
    p.add_argument("--k", type=int, default=TARGET_K, help="candidates per item")
    p.add_argument("--image-size", type=int, default=448, help="side of the synthetic images (pixels)")
    p.add_argument("--max-new-tokens", type=int, default=32, help="verifier answer length (manifest generation)")
    p.add_argument("--batch-size", type=int, default=32, help="requests per backend call (manifest generation)")
    p.add_argument("--time-budget-s", type=float, default=480.0,
                   help="stop judging further batches this many seconds after start and extrapolate")
    p.add_argument("--weights", choices=["save", "memory"], default="save",
                   help="save: write safetensors and let HFBackend load them (timed); "
                        "memory: hand HFBackend the built model (no save/load)")
    p.add_argument("--model-dir", default=None, help="where to save the model (default: a temp folder, removed after)")
    p.add_argument("--keep-model", action="store_true", help="do not delete the saved model folder")
    p.add_argument("--tokenizer", choices=["bench", "harness"], default="bench",
                   help="bench: harness.models.tiny's BPE also trained on the rubric text (Qwen-like token "
                        "counts); harness: build_tokenizer(384) exactly")
    p.add_argument("--no-force-length", action="store_true",
                   help="let generation stop at EOS (random weights: arbitrary lengths)")
    p.add_argument("--usd-per-gpu-hour", type=float, default=0.0, help="if > 0, also print the extrapolated cost")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true",
                   help="full config on the meta device: parameter count and processor check, no weights")
    p.add_argument("--out", default=None, help="output folder (default: $OUT if set, else ./bench-out)")
    args = p.parse_args(argv)
    for name in ("items", "k", "image_size", "max_new_tokens", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def make_config(scale: str, tokenizer, image_size: int):
    """The Qwen3VLConfig: the 8B release values (full) or tiny sizes (tiny), with our token ids."""
    text, vision, _ = release_text_vision(RELEASE)
    if scale == "tiny":
        # The real vocab width: exercises decoding of ids beyond our tokenizer, as the 8B run does;
        # grouped-query attention, as in the 8B.
        text, vision = tiny_text_vision(image_size, text["vocab_size"], ffn_factor=2)
    return qwen3_vl_config(tokenizer, text, vision)


def dry_run(args: argparse.Namespace, say: Report) -> dict:
    import torch

    tokenizer = build_bench_tokenizer(args.tokenizer)
    config = make_config("full", tokenizer, args.image_size)
    t0 = time.perf_counter()
    model = build_model(config, "meta", torch.bfloat16, args.seed)
    build_s = time.perf_counter() - t0
    params = count_parameters(model)
    processor = make_processor("full", tokenizer, args.image_size)
    n_img = image_tokens_per_image(processor, args.image_size)
    expected = (args.image_size // 16) ** 2 // 4
    say("== dry run: Qwen3-VL-8B config on the meta device (no weights allocated) ==")
    say(f"model class: {type(model).__name__}; built on meta in {build_s:.1f} s; "
        f"param device: {next(model.parameters()).device}")
    say(f"parameters: total {params['total']:,} ({params['total'] / 1e9:.3f} B) = vision {params['vision']:,} "
        f"+ language model {params['language_model']:,} + lm_head {params['lm_head']:,}"
        + (f" + other {params['other']:,}" if params["other"] else ""))
    say(f"bf16 weights: {params['total'] * 2 / 1e9:.1f} GB")
    say(f"tokenizer: {len(tokenizer)} tokens (ids < vocab_size {config.text_config.vocab_size}); "
        f"image_token_id {config.image_token_id}")
    say(f"processor: a {args.image_size}x{args.image_size} image -> {n_img} image tokens (expected {expected})")
    return {"mode": "dry-run", "parameters": params, "architecture": architecture_of(config, params),
            "image_tokens_per_image": n_img,
            "expected_image_tokens": expected, "config": config.to_dict()}


def bench_run(args: argparse.Namespace, say: Report, res: dict) -> dict:
    """Build, save, load through HFBackend and judge; fills ``res`` as it goes (kept if a step fails)."""
    import torch

    cuda = torch.cuda.is_available()
    if args.scale == "full" and not cuda:
        raise SystemExit("--scale full needs a CUDA GPU; use --scale tiny (CPU test) or --dry-run")
    device = "cuda" if cuda else "cpu"
    # HFBackend runs bf16 on GPU and float32 on CPU; build in the dtype it will run in.
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    res |= {"mode": "bench", "scale": args.scale, "device": device, "dtype": str(dtype).removeprefix("torch."),
            "items": args.items, "k": args.k, "image_size": args.image_size,
            "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
            "weights": args.weights, "tokenizer": args.tokenizer, "force_length": not args.no_force_length,
            "time_budget_s": args.time_budget_s}

    # -- build
    tokenizer = build_bench_tokenizer(args.tokenizer)
    config = make_config(args.scale, tokenizer, args.image_size)
    processor = make_processor(args.scale, tokenizer, args.image_size)
    sync()
    t0 = time.perf_counter()
    model = build_model(config, device, dtype, args.seed)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    sync()
    res["build_s"] = time.perf_counter() - t0
    res["parameters"] = count_parameters(model)
    res["architecture"] = architecture_of(config, res["parameters"])
    res["config"] = {"text": config.text_config.to_dict(), "vision": config.vision_config.to_dict(),
                     "image_token_id": config.image_token_id}
    res["param_devices"] = sorted({str(p.device) for p in model.parameters()})
    if res["param_devices"] != [str(torch.empty(0, device=device).device)]:
        logger.warning("built parameters on %s, not only %s; moving them", res["param_devices"], device)
        model.to(device)
    say(f"built {type(model).__name__}: {res['parameters']['total']:,} parameters on {res['param_devices']} "
        f"({res['dtype']}) in {res['build_s']:.1f} s")

    # -- save (the real backend loads from a folder) or hand over in memory
    tmp_root = None
    if args.model_dir:
        model_dir = Path(args.model_dir)
    else:
        tmp_root = Path(tempfile.mkdtemp(prefix="audit-gpu-"))
        model_dir = tmp_root / "verifier"
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        return save_load_judge(args, say, res, model, processor, model_dir, device)
    finally:
        if not args.keep_model:
            shutil.rmtree(tmp_root or model_dir, ignore_errors=True)


def print_bench(res: dict, env: dict, say: Report) -> None:
    def f(key, fmt="{:.2f}", unit=""):
        v = res.get(key)
        return "n/a" if v is None else fmt.format(v) + unit

    p = res["parameters"]
    say("")
    say("== audit_gpu: hf verifier backend, Qwen3-VL-8B-sized random verifier ==" if res["scale"] == "full"
        else "== audit_gpu (tiny scale: a CPU test of the code path; numbers are NOT the 8B's) ==")
    say(f"device:            {env['device_name']}  (torch {env['torch']}, transformers {env['transformers']})")
    say(f"model:             {p['total']:,} parameters ({p['total'] / 1e9:.3f} B; vision {p['vision']:,}, "
        f"LM {p['language_model']:,}, lm_head {p['lm_head']:,}), "
        f"{res['backend_model_dtype']} on {res['backend_device']}")
    say(f"build:             {f('build_s', unit=' s')}  (random init on {res['param_devices']})")
    if "save_s" in res:
        say(f"save:              {f('save_s', unit=' s')}  ({res['saved_bytes'] / 1e9:.2f} GB safetensors; bench-only)")
    say(f"load (HFBackend):  {f('load_s', unit=' s')}" + ("  (from the page cache: a cold disk/hub load is slower)"
                                                         if res["weights"] == "save" else "  (in memory: no load)"))
    say(f"workload:          {res['judged']}/{res['requested']} judgments ({res['items']} items x {res['k']}), "
        f"batch {res['batch_size']}, {res['image_size']}px images ({res['image_tokens_per_image']} image tokens), "
        f"max_new_tokens {res['max_new_tokens']}, errors {res['errors']}"
        + (f" (first: {res['first_error']})" if res["errors"] else ""))
    if res["stopped_by_time_budget"]:
        say(f"                   STOPPED by --time-budget-s {res['time_budget_s']:.0f}: figures below extrapolate "
            f"from the {res['judged']} judgments that finished")
    say(f"judge wall:        {f('judge_wall_s', unit=' s')}  (HFBackend device_seconds {f('backend_device_seconds')})")
    say(f"throughput:        {f('judgments_per_s', unit=' judgments/s')} overall, "
        f"{f('steady_judgments_per_s', unit=' judgments/s')} after the first batch")
    say(f"GPU-s / 1000:      {f('gpu_s_per_1000_judgments', '{:.1f}', ' GPU-seconds per 1000 judgments')}")
    say(f"tokens/judgment:   {f('mean_input_tokens', '{:.1f}')} in, {f('mean_output_tokens', '{:.1f}')} out")
    if "peak_gpu_memory_gib" in res:
        say(f"peak GPU memory:   {res['peak_gpu_memory_gib']:.1f} GiB allocated "
            f"({res['peak_gpu_memory_reserved_gib']:.1f} GiB reserved)")
    say(f"200 x 8 judgments: {f('extrapolated_gpu_minutes_200x8', unit=' GPU-minutes')} judging, "
        f"{f('extrapolated_gpu_minutes_200x8_with_load', unit=' GPU-minutes')} with the load")
    if res.get("meets_target") is not None:
        verdict = "MEETS" if res["meets_target"] else "MISSES"
        verdict_load = "meets" if res["meets_target_with_load"] else "misses"
        say(f"target:            <= {TARGET_GPU_MINUTES:.0f} GPU-minutes for 200 x 8 on one H100 -> {verdict} "
            f"(judging only; {verdict_load} it with the load)"
            + ("" if res["scale"] == "full" and "H100" in env.get("device_name", "")
               else f"  [measured on {env['device_name']}, {res['scale']} scale: not the target's setting]"))
    if "extrapolated_usd_200x8_with_load" in res:
        say(f"cost:              ${res['extrapolated_usd_200x8_with_load']:.3f} for 200 x 8 with the load")
    say("caveats:           random weights: the text is garbage; generation was "
        + ("forced to exactly max_new_tokens (min_new_tokens), so this is an upper bound: a real verifier "
           "stops at EOS after a short JSON answer" if res["force_length"]
           else "allowed to stop at EOS at random, so the output lengths above are arbitrary"))
    say("                   synthetic images and our small BPE tokenizer (prompt token counts close to, not equal "
        "to, Qwen's); the GPU also waits for CPU preprocessing inside each call, as in a real run")
    say(f"sample outputs:    {res['sample_outputs'][:2]!r}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = start(args.out, quiet=("httpx",))
    say = Report()
    env = environment()
    say(f"audit_gpu: {env['device_name']}; python {env['python']}, torch {env['torch']}, "
        f"transformers {env['transformers']}")
    res = dry_run(args, say) if args.dry_run else measure(bench_run, print_bench, args, say, env)
    return finish("audit_gpu", res, env, say, out)


if __name__ == "__main__":
    sys.exit(main())
