"""parse_verdict: every rule of the module docstring, plus hostile and degenerate inputs."""

from __future__ import annotations

import random
import string
import time

import pytest

from harness.stages.verdict import Verdict, parse_verdict

# (raw verifier output, expected score) for answers that must parse.
PARSES = [
    # plain JSON
    ('{"score": 0.7}', 0.7),
    ('{"score": 0}', 0.0),
    ('{"score": 1}', 1.0),
    ('{"score": 0.25, "reason": "the count is right"}', 0.25),
    ('  \n{"score": 0.4}\n  ', 0.4),
    # code fences
    ('```json\n{"score": 0.9}\n```', 0.9),
    ('```\n{"score": 0.15}\n```', 0.15),
    ('Here is my verdict:\n```json\n{\n  "score": 0.6,\n  "reason": "ok"\n}\n```\nDone.', 0.6),
    # prose before / after (apostrophes outside the object must not confuse the brace scanner)
    ('The answer is correct. {"score": 0.8}', 0.8),
    ('{"score": 0.8} I\'m confident it\'s right.', 0.8),
    ("Here's my answer: {\"score\": 0.35} That's all, it's {mostly} fine.", 0.35),
    # single quotes and Python literals
    ("{'score': 0.3}", 0.3),
    ("{'score': 0.3, 'correct': False}", 0.3),
    ("{'score': True}", 1.0),
    ("{'score': False}", 0.0),
    # JSON booleans
    ('{"score": true}', 1.0),
    ('{"score": false}', 0.0),
    # score as a string
    ('{"score": "0.7"}', 0.7),
    ('{"score": " 0.7 "}', 0.7),
    ('{"score": "85"}', 0.85),
    # percentages
    ('{"score": "85%"}', 0.85),
    ('{"score": "85 %"}', 0.85),
    ('{"score": "100%"}', 1.0),
    ('{"score": "0.5%"}', 0.005),
    # a whole number in (1, 100] is read as a percentage
    ('{"score": 85}', 0.85),
    ('{"score": 85.0}', 0.85),
    ('{"score": 100}', 1.0),
    ('{"score": 2}', 0.02),
    # several objects: the last one holding a score wins
    ('{"score": 0.2} Wait, I misread. {"score": 0.9}', 0.9),
    ('{"score": 0.2}\n{"score": 0.4}\n{"score": 0.6}', 0.6),
    ('{"score": 0.2} {"note": "no score here"}', 0.2),
    ('{"note": "first"} {"score": 0.45} {"other": 1}', 0.45),
    # nested objects: the outer object's score wins over an inner one ...
    ('{"score": 0.8, "details": {"score": 0.1, "x": 2}}', 0.8),
    # ... and a score only inside a nested object is still found
    ('{"result": {"score": 0.4}}', 0.4),
    ('{"result": {"score": true}}', 1.0),  # nested: found in the JSON, not only by the fallback pattern
    ("score: 7/10", 0.7),  # a fraction is divided out, not read as 7%
    ('{"score": "3/4"}', 0.75),
    ('{"result": {"score": "85%"}}', 0.85),
    # "score" key, case- and whitespace-insensitive
    ('{"Score": 0.6}', 0.6),
    ('{"SCORE": 0.6}', 0.6),
    ('{" score ": 0.6}', 0.6),
    # bare pattern when no object holds a score
    ("score: 0.3", 0.3),
    ("Score = 0.3", 0.3),
    ('"score" = 70%', 0.7),
    ("'score': '0.55'", 0.55),
    ("score: 5e-1", 0.5),
    ("score: 85", 0.85),
    ("First score: 0.2, final score: 0.8.", 0.8),
    ('{"verdict": "yes"} and score: 0.3', 0.3),
    # unbalanced braces
    ('{"score": 0.7', 0.7),
    ('}}} {"score": 0.4}', 0.4),
    ('{"score": 0.4}}}}', 0.4),
    ('{{"score": 0.65}', 0.65),
    # braces and quotes inside strings
    ('{"reason": "use {x} here }", "score": 0.6}', 0.6),
    ('{"reason": "a \\" } b", "score": 0.4}', 0.4),
    ("{'reason': 'he said \"hi\" }', 'score': 0.3}", 0.3),
    ('{"reason": "it\'s right {", "score": 0.9}', 0.9),
]


@pytest.mark.parametrize(("text", "expected"), PARSES)
def test_parses_score(text, expected):
    v = parse_verdict(text)
    assert v.ok, v.error
    assert v.error is None
    assert v.score == pytest.approx(expected)
    assert 0.0 <= v.score <= 1.0


# (raw output, a substring of the error) for answers that must fail without raising.
FAILS = [
    # out of range
    ('{"score": 1.5}', "out of range"),
    ('{"score": 101}', "out of range"),
    ('{"score": 150}', "out of range"),
    ('{"score": "150%"}', "out of range"),
    ('{"score": -0.2}', "out of range"),
    ('{"score": -85}', "out of range"),
    ('{"score": "-5%"}', "out of range"),
    ("score: -0.5", "out of range"),
    ("score: 1.5", "out of range"),
    # NaN / infinity
    ('{"score": "NaN"}', "not finite"),
    ('{"score": "nan%"}', "not finite"),
    ('{"score": "inf"}', "not finite"),
    ('{"score": "-inf"}', "not finite"),
    ('{"score": "Infinity"}', "not finite"),
    ('{"score": NaN}', "not finite"),
    ('{"score": Infinity}', "not finite"),
    ('{"score": 1e400}', "not finite"),
    # not a number
    ('{"score": "high"}', "not a number"),
    ('{"score": "true"}', "not a number"),
    ('{"score": "%"}', "not a number"),
    ('{"score": null}', "type NoneType"),
    ('{"score": [0.7]}', "type list"),
    ('{"score": {"value": 0.7}}', "type dict"),
    # the last object holding a score wins, even when it is broken
    ('{"score": 0.2} then {"score": null}', "type NoneType"),
    ('{"score": 0.9} corrected: {"score": 7.5}', "out of range"),
    # no score anywhere
    ("The answer looks correct to me.", "no score found"),
    ('{"verdict": "correct", "confidence": 0.9}', "no score found"),
    ("{'score'}", "no score found"),  # a set literal, not a mapping
    ("score: high", "no score found"),
    ("{ unbalanced", "no score found"),
    ("}{", "no score found"),
    # empty
    ("", "empty output"),
    ("   \n\t ", "empty output"),
    (None, "empty output"),
]


@pytest.mark.parametrize(("text", "error"), FAILS)
def test_failures_return_none_with_reason(text, error):
    v = parse_verdict(text)
    assert v.score is None
    assert not v.ok
    assert v.error is not None and error in v.error
    assert v.verdict() is None
    assert v.verdict(0.0) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b'{"score": 0.3}', 0.3),  # bytes: str() keeps the object readable
        ({"score": 0.7}, 0.7),  # an already-parsed dict (str() gives a Python literal)
    ],
)
def test_non_string_input_is_stringified(value, expected):
    assert parse_verdict(value).score == pytest.approx(expected)


@pytest.mark.parametrize("value", [0.7, 1, ["score"], object()])
def test_non_string_input_without_score_fails_cleanly(value):
    v = parse_verdict(value)
    assert v.score is None and v.error == "no score found"


@pytest.mark.parametrize(
    ("text", "method"),
    [('{"score": 0.5}', "json"), ("score: 0.5", "pattern"), ('{"result": {"score": 0.4}}', "json")],
)
def test_method_records_which_rule_matched(text, method):
    assert parse_verdict(text).method == method


@pytest.mark.parametrize(
    ("score", "threshold", "expected"),
    [
        (0.5, 0.5, True),  # >= threshold is "correct"
        (0.49, 0.5, False),
        (0.51, 0.5, True),
        (0.0, 0.5, False),
        (1.0, 0.5, True),
        (0.7, 0.7, True),
        (0.69, 0.7, False),
        (0.0, 0.0, True),
    ],
)
def test_verdict_threshold(score, threshold, expected):
    v = parse_verdict(f'{{"score": {score}}}')
    assert v.score == pytest.approx(score)
    assert v.verdict(threshold) is expected


def test_verdict_default_threshold_is_one_half():
    assert parse_verdict('{"score": 0.5}').verdict() is True
    assert parse_verdict('{"score": 0.4999}').verdict() is False


def test_verdict_object_is_frozen():
    v = parse_verdict('{"score": 0.5}')
    assert isinstance(v, Verdict)
    with pytest.raises(AttributeError):
        v.score = 0.9  # type: ignore[misc]


def _garbage(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.printable + "{}'\"") for _ in range(n))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_garbage(1_000_000, 0), id="random-printable-1MB"),
        pytest.param("{" * 1_000_000, id="open-braces-1MB"),
        pytest.param("}" * 1_000_000, id="close-braces-1MB"),
        pytest.param('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", id="deep-nesting"),
        pytest.param("{'" + "a" * 1_000_000, id="unterminated-quote-1MB"),
        pytest.param("score: " * 150_000, id="repeated-key-1MB"),
        pytest.param("\x00\ufffd\u202e" * 350_000, id="control-chars-1MB"),
    ],
)
def test_huge_garbage_is_fast_and_does_not_raise(text):
    start = time.perf_counter()
    v = parse_verdict(text)
    elapsed = time.perf_counter() - start
    assert v.score is None and v.error
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


def test_score_after_the_size_cap_is_ignored():
    # Only the first MAX_CHARS characters are read: a score buried after 1 MB of noise is not.
    assert parse_verdict("x" * 1_000_000 + '{"score": 0.9}').error == "no score found"
    assert parse_verdict('{"score": 0.9}' + "x" * 1_000_000).score == pytest.approx(0.9)
