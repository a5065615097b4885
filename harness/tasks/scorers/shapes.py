"""Scorer of the synthetic ``shapes`` task: MMMU's multiple-choice letter parsing, with no guess.

Follows :mod:`.mmmu` (the official MMMU parser) on the row recast as an MMMU multiple-choice row. Departs in one
place: where MMMU would pick a random letter (nothing parsed), shapes counts the response wrong, so a tiny model's
babble never scores by luck.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from . import mmmu
from .common import Score


def score(response: str, row: Mapping[str, Any]) -> Score:
    """Score one response against one shapes row (``id``, ``options`` list, ``answer`` letter); never raises."""
    as_mmmu = {
        "id": row.get("id"),
        "question_type": "multiple-choice",
        "options": repr(list(row.get("options") or [])),
        "answer": row.get("answer"),
    }
    result = mmmu.score(response, as_mmmu)
    if result.fallback:
        return replace(result, correct=False, parsed=None, method="unparsed")
    return result
