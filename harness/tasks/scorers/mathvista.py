"""MathVista exact-match scorer that decides like the official MathVista evaluation, without an LLM.

Followed: ``lupantech/MathVista`` at commit ``53d525874bdde205128e6b160b7357a88277d479``
(2025-09-28), files ``evaluation/extract_answer.py`` (``extract_answer``, run with
``--quick_extract``) and ``evaluation/calculate_score.py`` (``get_most_similar``,
``normalize_extracted_answer`` with ``ignore_empty_extractions=False``, ``safe_equal``). This module
is an independent reimplementation of their decisions; none of their code is copied.

Stage 1: official extraction, reproduced exactly (on the raw response string)
----------------------------------------------------------------------------
The first rule that applies gives the *extraction* (a string):

1. ``official_empty``: the response is ``""`` -> ``""``. (``None`` is treated as ``""``; officially
   it falls through to the GPT call, whose failure also returns ``""``.)
2. ``official_in_choices``: multi-choice row and the response is exactly one of ``choices``
   (no stripping) -> the response.
3. ``official_int``: ``answer_type == "integer"`` and Python's ``int(response)`` succeeds ->
   ``str(int(response))``. So surrounding white space, ``"+7"``, ``"1_000"`` and non-ASCII decimal
   digits are accepted, while ``"3.7"``, ``"1,000"`` or ``"7 cm"`` are not.
4. ``official_float``: ``answer_type == "float"`` and ``float(response)`` succeeds ->
   ``str(float(response))`` (so ``"nan"``, ``"inf"``, ``"1e400"`` -> ``"inf"`` are accepted).
5. ``official_quick_extract``: the regex ``The answer is "(.*)"\\.`` (case-sensitive, first match,
   greedy within one line) -> its group. Implemented as an equivalent linear scan, so that
   a megabyte of repeated prefixes cannot make it quadratic.
6. Otherwise the official code asks GPT; that is stage 2 here.

Stage 2: deterministic extractor replacing the GPT call
-------------------------------------------------------
Reads ``clean_text(response)`` (zero-width characters and soft hyphens removed, Unicode minus
signs and decimal digits mapped to ASCII; only the last 50,000 characters, from a line start, of a
longer response) with simple LaTeX rewritten: ``\\frac{a}{b}`` -> ``a/b`` (numeric ``a``, ``b``;
also ``\\dfrac``, ``\\tfrac``) and ``a × 10^b`` (also ``\\times``, ``\\cdot``, ``x``, ``*``,
braces) -> ``aeb``. It produces what the GPT prompt's demonstrations ask for: a letter for
multi-choice rows, a number for integer/float rows, ``"[a, b]"`` for list rows.

An *answer cue* is ``answer`` (any case, also ``answers``) followed by ``is``, ``are``, ``was``,
``would be``, ``should be``, ``will be``, ``must be``, ``could be``, ``=`` or ``:``; or
``correct/right/best/final/closest answer|option|choice [letter]`` with or without such a
connector (markup ``* _ ` " '`` allowed in between: ``"**Answer:** 5"``); or Chinese ``答案``
(optionally ``应``, ``是``, ``为``, ``：``), ``故选``, ``所以选``. Its *segment* is the rest of its line
(the next non-empty line if the cue ends the line), at most 200 characters. The contents of the
last ``\\boxed{...}`` (braces matched) are a segment too, tried before any cue. The last 16 cues
are tried, the last first; the first segment that yields a value decides.

Numbers (integer and float rows). A number is an optionally signed decimal (``-3``, ``+2.5``,
``.5``), with ``,`` thousands separators removed when grouped by three (``1,000,000``), an
optional exponent (``1.5e3``), an optional fraction (``3/4`` -> ``0.75``; a zero denominator keeps
the numerator) and an optional ``%`` that is dropped (``45%`` -> ``45``). Not numbers: digits with
a letter, ``_``, ``.`` or ``^`` glued on their left (``m2``, ``H2O``, ``x_1``, the ``3`` of
``10^3``, ``v1.2``), and a count followed by ``decimal place(s)`` or ``significant
figure(s)/digit(s)``. Units after a number are ignored (``7 cm``, ``7cm``).

a. ``det_boxed``: in the last ``\\boxed{}``, the number after its last ``=`` if any, else its
   first number, else a number word opening it.
b. ``det_answer_is``: the same, in a cue's segment (``"The answer is 3 + 4 = 7"`` -> ``7``,
   ``"The answer is 12 cm."`` -> ``12``, ``"Answer: five"`` -> ``5``).
c. ``det_last_number``: the last number in the response.
d. ``det_number_word``: only when the response has no number at all: the last ``there is/are/
   was/were [only|exactly|just|a total of] <word>``, else a number word opening the response
   (``"Three."``). Words: ``zero`` .. ``twenty``, ``thirty`` .. ``ninety``, ``hundred``. A bare
   word elsewhere does not count (``"the age gap between the two people cannot be determined"``).
e. ``det_none``: ``""``; it normalises to ``None`` and scores wrong.

Lists (``answer_type == "list"``): the extraction is ``"[x, y, ...]"`` (numbers as written,
joined with ``", "``, which is how the hub writes list answers), from the first rule that finds
at least two numbers: ``det_boxed`` / ``det_answer_is`` (a bracketed list in the segment, else all
numbers of the segment); then whichever ends last of ``det_bracket_list`` (a ``[...]`` or
``(...)`` holding only numbers) and ``det_between`` (``between [the] [year(s)|value(s)] X and
Y``, ``from X to Y``); else ``det_none`` (``""``, scored wrong).

Multi-choice rows: the extraction is a letter ``A`` .. (one per choice, at most 26), which the
official normalisation maps to the choice text. Option texts (``clean_text``-ed) match
case-insensitively, any white space matching any white space, as whole tokens (no ASCII letter or
digit glued on either side, and a number option does not match inside a longer decimal, though
``8`` matches ``8.0``). A ``<number><unit>`` option (``10m``, ``55°``) also matches its number
alone (``10 meters``) when no other option has that number.

a. ``det_boxed`` / ``det_answer_is``: the segment starts (after punctuation, markup, LaTeX
   commands and the words ``option``, ``choice``, ``letter``, ``选项``) with a letter standing
   alone, upper case or bracketed lower case (``"is (b)"``), of a valid choice; else the option
   text that starts first in the segment (the longer one on a tie).
b. ``det_leading_letter``: the response (stripped of white space and ``* _ ` " '``) starts with a
   valid upper-case letter followed by ``.``, ``:``, ``)``, ``]`` or the end (``"B"``,
   ``"C. 4cm"``, ``"(D)"``); a lower-case letter counts only when it is the whole response.
c. ``det_last_mention``: the mention ending last among: a bracketed letter ``(B)`` (either case),
   ``option B`` / ``choice B`` / ``选项B``, a line holding only a letter (``"\\nB\\n"``,
   ``"B."``), and an option text. On a tie the longer mention wins, then the lower choice index.
d. ``det_none``: nothing found; the extraction is the whole (cleaned, white-space-squashed)
   response, so the official normalisation picks the choice nearest to it by edit distance, as
   it does with the copied sentence or ``"N/A"`` GPT returns for such responses. ``fallback`` is
   true for this guess, and for any empty extraction (the official nearest choice to ``""`` is the
   first shortest one).

Agreement with GPT. On the 16,334 GPT extractions published in the official repository at that
commit (``results/*/output_*.json``: all models except the ``*_code*`` runs and random baselines,
responses that reach the GPT call), stage 2 decides correctness like the official pipeline for
98.6% of integer, 99.4% of float, 100% of list and 89.9% of multi-choice responses (93.8% in all).
Most differences are yes/no questions answered by a statement (``"The orange is larger than the
car."``) and refusals, where GPT infers or invents a choice.

Stage 3: official normalisation and comparison, reproduced exactly
------------------------------------------------------------------
- Multi-choice: the extraction is stripped; the first ``(x)`` (one ASCII letter) in it replaces
  it, upper-cased; a letter ``A``, ``B``, ... within the number of choices selects that choice;
  anything else selects the choice at the smallest Levenshtein distance (first on a tie, as
  ``list.index(min(...))``), computed by ``common.edit_distance`` (same metric as ``python-Levenshtein``).
  So ``"b"`` is not a letter there, and an extraction equal to a choice text that contains ``(x)``
  (e.g. ``"f(x)"``) is turned into the letter ``X`` first: both official quirks kept.
- ``integer``: ``str(int(float(x)))`` (``"3.7"`` -> ``"3"``), ``None`` where that raises
  (``"inf"``, ``"nan"``, ``"1,000"``).
- ``float``: ``str(round(float(x), int(precision)))`` (``"2.675"`` at precision 2 -> ``"2.67"``,
  ``"0.50"`` -> ``"0.5"``, which never equals an answer written ``"0.50"``), ``None`` where that
  raises (``precision`` ``None``, ``float("x")``); ``"inf"``/``"nan"`` survive ``round``.
- ``list``: ``str(x)``, compared as a string.
- Correct iff ``prediction == row["answer"]`` (``safe_equal``).

``parsed`` is that prediction; ``detail`` holds ``extraction``, ``official_deterministic`` (false
where stage 2 decided), and for multi-choice rows how the choice was picked.

Departures from the official pipeline
-------------------------------------
- GPT extraction is replaced by stage 2 (rules above); the official result there is not
  reproducible anyway (a remote model). ``method`` starts with ``det_`` for those decisions.
  Stage 2 reads at most the last 50,000 characters (a megabyte would not fit GPT's prompt either).
- Stages 1 and 3 deliberately see the raw strings, not ``clean_text`` (the convention stated in
  :mod:`harness.tasks.scorers.common`), because cleaning would change official decisions: officially
  ``The answer is "5\\u200b".`` normalises to ``None``. Cleaning happens only in stage 2.
- A non-``str`` response is converted with ``str()``; ``None`` counts as ``""``.
- Where the official code raises, this returns a wrong score instead: a multi-choice row with
  missing or empty ``choices`` (``method`` ``"no_choices"``), an ``answer_type`` other than
  ``integer``, ``float``, ``list`` on a free-form row (officially ``UnboundLocalError``;
  ``"unsupported_answer_type"``), and any unexpected error (``"error"``).
- A row whose ``answer`` is ``None`` never scores correct (officially ``None == None`` is true).
- ``score`` never raises.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .common import Score, clean_text, edit_distance, squash_ws

OFFICIAL_REPO = "lupantech/MathVista"
OFFICIAL_COMMIT = "53d525874bdde205128e6b160b7357a88277d479"

# ---------------------------------------------------------------------------------------------
# Stage 1: official extraction
# ---------------------------------------------------------------------------------------------

_QUICK_PREFIX = 'The answer is "'
_QUICK_SUFFIX = '".'


def _quick_extract(text: str) -> str | None:
    """What ``re.search(r'The answer is "(.*)"\\.', text).group(1)`` gives, in linear time.

    ``.`` matches anything but ``\\n``, so a match lies on one line: the leftmost prefix whose
    line holds a ``".`` after it, and the greedy group runs to the last ``".`` of that line. If
    the first prefix on a line has no ``".`` after it, no later prefix on that line has one.
    """
    pos = 0
    n = len(text)
    while pos <= n:
        p = text.find(_QUICK_PREFIX, pos)
        if p < 0:
            return None
        start = p + len(_QUICK_PREFIX)
        eol = text.find("\n", start)
        if eol < 0:
            eol = n
        q = text.rfind(_QUICK_SUFFIX, start, eol)
        if q >= 0:
            return text[start:q]
        pos = eol + 1
    return None


def _official_extract(response: str, row: Mapping[str, Any], choices: list[Any]) -> tuple[str, str] | None:
    if response == "":
        return "", "official_empty"
    if row.get("question_type") == "multi_choice" and response in choices:
        return response, "official_in_choices"
    answer_type = row.get("answer_type")
    if answer_type == "integer":
        try:
            return str(int(response)), "official_int"
        except Exception:  # noqa: BLE001 - the official code swallows everything here
            pass
    if answer_type == "float":
        try:
            return str(float(response)), "official_float"
        except Exception:  # noqa: BLE001
            pass
    quick = _quick_extract(response)
    if quick is not None:
        return quick, "official_quick_extract"
    return None


# ---------------------------------------------------------------------------------------------
# Stage 3: official normalisation
# ---------------------------------------------------------------------------------------------

_FIRST_BRACKET_LETTER = re.compile(r"\(([a-zA-Z])\)")


def _normalize_choice(extraction: str, choices: list[Any]) -> tuple[Any, dict[str, Any]]:
    text = extraction.strip()
    m = _FIRST_BRACKET_LETTER.search(text)
    if m:
        text = m.group(1).upper()
    if len(text) == 1 and 0 <= ord(text) - ord("A") < len(choices):
        return choices[ord(text) - ord("A")], {"normalization": "letter", "letter": text}
    best_i, best_d = 0, None
    for i, choice in enumerate(choices):
        d = edit_distance(text, choice if isinstance(choice, str) else str(choice))
        if best_d is None or d < best_d:
            best_i, best_d = i, d
    return choices[best_i], {"normalization": "nearest_choice", "distance": best_d}


def _normalize_number(extraction: str, answer_type: str, precision: Any) -> str | None:
    try:
        if answer_type == "integer":
            return str(int(float(extraction)))
        return str(round(float(extraction), int(precision)))
    except Exception:  # noqa: BLE001 - official: any failure normalises to None
        return None


# ---------------------------------------------------------------------------------------------
# Stage 2: deterministic extractor (replaces the GPT call)
# ---------------------------------------------------------------------------------------------

_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*([-+]?\d+(?:\.\d+)?)\s*\}\s*\{\s*([-+]?\d+(?:\.\d+)?)\s*\}")
_SCI = re.compile(
    r"(\d(?:\.\d+)?)\s*(?:×|\\times|\\cdot|x|\*)\s*10\s*\^\s*(?:\{\s*([-+]?\d+)\s*\}|([-+]?\d+))"
)

_NUMBER = re.compile(
    r"(?<![\w.^])"
    r"(?P<sign>[-+]?)"
    r"(?:(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(?P<frac>\d+))?|\.(?P<frac2>\d+))"
    r"(?:[eE](?P<exp>[-+]?\d+))?"
    r"(?:\s*/\s*(?P<den>\d+(?:\.\d+)?)(?!\d|\.\d))?"
    r"(?P<pct>\s*%)?"
)
_NOT_ANSWER_COUNT = re.compile(r"\s*(?:decimal\s+place|significant\s+(?:figure|digit))", re.IGNORECASE)

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100,
}  # fmt: skip
_WORDS = "|".join(_NUMBER_WORDS)
_THERE_NUMBER_WORD = re.compile(
    rf"\bthere\s+(?:are|is|were|was)\s+(?:only\s+|exactly\s+|just\s+|a\s+total\s+of\s+)?({_WORDS})\b",
    re.IGNORECASE,
)
_LEADING_NUMBER_WORD = re.compile(rf"\W*+({_WORDS})\b", re.IGNORECASE)

_MARK = r"[\s*_`'\"]*"
_CONNECTOR = r"(?:(?:is|are|was|would\s+be|should\s+be|will\s+be|must\s+be|could\s+be)\b|=|:|：)"
_CUE = re.compile(
    r"(?i:\b(?:(?:correct|right|best|final|closest)\s+(?:answer|option|choice)s?\b(?:\s+letter\b)?"
    rf"(?:{_MARK}{_CONNECTOR})*"
    rf"|answers?\b(?:{_MARK}{_CONNECTOR})+))"
    r"|答案\s*(?:应该?|應該?)?\s*(?:是|为|為)?\s*[:：]?|故选|所以选"
)
_BOXED = "\\boxed{"

_SEG_LETTER = re.compile(
    r"(?:[^\w\\]|\\[a-zA-Z]++|(?i:option|choice|letter)\b|选项)*+([A-Za-z])(?![A-Za-z0-9])"
)
_LEADING_LETTER = re.compile(r"\(?([A-Za-z])(?:[.:)\]]|$)")


@functools.lru_cache(maxsize=32)
def _letter_mention(n: int) -> re.Pattern[str]:
    """Mentions of the letters of ``n`` choices: ``(b)``, ``option B``, ``选项B``, a line ``B.``."""
    upper = f"A-{chr(ord('A') + n - 1)}"
    both = f"{upper}{upper.lower()}"
    return re.compile(
        rf"\(\s*([{both}])\s*\)"
        rf"|(?:(?i:\b(?:option|choice))\s+|选项\s*)([{upper}])(?![A-Za-z0-9])"
        rf"|^[ \t*_`'\"]*\(?([{upper}])[).:]?[ \t*_`'\"]*$",
        re.MULTILINE,
    )


_LIST = re.compile(r"\[([^\[\]\n]{0,2000})\]|\(([^()\n]{0,2000})\)")
_LIST_ITEM = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*")
_BETWEEN = re.compile(
    r"\b(?:between|from)\s+(?:the\s+)?(?:years?\s+|values?\s+)?"
    r"(?P<a>[-+]?\d+(?:\.\d+)?)\s+(?:and|to)\s+(?P<b>[-+]?\d+(?:\.\d+)?)(?![\d.]\d)",
    re.IGNORECASE,
)
_SEG_LEN = 200
_MAX_SCAN = 50_000
_MAX_CUES = 16


def _last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - we want the last match
        pass
    return last


def _prepare(response: str) -> tuple[str, bool]:
    """The text stage 2 reads, and whether it is the whole response (not only its tail)."""
    whole = len(response) <= _MAX_SCAN
    if not whole:
        response = response[-_MAX_SCAN:]
        response = response[response.find("\n") + 1 :]
    text = clean_text(response)
    if "\\" in text:
        text = _FRAC.sub(r"\1/\2", text)
    if "10" in text:
        text = _SCI.sub(lambda m: f"{m.group(1)}e{m.group(2) or m.group(3)}", text)
    return text, whole


def _number_text(m: re.Match[str]) -> str:
    """The canonical numeric string of a ``_NUMBER`` match (no separators, sign kept)."""
    sign = "-" if m.group("sign") == "-" else ""
    if m.group("int") is not None:
        body = m.group("int").replace(",", "")
        if m.group("frac") is not None:
            body += "." + m.group("frac")
    else:
        body = "0." + m.group("frac2")
    if m.group("exp") is not None:
        body += "e" + m.group("exp")
    den = m.group("den")
    if den is not None:
        try:
            d = float(den)
            if d != 0:
                return repr(float(sign + body) / d)
        except (OverflowError, ValueError):
            pass
    return sign + body


def _numbers(text: str) -> list[str]:
    out = []
    for m in _NUMBER.finditer(text):
        if _NOT_ANSWER_COUNT.match(text, m.end()):
            continue
        out.append(_number_text(m))
    return out


def _last_number(text: str) -> str | None:
    last = None
    for m in _NUMBER.finditer(text):
        if not _NOT_ANSWER_COUNT.match(text, m.end()):
            last = m
    return _number_text(last) if last is not None else None


def _boxed_segment(text: str) -> str | None:
    """Contents of the last ``\\boxed{...}`` (braces matched, at most ``_SEG_LEN`` characters)."""
    p = text.rfind(_BOXED)
    if p < 0:
        return None
    start = p + len(_BOXED)
    depth = 1
    end = min(len(text), start + _SEG_LEN)
    for i in range(start, end):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return text[start:end]


def _cue_segments(text: str) -> list[str]:
    """Segments after answer cues, last cue first."""
    ends = [m.end() for m in _CUE.finditer(text)][-_MAX_CUES:]
    segments = []
    for end in ends:
        rest = text[end : end + 4 * _SEG_LEN].lstrip(" \t*_`'\"")
        line = rest.lstrip().split("\n", 1)[0] if rest.startswith(("\n", "\r")) else rest.split("\n", 1)[0]
        segments.append(line[:_SEG_LEN])
    segments.reverse()
    return segments


def _segments(text: str) -> list[tuple[str, str]]:
    out = []
    boxed = _boxed_segment(text)
    if boxed is not None:
        out.append(("det_boxed", boxed))
    out.extend(("det_answer_is", s) for s in _cue_segments(text))
    return out


def _extract_number(text: str, whole: bool) -> tuple[str, str]:
    for method, seg in _segments(text):
        if "=" in seg:
            after = _numbers(seg[seg.rfind("=") + 1 :])
            if after:
                return after[0], method
        nums = _numbers(seg)
        if nums:
            return nums[0], method
        word = _LEADING_NUMBER_WORD.match(seg)
        if word:
            return str(_NUMBER_WORDS[word.group(1).lower()]), method
    last = _last_number(text)
    if last is not None:
        return last, "det_last_number"
    word = _last_match(_THERE_NUMBER_WORD, text)
    if word is None and whole:
        word = _LEADING_NUMBER_WORD.match(text)
    if word is not None:
        return str(_NUMBER_WORDS[word.group(1).lower()]), "det_number_word"
    return "", "det_none"


def _as_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _numeric_list(m: re.Match[str]) -> list[str] | None:
    inner = m.group(1) if m.group(1) is not None else m.group(2)
    parts = inner.split(",")
    if len(parts) < 2 or not all(_LIST_ITEM.fullmatch(p) for p in parts):
        return None
    return [p.strip().lstrip("+") for p in parts]


def _last_numeric_list(text: str) -> list[str] | None:
    found = None
    for m in _LIST.finditer(text):
        items = _numeric_list(m)
        if items is not None:
            found = items
    return found


def _extract_list(text: str) -> tuple[str, str]:
    for method, seg in _segments(text):
        items = _last_numeric_list(seg)
        if items is None:
            nums = _numbers(seg)
            items = nums if len(nums) >= 2 else None
        if items is not None:
            return _as_list(items), method
    best: tuple[int, list[str], str] | None = None
    for m in _LIST.finditer(text):
        items = _numeric_list(m)
        if items is not None:
            best = (m.end(), items, "det_bracket_list")
    for m in _BETWEEN.finditer(text):
        if best is None or m.end() > best[0]:
            best = (m.end(), [m.group("a").lstrip("+"), m.group("b").lstrip("+")], "det_between")
    if best is not None:
        return _as_list(best[1]), best[2]
    return "", "det_none"


_NUMBER_WITH_UNIT = re.compile(r"([-+]?\d+(?:\.\d+)?)\s*([^\d\s.].*)", re.DOTALL)


def _option_patterns(choices: Sequence[Any]) -> list[tuple[int, re.Pattern[str]]]:
    """(choice index, pattern) pairs: each option text, and the number of a number-with-unit option."""
    texts = [clean_text(choice).strip() for choice in choices]
    cores = [m.group(1) if (m := _NUMBER_WITH_UNIT.fullmatch(t)) else None for t in texts]
    patterns = []
    for i, text in enumerate(texts):
        if not text:
            continue
        body = r"\s+".join(re.escape(part) for part in text.split())
        left = r"(?<![A-Za-z0-9])" if text[0].isalnum() else ""
        if text[0].isdigit():
            left = r"(?<![A-Za-z0-9.])"
        right = r"(?![A-Za-z0-9])" if text[-1].isalnum() else ""
        if text[-1].isdigit():
            body += r"(?:\.0+)?" if re.fullmatch(r"[-+]?\d+(?:\.\d+)?", text) else ""
            right = r"(?![A-Za-z0-9]|\.\d)"
        patterns.append((i, re.compile(left + body + right, re.IGNORECASE)))
        core = cores[i]
        if core is not None and cores.count(core) == 1 and core not in texts:
            patterns.append(
                (i, re.compile(r"(?<![A-Za-z0-9.])" + re.escape(core) + r"(?:\.0+)?(?![0-9]|\.\d)"))
            )
    return patterns


def _first_option(seg: str, patterns: Sequence[tuple[int, re.Pattern[str]]]) -> int | None:
    best: tuple[int, int, int] | None = None  # (start, -length, index)
    for i, pat in patterns:
        m = pat.search(seg)
        if m:
            key = (m.start(), m.start() - m.end(), i)
            if best is None or key < best:
                best = key
    return best[2] if best is not None else None


def _letter_index(letter: str, n: int, bracketed: bool) -> int | None:
    if letter.isupper() or bracketed:
        i = ord(letter.upper()) - ord("A")
        if 0 <= i < n:
            return i
    return None


def _segment_letter(seg: str, n: int) -> int | None:
    m = _SEG_LETTER.match(seg)
    if not m:
        return None
    s, e = m.span(1)
    bracketed = s > 0 and seg[s - 1] == "(" and seg[e : e + 1] == ")"
    return _letter_index(m.group(1), n, bracketed)


def _extract_choice(text: str, choices: Sequence[Any], whole: bool) -> tuple[str, str]:
    n = min(len(choices), 26)
    patterns = _option_patterns(choices[:n])
    for method, seg in _segments(text):
        i = _segment_letter(seg, n)
        if i is None:
            i = _first_option(seg, patterns)
        if i is not None:
            return chr(ord("A") + i), method
    stripped = text.strip().strip("*_`'\"").strip()
    m = _LEADING_LETTER.match(stripped) if whole else None
    if m:
        whole = len(stripped.strip("().:[]")) == 1
        i = _letter_index(m.group(1), n, whole or stripped.startswith("("))
        if i is not None and (m.group(1).isupper() or whole):
            return chr(ord("A") + i), "det_leading_letter"
    best: tuple[int, int, int] | None = None  # (end, length, -index)
    m = _last_match(_letter_mention(n), text) if n else None
    if m is not None:
        i = ord((m.group(1) or m.group(2) or m.group(3)).upper()) - ord("A")
        best = (m.end(), m.end() - m.start(), -i)
    for i, pat in patterns:
        last = _last_match(pat, text)
        if last is not None:
            key = (last.end(), last.end() - last.start(), -i)
            if best is None or key > best:
                best = key
    if best is not None:
        return chr(ord("A") - best[2]), "det_last_mention"
    return squash_ws(text), "det_none"


def _det_extract(response: str, row: Mapping[str, Any], choices: list[Any]) -> tuple[str, str]:
    text, whole = _prepare(response)
    if row.get("question_type") == "multi_choice":
        return _extract_choice(text, choices, whole)
    if row.get("answer_type") == "list":
        return _extract_list(text)
    return _extract_number(text, whole)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def _choices(row: Mapping[str, Any]) -> list[Any]:
    choices = row.get("choices")
    if isinstance(choices, str | bytes) or not isinstance(choices, Sequence):
        return []
    return list(choices)


def score(response: str, row: Mapping[str, Any]) -> Score:
    """Score ``response`` against a MathVista hub row like the official evaluation (see module doc)."""
    try:
        return _score(response, row)
    except Exception as exc:  # noqa: BLE001 - a scorer never raises
        return Score(False, None, method="error", detail={"error": repr(exc)})


def _score(response: Any, row: Mapping[str, Any]) -> Score:
    if response is None:
        response = ""
    elif not isinstance(response, str):
        response = str(response)
    question_type = row.get("question_type")
    answer_type = row.get("answer_type")
    choices = _choices(row)
    multi_choice = question_type == "multi_choice"
    if multi_choice and not choices:
        return Score(False, None, method="no_choices", detail={"official_deterministic": False})
    if not multi_choice and answer_type not in ("integer", "float", "list"):
        return Score(False, None, method="unsupported_answer_type", detail={"official_deterministic": False})

    official = _official_extract(response, row, choices)
    if official is not None:
        extraction, method = official
    else:
        extraction, method = _det_extract(response, row, choices)
    detail: dict[str, Any] = {"extraction": extraction, "official_deterministic": official is not None}

    fallback = False
    if multi_choice:
        parsed, how = _normalize_choice(extraction, choices)
        detail.update(how)
        fallback = method == "det_none" or not extraction.strip()
    elif answer_type == "list":
        parsed = extraction
    else:
        parsed = _normalize_number(extraction, answer_type, row.get("precision"))

    answer = row.get("answer")
    try:
        correct = answer is not None and bool(parsed == answer)
    except Exception:  # noqa: BLE001 - official safe_equal
        correct = False
    return Score(correct, parsed, method=method, fallback=fallback, detail=detail)
