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
import contextlib
import gc
import json
import logging
import math
import os
import platform
import random
import shutil
import subprocess
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

logger = logging.getLogger("bench.audit_gpu")

TARGET_GPU_MINUTES = 5.0  # goal: <= 5 GPU-minutes for 200 x 8 judgments on one H100
TARGET_ITEMS, TARGET_K = 200, 8

# Qwen3-VL-8B-Instruct's published config.json (Qwen3VLForConditionalGeneration, transformers
# 4.57), as copied in NVIDIA/TensorRT-LLM tests/unittest/_torch/modeling/test_modeling_qwen3vl.py
# (QWEN3_VL_8B_CONFIG, _name_or_path ".../Qwen3/Qwen3-VL-8B-Instruct"; that test trims
# num_hidden_layers to 4 and notes "36 layers for full model"), cross-checked against a full copy
# (num_hidden_layers 36) in a public Swift test fixture of a Qwen3-VL-8B-based model, and the
# Cosmos-Reason2-8B (a Qwen3-VL-8B fine-tune) config; the text/vision values below are identical
# in all three. The token ids (151643.. in the release) are replaced by our tokenizer's ids.
# Vision rope: transformers' Qwen3VLVisionConfig default (axial); the release sets none.
QWEN3_VL_8B_TEXT = {
    "vocab_size": 151936,
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
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
QWEN3_VL_8B_VISION = {
    "depth": 27,
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_heads": 16,
    "hidden_act": "gelu_pytorch_tanh",
    "in_channels": 3,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "out_hidden_size": 4096,
    "num_position_embeddings": 2304,
    "deepstack_visual_indexes": [8, 16, 24],
}
# The released preprocessor_config.json of the Qwen3-VL checkpoints (Qwen2VLImageProcessor):
# size {shortest_edge 65536, longest_edge 16777216} pixels, patch 16, temporal 2, merge 2, mean/std 0.5.
QWEN3_VL_PROCESSOR = {
    "size": {"shortest_edge": 65536, "longest_edge": 16777216},
    "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
}

# Text the bench tokenizer is trained on besides harness.models.tiny's corpus, so that the rubric
# prompts tokenize about as compactly as with Qwen's 151k-token BPE (about one token per word)
# rather than byte by byte.
_EXTRA_CORPUS = [
    "You are checking a student's answer to a question about the image(s). Question: Student's answer: "
    "Is the student's answer correct? Reply with a JSON object only, for example {\"score\": 0.9}, "
    "where score is the probability (0 to 1) that the student's answer is correct.",
    "Which shape is at the top left of the image? Which colour is the largest shape? How many shapes are there? "
    "Is the circle above the square? Which shape is closest to the centre of the image?",
    "Answer with the option's letter from the given choices directly. The answer is (A) (B) (C) (D) (E) "
    "circle square triangle rectangle ellipse star red green blue yellow purple orange one two three four five",
]


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


class Report:
    """Collects the printed report so it is also written to a file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


# --------------------------------------------------------------------------- model pieces


def build_bench_tokenizer(kind: str):
    """Our locally built byte-level BPE tokenizer (Qwen special tokens + chat template)."""
    from harness.models import tiny

    if kind == "harness":
        return tiny.build_tokenizer(384)
    with mock.patch.object(tiny, "_CORPUS", list(tiny._CORPUS) + _EXTRA_CORPUS):
        return tiny.build_tokenizer(2048)


def token_ids(tokenizer) -> dict[str, int]:
    from harness.models.tiny import SPECIAL_TOKENS

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    assert all(isinstance(i, int) and i >= 0 for i in ids.values()), ids
    return ids


def make_config(scale: str, tokenizer, image_size: int):
    """The Qwen3VLConfig: the 8B release values (full) or tiny sizes (tiny), with our token ids."""
    from transformers import Qwen3VLConfig

    from harness.config import TinySpec

    ids = token_ids(tokenizer)
    if scale == "full":
        text, vision = json.loads(json.dumps(QWEN3_VL_8B_TEXT)), dict(QWEN3_VL_8B_VISION)
    else:
        spec = TinySpec(family="qwen3_vl", image_size=image_size)
        text = {
            "vocab_size": QWEN3_VL_8B_TEXT["vocab_size"],  # the real vocab width: exercises decoding of ids
            "hidden_size": spec.hidden_size,               # beyond our tokenizer, as the 8B run does
            "intermediate_size": spec.hidden_size * 2,
            "num_hidden_layers": spec.layers,
            "num_attention_heads": spec.heads,
            "num_key_value_heads": spec.heads // 2,  # grouped-query attention, as in the 8B
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
             "pad_token_id": ids["<|endoftext|>"]}
    return Qwen3VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=False,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )


def make_processor(scale: str, tokenizer, image_size: int):
    """The image-only Qwen3-VL processor: the released image settings (full) or tiny's (tiny)."""
    from harness.config import TinySpec
    from harness.models.processing import IMAGE_ONLY_PROCESSORS
    from harness.models.tiny import CHAT_TEMPLATE, _image_processor

    if scale == "full":
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        image_processor = Qwen2VLImageProcessorPil(**json.loads(json.dumps(QWEN3_VL_PROCESSOR)))
    else:
        image_processor = _image_processor(TinySpec(family="qwen3_vl", image_size=image_size))
    return IMAGE_ONLY_PROCESSORS["qwen3_vl"](
        image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )


def count_parameters(model) -> dict[str, int]:
    """Parameters by part: vision tower (with merger), language model, lm_head."""
    parts = {"vision": 0, "language_model": 0, "lm_head": 0, "other": 0}
    for name, p in model.named_parameters():
        key = ("vision" if ".visual." in f".{name}" else "language_model" if "language_model" in name
               else "lm_head" if name.startswith("lm_head") else "other")
        parts[key] += p.numel()
    parts["total"] = sum(parts.values())
    return parts


def architecture_of(config, parameters: dict[str, int]) -> dict[str, int]:
    """The built model's cost geometry in harness.hardware.Architecture's fields, so that
    ``ladder run --dry-run --rates`` can relate this measurement to its roofline."""
    text, vision = config.text_config, config.vision_config
    return {"parameters": parameters["total"], "layers": text.num_hidden_layers, "kv_heads": text.num_key_value_heads,
            "head_dim": text.head_dim, "pixels_per_token": vision.patch_size * vision.spatial_merge_size}


def build_model(config, device: str, dtype, seed: int):
    """Random-init model built directly on ``device`` in ``dtype`` (never an fp32 copy in CPU RAM)."""
    import torch
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    return model.eval()


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
    from harness.stages.audit import render_rubric
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


# --------------------------------------------------------------------------- helpers


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def nvidia_smi() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        return subprocess.run([exe], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return f"nvidia-smi failed: {err}"


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def image_tokens_per_image(processor, image_size: int) -> int:
    """How many image-pad tokens the processor makes for one image of this size."""
    from PIL import Image

    from harness.models.generate import user_message

    text = processor.apply_chat_template(user_message([None], "x"), add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=[[Image.new("RGB", (image_size, image_size), "white")]], return_tensors="pt")
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    return int((enc["input_ids"] == image_id).sum())


def environment() -> dict:
    import PIL
    import torch
    import transformers

    env = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "pillow": PIL.__version__, "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        env |= {"device_name": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
                "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)}
    else:
        env["device_name"] = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    return env


# --------------------------------------------------------------------------- runs


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
        return _save_load_judge(args, say, res, model, processor, model_dir, device)
    finally:
        if not args.keep_model:
            shutil.rmtree(tmp_root or model_dir, ignore_errors=True)


def _save_load_judge(args, say: Report, res: dict, model, processor, model_dir: Path, device: str) -> dict:
    import torch

    from harness.models.generate import user_message
    from harness.verifiers.hf import HFBackend

    cuda = device == "cuda"
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
        patch = contextlib.nullcontext()
    else:
        import harness.models.loading as loading

        built = model
        del model

        def in_memory(ref, device="cpu", dtype="float32"):
            return built.to(device).eval(), loading.load_processor(ref)

        patch = mock.patch.object(loading, "load_vlm", in_memory)
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    # -- load through the backend
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

    # -- workload
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

    # -- judge, batch by batch, within the time budget
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
    backend_device_s = backend.device_seconds
    if cuda:
        res["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        res["peak_gpu_memory_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
    backend.close()

    # -- figures
    n = len(judgments)
    ok = [j for j in judgments if j.error is None]
    wall = sum(batch_s)
    res |= {
        "judged": n, "requested": len(requests), "errors": n - len(ok), "stopped_by_time_budget": stopped_early,
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

    def extrapolate(total: int) -> float | None:
        """Seconds for ``total`` judgments: the first batch as measured, the rest at the steady rate."""
        if not n:
            return None
        return batch_s[0] + steady * max(0, total - batch_n[0])

    target_total = TARGET_ITEMS * TARGET_K
    res["extrapolated_gpu_minutes_200x8"] = extrapolate(target_total) / 60 if n else None
    res["extrapolated_gpu_minutes_requested"] = extrapolate(len(requests)) / 60 if n else None
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
    return res


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    out = Path(args.out or os.environ.get("OUT") or "bench-out")
    out.mkdir(parents=True, exist_ok=True)
    say = Report()
    env = environment()
    say(f"audit_gpu: {env['device_name']}; python {env['python']}, torch {env['torch']}, "
        f"transformers {env['transformers']}")
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
    res["environment"] = env
    res["total_wall_s"] = time.perf_counter() - T_START
    smi = nvidia_smi()
    if smi:
        res["nvidia_smi"] = smi
        say("")
        say("nvidia-smi:")
        for line in smi.rstrip().splitlines():
            say(line)
    say(f"total wall: {res['total_wall_s']:.1f} s; wrote {out / 'audit_gpu.json'}")
    (out / "audit_gpu.json").write_text(json.dumps(res, indent=2, default=str))
    (out / "audit_gpu_report.txt").write_text("\n".join(say.lines) + "\n")
    return 1 if "error" in res else 0


if __name__ == "__main__":
    sys.exit(main())
