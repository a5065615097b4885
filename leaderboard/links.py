"""Where every link of the leaderboard points: the live server's URLs, or the static export's files.

Templates never build a URL themselves; they ask a ``Links`` object, so one set of templates serves both the
FastAPI app (query strings, absolute paths) and ``ladder export-site`` (relative file paths that work under
any folder of any static host). Only ids, task names and whitelisted keys go into URLs, never a
user-controlled name.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


class ServerLinks:
    """URLs of the running app. ``keep`` holds query parameters every leaderboard link carries (the protocol)."""

    static_site = False

    def __init__(self, keep: dict[str, str] | None = None) -> None:
        self.keep = {k: v for k, v in (keep or {}).items() if v}

    def _q(self, path: str, params: dict) -> str:
        params = {k: v for k, v in params.items() if v not in (None, "", False)}
        return f"{path}?{urlencode(params)}" if params else path

    def home(self, task: str | None = None, **state) -> str:
        return self._q("/", {**self.keep, "task": task, **state})

    def submission(self, sid: int) -> str:
        return f"/submissions/{int(sid)}"

    def submissions(self, status: str | None = None) -> str:
        return self._q("/submissions", {"status": status})

    def compare(self, a: int | None = None, b: int | None = None) -> str:
        return self._q("/compare", {"a": a, "b": b})

    def plot(self, name: str, task: str | None = None) -> str:
        return self._q(f"/plots/{name}.svg", {**self.keep, "task": task})

    def training_plot(self, sid: int, task: str, student: str) -> str:
        return self._q(f"/plots/training/{int(sid)}.svg", {"task": task, "student": student})

    def seeds_plot(self, sid: int, task: str) -> str:
        return self._q(f"/plots/seeds/{int(sid)}.svg", {"task": task})

    def static(self, path: str) -> str:
        return f"/static/{path}"

    def leaderboard_data(self, task: str, fmt: str) -> str:
        return self._q(f"/api/leaderboard.{fmt}", {**self.keep, "task": task, "limit": 0 if fmt == "csv" else None})

    def items(self, sid: int, kind: str, fmt: str) -> str:
        return f"/api/submissions/{int(sid)}/{kind}.{fmt}"

    def document(self, sid: int) -> str:
        return f"/api/submissions/{int(sid)}/document"

    def api_docs(self) -> str | None:
        return "/api"


class StaticLinks:
    """Relative file paths inside an exported site, from a page ``depth`` folders below the site root."""

    static_site = True

    def __init__(self, depth: int, first_task: str | None) -> None:
        self.root = "../" * depth
        self.first_task = first_task

    def home(self, task: str | None = None, sort: str | None = None, dir: str | None = None, **_) -> str:
        task = task or self.first_task
        if sort and not (sort == "rank" and dir != "desc"):
            return f"{self.root}tasks/{_safe(task)}/sort-{_safe(sort)}-{dir or 'asc'}.html"
        if task == self.first_task or task is None:
            return f"{self.root}index.html"
        return f"{self.root}tasks/{_safe(task)}/index.html"

    def submission(self, sid: int) -> str:
        return f"{self.root}submissions/{int(sid)}/index.html"

    def submissions(self, status: str | None = None) -> str:
        return f"{self.root}submissions/index.html"

    def compare(self, a: int | None = None, b: int | None = None) -> str | None:
        return f"{self.root}compare/{int(a)}-{int(b)}/index.html" if a and b else None

    def plot(self, name: str, task: str | None = None) -> str:
        return f"{self.root}plots/{name}{'-' + _safe(task) if task else ''}.svg"

    def training_plot(self, sid: int, task: str, student: str) -> str:
        return f"{self.root}plots/training-{int(sid)}-{_safe(task)}-{_safe(student)}.svg"

    def seeds_plot(self, sid: int, task: str) -> str:
        return f"{self.root}plots/seeds-{int(sid)}-{_safe(task)}.svg"

    def static(self, path: str) -> str:
        return f"{self.root}static/{path}"

    def leaderboard_data(self, task: str, fmt: str) -> str:
        return f"{self.root}api/leaderboard-{_safe(task)}.{fmt}"

    def items(self, sid: int, kind: str, fmt: str) -> str:
        return f"{self.root}api/submissions/{int(sid)}/{kind}.{fmt}"

    def document(self, sid: int) -> str:
        return f"{self.root}api/submissions/{int(sid)}/document.json"

    def api_docs(self) -> str | None:
        return None


def sort_file_name(sort: str, direction: str) -> str:
    return f"sort-{_safe(sort)}-{direction}.html"


safe_segment = _safe
