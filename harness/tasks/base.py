"""What every task provides: a hub source, items in one model, a prompt, a scorer, splits.

A task turns rows of its hub dataset (in the hub's own schema) into :class:`Item` objects and
scores a model's response against a row with a pure function. Tasks know no models and no
database.
"""

from __future__ import annotations

import importlib
import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from harness.tasks.scorers.common import Score
from harness.tasks.splits import SplitName, SplitSpec, assign_splits

logger = logging.getLogger(__name__)

AnswerType = Literal["choice", "integer", "float", "text", "list"]


class HubSource(BaseModel):
    """Where a task's data lives on the hub; the one place its id and revision are written."""

    model_config = ConfigDict(frozen=True)

    repo_id: str = Field(description="Dataset repository id on the Hugging Face hub.")
    revision: str = Field(
        description="Git revision loaded. A branch name is resolved to a commit and recorded "
        "in provenance at load time (see harness.tasks.loading)."
    )
    split: str = Field(description="The dataset split the protocol uses.")
    configs: tuple[str, ...] = Field(
        default=(), description="Builder configs (subjects/subtasks) to concatenate; () means the default."
    )


class Item(BaseModel):
    """One benchmark question with its images, normalised across tasks.

    ``row`` keeps the hub row (without image payloads) because the scorers decide on the hub
    schema exactly as the official evaluation code does.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    task: str
    id: str
    images: list[Image.Image] = Field(repr=False)
    question: str
    options: list[str] = Field(default_factory=list, description="Choice texts, in letter order.")
    answer: str = Field(description="The gold answer as the hub stores it.")
    answer_type: AnswerType
    precision: int | None = Field(default=None, description="Decimal places for float answers.")
    prompt: str = Field(description="The benchmark's standard prompt text for this item.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    row: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def letters(self) -> list[str]:
        return [chr(ord("A") + i) for i in range(len(self.options))]


class Task(ABC):
    """A benchmark: its source, how a hub row becomes an :class:`Item`, and how to score it."""

    name: ClassVar[str]
    #: The module of :mod:`harness.tasks.scorers` whose ``score(response, row)`` decides correctness. That package
    #: is standard-library only, so ``ladder export-lm-eval`` ships it beside an exported task.
    scorer: ClassVar[str]
    source: HubSource | None  # set on the class; an instance may narrow its configs
    id_field: ClassVar[str]
    split_spec: ClassVar[SplitSpec] = SplitSpec()
    #: Items in the split the protocol uses (the published dataset's row count), so that a dry run plans without a
    #: download; a task that does not declare it cannot be planned (never silently 0 items).
    size: ClassVar[int | None] = None
    #: The most images one item carries (a multi-image judge request holds them all: the vLLM engine's limit).
    max_images: ClassVar[int] = 1

    def __init__(self, configs: Sequence[str] | None = None) -> None:
        """``configs`` narrows a multi-config task (e.g. some MMMU subjects) to those named."""
        if configs is None:
            return
        known = self.source.configs if self.source is not None else ()
        unknown = [c for c in configs if c not in known]
        if unknown or not configs:
            raise ValueError(f"{self.name}: unknown configs {unknown or list(configs)}; known: {list(known)}")
        self.source = self.source.model_copy(update={"configs": tuple(configs)})

    def planned_items(self) -> int:
        """The item count a plan assumes: the declared :attr:`size`."""
        if self.size is None:
            raise ValueError(f"task {self.name!r} declares no size: set its `size` (rows of its protocol split) so "
                             "that a dry run can plan it")
        return self.size

    @abstractmethod
    def to_item(self, row: Mapping[str, Any]) -> Item:
        """Build an item from one hub row."""

    def score(self, response: str, row: Mapping[str, Any]) -> Score:
        """Decide whether ``response`` answers ``row`` correctly, as the official code would."""
        return scorer_module(self.scorer).score(response, row)

    def rows(self, path: str | Path | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows in the hub schema, from the hub (``path=None``) or a local copy of the hub layout."""
        from harness.tasks.loading import iter_hub_rows

        assert self.source is not None, f"task {self.name} has no hub source; override rows()"
        yield from iter_hub_rows(self.source, path=path, limit=limit)

    def items(self, path: str | Path | None = None, limit: int | None = None) -> list[Item]:
        return [self.to_item(r) for r in self.rows(path=path, limit=limit)]

    def splits(self, ids: Iterable[str], seed: int = 0) -> dict[SplitName, list[str]]:
        """Deterministic audit/train/test split of item ids (see :mod:`harness.tasks.splits`)."""
        return assign_splits(ids, self.split_spec, seed=seed, salt=self.name)

    def score_item(self, response: str, item: Item) -> Score:
        return self.score(response, item.row)

    def identity(self) -> dict[str, Any]:
        """Where the items come from, as provenance and audit packs record it: the hub source (id, revision, split,
        configs), or for a generated task its class and options; in JSON types (lists, not tuples)."""
        if self.source is None:
            from pydantic_core import to_jsonable_python

            return {"generated": type(self).__name__, **to_jsonable_python(vars(self))}  # as JSON holds it
        return self.source.model_dump(mode="json")


def scorer_module(name: str) -> ModuleType:
    """The scorer module ``harness.tasks.scorers.<name>``."""
    return importlib.import_module(f"harness.tasks.scorers.{name}")


#: Image modes a PNG file holds as they are; any other (CMYK, YCbCr, float) is converted first.
PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"})


def png_bytes(image: Image.Image) -> bytes:
    """The image as PNG bytes (lossless; a mode PNG cannot hold becomes RGB, or RGBA where it has alpha): how an
    item's image is sent to an endpoint judge and embedded in an audit pack."""
    if image.mode not in PNG_MODES:
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def strip_images(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row without image payloads (PIL images or {'bytes': ...} dicts), for storage in an Item."""
    return {k: v for k, v in row.items() if not _is_image_value(v)}


def _is_image_value(v: Any) -> bool:
    return isinstance(v, Image.Image) or (isinstance(v, dict) and "bytes" in v and "path" in v)


def letter_options(options: list[str]) -> str:
    """``(A) first\\n(B) second`` — the option block used by MMMU's and BLINK's prompts."""
    return "\n".join(f"({chr(ord('A') + i)}) {opt}" for i, opt in enumerate(options))
