"""The lm-eval export: lm-eval scores a student exactly as the native exact-match eval does."""

from __future__ import annotations

import importlib.util

import pytest

from harness.lmeval import export_task, lm_eval_accuracy, lm_eval_task_name
from harness.tasks import get_task
from tests.fixtures import hub


def _load_utils(folder):
    spec = importlib.util.spec_from_file_location("exported_utils", folder / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_lm_eval_accuracy_equals_native_eval_on_a_tiny_student(demo_data_dir, tmp_path):
    from harness.config import EvalConfig, get_protocol
    from harness.models.loading import load_vlm
    from harness.stages.common import protocol_splits
    from harness.stages.evaluate import evaluate
    from harness.stages.students import resolve_student

    protocol = get_protocol("demo")
    task = get_task("shapes")
    test = protocol_splits(task, task.items(), protocol)["test"][:48]
    ref = resolve_student(protocol.students[0], demo_data_dir, protocol.split_seed)
    model, processor = load_vlm(ref, device="cpu", dtype="float32")
    native = evaluate(model, processor, task, test, EvalConfig(max_new_tokens=protocol.eval_max_new_tokens))

    export_task(test, "shapes", "demo", tmp_path, max_gen_toks=protocol.eval_max_new_tokens)
    name = lm_eval_task_name("shapes", "demo")
    acc, samples = lm_eval_accuracy(ref.path, tmp_path, name)

    assert 0 < native.accuracy.value < 1, "a warmed-up student is neither always right nor always wrong"
    assert acc == pytest.approx(native.accuracy.value)
    by_id = {s["doc"]["id"]: s for s in samples}
    assert set(by_id) == {it.id for it in test}
    for pred in native.predictions:
        assert by_id[pred.item_id]["acc"] == float(pred.correct), pred
        assert by_id[pred.item_id]["filtered_resps"][0].strip() == pred.response.strip()


def test_export_keeps_every_image_and_scores_with_the_task_scorer(tmp_path):
    task = get_task("mmmu")
    items = task.items(path=hub.write_mmmu(tmp_path / "hub", per_subject=2))
    yaml_path = export_task(items, "mmmu", "production", tmp_path / "out", max_gen_toks=512)
    text = yaml_path.read_text()
    assert "output_type: generate_until" in text and "max_gen_toks: 512" in text
    assert "process_results: !function utils.process_results" in text

    import datasets

    rows = datasets.load_dataset("parquet", data_files=str(yaml_path.parent / "test.parquet"), split="train")
    utils = _load_utils(yaml_path.parent)
    assert len(rows) == len(items)
    assert any(len(it.images) == 2 for it in items)
    for doc, it in zip(rows, items, strict=True):
        assert utils.doc_to_text(doc) == "<image>" * len(it.images) + it.prompt
        assert [im.size for im in utils.doc_to_image(doc)] == [im.size for im in it.images]
        for response in (f"The answer is {it.answer}.", "(A)", "no idea"):
            got = utils.process_results(doc, [response])["acc"]
            assert got == float(task.score_item(response, it).correct), (it.id, response)
