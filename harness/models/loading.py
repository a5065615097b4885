"""Load a VLM and its processor from a hub id (+ revision) or a local folder, the same way.

Production students and verifiers are hub checkpoints pinned to a revision; tests and the CPU
demo use tiny models saved to a folder. Both go through ``AutoModelForImageTextToText`` and
``AutoProcessor``; the image-only processors are registered first (see
:mod:`harness.models.processing`) and the processor's type is checked, so a silent fallback to
a bare tokenizer is an error rather than a confusing failure later.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

logger = logging.getLogger(__name__)

DType = Literal["auto", "float32", "bfloat16", "float16"]


#: The hub's repository id form (owner/name of letters, digits, '-', '_', '.'); anything else could be read as a
#: local path by ``from_pretrained``.
_HUB_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$"
_REVISION = r"^([A-Za-z0-9][A-Za-z0-9_./-]*)?$"  # empty: refused below as "needs a pinned revision"


class ModelRef(BaseModel):
    """Where a model comes from: exactly one of a hub id (with a revision) or a local folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


def _torch_dtype(dtype: DType):
    import torch

    return "auto" if dtype == "auto" else getattr(torch, dtype)


def load_processor(ref: ModelRef):
    """The model's processor; raises if ``AutoProcessor`` returned something that takes no images."""
    from transformers import AutoProcessor, ProcessorMixin

    import harness.models.processing  # noqa: F401 - registers the image-only processors

    processor = AutoProcessor.from_pretrained(ref.location, revision=ref.revision)
    if not isinstance(processor, ProcessorMixin) or getattr(processor, "image_processor", None) is None:
        raise TypeError(
            f"{ref.location}: AutoProcessor returned {type(processor).__name__}, not a multimodal processor"
        )
    processor.tokenizer.padding_side = "left"  # batched generation appends after the prompt
    return processor


def load_vlm(ref: ModelRef, device: str = "cpu", dtype: DType = "float32"):
    """Return ``(model, processor)`` in eval mode on ``device``."""
    from transformers import AutoModelForImageTextToText

    processor = load_processor(ref)
    model = AutoModelForImageTextToText.from_pretrained(
        ref.location, revision=ref.revision, dtype=_torch_dtype(dtype)
    )
    model.to(device).eval()
    logger.info("loaded %s (%s, %d parameters) on %s", ref.location, type(model).__name__,
                model.num_parameters(), device)
    return model, processor
