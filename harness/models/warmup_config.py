"""The supervised warm-up's settings (a protocol field), apart from :mod:`harness.models.warmup` so that
reading a protocol never imports torch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WarmupConfig(BaseModel):
    """Supervised warm-up of a tiny student."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target_low: float = Field(default=0.45, ge=0, le=1, description="Stop once probe accuracy reaches this.")
    target_high: float = Field(default=0.8, ge=0, le=1, description="Upper end of the wanted band.")
    lr: float = Field(default=5e-4, gt=0, description="AdamW learning rate.")
    batch_size: int = Field(default=16, ge=1, description="Items per step.")
    check_every: int = Field(default=10, ge=1, description="Steps between probe evaluations.")
    max_steps: int = Field(default=800, ge=1, description="Give up after this many steps.")
    settle_steps: int = Field(default=100, ge=0, description="Steps after entering the band (or max_steps) while the "
                              "learning rate decays linearly to zero, so the student ends at rest.")
    probe_size: int = Field(default=200, ge=10, description="Train-split items held out as the probe.")
    min_answer_share: float = Field(default=0.1, ge=0, le=1,
                                    description="Each option letter's minimum share of the probe's greedy answers.")
    seed: int = Field(default=0, description="Seed of batching and initial weights' training.")
    pool_size: int | None = Field(default=150, ge=1, description="Train-split items (after the probe) the warm-up "
                                  "learns from; None: all. A small pool leaves the student right on some unseen "
                                  "items and wrong on others, the room self-DPO's preferences can move either way.")

    @model_validator(mode="after")
    def _band(self) -> WarmupConfig:
        if self.target_low > self.target_high:
            raise ValueError(f"target_low ({self.target_low}) must not exceed target_high ({self.target_high})")
        return self
