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


@app.command("export-lm-eval")
def export_lm_eval_cmd(
    out: Annotated[Path, typer.Argument(help="Include path to write the lm-eval tasks under.")],
    profile: Annotated[str, typer.Option(help="Protocol profile: its tasks, splits and answer length.")] = "demo",
    data: Annotated[Path | None, typer.Option(help="Local copy of the dataset in the hub layout.")] = None,
) -> None:
    """Write each task's test split as an lm-eval task (scored by our scorer), for `lm_eval --include_path OUT`."""
    from harness.lmeval import export_task
    from harness.protocol import get_protocol
    from harness.stages.audit import protocol_splits
    from harness.tasks import get_task

    protocol = get_protocol(profile)
    for name in protocol.tasks:
        task = get_task(name)
        test = protocol_splits(task, task.items(path=data), protocol)["test"]
        path = export_task(test, name, protocol.profile, out, max_gen_toks=protocol.eval_max_new_tokens)
        console.print(f"{escape(name)}: {len(test)} test items -> {escape(str(path))}")
    console.print(f"run: lm_eval --model hf-multimodal --model_args pretrained=MODEL --apply_chat_template "
                  f"--include_path {escape(str(out))} --tasks <name>")


@app.command("demo")
def demo_cmd(
    ladder: Annotated[Path, typer.Option(help="Folder of demo verifier manifests.")] = Path("submissions/demo"),
    profile: Annotated[str, typer.Option(help="Protocol profile.")] = "demo",
    jobs: Annotated[int | None, typer.Option(min=1, help="Self-DPO seed runs (and student warm-ups) at once, one "
                                                        "process each (default: one per CPU core).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document (every run's summary and the "
                                                         "findings) instead of tables.")] = False,
) -> None:
    """The whole protocol on CPU: warm up two tiny students on `shapes`, then audit, self-DPO (every training
    seed) and evaluate every demo verifier, and print the per-task table and whether the findings hold."""
    import json
    import time

    from rich.markup import escape

    from harness.models.students import resolve_students
    from harness.protocol import get_protocol
    from harness.runner import run_protocol
    from harness.settings import get_settings
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
        return [run_protocol(m, protocol, settings, progress=progress, jobs=jobs) for m in loaded]

    results = _with_progress(as_json, work, "finished stages are kept; run again to resume.")
    ids = record_runs(_engine(), loaded, protocol, results, settings)
    if as_json:
        typer.echo(json.dumps({"profile": protocol.profile, "protocol_digest": protocol.digest(), "jobs": jobs,
                               "wall_seconds": round(time.perf_counter() - t0, 1), "submissions": ids,
                               "findings": findings_json(results),
                               "runs": [r.summary() for r in results]}, indent=2, default=str))
        return
    print_run_table(results)
    print_findings(results)
    console.print("Gate: below the frozen baseline, the paper's rule says not to run self-DPO with that verifier. "
                  f"Results and artifacts: {escape(str(settings.data_dir))}.")
    console.print(f"Stored as submissions {', '.join(map(str, ids))} in {escape(_masked(settings.database))}. "
                  "See the leaderboard: [bold]ladder serve[/bold] (or [bold]make serve[/bold]), then open "
                  f"http://127.0.0.1:8000/ (demo took {time.perf_counter() - t0:.0f} s).", highlight=False)


def findings_json(results) -> dict:
    """``{task: [{name, holds, evidence}, ...]}``: whether the ladder reproduces the paper's findings."""
    from harness.findings import check_findings
    from harness.results import post_correctness

    posts = post_correctness(results)
    return {task: [f.model_dump() for f in check_findings(results, posts, task=task)]
            for task in sorted({t.task for r in results for t in r.tasks})}


def record_runs(engine, manifests, protocol, results, settings=None) -> list[int]:
    """Store runs made in this process as succeeded submissions (the same run again changes nothing); the stored
    documents name their files relative to ``settings``' data directory, as every published document does."""
    from harness.publish import public_document
    from harness.results import item_rows
    from harness.settings import get_settings
    from harness.store.queue import ProtocolKey, record

    settings = settings or get_settings()
    key = ProtocolKey(version=protocol.version, profile=protocol.profile, digest=protocol.digest(),
                      config=protocol.model_dump(mode="json"))
    return [record(engine, m.model_dump(mode="json"), m.digest(), key,
                   public_document(r.model_dump(mode="json"), settings), item_rows(r)).id
            for m, r in zip(manifests, results, strict=True)]


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


AllowLocalEndpoints = Annotated[bool, typer.Option(
    "--allow-local-endpoints", help="Let this run's endpoint verifier be on loopback, private or link-local "
                                    "addresses (your own vLLM server); sets LADDER_ALLOW_LOCAL_ENDPOINTS for this "
                                    "process. Never the default, and never for queued work.")]


def _allow_local_endpoints(allow: bool) -> None:
    """The operator's explicit opt-out of the public-address rule for their own run (an environment variable,
    so the seed processes this run spawns see it too)."""
    if allow:
        os.environ["LADDER_ALLOW_LOCAL_ENDPOINTS"] = "1"


def _check_egress(manifest) -> None:
    """Refuse, before any work, an endpoint the operator's policy would refuse at the first request."""
    from harness.egress import EgressPolicy, check_endpoint
    from harness.settings import get_settings

    if manifest.endpoint is None:
        return
    refused = check_endpoint(manifest.endpoint, EgressPolicy.from_settings(get_settings()))
    if refused:
        _bad_input("; ".join(str(r) for r in refused) + " (your own server: --allow-local-endpoints; a key "
                   "variable: list it in LADDER_ENDPOINT_KEYS with its hosts; see the README's operator policy)")


@app.command("audit")
def audit_cmd(
    submission: Annotated[Path, typer.Argument(help="The verifier's manifest (YAML).")],
    task_name: Annotated[str, typer.Option("--task", help="Target task, e.g. mmmu.")],
    profile: Annotated[str, typer.Option(help="Protocol profile: production or demo.")] = "production",
    data: Annotated[Path | None, typer.Option(help="Local copy of the task's dataset in the hub layout.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
    fail_on_block: Annotated[bool, typer.Option(
        help=f"Exit with code {EXIT_BLOCKED} when the gate blocks any student (for a verifier team's CI).")] = False,
    allow_local_endpoints: AllowLocalEndpoints = False,
) -> None:
    """Stage 1: the rubric audit of one verifier on one task, with the gate verdict per student.

    Exit codes: 0 done; 2 bad input (manifest, task, profile); 3 gate blocks a student (only with
    --fail-on-block); 130 interrupted (nothing partial is written).
    """
    import json

    from harness.settings import get_settings
    from harness.stages.audit import run_audit

    _allow_local_endpoints(allow_local_endpoints)
    manifest, protocol = _load_inputs(submission, profile)
    _check_egress(manifest)
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
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (stages, counts, GPU-hours) and exit.")
                       ] = False,
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
) -> None:
    """The whole protocol for one submission: audit, self-DPO of both students, exact-match eval.

    Finished stages are kept under $LADDER_DATA_DIR/runs/: run the same command again after an
    interruption and it resumes from the last finished stage. Exit codes as for `ladder audit`;
    1 when a stage failed (the reason is in the result).
    """
    import json

    from harness.runner import plan, run_protocol
    from harness.settings import get_settings

    _allow_local_endpoints(allow_local_endpoints)
    manifest, protocol = _load_inputs(submission, profile)
    if not dry_run:
        _check_egress(manifest)
    if dry_run:
        p = plan(manifest, protocol, _assumptions(gpu, rates, answer_tokens))
        typer.echo(json.dumps(p, indent=2) if as_json else _plan_text(p))
        return
    settings = get_settings()
    result = _with_progress(as_json, lambda progress: run_protocol(manifest, protocol, settings, data_path=data,
                                                                    progress=progress, jobs=jobs),
                            "finished stages are kept; run again to resume.")
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2, default=str))
    else:
        print_run_table([result])
    if result.status != "succeeded":
        raise typer.Exit(1)


def _assumptions(gpu: str | None, rates: Path | None, answer_tokens: int | None):
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
        _bad_input(str(err))


def _plan_text(p: dict) -> str:
    lines = [f"plan for {p['verifier']} under protocol {p['protocol']} ({p['profile']}):"]
    seeds = p["estimate"].get("training_seeds", 1)
    for t in p["tasks"]:
        lines.append(f"  {t['task']}: audit {t['audit_items']} items x {t['k']} candidates x {t['students']} "
                     f"students = {t['audit_judgments']} judgments; self-DPO {t['selfdpo_rounds']} rounds x "
                     f"{t['selfdpo_prompts']} prompts x {t['k_train']} = {t['selfdpo_judgments']} judgments per "
                     f"student and run, x {seeds} training seeds = {seeds * t['selfdpo_judgments']} judgments per "
                     f"student; eval {t['test_items']} test items per student before (once) and after each seed "
                     f"({seeds * t['test_items']} answers)")
    return "\n".join(lines + _estimate_lines(p["estimate"]))


KIND_NAMES = {"sample": "student sampling", "eval": "student answers", "judge": "judging", "train": "DPO steps"}


def _estimate_lines(e: dict) -> list[str]:
    if e["basis"] is None:
        return [f"  GPU-hours: {e['note']}"]
    a = e["assumptions"]
    answers = (f"answers of {a['answer_tokens']} tokens" if isinstance(a["answer_tokens"], int)
               else "every answer at its token limit")
    if e["basis"] == "roofline":
        head = (f"  GPU-hours on {e['gpu']}, a roofline floor with {answers} ({e['gpu_source']} peaks: the "
                "hardware allows no less, real kernels are slower; --rates DIR calibrates it from the GPU benchmarks):")
    else:
        slow = ", ".join(f"{k} x{v:.1f}" for k, v in sorted(a["slowdowns"].items()))
        head = (f"  GPU-hours on {e['gpu']}, calibrated by measured slowdowns over the roofline ({slow}; "
                f"from {'; '.join(a['calibrated_by'])}) with {answers}:")
    lines = [head, f"    (self-DPO and the post-DPO evaluation x {e['training_seeds']} training seeds; the audit and "
                   "the frozen baseline once)"]
    for task, t in e["tasks"].items():
        stages = ", ".join(f"{s} {h:.2f}" for s, h in t["by_stage"].items())
        lines.append(f"    {task}: {t['gpu_hours']:.2f} ({stages}; {t['gpu_hours_not_shared']:.2f} without the "
                     "frozen students' cached candidates and baselines)")
    usd = f", ${e['usd']:,.2f} at ${e['usd_per_gpu_hour']:.2f}/GPU-hour" if e["usd"] is not None else ""
    kinds = ", ".join(f"{KIND_NAMES[k]} {h:.2f}" for k, h in e["by_kind"].items())
    lines.append(f"    total: {e['gpu_hours']:.2f} GPU-hours{usd} ({kinds}); verifier judging {e['judging']}")
    lines.append(f"    assumed: one {a['image_side_px']} px image and {a['question_tokens']} question tokens per item")
    return lines


def print_run_table(results) -> None:
    """The per-task table: verifier, rubric accuracy, gate, each student's delta, silent regression, cost."""
    from rich.markup import escape

    for task in sorted({t.task for r in results for t in r.tasks}):
        rows = [(r, t) for r in results for t in r.tasks if t.task == task]
        students = [s.student for s in rows[0][1].students]
        table = Table("verifier", "rubric acc [95% CI] (n)",
                      *[f"{s}: gate, seed-mean delta [95% CI, items x seeds] (n); per seed" for s in students],
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
                    per_seed = " ".join(f"{100 * x:+.1f}" for x in d.seed_deltas)
                    cells.append(f"{gate}; {d.before:.3f}->{d.after:.3f} {100 * d.delta:+.1f} pts "
                                 f"[{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}] (n={d.n} x {d.seeds}); "
                                 f"{per_seed}")
            silent = ", ".join(s.student for s in t.students if s.silent_regression) or "-"
            judgments = t.audit.cost.judgments + sum(run.selfdpo.judgments for s in t.students for run in s.seeds
                                                     if run.selfdpo)
            name = escape(t.audit.verifier.name) + (" [simulated]" if t.audit.verifier.simulated else "")
            table.add_row(name, f"{ra.value:.3f} [{ra.ci_low:.3f}, {ra.ci_high:.3f}] ({ra.n})", *cells, silent,
                          str(judgments))
        console.print(table)


def print_findings(results) -> None:
    """Whether the ladder reproduces the paper's findings, with the evidence for each."""
    for task, findings in findings_json(results).items():
        for f in findings:
            mark = "[green]holds[/green]" if f["holds"] else "[red]does not hold[/red]"
            console.print(f"{escape(task)}: {escape(f['name'])}: {mark}")
            for line in f["evidence"]:
                console.print(f"    {escape(line)}", highlight=False)


def _cost_line(cost) -> str:
    usd = "n/a" if cost.usd is None else f"${cost.usd:.4f}"
    extra = f" ({cost.note})" if cost.note else ""
    return (f"{cost.judgments} judgments, {cost.wall_seconds:.1f} s wall, {cost.device_seconds:.1f} s on "
            f"{cost.device}, {cost.input_tokens}+{cost.output_tokens} tokens, {usd}{extra}")


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string()  # the password as ***


def _engine():
    """The store's engine, migrated to the newest schema (SQLite under the data dir unless LADDER_DATABASE_URL)."""
    from harness.settings import get_settings
    from harness.store import connect, migrate

    url = get_settings().database
    migrate(url)
    return connect(url)


@app.command("submit")
def submit_cmd(
    submission: Annotated[Path, typer.Argument(help="The verifier's manifest (YAML).")],
    profile: Annotated[str, typer.Option(help="Protocol profile: production or demo.")] = "production",
) -> None:
    """Validate a manifest and queue it; a manifest already queued under the same protocol is reported, not
    queued twice (exit 0 with its id)."""
    from harness.admission import admit
    from harness.settings import get_settings
    from harness.store.queue import ProtocolKey, submit
    from harness.submission import ManifestError

    manifest, protocol = _load_inputs(submission, profile)
    try:  # queued work is held to the operator's policy, whoever queues it
        admit(manifest, get_settings(), str(submission))
    except ManifestError as err:
        _bad_input(str(err))
    key = ProtocolKey(version=protocol.version, profile=protocol.profile, digest=protocol.digest(),
                      config=protocol.model_dump(mode="json"))
    job, created = submit(_engine(), manifest.model_dump(mode="json"), manifest.digest(), key)
    what = "queued" if created else f"already submitted ({job.status})"
    console.print(f"submission {job.id}: {escape(manifest.name)} {what} under protocol {protocol.version} "
                  f"({escape(protocol.profile)})", highlight=False)


@app.command("worker")
def worker_cmd(
    executor: Annotated[str, typer.Option(help="Where the protocol runs: local, docker or ray.")] = "local",
    once: Annotated[bool, typer.Option("--once", help="Exit when the queue is empty.")] = False,
    lease: Annotated[float, typer.Option(help="Lease seconds; heartbeats renew it every third of it.")] = 300.0,
    poll: Annotated[float, typer.Option(help="Seconds between polls of an empty queue.")] = 5.0,
    max_jobs: Annotated[int | None, typer.Option(help="Stop after this many jobs.")] = None,
) -> None:
    """Claim queued submissions and run them, one at a time, until stopped (or the queue is empty with --once)."""
    from harness.registry import UnknownNameError
    from harness.settings import get_settings
    from harness.worker import run_worker

    try:
        n = run_worker(_engine(), get_settings(), executor, once=once, poll_seconds=poll, lease_seconds=lease,
                       max_jobs=max_jobs)
    except UnknownNameError as err:
        _bad_input(str(err))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: the job's lease expires and another worker resumes it.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    console.print(f"processed {n} submission(s)")


@app.command("execute")
def execute_cmd(
    manifest_json: Annotated[Path, typer.Argument(help="The submission's manifest as JSON (from the queue).")],
    profile: Annotated[str, typer.Option(help="Protocol profile.")] = "production",
    out: Annotated[Path, typer.Option(help="Where to write the result document and per-item rows (JSON).")] = Path(
        "outcome.json"),
) -> None:
    """Run one submission's protocol in this process and write its outcome file: the entry point of the
    docker and ray executors (the worker outside lands the result in the store)."""
    import json

    from harness.executors import write_outcome
    from harness.executors.local import run_in_process
    from harness.protocol import get_protocol
    from harness.settings import get_settings

    try:
        manifest = json.loads(manifest_json.read_text())
        protocol = get_protocol(profile)
    except (OSError, ValueError) as err:
        _bad_input(f"{manifest_json} / {profile}: {err}")
    write_outcome(run_in_process(manifest, protocol.model_dump(mode="json"), get_settings()), out)
    console.print(f"outcome written to {escape(str(out))}")


@app.command("status")
def status_cmd(
    limit: Annotated[int, typer.Option(help="Newest N submissions.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The queue: every submission's status, attempts, worker and failure reason."""
    import json

    from harness.store.queue import listing

    rows = listing(_engine(), limit)
    if as_json:
        typer.echo(json.dumps([{"id": r.id, "name": r.manifest.get("name"), "status": r.status,
                                "attempts": r.attempts, "worker": r.worker, "profile": r.protocol_profile,
                                "failure": r.failure_reason} for r in rows], indent=2))
        return
    table = Table("id", "verifier", "profile", "status", "attempts", "worker", "failure")
    for r in rows:
        table.add_row(str(r.id), escape(str(r.manifest.get("name"))), escape(r.protocol_profile), r.status,
                      f"{r.attempts}/{r.max_attempts}", escape(r.worker or "-"), escape(r.failure_reason or ""))
    console.print(table)


@app.command("cancel")
def cancel_cmd(submission_id: Annotated[int, typer.Argument(help="Submission id (see `ladder status`).")]) -> None:
    """Cancel a queued or running submission (a running worker stops at its next heartbeat)."""
    from harness.store.queue import cancel

    if not cancel(_engine(), submission_id):
        _bad_input(f"submission {submission_id} does not exist or has already finished")
    console.print(f"submission {submission_id} cancelled")


@app.command("compare")
def compare_cmd(
    a: Annotated[str, typer.Argument(help="Baseline release: FAMILY@RELEASE or a submission id.")],
    b: Annotated[str, typer.Argument(help="Candidate release: FAMILY@RELEASE or a submission id.")],
    alpha: Annotated[float, typer.Option(help="Family-wise significance level of the gate: Holm's step-down over "
                                               "all its tests (each task's rubric test, one-sided clustered "
                                               "McNemar; each student's test, one-sided t p over items x "
                                               "training seeds).")] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Gate a verifier release: exit 1 when B is significantly worse than A on any task (same protocol; Holm over
    every task's rubric and student tests, family-wise level --alpha)."""
    from harness.compare import CompareError, compare

    if not 0 < alpha < 1:
        _bad_input(f"--alpha must be between 0 and 1, got {alpha}")
    try:
        result = compare(_engine(), a, b, alpha=alpha)
    except CompareError as err:
        _bad_input(str(err))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _print_compare(result)
    if result.b_worse:
        raise typer.Exit(1)


def _print_compare(result) -> None:
    table = Table("task", "rubric accuracy A -> B\n(leaderboard: 1st candidate, n)",
                  "all-K agreement B - A, points\n[95% CI] (items / judgments)",
                  "clustered McNemar p\none-sided, B lower (two-sided);\nHolm-adjusted",
                  "student: seed-mean post-DPO B - A,\npoints [95% CI over items x seeds];\none-sided p (B lower), "
                  "Holm-adjusted;\nn items x S_A/S_B seeds; accuracy per seed", "B worse",
                  title=f"{escape(result.a)} vs {escape(result.b)} (protocol {result.protocol_digest})")
    methods, seed_methods = set(), set()
    for t in result.tasks:
        holm_p = {(x.kind, x.name): x for x in t.tests}
        r = t.rubric
        if r:
            methods.add(r.method)
            rubric = f"{r.accuracy_a.value:.3f} -> {r.accuracy_b.value:.3f} ({r.accuracy_a.n} / {r.accuracy_b.n})"
            agreement = (f"{100 * r.difference:+.1f} [{100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}] "
                         f"({r.shared_items} / {r.shared_judgments})")
            test = holm_p.get(("rubric", "rubric"))
            p = f"{r.test.p_less:.3g} ({r.test.p_value:.3g})" + (f";\nHolm {test.p_holm:.3g}" if test else "")
        else:
            rubric = agreement = p = "-"
        students = []
        for s, d in t.students.items():
            seeds = t.student_seeds.get(s)
            counts = f"{len(seeds.a)}/{len(seeds.b)}" if seeds else f"?/{d.seeds}"
            test = holm_p.get(("student", s))
            lines = [f"{escape(s)} {100 * d.delta:+.1f} [{100 * d.ci_low:+.1f}, {100 * d.ci_high:+.1f}]",
                     f"  p {d.p_below:.3g}" + (f", Holm {test.p_holm:.3g}" if test else "") + f" (df {d.df:.1f})",
                     f"  {d.n} items x {counts} seeds"]
            if seeds:
                lines += [f"  {side} " + " ".join(f"{x.accuracy:.3f}" for x in accs)
                          for side, accs in (("A", seeds.a), ("B", seeds.b))]
                if seeds.left_out[0] or seeds.left_out[1]:
                    lines.append(escape(f"  left out (partial rows): A {seeds.left_out[0]}, B {seeds.left_out[1]}"))
            students.append("\n".join(lines))
            seed_methods.add(d.method)
        table.add_row(escape(t.task), rubric, agreement, p, "\n".join(students) or "-",
                      escape("; ".join(t.reasons)) if t.b_worse else "no")
    caption = [f"Gate: Holm's step-down over all m = {result.m} tests (each task's rubric test and each student's "
               f"test), family-wise alpha = {result.alpha:g}; B is worse when Holm rejects a test (Holm-adjusted p "
               f"<= {result.alpha:g}) whose B - A is negative"]
    if methods:
        caption.append(f"rubric test: {'; '.join(sorted(methods))}")
    if seed_methods:
        caption.append("student test: B's seed-mean post-DPO accuracy minus A's on the shared test items, 95% CI by "
                       f"{'; '.join(sorted(seed_methods))} (item variance of the per-item seed-mean differences "
                       "plus each side's seed variance beyond item noise); one-sided p = P(T_df <= delta / se)")
    table.caption = escape("; ".join(caption) + ".")
    console.print(table)
    tests = Table("task", "test", "B - A, points", "one-sided p\n(B lower)", "Holm-adjusted p", "Holm rejects",
                  "B worse", title=f"The gate's {result.m} tests: Holm's step-down at family-wise alpha = "
                                   f"{result.alpha:g}")
    for t in result.tasks:
        for x in t.tests:
            name = f"student {x.name}" if x.kind == "student" else "rubric (all-K agreement)"
            tests.add_row(escape(t.task), escape(name), f"{100 * x.estimate:+.1f}", f"{x.p_value:.3g}",
                          f"{x.p_holm:.3g}", "yes" if x.rejected else "no", "yes" if x.b_worse else "no")
    console.print(tests)


@app.command("fetch")
def fetch_cmd(
    manifests: Annotated[list[Path] | None, typer.Argument(help="Verifier manifests whose hub models to fetch too.")]
    = None,
    profile: Annotated[str, typer.Option(help="Protocol profile: its students and tasks.")] = "production",
    lock: Annotated[Path | None, typer.Option(help="Lock file to write (default: DATA_DIR/fetch.lock.json).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be fetched and exit.")] = False,
) -> None:
    """Download every model and dataset the protocol (and the given verifiers) need into the cache, and record the
    commit each revision resolved to, so that protocol runs can go with the network off."""
    from harness.fetch import FetchError, assets, fetch, write_lock
    from harness.protocol import get_protocol
    from harness.settings import get_settings
    from harness.submission import ManifestError, load_manifest

    try:
        protocol = get_protocol(profile)
        loaded = [load_manifest(p) for p in manifests or []]
    except (ManifestError, ValueError) as err:
        _bad_input(str(err))
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
    with _progress() as progress:
        bar = progress.add_task("fetching", total=len(todo))
        try:
            pinned = fetch(todo, settings.hf_cache_dir, progress=lambda _: progress.advance(bar))
        except FetchError as err:
            _bad_input(f"{err}\n(is the network up and HF_HUB_OFFLINE unset? private repos need HF_TOKEN)")
    write_lock(pinned, lock)
    for a in pinned["assets"]:
        console.print(f"{escape(a['repo_id'])}@{escape(a['revision'])} -> {a['resolved']}", highlight=False)
    console.print(f"pinned in {escape(str(lock))}")


@app.command("migrate")
def migrate_cmd() -> None:
    """Bring the results store to the newest schema (every command does this first; compose runs it once)."""
    from harness.settings import get_settings

    _engine()
    console.print(f"store migrated: {escape(_masked(get_settings().database))}", highlight=False)


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
) -> None:
    """Serve the leaderboard (pages, charts, JSON API) from the store: SQLite under the data dir by default,
    LADDER_DATABASE_URL otherwise."""
    import uvicorn

    from harness.settings import get_settings

    _engine()  # migrate before the first request
    console.print(f"Leaderboard on http://{host}:{port}/ (store: {escape(_masked(get_settings().database))})",
                  highlight=False)
    uvicorn.run("leaderboard.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, log_level="info")


@app.command("export-site")
def export_site_cmd(
    out: Annotated[Path, typer.Argument(help="Folder to write the static site into.")],
    profile: Annotated[str | None, typer.Option(help="Protocol profile (default: production, else newest).")] = None,
    digest: Annotated[str | None, typer.Option(help="Protocol digest prefix, for an older protocol.")] = None,
) -> None:
    """Write the whole leaderboard (pages, charts, CSV/JSON/Parquet) as static files for any static host."""
    from leaderboard.site import ExportError, export_site
    from leaderboard.store import ReadStore

    try:
        counts = export_site(ReadStore(_engine()), out, profile, digest)
    except ExportError as err:
        _bad_input(str(err))
    console.print(f"{counts['pages']} pages, {counts['plots']} charts, {counts['data']} data files in "
                  f"{escape(str(out))}; open {escape(str(out / 'index.html'))}", highlight=False)


token_app = typer.Typer(help="Write tokens for POST /api/submissions (stored hashed; shown once).")
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create_cmd(name: Annotated[str, typer.Argument(help="Who the token is for, e.g. a team name.")]) -> None:
    """Create a token and print it once (only its sha256 is stored)."""
    from harness.store.tokens import TokenError, create_token

    if not name.strip() or len(name) > 100 or not name.isprintable():
        _bad_input("token name: 1-100 printable characters")
    try:
        token = create_token(_engine(), name.strip())
    except TokenError as err:
        _bad_input(str(err))
    typer.echo(token)


@token_app.command("list")
def token_list_cmd() -> None:
    """Tokens by name (never the token itself)."""
    from harness.store.tokens import list_tokens

    table = Table("name", "created", "last used", "revoked")
    for t in list_tokens(_engine()):
        table.add_row(escape(t.name), str(t.created_at or "-"), str(t.last_used_at or "-"), "yes" if t.revoked else "")
    console.print(table)


@token_app.command("revoke")
def token_revoke_cmd(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    from harness.store.tokens import TokenError, revoke_token

    try:
        revoke_token(_engine(), name)
    except TokenError as err:
        _bad_input(str(err))
    console.print(f"token {escape(name)} revoked")


if __name__ == "__main__":
    app()
