"""Image-only Qwen VL processors, so VLMs load on machines without torchvision.

The stock Qwen2.5-VL and Qwen3-VL processors insist on a video processor, which needs
torchvision; the CPU torch wheel used here cannot import PyPI's torchvision. These
subclasses drop the video processor and are registered with ``AutoProcessor`` under the
model configs, so ``AutoProcessor.from_pretrained`` finds them by the class name saved in
``processor_config.json``. Importing this module performs the registration; the model loader
imports it first (without it, ``AutoProcessor`` silently returns a bare tokenizer).

Real checkpoints in the CUDA image (with torchvision) keep their stock processor classes.
"""

from __future__ import annotations

from transformers import (
    AutoProcessor,
    Qwen2_5_VLConfig,
    Qwen2_5_VLProcessor,
    Qwen3VLConfig,
    Qwen3VLProcessor,
)


class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):  # noqa: N801 - keeps the Qwen class naming
    """Qwen2.5-VL processor without a video processor."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)


class ImageOnlyQwen3VLProcessor(Qwen3VLProcessor):
    """Qwen3-VL processor without a video processor."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)


IMAGE_ONLY_PROCESSORS = {
    "qwen2_5_vl": ImageOnlyQwen2_5_VLProcessor,
    "qwen3_vl": ImageOnlyQwen3VLProcessor,
}

AutoProcessor.register(Qwen2_5_VLConfig, ImageOnlyQwen2_5_VLProcessor, exist_ok=True)
AutoProcessor.register(Qwen3VLConfig, ImageOnlyQwen3VLProcessor, exist_ok=True)
