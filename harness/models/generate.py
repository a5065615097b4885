"""Ask a VLM about images: chat messages for an item, and batched generation.

One function builds the conversation (images first, then the prompt text, as the Qwen VL
chat format expects); one generates for a batch of conversations with left padding, greedy
or sampled, returning only the new text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image


def user_message(images: Sequence[Image.Image], text: str) -> list[dict[str, Any]]:
    """A one-turn conversation: the images, then the text."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in images]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


@torch.inference_mode()
def generate(
    model,
    processor,
    prompts: Sequence[tuple[Sequence[Image.Image], str]],
    max_new_tokens: int = 16,
    do_sample: bool = False,
    temperature: float = 1.0,
    num_return_sequences: int = 1,
    seed: int | None = None,
) -> list[list[str]]:
    """Generate for each ``(images, text)``; returns ``num_return_sequences`` strings per prompt."""
    if not prompts:
        return []
    texts = [
        processor.apply_chat_template(user_message(imgs, text), add_generation_prompt=True, tokenize=False)
        for imgs, text in prompts
    ]
    images = [list(imgs) for imgs, _ in prompts]
    has_images = any(images)
    inputs = processor(
        text=texts, images=images if has_images else None, return_tensors="pt", padding=True
    ).to(model.device)
    if seed is not None:
        torch.manual_seed(seed)
    sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0} if do_sample else {
        "do_sample": False, "temperature": None, "top_k": None, "top_p": None}  # fmt: skip
    out = model.generate(
        **inputs, max_new_tokens=max_new_tokens, num_return_sequences=num_return_sequences, **sampling
    )
    new = out[:, inputs["input_ids"].shape[1]:]
    decoded = processor.batch_decode(new, skip_special_tokens=True)
    k = num_return_sequences
    return [decoded[i * k:(i + 1) * k] for i in range(len(prompts))]
