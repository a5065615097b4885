"""Stage 2's settings (every field is part of the protocol and its digest), apart from
:mod:`harness.stages.selfdpo` so that reading a protocol never imports torch, TRL or a model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

SAMPLE_BATCH_PROMPTS = 16  # prompts per sampling call (x k candidates each): a memory bound, not protocol


class SelfDPOConfig(BaseModel):
    """Stage 2: self-DPO. Every field is part of the protocol (and of its digest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rounds: int = Field(default=3, ge=1, description="Sample-judge-train rounds.")
    prompts_per_round: int = Field(default=256, ge=1, description="Train-split prompts sampled per round.")
    k: int = Field(default=8, ge=2, description="Candidates sampled per prompt.")
    temperature: float = Field(default=1.0, gt=0, description="Student sampling temperature.")
    max_new_tokens: int = Field(default=16, ge=1, description="Longest candidate.")
    tau: float = Field(default=0.15, ge=0, le=1, description="Replay gate: admit a pair iff margin >= tau.")
    replay_ratio: float = Field(default=1.0, ge=0, description="Replayed pairs per newly admitted pair.")
    beta: float = Field(default=0.1, gt=0, description="DPO beta.")
    loss_type: tuple[str, ...] = Field(default=("sigmoid", "sft"), description="TRL DPO loss terms.")
    learning_rate: float = Field(default=2e-5, gt=0, description="DPO learning rate.")
    batch_size: int = Field(default=8, ge=1, description="Pairs per DPO step.")
    epochs: int = Field(default=1, ge=1, description="Passes over each round's training pairs.")
    lora: bool = Field(default=True, description="Train LoRA adapters (real students) or all weights (tiny).")
    lora_r: int = Field(default=16, ge=1, description="LoRA rank.")
    probe_size: int = Field(default=200, ge=0, description="Train-split items scored greedily after each round.")
    seed: int = Field(default=0, description="Seed of prompt sampling, candidate sampling and training.")

    @model_validator(mode="after")
    def _check(self) -> SelfDPOConfig:
        unknown = set(self.loss_type) - {"sigmoid", "hinge", "ipo", "robust", "sft", "bco_pair", "apo_zero"}
        if unknown:
            raise ValueError(f"loss_type {sorted(unknown)} not supported")
        return self
