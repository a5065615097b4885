"""scrub host details from what was stored before the public/operator split

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Before this revision a result document carried the host's absolute paths and ``platform.platform()`` (the kernel
release), the ``worker`` column was ``hostname:pid``, and failure reasons quoted host paths; all of it is public
(the leaderboard serves every row and document). New writes are already clean (``harness/publish.py``,
``harness/worker.py::worker_name``); this revision cleans the rows stored before, in place:

- a worker id that is not ``worker-<12 hex>`` becomes one (a hash salted per migration run, so the same old id
  maps to the same new one within the run and cannot be guessed back); the old -> new mapping is logged for the
  operator;
- in documents, failure texts and the releases' model labels an absolute path keeps its part from ``runs/`` or
  ``artifacts/`` on (the layout under the data directory), else only its last component; ``hardware.platform`` is
  dropped;
- ``document_hash`` is recomputed for a rewritten document (canonical JSON, as ingest computes it).

Self-contained on purpose (a migration must not change when the code does). Nothing else is touched; the upgrade
is idempotent. The downgrade keeps the scrubbed values: the host details are not stored anywhere to restore.
"""

import hashlib
import json
import logging
import re
import secrets
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

_WORKER = re.compile(r"^worker-[0-9a-f]{12}$")
# An absolute path: a '/' not preceded by a word character, ':', '/' or '.' (so URL paths and relative paths stay),
# then at least two components.
_ABS_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+~-]+/)+[\w.@+~-]*")
_KEEP_FROM = re.compile(r"/((?:runs|artifacts)/.*)$")


def _path(m: re.Match) -> str:
    path = m.group(0)
    kept = _KEEP_FROM.search(path)
    if kept:
        return kept.group(1)
    return path.rstrip("/").rsplit("/", 1)[-1] or "."


def scrub_text(text: str) -> str:
    return _ABS_PATH.sub(_path, text)


def scrub_document(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: scrub_document(v, k) for k, v in value.items() if not (key == "hardware" and k == "platform")}
    if isinstance(value, list):
        return [scrub_document(v, key) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _load(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    subs = sa.Table("submissions", meta, autoload_with=conn)
    docs = sa.Table("run_documents", meta, autoload_with=conn)
    students = sa.Table("student_results", meta, autoload_with=conn)
    seeds = sa.Table("student_seed_results", meta, autoload_with=conn)
    releases = sa.Table("releases", meta, autoload_with=conn)
    salt = secrets.token_bytes(16)

    for row in conn.execute(sa.select(subs.c.id, subs.c.worker, subs.c.failure_reason)).all():
        update = {}
        if row.worker is not None and not _WORKER.match(row.worker):
            update["worker"] = "worker-" + hashlib.sha256(salt + row.worker.encode()).hexdigest()[:12]
            logger.info("submission %s: worker %r is now %s", row.id, row.worker, update["worker"])
        reason = scrub_text(row.failure_reason) if row.failure_reason else row.failure_reason
        if reason != row.failure_reason:
            update["failure_reason"] = reason
        if update:
            conn.execute(subs.update().where(subs.c.id == row.id).values(**update))

    for table in (students, seeds):
        for row in conn.execute(sa.select(table.c.id, table.c.failure).where(table.c.failure.is_not(None))).all():
            failure = scrub_text(row.failure)
            if failure != row.failure:
                conn.execute(table.update().where(table.c.id == row.id).values(failure=failure))

    for row in conn.execute(sa.select(releases.c.id, releases.c.model).where(releases.c.model.is_not(None))).all():
        model = scrub_text(row.model)
        if model != row.model:
            conn.execute(releases.update().where(releases.c.id == row.id).values(model=model))

    for row in conn.execute(sa.select(docs.c.id, docs.c.document)).all():
        document = _load(row.document)
        clean = scrub_document(document)
        if clean != document:
            digest = hashlib.sha256(json.dumps(clean, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
            conn.execute(docs.update().where(docs.c.id == row.id).values(document=clean, document_hash=digest))


def downgrade() -> None:
    """Nothing to undo in the schema; the scrubbed host details were never kept."""
