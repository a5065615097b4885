"""Export a task's test split as an lm-eval task, so any student checkpoint can be scored with ``lm_eval``.

What is written into ``DIR/<task name>/`` (a portable folder: every path in it is relative to it):

- ``test.parquet``: one row per test item (``datasets`` writes it, images as an ``Image()`` list column), with the
  prompt, the image count and the hub row without its images (``row_json``) that our scorer decides on;
- ``<task name>.yaml``: a ``generate_until`` task over that file (greedy, stops only at EOS, ``max_gen_toks`` from
  the protocol), so lm-eval generates what :func:`harness.stages.evaluate.evaluate` generates;
- ``ladder_scorers/``: a verbatim copy of :mod:`harness.tasks.scorers` (standard library only);
- ``utils.py``: the hooks the YAML names. ``custom_dataset`` reads ``test.parquet`` beside it; ``process_results``
  scores a response with the copied scorer, so lm-eval's ``acc`` is the native exact-match accuracy, not lm-eval's
  own parser. It imports nothing but the standard library and ``datasets`` (which lm-eval installs).

Run it with ``lm_eval --model hf-multimodal --model_args pretrained=DIR --apply_chat_template --include_path DIR
--tasks <task name>`` wherever lm-eval is installed (``pip install 'verifier-ladder[lm-eval]'`` or lm-eval alone),
or with :func:`lm_eval_accuracy`. The placeholder ``<image>`` repeated once per image, then the prompt, makes
``hf-multimodal`` build the same chat message as ours (images first, then the text).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.artifacts import atomic_write_text
from harness.tasks import Item, get_task

logger = logging.getLogger(__name__)

IMAGE_PLACEHOLDER = "<image>"  # lm-eval's DEFAULT_IMAGE_PLACEHOLDER for hf-multimodal
SCORERS_DIR = "ladder_scorers"

UTILS = '''"""lm-eval hooks written by `ladder export-lm-eval`: the harness's prompts, scored by its own scorer.

The scorer is the harness's, copied into ladder_scorers/ beside this file (standard library only), so this folder
needs lm-eval and nothing of the harness. Paths are relative to this file: the folder can be moved or shared.
"""
import importlib
import importlib.util
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
SCORER = {scorer!r}
PACKAGE = {package!r}  # unique per exported task, so two exports loaded together keep their own copies


def _scorer():
    if PACKAGE not in sys.modules:
        folder = HERE / "ladder_scorers"
        spec = importlib.util.spec_from_file_location(PACKAGE, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(PACKAGE + "." + SCORER)


def load_test(**_metadata):
    import datasets

    return datasets.load_dataset("parquet", data_files={{"test": str(HERE / "test.parquet")}})


def doc_to_text(doc):
    return "<image>" * doc["n_images"] + doc["prompt"]


def doc_to_image(doc):
    return [img.convert("RGB") for img in doc["images"]]


def process_results(doc, results):
    score = _scorer().score(results[0], json.loads(doc["row_json"]))
    return {{"acc": float(score.correct)}}
'''


def lm_eval_task_name(task: str, profile: str) -> str:
    return f"ladder_{task}_{profile}".replace("-", "_").replace(".", "_")


def _yaml(name: str, max_gen_toks: int) -> str:
    config = {
        "task": name,
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_target": "answer",
        "generation_kwargs": {"until": [], "do_sample": False, "max_gen_toks": max_gen_toks},
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0},
    }
    hooks = ("custom_dataset: !function utils.load_test\ndoc_to_text: !function utils.doc_to_text\n"
             "doc_to_image: !function utils.doc_to_image\nprocess_results: !function utils.process_results\n")
    # The `!function` tags are lm-eval's own YAML extension, so they are appended as text.
    return _dump_yaml(config) + hooks


def _dump_yaml(config: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False)


def _copy_scorers(folder: Path) -> None:
    """Copy :mod:`harness.tasks.scorers` (its ``.py`` files) into ``folder/ladder_scorers``."""
    from harness.tasks import scorers

    source = Path(scorers.__file__).parent
    target = folder / SCORERS_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    for path in sorted(source.glob("*.py")):
        shutil.copyfile(path, target / path.name)


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
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(folder / "test.parquet"))
    _copy_scorers(folder)
    atomic_write_text(folder / "utils.py", UTILS.format(scorer=get_task(task).scorer, package=f"{name}_scorers"))
    yaml_path = folder / f"{name}.yaml"
    atomic_write_text(yaml_path, _yaml(name, max_gen_toks))
    logger.info("wrote lm-eval task %s (%d items) to %s", name, len(items), folder)
    return yaml_path


def lm_eval_accuracy(pretrained: str | Path, include_path: Path, task_name: str, device: str = "cpu",
                     dtype: str = "float32", batch_size: int = 1) -> tuple[float, list[dict]]:
    """Run lm-eval's ``hf-multimodal`` on an exported task; returns (acc, per-sample logs).

    Imports :mod:`harness.models.processing` first: on hosts without torchvision it registers the image-only
    Qwen processors, without which ``AutoProcessor`` returns only a tokenizer (see FACTS).
    """
    try:
        from lm_eval import simple_evaluate
        from lm_eval.tasks import TaskManager
    except ImportError as err:
        raise ImportError("lm-eval is an extra: pip install 'verifier-ladder[lm-eval]'") from err

    import harness.models.processing  # noqa: F401  (processor registration)

    out = simple_evaluate(
        model="hf-multimodal",
        model_args={"pretrained": str(pretrained), "dtype": dtype, "device": device},
        tasks=[task_name], task_manager=TaskManager(include_path=str(include_path)),
        apply_chat_template=True, batch_size=batch_size, log_samples=True, num_fewshot=0,
    )
    return float(out["results"][task_name]["acc,none"]), out["samples"][task_name]
