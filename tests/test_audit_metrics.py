"""Audit metrics against hand-computed values (the arithmetic is in the comments).

Scores are dyadic fractions (0.125, 0.25, ...) wherever a comparison sits on a boundary, so
float rounding cannot decide a test.
"""

from __future__ import annotations

import math

import pytest

from harness.audit_metrics import audit_metrics, auroc, expected_calibration_error, pair_stats, pick_pair
from harness.metrics import wilson_interval

T, F = True, False


# ---------------------------------------------------------------------------------------- auroc


@pytest.mark.parametrize(
    ("scores", "truths", "expected"),
    [
        # pos [0.9, 0.5] vs neg [0.5, 0.1]: 0.9>0.5, 0.9>0.1, 0.5=0.5 (half), 0.5>0.1
        # -> (1 + 1 + 0.5 + 1) / 4 = 0.875
        ([0.9, 0.5, 0.5, 0.1], [T, T, F, F], 0.875),
        # order of the inputs does not matter
        ([0.1, 0.5, 0.9, 0.5], [F, T, T, F], 0.875),
        # perfect separation: every positive above every negative -> 1
        ([0.9, 0.8, 0.2, 0.1], [T, T, F, F], 1.0),
        # perfectly inverted -> 0
        ([0.1, 0.2, 0.8, 0.9], [T, T, F, F], 0.0),
        # all scores tied -> every pair counts half -> 0.5
        ([0.5, 0.5, 0.5], [T, F, F], 0.5),
        # pos [0.6] vs neg [0.6, 0.6, 0.2]: 0.5 + 0.5 + 1 = 2 of 3 -> 0.6667
        ([0.6, 0.6, 0.6, 0.2], [T, F, F, F], 2 / 3),
        # pos [0.7, 0.3] vs neg [0.5]: 1 + 0 = 1 of 2 -> 0.5
        ([0.7, 0.3, 0.5], [T, T, F], 0.5),
        # pos [0.875, 0.75, 0.25] vs neg [0.125, 0.75, 0.375, 0.0]:
        # 0.875 beats 4 -> 4; 0.75 beats 3 + ties 1 -> 3.5; 0.25 beats 0.125, 0.0 -> 2; 9.5 / 12
        ([0.875, 0.75, 0.25, 0.125, 0.75, 0.375, 0.0], [T, T, T, F, F, F, F], 9.5 / 12),
    ],
)
def test_auroc(scores, truths, expected):
    assert auroc(scores, truths) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("scores", "truths"),
    [([], []), ([0.9, 0.1], [T, T]), ([0.9, 0.1], [F, F]), ([0.5], [T])],
)
def test_auroc_needs_both_classes(scores, truths):
    assert auroc(scores, truths) is None


def test_auroc_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        auroc([0.1, 0.2], [T])


# ---------------------------------------------------------------------------------------- ECE


@pytest.mark.parametrize(
    ("scores", "truths", "expected"),
    [
        # 10 equal-width bins. 0.1 -> bin 1, 0.15 -> bin 1; 0.9 -> bin 9, 1.0 -> bin 9 (the last bin).
        # bin 1: n=2, mean score 0.125, accuracy 1/2 -> |0.125 - 0.5| = 0.375, weight 2/4
        # bin 9: n=2, mean score 0.95, accuracy 2/2 -> |0.95 - 1| = 0.05, weight 2/4
        # ECE = 0.5 * 0.375 + 0.5 * 0.05 = 0.1875 + 0.025 = 0.2125
        ([0.1, 0.15, 0.9, 1.0], [F, T, T, T], 0.2125),
        # 1.0 alone, correct: last bin, |1.0 - 1| = 0
        ([1.0], [T], 0.0),
        # 1.0 alone, wrong: |1.0 - 0| = 1
        ([1.0], [F], 1.0),
        # 0.95 and 1.0 share the last bin: mean 0.975, accuracy 1/2 -> 0.475
        ([0.95, 1.0], [T, F], 0.475),
        # 0.0 wrong -> bin 0, |0 - 0| = 0; perfectly calibrated
        ([0.0, 0.0], [F, F], 0.0),
        # one populated bin (bin 5): mean (0.5 + 0.55 + 0.55 + 0.5) / 4 = 0.525, accuracy 3/4 -> 0.225
        ([0.5, 0.55, 0.55, 0.5], [T, T, T, F], 0.225),
        # [0.25 F] bin 2: 0.25; [0.75 T, 0.75 F] bin 7: |0.75 - 0.5| = 0.25, weight 2/3
        # ECE = 1/3 * 0.25 + 2/3 * 0.25 = 0.25
        ([0.25, 0.75, 0.75], [F, T, F], 0.25),
    ],
)
def test_expected_calibration_error(scores, truths, expected):
    assert expected_calibration_error(scores, truths) == pytest.approx(expected)


def test_ece_bin_count_matters():
    # With 2 bins, 0.1 and 0.4 share bin 0: mean 0.25, accuracy 1/2 -> 0.25.
    # With 10 bins they are apart: bin 1 |0.1 - 0| = 0.1, bin 4 |0.4 - 1| = 0.6 -> (0.1 + 0.6) / 2 = 0.35
    assert expected_calibration_error([0.1, 0.4], [F, T], bins=2) == pytest.approx(0.25)
    assert expected_calibration_error([0.1, 0.4], [F, T]) == pytest.approx(0.35)


def test_ece_empty_is_none():
    assert expected_calibration_error([], []) is None


# ---------------------------------------------------------------------------------------- pick_pair


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ([(0.9, T), (0.1, F)], (0, 1)),
        ([(0.1, F), (0.9, T)], (1, 0)),
        # ties: the first index of the max and of the min
        ([(0.9, T), (0.9, F), (0.1, F), (0.1, T)], (0, 2)),
        ([(0.5, T), (0.2, F), (0.8, T), (0.8, F), (0.2, T)], (2, 1)),
        # parse failures are skipped
        ([(None, T), (0.3, F), (None, F), (0.8, T)], (3, 1)),
        ([(None, T), (0.0, F), (1.0, T)], (2, 1)),
        # all equal -> no pair
        ([(0.5, T), (0.5, F), (0.5, T)], None),
        ([(None, T), (0.5, F), (0.5, T)], None),
        # fewer than two parsed -> no pair
        ([(0.9, T)], None),
        ([(None, T), (0.9, F)], None),
        ([(None, T), (None, F)], None),
        ([], None),
    ],
)
def test_pick_pair(candidates, expected):
    assert pick_pair(candidates) == expected


# ---------------------------------------------------------------------------------------- pair_stats

PAIR_ITEMS = [
    [(0.875, T), (0.125, F)],  # margin 0.75, decisive, top correct -> right
    [(0.75, F), (0.25, T)],  # margin 0.5, decisive, top wrong -> not right
    [(0.625, T), (0.5, T)],  # margin 0.125, both correct -> neutral
    [(0.5, F), (0.5, T)],  # all scores equal -> no pair
    [(None, T), (0.25, F)],  # one parsed -> no pair
]


@pytest.mark.parametrize(
    ("tau", "pairs", "neutral", "right", "decisive", "margin_weighted"),
    [
        # tau 0: pairs A, B, C; C neutral; 1 right of 2 decisive; weighted 0.75 / (0.75 + 0.5) = 0.6
        (0.0, 3, 1, 1, 2, 0.6),
        # tau 0.125: C's margin equals tau -> still counted (margin >= tau)
        (0.125, 3, 1, 1, 2, 0.6),
        # tau 0.25: C gated out; A, B remain
        (0.25, 2, 0, 1, 2, 0.6),
        # tau 0.5: B's margin equals tau -> counted
        (0.5, 2, 0, 1, 2, 0.6),
        # tau 0.625: only A -> 1 of 1 right, weighted 0.75 / 0.75 = 1
        (0.625, 1, 0, 1, 1, 1.0),
        # tau above every margin: nothing
        (0.875, 0, 0, 0, 0, None),
    ],
)
def test_pair_stats_gating(tau, pairs, neutral, right, decisive, margin_weighted):
    st = pair_stats(PAIR_ITEMS, tau)
    assert st.pairs == pairs
    assert st.neutral == neutral
    assert st.direction.k == right
    assert st.direction.n == decisive
    if decisive:
        assert st.direction.value == pytest.approx(right / decisive)
    else:
        assert math.isnan(st.direction.value)
    if margin_weighted is None:
        assert st.margin_weighted is None
    else:
        assert st.margin_weighted == pytest.approx(margin_weighted)


def test_pair_stats_margin_weighting_differs_from_plain_direction():
    # right pairs with margins 0.25 and 0.125; a wrong pair with margin 0.625.
    # direction = 2/3; margin-weighted = (0.25 + 0.125) / (0.25 + 0.125 + 0.625) = 0.375
    items = [
        [(0.5, T), (0.25, F)],
        [(0.25, T), (0.125, F)],
        [(0.875, F), (0.25, T)],
    ]
    st = pair_stats(items)
    assert (st.pairs, st.neutral, st.direction.k, st.direction.n) == (3, 0, 2, 3)
    assert st.direction.value == pytest.approx(2 / 3)
    assert st.margin_weighted == pytest.approx(0.375)


def test_pair_stats_only_neutral_pairs_have_no_direction():
    st = pair_stats([[(0.9, T), (0.1, T)], [(0.8, F), (0.2, F)]])
    assert (st.pairs, st.neutral, st.direction.n) == (2, 2, 0)
    assert st.margin_weighted is None


def test_pair_stats_uses_the_picked_pair_not_any_pair():
    # top 0.9 (wrong), bottom 0.1 (wrong) -> neutral, although a correct 0.5 sits in the middle.
    st = pair_stats([[(0.5, T), (0.9, F), (0.1, F)]])
    assert (st.pairs, st.neutral, st.direction.n) == (1, 1, 0)


def test_pair_stats_empty():
    st = pair_stats([])
    assert (st.pairs, st.neutral, st.direction.n, st.margin_weighted) == (0, 0, 0, None)


# ---------------------------------------------------------------------------------------- audit_metrics

# Four items, eight judgments, threshold 0.5. "agrees" = parsed and (score >= 0.5) == truth.
AUDIT_ITEMS = [
    [(0.875, T), (0.125, F)],  # agrees, agrees
    [(None, T), (0.75, T)],  # parse failure (disagrees), agrees
    [(0.25, T), (0.75, F)],  # disagrees, disagrees
    [(0.375, F), (0.0, F)],  # agrees, agrees
]


def test_audit_metrics_by_hand():
    m = audit_metrics(AUDIT_ITEMS, tau=0.5)
    assert m.n_judgments == 8
    assert m.gate_tau == 0.5

    # parse failures: 1 of 8
    assert (m.parse_failures.k, m.parse_failures.n) == (1, 8)
    assert m.parse_failures.value == pytest.approx(0.125)

    # rubric accuracy: first candidates only -> 0.875 T agrees, None fails, 0.25 T disagrees,
    # 0.375 F agrees -> 2 of 4
    assert (m.rubric_accuracy.k, m.rubric_accuracy.n) == (2, 4)
    assert m.rubric_accuracy.value == pytest.approx(0.5)
    # Wilson 95% for 2/4: centre 0.5, half-width 1.96*sqrt(0.0625 + 3.8415/64)/1.9604 = 0.3500
    assert m.rubric_accuracy.ci_low == pytest.approx(0.1500, abs=1e-4)
    assert m.rubric_accuracy.ci_high == pytest.approx(0.8500, abs=1e-4)

    # agreement over all 8: agrees = 0.875T, 0.125F, 0.75T, 0.375F, 0.0F -> 5 of 8
    assert (m.agreement_all.k, m.agreement_all.n) == (5, 8)
    assert (m.agreement_all.ci_low, m.agreement_all.ci_high) == pytest.approx(wilson_interval(5, 8))

    # TPR over parsed positives [0.875, 0.75, 0.25]: >= 0.5 for 2 of 3
    assert (m.tpr.k, m.tpr.n) == (2, 3)
    # TNR over parsed negatives [0.125, 0.75, 0.375, 0.0]: < 0.5 for 3 of 4
    assert (m.tnr.k, m.tnr.n) == (3, 4)
    # balanced accuracy = (2/3 + 3/4) / 2 = 17/24
    assert m.balanced_accuracy == pytest.approx(17 / 24)

    # AUROC over the 7 parsed judgments: 9.5 / 12 (see test_auroc)
    assert m.auroc == pytest.approx(9.5 / 12)

    # ECE, 10 bins, n = 7 parsed:
    # bin 0 [0.0 F] 0; bin 1 [0.125 F] 0.125; bin 2 [0.25 T] 0.75; bin 3 [0.375 F] 0.375;
    # bin 7 [0.75 T, 0.75 F] 2 * |0.75 - 0.5| = 0.5; bin 8 [0.875 T] 0.125
    # ECE = (0.125 + 0.75 + 0.375 + 0.5 + 0.125) / 7 = 1.875 / 7
    assert m.ece == pytest.approx(1.875 / 7)

    # pairs, tau 0: item 1 right (margin 0.75); item 2 one parsed -> none; item 3 top 0.75 F vs
    # bottom 0.25 T -> wrong (margin 0.5); item 4 both wrong -> neutral (margin 0.375).
    # direction 1/2, margin-weighted 0.75 / (0.75 + 0.5) = 0.6
    pa = m.pairs_all
    assert (pa.pairs, pa.neutral, pa.direction.k, pa.direction.n) == (3, 1, 1, 2)
    assert pa.margin_weighted == pytest.approx(0.6)
    # gated at tau 0.5: item 4 (0.375) out; item 3 (exactly 0.5) in
    pg = m.pairs_gated
    assert (pg.pairs, pg.neutral, pg.direction.k, pg.direction.n) == (2, 0, 1, 2)
    assert pg.margin_weighted == pytest.approx(0.6)


def test_audit_metrics_gate_excludes_low_margin_pairs():
    m = audit_metrics(AUDIT_ITEMS, tau=0.625)
    # only item 1 (margin 0.75) passes the gate: 1 of 1 right
    assert (m.pairs_gated.pairs, m.pairs_gated.direction.k, m.pairs_gated.direction.n) == (1, 1, 1)
    assert m.pairs_gated.margin_weighted == pytest.approx(1.0)
    # the ungated pairs do not depend on tau
    assert m.pairs_all == audit_metrics(AUDIT_ITEMS, tau=0.0).pairs_all


def test_audit_metrics_threshold_moves_verdicts():
    # threshold 0.8: positives >= 0.8: [0.875] -> TPR 1/3; negatives < 0.8: all 4 -> TNR 4/4.
    # firsts: 0.875T agrees, None fails, 0.25T disagrees, 0.375F agrees -> 2 of 4.
    # all: 0.875T, 0.125F, 0.75F, 0.375F, 0.0F agree -> 5 of 8 (0.75T now disagrees, 0.75F agrees)
    m = audit_metrics(AUDIT_ITEMS, tau=0.0, threshold=0.8)
    assert (m.tpr.k, m.tpr.n) == (1, 3)
    assert (m.tnr.k, m.tnr.n) == (4, 4)
    assert m.balanced_accuracy == pytest.approx((1 / 3 + 1) / 2)
    assert (m.rubric_accuracy.k, m.agreement_all.k) == (2, 5)
    # AUROC and ECE do not depend on the threshold
    assert m.auroc == pytest.approx(9.5 / 12)
    assert m.ece == pytest.approx(1.875 / 7)


def test_rubric_accuracy_counts_a_first_candidate_parse_failure_as_disagreement():
    # Every first candidate fails to parse; the rest would all agree.
    items = [[(None, T), (0.9, T)], [(None, F), (0.1, F)]]
    m = audit_metrics(items, tau=0.0)
    assert (m.rubric_accuracy.k, m.rubric_accuracy.n) == (0, 2)
    assert (m.agreement_all.k, m.agreement_all.n) == (2, 4)
    assert (m.parse_failures.k, m.parse_failures.n) == (2, 4)


def test_rubric_accuracy_n_is_the_item_count():
    items = [[(0.9, T), (0.1, T), (0.2, T)], [(0.1, F), (0.9, F), (0.8, F)], [(0.7, T)]]
    m = audit_metrics(items, tau=0.0)
    # firsts 0.9T, 0.1F, 0.7T all agree -> 3 of 3; all 7: 0.9T, 0.1F, 0.7T agree -> 3 of 7
    assert (m.rubric_accuracy.k, m.rubric_accuracy.n) == (3, 3)
    assert (m.agreement_all.k, m.agreement_all.n) == (3, 7)
    assert m.n_judgments == 7


def test_audit_metrics_one_class_only():
    m = audit_metrics([[(0.9, T), (0.2, T)]], tau=0.0)
    assert m.balanced_accuracy is None
    assert m.auroc is None
    assert m.tnr.n == 0
    assert (m.tpr.k, m.tpr.n) == (1, 2)


def test_audit_metrics_all_parse_failures():
    m = audit_metrics([[(None, T), (None, F)]], tau=0.0)
    assert (m.parse_failures.k, m.parse_failures.n) == (2, 2)
    assert m.rubric_accuracy.k == 0 and m.agreement_all.k == 0
    assert m.auroc is None and m.ece is None and m.balanced_accuracy is None
    assert m.pairs_all.pairs == 0


def test_audit_metrics_empty():
    m = audit_metrics([], tau=0.0)
    assert m.n_judgments == 0
    assert m.rubric_accuracy.n == 0 and math.isnan(m.rubric_accuracy.value)
    assert m.auroc is None and m.ece is None and m.balanced_accuracy is None


# ---------------------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # R: prop.test(8, 10, correct = FALSE)
        (2, 4, 0.1500, 0.8500),
        (0, 20, 0.0, 0.1611),
        (20, 20, 0.8389, 1.0),
        (1, 8, 0.0224, 0.4709),
    ],
)
def test_wilson_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)
