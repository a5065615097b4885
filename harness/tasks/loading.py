"""Load task rows through the ``datasets`` library, from the hub or a local copy of it.

A local folder laid out like the hub repository (parquet files per config and split, a
README.md whose YAML header lists the configs) goes through the very same
``datasets.load_dataset`` call as the hub id, so offline tests exercise the real code path.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import FETCH_HINT, MissingInput
from harness.settings import get_settings

if TYPE_CHECKING:
    from harness.tasks.base import HubSource

logger = logging.getLogger(__name__)


def iter_hub_rows(
    source: HubSource, path: str | Path | None = None, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Yield rows (dicts, images decoded to PIL) of every config of ``source`` in order."""
    import datasets

    settings = get_settings()
    where = str(path) if path is not None else source.repo_id
    kwargs: dict[str, Any] = {"split": source.split}
    if path is None:
        kwargs["revision"] = source.revision
    if settings.hf_cache_dir is not None:
        kwargs["cache_dir"] = str(settings.hf_cache_dir)
    produced = 0
    for config in source.configs or (None,):
        if limit is not None and produced >= limit:
            return
        logger.info("loading %s config=%s split=%s", where, config, source.split)
        ds = _load(datasets, where, config, kwargs, local=path is not None)
        for row in ds:
            if limit is not None and produced >= limit:
                return
            produced += 1
            yield row


def _load(datasets, where: str, config: str | None, kwargs: dict[str, Any], local: bool):
    """``datasets.load_dataset``; a copy that is not there (offline and never fetched, or a wrong --data folder)
    is a :class:`MissingInput` naming the dataset and the fix, not the library's traceback."""
    try:
        return datasets.load_dataset(where, config, **kwargs)
    except OSError as err:  # ConnectionError, FileNotFoundError (DatasetNotFoundError), offline mode
        what = f"no dataset at {where}" if local else (
            f"dataset {where} (revision {kwargs.get('revision')}{f', config {config}' if config else ''}) is not "
            "cached here and the hub cannot be reached")
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MissingInput(f"{what} ({reason}): {FETCH_HINT}") from err


def prepare_source(source: HubSource) -> None:
    """Load every config of ``source`` once, as :func:`iter_hub_rows` does, so an offline run finds it cached."""
    import datasets

    settings = get_settings()
    kwargs: dict[str, Any] = {"split": source.split, "revision": source.revision}
    if settings.hf_cache_dir is not None:
        kwargs["cache_dir"] = str(settings.hf_cache_dir)
    for config in source.configs or (None,):
        logger.info("preparing %s config=%s split=%s", source.repo_id, config, source.split)
        datasets.load_dataset(source.repo_id, config, **kwargs)


def local_digest(path: str | Path) -> str:
    """sha256 over the names and bytes of the data files of a local dataset copy (provenance)."""
    root = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def resolve_revision(source: HubSource) -> str:
    """The commit a hub revision (branch, tag or commit) points to now; needs the network."""
    from huggingface_hub import HfApi

    return HfApi().dataset_info(source.repo_id, revision=source.revision).sha
