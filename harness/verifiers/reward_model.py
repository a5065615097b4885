"""The ``reward_model`` backend: a scalar reward model (a VLM backbone plus a value head), one forward pass per
candidate, no decoding, no rubric.

Supported checkpoint format (the one the published VL reward models use): the backbone saved as an ordinary
transformers image-text-to-text checkpoint (config, processor, chat template, weights), plus the value head in a
separate safetensors file (``reward.head_file``, default ``value_head.safetensors``) holding TRL's ``ValueHead``
parameters ``v_head.summary.weight`` [1, hidden] and ``v_head.summary.bias`` [1]. This is how
Skywork-VL-Reward-7B (Qwen2.5-VL-7B-Instruct backbone) is published and loaded by its model card (the backbone with
``AutoModelForCausalLMWithValueHead`` from TRL, then the value-head file read with ``safe_open`` and loaded
non-strictly), and how LLaMA-Factory exports the reward models it trains (``value_head.safetensors`` beside the
backbone, the same keys). Not supported: pickled heads (``value_head.bin``: loading a pickle from a submission
could run its code), sequence-classification heads stored inside the backbone's weights (``score.weight``).

The input is what these models were trained on: the backbone's own chat template over the user's turn (the images,
then the question) and the assistant's turn (the candidate), no generation prompt; the reward is the value head
applied to the last layer's hidden state at the last token (as Skywork's model card gathers it at
``attention_mask.sum() - 1`` with right padding; here the last attended position, whatever the padding side).
Where it departs from the model card: the reward is computed in float32 on CPU (bfloat16 on GPU, as published), and
the head is a plain ``torch.nn.Linear`` (TRL's ``ValueHead`` adds dropout, which is off in evaluation anyway), so
TRL's value-head wrapper, deprecated in TRL 1.x, is not needed.

The score is the manifest's declared logistic of the reward (:class:`harness.submission.Reward`); the judgment's
text carries both, ``{"score": ..., "reward": ...}``, so the audit's verdict file keeps the raw reward.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import ClassVar

from harness.verifiers.base import JudgeRequest, RawJudgment, VerifierBackend
from harness.verifiers.local import guarded_batch, in_batches
from harness.verifiers.registry import register_backend

#: TRL's ``ValueHead`` parameter names in a value-head file (Skywork-VL-Reward, LLaMA-Factory exports).
HEAD_KEYS = ("v_head.summary.weight", "v_head.summary.bias")


def reward_to_score(reward: float, scale: float, offset: float) -> float:
    """The declared logistic ``1 / (1 + exp(-(reward - offset) / scale))``, without overflow for any reward."""
    z = (reward - offset) / scale
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def reward_text(score: float, reward: float) -> str:
    """A judgment's text: the score every verdict is parsed from, with the raw reward beside it."""
    return json.dumps({"score": score, "reward": reward})


def load_value_head(location: str, filename: str, revision: str | None = None):
    """The value head as a ``torch.nn.Linear(hidden, 1)`` from ``filename`` in the checkpoint at ``location`` (a
    local folder, or a hub repository at ``revision``: ``cached_file`` reads the local folder or the hub cache, as
    every other file of the checkpoint). Raises ValueError naming what is wrong with the file."""
    import torch
    from safetensors import safe_open
    from transformers.utils import cached_file

    path = cached_file(location, filename, revision=revision)
    if path is None:
        raise ValueError(f"the reward model has no value head file {filename!r} at {location}")
    with safe_open(path, framework="pt", device="cpu") as fh:
        keys = set(fh.keys())
        missing = [k for k in HEAD_KEYS if k not in keys]
        if missing:
            raise ValueError(f"{filename}: no {missing} (found {sorted(keys)[:8]}); the supported value head is "
                             f"TRL's, with {list(HEAD_KEYS)}")
        weight, bias = fh.get_tensor(HEAD_KEYS[0]), fh.get_tensor(HEAD_KEYS[1])
    if weight.ndim != 2 or weight.shape[0] != 1 or tuple(bias.shape) != (1,):
        raise ValueError(f"{filename}: a value head maps the hidden state to one number: weight [1, hidden] and "
                         f"bias [1], got {tuple(weight.shape)} and {tuple(bias.shape)}")
    head = torch.nn.Linear(weight.shape[1], 1)
    with torch.no_grad():
        head.weight.copy_(weight.float())
        head.bias.copy_(bias.float())
    return head.eval().requires_grad_(False)


@register_backend
class RewardModelBackend(VerifierBackend):
    name: ClassVar[str] = "reward_model"
    section: ClassVar[str] = "model"
    uses_device: ClassVar[bool] = True
    judging_modes: ClassVar[tuple[str, ...]] = ("reward",)

    def __init__(self, manifest, device: str | None = None) -> None:
        super().__init__(manifest)
        from harness.models.loading import load_vlm, pick_device, text_hidden_size

        assert manifest.model is not None, "manifest validation guarantees a 'model' section"
        self.reward = manifest.reward_settings
        self.device = device or pick_device()
        dtype = manifest.dtype if self.device != "cpu" else "float32"
        self.model, self.processor = load_vlm(manifest.model, device=self.device, dtype=dtype)
        self.head = load_value_head(manifest.model.location, self.reward.head_file, manifest.model.revision)
        hidden = text_hidden_size(self.model.config)
        if hidden is not None and self.head.in_features != hidden:
            raise ValueError(f"{self.reward.head_file}: the value head reads {self.head.in_features} features, the "
                             f"backbone's hidden size is {hidden}")
        self.head.to(self.device)
        self.device_seconds = 0.0

    def judge(self, requests: Sequence[JudgeRequest]) -> list[RawJudgment]:
        return in_batches(requests, self.manifest.generation.batch_size, self._judge_batch)

    def _judge_batch(self, batch: list[JudgeRequest]) -> list[RawJudgment]:
        if any(r.question is None or r.candidate is None for r in batch):
            return [RawJudgment(text=None, error="a reward model needs the question and the candidate, not only the "
                                "rendered rubric") for _ in batch]
        return guarded_batch(self, batch, self._rewards, "reward model")

    def _rewards(self, batch: list[JudgeRequest]) -> list[RawJudgment]:
        import torch

        from harness.models.generate import final_hidden_states

        hidden, tokens = final_hidden_states(self.model, self.processor,
                                             [(r.images, r.question, r.candidate) for r in batch])
        with torch.inference_mode():
            rewards = self.head(hidden.to(self.head.weight.dtype)).squeeze(-1).tolist()
        out = []
        for reward, n_in in zip(rewards, tokens, strict=True):
            if math.isfinite(reward):
                score = reward_to_score(reward, self.reward.scale, self.reward.offset)
                out.append(RawJudgment(text=reward_text(score, reward), input_tokens=n_in, output_tokens=0))
            else:
                out.append(RawJudgment(text=None, error=f"the reward is not finite ({reward})", input_tokens=n_in))
        return out

    def close(self) -> None:
        self.model = self.processor = self.head = None
