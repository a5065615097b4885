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


#: The longest judge request the engine is built for (prompt + answer), unless the checkpoint's own limit is lower:
#: the MMMU's seven images at their published sizes, the rubric, a 512-token candidate and the answer fit with room
#: to spare, while the checkpoints' own limits (Qwen3-VL: 262,144) would reserve a KV cache for one request of that
#: length. A longer request fails as that batch's recorded error, not silently truncated.
MAX_MODEL_LEN = 32768


def _config_limit(ref) -> int | None:
    """``max_position_embeddings`` of the judge's ``config.json`` (its folder, the hub cache at its revision, or the
    published copy), or None where none is found."""
    from harness.models.published import model_json

    found = model_json("config.json", ref.path, ref.hub_id, ref.revision)
    if not found or not found[0]:
        return None
    config = found[0]
    value = (config.get("text_config") or config).get("max_position_embeddings")
    return int(value) if value else None


def engine_args(manifest) -> dict:
    """The ``vllm.LLM`` / ``EngineArgs`` arguments of a manifest's judge: only what the manifest may decide (model,
    revision, dtype) plus what the protocol fixes. A manifest never sets engine arguments itself, so it can neither
    trust remote code, read host paths (``allowed_local_media_path``) nor choose a download folder.

    - ``limit_mm_per_prompt``: as many images as the item with the most (MMMU: 7); no video, whose profiling run
      would reserve memory for clips no task sends.
    - ``max_model_len``: :data:`MAX_MODEL_LEN`, or the checkpoint's own limit if lower.
    - ``generation_config="vllm"``: vLLM's neutral sampling defaults, not the checkpoint's ``generation_config.json``
      (Qwen2.5-VL's repetition penalty 1.05 would change every greedy verdict; Qwen3-VL's top_k 20 every sampled
      one); what a judgment samples with is the manifest's (:func:`sampling_args`).
    - The chat template is the checkpoint's own (``LLM.chat`` without ``chat_template``), as the ``hf`` backend's.
    - ``seed=0``: sampled judgments repeat run to run.
    """
    from harness.tasks import max_images_per_item

    ref = manifest.model
    assert ref is not None, "manifest validation guarantees a 'model' section"
    limit = _config_limit(ref)
    return {"model": ref.location, "revision": ref.revision, "dtype": manifest.dtype, "seed": 0,
            "trust_remote_code": False, "limit_mm_per_prompt": {"image": max_images_per_item(), "video": 0},
            "max_model_len": min(MAX_MODEL_LEN, limit) if limit else MAX_MODEL_LEN, "generation_config": "vllm"}


def sampling_args(manifest) -> dict:
    """``vllm.SamplingParams`` arguments of a manifest's judgments (without structured outputs): one greedy token
    with ``top_logprobs`` alternatives for log-probability judging, else the manifest's temperature, top-p and answer
    length, top-k off and no repetition penalty whatever the checkpoint says."""
    judging = manifest.judging
    if judging is not None and judging.mode == "logprob":
        return {"temperature": 0.0, "max_tokens": 1, "logprobs": judging.top_logprobs}
    gen = manifest.generation
    return {"temperature": gen.temperature, "top_p": gen.top_p, "top_k": 0, "repetition_penalty": 1.0,
            "max_tokens": gen.max_new_tokens}


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
        self.llm = LLM(**engine_args(manifest))
        judging = manifest.judging
        self._judging = judging if judging is not None and judging.mode == "logprob" else None
        structured = {}
        if self._judging is None and structured_output(manifest):  # the answer constrained to the verdict's schema
            from vllm.sampling_params import StructuredOutputsParams

            structured = {"structured_outputs": StructuredOutputsParams(json=VERDICT_JSON_SCHEMA)}
        self.params = SamplingParams(**sampling_args(manifest), **structured)
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
