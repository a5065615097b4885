"""The ``ladder`` command line."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
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
    profile: Annotated[str, typer.Option(help="Protocol profile.")] = "demo",
) -> None:
    """The whole protocol on CPU: warm up two tiny students on `shapes`, then audit, self-DPO and
    evaluate every demo verifier, and print the per-task table."""
    from rich.markup import escape

    from harness.protocol import get_protocol
    from harness.runner import run_protocol
    from harness.settings import get_settings
    from harness.submission import load_manifest

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = get_settings()
    protocol = get_protocol(profile)
    manifests = sorted(ladder.glob("*.yaml"))
    if not manifests:
        console.print(f"[red]no manifests in {escape(str(ladder))}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT)
    with _progress() as progress:
        results = [run_protocol(load_manifest(p), protocol, settings, progress=progress) for p in manifests]
    print_run_table(results)
    console.print("Gate: below the frozen baseline, the paper's rule says not to run self-DPO with that verifier. "
                  f"Results and artifacts: {escape(str(settings.data_dir))}.")


EXIT_BAD_INPUT = 2
EXIT_BLOCKED = 3
EXIT_INTERRUPTED = 130


def _bad_input(message: str):
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def _load_inputs(submission: Path, profile: str):
    """The validated manifest and protocol, or exit 2 with the reason."""
    from harness.protocol import get_protocol
    from harness.registry import UnknownNameError
    from harness.submission import ManifestError, load_manifest

    try:
        return load_manifest(submission), get_protocol(profile)
    except (ManifestError, UnknownNameError, ValueError) as err:
        _bad_input(str(err))


def _with_progress(quiet: bool, work, on_interrupt: str):
    """Run ``work(progress)`` with a progress display (none when ``quiet``); Ctrl-C exits 130."""
    try:
        if quiet:
            return work(None)
        with _progress() as progress:
            return work(progress)
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/yellow]: {on_interrupt}")
        raise typer.Exit(EXIT_INTERRUPTED) from None


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

    from harness.settings import get_settings
    from harness.stages.audit import run_audit

    manifest, protocol = _load_inputs(submission, profile)
    if task_name not in protocol.tasks:
        _bad_input(f"task {task_name!r} is not in protocol profile {profile!r} (tasks: {', '.join(protocol.tasks)})")
    settings = get_settings()
    result = _with_progress(as_json, lambda progress: run_audit(manifest, protocol, task_name, settings,
                                                                 data_path=data, progress=progress),
                            "nothing partial was written; run again to resume.")
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


@app.command("run")
def run_cmd(
    submission: Annotated[Path, typer.Argument(help="The verifier's manifest (YAML).")],
    profile: Annotated[str, typer.Option(help="Protocol profile: production or demo.")] = "production",
    data: Annotated[Path | None, typer.Option(help="Local copy of the task's dataset in the hub layout.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (stages, counts) and exit.")] = False,
) -> None:
    """The whole protocol for one submission: audit, self-DPO of both students, exact-match eval.

    Finished stages are kept under $LADDER_DATA_DIR/runs/: run the same command again after an
    interruption and it resumes from the last finished stage. Exit codes as for `ladder audit`;
    1 when a stage failed (the reason is in the result).
    """
    import json

    from harness.runner import plan, run_protocol
    from harness.settings import get_settings

    manifest, protocol = _load_inputs(submission, profile)
    if dry_run:
        typer.echo(json.dumps(plan(manifest, protocol), indent=2) if as_json else _plan_text(plan(manifest, protocol)))
        return
    settings = get_settings()
    result = _with_progress(as_json, lambda progress: run_protocol(manifest, protocol, settings, data_path=data,
                                                                    progress=progress),
                            "finished stages are kept; run again to resume.")
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2, default=str))
    else:
        print_run_table([result])
    if result.status != "succeeded":
        raise typer.Exit(1)


def _plan_text(p: dict) -> str:
    lines = [f"plan for {p['verifier']} under protocol {p['protocol']} ({p['profile']}):"]
    for t in p["tasks"]:
        lines.append(f"  {t['task']}: audit {t['audit_items']} items x {t['k']} candidates x {t['students']} "
                     f"students = {t['audit_judgments']} judgments; self-DPO {t['selfdpo_rounds']} rounds x "
                     f"{t['selfdpo_prompts']} prompts x {t['k_train']} = {t['selfdpo_judgments']} judgments per "
                     f"student; eval {t['test_items']} test items per student, before and after")
    lines.append(f"  GPU-hours: {p['gpu_hours']}")
    return "\n".join(lines)


def print_run_table(results) -> None:
    """The per-task table: verifier, rubric accuracy, gate, each student's delta, silent regression, cost."""
    from rich.markup import escape

    for task in sorted({t.task for r in results for t in r.tasks}):
        rows = [(r, t) for r in results for t in r.tasks if t.task == task]
        students = [s.student for s in rows[0][1].students]
        table = Table("verifier", "rubric acc [95% CI] (n)", *[f"{s}: gate, delta [95% CI] (n)" for s in students],
                      "silent regression", "judgments", title=f"{task}: verifiers ranked by rubric accuracy")
        for _, t in sorted(rows, key=lambda rt: -rt[1].audit.metrics.rubric_accuracy.value):
            ra = t.audit.metrics.rubric_accuracy
            cells = []
            for s in t.students:
                gate = next(g.verdict for g in t.audit.gate if g.student == s.student)
                if s.delta is None:
                    cells.append(f"{gate}; failed: {escape(s.failure or '')}")
                else:
                    d = s.delta
                    cells.append(f"{gate}; {d.before:.3f}->{d.after:.3f} {100 * d.delta:+.1f} pts "
                                 f"[{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}] (n={d.n})")
            silent = ", ".join(s.student for s in t.students if s.silent_regression) or "-"
            judgments = t.audit.cost.judgments + sum(s.selfdpo.judgments for s in t.students if s.selfdpo)
            name = escape(t.audit.verifier.name) + (" [simulated]" if t.audit.verifier.simulated else "")
            table.add_row(name, f"{ra.value:.3f} [{ra.ci_low:.3f}, {ra.ci_high:.3f}] ({ra.n})", *cells, silent,
                          str(judgments))
        console.print(table)


def _cost_line(cost) -> str:
    usd = "n/a" if cost.usd is None else f"${cost.usd:.4f}"
    extra = f" ({cost.note})" if cost.note else ""
    return (f"{cost.judgments} judgments, {cost.wall_seconds:.1f} s wall, {cost.device_seconds:.1f} s on "
            f"{cost.device}, {cost.input_tokens}+{cost.output_tokens} tokens, {usd}{extra}")


if __name__ == "__main__":
    app()
