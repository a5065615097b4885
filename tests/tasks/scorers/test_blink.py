"""The BLINK scorer against the official BLINK evaluation (zeyofu/BLINK_Benchmark @ 2d6a779).

Expected values in ``OFFICIAL_CASES`` and in ``data/blink_official.jsonl`` were produced by running
the official ``analyze_answer`` + exact-match accuracy (a throwaway copy outside this repository,
with the GPT call stubbed) on each case where the official code decides without GPT. The
``DETERMINISTIC_CASES`` are decisions where the official code would ask GPT-3.5; their expected
values follow the documented rules of :mod:`harness.tasks.scorers.blink`.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from harness.tasks.scorers.blink import score
from harness.tasks.scorers.common import Score

GOLDEN = Path(__file__).parent / "data" / "blink_official.jsonl"


def _row(task: str, choices: list[str], answer: str) -> dict:
    options = "\n".join(f"({'ABCDEFGH'[i]}) {c}" for i, c in enumerate(choices))
    question = f"A {task} question?"
    return {
        "idx": f"val_{task}_1",
        "question": question,
        "sub_task": task.replace("_", " "),
        "image_1": None,
        "image_2": None,
        "image_3": None,
        "image_4": None,
        "choices": choices,
        "answer": answer,
        "prompt": f"{question}\nSelect from the following choices.\n{options}",
        "explanation": "",
    }


ROWS = {
    "art2": _row("Art_Style", ["the second image", "the third image"], "(A)"),
    "depth2": _row("Relative_Depth", ["A is closer", "B is closer"], "(B)"),
    "refl3": _row("Relative_Reflectance", ["A is darker", "B is darker", "About the same"], "(C)"),
    "sem4": _row("Semantic_Correspondence", ["Point A", "Point B", "Point C", "Point D"], "(B)"),
    "count4": _row("Counting", ["3", "2", "0", "1"], "(D)"),
    "five5": _row("IQ_Test", ["picture A", "picture B", "picture C", "picture D", "picture E"], "(E)"),
    # Not BLINK shapes, but the official code's behaviour on them is deterministic too.
    "six6": _row("IQ_Test", ["1", "2", "3", "4", "5", "6"], "(A)"),
    "noq2": {"idx": "val_Jigsaw_1", "choices": ["the second image", "the third image"], "answer": "(A)"},
}

LONG_TOKENS = "x " * 400_000 + "(B)"  # 800 KB, one choice token at the very end
LONG_STATEMENT = "lorem ipsum " * 10_000 + "The answer is (B)."  # GPT branch, over GPT-3.5's context

# (row, response, official prediction, official correct, method) -- official values from the official code.
OFFICIAL_CASES = [
    ("art2", "A", "(A)", True, "official_exact_letter"),
    ("art2", "B", "(B)", False, "official_exact_letter"),
    ("art2", "C", "(C)", False, "official_exact_letter"),  # outside the 2 choices, still "(C)"
    ("art2", "E", "(E)", False, "official_exact_letter"),
    ("art2", "(A)", "(A)", True, "official_exact_bracket"),
    ("art2", "(E)", "(E)", False, "official_exact_bracket"),
    ("art2", "(A) the second image", "(A)", True, "official_last_paragraph"),
    ("art2", "(A) x\n\n(B) y", "(B)", False, "official_last_paragraph"),
    ("art2", "(B) is my answer\n\n", "(B)", False, "official_token_intersection"),  # empty last paragraph
    ("art2", "(A) wait\n\n\n(B)", "(B)", False, "official_last_paragraph"),
    ("art2", "(A)\xa0(B)\n\n(B)", "(B)", False, "official_last_paragraph"),  # NBSP splits tokens
    ("art2", "\x1c(A)\x1d", "(A)", True, "official_last_paragraph"),  # str.split() treats \x1c as space
    ("art2", None, None, False, "official_error"),
    ("art2", "Neither image matches (A) nor (B).", "(A)", True, "official_last_paragraph"),  # "(B)." no token
    (
        "sem4",
        "(A) Point A is on the handle.\n(B) Point B is on the blade.\n(C) Point C is on the tip.\n\n"
        "Therefore, the answer is:\n(B) Point B",
        "(B)",
        True,
        "official_last_paragraph",
    ),
    ("sem4", "E", "(E)", False, "official_exact_letter"),
    ("sem4", "(E)", "(E)", False, "official_exact_bracket"),
    ("sem4", "The best option is C because (A) is off.", "(A)", False, "official_last_paragraph"),
    ("refl3", "(C) About the same", "(C)", True, "official_last_paragraph"),
    ("count4", "(D) 1\n\nThere is one float.", "(D)", True, "official_token_intersection"),
    ("count4", "答案是 (D)", "(D)", True, "official_last_paragraph"),
    ("count4", "👍 (B) 👍", "(B)", False, "official_last_paragraph"),
    ("five5", "E", "(E)", True, "official_exact_letter"),
    ("five5", "(E) picture E", "(E)", True, "official_last_paragraph"),
    ("six6", "foo", None, False, "official_error"),  # GPT branch: IndexError listing 6 options
    ("six6", "(A) 1", "(A)", True, "official_last_paragraph"),
    ("six6", "A", "(A)", True, "official_exact_letter"),
    ("noq2", "foo", None, False, "official_error"),  # GPT branch: KeyError on row["question"]
    ("noq2", "(A) x", "(A)", True, "official_last_paragraph"),
    ("depth2", LONG_TOKENS, "(B)", True, "official_last_paragraph"),
]

# (row, response, parsed, correct, method) -- the official code would ask GPT-3.5 here.
DETERMINISTIC_CASES = [
    ("art2", "a", "(A)", True, "det_whole_letter"),
    ("art2", "A.", "(A)", True, "det_whole_letter"),
    ("art2", "(a)", "(A)", True, "det_whole_letter"),
    ("art2", "B\n", "(B)", False, "det_whole_letter"),
    ("art2", " A", "(A)", True, "det_whole_letter"),
    ("art2", "(B).", "(B)", False, "det_whole_letter"),
    ("art2", "**(B)**", "(B)", False, "det_whole_letter"),
    ("art2", "(C) the fourth image", None, False, "unparsed"),  # C is not a choice of a 2-choice row
    ("art2", "(B)the third image", "(B)", False, "det_bracket_letter"),
    ("art2", "The third image shares the style.", "(B)", False, "det_option_text"),
    (
        "art2",
        "Both the second image and the third image are Cubist, but the second image is closer.",
        "(A)",
        True,
        "det_option_text",
    ),
    ("art2", "(A) x (B) y", "(A)", True, "det_bracket_letter"),
    ("art2", "(A) and (B)\n\n", "(A)", True, "det_bracket_letter"),
    ("art2", "(A) first\r\n\r\n(B) second", "(A)", True, "det_bracket_letter"),  # \r\n\r\n is no paragraph
    ("art2", "(A)\n\n(A) and (B)", "(A)", True, "det_bracket_letter"),
    ("art2", "(A)(B)", "(A)", True, "det_bracket_letter"),
    ("art2", "(A)\u200b", "(A)", True, "det_whole_letter"),  # zero-width: officially not a token
    ("art2", "\u200b(B)", "(B)", False, "det_whole_letter"),
    ("art2", "\x00(A)", "(A)", True, "det_bracket_letter"),
    ("art2", "", None, False, "unparsed"),
    ("art2", "   \n\n ", None, False, "unparsed"),
    ("art2", "The answer is (B).", "(B)", False, "det_answer_statement"),
    ("art2", "Answer: C", None, False, "det_invalid_statement"),
    ("art2", "the answer is (C) neither.", None, False, "det_invalid_statement"),
    ("art2", "I'm sorry, I cannot determine which image shares the style.", None, False, "det_refusal"),
    (
        "sem4",
        "(A) Point A is on the handle.\n(B) Point B is on the blade.\n\nTherefore, the answer is (B).",
        "(B)",
        True,
        "det_answer_statement",
    ),
    ("sem4", "Point B is closer to the reference than point A.", "(B)", True, "det_lone_letter"),
    ("sem4", "A dog is near point C.", "(C)", False, "det_lone_letter"),  # article "A" skipped
    ("sem4", "A is the one.", "(A)", False, "det_lone_letter"),
    ("sem4", "Point D", "(D)", False, "det_lone_letter"),
    ("sem4", "(E) none", None, False, "unparsed"),
    ("sem4", "Looking at it:\n\n**Answer:** D", "(D)", False, "det_answer_statement"),
    ("refl3", "about the same", "(C)", True, "det_option_text"),
    ("refl3", "B is darker.", "(B)", False, "det_lone_letter"),
    ("count4", "There are 2 cars.", "(B)", False, "det_option_text"),
    ("count4", "答案是（D）", "(D)", True, "det_bracket_letter"),  # full-width brackets, NFKC
    ("count4", "Ｄ", "(D)", True, "det_whole_letter"),
    ("count4", "(ｄ)", "(D)", True, "det_whole_letter"),
    ("five5", "picture E", "(E)", True, "det_lone_letter"),
    ("depth2", LONG_STATEMENT, None, False, "det_too_long"),
]


def _case_id(case: tuple) -> str:
    return f"{case[0]}-{ascii(case[1])[:40]}"


@pytest.mark.parametrize("case", OFFICIAL_CASES, ids=[_case_id(c) for c in OFFICIAL_CASES])
def test_matches_official_where_it_is_deterministic(case: tuple) -> None:
    row_name, response, parsed, correct, method = case
    got = score(response, ROWS[row_name])
    assert (got.parsed, got.correct, got.method) == (parsed, correct, method)
    assert got.detail["official_deterministic"] is True
    assert got.fallback is False


@pytest.mark.parametrize("case", DETERMINISTIC_CASES, ids=[_case_id(c) for c in DETERMINISTIC_CASES])
def test_deterministic_extractor_replaces_gpt(case: tuple) -> None:
    row_name, response, parsed, correct, method = case
    got = score(response, ROWS[row_name])
    assert (got.parsed, got.correct, got.method) == (parsed, correct, method)
    assert got.detail["official_deterministic"] is False


def _golden() -> list[dict]:
    with GOLDEN.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_golden_file_covers_every_deterministic_branch() -> None:
    cases = _golden()
    assert len(cases) >= 300
    branches = {c["official_branch"] for c in cases}
    assert branches == {"exact_letter", "exact_bracket", "last_paragraph", "token_intersection", "error"}
    assert {len(c["row"]["choices"]) for c in cases} >= {2, 3, 4}
    assert any(c["official_correct"] for c in cases) and not all(c["official_correct"] for c in cases)


def test_agrees_with_official_on_every_golden_case() -> None:
    branch_method = {
        "exact_letter": "official_exact_letter",
        "exact_bracket": "official_exact_bracket",
        "last_paragraph": "official_last_paragraph",
        "token_intersection": "official_token_intersection",
        "error": "official_error",
    }
    disagreements = []
    for i, case in enumerate(_golden()):
        got = score(case["response"], case["row"])
        expected = (
            case["official_prediction"],
            case["official_correct"],
            branch_method[case["official_branch"]],
        )
        if (got.parsed, got.correct, got.method) != expected or not got.detail["official_deterministic"]:
            disagreements.append((i, case["response"], expected, got))
    assert disagreements == []


@pytest.mark.parametrize("response", [None, 5, 3.5, b"(A)", ["(A)"], object()])
def test_non_strings_never_raise(response: object) -> None:
    got = score(response, ROWS["art2"])  # type: ignore[arg-type]
    assert got == Score(
        False, None, "official_error", False, {"n_choices": 2, "official_deterministic": True}
    )


@pytest.mark.parametrize(
    "row",
    [{}, {"choices": None}, {"choices": "AB"}, {"choices": 3}, {"answer": None, "choices": ["x", "y"]}, None],
)
@pytest.mark.parametrize("response", ["A", "(A) yes", "The answer is A", "", "zzz"])
def test_malformed_rows_never_raise_and_never_score_without_an_answer(row: object, response: str) -> None:
    got = score(response, row)  # type: ignore[arg-type]
    assert got.correct is False
    assert got.parsed is None or got.parsed in {"(A)", "(B)"}


def test_whole_response_letter_ignores_range_only_in_the_official_branch() -> None:
    # Official: a bare "C" is "(C)" whatever the number of choices; ours keeps that (scored wrong).
    assert score("C", ROWS["art2"]).parsed == "(C)"
    # But "C." goes to GPT officially; the deterministic extractor only predicts valid choices.
    assert score("C.", ROWS["art2"]).parsed is None


_ALPHABET = (
    list("ABCDEabcde()[]*.:,!? \t\n\r")
    + ["\n\n", "(A)", "(B)", "(C)", "(D)", "(E)", "answer is", "Answer:", "none of the", "Point ", "image"]
    + ["\u200b", "\ufeff", "\u00ad", "\u00a0", "\u3000", "\u2028", "\x00", "\x1c", "\x85", "\ud800"]
    + ["é", "漢", "👍", "Ａ", "（", "）", "\u0301", "\U0010ffff"]
)


def test_fuzz_never_raises() -> None:
    rnd = random.Random(20240703)
    rows = list(ROWS.values())
    for _ in range(3000):
        response = "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randrange(0, 40)))
        got = score(response, rnd.choice(rows))
        assert isinstance(got, Score)
        assert isinstance(got.correct, bool)
        assert got.parsed is None or got.parsed in {"(A)", "(B)", "(C)", "(D)", "(E)"}
        assert got.method
    for _ in range(300):
        response = "".join(chr(rnd.randrange(0, 0x110000)) for _ in range(rnd.randrange(0, 200)))
        assert isinstance(score(response, rnd.choice(rows)), Score)


@pytest.mark.parametrize(
    "response",
    [
        "a" * 1_000_000,
        "A " * 500_000,
        "(A) " * 250_000,
        "\n" * 1_000_000,
        "(" * 1_000_000,
        "\u200b" * 1_000_000,
        "é漢" * 500_000,
        "the answer is " * 70_000,
        "(A)\u200b" * 250_000,
        "x" * 65_536 + "",
        ("the answer is " * 4_680)[:65_536],
        ("A a. " * 13_107)[:65_536],
        ("（Ａ）" * 21_845)[:65_536],
    ],
    ids=lambda r: f"{ascii(r[:6])}x{len(r)}",
)
def test_large_inputs_are_fast(response: str) -> None:
    start = time.perf_counter()
    got = score(response, ROWS["sem4"])
    assert time.perf_counter() - start < 1.0
    assert isinstance(got, Score)
