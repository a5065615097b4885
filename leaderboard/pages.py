"""Every HTML page as a function of (database session, links, request state) -> HTML text.

The FastAPI routes and the static exporter call the same functions, so the exported site is the served site.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leaderboard import queries
from leaderboard.queries import Protocol
from leaderboard.ranking import DELTA_PREFIX, KINDS, SORT_KEYS, Filters, default_descending, sort_rows
from leaderboard.render import render
from leaderboard.views import LeaderboardRow, SubmissionDetail

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class BadRequest(ValueError):
    """A query parameter the page cannot honour (the message says which and why)."""


@dataclass(frozen=True)
class HomeQuery:
    """The leaderboard view's state; every field is a URL query parameter, so a view can be linked."""

    task: str | None = None
    sort: str = "rank"
    dir: str = ""
    page: int = 1
    filters: Filters = field(default_factory=Filters)

    @property
    def descending(self) -> bool:
        return self.dir == "desc" if self.dir else default_descending(self.sort)

    def params(self, **override) -> dict:
        """This view's query parameters (defaults left out), with ``override`` applied: for links."""
        f = self.filters
        state = {"sort": None if self.sort == "rank" else self.sort, "dir": self.dir or None,
                 "page": self.page if self.page > 1 else None, "q": f.q, "backend": f.backend, "kind": f.kind,
                 "hide_simulated": int(f.hide_simulated) or None, "pareto_only": int(f.pareto_only) or None,
                 "gate": f.gate}
        state.update(override)
        return {k: v for k, v in state.items() if v not in (None, "")}

    def sort_link_state(self, key: str) -> dict:
        """Query state after clicking column ``key``: same column flips direction, a new one starts best-first."""
        if key == self.sort:
            direction = "asc" if self.descending else "desc"
        else:
            direction = "desc" if default_descending(key) else "asc"
        return self.params(sort=key, dir=direction, page=None)


def _check_sort(query: HomeQuery, students: list[str]) -> None:
    allowed = set(SORT_KEYS) | {DELTA_PREFIX + s for s in students}
    if query.sort not in allowed:
        raise BadRequest(f"sort={query.sort!r} is not a column; use one of {', '.join(sorted(allowed))}")
    if query.dir not in ("", "asc", "desc"):
        raise BadRequest(f"dir={query.dir!r}: use 'asc' or 'desc'")


@dataclass
class TaskTable:
    task: str
    students: list[str]
    rows: list[LeaderboardRow]  # all rows, official order
    backends: frozenset[str] = frozenset()
    sorted_views: dict = field(default_factory=dict, repr=False)  # (sort, descending) -> rows; lives as long as this


def task_tables(session: Session, protocol: Protocol) -> list[TaskTable]:
    out = []
    for task in queries.tasks(session, protocol):
        rows = queries.leaderboard(session, protocol, task)
        out.append(TaskTable(task, queries.student_names(rows), rows, frozenset(r.backend for r in rows)))
    return out


def view_rows(table: TaskTable, query: HomeQuery) -> list[LeaderboardRow]:
    """The table's rows after the query's filters and sort (before paging)."""
    _check_sort(query, table.students)
    if query.sort == "rank" and not query.descending:
        ordered = table.rows
    else:  # a sort of every row, kept with the table (which is rebuilt when the data changes)
        key = (query.sort, query.descending)
        ordered = table.sorted_views.get(key)
        if ordered is None:
            ordered = table.sorted_views[key] = sort_rows(table.rows, query.sort, query.descending)
    return [r for r in ordered if query.filters.keep(r)] if query.filters.active else ordered


def home_page(tables: list[TaskTable], links, found: list[Protocol], protocol: Protocol | None, query: HomeQuery,
              page_size: int, show_all: bool = False) -> str:
    by_name = {t.task: t for t in tables}
    if query.task and query.task not in by_name:
        raise BadRequest(f"task={query.task!r} has no results under this protocol; tasks: {', '.join(by_name) or '-'}")
    current = by_name.get(query.task) if query.task else (tables[0] if tables else None)
    rows, total, pages = [], 0, 1
    if current is not None:
        rows = view_rows(current, query)
        total = len(rows)
        if not show_all:
            pages = max(1, -(-total // page_size))
            rows = rows[(query.page - 1) * page_size: query.page * page_size]
    backends = sorted(set().union(*(t.backends for t in tables)))
    return render("home.html", links=links, protocols=found, protocol=protocol, tables=tables, current=current,
                  rows=rows, total=total, pages=pages, query=query, backends=backends, kinds=KINDS)


def submission_page(session: Session, links, sid: int) -> str | None:
    detail = queries.submission_detail(session, sid)
    return None if detail is None else render_submission(links, detail)


def render_submission(links, detail: SubmissionDetail) -> str:
    return render("submission.html", links=links, d=detail)


def compare_page(engine: Engine, session: Session, links, a: int | None, b: int | None) -> str:
    from harness.store.compare import CompareError, compare

    result, error = None, None
    if a and b:
        try:
            result = compare(engine, str(a), str(b))
        except CompareError as err:
            error = str(err)
    choices = [s for s in queries.submissions(session, "succeeded", limit=500)[1]]
    return render("compare.html", links=links, a=a, b=b, result=result, error=error, choices=choices,
                  names={s.id: f"{s.family} @ {s.release} (#{s.id})" for s in choices})


def submissions_page(session: Session, links, status: str | None, page: int, page_size: int) -> str:
    if status and status not in STATUSES:
        raise BadRequest(f"status={status!r}: use one of {', '.join(STATUSES)}")
    total, subs = queries.submissions(session, status, limit=page_size, offset=(page - 1) * page_size)
    return render("submissions.html", links=links, subs=subs, status=status, statuses=STATUSES, total=total,
                  page=page, pages=max(1, -(-total // page_size)))


def error_page(links, status: int, message: str) -> str:
    return render("error.html", links=links, status=status, message=message)
