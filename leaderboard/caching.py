"""Conditional GETs for the leaderboard's API: an ETag per (store version, request), ``304 Not Modified`` when the
client (or a CDN in front) already holds it.

The store version is the shown protocol's :class:`leaderboard.queries.Protocol` (its succeeded submission count,
newest id and newest finish time): it changes when a result lands or is completed in place, and only then, so a
revalidation costs one small query and no ranking. The tag is weak (``W/``): the gzip middleware may send the same
representation compressed or not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Any

from fastapi import Request, Response

#: Caches (browsers, a CDN) may keep a response but must revalidate it on every use: a new result shows at once.
CACHE_CONTROL = "public, no-cache"


@cache
def _release() -> str:
    """This installed release (pages change with it), read from the package metadata: the web imports no harness
    module beyond the store and the configuration."""
    try:
        return metadata.version("verifier-ladder")
    except metadata.PackageNotFoundError:
        return "unknown"


def etag(request: Request, version: Any) -> str:
    """The tag of what ``request`` gets under store ``version`` (and this release of the app)."""
    parts = [_release(), version, request.url.path, sorted(request.query_params.multi_items())]
    return 'W/"' + hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32] + '"'


def _held(request: Request, tag: str) -> bool:
    wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
    return "*" in wanted or tag in wanted or tag.removeprefix("W/") in wanted


def conditional(request: Request, version: Any, build: Callable[[], Response]) -> Response:
    """``304`` when the client holds this version's response, else ``build()``; both carry the tag."""
    tag = etag(request, version)
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
    if _held(request, tag):
        return Response(status_code=304, headers=headers)
    response = build()
    response.headers.update(headers)
    return response
