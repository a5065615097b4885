"""Protocol runs on this machine: `tasks`, `tiny`, `eval`, `export-lm-eval`, `demo`, `audit`, `run`, `fetch`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_BLOCKED,
    AllowLocalEndpoints,
    DataOpt,
    JsonFlag,
    ManifestArg,
    OutputOpt,
    ProfileOpt,
    TasksOpt,
    app,
    bad_input,
    check_egress,
    console,
    echo_json,
    engine,
    load_inputs,
    masked,
    permit_local_endpoints,
    progress_bar,
    split_names,
    with_progress,
)
from harness.cli.outputs import write_outputs
from harness.cli.printing import findings_json, plan_text, print_audit, print_findings, print_run_table
from harness.cli.recording import Limit, NoStore, audit_record, keep_result, record_runs, store_result

PANEL = "Protocol runs on this machine"


@app.command("tasks", rich_help_panel=PANEL)
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


@app.command("tiny", rich_help_panel=PANEL)
def tiny_cmd(
    family: Annotated[str, typer.Argument(help="qwen2_5_vl or qwen3_vl")],
    out: Annotated[Path, typer.Option(help="Folder to save the model and processor to.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
) -> None:
    """Build a tiny Qwen VL model (real architecture classes, random weights) and save it."""
    from pydantic import ValidationError

    from harness.config import TinySpec
    from harness.models.tiny import save_tiny

    try:
        spec = TinySpec(family=family, seed=seed)
    except ValidationError:
        bad_input(f"unknown family {family!r}; known: qwen2_5_vl, qwen3_vl")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        bad_input(f"{out} exists and is not empty; give a new folder")
    save_tiny(spec, out)
    console.print(f"saved tiny {family} to {out}")


@app.command("eval", rich_help_panel=PANEL)
def eval_cmd(
    task_name: Annotated[str, typer.Argument(metavar="TASK")],
    model: Annotated[str, typer.Option(help="Local model folder, or a hub id with --revision.")],
    revision: Annotated[str | None, typer.Option(help="Hub revision (for a hub id).")] = None,
    data: DataOpt = None,
    split: Annotated[str, typer.Option(help="audit, train or test.")] = "test",
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N items of the split.")] = None,
) -> None:
    """Greedy exact-match accuracy of a model on a task split (scored by the task's scorer)."""
    from harness.models.loading import load_vlm
    from harness.stages.evaluate import evaluate

    task, ref = _eval_inputs(task_name, model, revision, split)
    items = with_progress(True, lambda _: task.items(path=data), "nothing was evaluated.")
    ids = set(task.splits([it.id for it in items])[split][:limit])
    chosen = [it for it in items if it.id in ids]
    m, p = with_progress(True, lambda _: load_vlm(ref), "nothing was evaluated.")
    result = with_progress(False, lambda progress: evaluate(m, p, task, chosen, progress=progress),
                           "nothing was evaluated.")
    console.print(f"{task_name} {split}: accuracy {result.accuracy}")


def _eval_inputs(task_name: str, model: str, revision: str | None, split: str):
    """The task and model reference `ladder eval` was given, or exit 2 naming what is wrong."""
    from pydantic import ValidationError

    from harness.config import ModelRef
    from harness.registry import UnknownNameError
    from harness.tasks import get_task

    if split not in ("audit", "train", "test"):
        bad_input(f"--split must be audit, train or test, got {split!r}")
    try:
        task = get_task(task_name)
        if Path(model).exists():
            return task, ModelRef(path=Path(model))
        if revision is None:
            bad_input(f"{model!r} is neither a local model folder nor a hub id with --revision")
        return task, ModelRef(hub_id=model, revision=revision)
    except UnknownNameError as err:
        bad_input(str(err).splitlines()[0])
    except ValidationError:
        bad_input(f"{model!r} is neither a local model folder nor a hub id 'owner/name' with --revision")


@app.command("export-lm-eval", rich_help_panel=PANEL)
def export_lm_eval_cmd(
    out: Annotated[Path, typer.Argument(help="Include path to write the lm-eval tasks under.")],
    profile: ProfileOpt = "production",
    data: DataOpt = None,
) -> None:
    """Write each task's test split as an lm-eval task (scored by a copy of our scorer, so the folder needs only
    lm-eval, and can be moved), for `lm_eval --include_path OUT`."""
    from harness.config import get_protocol
    from harness.lmeval import export_task
    from harness.registry import UnknownNameError
    from harness.stages.common import protocol_splits
    from harness.tasks import get_task

    try:
        protocol = get_protocol(profile)
    except (UnknownNameError, ValueError) as err:
        bad_input(str(err).splitlines()[0])
    for name in protocol.tasks:
        task = get_task(name)
        items = with_progress(True, lambda _, task=task: task.items(path=data), "nothing more was exported.")
        test = protocol_splits(task, items, protocol)["test"]
        path = export_task(test, name, protocol.profile, out, max_gen_toks=protocol.eval_max_new_tokens)
        console.print(f"{escape(name)}: {len(test)} test items -> {escape(str(path))}")
    console.print(f"run (pip install 'verifier-ladder[lm-eval]' or lm-eval alone): lm_eval --model hf-multimodal "
                  f"--model_args pretrained=MODEL --apply_chat_template --include_path {escape(str(out))} "
                  "--tasks <name>")


@app.command("demo", rich_help_panel=PANEL)
def demo_cmd(
    ladder: Annotated[Path, typer.Option(help="Folder of demo verifier manifests.")] = Path("submissions/demo"),
    profile: Annotated[str, typer.Option(help="Protocol profile.")] = "demo",
    jobs: Annotated[int | None, typer.Option(min=1, help="Self-DPO seed runs (and student warm-ups) at once, one "
                                                        "process each (default: one per CPU core).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document (every run's summary and the "
                                                         "findings) instead of tables.", metavar="")] = False,
) -> None:
    """The whole protocol on CPU: warm up two tiny students on `shapes`, then audit, self-DPO (every training
    seed) and evaluate every demo verifier, and print the per-task table and whether the findings hold."""
    import time

    from harness.config import get_protocol
    from harness.runner import run_protocol
    from harness.settings import get_settings
    from harness.stages.audit import run_audit
    from harness.stages.kind_rungs import kind_rungs
    from harness.stages.students import resolve_students
    from harness.submission import load_manifest

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    settings = get_settings()
    protocol = get_protocol(profile)
    manifests = sorted(ladder.glob("*.yaml"))
    if not manifests:
        console.print(f"[red]no manifests in {escape(str(ladder))}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT)
    loaded = [load_manifest(p) for p in manifests]
    jobs = jobs or os.cpu_count() or 1

    def work(progress):
        resolve_students(protocol.students, settings.data_dir, protocol.split_seed, jobs=jobs)
        runs = [run_protocol(m, protocol, settings, progress=progress, jobs=jobs) for m in loaded]
        # The other verifier kinds, audited only (harness.stages.kind_rungs): a tiny reward model and a tiny
        # log-probability judge, on the task the demo verifiers ran on.
        rungs = kind_rungs(protocol, settings) if "shapes" in protocol.tasks else []
        return runs, [(m, run_audit(m, protocol, "shapes", settings, progress=progress)) for m in rungs]

    results, audits = with_progress(as_json, work, "finished stages are kept; run again to resume.")
    ids = record_runs(engine(), loaded, protocol, results, settings)
    audit_ids = [store_result(m, protocol, audit_record(m, protocol, a), settings) for m, a in audits]
    if as_json:
        echo_json({"profile": protocol.profile, "protocol_digest": protocol.digest(), "jobs": jobs,
                   "wall_seconds": round(time.perf_counter() - t0, 1), "submissions": ids,
                   "findings": findings_json(results), "runs": [r.summary() for r in results],
                   "audit_only": [{**a.summary(), "submission_id": sid}
                                  for (_, a), sid in zip(audits, audit_ids, strict=True)]})
        return
    print_run_table(results)
    print_findings(results)
    for m, a in audits:
        mt = a.metrics
        console.print(f"Audit only, {escape(m.name)} ({m.backend}, {m.judging_mode}): rubric accuracy "
                      f"{mt.rubric_accuracy.value:.3f} (n={mt.rubric_accuracy.n}), AUROC "
                      f"{'n/a' if mt.auroc is None else f'{mt.auroc:.2f}'}, "
                      f"gate {', '.join(g.verdict for g in a.gate)}: untrained as a verifier, it shows the kind's "
                      "path to the leaderboard.", highlight=False)
    ids += [i for i in audit_ids if i is not None]
    console.print("Gate: below the frozen baseline, the paper's rule says not to run self-DPO with that verifier. "
                  f"Results and artifacts: {escape(str(settings.data_dir))}.")
    console.print(f"Stored as submissions {', '.join(map(str, ids))} in {escape(masked(settings.database))}. "
                  "See the leaderboard: [bold]ladder serve[/bold] (or [bold]make serve[/bold]), then open "
                  f"http://127.0.0.1:8000/ (demo took {time.perf_counter() - t0:.0f} s).", highlight=False)


@app.command("audit", rich_help_panel=PANEL)
def audit_cmd(
    submission: ManifestArg,
    task_name: Annotated[str, typer.Option("--task", help="Target task, e.g. mmmu.")],
    profile: ProfileOpt = "production",
    data: DataOpt = None,
    as_json: JsonFlag = False,
    fail_on_block: Annotated[bool, typer.Option(
        help=f"Exit with code {EXIT_BLOCKED} when the gate blocks any student (for a verifier team's CI).",
        metavar="")] = False,
    allow_local_endpoints: AllowLocalEndpoints = False,
    output: OutputOpt = None,
    pack: Annotated[str | None, typer.Option(help="Audit from this audit pack (a folder, or a hub dataset "
                                                  "owner/name@revision): no student is loaded.")] = None,
    no_store: NoStore = False,
    limit: Limit = None,
) -> None:
    """Stage 1: the rubric audit of one verifier on one task, with the gate verdict per student.

    The result is recorded in the results store as an audit-only submission (--no-store to skip): the
    leaderboard ranks it by rubric accuracy like any other, its deltas shown as not run, until the whole
    run of the same submission replaces it.
    Exit codes: 0 done; 2 bad input (manifest, task, profile, pack); 3 gate blocks a student (only with
    --fail-on-block); 130 interrupted (nothing partial is written).
    """

    from harness.settings import get_settings
    from harness.stages.audit import run_audit

    permit_local_endpoints(allow_local_endpoints)
    manifest, protocol = load_inputs(submission, profile)
    protocol = protocol.limited(limit)
    check_egress(manifest)
    if task_name not in protocol.tasks:
        bad_input(f"task {task_name!r} is not in protocol profile {profile!r} (tasks: {', '.join(protocol.tasks)})")
    settings = get_settings()
    protocol, opened = _audit_pack(protocol, pack)
    result = with_progress(as_json, lambda progress: run_audit(manifest, protocol, task_name, settings,
                                                                 data_path=data, progress=progress, pack=opened),
                            "nothing partial was written; run again to resume.")
    if output is not None:
        write_outputs(output, result, {result.task: result.verdicts_path})
    stored = store_result(manifest, protocol, audit_record(manifest, protocol, result), settings) \
        if keep_result(result, no_store, limit, as_json) else None
    if as_json:
        echo_json({**result.summary(), "submission_id": stored})
    else:
        print_audit(result)
        if stored is not None:
            console.print(f"Stored as submission {stored} (audit only) in {escape(masked(settings.database))}; "
                          "`ladder serve` shows it.")
    if fail_on_block and result.blocked:
        raise typer.Exit(EXIT_BLOCKED)


def _audit_pack(protocol, pack: str | None):
    """The protocol auditing from ``--pack`` and the opened pack (the protocol as it is and None without one), or
    exit 2 naming what is wrong with the pack."""
    if pack is None:
        return protocol, None
    from harness.cli.pack import open_pack
    from harness.packs import PackError
    from harness.stages.pack import with_pack

    opened = open_pack(pack)
    try:
        return with_pack(protocol, opened), opened
    except PackError as err:
        bad_input(str(err))


@app.command("run", rich_help_panel=PANEL)
def run_cmd(
    submission: ManifestArg,
    profile: ProfileOpt = "production",
    data: DataOpt = None,
    as_json: JsonFlag = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (stages, counts, GPU-hours) and exit.",
                                          metavar="")] = False,
    gpu: Annotated[str | None, typer.Option(help="--dry-run: GPU type of the estimate (default: the manifest's "
                                                 "cost basis, else H100-80GB).")] = None,
    rates: Annotated[Path | None, typer.Option(help="--dry-run: folder with bench/audit_gpu.py and "
                                                    "bench/selfdpo_gpu.py results measured on a GPU, to calibrate "
                                                    "the estimate.")] = None,
    answer_tokens: Annotated[int | None, typer.Option(min=1, help="--dry-run: assume answers this long (default: "
                                                                  "each at its token limit).")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Self-DPO seed runs at once, one process each (CPU: up to one "
                                                  "per core; one GPU: 1).")] = 1,
    allow_local_endpoints: AllowLocalEndpoints = False,
    output: OutputOpt = None,
    no_store: NoStore = False,
    limit: Limit = None,
    tasks: TasksOpt = None,
) -> None:
    """The whole protocol for one submission: audit, self-DPO of both students, exact-match eval.

    Finished stages are kept under $LADDER_DATA_DIR/runs/: run the same command again after an
    interruption and it resumes from the last finished stage. A succeeded run is recorded in the
    results store (as `ladder demo` and the workers do), so `ladder serve` and `ladder compare` see it.
    --tasks a,b runs some of the profile's tasks: each task's outcome is the whole run's, and runs of the
    other tasks of the same submission add up with it in the store. --limit N is a try-out on the first N
    items of each split: marked partial, never stored.
    Exit codes as for `ladder audit`; 1 when a stage failed (the reason is in the result).
    """

    from harness.runner import run_protocol
    from harness.settings import get_settings

    permit_local_endpoints(allow_local_endpoints)
    manifest, protocol = load_inputs(submission, profile)
    protocol = protocol.limited(limit)
    names = run_tasks(protocol, tasks)
    if dry_run:
        return _print_plan(plan_or_exit(manifest, protocol, assumptions(gpu, rates, answer_tokens), names), as_json)
    check_egress(manifest)
    settings = get_settings()
    result = with_progress(as_json, lambda progress: run_protocol(manifest, protocol, settings, data_path=data,
                                                                    progress=progress, jobs=jobs, tasks=names),
                            "finished stages are kept; run again to resume.")
    if output is not None:
        write_outputs(output, result, {t.task: t.audit.verdicts_path for t in result.tasks})
    stored = store_result(manifest, protocol, result, settings) \
        if result.status == "succeeded" and keep_result(result, no_store, limit, as_json) else None
    if as_json:
        echo_json({**result.summary(), "submission_id": stored})
    else:
        print_run_table([result])
        if stored is not None:
            console.print(f"Stored as submission {stored} in {escape(masked(settings.database))}; "
                          "`ladder serve` shows it.")
    if result.status != "succeeded":
        raise typer.Exit(1)


def plan_or_exit(manifest, protocol, assumed, names: list[str]):
    """The run's plan, or exit 2 with the reason (e.g. a task that declares no size)."""
    from harness.runner import plan

    try:
        return plan(manifest, protocol, assumed, names)
    except ValueError as err:
        bad_input(str(err))


def _print_plan(p, as_json: bool) -> None:
    echo_json(p) if as_json else typer.echo(plan_text(p))


def run_tasks(protocol, tasks: str | None) -> list[str]:
    """The tasks ``--tasks`` names (all of the protocol's by default), or exit 2 naming the wrong one."""
    from harness.registry import UnknownNameError
    from harness.tasks import chosen_tasks

    try:
        return chosen_tasks(protocol, split_names(tasks))
    except UnknownNameError as err:
        bad_input(str(err).splitlines()[0].strip("'\""))
    except ValueError as err:
        bad_input(str(err))


def assumptions(gpu: str | None, rates: Path | None, answer_tokens: int | None):
    """The estimate's assumptions from the command line, or exit 2 with the reason."""
    from harness.estimate import Assumptions, EstimateError, load_slowdowns
    from harness.hardware import GPUS
    from harness.registry import UnknownNameError

    try:
        if gpu is not None:
            GPUS.get(gpu)
        a = Assumptions(gpu=gpu, answer_tokens=answer_tokens)
        if rates is not None:
            a.slowdowns, a.calibrated_by = load_slowdowns(rates)
        return a
    except (UnknownNameError, EstimateError) as err:
        bad_input(str(err))


@app.command("fetch", rich_help_panel=PANEL)
def fetch_cmd(
    manifests: Annotated[list[Path] | None, typer.Argument(help="Verifier manifests whose hub models to fetch too.")]
    = None,
    profile: Annotated[str, typer.Option(help="Protocol profile: its students and tasks.")] = "production",
    lock: Annotated[Path | None, typer.Option(help="Lock file to write (default: DATA_DIR/fetch.lock.json).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be fetched and exit.",
                                          metavar="")] = False,
) -> None:
    """Download every model and dataset the protocol (and the given verifiers) need into the cache, and record the
    commit each revision resolved to, so that protocol runs can go with the network off."""
    from harness.config import get_protocol
    from harness.fetch import FetchError, assets, fetch, write_lock
    from harness.settings import get_settings
    from harness.submission import ManifestError, load_manifest

    try:
        protocol = get_protocol(profile)
        loaded = [load_manifest(p) for p in manifests or []]
    except (ManifestError, ValueError) as err:
        bad_input(str(err))
    todo = assets(protocol, loaded)
    table = Table("kind", "repository", "revision", "for")
    for a in todo:
        table.add_row(a.kind, escape(a.repo_id), escape(a.revision), escape(a.role))
    console.print(table)
    if dry_run or not todo:
        console.print("nothing to fetch" if not todo else f"{len(todo)} asset(s); run without --dry-run to fetch")
        return
    settings = get_settings()
    lock = lock or settings.data_dir / "fetch.lock.json"
    with progress_bar() as progress:
        bar = progress.add_task("fetching", total=len(todo))
        try:
            pinned = fetch(todo, settings.hf_cache_dir, progress=lambda _: progress.advance(bar))
        except FetchError as err:
            bad_input(f"{err}\n(is the network up and HF_HUB_OFFLINE unset? private repos need HF_TOKEN)")
    write_lock(pinned, lock)
    for a in pinned["assets"]:
        console.print(f"{escape(a['repo_id'])}@{escape(a['revision'])} -> {a['resolved']}", highlight=False)
    console.print(f"pinned in {escape(str(lock))}")
