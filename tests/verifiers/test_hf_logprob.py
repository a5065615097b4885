"""Log-probability judging on the hf backend with a tiny Qwen VL model: the score is the model's own P(yes) /
(P(yes) + P(no)) for the first answer token, whatever the batch (left padding must not change it)."""

from __future__ import annotations

import pytest

from harness.stages.verdict import parse_verdict
from harness.submission import parse_manifest
from harness.tasks import get_task
from harness.verifiers.base import JudgeRequest

RUBRIC = "Question: {{ question }}\nAnswer: {{ candidate }}\nIs the answer correct? Reply A (yes) or B (no)."


def _backend(path, batch_size: int):
    from harness.verifiers.hf import HFBackend

    return HFBackend(parse_manifest({
        "name": "tiny-logprob", "family": "tiny", "release": "0", "owner": "tests", "backend": "hf",
        "model": {"path": str(path)}, "generation": {"batch_size": batch_size}, "rubric_template": RUBRIC,
        # the tiny vocabulary spells the option letters as single tokens; a real judge's would be Yes / No
        "judging": {"mode": "logprob", "yes_tokens": ["A"], "no_tokens": ["B"]},
        "cost": {"kind": "none", "priced_on": "2026-12-01"}}), device="cpu")


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_the_score_is_the_models_yes_probability_in_any_batch(tiny_model_dirs, family):
    import torch

    from harness.models.generate import _chat_inputs, owned_generation_config
    from harness.verifiers.logprob import normalise

    items = get_task("shapes").items()[:3]
    requests = [JudgeRequest(item_id=it.id, candidate_index=c, images=it.images,
                             prompt=f"Question: {it.prompt}\nAnswer: {answer}\nIs the answer correct?")
                for it in items for c, answer in enumerate(("A", "the answer is C, I think"))]
    one, many = _backend(tiny_model_dirs[family], 1), _backend(tiny_model_dirs[family], 8)
    scores = [parse_verdict(j.text).score for j in many.judge(requests)]
    assert scores == pytest.approx([parse_verdict(j.text).score for j in one.judge(requests)], abs=1e-5)
    assert all(j.output_tokens == 1 and j.input_tokens > 16 for j in many.judge(requests[:2]))

    # The same probabilities through transformers' generate (its first step's scores), one request at a time.
    model, processor = one.model, one.processor
    vocab = processor.tokenizer.convert_ids_to_tokens(list(range(len(processor.tokenizer))))
    yes = [i for i, t in enumerate(vocab) if normalise(t) == "a"]
    no = [i for i, t in enumerate(vocab) if normalise(t) == "b"]
    for req, score in zip(requests, scores, strict=True):
        inputs = _chat_inputs(model, processor, [(req.images, req.prompt)])
        out = model.generate(**inputs, generation_config=owned_generation_config(
            model.generation_config, max_new_tokens=1, do_sample=False), output_scores=True,
            return_dict_in_generate=True)
        p = torch.softmax(out.scores[0][0].float(), dim=-1)
        assert score == pytest.approx(float(p[yes].sum() / (p[yes].sum() + p[no].sum())), abs=1e-5)


def test_a_tokenizer_without_the_words_is_refused_at_load(tiny_model_dirs):
    from harness.verifiers.hf import HFBackend

    with pytest.raises(ValueError, match="no token of this tokenizer spells a yes word"):
        HFBackend(parse_manifest({
            "name": "tiny-logprob", "family": "tiny", "release": "0", "owner": "tests", "backend": "hf",
            "model": {"path": str(tiny_model_dirs["qwen3_vl"])}, "rubric_template": RUBRIC,
            "judging": {"mode": "logprob", "yes_tokens": ["Affirmative"], "no_tokens": ["B"]},
            "cost": {"kind": "none", "priced_on": "2026-12-01"}}), device="cpu")
