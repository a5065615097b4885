"""Fixture datasets in the hub schema load through the real loader into complete items."""

from __future__ import annotations

import pytest
from PIL import Image

from harness.tasks import get_task
from harness.tasks.blink import SUBTASKS
from harness.tasks.mmmu import SUBJECTS
from tests.fixtures import hub


@pytest.fixture(scope="module")
def mmmu_dir(tmp_path_factory):
    return hub.write_mmmu(tmp_path_factory.mktemp("mmmu"), per_subject=3)


@pytest.fixture(scope="module")
def mathvista_dir(tmp_path_factory):
    return hub.write_mathvista(tmp_path_factory.mktemp("mathvista"), n=10)


@pytest.fixture(scope="module")
def blink_dir(tmp_path_factory):
    return hub.write_blink(tmp_path_factory.mktemp("blink"), per_subtask=2)


def test_sources_name_the_hub_datasets_and_every_config():
    assert get_task("mmmu").source.repo_id == "MMMU/MMMU"
    assert get_task("mmmu").source.split == "validation"
    assert len(get_task("mmmu").source.configs) == 30 == len(set(SUBJECTS))
    assert get_task("blink").source.repo_id == "BLINK-Benchmark/BLINK"
    assert get_task("blink").source.split == "val"
    assert len(get_task("blink").source.configs) == 14 == len(set(SUBTASKS))
    assert get_task("mathvista").source.repo_id == "AI4Math/MathVista"
    assert get_task("mathvista").source.split == "testmini"


def test_mmmu_fixture_loads_all_30_subjects_with_hub_types(mmmu_dir):
    task = get_task("mmmu")
    rows = list(task.rows(path=mmmu_dir))
    assert len(rows) == 30 * 3
    assert {r["id"].rsplit("_", 1)[0].removeprefix("validation_") for r in rows} == set(SUBJECTS)
    mc = next(r for r in rows if r["question_type"] == "multiple-choice")
    assert isinstance(mc["options"], str) and mc["options"].startswith("[")  # a list literal, as on the hub
    assert isinstance(mc["image_1"], Image.Image)


def test_mmmu_items_carry_images_options_prompt_and_row(mmmu_dir):
    task = get_task("mmmu", configs=["Accounting", "Art"])
    items = task.items(path=mmmu_dir)
    assert [it.id for it in items] == [f"validation_{s}_{i}" for s in ("Accounting", "Art") for i in (1, 2, 3)]
    mc = items[0]
    assert mc.answer_type == "choice" and mc.options == ["$6", "$7", "$8", "$9"]
    assert len(mc.images) == 1 and mc.images[0].size == (64, 48)
    assert len(items[1].images) == 2
    assert "(A) $6\n(B) $7" in mc.prompt and mc.prompt.endswith("given choices directly.")
    assert "image_1" not in mc.row and mc.row["options"] == "['$6', '$7', '$8', '$9']"
    open_item = items[2]
    assert open_item.answer_type == "text" and open_item.options == [] and open_item.answer == "10"
    assert task.score_item("(B)", mc).correct is (mc.answer == "B")


def test_mmmu_unknown_subject_is_refused():
    with pytest.raises(ValueError, match="Acounting"):
        get_task("mmmu", configs=["Acounting"])


def test_mathvista_fixture_items(mathvista_dir):
    task = get_task("mathvista")
    items = task.items(path=mathvista_dir)
    assert len(items) == 10
    mc, integer, flt = items[0], items[1], items[2]
    assert mc.answer_type == "choice" and mc.options == ["3", "5", "7", "9"] and mc.answer == "5"
    assert integer.answer_type == "integer" and integer.precision is None
    assert flt.answer_type == "float" and flt.precision == 1
    assert isinstance(flt.row["precision"], float)  # the hub stores precision as a float
    assert mc.prompt.startswith("Hint:") and "(B) 5" in mc.prompt
    assert len(mc.images) == 1 and mc.images[0].mode == "RGB"
    assert task.score_item("(B) 5", mc).correct
    assert task.score_item("12", integer).correct and not task.score_item("13", integer).correct


def test_blink_fixture_items(blink_dir):
    task = get_task("blink")
    items = task.items(path=blink_dir)
    assert len(items) == 14 * 2
    first = items[0]
    assert first.id == "val_Art_Style_1" and first.answer == "(B)" and first.options == ["left", "right"]
    assert first.prompt.startswith("Which option") and "(B) right" in first.prompt
    assert len(items[1].images) == 2
    assert task.score_item("(B)", first).correct and not task.score_item("(A)", first).correct


def test_limit_stops_early(blink_dir):
    assert len(list(get_task("blink").rows(path=blink_dir, limit=3))) == 3


def test_missing_local_dataset_fails_clearly(tmp_path):
    with pytest.raises(Exception, match="empty"):
        list(get_task("mathvista").rows(path=tmp_path / "empty"))
