"""The leaderboard web app: HTML pages, SVG charts and the JSON API over the results store.

``create_app()`` builds everything from the settings when called (never at import): the engine, the read cache
and the routes. The app only reads the store, except ``POST /api/submissions``, which queues a validated
manifest for a bearer-token holder. Hardening: autoescaped templates, a request-size limit, security headers
(a CSP that allows no script at all: the pages need none), and no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from dataclasses import astuple
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, select

from harness.settings import Settings, get_settings
from leaderboard import pages, plots, queries
from leaderboard.api import complete_openapi
from leaderboard.api import router as api_router
from leaderboard.caching import conditional
from leaderboard.links import ServerLinks
from leaderboard.middleware import Hardening
from leaderboard.pages import BadRequest, HomeQuery
from leaderboard.ranking import KINDS, Filters
from leaderboard.render import STATIC, render
from leaderboard.store import ReadStore
from leaderboard.views import FieldError, OptionalId, Page, Problem, SeedResult, StudentDetail, SubmissionId

logger = logging.getLogger(__name__)
SVG = "image/svg+xml"
# An SVG is served as an image; its own policy allows the inline styles matplotlib writes and nothing else.
SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
               "Cache-Control": "no-cache"}


def _html_route(request: Request) -> bool:
    """Pages answer errors as pages, whatever the client accepts; the API, plots and static files as JSON."""
    return not request.url.path.startswith(("/api", "/plots", "/static", "/openapi", "/healthz"))


def _error(request: Request, status: int, message: str, fields: list[FieldError] | None = None) -> Response:
    if _html_route(request):
        return HTMLResponse(pages.error_page(ServerLinks(), status, message), status_code=status)
    return JSONResponse(Problem(detail=message, errors=fields or []).model_dump(), status_code=status)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    if engine is None:
        from harness.store import connect

        engine = connect(settings.database)
    app = FastAPI(title="Verifier Ladder", version="1", docs_url=None, redoc_url=None,
                  description="Verifiers for verifier-driven self-DPO of VLMs, ranked per target task by rubric "
                              "accuracy and cost. Reads need no token; POST /api/submissions needs a bearer token.")
    app.state.store = ReadStore(engine, protocols_ttl=settings.web_cache_seconds)
    app.state.settings = settings
    app.add_middleware(GZipMiddleware, minimum_size=1024)  # pages, exports and API bodies compress 5-10x
    app.add_middleware(Hardening, max_body=settings.web_max_request_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api_router)
    _contract(app)
    _error_handlers(app)
    _page_routes(app, settings)
    _plot_routes(app)
    return app


def _contract(app: FastAPI) -> None:
    """The OpenAPI document, completed where FastAPI cannot infer it (the manifest body of a submission)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = complete_openapi(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_params(request: Request, exc: RequestValidationError):
        fields = [FieldError(field=".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), message=e["msg"])
                  for e in exc.errors()]
        problems = "; ".join(f"{f.field}: {f.message}" for f in fields)
        return _error(request, 422, f"invalid request: {problems}", fields)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal error: the server logged the details")


def _home_query(task, sort, dir, page, q, backend, kind, hide_simulated, pareto_only, gate) -> HomeQuery:
    return HomeQuery(task=task, sort=sort, dir=dir, page=page,
                     filters=Filters(q=q, backend=backend, kind=kind, hide_simulated=hide_simulated,
                                     pareto_only=pareto_only, gate=gate))


def _page_routes(app: FastAPI, settings: Settings) -> None:
    store: ReadStore = app.state.store

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, task: str | None = None, profile: str | None = None, digest: str | None = None,
             sort: str = "rank", dir: Literal["", "asc", "desc"] = "", page: Page = 1,
             q: Annotated[str, Query(max_length=100)] = "", backend: str = "", kind: Literal["", *KINDS] = "",
             hide_simulated: bool = False, pareto_only: bool = False, gate: Literal["", "above", "below"] = ""):
        found = store.protocols()
        protocol = queries.pick_protocol(found, profile, digest)
        if protocol is None and (profile or digest):
            raise HTTPException(404, f"no results under profile={profile!r} digest={digest!r}")
        query = _home_query(task, sort, dir, page, q, backend, kind, hide_simulated, pareto_only, gate)

        def render_page() -> str:
            tables = store.tables(protocol) if protocol else []
            links = ServerLinks({"profile": profile, "digest": digest})
            try:
                return pages.home_page(tables, links, found, protocol, query, settings.web_page_size)
            except BadRequest as err:
                raise HTTPException(400, str(err)) from None

        # Every protocol is in the version: the page links to each of them. The rendered page is kept per version
        # and view, so a repeated view costs a cache lookup, not a render (a client without the ETag included).
        version = tuple(astuple(p) for p in found)
        view = (version, tuple(sorted(request.query_params.multi_items())))
        return conditional(request, version,
                           lambda: HTMLResponse(store.cached(("home", *view), render_page, kind="pages")))

    @app.get("/submissions", response_class=HTMLResponse, include_in_schema=False)
    def submissions(status: str | None = None, page: Page = 1):
        with store.session() as session:
            try:
                return pages.submissions_page(session, ServerLinks(), status, page, settings.web_page_size)
            except BadRequest as err:
                raise HTTPException(400, str(err)) from None

    @app.get("/submissions/{sid}", response_class=HTMLResponse, include_in_schema=False)
    def submission(request: Request, sid: SubmissionId):
        with store.session() as session:
            state = queries.submission_state(session, sid)
        if state is None:
            raise HTTPException(404, f"no submission {sid}")
        # The page shows the submission (its state) and its family's other releases, whose results are in the
        # protocols' versions: a result landing or the submission changing state gives a new version.
        version = (state, tuple(astuple(p) for p in store.protocols()))

        def render_page() -> str:
            with store.session() as session:
                html = pages.submission_page(session, ServerLinks(), sid)
            if html is None:  # deleted since the state was read
                raise HTTPException(404, f"no submission {sid}")
            return html

        return conditional(request, version,
                           lambda: HTMLResponse(store.cached(("submission", sid, version), render_page, kind="pages")))

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare(a: OptionalId = None, b: OptionalId = None):
        with store.session() as session:
            return pages.compare_page(store.engine, session, ServerLinks(), a, b)

    @app.get("/api", response_class=HTMLResponse, include_in_schema=False)
    def api_index(request: Request):
        return render("api.html", links=ServerLinks(), spec=request.app.openapi())

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        with store.session() as session:
            session.execute(select(1))
        return {"ok": True}


def _plot_routes(app: FastAPI) -> None:
    store: ReadStore = app.state.store

    def protocol_tables(profile, digest):
        protocol = queries.pick_protocol(store.protocols(), profile, digest)
        if protocol is None:
            return None, []
        return protocol, store.tables(protocol)

    @app.get("/plots/heatmap.svg", include_in_schema=False)
    def heatmap(profile: str | None = None, digest: str | None = None):
        protocol, tables = protocol_tables(profile, digest)
        svg = store.cached(("heatmap", protocol), lambda: plots.heatmap({t.task: t.rows for t in tables}))
        return Response(svg, media_type=SVG, headers=SVG_HEADERS)

    @app.get("/plots/{name}.svg", include_in_schema=False)
    def task_plot(name: Literal["accuracy-delta", "cost-accuracy"], task: str, profile: str | None = None,
                  digest: str | None = None):
        protocol, tables = protocol_tables(profile, digest)
        table = next((t for t in tables if t.task == task), None)
        if table is None:
            raise HTTPException(404, f"no results for task {task!r}")
        draw = plots.accuracy_vs_delta if name == "accuracy-delta" else plots.cost_vs_accuracy
        svg = store.cached((name, protocol, task), lambda: draw(table.rows, task))
        return Response(svg, media_type=SVG, headers=SVG_HEADERS)

    @app.get("/plots/training/{sid}.svg", include_in_schema=False)
    def training_plot(sid: SubmissionId, task: str, student: str):
        with store.session() as session:
            svg = training_svg(session, sid, task, student)
        if svg is None:
            raise HTTPException(404, f"no training of {student!r} on {task!r} in submission {sid}")
        return Response(svg, media_type=SVG, headers=SVG_HEADERS)

    @app.get("/plots/seeds/{sid}.svg", include_in_schema=False)
    def seeds_plot(sid: SubmissionId, task: str):
        with store.session() as session:
            students = queries.student_details(session, sid, task).get(task)
        if not students:
            raise HTTPException(404, f"no student results on {task!r} in submission {sid}")
        return Response(plots.seed_deltas(students, task), media_type=SVG, headers=SVG_HEADERS)


def training_svg(session, sid: int, task: str, student: str) -> bytes | None:
    found = queries.student_details(session, sid, task, student).get(task)
    if not found:
        return None
    curves = queries.training(session, sid, task, student).get((task, student), {})
    return training_chart(curves, found[0], task)


def training_chart(curves: dict[int, list[tuple[int, float]]], student: StudentDetail, task: str) -> bytes:
    """One student's training chart, one line per training seed, from its detail (every seed's rounds and post)."""
    s = student
    runs = s.seed_results or [SeedResult(seed=0, status=s.status, failure=s.failure, post=s.post, delta=s.delta,
                                         delta_ci_low=None, delta_ci_high=None, mcnemar_p=None, loss_fell=None,
                                         rounds=s.rounds)]
    return plots.training(curves, {r.seed: r.rounds for r in runs}, s.baseline, s.post, f"{s.student} on {task}",
                          seed_posts={r.seed: r.post for r in runs})
