"""The synthetic shapes task draws what its answers say, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from harness.tasks import get_task
from harness.tasks.shapes import COLOURS, QUADRANTS, make_row


def _blobs(img) -> int:
    """Connected non-white regions (4-neighbourhood)."""
    ink = (np.asarray(img).sum(axis=2) < 3 * 250)
    seen = np.zeros_like(ink)
    count = 0
    for y, x in zip(*np.nonzero(ink), strict=True):
        if seen[y, x]:
            continue
        count += 1
        stack = [(y, x)]
        seen[y, x] = True
        while stack:
            cy, cx = stack.pop()
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < ink.shape[0] and 0 <= nx < ink.shape[1] and ink[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
    return count


def _answer_text(row) -> str:
    return row["options"][ord(row["answer"]) - ord("A")]


@pytest.mark.parametrize("index", range(40))
def test_count_answer_matches_drawn_shapes(index):
    row = make_row(0, index, "count")
    assert _blobs(row["image"]) == int(_answer_text(row))


@pytest.mark.parametrize("index", range(20))
def test_colour_answer_matches_pixels(index):
    row = make_row(0, index, "colour")
    pixels = np.asarray(row["image"]).reshape(-1, 3)
    ink = pixels[pixels.sum(axis=1) < 3 * 250]
    values, counts = np.unique(ink, axis=0, return_counts=True)
    assert tuple(int(v) for v in values[counts.argmax()]) == COLOURS[_answer_text(row)]


@pytest.mark.parametrize("index", range(20))
def test_position_answer_matches_quadrant(index):
    row = make_row(0, index, "position")
    ys, xs = np.nonzero(np.asarray(row["image"]).sum(axis=2) < 3 * 250)
    quadrant = int(ys.mean() >= 32) * 2 + int(xs.mean() >= 32)
    assert _answer_text(row) == QUADRANTS[quadrant]


def test_generation_is_deterministic_and_seeded():
    a, b = make_row(0, 5, "count"), make_row(0, 5, "count")
    assert a["answer"] == b["answer"] and a["image"].tobytes() == b["image"].tobytes()
    other = [make_row(1, i, "count")["image"].tobytes() for i in range(5)]
    assert a["image"].tobytes() not in other


def test_items_have_four_options_and_balanced_answers():
    items = get_task("shapes", n_items=600, kinds=("count", "colour", "position")).items()
    assert len({it.id for it in items}) == 600
    assert all(len(it.options) == 4 and len(it.images) == 1 for it in items)
    letters = [it.answer for it in items]
    assert all(letters.count(letter) > 80 for letter in "ABCD")
    assert {it.metadata["kind"] for it in items} == {"count", "colour", "position"}


def test_scoring_counts_a_non_answer_wrong_instead_of_guessing():
    task = get_task("shapes", n_items=4)
    item = task.items()[0]
    assert task.score_item(item.answer, item).correct
    assert task.score_item(f"({item.answer})", item).correct
    unparsed = task.score_item("I cannot tell", item)
    assert not unparsed.correct and unparsed.parsed is None and unparsed.method == "unparsed"


def test_default_task_asks_counting_only():
    assert {it.metadata["kind"] for it in get_task("shapes", n_items=30).items()} == {"count"}


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="kinds"):
        get_task("shapes", kinds=("texture",))
    with pytest.raises(ValueError, match="local copy"):
        list(get_task("shapes").rows(path="/nonexistent"))
