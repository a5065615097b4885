"""Log-probability judging's score (pure): every spelling of yes and no counts, nothing else does."""

from __future__ import annotations

import json
import math

import pytest

from harness.stages.verdict import parse_verdict
from harness.verifiers.logprob import normalise, score_text, yes_no_score


@pytest.mark.parametrize("token", ["Yes", " yes", "YES", "yes\n", "\u0120Yes", "\u2581yes"])
def test_spellings_of_one_word_compare_equal(token):
    assert normalise(token) == "yes"


def test_score_is_the_yes_mass_over_the_yes_and_no_mass():
    top = [("Yes", math.log(0.5)), (" yes", math.log(0.1)), ("No", math.log(0.2)), ("Maybe", math.log(0.15))]
    score, p_yes, p_no = yes_no_score(top, ["Yes"], ["No"])
    assert p_yes == pytest.approx(0.6) and p_no == pytest.approx(0.2) and score == pytest.approx(0.75)
    assert parse_verdict(score_text(score, p_yes, p_no)).score == pytest.approx(0.75)
    assert json.loads(score_text(score, p_yes, p_no))["p_no"] == pytest.approx(0.2)


def test_no_score_without_either_word_or_with_a_broken_logprob():
    assert yes_no_score([("Maybe", -0.1), ("Perhaps", -2.0)], ["Yes"], ["No"])[0] is None
    assert yes_no_score([], ["Yes"], ["No"])[0] is None
    assert yes_no_score([("Yes", float("nan"))], ["Yes"], ["No"])[0] is None


def test_declared_words_other_than_yes_and_no():
    score, _, _ = yes_no_score([("Correct", math.log(0.3)), ("incorrect", math.log(0.6))],
                               ["correct"], ["Incorrect"])
    assert score == pytest.approx(1 / 3)
