"""MMMU (MMMU/MMMU, split ``validation``, all 30 subject configs).

Prompt: the official MMMU prompt (``mmmu/utils/data_utils.py::construct_prompt`` with the
``configs/llava1.5.yaml`` formats): question, a blank line, the ``(A) option`` lines, and the
instruction to answer with the option's letter; open questions ask for a single word or phrase.
Scoring: :mod:`harness.tasks.scorers.mmmu`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any, ClassVar

from harness.tasks.base import HubSource, Item, Task, strip_images
from harness.tasks.registry import register_task

SUBJECTS: tuple[str, ...] = (
    "Accounting", "Agriculture", "Architecture_and_Engineering", "Art", "Art_Theory",
    "Basic_Medical_Science", "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science",
    "Design", "Diagnostics_and_Laboratory_Medicine", "Economics", "Electronics", "Energy_and_Power",
    "Finance", "Geography", "History", "Literature", "Manage", "Marketing", "Materials", "Math",
    "Mechanical_Engineering", "Music", "Pharmacy", "Physics", "Psychology", "Public_Health", "Sociology",
)  # fmt: skip

MC_FORMAT = "{}\n\n{}\n\nAnswer with the option's letter from the given choices directly."
OPEN_FORMAT = "{}\n\nAnswer the question using a single word or phrase."
MAX_IMAGES = 7


def parse_options(options: Any) -> list[str]:
    """MMMU stores options as a string holding a Python list literal; anything else gives []."""
    if isinstance(options, list):
        return [str(o) for o in options]
    try:
        value = ast.literal_eval(options) if isinstance(options, str) else None
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return []
    return [str(o) for o in value] if isinstance(value, list | tuple) else []


@register_task
class MMMU(Task):
    name: ClassVar[str] = "mmmu"
    scorer: ClassVar[str] = "mmmu"
    source = HubSource(
        repo_id="MMMU/MMMU", revision="main", split="validation", configs=SUBJECTS
    )
    id_field: ClassVar[str] = "id"
    max_images: ClassVar[int] = MAX_IMAGES
    size: ClassVar[int] = 900  # validation, 30 subjects x 30

    def to_item(self, row: Mapping[str, Any]) -> Item:
        options = parse_options(row.get("options"))
        mc = row.get("question_type") == "multiple-choice"
        if mc:
            block = "".join(f"({chr(ord('A') + i)}) {o}\n" for i, o in enumerate(options))
            prompt = MC_FORMAT.format(row["question"], block)
        else:
            prompt = OPEN_FORMAT.format(row["question"])
        images = [row[f"image_{i}"] for i in range(1, MAX_IMAGES + 1) if row.get(f"image_{i}") is not None]
        return Item(
            task=self.name,
            id=str(row["id"]),
            images=images,
            question=row["question"],
            options=options if mc else [],
            answer=str(row["answer"]),
            answer_type="choice" if mc else "text",
            prompt=prompt,
            metadata={k: row.get(k) for k in ("subfield", "topic_difficulty", "img_type") if k in row},
            row=strip_images(row),
        )
