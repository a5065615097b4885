"""Tiny Qwen VL models built from a config with the real architecture classes, fully offline.

The real protocol loads Qwen3-VL-2B / Qwen2.5-VL-3B students and multi-billion-parameter
verifiers from the hub. Tests and the CPU demo need the same code paths on models that build
in seconds: the real ``Qwen2_5_VLForConditionalGeneration`` / ``Qwen3VLForConditionalGeneration``
classes with a 64-wide, 2-layer text model and a 2-block vision tower, a byte-level BPE
tokenizer trained here on a small fixed corpus (with Qwen's special tokens and a Qwen-style
chat template), and the image-only processors of :mod:`harness.models.processing`.
Weights are random until a stage trains them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from harness.config import TinySpec
from harness.models.processing import IMAGE_ONLY_PROCESSORS

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|image_pad|>", "<|video_pad|>",
]  # fmt: skip

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Text the tokenizer is trained on: the shapes prompts, rubric words and digits, so that
# prompts tokenize compactly; every single byte is in the vocabulary anyway.
_CORPUS = [
    "How many shapes are in the image? What colour is the square circle triangle? Where is the shape?",
    "red green blue yellow purple orange black cyan top left top right bottom left bottom right",
    "Answer with the option's letter from the given choices directly. (A) (B) (C) (D) A B C D",
    "Answer the question using a single word or phrase. The answer is 0 1 2 3 4 5 6 7 8 9 . , %",
    'Question: Candidate answer: Is the candidate answer correct? Reply with JSON {"score": 0.5}',
    "user assistant system\n",
]


def build_tokenizer(vocab_size: int):
    """A byte-level BPE fast tokenizer with Qwen's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def image_processor(spec: TinySpec):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    unit = spec.patch_size * 2  # patch x spatial merge
    return Qwen2VLImageProcessorPil(
        patch_size=spec.patch_size,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=unit * unit,
        max_pixels=spec.image_size * spec.image_size,
    )


def _config(spec: TinySpec, tokenizer):
    from transformers import Qwen2_5_VLConfig, Qwen3VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.hidden_size * 2,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.heads,
        "head_dim": spec.head_dim,
        "max_position_embeddings": 2048,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": spec.mrope_section()},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision = {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_width,
        "intermediate_size": spec.vision_width * 2,
        "num_heads": spec.heads,
        "patch_size": spec.patch_size,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": spec.hidden_size,
    }
    tokens = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    if spec.family == "qwen2_5_vl":
        vision |= {"window_size": spec.patch_size * 4, "fullatt_block_indexes": [spec.vision_depth - 1]}
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **tokens)
    text["rope_parameters"]["mrope_interleaved"] = True
    vision |= {
        "num_position_embeddings": (spec.image_size // spec.patch_size) ** 2,
        "deepstack_visual_indexes": [spec.vision_depth - 1],
    }
    return Qwen3VLConfig(text_config=text, vision_config=vision, **tokens)


def build_tiny(spec: TinySpec):
    """Return ``(model, processor)`` for ``spec`` with seeded random weights."""
    from transformers import AutoModelForImageTextToText

    tokenizer = build_tokenizer(spec.vocab_size)
    processor = IMAGE_ONLY_PROCESSORS[spec.family](
        image_processor=image_processor(spec), tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    torch.manual_seed(spec.seed)
    model = AutoModelForImageTextToText.from_config(_config(spec, tokenizer))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, processor


def save_tiny(spec: TinySpec, folder: str | Path) -> Path:
    """Build the tiny model and save model, processor and spec to ``folder`` (loadable offline)."""
    folder = Path(folder)
    model, processor = build_tiny(spec)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    (folder / "tiny_spec.json").write_text(spec.model_dump_json(indent=2))
    logger.info("saved tiny %s (%d parameters) to %s", spec.family, model.num_parameters(), folder)
    return folder


def ensure_tiny(spec: TinySpec, root: str | Path) -> Path:
    """The folder of ``spec``'s tiny model under ``root``, building it on first use.

    Folders are named by a hash of the spec, so a changed spec never reuses a stale model;
    a half-written folder (no ``tiny_spec.json``, which is written last) is rebuilt.
    """
    import hashlib

    digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:12]
    folder = Path(root) / f"{spec.family}-{digest}"
    if not (folder / "tiny_spec.json").exists():
        save_tiny(spec, folder)
    return folder


def save_value_head(hidden_size: int, folder: str | Path, seed: int = 0, filename: str = "value_head.safetensors",
                    weight=None, bias=None) -> Path:
    """Write a value head (TRL's ``ValueHead`` keys, as Skywork-VL-Reward and LLaMA-Factory publish it) beside a
    saved backbone: ``weight`` [1, hidden] if given, else seeded normal weights of std 1/sqrt(hidden); ``bias`` [1]
    if given, else 0.
    With :func:`save_tiny`, a tiny reward model in the layout ``harness.verifiers.reward_model`` loads."""
    import torch
    from safetensors.torch import save_file

    if weight is None:
        gen = torch.Generator().manual_seed(seed)
        weight = torch.randn(1, hidden_size, generator=gen) / hidden_size ** 0.5
    path = Path(folder) / filename
    save_file({"v_head.summary.weight": weight.detach().float().contiguous(),
               "v_head.summary.bias": torch.zeros(1) if bias is None else bias.detach().float().reshape(1)},
              str(path))
    return path
