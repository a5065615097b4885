"""The ``vllm`` backend: a verifier served by vLLM in-process (GPU only, imported lazily).

Same interface as ``hf``. vLLM batches and schedules by itself, so the whole request list goes
to one ``LLM.chat`` call. vLLM is a GPU extra (the CUDA image installs it); on a machine without
it, constructing this backend fails with a clear message instead of an import error at startup.

``judging.mode: logprob``: one greedy token per request with ``logprobs=top_logprobs`` (vLLM's
``SamplingParams.logprobs``, capped by the engine's ``max_logprobs``, 20 by default); the score is P(yes) /
(P(yes) + P(no)) over the first token's alternatives as vLLM decodes them (:mod:`harness.verifiers.logprob`).

``judging.structured``: the text answer constrained to the verdict's JSON schema with vLLM's structured outputs
(``SamplingParams(structured_outputs=StructuredOutputsParams(json=...))``, vLLM 0.12 and later; the ``guided_*``
fields it replaced are gone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import ClassVar

from harness.verifiers.base import VERDICT_JSON_SCHEMA, JudgeRequest, RawJudgment, VerifierBackend, structured_output
from harness.verifiers.registry import register_backend

logger = logging.getLogger(__name__)


class VLLMUnavailable(RuntimeError):
    """vLLM is not installed or no GPU is visible."""


@register_backend
class VLLMBackend(VerifierBackend):
    name: ClassVar[str] = "vllm"
    section: ClassVar[str] = "model"
    uses_device: ClassVar[bool] = True
    judging_modes: ClassVar[tuple[str, ...]] = ("text", "logprob")

    def __init__(self, manifest) -> None:
        super().__init__(manifest)
        try:
            from vllm import LLM, SamplingParams
        except ImportError as err:
            raise VLLMUnavailable(
                "the 'vllm' backend needs vLLM and a GPU (install the 'gpu' extra or use the CUDA image); "
                f"import failed: {err}"
            ) from None
        ref = manifest.model
        assert ref is not None, "manifest validation guarantees a 'model' section"
        gen = manifest.generation
        self.llm = LLM(model=ref.location, revision=ref.revision, dtype=manifest.dtype,
                       limit_mm_per_prompt={"image": 8}, seed=0)
        judging = manifest.judging
        self._judging = judging if judging is not None and judging.mode == "logprob" else None
        if self._judging is not None:
            self.params = SamplingParams(temperature=0.0, max_tokens=1, logprobs=self._judging.top_logprobs)
        else:
            structured = {}
            if structured_output(manifest):  # the answer constrained to the verdict's JSON schema
                from vllm.sampling_params import StructuredOutputsParams

                structured = {"structured_outputs": StructuredOutputsParams(json=VERDICT_JSON_SCHEMA)}
            self.params = SamplingParams(temperature=gen.temperature, top_p=gen.top_p, max_tokens=gen.max_new_tokens,
                                         **structured)
        self.device_seconds = 0.0

    def judge(self, requests: Sequence[JudgeRequest]) -> list[RawJudgment]:
        conversations = [
            [{"role": "user", "content": [
                *({"type": "image_pil", "image_pil": img} for img in r.images),
                {"type": "text", "text": r.prompt},
            ]}]
            for r in requests
        ]
        t0 = time.perf_counter()
        try:
            outputs = self.llm.chat(conversations, self.params, use_tqdm=False)
        except Exception as err:
            logger.exception("vLLM chat failed for %d requests", len(requests))
            return [RawJudgment(text=None, error=f"{type(err).__name__}: {err}"[:300]) for _ in requests]
        finally:
            self.device_seconds += time.perf_counter() - t0
        if self._judging is not None:
            return [self._yes_no(o) for o in outputs]
        return [
            RawJudgment(text=o.outputs[0].text, input_tokens=len(o.prompt_token_ids or []),
                        output_tokens=len(o.outputs[0].token_ids))
            for o in outputs
        ]

    def _yes_no(self, output) -> RawJudgment:
        """The score from the first generated token's alternatives (``{token id: Logprob}``)."""
        from harness.verifiers.logprob import neither_word, score_text, yes_no_score

        judging = self._judging
        assert judging is not None
        steps = output.outputs[0].logprobs if output.outputs else None
        if not steps:
            return RawJudgment(text=None, error="vLLM returned no logprobs for the first answer token")
        top = [(lp.decoded_token or "", lp.logprob) for lp in steps[0].values()]
        score, p_yes, p_no = yes_no_score(top, judging.yes_tokens, judging.no_tokens)
        if score is None:
            return RawJudgment(text=None, error=neither_word([t for t, _ in top], judging.yes_tokens,
                                                             judging.no_tokens))
        return RawJudgment(text=score_text(score, p_yes, p_no), input_tokens=len(output.prompt_token_ids or []),
                           output_tokens=1)

    def close(self) -> None:
        self.llm = None
