"""Load a VLM and its processor from a hub id (+ revision) or a local folder, the same way.

Production students and verifiers are hub checkpoints pinned to a revision; tests and the CPU
demo use tiny models saved to a folder. Both go through ``AutoModelForImageTextToText`` and
``AutoProcessor``, which takes the processor class the checkpoint names: the stock Qwen VL processors
for published checkpoints (and their real-layout test copies), which need torchvision, or the
image-only subclasses of :mod:`harness.models.processing` that the tiny models name (registered
first). The processor's type is checked, so a silent fallback to a bare tokenizer is an error
rather than a confusing failure later.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from harness.config import DType, ModelRef
from harness.errors import FETCH_HINT, MissingDependency, MissingInput

logger = logging.getLogger(__name__)

def pick_device() -> str:
    """Where models run: the GPU when there is one, else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_dtype(dtype: DType):
    import torch

    return "auto" if dtype == "auto" else getattr(torch, dtype)


@contextmanager
def _available(ref: ModelRef):
    """A model that is not here (a hub id never fetched, offline; a folder without a saved model) is a
    :class:`MissingInput` naming it and the fix, not transformers' traceback."""
    try:
        yield
    except OSError as err:
        what = f"no saved model in {ref.path}" if ref.path is not None else (
            f"model {ref.hub_id} (revision {ref.revision}) is not cached here and the hub cannot be reached")
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MissingInput(f"{what} ({reason}): {FETCH_HINT}") from err


def load_processor(ref: ModelRef):
    """The model's processor; raises if ``AutoProcessor`` returned something that takes no images."""
    from transformers import AutoProcessor, ProcessorMixin

    import harness.models.processing  # noqa: F401 - registers the image-only processors

    with _available(ref):
        try:
            processor = AutoProcessor.from_pretrained(ref.location, revision=ref.revision)
        except ImportError as err:
            if "torchvision" not in str(err).lower():
                raise
            raise MissingDependency(
                f"{ref.location}: its stock processor builds a video processor, which needs torchvision, and "
                "torchvision is not installed here (the GPU image has it; `make test` builds .venv-stock with it on "
                "a CPU machine)") from None
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
    with _available(ref):
        model = AutoModelForImageTextToText.from_pretrained(
            ref.location, revision=ref.revision, dtype=_torch_dtype(dtype)
        )
    model.to(device).eval()
    logger.info("loaded %s (%s, %d parameters) on %s", ref.location, type(model).__name__,
                model.num_parameters(), device)
    return model, processor


def text_hidden_size(config) -> int | None:
    """The language model's hidden size (VLM configs keep it in ``text_config``): what a value head reads."""
    text = getattr(config, "text_config", None)
    return getattr(text, "hidden_size", None) or getattr(config, "hidden_size", None)
