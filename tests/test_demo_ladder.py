"""The demo ladder (the full demo protocol: 4 verifiers x 2 tiny students x 3 training seeds, about 16 minutes on
2 cores): it runs exactly what `make demo` runs and asserts what the demo shows on any CPU.

Every finding is judged on seed means with CIs over test items and training seeds (three seeds: a t interval with
few degrees of freedom), so none can hinge on one training trajectory. What the tiny students show robustly (in
every seed and setting measured, see the README's demo section) is asserted directly; the paper's three findings
with their CIs do not all hold yet (issue 14 stays open): that test is a strict xfail, so it turns red the day they
do and the mark must go.
"""

from __future__ import annotations

import pytest

from harness.findings import check_findings, wrong_admitted_per_100_prompts
from harness.results import post_correctness


@pytest.fixture
def ladder(demo_ladder):
    return {name: result for name, (_, result) in demo_ladder.items()}


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 14: on the tiny students the paper's CI-based findings do not all hold "
                   "(README, demo section)")
def test_demo_ladder_reproduces_the_three_findings(ladder):
    findings = check_findings(list(ladder.values()), post_correctness(list(ladder.values())))
    report = "\n".join(f"{f.name}: {f.holds}\n  " + "\n  ".join(f.evidence) for f in findings)
    assert all(f.holds for f in findings), report


@pytest.mark.slow
def test_the_verifier_decides_which_way_every_student_moves(ladder):
    """Sub-threshold verifiers regress both students (seed mean), and on each student the strong verifier's
    seed-mean delta beats the confident-wrong one's by more than 10 points: the verifier, not the training noise,
    decides the direction. The per-seed deltas are in the message."""
    def deltas(name):
        return {s.student: s.delta for s in ladder[name].tasks[0].students}

    strong, wrong, random_ = deltas("strong"), deltas("confident-wrong"), deltas("near-random")
    report = {n: {st: [round(100 * x, 1) for x in d.seed_deltas] for st, d in deltas(n).items()} for n in ladder}
    for student in strong:
        assert wrong[student].delta < 0 and random_[student].delta < 0, report
        assert strong[student].delta - wrong[student].delta > 0.10, report


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
            assert s.delta.seeds >= 3 and len(s.seeds) == s.delta.seeds, "findings rest on several training seeds"
