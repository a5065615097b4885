"""What every ``ladder`` command shares: the app, the console, exit codes, option aliases and input helpers.

Command modules register on :data:`app`; nothing here imports a model, a stage or the leaderboard (each command
imports what it needs when it runs, so ``ladder --help`` stays fast).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

app = typer.Typer(help="Verifier Ladder: benchmark verifiers for verifier-driven self-DPO of VLMs.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.", metavar="")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_path=False)])
    # One line per HTTP request (httpx, openai) or cache lookup buries the progress; -v shows them.
    for noisy in ("httpx", "httpcore", "openai", "urllib3", "filelock", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=console)


EXIT_BAD_INPUT = 2
EXIT_BLOCKED = 3
EXIT_INTERRUPTED = 130

# Options several commands share, declared once.
ManifestArg = Annotated[Path, typer.Argument(help="The verifier's manifest (YAML).")]
ProfileOpt = Annotated[str, typer.Option(help="Protocol profile: production or demo.")]
DataOpt = Annotated[Path | None, typer.Option(help="Local copy of the task's dataset in the hub layout.")]
OutputOpt = Annotated[Path | None, typer.Option(help="Folder to write results.json (the result document), its "
                                                   "JSON Schema and samples_<task>.jsonl (every judgment) to.")]
TasksOpt = Annotated[str | None, typer.Option("--tasks", help="Comma-separated tasks (default: every task of the "
                                                              "profile).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.", metavar="")]


def strict_json(doc, indent: int | None = 2) -> str:
    """``doc`` as strict JSON (RFC 8259): an undefined statistic (NaN, +-inf) becomes null, never the bare ``NaN``
    that ``json.dumps`` writes by default and strict parsers (``JSON.parse``, jq) reject. Other non-JSON values
    (dates, paths) are written as their string form."""
    import json
    import math

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if hasattr(x, "model_dump"):
            return clean(x.model_dump(mode="json"))
        return x

    return json.dumps(clean(doc), indent=indent, default=str, allow_nan=False)


def echo_json(doc) -> None:
    """Print ``doc`` (a dict, list or pydantic model) as strict JSON: every ``--json`` output goes through here."""
    typer.echo(strict_json(doc))


def bad_input(message: str):
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def split_names(text: str | None) -> list[str] | None:
    """``a, b`` -> ``["a", "b"]`` (None stays None: the default)."""
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def load_inputs(submission: Path, profile: str):
    """The validated manifest and protocol, or exit 2 with the reason."""
    from harness.config import get_protocol
    from harness.registry import UnknownNameError
    from harness.submission import ManifestError, load_manifest
    from harness.tasks import check_tasks

    try:
        manifest, protocol = load_manifest(submission), get_protocol(profile)
        check_tasks(protocol.tasks)
        return manifest, protocol
    except (ManifestError, UnknownNameError, ValueError) as err:
        bad_input(str(err))


def with_progress(quiet: bool, work, on_interrupt: str):
    """Run ``work(progress)`` with a progress display (none when ``quiet``); Ctrl-C exits 130, a missing dataset or
    model exits 2 with one line saying what to fetch."""
    from harness.errors import MissingInput

    try:
        if quiet:
            return work(None)
        with progress_bar() as progress:
            return work(progress)
    except MissingInput as err:
        bad_input(str(err))
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/yellow]: {on_interrupt}")
        raise typer.Exit(EXIT_INTERRUPTED) from None


AllowLocalEndpoints = Annotated[bool, typer.Option(
    "--allow-local-endpoints", help="Let this run's endpoint verifier be on loopback, private or link-local "
                                    "addresses (your own vLLM server); sets LADDER_ALLOW_LOCAL_ENDPOINTS for this "
                                    "process. Never the default, and never for queued work.", metavar="")]


def permit_local_endpoints(allow: bool) -> None:
    """The operator's explicit opt-out of the public-address rule for their own run (an environment variable,
    so the seed processes this run spawns see it too)."""
    if allow:
        os.environ["LADDER_ALLOW_LOCAL_ENDPOINTS"] = "1"


def check_egress(manifest) -> None:
    """Refuse, before any work, an endpoint the operator's policy would refuse at the first request."""
    from harness.egress import EgressPolicy, check_endpoint
    from harness.settings import get_settings

    if manifest.endpoint is None:
        return
    refused = check_endpoint(manifest.endpoint, EgressPolicy.from_settings(get_settings()))
    if refused:
        bad_input("; ".join(str(r) for r in refused) + " (your own server: --allow-local-endpoints; a key "
                   "variable: list it in LADDER_ENDPOINT_KEYS with its hosts; see the README's operator policy)")


def masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string()  # the password as ***


def engine():
    """The store's engine, migrated to the newest schema (SQLite under the data dir unless LADDER_DATABASE_URL)."""
    from harness.settings import get_settings
    from harness.store import connect, migrate

    url = get_settings().database
    migrate(url)
    return connect(url)
