"""A simulated verifier: it reads the exact-match truth and agrees with it at a set rate.

It exists to validate the harness (an audit of a verifier with agreement rate p must report a
rubric accuracy whose CI covers p) and to run the protocol's CPU demo with verifiers of known
quality. Every output it produces is marked ``simulated`` and carries ``"simulated": true`` in
its JSON, so no simulated number can pass for a measured one.

Each verdict is drawn from a generator seeded by (seed, item id, the rendered rubric prompt, which holds the
candidate's text), so the same answer to the same question gets the same verdict whichever student sampled it, in
whatever round or batch: a deterministic verifier's errors are a fixed "answer key" per item, not fresh noise per
sample (which would re-draw the verdict of a student's frequent answer every time it is sampled and so favour it).
Errors are independent across distinct (item, answer) pairs. Score profiles:

- ``confident``: verdict "correct" -> U(0.85, 1.0), "wrong" -> U(0.0, 0.15);
- ``moderate``:  U(0.6, 0.8) / U(0.2, 0.4);
- ``uncertain``: U(0.5, 0.6) / U(0.4, 0.5): near 0.5, so a top-vs-bottom margin reaches the protocol's replay
  gate (tau = 0.15) only when one score lands near each end: on the demo's students about a third as many pairs
  pass it per prompt as a ``confident`` verifier's (the confidence inversion's mechanism).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from typing import ClassVar

from harness.verifiers.base import JudgeRequest, RawJudgment, VerifierBackend
from harness.verifiers.registry import register_backend

PROFILES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "confident": ((0.85, 1.0), (0.0, 0.15)),
    "moderate": ((0.6, 0.8), (0.2, 0.4)),
    "uncertain": ((0.5, 0.6), (0.40, 0.5)),
}


def _rng(seed: int, item_id: str, prompt: str) -> random.Random:
    digest = hashlib.sha256(f"simulated:{seed}:{item_id}:{prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@register_backend
class SimulatedBackend(VerifierBackend):
    name: ClassVar[str] = "simulated"
    section: ClassVar[str] = "simulated"

    def judge(self, requests: Sequence[JudgeRequest]) -> list[RawJudgment]:
        sim = self.manifest.simulated
        assert sim is not None, "manifest validation guarantees a 'simulated' section"
        high, low = PROFILES[sim.confidence]
        out = []
        for req in requests:
            if req.truth is None:
                out.append(RawJudgment(text=None, error="simulated verifier needs the truth", simulated=True))
                continue
            rng = _rng(sim.seed, req.item_id, req.prompt)
            says_correct = req.truth if rng.random() < sim.agreement else not req.truth
            lo, hi = high if says_correct else low
            score = round(rng.uniform(lo, hi), 4)
            text = json.dumps({"score": score, "simulated": True})
            out.append(RawJudgment(text=text, input_tokens=0, output_tokens=0, simulated=True))
        return out
