"""The published non-weight files of the production checkpoints, kept in the repository.

Nothing here can reach the hub, yet three things need what the checkpoints publish: the GPU-hours estimate (each
model's geometry, from ``config.json``), the decoding settings the protocol overrides (``generation_config.json``)
and the real-layout test checkpoints (every non-weight file, sizes scaled down). Each model's folder holds the files
found for it in public copies of its hub repository; ``sources.json`` says, per file, where it was found, its git
blob (the hub's ETag of a small file) and whether it is verbatim, a sibling checkpoint's copy of a file the family
shares (``from``), or derived (not found: rebuilt from a sibling, ``note`` says how). Stdlib only: the estimate reads
this on machines without torch.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parent
logger = logging.getLogger(__name__)


def folder_name(hub_id: str) -> str:
    """``Qwen/Qwen3-VL-2B-Instruct`` -> ``Qwen--Qwen3-VL-2B-Instruct`` (the hub cache's spelling, minus 'models--')."""
    return hub_id.replace("/", "--")


@cache
def sources() -> dict:
    return json.loads((ROOT / "sources.json").read_text())


def models() -> list[str]:
    """Hub ids with published files here."""
    return sorted(sources()["models"])


def file_source(hub_id: str, filename: str) -> dict | None:
    """``sources.json``'s entry for one file of one model (None: not kept here)."""
    entry = sources()["models"].get(hub_id)
    return None if entry is None else entry["files"].get(filename)


def published_path(hub_id: str, filename: str) -> Path | None:
    """The kept file: the model's own copy, or the sibling's it names (``from``); None if none is kept."""
    source = file_source(hub_id, filename)
    if source is None:
        return None
    own = ROOT / folder_name(hub_id) / filename
    if own.is_file():
        return own
    sibling = source.get("from")
    return published_path(sibling, filename) if sibling and sibling != hub_id else None


def published_json(hub_id: str, filename: str) -> dict | None:
    path = published_path(hub_id, filename)
    return None if path is None else json.loads(path.read_text())


def checkpoint_json(hub_id: str, filename: str, revision: str = "main") -> tuple[dict, str] | None:
    """One JSON file of a hub checkpoint and where it was read: the hub cache at ``revision`` (what ``ladder fetch``
    downloaded; never the network), else the copy kept here; None if neither has it."""
    path = None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(hub_id, filename, revision=revision)
        path = found if isinstance(found, str) else None
    except Exception:  # a repo id the hub would refuse, a broken cache: fall through to the kept copy
        logger.debug("no cached %s for %s@%s", filename, hub_id, revision, exc_info=True)
    if path is not None:
        try:
            return json.loads(Path(path).read_text()), f"{filename} of {hub_id}@{revision} (hub cache)"
        except (OSError, ValueError) as err:
            logger.warning("unreadable cached %s for %s@%s (%s): using the kept copy", filename, hub_id, revision,
                           err)
    data = published_json(hub_id, filename)
    if data is None:
        return None
    status = (file_source(hub_id, filename) or {}).get("status", "verbatim")
    return data, f"{filename} of {hub_id} (published copy, {status}: harness/models/published)"


def model_json(filename: str, path: str | Path | None = None, hub_id: str | None = None,
               revision: str | None = None) -> tuple[dict, str] | None:
    """One JSON file of a model given as a saved folder (``path``) or a hub id: the folder's file, else
    :func:`checkpoint_json`'s; None if there is none."""
    if path is not None:
        file = Path(path) / filename
        return (json.loads(file.read_text()), str(file)) if file.is_file() else None
    return checkpoint_json(hub_id, filename, revision or "main") if hub_id else None


def checkpoint_files(hub_id: str) -> dict[str, Path]:
    """Every kept non-weight file of ``hub_id``, by file name (siblings' copies resolved)."""
    entry = sources()["models"].get(hub_id)
    if entry is None:
        raise KeyError(f"no published files kept for {hub_id!r}; kept: {models()}")
    paths = {name: published_path(hub_id, name) for name in entry["files"]}
    return {name: path for name, path in paths.items() if path is not None}
