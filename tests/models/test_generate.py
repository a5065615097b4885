"""Generation runs with the protocol's decoding settings, whatever a checkpoint's generation_config.json says."""

from __future__ import annotations

import pytest

from harness.config import DecodingConfig, ModelRef, get_protocol
from harness.models.generate import effective_settings, generate_batch, owned_generation_config, student_generation
from harness.models.loading import load_vlm
from harness.tasks import get_task

# Sampling defaults of the kind published checkpoints ship in generation_config.json: near-greedy sampling, a
# repetition penalty, n-gram blocking. Left to `generate`, they would apply to every call that does not name them.
CHECKPOINT_DEFAULTS = {"do_sample": True, "temperature": 0.1, "top_p": 0.001, "top_k": 1, "repetition_penalty": 1.05,
                       "no_repeat_ngram_size": 2, "length_penalty": 2.0}


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_a_checkpoints_sampling_defaults_change_nothing(tiny_model_dirs, family):
    model, processor = load_vlm(ModelRef(path=tiny_model_dirs[family]), device="cpu", dtype="float32")
    prompts = [(it.images, it.prompt) for it in get_task("shapes").items()[:8]]

    def texts(do_sample: bool) -> list[list[str]]:
        return generate_batch(model, processor, prompts, max_new_tokens=8, do_sample=do_sample,
                              num_return_sequences=4 if do_sample else 1, seed=3).texts

    clean = {False: texts(False), True: texts(True)}
    assert len({t for row in clean[True] for t in row}) > len(prompts), "sampling gives several answers per prompt"
    for name, value in CHECKPOINT_DEFAULTS.items():
        setattr(model.generation_config, name, value)
    assert texts(False) == clean[False] and texts(True) == clean[True]


def test_the_effective_settings_keep_only_the_checkpoints_token_ids():
    from transformers import GenerationConfig

    checkpoint = GenerationConfig(bos_token_id=1, eos_token_id=[7, 8], pad_token_id=0, **CHECKPOINT_DEFAULTS)
    sampled = owned_generation_config(checkpoint, max_new_tokens=64, do_sample=True, temperature=1.0, top_p=0.95,
                                      num_return_sequences=8)
    assert (sampled.bos_token_id, sampled.eos_token_id, sampled.pad_token_id) == (1, [7, 8], 0)
    assert (sampled.do_sample, sampled.temperature, sampled.top_p, sampled.top_k) == (True, 1.0, 0.95, 0)
    assert sampled.repetition_penalty == 1.0
    assert sampled.no_repeat_ngram_size in (None, 0) and sampled.length_penalty in (None, 1.0)  # unset: off
    assert (sampled.max_new_tokens, sampled.num_return_sequences) == (64, 8)
    greedy = owned_generation_config(checkpoint, max_new_tokens=16, do_sample=False)
    assert not greedy.do_sample and greedy.repetition_penalty == 1.0 and greedy.eos_token_id == [7, 8]


def test_the_protocols_decoding_replaces_the_defaults_it_names():
    from transformers import GenerationConfig

    checkpoint = GenerationConfig(eos_token_id=[7, 8], **CHECKPOINT_DEFAULTS)
    config = owned_generation_config(checkpoint, DecodingConfig(top_k=50, repetition_penalty=1.1,
                                                                keep_from_checkpoint=("pad_token_id",)),
                                     max_new_tokens=8, do_sample=True)
    assert (config.top_k, config.repetition_penalty, config.eos_token_id) == (50, 1.1, None)


# What the production students publish (harness/models/published, sources.json): Qwen3-VL samples at temperature
# 0.7 with top_p 0.8 and top_k 20; Qwen2.5-VL at temperature 1e-6 (near-greedy) with a repetition penalty of 1.05.
PUBLISHED_DEFAULTS = {
    "Qwen/Qwen3-VL-2B-Instruct": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.0},
    "Qwen/Qwen2.5-VL-3B-Instruct": {"temperature": 1e-6, "repetition_penalty": 1.05},
}


@pytest.mark.parametrize("student", get_protocol("production").students, ids=lambda s: s.name)
def test_the_effective_settings_of_each_production_student(student):
    """The published generation_config.json of each production student, and what the production protocol runs it
    with: its EOS list and padding kept, every sampling default replaced."""
    protocol = get_protocol("production")
    record = student_generation(student.model.describe(), protocol)
    checkpoint = record["checkpoint_defaults"]
    assert "published copy" in record["read_from"]
    assert {k: checkpoint.get(k) for k in PUBLISHED_DEFAULTS[student.model.hub_id]} == \
        PUBLISHED_DEFAULTS[student.model.hub_id]
    assert checkpoint["eos_token_id"] == [151645, 151643]  # <|im_end|>, <|endoftext|>
    common = {"top_k": 0, "repetition_penalty": 1.0, "bos_token_id": 151643, "eos_token_id": [151645, 151643],
              "pad_token_id": 151643}
    assert record["effective"] == {
        "audit_candidates": {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 512, **common},
        "selfdpo_candidates": {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 512, **common},
        "evaluation": {"do_sample": False, "temperature": None, "top_p": None, "max_new_tokens": 512,
                       **common, "top_k": None},
        "selfdpo_probes": {"do_sample": False, "temperature": None, "top_p": None, "max_new_tokens": 512,
                           **common, "top_k": None},
    }
    assert effective_settings({}, protocol)["evaluation"]["eos_token_id"] is None  # a checkpoint that ships none
