"""What a result document may say in public: no host paths.

The leaderboard serves every stored result document and every table derived from it to anyone, so the document
a run hands to the store names its files relative to the data directory (``runs/...``, ``artifacts/...``) instead
of by the host's absolute paths, which tell readers about the host (user names, mount layout) and reproduce
nothing elsewhere. The run's own files keep their absolute paths; only the published copy is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.settings import Settings

# Keys whose values are file paths: an absolute one outside every known root keeps only its last component.
_PATH_KEYS = ("path",)
_PATH_SUFFIXES = ("_path", "_predictions")


def _roots(settings: Settings) -> list[tuple[str, str]]:
    """``(absolute root, public label)``, longest root first; the data directory's label is empty (relative)."""
    found: dict[str, str] = {}
    for root, label in ((settings.artifacts_readonly_dir, "artifacts"), (settings.artifacts, "artifacts"),
                        (settings.data_dir, "")):
        if root is None:
            continue
        for form in {str(root), str(root.resolve())}:
            if form.startswith("/") and form != "/":
                found.setdefault(form.rstrip("/"), label)
    return sorted(found.items(), key=lambda r: len(r[0]), reverse=True)


def redactor(settings: Settings) -> Callable[[str], str]:
    """A function rewriting every path under the data directory or an artifact store in a text (a path field, a
    failure reason) to its public, relative form."""
    roots = _roots(settings)
    if not roots:
        return lambda text: text
    pattern = re.compile("(" + "|".join(re.escape(r) for r, _ in roots) + r")(/|(?![\w.-]))")
    labels = dict(roots)

    def sub(m: re.Match) -> str:
        label = labels[m.group(1)]
        if m.group(2) == "/":
            return f"{label}/" if label else ""
        return label or "."

    return lambda text: pattern.sub(sub, text)


def redact(text: str, settings: Settings) -> str:
    """``text`` with its paths under the data directory or an artifact store made relative (see :func:`redactor`)."""
    return redactor(settings)(text)


def public_document(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A copy of a result document fit to publish: paths under the data directory relative to it, artifact paths as
    ``artifacts/...``, any other absolute path in a path field cut to its last component."""
    rewrite = redactor(settings)

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if not isinstance(value, str):
            return value
        out = rewrite(value)
        if out.startswith("/") and (key in _PATH_KEYS or key.endswith(_PATH_SUFFIXES)):
            out = Path(out).name
        return out

    return walk(document)
