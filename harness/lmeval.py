"""Export a task's test split as an lm-eval task, so any student checkpoint can be scored with ``lm_eval``.

What is written into ``DIR/<task name>/``:

- ``test.parquet``: one row per test item (``datasets`` writes it, images as an ``Image()`` list column), with the
  prompt, the image count and the hub row without its images (``row_json``) that our scorer decides on;
- ``<task name>.yaml``: a ``generate_until`` task over that file (greedy, stops only at EOS, ``max_gen_toks`` from
  the protocol), so lm-eval generates what :func:`harness.stages.evaluate.evaluate` generates;
- ``utils.py``: the three hooks the YAML names. ``process_results`` scores a response with the task's own scorer
  (``harness.tasks``), so lm-eval's ``acc`` is the native exact-match accuracy, not lm-eval's own parser.

Run it with ``lm_eval --model hf-multimodal --model_args pretrained=DIR --apply_chat_template --include_path DIR
--tasks <task name>`` in an environment where ``harness`` is importable, or with :func:`lm_eval_accuracy`.
The placeholder ``<image>`` repeated once per image, then the prompt, makes ``hf-multimodal`` build the same chat
message as ours (images first, then the text).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.artifacts import atomic_write_text
from harness.tasks import Item

logger = logging.getLogger(__name__)

IMAGE_PLACEHOLDER = "<image>"  # lm-eval's DEFAULT_IMAGE_PLACEHOLDER for hf-multimodal

UTILS = '''"""lm-eval hooks written by `ladder export-lm-eval`: the harness's prompts, scored by its scorer."""
import json

from harness.tasks import get_task


def doc_to_text(doc):
    return "<image>" * doc["n_images"] + doc["prompt"]


def doc_to_image(doc):
    return [img.convert("RGB") for img in doc["images"]]


def process_results(doc, results):
    score = get_task(doc["task"]).score(results[0], json.loads(doc["row_json"]))
    return {"acc": float(score.correct)}
'''


def lm_eval_task_name(task: str, profile: str) -> str:
    return f"ladder_{task}_{profile}".replace("-", "_").replace(".", "_")


def _yaml(name: str, data_file: Path, max_gen_toks: int) -> str:
    config = {
        "task": name,
        "dataset_path": "parquet",
        "dataset_kwargs": {"data_files": {"test": str(data_file.resolve())}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_target": "answer",
        "generation_kwargs": {"until": [], "do_sample": False, "max_gen_toks": max_gen_toks},
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0},
    }
    hooks = "doc_to_text: !function utils.doc_to_text\ndoc_to_image: !function utils.doc_to_image\n" \
            "process_results: !function utils.process_results\n"
    # The three `!function` tags are lm-eval's own YAML extension, so they are appended as text.
    return _dump_yaml(config) + hooks


def _dump_yaml(config: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False)


def export_task(items: Sequence[Item], task: str, profile: str, out_dir: Path, max_gen_toks: int) -> Path:
    """Write the lm-eval task for ``items`` (a test split) under ``out_dir``; returns the YAML path."""
    import datasets

    name = lm_eval_task_name(task, profile)
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    features = datasets.Features({
        "id": datasets.Value("string"), "task": datasets.Value("string"), "prompt": datasets.Value("string"),
        "n_images": datasets.Value("int32"), "images": datasets.Sequence(datasets.Image()),
        "answer": datasets.Value("string"), "row_json": datasets.Value("string"),
    })
    rows = {"id": [], "task": [], "prompt": [], "n_images": [], "images": [], "answer": [], "row_json": []}
    for it in items:
        rows["id"].append(it.id)
        rows["task"].append(task)
        rows["prompt"].append(it.prompt)
        rows["n_images"].append(len(it.images))
        rows["images"].append(list(it.images))
        rows["answer"].append(it.answer)
        rows["row_json"].append(json.dumps(it.row, default=str))
    data_file = folder / "test.parquet"
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(data_file))
    atomic_write_text(folder / "utils.py", UTILS)
    yaml_path = folder / f"{name}.yaml"
    atomic_write_text(yaml_path, _yaml(name, data_file, max_gen_toks))
    logger.info("wrote lm-eval task %s (%d items) to %s", name, len(items), folder)
    return yaml_path


def lm_eval_accuracy(pretrained: str | Path, include_path: Path, task_name: str, device: str = "cpu",
                     dtype: str = "float32", batch_size: int = 1) -> tuple[float, list[dict]]:
    """Run lm-eval's ``hf-multimodal`` on an exported task; returns (acc, per-sample logs).

    Imports :mod:`harness.models.processing` first: on hosts without torchvision it registers the image-only
    Qwen processors, without which ``AutoProcessor`` returns only a tokenizer (see FACTS).
    """
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    import harness.models.processing  # noqa: F401  (processor registration)

    out = simple_evaluate(
        model="hf-multimodal",
        model_args={"pretrained": str(pretrained), "dtype": dtype, "device": device},
        tasks=[task_name], task_manager=TaskManager(include_path=str(include_path)),
        apply_chat_template=True, batch_size=batch_size, log_samples=True, num_fewshot=0,
    )
    return float(out["results"][task_name]["acc,none"]), out["samples"][task_name]
