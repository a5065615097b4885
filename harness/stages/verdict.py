"""Parse a verifier's rubric answer into a score in [0, 1], robustly and without raising.

The rubric asks for a JSON object ``{"score": s, ...}``. Real verifiers wrap it in code
fences or prose, use single quotes or Python literals, give the score as a string or a
percentage, or write several objects. Rules, in order:

1. Every balanced ``{...}`` span in the text is tried with ``json.loads``, then with
   ``ast.literal_eval`` (single quotes, ``True``/``False``); spans that hold a ``score`` key
   are kept (a ``score`` nested in another object counts too). With several, the **last** wins:
   verifiers restate or correct themselves.
2. Failing that, a bare ``score: 0.7`` / ``"score" = 70%`` pattern, last match wins.
3. The value: a number; a numeric string; a percentage string (``"85%"`` -> 0.85); a boolean
   (true -> 1, false -> 0). A whole number in (1, 100] without a percent sign is read as a
   percentage (verifiers asked for 0-1 often answer 0-100); a fraction ``"7/10"`` is divided out;
   anything else outside [0, 1], NaN or infinite is a failure.

A failure returns ``score=None`` and a reason; the caller records it with the raw text.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_CHARS = 200_000  # longer outputs are cut: a verifier that rambles this long has failed anyway
_BARE = re.compile(
    r"""["']?score["']?\s*[:=]\s*["']?(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?\s*(?:%|/\s*\d+(?:\.\d+)?)?)""", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A parsed verifier answer: ``score`` in [0, 1] or ``None`` with ``error`` saying why."""

    score: float | None
    error: str | None = None
    method: str = ""

    @property
    def ok(self) -> bool:
        return self.score is not None

    def verdict(self, threshold: float = 0.5) -> bool | None:
        """The binary verdict "correct" (score >= threshold); None on a parse failure."""
        return None if self.score is None else self.score >= threshold


def _json_spans(text: str) -> list[str]:
    """Balanced ``{...}`` substrings, outermost first, left to right (quotes respected)."""
    spans, depth, start, quote, escape = [], 0, -1, "", False
    for i, ch in enumerate(text):
        if quote:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'" and depth > 0:
            quote = ch
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start:i + 1])
    return spans


def _load(span: str) -> Any:
    try:
        return json.loads(span)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(span)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


_MISSING = object()


def _find_score(obj: Any, depth: int = 0) -> Any:
    """The value of a ``score`` key (any case) in ``obj`` or, failing that, in a nested object."""
    if not isinstance(obj, dict) or depth > 8:
        return _MISSING
    key = next((k for k in obj if isinstance(k, str) and k.strip().lower() == "score"), None)
    if key is not None:
        return obj[key]
    for v in obj.values():
        found = _find_score(v, depth + 1)
        if found is not _MISSING:
            return found
    return _MISSING


def _to_score(value: Any) -> tuple[float | None, str | None]:
    percent = False
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, str) and "/" in value:  # "7/10" -> 0.7
        num, _, den = value.partition("/")
        try:
            value = float(num) / float(den)
        except (ValueError, ZeroDivisionError):
            return None, f"score is not a number: {value[:40]!r}"
        if not 0.0 <= value <= 1.0:
            return None, f"score out of range: {num}/{den}"
        return value, None
    if isinstance(value, str):
        s = value.strip()
        percent = s.endswith("%")
        try:
            value = float(s.rstrip("%").strip())
        except ValueError:
            return None, f"score is not a number: {value[:40]!r}"
    if not isinstance(value, int | float):
        return None, f"score has type {type(value).__name__}"
    x = float(value)
    if not math.isfinite(x):
        return None, f"score is not finite: {x}"
    if percent or (1.0 < x <= 100.0 and x.is_integer()):
        x /= 100.0
    if not 0.0 <= x <= 1.0:
        return None, f"score out of range: {value}"
    return x, None


def parse_verdict(text: Any) -> Verdict:
    """Parse a verifier's raw output; never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text.strip():
        return Verdict(None, "empty output")
    text = text[:MAX_CHARS]
    found: list[Any] = []
    for span in _json_spans(text):
        value = _find_score(_load(span))
        if value is not _MISSING:
            found.append(value)
    if found:
        score, err = _to_score(found[-1])
        return Verdict(score, err, "json")
    bare = _BARE.findall(text)
    if bare:
        score, err = _to_score(bare[-1])
        return Verdict(score, err, "pattern")
    return Verdict(None, "no score found")
