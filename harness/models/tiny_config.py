"""The size of a tiny model (a protocol field): kept apart from :mod:`harness.models.tiny` so that reading a
protocol never imports torch or transformers (the web service validates protocols without them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Family = Literal["qwen2_5_vl", "qwen3_vl"]


class TinySpec(BaseModel):
    """The size of a tiny model. Defaults follow FACTS.md's measured-working configuration."""

    model_config = ConfigDict(frozen=True)

    family: Family = Field(description="Architecture: 'qwen2_5_vl' or 'qwen3_vl'.")
    hidden_size: int = Field(default=64, description="Text model width.")
    layers: int = Field(default=2, description="Text decoder layers.")
    heads: int = Field(default=4, description="Attention heads (head_dim = hidden_size / heads).")
    vision_depth: int = Field(default=2, description="Vision transformer blocks.")
    vision_width: int = Field(default=64, description="Vision transformer width.")
    patch_size: int = Field(default=8, description="Vision patch size; the image processor uses the same.")
    image_size: int = Field(default=64, description="Side of the images the model is built for (pixels).")
    vocab_size: int = Field(default=384, description="BPE vocabulary size, special tokens included.")
    seed: int = Field(default=0, description="Seed for the random weights.")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.heads

    def mrope_section(self) -> list[int]:
        """Split head_dim/2 rotary frequencies over (t, h, w); must sum to head_dim/2."""
        half = self.head_dim // 2
        t = half // 4
        h = (half - t) // 2
        return [t, h, half - t - h]
