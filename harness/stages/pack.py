"""Building an audit pack from the frozen students (:mod:`harness.packs`), and the protocol that audits from one.

The pack holds exactly what :func:`harness.stages.audit.prepare_student` makes (the cached candidates and the
frozen baseline), so an audit from a pack (:mod:`harness.stages.from_pack`) computes the same metrics and gate as
the full audit on the machine that built it, and no student is loaded.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from rich.progress import Progress

from harness.config import PackRef, ProtocolConfig
from harness.packs import AuditPack, PackError, PackInfo, PackTask, now, write_checksums, write_info, write_table
from harness.provenance import git_commit
from harness.settings import Settings
from harness.stages.audit import prepare_student
from harness.stages.common import protocol_splits, student_ident
from harness.stages.students import resolve_student
from harness.tasks import Item, Task, get_task
from harness.tasks.base import png_bytes

logger = logging.getLogger(__name__)


def _item_rows(task: Task, items: list[Item], embed_images: bool) -> list[dict]:
    src = task.source
    return [{"item_id": it.id, "dataset": src.repo_id if src else type(task).__name__,
             "revision": src.revision if src else "", "config": ",".join(src.configs) if src else "",
             "question": it.question, "prompt": it.prompt, "answer": it.answer,
             **({"images": [{"bytes": png_bytes(im), "path": None} for im in it.images]} if embed_images else {})}
            for it in items]


def build_pack(protocol: ProtocolConfig, settings: Settings, out: Path, tasks: list[str] | None = None,
               embed_images: bool = False, data_path: Path | None = None, name: str | None = None,
               progress: Progress | None = None) -> AuditPack:
    """Sample (or reuse the cached) candidates and baselines of both frozen students on each task's audit items
    and write them as a pack at ``out`` (built in a temporary folder beside it, then moved: never half a pack)."""
    from harness.packs import verify

    protocol = protocol.without_pack()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise PackError(f"{out} exists and is not empty; choose a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        students, meta = {}, {}
        for task_name in tasks or list(protocol.tasks):
            task = get_task(task_name)
            splits = protocol_splits(task, task.items(path=data_path), protocol)
            cands, baselines = [], []
            for s in protocol.students:
                _, by_item, base = prepare_student(s, protocol, task, splits["audit"], splits["test"], settings,
                                                   progress)
                ref = resolve_student(s, settings.data_dir, protocol.split_seed)  # built by now: no work
                students[s.name] = {k: v for k, v in student_ident(s.name, ref, settings).items() if k != "name"}
                cands += [{"student": s.name, **c.model_dump(exclude={"index"}), "candidate": c.index}
                          for row in by_item for c in row]
                baselines.append({"student": s.name, "split": "test", "k": base.accuracy.k, "n": base.accuracy.n})
            write_table(tmp, "candidates", task.name, cands)
            write_table(tmp, "items", task.name, _item_rows(task, splits["audit"], embed_images))
            write_table(tmp, "baselines", task.name, baselines)
            meta[task.name] = PackTask(dataset=task.identity(), items=len(splits["audit"]),
                                       candidates=len(cands))
        info = PackInfo(name=name or f"audit-pack-{protocol.profile}", protocol_version=protocol.version,
                        protocol_profile=protocol.profile, protocol_digest=protocol.digest(),
                        split_seed=protocol.split_seed, audit=protocol.audit, students=students, tasks=meta,
                        embedded_images=embed_images, created_at=now(), git_commit=git_commit())
        write_info(tmp, info)
        write_checksums(tmp)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("audit pack written to %s", out)
    return verify(out)


def with_pack(protocol: ProtocolConfig, pack: AuditPack) -> ProtocolConfig:
    """``protocol`` auditing from ``pack``, after checking the pack was built under it (minus the pack)."""
    base = protocol.without_pack()
    info = pack.info
    if info.protocol_digest != base.digest():
        raise PackError(f"pack {info.name} was built under protocol {info.protocol_profile} "
                        f"(digest {info.protocol_digest}), this run uses {base.profile} (digest {base.digest()}); "
                        "build a pack under this protocol")
    if [s.name for s in protocol.students] != list(info.students):
        raise PackError(f"pack {info.name} holds students {list(info.students)}, the protocol has "
                        f"{[s.name for s in protocol.students]}")
    source = protocol.audit.pack.source if protocol.audit.pack and protocol.audit.pack.digest == pack.digest else None
    ref = PackRef(name=info.name, digest=pack.digest, source=source)
    return protocol.model_copy(update={"audit": protocol.audit.model_copy(update={"pack": ref})})
