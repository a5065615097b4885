"""Deterministic, order-independent audit/train/test splits of item ids.

Each id is ranked by ``sha256(f"{salt}:{seed}:{id}")``; the lowest ``audit_size`` ranks form
the audit split (the rubric audit's held-out items), the next ``test_fraction`` of the rest
the test split, and what remains the train split. Because an id's rank depends on nothing but
the id, reordering the dataset's rows never moves an item between splits.

Sizes used by the protocol (``SplitSpec`` defaults): audit 200 items; of the rest, half test
and half train. MathVista testmini (1000 items): 200 / 400 / 400. MMMU validation (900):
200 / 350 / 350. BLINK val (1901): 200 / 851 / 850 (test gets the odd item).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SplitName = Literal["audit", "train", "test"]


class SplitSpec(BaseModel):
    """How many items go to each split."""

    model_config = ConfigDict(frozen=True)

    audit_size: int = Field(default=200, ge=0, description="Items held out for the rubric audit.")
    test_fraction: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Share of the non-audit items used for evaluation."
    )


def _rank_key(salt: str, seed: int, item_id: str) -> bytes:
    return hashlib.sha256(f"{salt}:{seed}:{item_id}".encode()).digest()


def assign_splits(
    ids: Iterable[str], spec: SplitSpec, seed: int = 0, salt: str = ""
) -> dict[SplitName, list[str]]:
    """Split ``ids`` (duplicates refused) into audit/train/test, each list sorted by rank."""
    ids = list(ids)
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ValueError(f"item ids must be unique; repeated: {dupes}")
    ranked = sorted(ids, key=lambda i: _rank_key(salt, seed, i))
    n_audit = min(spec.audit_size, len(ranked))
    rest = ranked[n_audit:]
    n_test = math.ceil(len(rest) * spec.test_fraction)
    return {"audit": ranked[:n_audit], "test": rest[:n_test], "train": rest[n_test:]}
