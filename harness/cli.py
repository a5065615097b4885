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
    ladder: Annotated[Path, typer.Option(help="Folder of demo verifier manifests.")] = Path("submissions/demo"),
) -> None:
    """The most complete end-to-end path on CPU: warm up the two tiny students on `shapes`, then
    audit every demo verifier (stage 1) and print each one's rubric accuracy and gate verdicts."""
    from rich.markup import escape

    from harness.protocol import get_protocol
    from harness.settings import get_settings
    from harness.stages.audit import run_audit
    from harness.submission import load_manifest

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = get_settings()
    protocol = get_protocol("demo")
    manifests = sorted(ladder.glob("*.yaml"))
    if not manifests:
        console.print(f"[red]no manifests in {ladder}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT)
    results = []
    with _progress() as progress:
        for path in manifests:
            results.append(run_audit(load_manifest(path), protocol, "shapes", settings, progress=progress))
    students = [s.name for s in protocol.students]
    table = Table("verifier", "rubric accuracy [95% CI]", "n", *[f"gate {s}" for s in students],
                  "gated pair direction", "judgments", title="Demo ladder on shapes: stage 1, rubric audit")
    for r in sorted(results, key=lambda r: -r.metrics.rubric_accuracy.value):
        ra, pairs = r.metrics.rubric_accuracy, r.metrics.pairs_gated.direction
        gates = [next(f"{g.verdict} (baseline {g.baseline.value:.3f})" for g in r.gate if g.student == s)
                 for s in students]
        table.add_row(escape(r.verifier.name) + (" [simulated]" if r.verifier.simulated else ""),
                      f"{ra.value:.3f} [{ra.ci_low:.3f}, {ra.ci_high:.3f}]", str(ra.n), *gates,
                      f"{pairs.value:.3f} (n={pairs.n})", str(r.cost.judgments))
    console.print(table)
    console.print("Below the baseline, the paper's rule says: do not run self-DPO with that verifier. "
                  f"Per-judgment artifacts are under {escape(str(settings.data_dir / 'artifacts'))}.")


EXIT_BAD_INPUT = 2
EXIT_BLOCKED = 3
EXIT_INTERRUPTED = 130


@app.command("audit")
def audit_cmd(
    submission: Annotated[Path, typer.Argument(help="The verifier's manifest (YAML).")],
    task_name: Annotated[str, typer.Option("--task", help="Target task, e.g. mmmu.")],
    profile: Annotated[str, typer.Option(help="Protocol profile: production or demo.")] = "production",
    data: Annotated[Path | None, typer.Option(help="Local copy of the task's dataset in the hub layout.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
    fail_on_block: Annotated[bool, typer.Option(
        help=f"Exit with code {EXIT_BLOCKED} when the gate blocks any student (for a verifier team's CI).")] = False,
) -> None:
    """Stage 1: the rubric audit of one verifier on one task, with the gate verdict per student.

    Exit codes: 0 done; 2 bad input (manifest, task, profile); 3 gate blocks a student (only with
    --fail-on-block); 130 interrupted (nothing partial is written).
    """
    import json

    from harness.protocol import get_protocol
    from harness.registry import UnknownNameError
    from harness.settings import get_settings
    from harness.stages.audit import run_audit
    from harness.submission import ManifestError, load_manifest

    try:
        manifest = load_manifest(submission)
        protocol = get_protocol(profile)
        if task_name not in protocol.tasks:
            raise ValueError(f"task {task_name!r} is not in protocol profile {profile!r} (tasks: "
                             f"{', '.join(protocol.tasks)})")
    except (ManifestError, UnknownNameError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", markup=True, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    settings = get_settings()
    try:
        with _progress() as progress:
            if as_json:
                progress.stop()
                progress.disable = True
            result = run_audit(manifest, protocol, task_name, settings, data_path=data,
                               progress=None if as_json else progress)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: nothing partial was written; run again to resume.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2, default=str))
    else:
        _print_audit(result)
    if fail_on_block and result.blocked:
        raise typer.Exit(EXIT_BLOCKED)


def _print_audit(result) -> None:
    from rich.markup import escape

    m = result.metrics
    v = result.verifier
    badge = " [simulated]" if v.simulated else ""
    table = Table(title=escape(f"Rubric audit: {v.name} {v.release}{badge} on {result.task}"))
    table.add_column("metric")
    table.add_column("value")

    def ci(p):
        return f"{p.value:.3f} [{p.ci_low:.3f}, {p.ci_high:.3f}] (n={p.n})"

    def num(x):
        return "n/a" if x is None else f"{x:.3f}"

    rows = [
        ("rubric accuracy", ci(m.rubric_accuracy)), ("agreement, all candidates", ci(m.agreement_all)),
        ("balanced accuracy", num(m.balanced_accuracy)), ("TPR", ci(m.tpr)), ("TNR", ci(m.tnr)),
        ("AUROC", num(m.auroc)), ("ECE", num(m.ece)), ("parse failures", ci(m.parse_failures)),
        ("pair direction accuracy", ci(m.pairs_all.direction)),
        (f"gated pair direction (margin >= {m.gate_tau})", ci(m.pairs_gated.direction)),
        ("margin-weighted direction", num(m.pairs_gated.margin_weighted)),
        ("cost", _cost_line(result.cost)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for g in result.gate:
        style = "green" if g.verdict == "above" else "red"
        console.print(f"[{style}]{escape(g.sentence())}[/{style}]")
    console.print(f"per-judgment verdicts: {escape(result.verdicts_path)}")


def _cost_line(cost) -> str:
    usd = "n/a" if cost.usd is None else f"${cost.usd:.4f}"
    extra = f" ({cost.note})" if cost.note else ""
    return (f"{cost.judgments} judgments, {cost.wall_seconds:.1f} s wall, {cost.device_seconds:.1f} s on "
            f"{cost.device}, {cost.input_tokens}+{cost.output_tokens} tokens, {usd}{extra}")


if __name__ == "__main__":
    app()
