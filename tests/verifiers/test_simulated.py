"""The simulated verifier behaves like a deterministic judge: its verdict is a function of (item, answer text)."""

from __future__ import annotations

import json

from harness.submission import load_manifest
from harness.verifiers.base import JudgeRequest
from harness.verifiers.simulated import SimulatedBackend


def _scores(backend, requests):
    return [json.loads(r.text)["score"] for r in backend.judge(requests)]


def _req(item: str, answer: str, truth: bool, student: str = "s", index: int = 0) -> JudgeRequest:
    return JudgeRequest(item_id=item, candidate_index=index, student=student, images=[],
                        prompt=f"Question {item}\nStudent's answer:\n{answer}", truth=truth)


def test_the_same_answer_gets_the_same_verdict_whoever_sampled_it_and_whenever():
    """A student's frequent answer is sampled many times; re-drawing its verdict each time would let a wrong
    verdict through on some draw (and favour whatever the student already says most)."""
    backend = SimulatedBackend(load_manifest("submissions/demo/near-random.yaml"))
    first = _scores(backend, [_req(f"i{n}", "B", n % 2 == 0) for n in range(200)])
    again = _scores(backend, [_req(f"i{n}", "B", n % 2 == 0, student="other/round2", index=5) for n in range(200)])
    assert first == again
    other_answer = _scores(backend, [_req(f"i{n}", "C", n % 2 == 0) for n in range(200)])
    assert other_answer != first  # another answer to the same question: an independent verdict


def test_agreement_is_the_share_of_verdicts_that_match_the_truth():
    backend = SimulatedBackend(load_manifest("submissions/demo/strong.yaml"))
    agreement = backend.manifest.simulated.agreement
    reqs = [_req(f"i{n}", f"answer {n % 7}", n % 3 == 0) for n in range(4000)]
    says_correct = [s >= 0.5 for s in _scores(backend, reqs)]
    share = sum(s == r.truth for s, r in zip(says_correct, reqs, strict=True)) / len(reqs)
    assert abs(share - agreement) < 0.02  # 4000 independent verdicts: SE about 0.004
