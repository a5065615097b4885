"""Ask a VLM about images: chat messages for an item, and batched generation.

One function builds the conversation (images first, then the prompt text, as the Qwen VL
chat format expects); one generates for a batch of conversations with left padding, greedy
or sampled, returning only the new text and the token counts that cost accounting needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from harness.config import DecodingConfig


@dataclass(frozen=True)
class Generations:
    """``texts[i]`` holds the sequences of prompt i; token counts align with it."""

    texts: list[list[str]]
    input_tokens: list[int]
    output_tokens: list[list[int]]


def user_message(images: Sequence[Image.Image], text: str) -> list[dict[str, Any]]:
    """A one-turn conversation: the images, then the text."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in images]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


@torch.inference_mode()
def generate_batch(
    model,
    processor,
    prompts: Sequence[tuple[Sequence[Image.Image], str]],
    max_new_tokens: int = 16,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    num_return_sequences: int = 1,
    seed: int | None = None,
    decoding: DecodingConfig | None = None,
) -> Generations:
    """Generate for each ``(images, text)`` with left padding; greedy unless ``do_sample``; the checkpoint's other
    generation defaults replaced as ``decoding`` says (:func:`owned_generation_config`)."""
    if not prompts:
        return Generations([], [], [])
    inputs = _chat_inputs(model, processor, prompts)
    if seed is not None:
        torch.manual_seed(seed)
    config = owned_generation_config(model.generation_config, decoding, max_new_tokens=max_new_tokens,
                                     do_sample=do_sample, temperature=temperature, top_p=top_p,
                                     num_return_sequences=num_return_sequences)
    out = model.generate(**inputs, generation_config=config)
    new = out[:, inputs["input_ids"].shape[1]:]
    eos = processor.tokenizer.eos_token_id
    pad = processor.tokenizer.pad_token_id
    # Generated length: up to and including the first EOS, padding after it excluded.
    lengths = [_generated_length(row.tolist(), eos, pad) for row in new]
    decoded = processor.batch_decode(new, skip_special_tokens=True)
    k = num_return_sequences
    return Generations(
        texts=[decoded[i * k:(i + 1) * k] for i in range(len(prompts))],
        input_tokens=[int(n) for n in inputs["attention_mask"].sum(dim=1).tolist()],
        output_tokens=[lengths[i * k:(i + 1) * k] for i in range(len(prompts))],
    )


def _chat_inputs(model, processor, prompts: Sequence[tuple[Sequence[Image.Image], str]]):
    """The batch as the chat template renders it, up to the assistant's turn, left-padded, on the model's device."""
    texts = [processor.apply_chat_template(user_message(imgs, text), add_generation_prompt=True, tokenize=False)
             for imgs, text in prompts]
    images = [list(imgs) for imgs, _ in prompts]
    return processor(text=texts, images=images if any(images) else None, return_tensors="pt",
                     padding=True).to(model.device)


@torch.inference_mode()
def first_token_logprobs(model, processor, prompts: Sequence[tuple[Sequence[Image.Image], str]]
                         ) -> tuple[torch.Tensor, list[int]]:
    """Log-probabilities over the vocabulary of each prompt's first answer token, (batch, vocab) in float32, and the
    prompts' token counts: one forward pass, no decoding (a log-probability judge's whole work)."""
    inputs = _chat_inputs(model, processor, prompts)
    logits = model(**inputs).logits[:, -1, :].float()  # left padding: the last position is every prompt's end
    return torch.log_softmax(logits, dim=-1), [int(n) for n in inputs["attention_mask"].sum(dim=1).tolist()]


def answered_conversation(images: Sequence[Image.Image], question: str, answer: str) -> list[dict[str, Any]]:
    """The user's turn (images, then the question) and the assistant's answer: what a reward model scores."""
    return [*user_message(images, question), {"role": "assistant", "content": [{"type": "text", "text": answer}]}]


@torch.inference_mode()
def final_hidden_states(model, processor, answered: Sequence[tuple[Sequence[Image.Image], str, str]]
                        ) -> tuple[torch.Tensor, list[int]]:
    """The last layer's hidden state (after the final norm, as ``output_hidden_states`` returns it) at the last token
    of each rendered (images, question, answer) conversation, (batch, hidden) in float32, and the token counts: one
    forward pass, what a value head reads. The last token is found from the attention mask, so the padding side
    does not matter."""
    texts = [processor.apply_chat_template(answered_conversation(imgs, q, a), add_generation_prompt=False,
                                           tokenize=False) for imgs, q, a in answered]
    images = [list(imgs) for imgs, _, _ in answered]
    inputs = processor(text=texts, images=images if any(images) else None, return_tensors="pt",
                       padding=True).to(model.device)
    hidden = model(**inputs, output_hidden_states=True, use_cache=False).hidden_states[-1]
    mask = inputs["attention_mask"]
    last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last].float(), \
        [int(n) for n in mask.sum(dim=1).tolist()]


def owned_generation_config(checkpoint, decoding: DecodingConfig | None = None, *, max_new_tokens: int,
                            do_sample: bool, temperature: float = 1.0, top_p: float = 1.0,
                            num_return_sequences: int = 1):
    """The decoding settings the protocol runs with, whatever the checkpoint's ``generation_config.json`` says.

    Only the fields ``decoding.keep_from_checkpoint`` names (the special token ids) come from ``checkpoint`` (a
    ``GenerationConfig``); the rest is the protocol's (:class:`~harness.config.DecodingConfig`): greedy, or sampling
    at ``temperature`` with nucleus ``top_p`` and ``decoding.top_k`` (0: off); ``decoding.repetition_penalty``; no
    n-gram blocking, no length penalty.
    """
    from transformers import GenerationConfig

    decoding = decoding or DecodingConfig()
    tokens = {name: getattr(checkpoint, name, None) for name in decoding.keep_from_checkpoint}
    sampling = {"do_sample": True, "temperature": temperature, "top_k": decoding.top_k, "top_p": top_p} \
        if do_sample else {"do_sample": False, "temperature": None, "top_k": None, "top_p": None}
    return GenerationConfig(**tokens, **sampling, max_new_tokens=max_new_tokens,
                            num_return_sequences=num_return_sequences,
                            repetition_penalty=decoding.repetition_penalty)


#: The settings :func:`effective_settings` reports: what decides a student's answers.
SETTING_FIELDS = ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens",
                  "bos_token_id", "eos_token_id", "pad_token_id")


def effective_settings(checkpoint: dict, protocol) -> dict[str, dict]:
    """What each student generation of ``protocol`` runs with, given the checkpoint's ``generation_config.json``
    (a dict; ``{}`` if it ships none): per use (audit candidates, self-DPO candidates, evaluation and probes), the
    :data:`SETTING_FIELDS`. Recorded in every result's provenance; pure."""
    from transformers import GenerationConfig

    base = GenerationConfig(**{k: v for k, v in checkpoint.items() if k != "transformers_version"})
    uses = {
        "audit_candidates": {"do_sample": True, "temperature": protocol.audit.temperature,
                             "top_p": protocol.audit.top_p, "max_new_tokens": protocol.audit.max_new_tokens},
        "selfdpo_candidates": {"do_sample": True, "temperature": protocol.selfdpo.temperature, "top_p": 1.0,
                               "max_new_tokens": protocol.selfdpo.max_new_tokens},
        "evaluation": {"do_sample": False, "max_new_tokens": protocol.eval_max_new_tokens},
        "selfdpo_probes": {"do_sample": False, "max_new_tokens": protocol.selfdpo.max_new_tokens},
    }
    out = {}
    for use, kw in uses.items():
        config = owned_generation_config(base, protocol.decoding, **kw)
        out[use] = {name: getattr(config, name, None) for name in SETTING_FIELDS}
    return out


def checkpoint_generation(model: dict) -> tuple[dict, str]:
    """A model's published ``generation_config.json`` and where it was read, from its provenance description
    (``{"path": ...}`` or ``{"hub_id": ..., "revision": ...}``): the saved folder's, else the hub cache's at the
    revision, else the published copy (:mod:`harness.models.published`); ``({}, "none")`` if it ships none."""
    from harness.models.published import model_json

    found = model_json("generation_config.json", model.get("path"), model.get("hub_id"), model.get("revision"))
    return found if found is not None else ({}, "none")


def student_generation(model: dict, protocol) -> dict:
    """The provenance record of how a student generates under ``protocol``: the checkpoint's defaults, where they
    were read, what the protocol decides (``protocol.decoding``) and the effective settings of each use."""
    checkpoint, source = checkpoint_generation(model)
    return {"checkpoint_defaults": checkpoint, "read_from": source, "protocol": protocol.decoding.model_dump(),
            "effective": effective_settings(checkpoint, protocol)}


def _generated_length(ids: list[int], eos: int | None, pad: int | None) -> int:
    for i, tok in enumerate(ids):
        if tok == eos:
            return i + 1
    n = len(ids)
    while n and pad is not None and ids[n - 1] == pad:
        n -= 1
    return n


def generate(model, processor, prompts: Sequence[tuple[Sequence[Image.Image], str]], **kwargs) -> list[list[str]]:
    """Only the texts of :func:`generate_batch`."""
    return generate_batch(model, processor, prompts, **kwargs).texts
