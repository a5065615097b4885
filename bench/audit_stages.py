"""bench/audit_gpu.py's stages after the build: the workload, the save and load through HFBackend,
the judging within the time budget, and the figures (with the extrapolation to 200 x 8 judgments)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import random
import time
from pathlib import Path
from unittest import mock

from gpu_common import T_START, Report, image_tokens_per_image, sync

TARGET_GPU_MINUTES = 5.0  # goal: <= 5 GPU-minutes for 200 x 8 judgments on one H100
TARGET_ITEMS, TARGET_K = 200, 8

# --------------------------------------------------------------------------- workload

_SHAPES = ["circle", "square", "triangle", "star"]
_COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (230, 200, 30),
            "purple": (140, 60, 170), "orange": (240, 140, 30)}
_POSITIONS = ["top left", "top right", "bottom left", "bottom right"]


def synthetic_image(rng: random.Random, size: int):
    """A size x size RGB image with 3-6 filled shapes on a light, noisy-ish background."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), tuple(rng.randint(225, 255) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(3, 6)):
        shape, colour = rng.choice(_SHAPES), rng.choice(list(_COLOURS.values()))
        r = rng.randint(max(2, size // 16), max(3, size // 6))
        cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
        box = [cx - r, cy - r, cx + r, cy + r]
        if shape == "circle":
            draw.ellipse(box, fill=colour, outline=(0, 0, 0))
        elif shape == "square":
            draw.rectangle(box, fill=colour, outline=(0, 0, 0))
        elif shape == "triangle":
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour, outline=(0, 0, 0))
        else:
            pts = [(cx + (r if i % 2 == 0 else r // 2) * math.cos(math.pi * i / 5 - math.pi / 2),
                    cy + (r if i % 2 == 0 else r // 2) * math.sin(math.pi * i / 5 - math.pi / 2)) for i in range(10)]
            draw.polygon(pts, fill=colour, outline=(0, 0, 0))
    return img


def build_requests(items: int, k: int, image_size: int, seed: int):
    """``items x k`` JudgeRequests: DEFAULT_RUBRIC with a multiple-choice question and short answers."""
    from harness.config import DEFAULT_RUBRIC
    from harness.stages.common import render_rubric
    from harness.verifiers.base import JudgeRequest

    rng = random.Random(seed)
    render = render_rubric(DEFAULT_RUBRIC)
    letters = "ABCD"
    requests = []
    for i in range(items):
        image = synthetic_image(rng, image_size)
        options = rng.sample(_SHAPES, 4)
        question = (f"Which shape is at the {rng.choice(_POSITIONS)} of the image?\n"
                    + "\n".join(f"({letters[j]}) {o}" for j, o in enumerate(options))
                    + "\nAnswer with the option's letter from the given choices directly.")
        for c in range(k):
            j = rng.randrange(4)
            candidate = rng.choice([letters[j], f"({letters[j]})", f"({letters[j]}) {options[j]}",
                                    f"The answer is ({letters[j]})."])
            requests.append(JudgeRequest(item_id=f"bench-{i:04d}", candidate_index=c, student="bench",
                                         images=[image], prompt=render(question, candidate)))
    return requests


def make_manifest(model_dir: Path, args: argparse.Namespace):
    from harness.submission import parse_manifest

    return parse_manifest({
        "name": f"bench-qwen3-vl-8b-random-{args.scale}", "family": "bench", "release": "0", "owner": "bench",
        "backend": "hf", "model": {"path": str(model_dir)}, "dtype": "bfloat16",
        "generation": {"max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size},
        "cost": {"kind": "gpu", "gpu_type": "H100-80GB", "usd_per_gpu_hour": args.usd_per_gpu_hour,
                 "priced_on": "2026-11-26"},
    }, source="bench/audit_gpu.py")


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


# --------------------------------------------------------------------------- save, load, judge


def save_load_judge(args, say: Report, res: dict, model, processor, model_dir: Path, device: str) -> dict:
    """Save the model (or hand it over in memory), load it through HFBackend, judge and add the figures."""
    import torch

    cuda = device == "cuda"
    patch = store_model(args, say, res, model, processor, model_dir, cuda)
    del model
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    backend = load_backend(args, say, res, model_dir, patch)
    requests, batches = prepare_batches(args, say, res, backend)
    judgments, batch_s, batch_n, stopped_early = judge_batches(args, say, backend, batches)
    backend_device_s = backend.device_seconds
    if cuda:
        res["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        res["peak_gpu_memory_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
    backend.close()
    return figures(args, res, len(requests), judgments, batch_s, batch_n, stopped_early, backend_device_s)


def store_model(args, say: Report, res: dict, model, processor, model_dir: Path, cuda: bool):
    """Save processor and model to ``model_dir`` (``--weights save``; falls back to memory when the disk
    refuses) or prepare the in-memory hand-over. Returns the context manager the backend loads under."""
    import torch

    processor.save_pretrained(model_dir)
    if args.weights == "save":
        t0 = time.perf_counter()
        try:
            model.save_pretrained(model_dir)  # safetensors
        except OSError as err:  # a full or read-only disk must not lose the GPU run
            say(f"save failed ({err}); falling back to --weights memory")
            args.weights = res["weights"] = "memory"
            for f in model_dir.glob("*.safetensors*"):
                f.unlink()
    if args.weights == "save":
        res["save_s"] = time.perf_counter() - t0
        res["saved_bytes"] = folder_bytes(model_dir)
        say(f"saved to {model_dir} ({res['saved_bytes'] / 1e9:.2f} GB safetensors+processor) in {res['save_s']:.1f} s")
        del model
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
        return contextlib.nullcontext()
    import harness.models.loading as loading

    built = model
    del model

    def in_memory(ref, device="cpu", dtype="float32"):
        return built.to(device).eval(), loading.load_processor(ref)

    return mock.patch.object(loading, "load_vlm", in_memory)


def load_backend(args, say: Report, res: dict, model_dir: Path, patch):
    """HFBackend on the saved folder (or the built model, under ``patch``), timed."""
    from harness.verifiers.hf import HFBackend

    manifest = make_manifest(model_dir, args)
    t0 = time.perf_counter()
    with patch:
        backend = HFBackend(manifest)
    sync()
    res["load_s"] = time.perf_counter() - t0
    res["backend_device"] = backend.device
    res["backend_model_dtype"] = str(backend.model.dtype).removeprefix("torch.")
    say(f"HFBackend loaded on {backend.device} ({res['backend_model_dtype']}) in {res['load_s']:.1f} s "
        f"[{'from safetensors' if args.weights == 'save' else 'in memory, no load'}]")
    if not args.no_force_length:
        backend.model.generation_config.min_new_tokens = args.max_new_tokens
    return backend


def prepare_batches(args, say: Report, res: dict, backend) -> tuple[list, list[list]]:
    """The requests in batches of --batch-size, and the CPU preprocessing of one batch timed apart."""
    from harness.models.generate import user_message

    t0 = time.perf_counter()
    requests = build_requests(args.items, args.k, args.image_size, args.seed)
    res["requests_build_s"] = time.perf_counter() - t0
    res["image_tokens_per_image"] = image_tokens_per_image(backend.processor, args.image_size)
    bs = args.batch_size
    batches = [requests[i:i + bs] for i in range(0, len(requests), bs)]
    # CPU preprocessing (chat template + image processor) of one batch, timed apart: it runs inside
    # HFBackend's generate call too, while the GPU waits.
    t0 = time.perf_counter()
    sample = batches[0]
    texts = [backend.processor.apply_chat_template(user_message(r.images, r.prompt), add_generation_prompt=True,
                                                   tokenize=False) for r in sample]
    backend.processor(text=texts, images=[r.images for r in sample], return_tensors="pt", padding=True)
    res["cpu_preprocess_s_first_batch"] = time.perf_counter() - t0
    say(f"{len(requests)} requests ({args.items} items x {args.k}) in {len(batches)} batches of <= {bs}; "
        f"{res['image_tokens_per_image']} image tokens per image; CPU preprocessing of one batch "
        f"{res['cpu_preprocess_s_first_batch']:.2f} s (inside the timed calls)")
    return requests, batches


def judge_batches(args, say: Report, backend, batches: list[list]):
    """Judge batch by batch within the time budget: (judgments, seconds and size of each batch, stopped early)."""
    judgments, batch_s, batch_n = [], [], []
    stopped_early = False
    for i, batch in enumerate(batches):
        elapsed = time.perf_counter() - T_START
        estimate = max(batch_s[1:] or batch_s or [0.0])
        if i > 0 and elapsed + estimate > args.time_budget_s:
            stopped_early = True
            say(f"time budget: {elapsed:.0f} s elapsed, next batch ~{estimate:.1f} s would pass "
                f"{args.time_budget_s:.0f} s; stopping after {i}/{len(batches)} batches and extrapolating")
            break
        sync()
        t0 = time.perf_counter()
        out = backend.judge(batch)
        sync()
        dt = time.perf_counter() - t0
        judgments.extend(out)
        batch_s.append(dt)
        batch_n.append(len(batch))
        if i < 3 or i % 10 == 0 or i == len(batches) - 1:
            say(f"  batch {i + 1}/{len(batches)}: {len(batch)} judgments in {dt:.2f} s "
                f"({len(batch) / dt:.1f}/s); total elapsed {time.perf_counter() - T_START:.0f} s")
    return judgments, batch_s, batch_n, stopped_early


# --------------------------------------------------------------------------- figures


def figures(args, res: dict, requested: int, judgments: list, batch_s: list[float], batch_n: list[int],
            stopped_early: bool, backend_device_s) -> dict:
    n = len(judgments)
    ok = [j for j in judgments if j.error is None]
    wall = sum(batch_s)
    res |= {
        "judged": n, "requested": requested, "errors": n - len(ok), "stopped_by_time_budget": stopped_early,
        "first_error": next((j.error for j in judgments if j.error), None),
        "judge_wall_s": wall, "backend_device_seconds": backend_device_s,
        "batch_seconds": [round(s, 3) for s in batch_s],
        "judgments_per_s": n / wall if wall else None,
        "gpu_s_per_1000_judgments": wall / n * 1000 if n else None,
        "mean_input_tokens": sum(j.input_tokens for j in ok) / len(ok) if ok else None,
        "mean_output_tokens": sum(j.output_tokens for j in ok) / len(ok) if ok else None,
        "sample_outputs": [j.text for j in ok[:3]],
    }
    # Steady state leaves the first batch out (CUDA/cuBLAS warm-up, allocator growth).
    if len(batch_s) > 1:
        steady = sum(batch_s[1:]) / sum(batch_n[1:])
        res["steady_judgments_per_s"] = 1 / steady
    else:
        steady = wall / n if n else None
        res["steady_judgments_per_s"] = None
    extrapolation(args, res, n, requested, batch_s, batch_n, steady)
    return res


def extrapolation(args, res: dict, n: int, requested: int, batch_s: list[float], batch_n: list[int],
                  steady) -> None:
    """From ``n`` judgments: GPU-minutes for 200 x 8 judgments (and for the requested ones), with and without
    the load, against the target; the cost if --usd-per-gpu-hour is given."""

    def extrapolate(total: int) -> float | None:
        """Seconds for ``total`` judgments: the first batch as measured, the rest at the steady rate."""
        if not n:
            return None
        return batch_s[0] + steady * max(0, total - batch_n[0])

    target_total = TARGET_ITEMS * TARGET_K
    res["extrapolated_gpu_minutes_200x8"] = extrapolate(target_total) / 60 if n else None
    res["extrapolated_gpu_minutes_requested"] = extrapolate(requested) / 60 if n else None
    # With the load (a real run loads the verifier once; the save is bench-only and left out).
    res["extrapolated_gpu_minutes_200x8_with_load"] = (
        (extrapolate(target_total) + res["load_s"]) / 60 if n else None)
    res["target_gpu_minutes_200x8"] = TARGET_GPU_MINUTES
    if n:
        res["meets_target"] = res["extrapolated_gpu_minutes_200x8"] <= TARGET_GPU_MINUTES
        res["meets_target_with_load"] = res["extrapolated_gpu_minutes_200x8_with_load"] <= TARGET_GPU_MINUTES
    if args.usd_per_gpu_hour > 0 and n:
        usd_per_minute = args.usd_per_gpu_hour / 60
        res["extrapolated_usd_200x8_with_load"] = res["extrapolated_gpu_minutes_200x8_with_load"] * usd_per_minute
