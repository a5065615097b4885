"""The submission queue and the store: `submit`, `worker`, `execute`, `status`, `cancel`, `migrate`, `token ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from harness.cli.common import (
    EXIT_INTERRUPTED,
    JsonFlag,
    ManifestArg,
    ProfileOpt,
    app,
    bad_input,
    console,
    echo_json,
    engine,
    load_inputs,
    masked,
)

PANEL = "Queue and store"


@app.command("submit", rich_help_panel=PANEL)
def submit_cmd(
    submission: ManifestArg,
    profile: ProfileOpt = "production",
) -> None:
    """Validate a manifest and queue it; a manifest already queued under the same protocol is reported, not
    queued twice (exit 0 with its id)."""
    from harness.admission import admit
    from harness.settings import get_settings
    from harness.store.queue import ProtocolKey, submit
    from harness.submission import ManifestError

    manifest, protocol = load_inputs(submission, profile)
    try:  # queued work is held to the operator's policy, whoever queues it
        admit(manifest, get_settings(), str(submission))
    except ManifestError as err:
        bad_input(str(err))
    key = ProtocolKey.of(protocol)
    job, created = submit(engine(), manifest.model_dump(mode="json"), manifest.digest(), key)
    what = "queued" if created else f"already submitted ({job.status})"
    console.print(f"submission {job.id}: {escape(manifest.name)} {what} under protocol {protocol.version} "
                  f"({escape(protocol.profile)})", highlight=False)


@app.command("worker", rich_help_panel=PANEL)
def worker_cmd(
    executor: Annotated[str, typer.Option(help="Where the protocol runs: local, docker or ray.")] = "local",
    once: Annotated[bool, typer.Option("--once", help="Exit when the queue is empty.", metavar="")] = False,
    lease: Annotated[float, typer.Option(help="Lease seconds; heartbeats renew it every third of it.")] = 300.0,
    poll: Annotated[float, typer.Option(help="Seconds between polls of an empty queue.")] = 5.0,
    max_jobs: Annotated[int | None, typer.Option(help="Stop after this many jobs.")] = None,
) -> None:
    """Claim queued submissions and run them, one at a time, until stopped (or the queue is empty with --once)."""
    from harness.registry import UnknownNameError
    from harness.settings import get_settings
    from harness.worker import run_worker

    try:
        n = run_worker(engine(), get_settings(), executor, once=once, poll_seconds=poll, lease_seconds=lease,
                       max_jobs=max_jobs)
    except UnknownNameError as err:
        bad_input(str(err))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: the job's lease expires and another worker resumes it.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    console.print(f"processed {n} submission(s)")


@app.command("execute", rich_help_panel=PANEL)
def execute_cmd(
    manifest_json: Annotated[Path, typer.Argument(help="The submission's manifest as JSON (from the queue).")],
    profile: Annotated[str, typer.Option(help="Protocol profile.")] = "production",
    out: Annotated[Path, typer.Option(help="Where to write the result document and per-item rows (JSON).")] = Path(
        "outcome.json"),
) -> None:
    """Run one submission's protocol in this process and write its outcome file: the entry point of the
    docker and ray executors (the worker outside lands the result in the store)."""
    import json

    from harness.config import get_protocol
    from harness.executors import write_outcome
    from harness.executors.local import run_in_process
    from harness.settings import get_settings

    try:
        manifest = json.loads(manifest_json.read_text())
        protocol = get_protocol(profile)
    except (OSError, ValueError) as err:
        bad_input(f"{manifest_json} / {profile}: {err}")
    write_outcome(run_in_process(manifest, protocol.model_dump(mode="json"), get_settings()), out)
    console.print(f"outcome written to {escape(str(out))}")


@app.command("status", rich_help_panel=PANEL)
def status_cmd(
    limit: Annotated[int, typer.Option(min=0, help="Newest N submissions (0: all, as the API's limit=0).")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The queue: every submission's status, attempts, worker and failure reason."""

    from harness.store.queue import listing

    rows = listing(engine(), limit)
    if as_json:
        echo_json([{"id": r.id, "name": r.manifest.get("name"), "status": r.status, "attempts": r.attempts,
                    "worker": r.worker, "profile": r.protocol_profile, "failure": r.failure_reason} for r in rows])
        return
    table = Table("id", "verifier", "profile", "status", "attempts", "worker", "failure")
    for r in rows:
        table.add_row(str(r.id), escape(str(r.manifest.get("name"))), escape(r.protocol_profile), r.status,
                      f"{r.attempts}/{r.max_attempts}", escape(r.worker or "-"), escape(r.failure_reason or ""))
    console.print(table)


@app.command("cancel", rich_help_panel=PANEL)
def cancel_cmd(submission_id: Annotated[int, typer.Argument(help="Submission id (see `ladder status`).")]) -> None:
    """Cancel a queued or running submission (a running worker stops at its next heartbeat)."""
    from harness.store.queue import cancel

    if not cancel(engine(), submission_id):
        bad_input(f"submission {submission_id} does not exist or has already finished")
    console.print(f"submission {submission_id} cancelled")


@app.command("migrate", rich_help_panel=PANEL)
def migrate_cmd() -> None:
    """Bring the results store to the newest schema (every command does this first; compose runs it once)."""
    from harness.settings import get_settings

    engine()
    console.print(f"store migrated: {escape(masked(get_settings().database))}", highlight=False)


token_app = typer.Typer(help="Write tokens for POST /api/submissions (stored hashed; shown once).")
app.add_typer(token_app, name="token", rich_help_panel=PANEL)


@token_app.command("create")
def token_create_cmd(name: Annotated[str, typer.Argument(help="Who the token is for, e.g. a team name.")]) -> None:
    """Create a token and print it once (only its sha256 is stored)."""
    from harness.store.tokens import TokenError, create_token

    if not name.strip() or len(name) > 100 or not name.isprintable():
        bad_input("token name: 1-100 printable characters")
    try:
        token = create_token(engine(), name.strip())
    except TokenError as err:
        bad_input(str(err))
    typer.echo(token)


@token_app.command("list")
def token_list_cmd() -> None:
    """Tokens by name (never the token itself)."""
    from harness.store.tokens import list_tokens

    table = Table("name", "created", "last used", "revoked")
    for t in list_tokens(engine()):
        table.add_row(escape(t.name), str(t.created_at or "-"), str(t.last_used_at or "-"), "yes" if t.revoked else "")
    console.print(table)


@token_app.command("revoke")
def token_revoke_cmd(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    from harness.store.tokens import TokenError, revoke_token

    try:
        revoke_token(engine(), name)
    except TokenError as err:
        bad_input(str(err))
    console.print(f"token {escape(name)} revoked")
