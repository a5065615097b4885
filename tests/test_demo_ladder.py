"""The demo ladder (the full demo protocol: 4 verifiers x 2 tiny students x 3 training seeds, 7 to 13 minutes on
2 cores): it runs exactly what `make demo` runs and asserts what the demo shows on any CPU.

What is asserted held in every CPU numerics variant measured (`bench/demo_robustness.py`: this machine's kernels,
AVX2, no vectorisation, one and two threads; the README's demo section): every training seed of a sub-threshold
verifier regresses every student while the DPO loss falls, the confident-wrong verifier's seed mean is below the
near-random one's, and the strong verifier's is more than 10 points above the confident-wrong one's. The paper's
findings judged with their CIs (three seeds: a t interval with about 2 degrees of freedom) held in some variants
and not in others (issue 14 stays open), so they are not asserted here: a test that passes or fails with the CPU it
runs on would say nothing.
"""

from __future__ import annotations

import pytest

from harness.findings import wrong_admitted_per_100_prompts


@pytest.fixture
def ladder(demo_ladder):
    return {name: result for name, (_, result) in demo_ladder.items()}


@pytest.mark.slow
def test_every_training_seed_of_a_sub_threshold_verifier_regresses_every_student(ladder):
    """With students that hesitate between an answer and one neighbour, a verifier that prefers the neighbour
    lowers the student in every training run, not only on average. (Above-threshold verifiers raised every seed
    in all but one of 24 seed runs measured: one seed collapsed, README demo section.) The per-seed deltas are in
    the message."""
    report = {name: {s.student: [round(100 * x, 1) for x in s.delta.seed_deltas] for s in r.tasks[0].students}
              for name, r in ladder.items()}
    for name in ("confident-wrong", "near-random"):
        for s in ladder[name].tasks[0].students:
            assert all(d < 0 for d in s.delta.seed_deltas), (name, s.student, report)
            assert s.loss_fell, (name, s.student)


@pytest.mark.slow
def test_the_verifier_decides_which_way_every_student_moves(ladder):
    """Sub-threshold verifiers regress both students (seed mean), the confident-wrong one more than the near-random
    one although its rubric accuracy is higher, and on each student the strong verifier's seed-mean delta beats the
    confident-wrong one's by more than 10 points. The per-seed deltas are in the message."""
    def deltas(name):
        return {s.student: s.delta for s in ladder[name].tasks[0].students}

    strong, wrong, random_ = deltas("strong"), deltas("confident-wrong"), deltas("near-random")
    report = {n: {st: [round(100 * x, 1) for x in d.seed_deltas] for st, d in deltas(n).items()} for n in ladder}
    for student in strong:
        assert wrong[student].delta < random_[student].delta < 0, report  # the inversion's direction
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
