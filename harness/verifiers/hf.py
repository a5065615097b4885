"""The ``hf`` backend: a verifier run with transformers on CPU or GPU, batched.

Greedy by default (the manifest's ``generation.temperature`` = 0). A batch that runs out of GPU
memory is split in half and retried down to single requests; a request that still fails is
recorded with its error, and the other judgments of the batch survive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import ClassVar

from harness.verifiers.base import JudgeRequest, RawJudgment, VerifierBackend
from harness.verifiers.registry import register_backend

logger = logging.getLogger(__name__)


@register_backend
class HFBackend(VerifierBackend):
    name: ClassVar[str] = "hf"
    section: ClassVar[str] = "model"
    uses_device: ClassVar[bool] = True

    def __init__(self, manifest, device: str | None = None) -> None:
        super().__init__(manifest)
        from harness.models.loading import load_vlm, pick_device

        assert manifest.model is not None, "manifest validation guarantees a 'model' section"
        self.device = device or pick_device()
        dtype = manifest.dtype if self.device != "cpu" else "float32"  # bf16 matmuls are slow on CPU
        self.model, self.processor = load_vlm(manifest.model, device=self.device, dtype=dtype)
        self.device_seconds = 0.0

    def judge(self, requests: Sequence[JudgeRequest]) -> list[RawJudgment]:
        out: list[RawJudgment] = []
        bs = self.manifest.generation.batch_size
        for start in range(0, len(requests), bs):
            out.extend(self._judge_batch(list(requests[start:start + bs])))
        return out

    def _judge_batch(self, batch: list[JudgeRequest]) -> list[RawJudgment]:
        import torch

        from harness.models.generate import generate_batch

        gen = self.manifest.generation
        t0 = time.perf_counter()
        try:
            result = generate_batch(
                self.model, self.processor, [(r.images, r.prompt) for r in batch],
                max_new_tokens=gen.max_new_tokens, do_sample=gen.temperature > 0,
                temperature=gen.temperature or 1.0, top_p=gen.top_p,
            )
        except torch.OutOfMemoryError:
            if self.device == "cuda":
                torch.cuda.empty_cache()
            if len(batch) == 1:
                return [RawJudgment(text=None, error="out of memory on a single request")]
            half = len(batch) // 2
            logger.warning("verifier OOM on a batch of %d; splitting", len(batch))
            return self._judge_batch(batch[:half]) + self._judge_batch(batch[half:])
        except Exception as err:  # a bad image or a model error must not lose the other batches
            logger.exception("verifier batch of %d failed", len(batch))
            return [RawJudgment(text=None, error=f"{type(err).__name__}: {err}"[:300]) for _ in batch]
        finally:
            if self.device == "cuda":
                torch.cuda.synchronize()
            self.device_seconds += time.perf_counter() - t0
        return [
            RawJudgment(text=texts[0], input_tokens=n_in, output_tokens=n_out[0])
            for texts, n_in, n_out in zip(result.texts, result.input_tokens, result.output_tokens, strict=True)
        ]

    def close(self) -> None:
        self.model = None
        self.processor = None
