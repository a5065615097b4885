"""The vllm backend's log-probability judging, against a stand-in for vLLM's Python API (vLLM needs a GPU and
is not installed on CPU): the request it builds, and how it reads ``CompletionOutput.logprobs`` (one
``{token id: Logprob(logprob, rank, decoded_token)}`` per generated token) into the score. The real engine runs
only on a GPU host."""

from __future__ import annotations

import math
import sys
import types
from dataclasses import dataclass, field

import pytest
from PIL import Image

from harness.stages.verdict import parse_verdict
from harness.submission import parse_manifest
from harness.verifiers.base import JudgeRequest


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    logprobs: list[dict[int, Logprob]] | None


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[Completion] = field(default_factory=list)


def _fake_vllm(answers):
    module = types.ModuleType("vllm")

    class SamplingParams:
        def __init__(self, **kw):
            self.kw = kw

    class LLM:
        def __init__(self, **kw):
            self.calls = []

        def chat(self, conversations, params, use_tqdm=False):
            self.calls.append(params.kw)
            return [answers(i) for i in range(len(conversations))]

    module.LLM, module.SamplingParams = LLM, SamplingParams
    return module


def _backend(monkeypatch, answers):
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(answers))
    from harness.verifiers.vllm import VLLMBackend

    return VLLMBackend(parse_manifest({
        "name": "v", "family": "v", "release": "1", "owner": "t", "backend": "vllm",
        "model": {"hub_id": "Qwen/Qwen3-VL-8B-Instruct", "revision": "main"},
        "rubric_template": "{{ question }} {{ candidate }} Yes or No?",
        "judging": {"mode": "logprob", "top_logprobs": 5},
        "cost": {"kind": "none", "priced_on": "2026-12-01"}}))


def _step(p_yes: float) -> dict[int, Logprob]:
    return {1: Logprob(math.log(0.7 * p_yes), 1, "Yes"), 2: Logprob(math.log(0.2 * p_yes), 2, " yes"),
            3: Logprob(math.log(0.9 * (1 - p_yes)), 3, "No"), 4: Logprob(math.log(0.01), 4, ".")}


def test_scores_are_the_engines_yes_probabilities(monkeypatch):
    backend = _backend(monkeypatch, lambda i: RequestOutput([0] * 40, [Completion("Yes", [1], [_step((i + 1) / 10)])]))
    reqs = [JudgeRequest(item_id=f"x{i}", candidate_index=0, images=[Image.new("RGB", (8, 8))], prompt="p")
            for i in range(1, 10)]
    out = backend.judge(reqs)
    assert backend.llm.calls == [{"temperature": 0.0, "max_tokens": 1, "logprobs": 5}]
    expected = [0.9 * p / (0.9 * p + 0.9 * (1 - p)) for p in (i / 10 for i in range(1, 10))]
    assert [parse_verdict(j.text).score for j in out] == pytest.approx(expected, abs=1e-12)
    assert all(j.error is None and j.output_tokens == 1 and j.input_tokens == 40 for j in out)


def test_no_logprobs_or_neither_word_is_a_recorded_failure(monkeypatch):
    none = _backend(monkeypatch, lambda i: RequestOutput([0], [Completion("Yes", [1], None)]))
    (out,) = none.judge([JudgeRequest(item_id="x", candidate_index=0, images=[], prompt="p")])
    assert out.text is None and "no logprobs" in out.error
    hmm = [{4: Logprob(-0.1, 1, "Hmm")}]
    other = _backend(monkeypatch, lambda i: RequestOutput([0], [Completion("Hmm", [4], hmm)]))
    (out,) = other.judge([JudgeRequest(item_id="x", candidate_index=0, images=[], prompt="p")])
    assert out.text is None and "neither a yes token" in out.error


def test_structured_output_constrains_the_text_answer_to_the_verdicts_schema(monkeypatch):
    """issue 19: `judging.structured` gives vLLM's SamplingParams a StructuredOutputsParams with the verdict's JSON
    schema (the engine then emits only `{"score": number}`), and the answer is parsed as any text verdict."""
    from harness.verifiers.base import VERDICT_JSON_SCHEMA

    fake = _fake_vllm(lambda i: RequestOutput([0] * 30, [Completion('{"score": 0.75}', [5, 6, 7], None)]))
    sampling = types.ModuleType("vllm.sampling_params")

    class StructuredOutputsParams:
        def __init__(self, **kw):
            self.kw = kw

    sampling.StructuredOutputsParams = StructuredOutputsParams
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)
    from harness.verifiers.vllm import VLLMBackend

    def backend(structured: bool):
        return VLLMBackend(parse_manifest({
            "name": "v", "family": "v", "release": "1", "owner": "t", "backend": "vllm",
            "model": {"hub_id": "Qwen/Qwen3-VL-8B-Instruct", "revision": "main"},
            "judging": {"mode": "text", "structured": structured}, "generation": {"max_new_tokens": 24},
            "cost": {"kind": "none", "priced_on": "2026-12-04"}}))

    constrained, plain = backend(True), backend(False)
    assert constrained.params.kw["structured_outputs"].kw == {"json": VERDICT_JSON_SCHEMA}
    assert constrained.params.kw["max_tokens"] == 24 and "structured_outputs" not in plain.params.kw
    req = JudgeRequest(item_id="x", candidate_index=0, images=[Image.new("RGB", (8, 8))], prompt="p")
    [judged] = constrained.judge([req])
    assert parse_verdict(judged.text).score == 0.75 and judged.output_tokens == 3


def test_structured_output_is_for_text_answers_only():
    with pytest.raises(Exception, match="structured output constrains a text answer; mode 'logprob' reads no text"):
        parse_manifest({
            "name": "v", "family": "v", "release": "1", "owner": "t", "backend": "vllm",
            "model": {"hub_id": "Qwen/Qwen3-VL-8B-Instruct", "revision": "main"},
            "rubric_template": "{{ question }} {{ candidate }} Yes or No?",
            "judging": {"mode": "logprob", "structured": True}, "cost": {"kind": "none", "priced_on": "2026-12-04"}})
