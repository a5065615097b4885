"""BLINK (BLINK-Benchmark/BLINK, split ``val``, all 14 subtask configs).

Prompt: the row's ``prompt`` field, the official BLINK prompt with its ``(A) ...`` choices.
Scoring: :mod:`harness.tasks.scorers.blink`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from harness.tasks.base import HubSource, Item, Task, strip_images
from harness.tasks.registry import register_task

SUBTASKS: tuple[str, ...] = (
    "Art_Style", "Counting", "Forensic_Detection", "Functional_Correspondence", "IQ_Test", "Jigsaw",
    "Multi-view_Reasoning", "Object_Localization", "Relative_Depth", "Relative_Reflectance",
    "Semantic_Correspondence", "Spatial_Relation", "Visual_Correspondence", "Visual_Similarity",
)  # fmt: skip
MAX_IMAGES = 4


@register_task
class Blink(Task):
    name: ClassVar[str] = "blink"
    scorer: ClassVar[str] = "blink"
    source = HubSource(
        repo_id="BLINK-Benchmark/BLINK", revision="main", split="val", configs=SUBTASKS
    )
    id_field: ClassVar[str] = "idx"
    max_images: ClassVar[int] = MAX_IMAGES
    size: ClassVar[int] = 1901  # val, 14 subtasks

    def to_item(self, row: Mapping[str, Any]) -> Item:
        images = [row[f"image_{i}"] for i in range(1, MAX_IMAGES + 1) if row.get(f"image_{i}") is not None]
        return Item(
            task=self.name,
            id=str(row["idx"]),
            images=images,
            question=row["question"],
            options=list(row["choices"]),
            answer=str(row["answer"]),
            answer_type="choice",
            prompt=row["prompt"],
            metadata={"sub_task": row.get("sub_task")},
            row=strip_images(row),
        )
