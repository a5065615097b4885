"""The result type every task scorer returns, and text helpers shared by the scorers.

Scorers are pure functions ``score(response, row) -> Score``: no models, no I/O, and they
never raise on any string. ``row`` is a row in the hub dataset's own schema.

The :mod:`harness.tasks.scorers` package imports only the standard library and itself (relative imports;
``rapidfuzz`` optionally, for speed), so ``ladder export-lm-eval`` copies it verbatim beside an exported task and
lm-eval scores with the same code without ``harness`` installed (``tests/tasks/scorers/test_standalone.py``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

try:
    from rapidfuzz.distance.Levenshtein import distance as _fast_distance
except ImportError:  # an lm-eval export run without the harness's dependencies
    _fast_distance = None


@dataclass(frozen=True, slots=True)
class Score:
    """Whether a response is correct, and what the scorer extracted from it.

    ``parsed`` is the normalised prediction the official code would compare with the answer
    (a choice letter, an option text, a number as a string, ...), or ``None`` when nothing
    could be extracted. ``method`` names the rule that produced it (e.g. ``"bracket_letter"``,
    ``"option_text"``, ``"random_fallback"``); ``fallback`` is true when the official code
    would have guessed (MMMU's random choice), so a reader can tell a guess from a parse.
    """

    correct: bool
    parsed: Any
    method: str = ""
    fallback: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-"})


def clean_text(text: Any) -> str:
    """Coerce anything to ``str`` and remove what no official scorer would see in a typed answer.

    Removes zero-width characters and the soft hyphen, maps Unicode minus signs to ``-`` and
    Unicode decimal digits (e.g. full-width or Arabic-Indic) to ASCII. This is a departure
    from the official scorers, which see the raw bytes; it is applied before their rules so
    that an invisible character cannot flip a decision.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = text.translate(_ZERO_WIDTH).translate(_MINUS_SIGNS)
    if not text.isascii():
        text = "".join(
            str(unicodedata.digit(ch)) if ch.isdigit() and not ch.isascii() and _is_decimal(ch) else ch
            for ch in text
        )
    return text


def _is_decimal(ch: str) -> bool:
    try:
        unicodedata.decimal(ch)
    except (TypeError, ValueError):
        return False
    return True


_WS = re.compile(r"\s+")


def squash_ws(text: str) -> str:
    """Collapse runs of white space to one space and strip the ends."""
    return _WS.sub(" ", text).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unit insert, delete and substitute costs), as ``python-Levenshtein`` computes it.

    ``rapidfuzz`` computes it where installed (always with the harness); the standard-library dynamic programme
    below gives the same number where it is not (an lm-eval export run without the harness's dependencies).
    """
    return _fast_distance(a, b) if _fast_distance is not None else _edit_distance(a, b)


def _edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
