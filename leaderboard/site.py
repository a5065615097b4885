"""``ladder export-site DIR``: the whole leaderboard of one protocol as static files for any static host.

The pages are the served pages (same templates, same page functions) with file links instead of URLs:
every task tab, every column sort in both directions, every submission, every compare link of a release
history, every chart as SVG, and the data (leaderboard CSV/JSON, per-item and per-seed CSV/Parquet, result
documents). Filtering needs a server and is left out of the export.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from leaderboard import pages, plots, queries
from leaderboard.exports import leaderboard_table, to_csv, to_parquet
from leaderboard.links import StaticLinks, safe_segment, sort_file_name
from leaderboard.pages import HomeQuery
from leaderboard.ranking import DELTA_PREFIX
from leaderboard.render import STATIC
from leaderboard.store import ReadStore
from leaderboard.views import Leaderboard

logger = logging.getLogger(__name__)
SORTED_COLUMNS = ("rank", "name", "params", "rubric", "auroc", "direction", "cost", "gpu")


class ExportError(ValueError):
    """Nothing to export (no results under the asked protocol)."""


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def export_site(store: ReadStore, out: Path, profile: str | None = None, digest: str | None = None,
                progress=None) -> dict[str, int]:
    """Write the site under ``out``; returns counts of what was written."""
    found = store.protocols()
    protocol = queries.pick_protocol(found, profile, digest)
    if protocol is None:
        raise ExportError(f"no succeeded results to export (profile={profile!r}, digest={digest!r})")
    tables = store.tables(protocol)
    first = tables[0].task if tables else None
    counts = {"pages": 0, "plots": 0, "data": 0}
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(STATIC, out / "static", dirs_exist_ok=True)

    def page(rel: str, html: str) -> None:
        _write(out / rel, html)
        counts["pages"] += 1

    for t in tables:
        for key in (*SORTED_COLUMNS, *(DELTA_PREFIX + s for s in t.students)):
            for direction in ("asc", "desc"):
                query = HomeQuery(task=t.task, sort=key, dir=direction)
                rel = ("index.html" if t.task == first else f"tasks/{safe_segment(t.task)}/index.html") \
                    if key == "rank" and direction == "asc" else \
                    f"tasks/{safe_segment(t.task)}/{sort_file_name(key, direction)}"
                depth = rel.count("/")
                page(rel, pages.home_page(tables, StaticLinks(depth, first), found, protocol, query, 0, show_all=True))
        _write(out / f"plots/accuracy-delta-{safe_segment(t.task)}.svg", plots.accuracy_vs_delta(t.rows, t.task))
        _write(out / f"plots/cost-accuracy-{safe_segment(t.task)}.svg", plots.cost_vs_accuracy(t.rows, t.task))
        counts["plots"] += 2
        columns, lines = leaderboard_table(t.rows, t.students)
        _write(out / f"api/leaderboard-{safe_segment(t.task)}.csv", to_csv(columns, lines))
        board = Leaderboard(profile=protocol.profile, task=t.task, students=t.students, total=len(t.rows), items=t.rows)
        _write(out / f"api/leaderboard-{safe_segment(t.task)}.json", board.model_dump_json(indent=1))
        counts["data"] += 2
    _write(out / "plots/heatmap.svg", plots.heatmap({t.task: t.rows for t in tables}))
    counts["plots"] += 1
    _export_submissions(store, out, protocol, first, counts, page, progress)
    logger.info("exported %s to %s", counts, out)
    return counts


def _export_submissions(store, out, protocol, first, counts, page, progress) -> None:
    from leaderboard.app import training_chart

    with store.session() as session:
        _, subs = queries.submissions(session, limit=10**9)
        page("submissions/index.html", pages.submissions_page(session, StaticLinks(1, first), None, 1, 10**9))
        _write(out / "api/submissions.json", json.dumps([s.model_dump(mode="json") for s in subs], indent=1))
        compares = set()
        for s in subs:
            links = StaticLinks(2, first)
            detail = queries.submission_detail(session, s.id)
            page(f"submissions/{s.id}/index.html", pages.render_submission(links, detail))
            compares |= {(h.previous_id, h.submission_id) for h in detail.history if h.previous_id}
            doc = queries.document(session, s.id)
            if doc is not None:
                _write(out / f"api/submissions/{s.id}/document.json", json.dumps(doc))
            for kind in ("verdicts", "predictions", "seeds"):
                columns, rows = queries.item_rows(session, s.id, kind)
                _write(out / f"api/submissions/{s.id}/{kind}.csv", to_csv(columns, rows))
                _write(out / f"api/submissions/{s.id}/{kind}.parquet", to_parquet(columns, rows))
                counts["data"] += 2
            curves = queries.training(session, s.id)  # every curve of the submission in one query
            for task, cells in detail.students.items():
                _write(out / f"plots/seeds-{s.id}-{safe_segment(task)}.svg", plots.seed_deltas(cells, task))
                counts["plots"] += 1
                for cell in cells:
                    svg = training_chart(curves.get((task, cell.student), {}), cell, task)
                    _write(out / f"plots/training-{s.id}-{safe_segment(task)}-{safe_segment(cell.student)}.svg", svg)
                    counts["plots"] += 1
            if progress is not None:
                progress()
        for a, b in sorted(compares):
            page(f"compare/{a}-{b}/index.html", pages.compare_page(store.engine, session, StaticLinks(2, first), a, b))
