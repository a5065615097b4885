from __future__ import annotations

import pytest

from harness.metrics import proportion, wilson_interval


def test_wilson_matches_hand_computed_values():
    # k=8, n=10: centre (0.8 + 1.92/20)/(1+3.8415/10); hand-computed with z=1.96 (R's prop.test w/o cc).
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)


def test_empty_and_invalid():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    p = proportion(3, 4)
    assert p.value == 0.75 and p.n == 4 and p.ci_low < 0.75 < p.ci_high


def test_mcnemar_exact_by_hand():
    from harness.metrics import mcnemar_exact

    # b=3, c=10: 2 * sum_{i<=3} C(13, i) / 2^13 = 2 * 378 / 8192
    assert mcnemar_exact(3, 10) == pytest.approx(2 * 378 / 8192)
    assert mcnemar_exact(10, 3) == mcnemar_exact(3, 10)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def test_paired_delta_counts_ci_and_mde():
    from harness.metrics import paired_delta

    before = [True] * 50 + [False] * 50
    after = [True] * 40 + [False] * 10 + [True] * 30 + [False] * 20  # 10 lost, 30 gained
    d = paired_delta(before, after, seed=1)
    assert (d.n, d.before, d.after, d.discordant) == (100, 0.5, 0.7, (10, 30))
    assert d.delta == pytest.approx(0.2) and d.ci_low < 0.2 < d.ci_high and d.ci_low > 0
    # MDE = (1.96 + 0.8416) * sqrt(0.4 / 100)
    assert d.mde == pytest.approx(2.8016 * (0.4 / 100) ** 0.5, abs=1e-3)
    assert paired_delta(before, after, seed=1) == d  # seeded bootstrap: reproducible
    same = paired_delta(before, before)
    assert same.delta == 0 and same.ci_low == same.ci_high == 0 and same.mcnemar_p == 1.0 and same.mde == 0.01
    with pytest.raises(ValueError, match="same items"):
        paired_delta(before, after[:-1])


def test_an_empty_proportion_is_nan_in_memory_and_null_in_json():
    import math

    from harness.metrics import Proportion, proportion

    empty = proportion(0, 0)
    assert math.isnan(empty.value) and '"value":null' in empty.model_dump_json()
    assert math.isnan(Proportion.model_validate_json(empty.model_dump_json()).value)
    assert proportion(3, 4).model_dump()["value"] == 0.75
