"""Recording what `ladder audit`, `ladder run` and `ladder demo` made on this machine in the results store."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.common import console, engine


def record_runs(engine, manifests, protocol, results, settings=None) -> list[int]:
    """Store runs made in this process as succeeded submissions (the same run again changes nothing); the stored
    documents name their files relative to ``settings``' data directory, as every published document does."""
    from harness.publish import public_document
    from harness.results import item_rows
    from harness.settings import get_settings
    from harness.store.queue import ProtocolKey, record

    settings = settings or get_settings()
    key = ProtocolKey.of(protocol)
    return [record(engine, m.model_dump(mode="json"), m.digest(), key,
                   public_document(r.model_dump(mode="json"), settings), item_rows(r)).id
            for m, r in zip(manifests, results, strict=True)]


def store_result(manifest, protocol, result, settings) -> int | None:
    """Record a run (or an audit-only record) made here in the store; its submission's id. A submission that already
    holds a different result keeps it (e.g. a run resumed after a kill: same numbers, other timings), and the
    stored submission's id is returned; one a worker is running right now is left alone (None). Said on stderr, so
    that stdout stays one JSON document under --json."""
    from harness.store.ingest import ResultConflict

    try:
        return record_runs(engine(), [manifest], protocol, [result], settings)[0]
    except ResultConflict as err:
        typer.echo(f"kept the stored result: {err}", err=True)
        return err.submission_id
    except ValueError as err:
        typer.echo(f"not stored: {err}", err=True)
        return None


def audit_record(manifest, protocol, audit):
    """An audit as a result document the store and leaderboard take: a run of this one task, without students."""
    from harness.documents import RunResult, TaskOutcome
    from harness.runner import run_id

    return RunResult(run_id=run_id(manifest, protocol), protocol_profile=protocol.profile,
                     protocol_digest=protocol.digest(), tasks=[TaskOutcome(task=audit.task, audit=audit, students=[])])


NoStore = Annotated[bool, typer.Option("--no-store", help="Do not record the result in the results store (by default "
                                                          "it lands on the leaderboard).", metavar="")]
Limit = Annotated[int | None, typer.Option(min=1, help="Use only the first N items of each split: a quick try-out "
                                                   "whose result is marked partial and never stored or ranked.")]


def keep_result(result, no_store: bool, limit: int | None, as_json: bool) -> bool:
    """Whether to record ``result`` in the store: not with --no-store, never a partial (--limit) one (said why)."""
    if limit is not None and not no_store and not as_json:
        console.print(f"Partial result (first {limit} items of each split): not stored, never ranked.")
    return not no_store and limit is None
