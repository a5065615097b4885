"""Shapes: a synthetic visual multiple-choice task drawn procedurally from a seed.

It needs no download, so it is the CPU demo's and the tests' task. Three kinds of question,
each with four options (A-D) and one image of ``image_size`` pixels (the default task asks
only ``count``; see ``DEFAULT_KINDS``):

- ``count``: how many shapes (1-4) are drawn;
- ``colour``: the colour of the single shape;
- ``position``: which quadrant holds the single shape.

Rows use a small hub-like schema of our own (``id``, ``image``, ``question``, ``options``
(list), ``answer`` (a letter), ``kind``) and the same prompt layout as MMMU's multiple-choice
prompt. Scoring: :mod:`harness.tasks.scorers.shapes` (MMMU's letter parsing, nothing guessed).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image, ImageDraw

from harness.tasks.base import Item, Task, letter_options, strip_images
from harness.tasks.registry import register_task
from harness.tasks.splits import SplitSpec

KINDS = ("count", "colour", "position")
# The protocol's default is counting only: measured here, a tiny Qwen2.5-VL student warmed up on
# counting alone reaches ~50% in ~350 steps, while on count+position or all three kinds it stayed
# at the majority-letter rate (~0.3) after 600-3000 steps. The other kinds stay available.
DEFAULT_KINDS = ("count",)
COLOURS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (230, 200, 30),
    "purple": (140, 60, 180), "orange": (240, 130, 20), "black": (20, 20, 20), "cyan": (30, 190, 200),
}  # fmt: skip
QUADRANTS = ("top left", "top right", "bottom left", "bottom right")
INSTRUCTION = "Answer with the option's letter from the given choices directly."


def _draw_shape(draw: ImageDraw.ImageDraw, kind: str, box: tuple[int, int, int, int], fill) -> None:
    x0, y0, x1, y1 = box
    if kind == "square":
        draw.rectangle(box, fill=fill)
    elif kind == "circle":
        draw.ellipse(box, fill=fill)
    else:
        draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=fill)


def _cell_box(rng: random.Random, cell: int, size: int) -> tuple[int, int, int, int]:
    """A shape's box inside quadrant ``cell`` (0..3), jittered but never crossing the cell."""
    half = size // 2
    side = max(4, int(half * rng.uniform(0.45, 0.7)))
    ox, oy = (cell % 2) * half, (cell // 2) * half
    x0 = ox + rng.randint(1, half - side - 1)
    y0 = oy + rng.randint(1, half - side - 1)
    return (x0, y0, x0 + side, y0 + side)


def make_row(seed: int, index: int, kind: str, image_size: int = 64) -> dict[str, Any]:
    """One shapes row; the same (seed, index, kind, size) always draws the same row."""
    rng = random.Random(f"shapes:{seed}:{index}:{kind}")
    img = Image.new("RGB", (image_size, image_size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    shape = rng.choice(("square", "circle", "triangle"))
    if kind == "count":
        n = rng.randint(1, 4)
        for cell in rng.sample(range(4), n):
            colour = COLOURS[rng.choice(list(COLOURS))]
            _draw_shape(draw, rng.choice(("square", "circle", "triangle")), _cell_box(rng, cell, image_size), colour)
        question, options, correct = "How many shapes are in the image?", ["1", "2", "3", "4"], str(n)
    elif kind == "colour":
        name = rng.choice(list(COLOURS))
        _draw_shape(draw, shape, _cell_box(rng, rng.randrange(4), image_size), COLOURS[name])
        options = rng.sample([c for c in COLOURS if c != name], 3) + [name]
        rng.shuffle(options)
        question, correct = f"What colour is the {shape}?", name
    else:
        cell = rng.randrange(4)
        _draw_shape(draw, shape, _cell_box(rng, cell, image_size), COLOURS[rng.choice(list(COLOURS))])
        question, options, correct = f"Where is the {shape}?", list(QUADRANTS), QUADRANTS[cell]
    return {
        "id": f"shapes-{seed}-{index:05d}",
        "image": img,
        "question": question,
        "options": options,
        "answer": chr(ord("A") + options.index(correct)),
        "kind": kind,
    }


@register_task
class Shapes(Task):
    """``Shapes(n_items=..., seed=..., kinds=...)``; the defaults are the protocol's."""

    name: ClassVar[str] = "shapes"
    scorer: ClassVar[str] = "shapes"
    source = None
    id_field: ClassVar[str] = "id"
    # 3200 items: audit 200, test 1200 (enough to see a 3-point effect), train 1800.
    split_spec: ClassVar[SplitSpec] = SplitSpec(audit_size=200, test_fraction=0.4)

    def __init__(
        self, n_items: int = 3200, seed: int = 0, kinds: tuple[str, ...] = DEFAULT_KINDS, image_size: int = 64
    ) -> None:
        unknown = set(kinds) - set(KINDS)
        if unknown or not kinds:
            raise ValueError(f"shapes kinds must be a non-empty subset of {KINDS}, got {kinds}")
        if image_size < 32:
            raise ValueError(f"shapes image_size must be >= 32, got {image_size}")
        self.n_items, self.seed, self.kinds, self.image_size = n_items, seed, tuple(kinds), image_size

    def planned_items(self) -> int:
        return self.n_items

    def rows(self, path: str | Path | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        if path is not None:
            raise ValueError("shapes is generated from its seed; it has no local copy to load")
        n = self.n_items if limit is None else min(limit, self.n_items)
        for i in range(n):
            yield make_row(self.seed, i, self.kinds[i % len(self.kinds)], self.image_size)

    def to_item(self, row: Mapping[str, Any]) -> Item:
        return Item(
            task=self.name,
            id=row["id"],
            images=[row["image"]],
            question=row["question"],
            options=list(row["options"]),
            answer=row["answer"],
            answer_type="choice",
            prompt=f"{row['question']}\n\n{letter_options(list(row['options']))}\n\n{INSTRUCTION}",
            metadata={"kind": row["kind"]},
            row=strip_images(row),
        )
