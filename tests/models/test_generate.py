"""Generation runs with the protocol's decoding settings, whatever a checkpoint's generation_config.json says."""

from __future__ import annotations

import pytest

from harness.config import ModelRef
from harness.models.generate import generate_batch, owned_generation_config
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
