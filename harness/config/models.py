"""Where models come from and how tiny ones are made: model references, tiny-model sizes, the warm-up.

Kept apart from :mod:`harness.models` so that reading a protocol or a manifest never imports torch or transformers
(the web service validates both without them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from harness.config.base import Strict

DType = Literal["auto", "float32", "bfloat16", "float16"]


#: The hub's repository id form (owner/name of letters, digits, '-', '_', '.'); anything else could be read as a
#: local path by ``from_pretrained``.
_HUB_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$"
_REVISION = r"^([A-Za-z0-9][A-Za-z0-9_./-]*)?$"  # empty: refused below as "needs a pinned revision"


class ModelRef(Strict):
    """Where a model comes from: exactly one of a hub id (with a revision) or a local folder."""

    hub_id: str | None = Field(default=None, pattern=_HUB_ID, max_length=96,
                               description="Hub repository id 'owner/name', e.g. 'Qwen/Qwen3-VL-2B-Instruct' (never "
                                           "a path: no '..', no leading '/').")
    revision: str | None = Field(default=None, pattern=_REVISION, max_length=100,
                                 description="Hub commit, tag or branch; required with hub_id.")
    path: Path | None = Field(default=None, description="A local folder holding a saved model + processor.")

    @model_validator(mode="after")
    def _one_source(self) -> ModelRef:
        if (self.hub_id is None) == (self.path is None):
            raise ValueError(f"give exactly one of hub_id ({self.hub_id!r}) or path ({self.path!r})")
        if self.hub_id is not None and not self.revision:
            raise ValueError(f"hub_id {self.hub_id!r} needs a pinned revision (got {self.revision!r})")
        for value in (self.hub_id, self.revision):
            if value is not None and ".." in value:
                raise ValueError(f"{value!r} must not contain '..'")
        return self

    @property
    def location(self) -> str:
        """What ``from_pretrained`` is given. A hub id that also names a folder under the working directory is
        refused: ``from_pretrained`` would read the folder instead of the hub repository."""
        if self.hub_id is None:
            return str(self.path)
        if Path(self.hub_id).exists():
            raise ValueError(f"hub_id {self.hub_id!r} also names a local folder; refusing to read it as the model")
        return self.hub_id

    def describe(self) -> dict[str, Any]:
        """Provenance: where the model came from."""
        if self.hub_id is not None:
            return {"hub_id": self.hub_id, "revision": self.revision}
        return {"path": str(self.path)}


Family = Literal["qwen2_5_vl", "qwen3_vl"]


class TinySpec(Strict):
    """The size of a tiny model (a protocol field). Defaults follow FACTS.md's measured-working configuration."""

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


class WarmupConfig(Strict):
    """Supervised warm-up of a tiny student."""

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
    max_answer_share: float = Field(default=0.35, ge=0, le=1, description="Each option letter's maximum share of "
                                    "the settled student's probe answers (every letter is right for about a "
                                    "quarter of the items): a student that over-uses one letter gains accuracy "
                                    "from any update that spreads its answers, whatever the preference says.")
    attempts: int = Field(default=4, ge=1, description="Warm-ups tried, attempt i with seed + i, until the settled "
                          "student is in the band and balanced (every letter's share within [min_answer_share, "
                          "max_answer_share]); the last one is kept either way.")
    seed: int = Field(default=0, description="Seed of batching and initial weights' training.")
    confusion: float = Field(default=0.0, ge=0, lt=0.5, description="Share of the warm-up pool labelled with the "
                             "option after the answer (the last wrapping to the first) instead of the answer: a "
                             "student taught to hesitate between each item's answer and one fixed neighbour (on "
                             "shapes, the count and one more). Which of the two a preference pair favours is then "
                             "what self-DPO teaches (see the README's demo section).")
    pool_size: int | None = Field(default=150, ge=1, description="Train-split items (after the probe) the warm-up "
                                  "learns from; None: all. A small pool leaves the student right on some unseen "
                                  "items and wrong on others, the room self-DPO's preferences can move either way.")

    @model_validator(mode="after")
    def _band(self) -> WarmupConfig:
        if self.target_low > self.target_high:
            raise ValueError(f"target_low ({self.target_low}) must not exceed target_high ({self.target_high})")
        if self.min_answer_share > self.max_answer_share:
            raise ValueError(f"min_answer_share ({self.min_answer_share}) must not exceed max_answer_share "
                             f"({self.max_answer_share})")
        return self
