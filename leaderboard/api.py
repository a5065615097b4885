"""The JSON API (documented in /openapi.json): every table readable without a token, CSV/Parquet downloads of
each leaderboard and each submission's per-item rows, and the one write, ``POST /api/submissions``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import astuple
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from harness.config import PROFILES
from harness.store import schema
from harness.store.compare import Comparison
from leaderboard import queries
from leaderboard.caching import conditional
from leaderboard.exports import csv_chunks, json_chunks, json_document, leaderboard_table, parquet_chunks
from leaderboard.pages import BadRequest, HomeQuery, TaskTable, view_rows
from leaderboard.ranking import DELTA_PREFIX, KINDS, SORT_KEYS, Filters
from leaderboard.store import ReadStore
from leaderboard.views import (
    MAX_ID,
    CompactLeaderboard,
    Leaderboard,
    Offset,
    Problem,
    SubmissionDetail,
    SubmissionId,
    SubmissionSummary,
    utc,
)

logger = logging.getLogger(__name__)

_STATUS = {
    400: "Bad request: a parameter's value is not one this route knows (the detail names it).",
    401: "No valid bearer token.",
    404: "Not found: the detail says what is missing and what exists.",
    413: "Request body larger than the server's limit.",
    415: "Unsupported content type.",
    422: "Invalid parameters or body: each bad field is named in `errors`.",
    500: "Internal error (the server logged the details; none reach the client).",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these error statuses, all with the one error model (:class:`Problem`)."""
    return {code: {"model": Problem, "description": _STATUS[code]} for code in codes}


#: A conditional GET (leaderboard.caching): the client's If-None-Match holds the current version.
NOT_MODIFIED = {304: {"description": "Not modified: the client's If-None-Match names the current version."}}

# Every API route can answer a 422 (bad parameters) and a 500, with the one error model; declaring 422 here also
# replaces FastAPI's own validation-error schema, which is not what the server sends.
router = APIRouter(prefix="/api", responses=errors(422, 500))

# The tables anyone may read in full (the api_tokens table is never served).
PUBLIC_TABLES = {t.__tablename__: t for t in (schema.Family, schema.Release, schema.Submission, schema.RunDocument,
                                                schema.AuditRow, schema.StudentRow, schema.SeedRow,
                                                schema.TrainingPoint,
                                                schema.VerdictRow, schema.PredictionRow)}


def get_store(request: Request) -> ReadStore:
    return request.app.state.store


Store = Annotated[ReadStore, Depends(get_store)]


class ProtocolOut(BaseModel):
    profile: str
    version: str
    digest: str
    submissions: int


class SubmissionPage(BaseModel):
    total: int = Field(description="Submissions matching the filter (before paging).")
    items: list[SubmissionSummary]


class Queued(BaseModel):
    id: int
    status: str
    created: bool = Field(description="False: this manifest was already submitted under this protocol.")
    url: str


class TablePage(BaseModel):
    table: str
    total: int = Field(description="Rows in the table (before paging).")
    items: list[dict[str, Any]] = Field(description="The rows, by id; times are UTC (ISO 8601 with zone).")
    next: int | None = Field(default=None, description="`after` for the next page (null: this page is the last).")


@router.get("/protocols", response_model=list[ProtocolOut], summary="Protocols with results, newest first")
def list_protocols(store: Store):
    return [ProtocolOut(profile=p.profile, version=p.version, digest=p.digest, submissions=p.submissions)
            for p in store.protocols()]


@router.get("/tasks", response_model=list[str], summary="Target tasks with results under a protocol")
def list_tasks(store: Store, profile: str | None = None, digest: str | None = None):
    protocol = queries.pick_protocol(store.protocols(), profile, digest)
    return [t.task for t in store.tables(protocol)] if protocol is not None else []


def _leaderboard(store: ReadStore, task: str | None, profile: str | None, digest: str | None, sort: str,
                 dir: str, filters: Filters):
    protocol = queries.pick_protocol(store.protocols(), profile, digest)
    tables = {t.task: t for t in store.tables(protocol)} if protocol is not None else {}
    known = _profile_tasks(protocol.profile if protocol else profile or "production")
    task = task or next(iter(tables), None) or next(iter(known), None)
    if task in tables:
        table = tables[task]
    elif task in known and not digest:  # a task of the protocol without results (yet): an empty table
        table = TaskTable(task=task, students=[], rows=[])
    else:
        raise HTTPException(404, f"task {task!r} has no results under "
                                 f"{protocol.label if protocol else repr(profile or 'production')}; tasks: "
                                 f"{', '.join(tables) or ', '.join(known) or 'none'}")
    if sort.startswith(DELTA_PREFIX) and sort.removeprefix(DELTA_PREFIX) not in table.students:
        raise HTTPException(404, f"sort={sort!r}: no student {sort.removeprefix(DELTA_PREFIX)!r} on the {task} "
                                 f"table; students: {', '.join(table.students) or 'none'}")
    try:
        rows = view_rows(table, HomeQuery(task=task, sort=sort, dir=dir, filters=filters))
    except BadRequest as err:
        raise HTTPException(400, str(err)) from None
    version = astuple(protocol) if protocol else None  # the cache validator (leaderboard.caching)
    return (protocol.profile if protocol else profile or "production"), table, rows, version


SortKey = Annotated[str, Query(
    pattern=f"^({'|'.join(SORT_KEYS)}|{DELTA_PREFIX}.+)$", max_length=300,
    description=f"Column to sort by: {', '.join(SORT_KEYS)}, or {DELTA_PREFIX}STUDENT (that student's seed-mean "
                "delta; a student not on the table is a 404). The rank column keeps the official rank.")]


def _profile_tasks(profile: str) -> tuple[str, ...]:
    """The tasks a named profile measures (none for another name)."""
    from harness.config import PROFILES

    return PROFILES[profile]().tasks if profile in PROFILES else ()


def _filters(q: str = Query("", max_length=100), backend: str = "",
             kind: Annotated[Literal["", *KINDS], Query(description="Only verifiers of this kind.")] = "",
             hide_simulated: bool = False, pareto_only: bool = False,
             gate: Literal["", "above", "below"] = "") -> Filters:
    return Filters(q=q, backend=backend, kind=kind, hide_simulated=hide_simulated, pareto_only=pareto_only,
                   gate=gate)


@router.get("/leaderboard", response_model=Leaderboard, summary="A task's leaderboard (ranked, filtered, paged)",
            responses={**NOT_MODIFIED, **errors(400, 404)},
            description="Rows are each release's newest succeeded submission under the protocol, ranked by rubric "
                        "accuracy then cost. `limit=0` returns every row.")
def get_leaderboard(request: Request, store: Store, filters: Annotated[Filters, Depends(_filters)],
                    task: str | None = None, profile: str | None = None, digest: str | None = None,
                    sort: SortKey = "rank", dir: Literal["", "asc", "desc"] = "",
                    limit: int = Query(100, ge=0, le=100000), offset: Offset = 0):
    shown, table, rows, version = _leaderboard(store, task, profile, digest, sort, dir, filters)
    page = rows[offset: offset + limit] if limit else rows[offset:]
    board = Leaderboard(profile=shown, task=table.task, students=table.students, total=len(rows), items=page)
    return conditional(request, version, lambda: Response(board.model_dump_json(), media_type="application/json"))


@router.get("/leaderboard.{fmt}", summary="A task's leaderboard as CSV or JSON (every row), streamed",
            description="`compact=true` (JSON): the CSV's columns once and one array per row, about a third of the "
                        "full form's size.",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}},
                                         "application/json": {"schema": {"anyOf": [
                                             {"$ref": "#/components/schemas/Leaderboard"},
                                             {"$ref": "#/components/schemas/CompactLeaderboard"}]}}}},
                       **NOT_MODIFIED, **errors(400, 404)})
def download_leaderboard(request: Request, store: Store, fmt: Literal["csv", "json"],
                         filters: Annotated[Filters, Depends(_filters)], task: str | None = None,
                         profile: str | None = None, digest: str | None = None, sort: SortKey = "rank",
                         dir: Literal["", "asc", "desc"] = "",
                         limit: int = Query(0, ge=0, le=100000, description="First N rows (0: all)."),
                         compact: bool = False):
    shown, table, rows, version = _leaderboard(store, task, profile, digest, sort, dir, filters)
    head = {"profile": shown, "task": table.task, "students": table.students, "total": len(rows)}  # before limit
    rows = rows[:limit] if limit else rows

    def build() -> Response:
        if fmt == "json" and not compact:
            return StreamingResponse(json_document(head, ([r.model_dump_json() for r in part]
                                                          for part in _chunks(rows))), media_type="application/json")
        columns, lines = leaderboard_table(rows, table.students)
        if fmt == "json":
            return StreamingResponse(json_document({**head, "columns": columns},
                                                   ([json.dumps(line, allow_nan=False, default=str) for line in part]
                                                    for part in _chunks(lines))), media_type="application/json")
        return StreamingResponse(csv_chunks(columns, _chunks(lines)), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition":
                                          f'attachment; filename="leaderboard-{shown}-{table.task}.csv"'})

    return conditional(request, version, build)


def _chunks(values: list, size: int = 500) -> Iterator[list]:
    return (values[i:i + size] for i in range(0, len(values), size))


Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


@router.get("/submissions", response_model=SubmissionPage, summary="Submissions and their queue status")
def list_submissions(store: Store, status: Status | None = None,
                     limit: int = Query(100, ge=1, le=1000), offset: Offset = 0):
    with store.session() as session:
        total, items = queries.submissions(session, status, limit, offset)
    return SubmissionPage(total=total, items=items)


@router.get("/submissions/{sid}", response_model=SubmissionDetail, responses=errors(404),
            summary="A submission: manifest, audit metrics, student outcomes, release history")
def get_submission(store: Store, sid: SubmissionId):
    with store.session() as session:
        detail = queries.submission_detail(session, sid)
    if detail is None:
        raise HTTPException(404, f"no submission {sid}")
    return detail


@router.get("/submissions/{sid}/document", summary="The submission's versioned result document (JSON)",
            response_model=dict[str, Any], responses=errors(404))
def get_document(store: Store, sid: SubmissionId):
    with store.session() as session:
        doc = queries.document(session, sid)
    if doc is None:
        raise HTTPException(404, f"submission {sid} has no result document")
    return JSONResponse(doc)


@router.get("/submissions/{sid}/training", summary="DPO loss per step, per task, student and training seed",
            description="`{task: {student: {seed: [[step, loss], ...]}}}`: each training seed is its own self-DPO "
                        "run from the frozen student, with its own steps (JSON object keys are strings: the seed as "
                        "a decimal number; each point is [step, loss]).", responses=errors(404))
def get_training(store: Store, sid: SubmissionId) -> dict[str, dict[str, dict[str, list[list[float]]]]]:
    with store.session() as session:
        if session.get(schema.Submission, sid) is None:
            raise HTTPException(404, f"no submission {sid}")
        curves = queries.training(session, sid)
    out: dict[str, dict[str, dict[str, list]]] = {}
    for (task, student), by_seed in curves.items():
        out.setdefault(task, {})[student] = {str(seed): points for seed, points in by_seed.items()}
    return out


@router.get("/submissions/{sid}/{kind}.{fmt}",
            summary="Per-item rows (audit verdicts, eval predictions) or per-seed results",
            description="`kind`: verdicts (one row per audit judgment), predictions (one row per eval answer, "
                        "phase baseline (seed 0) or post (its training seed)) or seeds (one row per student and "
                        "training seed: its post, delta and item-only 95% CI, McNemar p, whether the loss fell); "
                        "`fmt`: csv, parquet or json.",
            responses={200: {"content": {"application/json": {"schema": {"type": "array", "items": {
                                             "type": "object"}}},
                                         "text/csv": {"schema": {"type": "string"}},
                                         "application/vnd.apache.parquet": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}},
                       **errors(404)})
def get_items(store: Store, sid: SubmissionId, kind: Literal["verdicts", "predictions", "seeds"],
              fmt: Literal["csv", "parquet", "json"]):
    """Every format streams from the database as it is sent (Parquet one row group per 1,000 rows, its footer
    last)."""
    with store.session() as session:
        if session.get(schema.Submission, sid) is None:
            raise HTTPException(404, f"no submission {sid}")
    columns, query = queries.item_query(sid, kind)
    name = f"submission-{sid}-{kind}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "parquet":
        types = [c.type.python_type for c in query.selected_columns]
        return StreamingResponse(parquet_chunks(columns, types, store.stream(query)),
                                 media_type="application/vnd.apache.parquet", headers=disposition)
    if fmt == "csv":
        return StreamingResponse(csv_chunks(columns, store.stream(query)), media_type="text/csv; charset=utf-8",
                                 headers=disposition)
    return StreamingResponse(json_chunks(columns, store.stream(query)), media_type="application/json")


@router.get("/compare", summary="Is release B worse than release A? (ladder compare)",
            response_model=Comparison, responses=errors(404))
def get_compare(store: Store, a: Annotated[str, Query(max_length=300)], b: Annotated[str, Query(max_length=300)]):
    from harness.store.compare import CompareError, compare

    try:
        return compare(store.engine, a, b)
    except CompareError as err:
        raise HTTPException(404, str(err)) from None


@router.get("/tables/{table}", response_model=TablePage, summary="Any public table of the store, paged",
            description="Tables: " + ", ".join(PUBLIC_TABLES) + ".", responses=errors(404))
def get_table(store: Store, table: str, limit: int = Query(100, ge=1, le=1000), offset: Offset = 0,
              after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Keyset paging: rows with an id above "
                                                 "this one (the previous page's `next`); fast at any depth, "
                                                 "where a large offset scans every row it skips.")] = None):
    model = PUBLIC_TABLES.get(table)
    if model is None:
        raise HTTPException(404, f"no public table {table!r}; tables: {', '.join(PUBLIC_TABLES)}")
    query = select(*model.__table__.columns).order_by(model.id).limit(limit)
    query = query.where(model.id > after) if after is not None else query.offset(offset)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(model))
        items = [{k: utc(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()}
                 for r in session.execute(query)]
    return TablePage(table=table, total=total, items=items, next=items[-1]["id"] if len(items) == limit else None)


# ---- the one write ----------------------------------------------------------------------------------------------

def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _body(request: Request) -> bytes:
    """The request body, read on the event loop (the handler itself runs in a thread); the Hardening middleware
    bounds its size."""
    return await request.body()


def _rejected(detail: str, fields: list[tuple[str, str]]) -> JSONResponse:
    return JSONResponse(Problem(detail=detail, errors=[{"field": f, "message": m} for f, m in fields]).model_dump(),
                        status_code=422)


#: The named protocol profiles (never a JSON file path, which ``get_protocol`` would also read).
ProfileName = Literal[tuple(PROFILES)]  # type: ignore[valid-type]

#: The content types a manifest may come in; anything else is a 415.
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def _add_component(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, part in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, part) != part:
            raise RuntimeError(f"{model.__name__}'s schema part {name!r} clashes with another component of that name")


def complete_openapi(openapi: dict[str, Any]) -> dict[str, Any]:
    """What FastAPI cannot infer: ``POST /api/submissions``'s body (the manifest's JSON schema, its parts added
    to the components, as JSON, or the same fields as YAML text) and the bearer scheme it needs; the compact
    leaderboard download's schema."""
    from harness.submission import Manifest

    components = openapi.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _add_component(schemas, Manifest)
    _add_component(schemas, CompactLeaderboard)
    components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    yaml_body = {"schema": {"type": "string", "description": "The manifest as YAML: the fields of `Manifest`."}}
    operation = openapi["paths"]["/api/submissions"]["post"]
    operation["requestBody"] = {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Manifest"}},
        **{kind: yaml_body for kind in YAML_TYPES}}}
    operation["security"] = [{"bearer": []}]
    return openapi


@router.post("/submissions", status_code=201, response_model=Queued,
             summary="Queue a verifier manifest (needs a bearer token)",
             description="Body: the manifest as JSON (`application/json`) or YAML (`application/yaml`). "
                         "`profile` picks the protocol. 201: queued; 200: already submitted under this protocol "
                         "(the existing id); 401: no valid token; 413: body too large; 415: another content type; "
                         "422: invalid manifest, each bad field named. Nothing is stored unless the manifest is "
                         "valid.",
             responses={200: {"model": Queued, "description": "Already submitted: the existing submission."},
                        **errors(401, 413, 415)})
def post_submission(request: Request, store: Store, body: Annotated[bytes, Depends(_body)],
                    profile: Annotated[ProfileName, Query(description="The protocol to run it under.")] = "production"):
    """A plain ``def``: FastAPI runs it in its thread pool, because everything here blocks (the token check and
    the write wait on the database, parsing a 64 KB YAML body can take a second). On the event loop, one request
    waiting on a locked store would stall every other request, /healthz included."""
    from harness.admission import admit
    from harness.config import get_protocol
    from harness.store.queue import ProtocolKey, submit
    from harness.store.tokens import verify_token
    from harness.submission import ManifestError, load_manifest_text, parse_manifest

    who = verify_token(store.engine, _bearer(request))
    if who is None:
        return JSONResponse({"detail": "a valid bearer token is required to submit"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as err:
                return _rejected(f"body is not valid JSON: {err}", [("(body)", "not valid JSON")])
            except RecursionError:  # the C decoder's limit, reached within microseconds
                return _rejected("body is not valid JSON: nested too deeply", [("(body)", "nested too deeply")])
            manifest = parse_manifest(data, "request body")
        elif kind in YAML_TYPES:
            manifest = load_manifest_text(body.decode("utf-8", errors="replace"), "request body")
        else:
            return JSONResponse({"detail": f"unsupported content type {kind!r}: send application/json or "
                                           "application/yaml"}, status_code=415)
        admit(manifest, request.app.state.settings, "request body")  # the operator's policy (harness.admission)
    except ManifestError as err:
        return _rejected(str(err), err.fields or [("(body)", str(err))])
    protocol = get_protocol(profile)
    key = ProtocolKey.of(protocol)
    job, created = submit(store.engine, manifest.model_dump(mode="json"), manifest.digest(), key)
    logger.info("submission %d %s by token %r", job.id, "queued" if created else "already present", who)
    out = Queued(id=job.id, status=job.status, created=created, url=f"/submissions/{job.id}")
    return JSONResponse(out.model_dump(), status_code=201 if created else 200, headers={"Location": out.url})
