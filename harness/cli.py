"""The ``ladder`` command line."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="Verifier Ladder: benchmark verifiers for verifier-driven self-DPO of VLMs.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_path=False)])
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


@app.command("tasks")
def tasks_cmd() -> None:
    """List the registered tasks and where their data comes from."""
    from harness.tasks import TASKS, get_task

    table = Table("task", "hub id", "revision", "split", "configs", "audit / test share")
    for name in TASKS.names():
        task = get_task(name)
        src = task.source
        spec = task.split_spec
        table.add_row(name, src.repo_id if src else "(generated)", src.revision if src else "-",
                      src.split if src else "-", str(len(src.configs) or 1) if src else "-",
                      f"{spec.audit_size} / {spec.test_fraction:.0%}")
    console.print(table)


@app.command("tiny")
def tiny_cmd(
    family: Annotated[str, typer.Argument(help="qwen2_5_vl or qwen3_vl")],
    out: Annotated[Path, typer.Option(help="Folder to save the model and processor to.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
) -> None:
    """Build a tiny Qwen VL model (real architecture classes, random weights) and save it."""
    from harness.models.tiny import TinySpec, save_tiny

    save_tiny(TinySpec(family=family, seed=seed), out)
    console.print(f"saved tiny {family} to {out}")


@app.command("eval")
def eval_cmd(
    task_name: Annotated[str, typer.Argument(metavar="TASK")],
    model: Annotated[str, typer.Option(help="Local model folder, or a hub id with --revision.")],
    revision: Annotated[str | None, typer.Option(help="Hub revision (for a hub id).")] = None,
    data: Annotated[Path | None, typer.Option(help="Local copy of the dataset in the hub layout.")] = None,
    split: Annotated[str, typer.Option(help="audit, train or test.")] = "test",
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N items of the split.")] = None,
) -> None:
    """Greedy exact-match accuracy of a model on a task split (scored by the task's scorer)."""
    from harness.models.loading import ModelRef, load_vlm
    from harness.stages.evaluate import evaluate
    from harness.tasks import get_task

    ref = ModelRef(path=Path(model)) if Path(model).exists() else ModelRef(hub_id=model, revision=revision)
    task = get_task(task_name)
    items = task.items(path=data)
    ids = set(task.splits([it.id for it in items])[split][:limit])
    chosen = [it for it in items if it.id in ids]
    m, p = load_vlm(ref)
    with _progress() as progress:
        result = evaluate(m, p, task, chosen, progress=progress)
    console.print(f"{task_name} {split}: accuracy {result.accuracy}")


@app.command("demo")
def demo_cmd(
    limit: Annotated[int, typer.Option(help="Test items evaluated per student.")] = 200,
) -> None:
    """Run the most complete end-to-end path on CPU: tiny students answer shapes, scored exactly."""
    from harness.models.loading import ModelRef, load_vlm
    from harness.models.tiny import TinySpec, ensure_tiny
    from harness.settings import get_settings
    from harness.stages.evaluate import evaluate
    from harness.tasks import get_task

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = get_settings()
    task = get_task("shapes")
    items = task.items()
    split = task.splits([it.id for it in items])
    console.print(f"shapes: {len(items)} items -> audit {len(split['audit'])}, train {len(split['train'])}, "
                  f"test {len(split['test'])}")
    test_ids = set(split["test"][:limit])
    test = [it for it in items if it.id in test_ids]
    table = Table("student", "architecture", "n", "accuracy", "95% CI", "unparsed")
    with _progress() as progress:
        for family in ("qwen3_vl", "qwen2_5_vl"):
            folder = ensure_tiny(TinySpec(family=family), settings.tiny_models_dir)
            model, processor = load_vlm(ModelRef(path=folder))
            res = evaluate(model, processor, task, test, progress=progress)
            unparsed = sum(p.parsed is None for p in res.predictions)
            acc = res.accuracy
            table.add_row(f"tiny-{family} (untrained)", type(model).__name__, str(acc.n), f"{acc.value:.3f}",
                          f"[{acc.ci_low:.3f}, {acc.ci_high:.3f}]", str(unparsed))
    console.print(table)
    console.print("Untrained tiny students answer at random or not at all; later stages train them.")


if __name__ == "__main__":
    app()
