"""Audit packs: the frozen students' audit candidates and baselines as a shareable, versioned dataset.

The rubric audit judges the K candidates each frozen student sampled on a task's audit items and compares the
verdicts with the exact-match truth; the gate compares each student's rubric accuracy with its frozen baseline.
Everything but the verifier is fixed by the protocol, so it is built once (``ladder pack build``, on a machine that
can run the students) and shared: anyone audits a verifier from the pack without loading a student or a GPU
(``ladder audit --pack``), as RewardBench ships its pairs, but the pairs are the protocol's own, so the audit stays
tied to the downstream self-DPO outcome.

Layout (the Hugging Face hub's dataset layout, loadable with ``datasets.load_dataset(PATH, config, split=task)``)::

    README.md            dataset card: YAML ``configs`` (candidates [default], items, baselines; one split per task)
    pack.json            what the pack was built from (:class:`PackInfo`)
    candidates/<task>.parquet   one row per (student, audit item, candidate)
    items/<task>.parquet        the audit items' identity (+ question, prompt, gold; images with --embed-images)
    baselines/<task>.parquet    each student's frozen greedy accuracy on the task's test split (k of n)
    checksums.sha256     sha256 of every other file (``sha256sum -c`` format); its own sha256 is the pack digest

This module reads, writes and verifies that layout; it knows no model (building is :mod:`harness.stages.pack`).
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from harness.config import AuditConfig
from harness.errors import MissingInput

PACK_FORMAT = "verifier-ladder-audit-pack"
PACK_SCHEMA_VERSION = "1"
CHECKSUMS = "checksums.sha256"
TABLES = ("candidates", "items", "baselines")
#: Column -> pyarrow type name of every table (``images`` only in packs built with --embed-images).
COLUMNS: dict[str, dict[str, str]] = {
    "candidates": {"student": "string", "item_id": "string", "candidate": "int64", "response": "string",
                   "truth": "bool", "parsed": "string"},
    "items": {"item_id": "string", "dataset": "string", "revision": "string", "config": "string",
              "question": "string", "prompt": "string", "answer": "string"},
    "baselines": {"student": "string", "split": "string", "k": "int64", "n": "int64"},
}


class PackError(ValueError):
    """A pack is malformed, altered or built for another protocol (the message says which file and how)."""


class PackTask(BaseModel):
    dataset: dict[str, Any] = Field(description="The task's source (hub id, revision, split, configs) or its "
                                    "generator, as in a result's provenance.")
    items: int = Field(description="Audit items.")
    candidates: int = Field(description="Rows of candidates/<task>.parquet (students x items x K).")


class PackInfo(BaseModel):
    """pack.json: what the pack was built from. Audits from it record ``name`` and the pack digest."""

    format: Literal["verifier-ladder-audit-pack"] = PACK_FORMAT
    schema_version: Literal["1"] = PACK_SCHEMA_VERSION
    name: str = Field(description="The pack's name, e.g. 'audit-pack-demo'.")
    protocol_version: str
    protocol_profile: str
    protocol_digest: str = Field(description="Digest of the protocol the candidates were sampled under (without a "
                                 "pack): an audit from the pack must run under the same protocol.")
    split_seed: int
    audit: AuditConfig = Field(description="The audit configuration the candidates were sampled with.")
    students: dict[str, dict[str, Any]] = Field(description="Each frozen student's identity (name -> source).")
    tasks: dict[str, PackTask]
    embedded_images: bool = False
    created_at: str
    git_commit: str | None = None


def table_path(root: Path, table: str, task: str) -> Path:
    return root / table / f"{task}.parquet"


def dataset_card(info: PackInfo) -> str:
    """README.md: the hub's dataset card, whose YAML ``configs`` make ``datasets.load_dataset`` find the tables."""
    configs = []
    for table in TABLES:
        files = "".join(f"  - split: {t}\n    path: {table}/{t}.parquet\n" for t in info.tasks)
        default = "  default: true\n" if table == "candidates" else ""
        configs.append(f"- config_name: {table}\n{default}  data_files:\n{files}")
    rows = "\n".join(f"| {t} | {p.items} | {p.candidates} |" for t, p in info.tasks.items())
    return (f"---\nconfigs:\n{''.join(configs)}tags:\n- verifier-ladder\n- audit-pack\n---\n\n"
            f"# {info.name}\n\nVerifier Ladder audit pack: the frozen students' K={info.audit.k} sampled candidates "
            f"on each task's {info.audit.size} held-out audit items, with the exact-match truth, and each student's "
            f"frozen baseline. Protocol {info.protocol_version} / {info.protocol_profile} "
            f"(digest {info.protocol_digest}), split seed {info.split_seed}, candidate seed {info.audit.seed}.\n\n"
            f"| task | items | candidates |\n|---|---|---|\n{rows}\n\n"
            "Audit a verifier from it: `ladder audit MANIFEST --task TASK --profile "
            f"{info.protocol_profile} --pack PATH`. Check it: `ladder pack verify PATH`.\n")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pack_files(root: Path) -> list[Path]:
    """The files a pack's checksums cover: all but checksums.sha256 and hidden ones (the hub's .gitattributes, a
    download's .cache), which nothing reads."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != CHECKSUMS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def write_checksums(root: Path) -> str:
    """Write checksums.sha256 over every other file; returns the pack digest (the sha256 of that file)."""
    files = pack_files(root)
    text = "".join(f"{sha256_file(p)}  {p.relative_to(root).as_posix()}\n" for p in files)
    (root / CHECKSUMS).write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def write_table(root: Path, table: str, task: str, rows: list[dict]) -> None:
    """One table of one task as parquet (through ``datasets``, so that image columns get the hub's Image type)."""
    import datasets

    features = {c: datasets.Value(t) for c, t in COLUMNS[table].items()}
    if rows and "images" in rows[0]:
        features["images"] = datasets.Sequence(datasets.Image())
    path = table_path(root, table, task)
    path.parent.mkdir(parents=True, exist_ok=True)
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # one bar per table says nothing; the build's own progress shows the work
    try:
        datasets.Dataset.from_list(rows, features=datasets.Features(features)).to_parquet(str(path))
    finally:
        if bars:
            datasets.enable_progress_bars()


def write_info(root: Path, info: PackInfo) -> None:
    (root / "pack.json").write_text(info.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (root / "README.md").write_text(dataset_card(info), encoding="utf-8")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AuditPack:
    """A verified pack on disk: its info, digest and tables (read with pyarrow; nothing is cached elsewhere)."""

    def __init__(self, root: Path, info: PackInfo, digest: str) -> None:
        self.root, self.info, self.digest = root, info, digest

    def rows(self, table: str, task: str) -> list[dict]:
        import pyarrow.parquet as pq

        if task not in self.info.tasks:
            raise PackError(f"pack {self.info.name} has no task {task!r} (tasks: {', '.join(self.info.tasks)})")
        return pq.read_table(table_path(self.root, table, task)).to_pylist()

    def images(self, task: str) -> dict[str, list]:
        """item id -> its PIL images, from a pack built with --embed-images."""
        from PIL import Image

        if not self.info.embedded_images:
            raise PackError(f"pack {self.info.name} references its images (built without --embed-images)")
        return {r["item_id"]: [Image.open(io.BytesIO(im["bytes"])) for im in r["images"]]
                for r in self.rows("items", task)}


def verify(root: Path) -> AuditPack:
    """Check a pack: every file listed in checksums.sha256 is there with its checksum and nothing else is,
    pack.json is a valid :class:`PackInfo`, each table has its columns and the row counts pack.json states.
    Raises :class:`PackError` naming the first problem; returns the opened pack."""
    import pyarrow.parquet as pq

    root = Path(root)
    if not (root / CHECKSUMS).is_file():
        raise MissingInput(f"no audit pack at {root} (no {CHECKSUMS}); build one with `ladder pack build`")
    text = (root / CHECKSUMS).read_text(encoding="utf-8")
    listed = {}
    for n, line in enumerate(text.splitlines(), 1):
        digest_hex, sep, rel = line.partition("  ")
        if not sep or len(digest_hex) != 64 or not rel or rel.startswith("/") or ".." in Path(rel).parts:
            raise PackError(f"{CHECKSUMS} line {n} is not '<sha256>  <relative path>'")
        listed[rel] = digest_hex
    present = {p.relative_to(root).as_posix() for p in pack_files(root)}
    if extra := sorted(present - set(listed)):
        raise PackError(f"files not in {CHECKSUMS}: {', '.join(extra[:5])}")
    for rel, want in sorted(listed.items()):
        if rel not in present:
            raise PackError(f"{rel} is listed in {CHECKSUMS} but missing")
        if sha256_file(root / rel) != want:
            raise PackError(f"{rel} does not match its checksum: the pack was altered or damaged")
    try:
        info = PackInfo.model_validate_json((root / "pack.json").read_text(encoding="utf-8"))
    except (OSError, ValidationError) as err:
        raise PackError(f"pack.json is not a valid pack description: {str(err).splitlines()[0]}") from err
    for task, meta in info.tasks.items():
        for table in TABLES:
            path = table_path(root, table, task)
            if not path.is_file():
                raise PackError(f"{table}/{task}.parquet is missing")
            schema = pq.read_schema(path)
            want = dict(COLUMNS[table], **({"images": "list"} if table == "items" and info.embedded_images else {}))
            got = {f.name: str(f.type) for f in schema}
            bad = [c for c, t in want.items() if c not in got or not got[c].startswith(t)]
            if bad:
                raise PackError(f"{table}/{task}.parquet lacks or mistypes columns {bad}")
        rows = {table: pq.read_metadata(table_path(root, table, task)).num_rows for table in TABLES}
        if rows["candidates"] != meta.candidates or rows["items"] != meta.items:
            raise PackError(f"{task}: pack.json states {meta.items} items and {meta.candidates} candidates, the "
                            f"tables hold {rows['items']} and {rows['candidates']}")
    return AuditPack(root, info, hashlib.sha256(text.encode()).hexdigest())
