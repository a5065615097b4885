"""Resolve a protocol student to a loadable model: a hub checkpoint, or a cached tiny model.

A tiny student is built from its spec and warmed up on its warm-up task's train split once;
the result is saved under ``<data_dir>/students/<name>-<hash>`` (hash of spec, warm-up config
and split seed) and reused by every later run. The folder is written to a temporary sibling and
renamed into place, so an interrupted warm-up never leaves a half-saved student behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

from harness.config import ModelRef, StudentConfig

logger = logging.getLogger(__name__)


def student_folder(student: StudentConfig, root: Path, split_seed: int) -> Path:
    key = json.dumps({"student": student.model_dump(mode="json"), "split_seed": split_seed}, sort_keys=True)
    return root / f"{student.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def resolve_student(student: StudentConfig, data_dir: Path, split_seed: int = 0) -> ModelRef:
    """The student's :class:`ModelRef`, building and warming up a tiny student on first use."""
    if student.model is not None:
        return student.model
    folder = student_folder(student, data_dir / "students", split_seed)
    if (folder / "warmup.json").exists():
        return ModelRef(path=folder)
    _build_tiny_student(student, folder, split_seed)
    return ModelRef(path=folder)


def resolve_students(students, data_dir: Path, split_seed: int = 0, jobs: int = 1) -> list[ModelRef]:
    """:func:`resolve_student` for several students; with ``jobs`` > 1 the warm-ups of those not yet built run
    at once, one process each (each with its share of the threads), instead of one after the other."""
    todo = [s for s in students if s.model is None and not (student_folder(s, data_dir / "students", split_seed)
                                                             / "warmup.json").exists()]
    if jobs > 1 and len(todo) > 1:
        from harness.parallel import spawn_pool

        with spawn_pool(min(jobs, len(todo))) as pool:
            list(pool.map(resolve_student, todo, [data_dir] * len(todo), [split_seed] * len(todo)))
    return [resolve_student(s, data_dir, split_seed) for s in students]


def _warm_up(student: StudentConfig, split_seed: int):
    """Warm-ups from the student's fresh random weights, attempt i with warm-up seed + i, until one ends in the
    band and balanced (:meth:`WarmupReport.accepted`); the last attempt is kept either way, with a warning."""
    from harness.models.tiny import build_tiny
    from harness.stages.warmup import warmup
    from harness.tasks import get_task

    cfg = student.warmup
    task = get_task(student.warmup_task)
    items = task.items()
    train_ids = set(task.splits([it.id for it in items], seed=split_seed)["train"])
    train = [it for it in items if it.id in train_ids]
    for attempt in range(cfg.attempts):
        model, processor = build_tiny(student.tiny)
        logger.info("warming up %s on %s (%d train items), attempt %d", student.name, task.name, len(train),
                    attempt + 1)
        report = warmup(model, processor, task, train, cfg.model_copy(update={"seed": cfg.seed + attempt}))
        report = report.model_copy(update={"attempts": attempt + 1})
        if report.accepted(cfg):
            return model, processor, report
        logger.info("%s: warm-up seed %d ended at probe accuracy %.3f with answer shares %s: not in [%.2f, %.2f] "
                    "and balanced", student.name, report.seed, report.probe_accuracy, report.answer_shares,
                    cfg.target_low, cfg.target_high)
    logger.warning("%s: no warm-up in %d attempts ended in the band and balanced; keeping the last", student.name,
                   cfg.attempts)
    return model, processor, report


def _build_tiny_student(student: StudentConfig, folder: Path, split_seed: int) -> None:
    from harness.models.tiny import build_tiny

    assert student.tiny is not None
    report = None
    if student.warmup is None:
        model, processor = build_tiny(student.tiny)
    else:
        model, processor, report = _warm_up(student, split_seed)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    (tmp / "warmup.json").write_text(report.model_dump_json(indent=2) if report else "{}")
    # safetensors writes the weights mode 0600; the students are a shared cache that other users read (the docker
    # executor's container user, through a read-only mount), and nothing in them is secret.
    for path in tmp.rglob("*"):
        path.chmod(path.stat().st_mode | (0o055 if path.is_dir() else 0o044))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
