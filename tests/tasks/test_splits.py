"""Splits are deterministic, disjoint, complete and independent of row order."""

from __future__ import annotations

import random

import pytest

from harness.tasks import get_task
from harness.tasks.splits import SplitSpec, assign_splits

IDS = [f"validation_Art_{i}" for i in range(900)]


def test_sizes_disjoint_and_complete():
    s = assign_splits(IDS, SplitSpec(), seed=0, salt="mmmu")
    assert (len(s["audit"]), len(s["test"]), len(s["train"])) == (200, 350, 350)
    assert set(s["audit"]) | set(s["test"]) | set(s["train"]) == set(IDS)
    assert not set(s["audit"]) & set(s["test"]) and not set(s["test"]) & set(s["train"])


def test_row_order_does_not_change_splits():
    shuffled = IDS[:]
    random.Random(7).shuffle(shuffled)
    a = assign_splits(IDS, SplitSpec(), seed=3, salt="mmmu")
    b = assign_splits(shuffled, SplitSpec(), seed=3, salt="mmmu")
    assert a == b


def test_seed_changes_the_split():
    a = assign_splits(IDS, SplitSpec(), seed=0, salt="mmmu")
    b = assign_splits(IDS, SplitSpec(), seed=1, salt="mmmu")
    assert set(a["audit"]) != set(b["audit"])


def test_adding_items_keeps_existing_audit_items_mostly_in_place():
    a = assign_splits(IDS, SplitSpec(), salt="x")
    b = assign_splits(IDS + [f"new_{i}" for i in range(9)], SplitSpec(), salt="x")
    assert len(set(a["audit"]) & set(b["audit"])) >= 190


def test_small_dataset_gives_everything_it_has_to_audit_first():
    s = assign_splits(["a", "b", "c"], SplitSpec(audit_size=200), salt="t")
    assert sorted(s["audit"]) == ["a", "b", "c"] and s["train"] == s["test"] == []


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="repeated"):
        assign_splits(["a", "b", "a"], SplitSpec())


def test_shapes_protocol_split_sizes():
    task = get_task("shapes")
    s = task.splits([f"shapes-0-{i:05d}" for i in range(task.n_items)])
    assert (len(s["audit"]), len(s["test"]), len(s["train"])) == (200, 1200, 1800)
