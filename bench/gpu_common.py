"""What the GPU benchmarks (bench/audit_gpu.py, bench/selfdpo_gpu.py) share.

Importing this module is the benchmarks' preamble: it starts the wall clock (``T_START``), puts the
repository root on ``sys.path`` (the scripts run as ``python bench/<script>.py``, also on a GPU host
where the project is not installed) and defaults ``HF_HUB_OFFLINE`` to 1 (random weights: nothing is
fetched). Besides: the printed report, the bench tokenizer, the image-only Qwen3-VL processor, the
Qwen3VLConfig builder (release sizes or tiny ones), the random-init model builder, parameter counts,
the environment and nvidia-smi records, CUDA syncing and stage timing, and the run/write steps of
both scripts' ``main``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

T_START = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights; nothing is fetched

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
EXTRA_CORPUS = [
    "You are checking a student's answer to a question about the image(s). Question: Student's answer: "
    "Is the student's answer correct? Reply with a JSON object only, for example {\"score\": 0.9}, "
    "where score is the probability (0 to 1) that the student's answer is correct.",
    "Which shape is at the top left of the image? Which colour is the largest shape? How many shapes are there? "
    "Is the circle above the square? Which shape is closest to the centre of the image?",
    "Answer with the option's letter from the given choices directly. The answer is (A) (B) (C) (D) (E) "
    "circle square triangle rectangle ellipse star red green blue yellow purple orange one two three four five",
]


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
    with mock.patch.object(tiny, "_CORPUS", list(tiny._CORPUS) + EXTRA_CORPUS):
        return tiny.build_tokenizer(2048)


def token_ids(tokenizer) -> dict[str, int]:
    from harness.models.tiny import SPECIAL_TOKENS

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    assert all(isinstance(i, int) and i >= 0 for i in ids.values()), ids
    return ids


#: The published text-config fields a benchmark model keeps (sizes, attention, norms); token ids are our tokenizer's.
RELEASE_TEXT_FIELDS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                       "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "rms_norm_eps",
                       "attention_bias")


def release_text_vision(hub_id: str) -> tuple[dict, dict, bool]:
    """The text and vision sections of ``hub_id``'s published ``config.json`` (kept in harness/models/published;
    its sources.json says where each was found), the rotary settings in transformers 5's ``rope_parameters``, and
    whether the embeddings are tied. Vision rope: transformers' default (axial); the release sets none."""
    from harness.models.published import published_json

    config = published_json(hub_id, "config.json")
    released = config["text_config"]
    text = {k: released[k] for k in RELEASE_TEXT_FIELDS if k in released}
    text["rope_parameters"] = {**released["rope_scaling"], "rope_theta": float(released["rope_theta"])}
    vision = {k: v for k, v in config["vision_config"].items() if k not in ("model_type", "initializer_range")}
    return text, vision, bool(config.get("tie_word_embeddings"))


def tiny_text_vision(image_size: int, vocab_size: int, ffn_factor: int) -> tuple[dict, dict]:
    """Tiny Qwen3-VL text and vision sizes (harness's TinySpec) with the release's ``vocab_size``
    and grouped-query attention; the text FFN is ``ffn_factor`` x the hidden width."""
    from harness.config import TinySpec

    spec = TinySpec(family="qwen3_vl", image_size=image_size)
    text = {
        "vocab_size": vocab_size,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.hidden_size * ffn_factor,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.heads // 2,
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
    return text, vision


def qwen3_vl_config(tokenizer, text: dict, vision: dict, tie_word_embeddings: bool = False):
    """The Qwen3VLConfig of ``text`` and ``vision`` (updated in place) with our tokenizer's token ids.

    A tied lm_head is declared in the text config too, as the released tied checkpoints do."""
    from transformers import Qwen3VLConfig

    ids = token_ids(tokenizer)
    largest = max(ids.values())
    if largest >= text["vocab_size"]:
        raise ValueError(f"tokenizer id {largest} >= vocab_size {text['vocab_size']}")
    text |= {"bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
             "pad_token_id": ids["<|endoftext|>"]}
    if tie_word_embeddings:
        text["tie_word_embeddings"] = True
    return Qwen3VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=tie_word_embeddings,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )


def make_processor(scale: str, tokenizer, image_size: int):
    """The image-only Qwen3-VL processor: the released image settings (full) or tiny's (tiny)."""
    from harness.config import TinySpec
    from harness.models import tiny
    from harness.models.processing import IMAGE_ONLY_PROCESSORS

    if scale == "full":
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        images = Qwen2VLImageProcessorPil(**json.loads(json.dumps(QWEN3_VL_PROCESSOR)))
    else:
        images = tiny.image_processor(TinySpec(family="qwen3_vl", image_size=image_size))
    return IMAGE_ONLY_PROCESSORS["qwen3_vl"](
        image_processor=images, tokenizer=tokenizer, chat_template=tiny.CHAT_TEMPLATE
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


def image_tokens_per_image(processor, image_size: int) -> int:
    """How many image-pad tokens the processor makes for one image of this size."""
    from PIL import Image

    from harness.models.generate import user_message

    text = processor.apply_chat_template(user_message([None], "x"), add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=[[Image.new("RGB", (image_size, image_size), "white")]], return_tensors="pt")
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    return int((enc["input_ids"] == image_id).sum())


# --------------------------------------------------------------------------- device, timing, environment


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class Clock:
    """Stage timing against the budget; syncs CUDA so that times are device times."""

    def __init__(self, budget_s: float, cuda: bool):
        self.budget_s, self.cuda = budget_s, cuda

    def elapsed(self) -> float:
        return time.perf_counter() - T_START

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def sync(self) -> None:
        sync()

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


def nvidia_smi() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        return subprocess.run([exe], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return f"nvidia-smi failed: {err}"


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


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("trl", "peft", "datasets", "accelerate", "pyarrow", "huggingface_hub"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


# --------------------------------------------------------------------------- main's steps


def start(out: str | None, quiet: tuple[str, ...]) -> Path:
    """Log at INFO (the ``quiet`` loggers at WARNING) and make the output folder: ``out``, else $OUT,
    else ./bench-out."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    folder = Path(out or os.environ.get("OUT") or "bench-out")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def measure(run: Callable, report: Callable, args, say: Report, env: dict) -> dict:
    """``run(args, say, res)``, then ``report(res, env, say)``; a failure is recorded in ``res``, which
    keeps what was measured up to it."""
    res: dict = {}
    try:
        run(args, say, res)
    except (Exception, KeyboardInterrupt) as err:  # keep what was measured up to the failure
        import traceback

        res["error"] = f"{type(err).__name__}: {err}"
        res["traceback"] = traceback.format_exc()
        say(f"FAILED: {res['error']}")
        say(res["traceback"])
    else:
        report(res, env, say)
    return res


def finish(name: str, res: dict, env: dict, say: Report, out: Path) -> int:
    """Add the environment, the total wall time and nvidia-smi to ``res``; write ``<name>.json`` and
    ``<name>_report.txt`` to ``out``. Returns the exit status: 1 if the run failed."""
    res["environment"] = env
    res["total_wall_s"] = time.perf_counter() - T_START
    smi = nvidia_smi()
    if smi:
        res["nvidia_smi"] = smi
        say("")
        say("nvidia-smi:")
        for line in smi.rstrip().splitlines():
            say(line)
    say(f"total wall: {res['total_wall_s']:.1f} s; wrote {out / f'{name}.json'}")
    (out / f"{name}.json").write_text(json.dumps(res, indent=2, default=str))
    (out / f"{name}_report.txt").write_text("\n".join(say.lines) + "\n")
    return 1 if "error" in res else 0
