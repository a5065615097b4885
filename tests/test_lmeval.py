"""The lm-eval export: lm-eval scores a student exactly as the native exact-match eval does."""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

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
    assert str(tmp_path) not in text, "the task file holds no absolute path"

    utils = _load_utils(yaml_path.parent)
    rows = utils.load_test()["test"]
    assert len(rows) == len(items)
    assert any(len(it.images) == 2 for it in items)
    for doc, it in zip(rows, items, strict=True):
        assert utils.doc_to_text(doc) == "<image>" * len(it.images) + it.prompt
        assert [im.size for im in utils.doc_to_image(doc)] == [im.size for im in it.images]
        for response in (f"The answer is {it.answer}.", "(A)", "no idea"):
            got = utils.process_results(doc, [response])["acc"]
            assert got == float(task.score_item(response, it).correct), (it.id, response)


# Run by a separate interpreter in which `harness` and `rapidfuzz` cannot be imported, from another working
# directory: what a user with only lm-eval installed gets from a moved export folder.
STANDALONE = r"""
import importlib, importlib.util, json, sys
sys.modules["harness"] = None
sys.modules["rapidfuzz"] = None
request = json.load(open(sys.argv[1]))
out = {"tasks": {}, "golden": []}
for folder in request["folders"]:
    spec = importlib.util.spec_from_file_location("utils_" + str(len(out["tasks"])), folder + "/utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    docs = utils.load_test()["test"]
    out["tasks"][folder] = {d["id"]: [utils.process_results(d, [r])["acc"] for r in request["responses"][d["id"]]]
                            for d in docs}
common = importlib.import_module(utils.PACKAGE + ".common")
out["fallback_distance"] = common._fast_distance is None
for case in request["golden"]:
    result = importlib.import_module(utils.PACKAGE + "." + case["scorer"]).score(case["response"], case["row"])
    out["golden"].append([result.correct, result.method])
print(json.dumps(out))
"""
GOLDEN = Path(__file__).parent / "tasks" / "scorers" / "data"


def _responses(item) -> list[str]:
    return [f"The answer is {item.answer}.", item.answer, "(A)", "(B) is my guess", "no idea", "2.50", "[1,2,3]",
            *(f"It is {opt}" for opt in item.options)]


def test_a_moved_export_scores_like_the_harness_without_harness_or_rapidfuzz(tmp_path):
    """Every task's export, moved to another folder and run where only lm-eval's own dependencies exist, gives the
    harness scorer's decision on each response; the golden cases of the three official scorers (computed by the
    official code) come out the same through the copied scorers, whose edit distance is the standard-library one."""
    data = {"mmmu": hub.write_mmmu(tmp_path / "mmmu", per_subject=1),
            "mathvista": hub.write_mathvista(tmp_path / "mathvista", n=10),
            "blink": hub.write_blink(tmp_path / "blink", per_subtask=1), "shapes": None}
    items, folders, responses = {}, [], {}
    for name, path in data.items():
        task_items = get_task(name).items(path=path)[:40]
        yaml_path = export_task(task_items, name, "production", tmp_path / "export", max_gen_toks=64)
        moved = tmp_path / "moved" / yaml_path.parent.name
        shutil.move(str(yaml_path.parent), moved)
        folders.append(str(moved))
        items[str(moved)] = task_items
        responses |= {it.id: _responses(it) for it in task_items}
    golden = []
    for scorer in ("mmmu", "mathvista", "blink"):
        with (GOLDEN / f"{scorer}_official.jsonl").open(encoding="utf-8") as fh:
            golden += [{"scorer": scorer, "response": c["response"], "row": c["row"]}
                       for c in map(json.loads, fh) if c.get("row") is not None]
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"folders": folders, "responses": responses, "golden": golden}))
    script = tmp_path / "standalone.py"
    script.write_text(STANDALONE)
    run = subprocess.run([sys.executable, "-I", str(script), str(request)], cwd=tmp_path / "moved",
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)

    assert out["fallback_distance"], "rapidfuzz was blocked, so the copied scorer used its own edit distance"
    for folder, task_items in items.items():
        task = get_task(task_items[0].task)
        expected = {it.id: [float(task.score_item(r, it).correct) for r in responses[it.id]] for it in task_items}
        assert out["tasks"][folder] == expected, folder
        assert 0 < sum(map(sum, expected.values())) < sum(map(len, expected.values())), "both outcomes occur"
    assert len(golden) > 900
    for case, (correct, method) in zip(golden, out["golden"], strict=True):
        native = importlib.import_module(f"harness.tasks.scorers.{case['scorer']}").score(case["response"], case["row"])
        assert (correct, method) == (native.correct, native.method), case
