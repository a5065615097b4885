"""The ``hf`` backend: a verifier run with transformers on CPU or GPU, batched.

Greedy by default (the manifest's ``generation.temperature`` = 0). A batch that runs out of GPU
memory is split in half and retried down to single requests; a request that still fails is
recorded with its error, and the other judgments of the batch survive (:mod:`harness.verifiers.local`).

``judging.mode: logprob``: one forward pass per batch, no decoding; the score is P(yes) / (P(yes) + P(no)) of the
first answer token, summed over every vocabulary token that spells a yes or a no word (the whole distribution,
not a top-k: :func:`harness.verifiers.logprob.word_token_ids`).

``judging.structured``: transformers has no constrained decoder, so this backend's fallback is to generate the answer
unconstrained and parse it as always: its parse failures stay the model's (documented on the manifest field).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from harness.verifiers.base import JudgeRequest, RawJudgment, VerifierBackend
from harness.verifiers.local import guarded_batch, in_batches
from harness.verifiers.registry import register_backend


@register_backend
class HFBackend(VerifierBackend):
    name: ClassVar[str] = "hf"
    section: ClassVar[str] = "model"
    uses_device: ClassVar[bool] = True
    judging_modes: ClassVar[tuple[str, ...]] = ("text", "logprob")

    def __init__(self, manifest, device: str | None = None) -> None:
        super().__init__(manifest)
        from harness.models.loading import load_vlm, pick_device

        assert manifest.model is not None, "manifest validation guarantees a 'model' section"
        self.device = device or pick_device()
        dtype = manifest.dtype if self.device != "cpu" else "float32"  # bf16 matmuls are slow on CPU
        self.model, self.processor = load_vlm(manifest.model, device=self.device, dtype=dtype)
        self.device_seconds = 0.0
        judging = manifest.judging
        self._words: tuple[list[int], list[int]] | None = None
        if judging is not None and judging.mode == "logprob":
            from harness.verifiers.logprob import word_token_ids

            tokenizer = self.processor.tokenizer
            self._words = word_token_ids(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))),
                                         judging.yes_tokens, judging.no_tokens)
            if not all(self._words):
                raise ValueError(f"no token of this tokenizer spells {'a yes' if not self._words[0] else 'a no'} "
                                 f"word (yes_tokens {list(judging.yes_tokens)}, no_tokens {list(judging.no_tokens)})")

    def judge(self, requests: Sequence[JudgeRequest]) -> list[RawJudgment]:
        return in_batches(requests, self.manifest.generation.batch_size, self._judge_batch)

    def _judge_batch(self, batch: list[JudgeRequest]) -> list[RawJudgment]:
        return guarded_batch(self, batch, self._run_batch)

    def _run_batch(self, batch: list[JudgeRequest]) -> list[RawJudgment]:
        from harness.models.generate import generate_batch

        if self._words is not None:
            return self._score_yes_no(batch)
        gen = self.manifest.generation
        result = generate_batch(
            self.model, self.processor, [(r.images, r.prompt) for r in batch],
            max_new_tokens=gen.max_new_tokens, do_sample=gen.temperature > 0,
            temperature=gen.temperature or 1.0, top_p=gen.top_p,
        )
        return [
            RawJudgment(text=texts[0], input_tokens=n_in, output_tokens=n_out[0])
            for texts, n_in, n_out in zip(result.texts, result.input_tokens, result.output_tokens, strict=True)
        ]

    def _score_yes_no(self, batch: list[JudgeRequest]) -> list[RawJudgment]:
        from harness.models.generate import first_token_logprobs
        from harness.verifiers.logprob import score_text

        assert self._words is not None
        logprobs, n_in = first_token_logprobs(self.model, self.processor, [(r.images, r.prompt) for r in batch])
        probs = logprobs.exp()
        p_yes, p_no = probs[:, self._words[0]].sum(dim=1).tolist(), probs[:, self._words[1]].sum(dim=1).tolist()
        out = []
        for y, n, tokens in zip(p_yes, p_no, n_in, strict=True):
            if y + n > 0:
                out.append(RawJudgment(text=score_text(y / (y + n), y, n), input_tokens=tokens, output_tokens=1))
            else:  # both masses underflow to 0: no score, said so
                out.append(RawJudgment(text=None, error="P(yes) and P(no) are both 0 for the first answer token"))
        return out

    def close(self) -> None:
        self.model = None
        self.processor = None
