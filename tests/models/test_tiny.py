"""Tiny Qwen VL models build with the real classes, reload offline and answer about images."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from harness.config import ModelRef, TinySpec
from harness.models.generate import generate
from harness.models.loading import load_processor, load_vlm
from harness.models.processing import ImageOnlyQwen2_5_VLProcessor, ImageOnlyQwen3VLProcessor
from harness.models.tiny import build_tokenizer, ensure_tiny

EXPECTED = {
    "qwen2_5_vl": ("Qwen2_5_VLForConditionalGeneration", ImageOnlyQwen2_5_VLProcessor),
    "qwen3_vl": ("Qwen3VLForConditionalGeneration", ImageOnlyQwen3VLProcessor),
}


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_reload_offline_with_real_classes(tiny_model_dirs, family):
    model, processor = load_vlm(ModelRef(path=tiny_model_dirs[family]))
    cls_name, proc_cls = EXPECTED[family]
    assert type(model).__name__ == cls_name
    assert type(processor) is proc_cls  # not a bare tokenizer
    assert model.num_parameters() < 1_000_000
    saved = json.loads((tiny_model_dirs[family] / "config.json").read_text())
    assert saved["model_type"] == family


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_answers_an_image_question_and_looks_at_the_image(tiny_model_dirs, family):
    model, processor = load_vlm(ModelRef(path=tiny_model_dirs[family]))
    red, blue = Image.new("RGB", (64, 64), (255, 0, 0)), Image.new("RGB", (64, 64), (0, 0, 255))
    out = generate(model, processor, [([red], "What colour? (A) red (B) blue"), ([blue], "What colour?")],
                   max_new_tokens=3)
    assert len(out) == 2 and all(len(o) == 1 and isinstance(o[0], str) for o in out)
    # The image reaches the logits: two images, same text, different next-token distributions.
    logits = []
    for img in (red, blue):
        text = processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Colour?"}]}],
            add_generation_prompt=True, tokenize=False)
        inputs = processor(text=[text], images=[[img]], return_tensors="pt")
        n_pad = int((inputs["input_ids"] == model.config.image_token_id).sum())
        assert n_pad == (64 // 8 // 2) ** 2  # 8x8 patches merged 2x2
        with torch.no_grad():
            logits.append(model(**inputs).logits[0, -1])
    assert not torch.allclose(logits[0], logits[1])


def test_sampling_is_reproducible_with_a_seed(tiny_model_dirs):
    model, processor = load_vlm(ModelRef(path=tiny_model_dirs["qwen3_vl"]))
    img = Image.new("RGB", (64, 64), (0, 200, 0))
    a = generate(model, processor, [([img], "Say")], max_new_tokens=4, do_sample=True, num_return_sequences=4, seed=3)
    b = generate(model, processor, [([img], "Say")], max_new_tokens=4, do_sample=True, num_return_sequences=4, seed=3)
    assert a == b and len(a[0]) == 4


def test_answer_letters_and_digits_are_single_tokens():
    tok = build_tokenizer(384)
    for s in ["A", "B", "C", "D", "1", "4"]:
        assert len(tok(s, add_special_tokens=False)["input_ids"]) == 1
    for special in ["<|image_pad|>", "<|vision_start|>", "<|im_end|>"]:
        assert tok.convert_tokens_to_ids(special) != tok.unk_token_id


def test_folder_without_a_processor_is_an_error(tmp_path):
    with pytest.raises(Exception):  # noqa: B017 - transformers raises OSError or ValueError by version
        load_processor(ModelRef(path=tmp_path))


def test_hub_reference_needs_a_pinned_revision():
    with pytest.raises(ValueError, match="pinned revision"):
        ModelRef(hub_id="Qwen/Qwen3-VL-2B-Instruct")
    with pytest.raises(ValueError, match="exactly one"):
        ModelRef(hub_id="Qwen/Qwen3-VL-2B-Instruct", revision="abc", path="/tmp")


def test_ensure_tiny_builds_once_and_reuses(tmp_path):
    spec = TinySpec(family="qwen2_5_vl", seed=5)
    first = ensure_tiny(spec, tmp_path)
    mtime = (first / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny(spec, tmp_path) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == mtime
    assert ensure_tiny(TinySpec(family="qwen2_5_vl", seed=6), tmp_path) != first
