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
