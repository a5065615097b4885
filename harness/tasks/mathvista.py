"""MathVista (AI4Math/MathVista, split ``testmini``).

Prompt: the row's ``query`` field, which is the official MathVista prompt (hint + question
+ choices) built by the benchmark's authors. Scoring: :mod:`harness.tasks.scorers.mathvista`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from harness.tasks.base import HubSource, Item, Task, strip_images
from harness.tasks.registry import register_task


@register_task
class MathVista(Task):
    name: ClassVar[str] = "mathvista"
    scorer: ClassVar[str] = "mathvista"
    source = HubSource(repo_id="AI4Math/MathVista", revision="main", split="testmini")
    id_field: ClassVar[str] = "pid"
    size: ClassVar[int] = 1000  # testmini

    def to_item(self, row: Mapping[str, Any]) -> Item:
        mc = row.get("question_type") == "multi_choice"
        precision = row.get("precision")
        image = row.get("decoded_image")
        return Item(
            task=self.name,
            id=str(row["pid"]),
            images=[image] if image is not None else [],
            question=row["question"],
            options=list(row.get("choices") or []) if mc else [],
            answer=str(row["answer"]),
            answer_type="choice" if mc else row["answer_type"],
            precision=int(precision) if precision is not None else None,
            prompt=row["query"],
            metadata={"unit": row.get("unit"), **(row.get("metadata") or {})},
            row=strip_images(row),
        )
