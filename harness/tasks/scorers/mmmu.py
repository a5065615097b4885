"""MMMU exact-match scorer that decides like the official MMMU evaluation code.

Followed: ``MMMU-Benchmark/MMMU`` at commit ``bb0b95a945998d91dfef37e969e07d49d1139438``
(2025-05-19; ``mmmu/utils/eval_utils.py`` last changed in ``aa9b70da92c2825b3d544d1a11b36856bd92f6c3``),
files ``mmmu/utils/eval_utils.py`` (``parse_multi_choice_response``, ``check_is_number``,
``normalize_str``, ``extract_numbers``, ``parse_open_response``, ``eval_multi_choice``,
``eval_open``, ``evaluate``), ``mmmu/utils/data_utils.py`` (``get_multi_choice_info``,
``construct_prompt``: the options list and the ``A``, ``B``, ... letters), ``mmmu/main_parse_and_eval.py``
and ``mmmu/main_eval_only.py`` (which question types take which path) and ``mmmu/answer_dict_val.json``
(how list answers are stored). This is an independent reimplementation of their decisions; none of
their code is copied.

Official decisions, reproduced exactly
--------------------------------------
Multiple choice (``question_type == "multiple-choice"``): the choices are ``A``, ``B``, ... one per
option, in order, with the option texts as ``index2ans``. The response has the characters
``, . ! ? ; : '`` stripped from both ends *one after another in that order* (``"A,."`` keeps its
comma) and is padded with one space on each side. Then, first rule that finds anything:

1. ``"(X)"`` for any choice X (``method="bracket_letter"``);
2. ``" X "`` (the letter between spaces; so ``"A."`` inside a sentence does not count)
   (``"spaced_letter"``);
3. only when the padded response has more than 5 white-space tokens: an option text contained in
   the response, case-insensitively (``"option_text"``; an empty option text always matches);
4. nothing: the official code picks ``random.choice(all_choices)`` (``"random_fallback"``).

When a rule finds several choices, the one whose pattern occurs *last* (``rfind``) wins; ties go to
the earliest choice (``np.argmax``). Correct iff the letter equals the answer exactly (or is one of a
list of answers).

Open questions (any other ``question_type``): the response is stripped, stripped of ``.`` at both ends
and lower-cased, then split on new lines (the official split pattern also has ``\\.\\s(?=[A-Z])``,
which can never match lower-cased text). In each line the text after the last occurrence of each
indicator ``could be``/``so``/``is``/``thus``/``therefore``/``final``/``answer``/``result`` (each with
a trailing space; plus ``=`` on the last line) is a candidate, and the shortest candidate of the line
is kept (quirk: an empty candidate is replaced by the next indicator's, even a longer one) unless it
is a lone punctuation mark. No key part at all: the whole response is the only one. The predictions
are the key parts plus every number ``extract_numbers`` finds in them (comma-grouped ``1,000``,
scientific ``1.5e3``, plain ``-3.14``, ``.5``, in three independent regex passes), each passed
through ``normalize_str``: a string ``float()`` accepts after removing commas becomes
``round(x, 2)`` (so ``"3.14159"`` -> ``3.14``, also ``"nan"``, ``"inf"``, ``"1_000"`` and Unicode
digits, which ``float`` accepts), anything else is lower-cased, and a one-character string becomes
``[" c", "c "]``. The answer goes through ``normalize_str`` too. Correct iff some numeric prediction
equals a numeric normalised answer, or some normalised string answer is a substring of a string
prediction.

Departures from the official code
---------------------------------
- Random fallback: the official code calls the global ``random.choice`` (seeded once with 42, so the
  guess depends on the order of the whole run). Here the guess is
  ``random.Random(<first 8 bytes of sha256(row id)>).choice(all_choices)``: deterministic per item and
  independent of the response. ``fallback=True`` marks it.
- List answers: ``answer`` strings holding a Python list literal (the hub's ``"['24/7', '3.429']"``)
  are parsed with ``ast.literal_eval`` and evaluated as a list, as the official ``answer_dict_val.json``
  stores them (``main_eval_only.py``); ``main_parse_and_eval.py`` fed the raw hub string would instead
  look for the literal text ``['24/7', '3.429']``. ``detail["answer_list"]`` records this.
- Unicode: none. The response is NOT cleaned (no ``clean_text``): zero-width characters, Unicode
  minus signs and digits reach the official rules unchanged, exactly as the official code sees them
  (Python's ``\\d``, ``\\b`` and ``float()`` already accept Unicode digits; a Unicode minus is not a
  minus to the official patterns, so ``"−5"`` yields ``5``).
- Robustness where the official code would raise: ``None`` is read as ``""`` and other non-strings
  through ``str`` (bytes decoded as UTF-8); a malformed ``options`` string (the official code
  ``eval``-s it) counts as no options (``detail["options_error"]``); a multiple-choice row without
  options (``random.choice([])`` raises) is wrong with ``parsed=None``, ``method="no_options"``;
  non-string option texts and list answers are compared through ``str``. Any unexpected exception
  gives a wrong ``Score`` with ``method="error"`` rather than propagating.
- Speed only, same decisions: the three number regexes are rewritten with possessive quantifiers and
  ``(?<!\\d)`` look-behinds so that long digit runs cost linear rather than quadratic time (the
  official ``-?\\d+(?:\\.\\d+)?[eE][+-]?\\d+`` retries every start inside a digit run). They return
  exactly the official ``re.findall`` lists (checked exhaustively on every string of up to 7 characters
  over ``1.,-+eE`` and space and of up to 6 over ``1.,-+ea_`` and an Arabic-Indic digit, on 200,000
  random end-to-end cases, and by the seeded fuzz test in ``tests/tasks/scorers/test_mmmu.py``;
  possessive quantifiers need Python 3.11).
  Identical strings are normalised once (the official result is a set). ``parsed`` for open questions
  is that set as a sorted list (floats first).
"""

from __future__ import annotations

import ast
import hashlib
import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .common import Score

__all__ = [
    "OFFICIAL_COMMIT",
    "check_is_number",
    "eval_open",
    "extract_numbers",
    "normalize_str",
    "parse_multi_choice",
    "parse_open_response",
    "score",
]

OFFICIAL_COMMIT = "bb0b95a945998d91dfef37e969e07d49d1139438"

# Stripped from both ends of a multiple-choice response, one character after another, in this order.
_MC_STRIP_ORDER = (",", ".", "!", "?", ";", ":", "'")
_OPEN_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_OPEN_INDICATORS_LAST = (*_OPEN_INDICATORS, "=")
_TRIVIAL_KEYS = frozenset({":", ",", ".", "!", "?", ";", "'"})
_OPEN_SPLIT = re.compile(r"\.\s(?=[A-Z])|\n")

# The official number patterns, in the official order, rewritten for linear time (see module docstring).
# Official: -?\b\d{1,3}(?:,\d{3})+\b   (already linear; unchanged)
_NUM_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
# Official: -?\d+(?:\.\d+)?[eE][+-]?\d+
_NUM_SCIENTIFIC = re.compile(r"-?+(?<!\d)\d++(?:\.\d++)?+[eE][+-]?+\d++")
# Official: -?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])
_NUM_SIMPLE = re.compile(r"-?+(?:(?<!\d)\d++\.\d++|\.\d++|(?<!\d)\d++\b)(?![eE][+-]?\d)(?![,\d])")
_HAS_DIGIT = re.compile(r"\d")

_DETAIL_TEXT_MAX = 200


# ----------------------------------------------------------------------------- row fields


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _parse_options(raw: Any) -> tuple[list[str], str | None]:
    """The option texts, and an error note when ``raw`` is not a list (literal)."""
    if raw is None:
        return [], None
    if isinstance(raw, list | tuple):
        return [_as_text(o) for o in raw], None
    if not isinstance(raw, str):
        return [], f"options of type {type(raw).__name__}"
    if not raw.strip():
        return [], None
    try:
        value = ast.literal_eval(raw.strip())
    except Exception as exc:  # SyntaxError, ValueError, MemoryError, RecursionError, ...
        return [], f"unparsable options: {type(exc).__name__}"
    if not isinstance(value, list | tuple):
        return [], f"options literal is a {type(value).__name__}, not a list"
    return [_as_text(o) for o in value], None


def _parse_answer(raw: Any) -> tuple[str | list[str], bool]:
    """The gold answer; a list literal string (``"['24', '24.0']"``) becomes a list."""
    if isinstance(raw, list | tuple):
        return [_as_text(a) for a in raw], True
    text = _as_text(raw)
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            value = ast.literal_eval(stripped)
        except Exception:
            value = None
        if isinstance(value, list):
            return [_as_text(a) for a in value], True
    return text, False


def multi_choice_info(options: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``index2ans`` and ``all_choices`` for the options, as ``get_multi_choice_info`` builds them."""
    index2ans: dict[str, str] = {}
    all_choices: list[str] = []
    for i, option in enumerate(options):
        letter = chr(ord("A") + i)
        index2ans[letter] = option
        all_choices.append(letter)
    return index2ans, all_choices


def _seeded_choice(row_id: str, choices: Sequence[str]) -> str:
    digest = hashlib.sha256(row_id.encode("utf-8", errors="surrogatepass")).digest()
    return random.Random(int.from_bytes(digest[:8], "big")).choice(list(choices))


# ----------------------------------------------------------------------------- multiple choice


def parse_multi_choice(
    response: str, all_choices: Sequence[str], index2ans: Mapping[str, str]
) -> tuple[str | None, str, list[str]]:
    """``(letter, method, candidates)`` as ``parse_multi_choice_response`` decides.

    ``letter`` is ``None`` with ``method == "random_fallback"`` where the official code guesses.
    """
    for char in _MC_STRIP_ORDER:
        response = response.strip(char)
    response = f" {response} "

    candidates = [c for c in all_choices if f"({c})" in response]
    if candidates:
        method, patterns = "bracket_letter", {c: f"({c})" for c in candidates}
        haystack = response
    else:
        candidates = [c for c in all_choices if f" {c} " in response]
        method, patterns = "spaced_letter", {c: f" {c} " for c in candidates}
        haystack = response
        # len(split(None, 6)) > 5 is len(split()) > 5 without splitting a huge response.
        if not candidates and len(response.split(None, 6)) > 5:
            haystack = response.lower()
            candidates = [i for i, ans in index2ans.items() if ans.lower() in haystack]
            method, patterns = "option_text", {i: index2ans[i].lower() for i in candidates}

    if not candidates:
        return None, "random_fallback", []
    if len(candidates) == 1:
        return candidates[0], method, candidates
    best, best_pos = candidates[0], haystack.rfind(patterns[candidates[0]])
    for cand in candidates[1:]:
        pos = haystack.rfind(patterns[cand])
        if pos > best_pos:  # strict: the earliest choice wins a tie, like np.argmax
            best, best_pos = cand, pos
    return best, method, candidates


def eval_multi_choice(gold: str | list[str], pred: str | None) -> bool:
    if isinstance(gold, list):
        return pred in gold
    return gold == pred


# ----------------------------------------------------------------------------- open questions


def check_is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize_str(text: str) -> list[float | str]:
    text = text.strip()
    if check_is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    if len(text) == 1:
        return [" " + text, text + " "]
    return [text]


def extract_numbers(text: str) -> list[str]:
    """Comma-grouped, then scientific, then plain numbers, as the official three ``findall`` passes."""
    if not _HAS_DIGIT.search(text):
        return []
    return _NUM_COMMAS.findall(text) + _NUM_SCIENTIFIC.findall(text) + _NUM_SIMPLE.findall(text)


def _key_subresponses(response: str) -> tuple[list[str], bool]:
    """The key parts of the response, and whether any indicator was found."""
    response = response.strip().strip(".").lower()
    sub_responses = _OPEN_SPLIT.split(response)
    last = len(sub_responses) - 1
    keys: list[str] = []
    for index, resp in enumerate(sub_responses):
        shortest: str | None = None
        for indicator in _OPEN_INDICATORS_LAST if index == last else _OPEN_INDICATORS:
            # The indicators cannot overlap themselves, so the text after the last occurrence is
            # the last piece of ``resp.split(indicator)``.
            head, sep, tail = resp.rpartition(indicator)
            if not sep:
                continue
            tail = tail.strip()
            if not shortest or len(tail) < len(shortest):
                shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL_KEYS:
            keys.append(shortest)
    if not keys:
        return [response], False
    return keys, True


def parse_open_response(response: str) -> tuple[set[float | str], list[str], bool]:
    """``(predictions, key_parts, found_indicator)`` as ``parse_open_response`` decides."""
    keys, found = _key_subresponses(response)
    pred_list: list[str] = list(keys)
    for resp in keys:
        pred_list.extend(extract_numbers(resp))
    preds: set[float | str] = set()
    for pred in dict.fromkeys(pred_list):
        preds.update(normalize_str(pred))
    return preds, keys, found


def eval_open(gold: str | list[str], preds: set[float | str]) -> bool:
    norm_answers: list[float | str] = []
    for answer in gold if isinstance(gold, list) else [gold]:
        norm_answers.extend(normalize_str(answer))
    str_answers = [a for a in norm_answers if isinstance(a, str)]
    num_answers = [a for a in norm_answers if not isinstance(a, str)]
    for pred in preds:
        if isinstance(pred, str):
            if any(ans in pred for ans in str_answers):
                return True
        elif pred in num_answers:
            return True
    return False


def _sort_key(value: float | str) -> tuple[int, float, str]:
    if isinstance(value, str):
        return (2, 0.0, value)
    if math.isnan(value):
        return (1, 0.0, "")
    return (0, value, "")


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_TEXT_MAX else text[:_DETAIL_TEXT_MAX] + "..."


# ----------------------------------------------------------------------------- entry point


def score(response: str, row: Mapping[str, Any]) -> Score:
    """Score one response against one ``MMMU/MMMU`` hub row; never raises."""
    try:
        return _score(_as_text(response), row if row is not None else {})
    except Exception as exc:  # defensive: a wrong answer, never a crash
        return Score(correct=False, parsed=None, method="error", detail={"error": repr(exc)[:500]})


def _score(response: str, row: Mapping[str, Any]) -> Score:
    gold, answer_list = _parse_answer(row.get("answer"))
    options, options_error = _parse_options(row.get("options"))
    question_type = row.get("question_type")
    detail: dict[str, Any] = {"question_type": question_type, "answer": gold}
    if answer_list:
        detail["answer_list"] = True
    if options_error:
        detail["options_error"] = options_error

    if question_type == "multiple-choice":
        index2ans, all_choices = multi_choice_info(options)
        detail["all_choices"] = all_choices
        if not all_choices:
            return Score(correct=False, parsed=None, method="no_options", detail=detail)
        letter, method, candidates = parse_multi_choice(response, all_choices, index2ans)
        detail["candidates"] = candidates
        fallback = letter is None
        if letter is None:
            letter = _seeded_choice(_as_text(row.get("id")), all_choices)
        return Score(
            correct=eval_multi_choice(gold, letter),
            parsed=letter,
            method=method,
            fallback=fallback,
            detail=detail,
        )

    preds, keys, found = parse_open_response(response)
    detail["key_responses"] = [_short(k) for k in keys[:20]]
    return Score(
        correct=eval_open(gold, preds),
        parsed=sorted(preds, key=_sort_key),
        method="open_key_response" if found else "open_full_response",
        detail=detail,
    )
