"""`ladder submit` / `ladder worker`: results land once, survive a SIGKILLed worker, bad input stores nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from harness.cli import app
from harness.executors import Executor, ExecutorOutcome, register_executor
from harness.settings import get_settings
from harness.store import connect, session_scope
from harness.store import queue as q
from harness.store.schema import AuditRow, PredictionRow, StudentRow, Submission, VerdictRow
from harness.worker import run_worker

runner = CliRunner()
STRONG = "submissions/demo/strong.yaml"


@pytest.fixture
def store_env(db_url, demo_data_dir, tmp_path, monkeypatch):
    """A fresh data dir holding copies of the warmed demo students, and the store at ``db_url``."""
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir / "students", data / "students")
    monkeypatch.setenv("LADDER_DATA_DIR", str(data))
    monkeypatch.setenv("LADDER_DATABASE_URL", db_url)
    return data


def _numbers(engine, sid: int) -> dict:
    with session_scope(engine) as s:
        students = {r.student: (r.status, r.baseline, r.post, r.delta, r.delta_ci_low, r.delta_ci_high, r.mcnemar_p,
                                r.silent_regression)
                    for r in s.scalars(select(StudentRow).where(StudentRow.submission_id == sid))}
        audit = [(r.task, r.rubric_accuracy, r.n) for r in s.scalars(select(AuditRow).where(
            AuditRow.submission_id == sid))]
        preds = sorted((r.student, r.phase, r.item_id, r.correct) for r in s.scalars(
            select(PredictionRow).where(PredictionRow.submission_id == sid)))
        verdicts = s.scalar(select(func.count()).select_from(VerdictRow).where(VerdictRow.submission_id == sid))
    return {"students": students, "audit": audit, "predictions": preds, "verdicts": verdicts}


@pytest.mark.slow
def test_submitted_verifier_runs_once_and_lands_in_the_store(store_env, small_profile, db_url):
    res = runner.invoke(app, ["submit", STRONG, "--profile", small_profile])
    assert res.exit_code == 0 and "queued" in res.output, res.output
    again = runner.invoke(app, ["submit", STRONG, "--profile", small_profile])
    assert again.exit_code == 0 and "already submitted" in again.output
    res = runner.invoke(app, ["worker", "--once"])
    assert res.exit_code == 0 and "processed 1" in res.output, res.output
    engine = connect(db_url)
    job = q.get(engine, 1)
    assert job.status == "succeeded" and job.attempts == 1 and job.finished_at is not None
    got = _numbers(engine, job.id)
    assert set(got["students"]) == {"tiny-qwen3-vl", "tiny-qwen2.5-vl"}
    assert got["audit"][0][2] == 40 and got["verdicts"] == 160  # 20 items x 4 candidates x 2 students
    assert len(got["predictions"]) == 2 * (1 + 2) * 1200  # both students: baseline, post of each of 2 seeds
    status = runner.invoke(app, ["status", "--json"])
    assert '"status": "succeeded"' in status.stdout


@pytest.mark.slow
def test_sigkilled_worker_loses_nothing_and_the_next_one_finishes_the_same_result(store_env, small_profile, db_url,
                                                                                 tmp_path, monkeypatch):
    # The reference: the same submission run without interruption, in its own data dir and store.
    ref_data = tmp_path / "ref"
    shutil.copytree(store_env / "students", ref_data / "students")
    ref_url = f"sqlite:///{tmp_path / 'ref.db'}"
    monkeypatch.setenv("LADDER_DATA_DIR", str(ref_data))
    monkeypatch.setenv("LADDER_DATABASE_URL", ref_url)
    assert runner.invoke(app, ["submit", STRONG, "--profile", small_profile]).exit_code == 0
    assert runner.invoke(app, ["worker", "--once"]).exit_code == 0
    reference = _numbers(connect(ref_url), 1)

    monkeypatch.setenv("LADDER_DATA_DIR", str(store_env))
    monkeypatch.setenv("LADDER_DATABASE_URL", db_url)
    assert runner.invoke(app, ["submit", STRONG, "--profile", small_profile]).exit_code == 0
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "worker", "--once", "--lease", "6"],
                            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = store_env / "runs"
    deadline = time.time() + 240
    while not any(runs.glob("*/shapes/tiny-qwen3-vl.json")) and time.time() < deadline:
        time.sleep(0.2)  # kill it mid-run: after the audit and the first student, before the second
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    engine = connect(db_url)
    killed = q.get(engine, 1)
    assert killed.status == "running" and killed.attempts == 1, "the dead worker still holds the lease"
    assert not any(runs.glob("*/shapes/tiny-qwen2.5-vl.json")), "killed before the second student finished"
    assert q.claim(engine, "impatient", 6) is None, "nobody may take the job before its lease expires"
    time.sleep(6.5)
    assert run_worker(engine, get_settings(), "local", once=True) == 1
    resumed = q.get(engine, 1)
    assert resumed.status == "succeeded" and resumed.attempts == 2
    assert _numbers(engine, 1) == reference


@register_executor
class _Exploding(Executor):
    name = "test-exploding"

    def run(self, manifest, profile, settings) -> ExecutorOutcome:
        raise FloatingPointError("tiny-qwen3-vl: DPO loss is not finite in round 1: [nan]")


def test_a_stage_that_raises_marks_the_submission_failed_with_its_reason(store_env, small_profile, db_url):
    assert runner.invoke(app, ["submit", STRONG, "--profile", small_profile]).exit_code == 0
    res = runner.invoke(app, ["worker", "--once", "--executor", "test-exploding"])
    assert res.exit_code == 0, res.output
    job = q.get(connect(db_url), 1)
    assert job.status == "failed" and "DPO loss is not finite" in job.failure_reason
    with session_scope(connect(db_url)) as s:
        assert s.scalar(select(func.count()).select_from(StudentRow)) == 0


@register_executor
class _Unstorable(Executor):
    """A container that wrote a result the store cannot take (a document missing its tasks' audits)."""

    name = "test-unstorable"

    def run(self, manifest, profile, settings) -> ExecutorOutcome:
        return ExecutorOutcome(document={"schema_version": "1", "run_id": "x", "tasks": [{"task": "shapes"}]},
                               items={})


def test_a_result_that_cannot_be_stored_fails_the_job_with_the_reason_and_stores_nothing(store_env, small_profile,
                                                                                         db_url):
    assert runner.invoke(app, ["submit", STRONG, "--profile", small_profile]).exit_code == 0
    res = runner.invoke(app, ["worker", "--once", "--executor", "test-unstorable"])
    assert res.exit_code == 0, res.output  # the worker lives on
    job = q.get(connect(db_url), 1)
    assert job.status == "failed" and "could not store the result: KeyError" in job.failure_reason
    with session_scope(connect(db_url)) as s:
        assert s.scalar(select(func.count()).select_from(AuditRow)) == 0


def test_unknown_executor_gets_a_did_you_mean(store_env):
    res = runner.invoke(app, ["worker", "--once", "--executor", "locl"])
    assert res.exit_code == 2 and "local" in res.output


@pytest.mark.parametrize("text, field", [
    ("name: [unclosed", "YAML"),
    ("name: x\nfamily: f\nrelease: '1'\nbackend: warp-drive\n", "backend"),
    ("name: x\nfamily: f\nrelease: 1\nbackend: simulated\nsimulated: {agreement: high}\n", "agreement"),
    ("name: \"<script>alert(1)</script>\"\nfamily: f\nrelease: '1'\nbackend: simulated\nbogus: 1\n", "bogus"),
])
def test_malformed_manifest_is_refused_with_the_field_named_and_nothing_stored(store_env, db_url, tmp_path, text,
                                                                              field):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    res = runner.invoke(app, ["submit", str(path), "--profile", "demo"])
    assert res.exit_code == 2 and field in " ".join(res.output.split()), res.output
    with session_scope(connect(db_url)) as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


def test_huge_manifest_is_refused(store_env, db_url, tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("notes: '" + "x" * 2_000_000 + "'\n")
    res = runner.invoke(app, ["submit", str(path)])
    assert res.exit_code == 2 and "larger than" in " ".join(res.output.split())
    with session_scope(connect(db_url)) as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0
