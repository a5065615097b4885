"""What the operator lets a queued manifest do, checked where work enters: the API, ``ladder submit``, and the
worker before it runs a claimed job (a job written into the queue directly is checked too).

A manifest that parses can still be hostile. Here it is held to the operator's policy (typed settings, see
:class:`~harness.settings.Settings`):

- **endpoint** (``openai`` backend): key variables on the allow-list only, each sent only to its hosts; public
  addresses only (:mod:`harness.egress`);
- **model.path**: only inside the operator's ``models_root`` (symlinks resolved), else refused; hub ids are
  checked by :class:`~harness.models.loading.ModelRef` itself (``owner/name``, no ``..``);
- **rubric_template**: rendered once with sample values under the run-time limits
  (:mod:`harness.rubric_template`).

Refusals say what was refused, never what exists on the host (the reason is public).
"""

from __future__ import annotations

from pathlib import Path

from harness.egress import EgressPolicy, check_endpoint
from harness.rubric_template import TemplateRefused, check_template
from harness.settings import Settings
from harness.submission import Manifest, ManifestError


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def admission_problems(manifest: Manifest, settings: Settings) -> list[tuple[str, str]]:
    """``(field, problem)`` for every rule of the operator's policy the manifest breaks."""
    problems: list[tuple[str, str]] = []
    if manifest.endpoint is not None:
        policy = EgressPolicy.from_settings(settings)
        problems += [(e.field, e.problem) for e in check_endpoint(manifest.endpoint, policy)]
    if manifest.model is not None and manifest.model.path is not None:
        root = settings.models_root
        if root is None:
            problems.append(("model.path", "local model folders are not accepted here; name a hub id"))
        elif not _inside(root / manifest.model.path, root):  # relative paths are taken under the root
            problems.append(("model.path", "must be a folder inside the operator's models folder"))
    if manifest.rubric_template is not None:
        try:
            check_template(manifest.rubric_template)
        except TemplateRefused as err:
            problems.append(("rubric_template", f"cannot be rendered: {err}"))
    return problems


def admit(manifest: Manifest, settings: Settings, source: str = "manifest") -> None:
    """Raise :class:`ManifestError` (fields named) unless the operator's policy admits ``manifest``."""
    problems = admission_problems(manifest, settings)
    if problems:
        lines = "\n".join(f"  {field}: {problem}" for field, problem in problems)
        raise ManifestError(f"{source}: refused by this leaderboard's policy\n{lines}", problems)


def admitted_path(manifest: Manifest, settings: Settings) -> Manifest:
    """``manifest`` with a relative ``model.path`` made absolute under ``models_root`` (call after :func:`admit`)."""
    if manifest.model is None or manifest.model.path is None or settings.models_root is None:
        return manifest
    path = (settings.models_root / manifest.model.path).resolve()
    return manifest.model_copy(update={"model": manifest.model.model_copy(update={"path": path})})
