"""``ladder fetch``: download every model and dataset a protocol run needs into the cache, and pin them.

Runs inside the containers go with the network off (``HF_HUB_OFFLINE=1``), so everything is fetched first, on
a host with the network: the students and any hub-hosted verifiers (``huggingface_hub.snapshot_download``),
and each task's dataset (its hub snapshot, then every config prepared by the very ``datasets.load_dataset``
call the run makes, so the offline run finds it in the cache). The commit each revision resolved to is
written to a lock file: what a run used is on record even where a manifest says ``main``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.config import ProtocolConfig
from harness.submission import Manifest

logger = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """An asset could not be downloaded (the message names it and the reason)."""


@dataclass(frozen=True)
class Asset:
    kind: str  # "model" or "dataset"
    repo_id: str
    revision: str
    role: str  # who needs it: "student qwen3-vl-2b", "verifier <name>", "task mmmu"
    task: str | None = None


def assets(protocol: ProtocolConfig, manifests: Sequence[Manifest] = ()) -> list[Asset]:
    """Everything on the hub a run of ``manifests`` under ``protocol`` loads (pure; tiny students need nothing)."""
    from harness.tasks import get_task

    out: list[Asset] = []
    for s in protocol.students:
        if s.model is not None and s.model.hub_id:
            out.append(Asset("model", s.model.hub_id, s.model.revision, f"student {s.name}"))
    for m in manifests:
        if m.model is not None and m.model.hub_id:
            out.append(Asset("model", m.model.hub_id, m.model.revision, f"verifier {m.name}"))
    for name in protocol.tasks:
        source = get_task(name).source
        if source is not None:
            out.append(Asset("dataset", source.repo_id, source.revision, f"task {name}", task=name))
    pack = protocol.audit.pack
    if pack is not None and pack.source is not None:
        repo, _, revision = pack.source.partition("@")
        out.append(Asset("dataset", repo, revision, f"audit pack {pack.name}"))
    seen, unique = set(), []
    for a in out:
        if (a.kind, a.repo_id, a.revision) not in seen:
            seen.add((a.kind, a.repo_id, a.revision))
            unique.append(a)
    return unique


def _snapshot(asset: Asset, cache_dir: Path | None) -> str:
    from huggingface_hub import snapshot_download

    path = snapshot_download(asset.repo_id, revision=asset.revision, repo_type=asset.kind,
                             cache_dir=str(cache_dir) if cache_dir else None)
    return Path(path).name  # .../snapshots/<commit>


def _prepare(asset: Asset) -> None:
    from harness.tasks import get_task
    from harness.tasks.loading import prepare_source

    prepare_source(get_task(asset.task).source)


def fetch(items: Sequence[Asset], cache_dir: Path | None = None,
          snapshot: Callable[[Asset, Path | None], str] = _snapshot,
          prepare: Callable[[Asset], None] = _prepare, progress: Callable[[Asset], None] | None = None) -> dict:
    """Download each asset; returns the lock document (requested and resolved revision of each)."""
    pinned = []
    for asset in items:
        logger.info("fetching %s %s@%s (%s)", asset.kind, asset.repo_id, asset.revision, asset.role)
        try:
            commit = snapshot(asset, cache_dir)
            if asset.kind == "dataset" and asset.task is not None:  # an audit pack is read as files, not prepared
                prepare(asset)
        except Exception as err:  # noqa: BLE001 - hub errors have many types; the message carries the cause
            raise FetchError(f"{asset.kind} {asset.repo_id}@{asset.revision} ({asset.role}): "
                             f"{type(err).__name__}: {err}") from err
        pinned.append({**asdict(asset), "resolved": commit})
        if progress is not None:
            progress(asset)
    return {"created": datetime.now(UTC).isoformat(timespec="seconds"), "assets": pinned}


def write_lock(lock: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(lock, indent=2) + "\n")
    tmp.replace(path)
