"""Revision 0004 cleans the host details stored before public documents were redacted, and nothing else."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from harness.store import connect, migrate
from harness.store.db import session_scope
from harness.store.ingest import document_hash
from harness.store.schema import Family, Release, RunDocument, StudentRow, Submission
from tests.fixtures.store import store_at

OLD_DOC = {
    "schema_version": "2",
    "provenance": {"hardware": {"platform": "Linux-6.1.0-99-cloud-amd64-x86_64-with-glibc2.36", "python": "3.11.7",
                                "cpu_count": 2}, "seed": 0},
    "run_dir": "/home/alice/.ladder/runs/abc123",
    "predictions_path": "/home/alice/.ladder/runs/abc123/shapes/tiny/post.jsonl",
    "warmup": {"path": "/srv/cache/ladder-artifacts/warmup/tiny-qwen3-vl-1f2e"},
    "model": {"path": "/opt/models/my-judge"},
    "source": "https://huggingface.co/datasets/AI4Math/MathVista/resolve/main/data.parquet",
    "hub": "Qwen/Qwen3-VL-2B-Instruct",
    "note": "accuracy 3/4/5 of items",
    "metrics": {"rubric_accuracy": 0.91, "n": 400},
}


@pytest.fixture(params=["sqlite", "postgres"])
def url_at_0003(request, tmp_path):
    """A store migrated to revision 0003 only (the schema before the scrub)."""
    yield from store_at(request.param, tmp_path, "0003")


def _seed_old_rows(url: str) -> None:
    engine = connect(url)
    with session_scope(engine) as s:
        family = Family(name="team-a")
        s.add(family)
        s.flush()
        release = Release(family_id=family.id, release="1", name="team-a-judge", backend="hf",
                          model="/opt/models/my-judge")
        s.add(release)
        s.flush()
        for i, (worker, reason) in enumerate([
            ("build-host-7.internal:4242", "FileNotFoundError: /home/alice/.ladder/runs/abc123/x.json missing"),
            ("build-host-7.internal:4242", None),
            ("worker-0123456789ab", "judge endpoint https://api.example.com/v1/chat failed"),
        ]):
            s.add(Submission(id=i + 1, release_id=release.id, manifest={"name": "team-a-judge"},
                             manifest_hash=f"h{i}", protocol_version="2", protocol_profile="demo",
                             protocol_digest="d", protocol={}, status="failed" if reason else "succeeded",
                             worker=worker, failure_reason=reason))
        s.flush()
        s.add(RunDocument(submission_id=2, schema_version="2", run_id="abc123", document=OLD_DOC,
                          document_hash=document_hash(OLD_DOC)))
        s.add(StudentRow(submission_id=2, task="shapes", student="tiny", status="failed", n=10, baseline=0.5,
                         failure="OSError: cannot read /home/alice/.ladder/artifacts/tiny/model.safetensors",
                         rounds=[], seeds=1))
    engine.dispose()


def test_upgrade_scrubs_host_details_and_keeps_everything_else(url_at_0003):
    _seed_old_rows(url_at_0003)
    migrate(url_at_0003)
    engine = connect(url_at_0003)
    with session_scope(engine) as s:
        subs = s.scalars(select(Submission).order_by(Submission.id)).all()
        doc = s.scalar(select(RunDocument))
        student = s.scalar(select(StudentRow))
        release = s.scalar(select(Release))
    engine.dispose()

    # The same old worker id maps to one new id; an already clean id and a URL are untouched.
    assert subs[0].worker == subs[1].worker and subs[0].worker.startswith("worker-")
    assert "build-host" not in subs[0].worker and len(subs[0].worker) == len("worker-0123456789ab")
    assert subs[2].worker == "worker-0123456789ab"
    assert subs[0].failure_reason == "FileNotFoundError: runs/abc123/x.json missing"
    assert subs[2].failure_reason == "judge endpoint https://api.example.com/v1/chat failed"
    assert student.failure == "OSError: cannot read artifacts/tiny/model.safetensors"
    assert release.model == "my-judge"

    d = doc.document
    assert "platform" not in d["provenance"]["hardware"]
    assert d["provenance"]["hardware"]["python"] == "3.11.7" and d["provenance"]["seed"] == 0
    assert d["run_dir"] == "runs/abc123"
    assert d["predictions_path"] == "runs/abc123/shapes/tiny/post.jsonl"
    assert d["warmup"]["path"] == "tiny-qwen3-vl-1f2e"  # outside runs/ and artifacts/: the last component only
    assert d["model"]["path"] == "my-judge"
    for kept in ("source", "hub", "note", "metrics", "schema_version"):
        assert d[kept] == OLD_DOC[kept]
    assert doc.document_hash == document_hash(d)
    assert "/home/alice" not in json.dumps(d) and "cloud-amd64" not in json.dumps(d)
