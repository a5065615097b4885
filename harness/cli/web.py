"""The leaderboard: `serve` and `export-site` (the only CLI module that imports :mod:`leaderboard`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from harness.cli.common import app, bad_input, console, engine, masked

PANEL = "Leaderboard"


@app.command("serve", rich_help_panel=PANEL)
def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
) -> None:
    """Serve the leaderboard (pages, charts, JSON API) from the store: SQLite under the data dir by default,
    LADDER_DATABASE_URL otherwise."""
    import uvicorn

    from harness.settings import get_settings

    engine()  # migrate before the first request
    console.print(f"Leaderboard on http://{host}:{port}/ (store: {escape(masked(get_settings().database))})",
                  highlight=False)
    uvicorn.run("leaderboard.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, log_level="info")


@app.command("export-site", rich_help_panel=PANEL)
def export_site_cmd(
    out: Annotated[Path, typer.Argument(help="Folder to write the static site into.")],
    profile: Annotated[str | None, typer.Option(help="Protocol profile (default: production, else newest).")] = None,
    digest: Annotated[str | None, typer.Option(help="Protocol digest prefix, for an older protocol.")] = None,
) -> None:
    """Write the whole leaderboard (pages, charts, CSV/JSON/Parquet) as static files for any static host."""
    from leaderboard.site import ExportError, export_site
    from leaderboard.store import ReadStore

    try:
        counts = export_site(ReadStore(engine()), out, profile, digest)
    except ExportError as err:
        bad_input(str(err))
    console.print(f"{counts['pages']} pages, {counts['plots']} charts, {counts['data']} data files in "
                  f"{escape(str(out))}; open {escape(str(out / 'index.html'))}", highlight=False)
