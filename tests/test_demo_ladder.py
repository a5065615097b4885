"""The demo ladder reproduces the paper's three findings on both tiny students (the full demo protocol).

This is the slowest test (the whole ladder: 4 verifiers x 2 students, about 6 minutes on 2 cores); it runs
exactly what `make demo` runs and asserts what the demo claims.
"""

from __future__ import annotations

import pytest

from harness.findings import check_findings, wrong_admitted_per_100_prompts
from harness.results import post_correctness


@pytest.fixture
def ladder(demo_ladder):
    return {name: result for name, (_, result) in demo_ladder.items()}


@pytest.mark.slow
def test_demo_ladder_reproduces_the_three_findings(ladder):
    findings = check_findings(list(ladder.values()), post_correctness(list(ladder.values())))
    report = "\n".join(f"{f.name}: {f.holds}\n  " + "\n  ".join(f.evidence) for f in findings)
    assert all(f.holds for f in findings), report


@pytest.mark.slow
def test_demo_ladder_is_built_as_the_issue_describes(ladder):
    audit = {name: r.tasks[0].audit for name, r in ladder.items()}
    acc = {name: a.metrics.rubric_accuracy.value for name, a in audit.items()}
    for name in ("strong", "moderate"):
        assert all(g.verdict == "above" for g in audit[name].gate), name
    for name in ("confident-wrong", "near-random"):
        assert all(g.verdict == "below" for g in audit[name].gate), name
    assert acc["strong"] > acc["moderate"] > acc["confident-wrong"] > acc["near-random"]
    # The mechanism of the inversion, visible in the per-round diagnostics: the confident verifier gets far more
    # wrong-direction pairs through the replay gate.
    for cw, nr in zip(ladder["confident-wrong"].tasks[0].students, ladder["near-random"].tasks[0].students,
                      strict=True):
        assert wrong_admitted_per_100_prompts(cw) > 2 * wrong_admitted_per_100_prompts(nr), cw.student
    for r in ladder.values():
        for s in r.tasks[0].students:
            assert s.delta.n >= 1000, "a 3-point effect must be distinguishable from noise"
