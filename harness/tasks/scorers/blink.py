"""BLINK exact-match scorer that decides like the official BLINK evaluation, without an LLM.

Followed: ``zeyofu/BLINK_Benchmark`` at commit ``2d6a779be4aa1ad0d38d7aa539bcb43b6dd81592``
(2024-07-03), files ``eval/test_benchmark.py`` (``analyze_answer``, ``query_model``, ``eval_task``),
``eval/multiple_choice.py`` (``match_multiple_choice``, the GPT-3.5 extractor) and
``eval/evaluate.py`` (``eval_prediction``). This module is an independent reimplementation of their
decisions; none of their code is copied.

Official pipeline, reproduced exactly (stage 1, on the raw response string)
---------------------------------------------------------------------------
``valid`` is ``["(A)", "(B)", "(C)", "(D)", "(E)"][:len(row["choices"])]``. "Tokens" are the
pieces of ``str.split()`` (Unicode white space; zero-width characters are *not* white space), and
the "last paragraph" is the text after the last ``"\\n\\n"``.

1. ``official_exact_letter``: the whole response is exactly one of ``A B C D E`` (no white space,
   any number of choices, so ``"E"`` on a two-choice row gives ``"(E)"``, which is wrong).
2. ``official_exact_bracket``: the whole response is exactly one of ``(A) .. (E)`` (same caveat).
3. Let ``all`` be the set of valid choices among all tokens and ``last`` the set among the last
   paragraph's tokens (``last`` is a subset of ``all``).

   - ``official_last_paragraph``: ``len(last) == 1`` -> that choice;
   - ``official_token_intersection``: otherwise ``len(all) == 1`` -> that choice.

   Both sets then have exactly one element, so the official ``list(set)[0]`` is deterministic.
   Tokens must match exactly: ``"(A)."``, ``"(a)"``, ``"A."``, ``"**(A)**"`` are not choices.
4. Otherwise (no valid token at all, or several valid tokens and not exactly one in the last
   paragraph) the official code asks GPT-3.5 (``match_multiple_choice``); that is stage 2 here.
5. ``official_error``: where the official ``analyze_answer`` raises it swallows the exception and
   returns ``None`` (always scored wrong). That happens for a ``None`` response (``None.split``),
   and, on the GPT branch only, for rows with more than five choices (``IndexError`` while it
   lists the options) or without a ``question`` (``KeyError``). Reproduced.

Correctness is ``prediction == row["answer"]`` (exact string equality, as in ``eval_task`` and
``eval_prediction``); the hub stores answers as ``"(A)"``.

Deterministic extractor replacing the GPT call (stage 2)
--------------------------------------------------------
Applied only where the official code would call GPT, to ``clean_text(response)`` (zero-width
characters and soft hyphens removed) normalised with NFKC (full-width letters and brackets become
ASCII). Only letters of valid choices (``"ABCDE"[:len(choices)]``) are predictions. The "last
paragraph" is the text after the last ``"\\n\\n"`` of the right-stripped response; rules b, d, e
and f look there first and then in the whole response. The first rule that decides wins:

0. ``det_too_long``: no prediction for a response longer than 65,536 characters. Officially such a
   response overflows GPT-3.5-turbo's 16,385-token context, every one of the 10 tries fails and
   ``match_multiple_choice`` returns ``"(Z) Failed to get multiple choice"``, scored wrong (the
   character count stands in for the token count; this also bounds the work).
a. ``det_whole_letter``: the response, stripped of white space and of the characters
   ``* _ ` " ' ( ) [ ] { } < > . , : ; ! ?``, is one valid letter (either case): ``"A."``,
   ``"(a)"``, ``"a"``, ``" B\\n"``, ``"**C**"``.
b. ``det_answer_statement``: the first explicit statement ``answer [is|would be|should be|will be]
   [:|=]`` or ``correct|best|final|right option|choice [is|would be] [:|=]`` (words in any case),
   then optional markup (``* _ ` " '``) and ``option``/``choice``, then a bracketed letter of either
   case ``"(b)"`` or a bare upper-case letter not followed by a letter or digit: ``"The answer is
   B."``, ``"Answer: (c)"``, ``"**Final answer:** A"``. If that letter is not a valid choice
   (``"the answer is (C) neither"`` on a two-choice row) the result is ``det_invalid_statement``:
   no prediction.
c. ``det_refusal``: no prediction when the response says it cannot answer (case-insensitive:
   ``not possible to``, ``impossible to``, ``unable to``, ``none of the|these``, ``neither``,
   ``cannot [be] determin…|confident…|definitive…|select|choose|accurately``,
   ``can't determin…|confident…|definitive…``, ``I'm sorry``, ``I am sorry``), mirroring the
   GPT prompt's instruction to answer ``(Z)`` for refusals and answers that pick no option.
d. ``det_bracket_letter``: the first ``"(X)"`` with a valid letter (inner spaces allowed, either
   case), e.g. ``"(B)."`` or ``"**(B)**"``.
e. ``det_lone_letter``: the first valid upper-case letter standing alone (no letter or digit on
   either side), e.g. ``"Point B is closer than point A"`` -> ``(B)``. A sentence-initial ``"A"``
   (at the start, after a new line or after ``. ! ? :``, markup in between allowed) followed by
   white space and a lower-case word other than ``is was and or`` is read as the article and
   skipped (``"A dog sits ..."``).
f. ``det_option_text``: the option text (``row["choices"]``, case-insensitive, white space squashed,
   no word character ``\\w`` right outside it) mentioned first; for mentions starting at the same
   place the longer text wins, then the lower index. Single-letter option texts are skipped
   (rule e covers them).
g. ``unparsed``: no prediction.

Where there is no prediction ``parsed`` is ``None`` and the response is scored wrong, as the
official ``"(Z)"`` is. "First wins" (rather than last) and the order above were chosen on the
official repository's saved outputs (``eval/saved_outputs``, 19 models, validation split, with
option texts written per subtask since the outputs do not store the rows): on the 8,378 responses
where the official code called GPT, these rules give the saved GPT-3.5 prediction (``(Z)`` counted
as no prediction) in 92.7% of cases (last-wins rules: 80%); on the 27,741 responses it decides
without GPT this module gives the saved prediction in all but 8, the saved ``(Z)`` for bare
``"C"``/``"D"``/``"A"`` answers that the code at this commit maps to ``"(C)"``/``"(D)"``/``"(A)"``
(the saved files predate the exact-letter branch; we follow the code).

Departures from the official pipeline
-------------------------------------
- GPT-3.5 extraction is replaced by rules 0 and a-g above; the official result there is not
  reproducible anyway (a remote model). ``detail["official_deterministic"]`` is ``False`` and
  ``method`` starts with ``det_`` (or is ``unparsed``) for these decisions.
- Stage 1 deliberately sees the raw string, not ``clean_text`` (the convention stated in
  :mod:`harness.tasks.scorers.common`), because a zero-width character changes the official decision:
  ``"(A)\\u200b"`` is not a choice token officially. Cleaning happens only in stage 2.
- Every non-``str`` response is treated like ``None`` (``official_error``); officially ``bytes``
  would not raise and would reach the GPT branch.
- A row whose ``answer`` is missing or ``None`` never scores correct (officially ``None == None``).
- Missing or malformed ``choices`` count as no choices instead of crashing the official loop.
- ``score`` never raises; any unexpected exception in stage 2 gives ``unparsed``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from .common import Score, clean_text, squash_ws

LETTERS = "ABCDE"
# Longer responses do not fit GPT-3.5-turbo's 16,385-token context (about four characters a token).
MAX_EXTRACT_CHARS = 65_536
_ALL_CHOICES: tuple[str, ...] = tuple(f"({c})" for c in LETTERS)

_WHOLE_STRIP = " \t\r\n\f\v*_`\"'()[]{}<>.,:;!?"
_BRACKET = re.compile(r"\(\s*([A-Ea-e])\s*\)")
_LETTER_ALONE = re.compile(r"(?<![A-Za-z0-9])[A-E](?![A-Za-z0-9])")
_STATEMENT = re.compile(
    r"(?i:\banswer(?:\s+(?:is|would\s+be|should\s+be|will\s+be))?"
    r"|\b(?:correct|best|final|right)\s+(?:option|choice)(?:\s+(?:is|would\s+be))?)"
    r"\s*[:=]?[\s*_`\"']*(?i:(?:option|choice)\s+)?"
    r"(?:\(\s*([A-Ea-e])\s*\)|([A-E])(?![A-Za-z0-9]))"
)
_REFUSAL = re.compile(
    r"(?i)\b(?:not\s+possible\s+to|impossible\s+to|unable\s+to|none\s+of\s+(?:the|these)|neither"
    r"|cannot\s+(?:be\s+)?(?:determin|confident|definitive|select|choose|accurately)"
    r"|can[\'\u2019]t\s+(?:determin|confident|definitive)|I[\'\u2019]m\s+sorry|I\s+am\s+sorry)"
)
_SENTENCE_END = ".!?:"
_ARTICLE_EXCEPTIONS = re.compile(r"(?:is|was|and|or)(?![A-Za-z0-9])")
_BACKSCAN = 64


def _n_choices(row: Mapping[str, Any]) -> tuple[int, list[str]]:
    """``len(row["choices"])`` and the option texts; missing or malformed choices count as none."""
    try:
        choices = row.get("choices")
        if choices is None or isinstance(choices, str | bytes):
            return 0, []
        return len(choices), ["" if c is None else str(c) for c in choices]
    except Exception:
        return 0, []


def _official(response: str, n: int) -> tuple[str | None, str]:
    """Stage 1: ``(prediction, branch)``; branch ``"gpt"`` means the official code would ask GPT."""
    if len(response) == 1 and response in LETTERS:
        return f"({response})", "official_exact_letter"
    if len(response) == 3 and response in _ALL_CHOICES:
        return response, "official_exact_bracket"
    valid = frozenset(_ALL_CHOICES[:n])
    if not valid:
        return None, "gpt"
    found = {tok for tok in response.split() if tok in valid}
    if not found:
        return None, "gpt"
    cut = response.rfind("\n\n")
    last = found if cut < 0 else {tok for tok in response[cut + 2 :].split() if tok in valid}
    if len(last) == 1:
        return next(iter(last)), "official_last_paragraph"
    if len(found) == 1:
        return next(iter(found)), "official_token_intersection"
    return None, "gpt"


def _is_article(text: str, start: int) -> bool:
    """A sentence-initial ``A`` followed by white space and a lower-case letter."""
    end = start + 1
    if end >= len(text) or not text[end].isspace():
        return False
    j = end
    while j < len(text) and j - end < _BACKSCAN and text[j].isspace():
        j += 1
    if j >= len(text) or not text[j].islower() or _ARTICLE_EXCEPTIONS.match(text, j):
        return False
    i = start - 1
    while i >= 0 and start - i <= _BACKSCAN and text[i] in " \t\r\f\v*_#>-\"'`":
        i -= 1
    return i < 0 or text[i] == "\n" or text[i] in _SENTENCE_END


def _option_text(text: str, texts: list[str]) -> str | None:
    """The option text mentioned first (earliest start, then the longer text, then the lower index)."""
    hay = squash_ws(text).lower()
    best: tuple[int, int, int] | None = None  # (start, -length, index): the smallest wins
    for k, raw in enumerate(texts[: len(LETTERS)]):
        needle = squash_ws(raw).lower()
        if not needle or (len(needle) == 1 and needle.isalpha()):
            continue
        pattern = (
            (r"(?<!\w)" if needle[0].isalnum() else "")
            + re.escape(needle)
            + (r"(?!\w)" if needle[-1].isalnum() else "")
        )
        m = re.search(pattern, hay)
        if m is not None:
            cand = (m.start(), -len(needle), k)
            if best is None or cand < best:
                best = cand
    return None if best is None else f"({LETTERS[best[2]]})"


def _first_letter(text: str, letters: str) -> tuple[str | None, str]:
    """Rules d and e on one piece of text: the first bracketed letter, else the first lone letter."""
    for m in _BRACKET.finditer(text):
        letter = m.group(1).upper()
        if letter in letters:
            return letter, "det_bracket_letter"
    for m in _LETTER_ALONE.finditer(text):
        letter = m.group(0)
        if letter in letters and not (letter == "A" and _is_article(text, m.start())):
            return letter, "det_lone_letter"
    return None, ""


def _deterministic(response: Any, n: int, texts: list[str]) -> tuple[str | None, str]:
    """Stage 2, the documented replacement for the official GPT-3.5 extraction."""
    if len(response) > MAX_EXTRACT_CHARS:
        return None, "det_too_long"
    text = clean_text(response)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    letters = LETTERS[: min(n, len(LETTERS))]
    if not letters:
        return None, "unparsed"

    whole = text.strip(_WHOLE_STRIP)
    if len(whole) == 1 and whole.upper() in letters:
        return f"({whole.upper()})", "det_whole_letter"

    stripped = text.rstrip()
    cut = stripped.rfind("\n\n")
    pieces = [stripped[cut + 2 :], text] if cut >= 0 else [text]

    for piece in pieces:
        m = _STATEMENT.search(piece)
        if m is not None:
            letter = (m.group(1) or m.group(2)).upper()
            if letter in letters:
                return f"({letter})", "det_answer_statement"
            return None, "det_invalid_statement"

    if _REFUSAL.search(text):
        return None, "det_refusal"

    for piece in pieces:
        letter, method = _first_letter(piece, letters)
        if letter is not None:
            return f"({letter})", method
        found = _option_text(piece, texts[:n])
        if found is not None:
            return found, "det_option_text"
    return None, "unparsed"


def score(response: str, row: Mapping[str, Any]) -> Score:
    """Score one BLINK response against a hub row (``choices``, ``answer``, ``question``)."""
    try:
        answer = row.get("answer")
        question_present = "question" in row
    except Exception:
        answer, question_present = None, False
    n, texts = _n_choices(row)
    detail: dict[str, Any] = {"n_choices": n}

    if not isinstance(response, str):
        # ``None.split()`` raises inside the official try/except, which returns None.
        parsed, method, official = None, "official_error", True
    else:
        parsed, method = _official(response, n)
        official = method != "gpt"
        if not official and (n > len(LETTERS) or not question_present):
            parsed, method, official = None, "official_error", True
    if not official:
        try:
            parsed, method = _deterministic(response, n, texts)
        except Exception:  # pragma: no cover - defensive, the rules above do not raise
            parsed, method = None, "unparsed"
    detail["official_deterministic"] = official
    correct = parsed is not None and answer is not None and parsed == answer
    return Score(correct=correct, parsed=parsed, method=method, fallback=False, detail=detail)
