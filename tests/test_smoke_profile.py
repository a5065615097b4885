"""The `smoke` protocol profile, run as the compose stack's worker container runs it (`ladder worker` on a
fresh data dir, untrained tiny students): every demo verifier's submission succeeds, every stage on every
student. The stack test (`make test-stack`) submits through the API; this one catches a profile that cannot
succeed before any image is built."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from harness.cli import app
from harness.store import connect, session_scope
from harness.store import queue as q
from harness.store.schema import StudentRow

runner = CliRunner()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("manifest", ["strong", "confident-wrong"])
def test_every_stage_of_the_smoke_profile_succeeds_on_untrained_students(manifest, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LADDER_DATABASE_URL", db_url)
    res = runner.invoke(app, ["submit", f"submissions/demo/{manifest}.yaml", "--profile", "smoke"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["worker", "--once"])
    assert res.exit_code == 0 and "processed 1" in res.output, res.output
    job = q.get(connect(db_url), 1)
    assert (job.status, job.failure_reason) == ("succeeded", None)
    with session_scope(connect(db_url)) as s:  # both students trained and were evaluated after self-DPO
        rows = {r.student: (r.status, r.post is not None) for r in s.scalars(select(StudentRow))}
    assert rows == {"tiny-qwen3-vl": ("succeeded", True), "tiny-qwen2.5-vl": ("succeeded", True)}
