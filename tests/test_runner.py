"""`ladder run`: the whole protocol on a small demo protocol, training seeds, resume after a kill, bad states."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import get_protocol
from harness.runner import run_id
from harness.submission import load_manifest

runner = CliRunner()
STRONG = "submissions/demo/strong.yaml"


@pytest.fixture(autouse=True)
def own_store(tmp_path, monkeypatch):
    """`ladder run` records its result: each test here gets its own store (the shared demo data directory's store
    belongs to the demo ladder)."""
    url = f"sqlite:///{tmp_path / 'ladder.db'}"
    monkeypatch.setenv("LADDER_DATABASE_URL", url)
    return url


def run_json(manifest: str, profile: str) -> tuple[int, dict]:
    res = runner.invoke(app, ["run", manifest, "--profile", profile, "--json"])
    return res.exit_code, json.loads(res.stdout) if res.stdout.strip().startswith("{") else {"output": res.output}


def _strip_timing(doc: dict) -> dict:
    for task in doc["tasks"].values():
        task["audit"]["provenance"].pop("created_at")
        task["audit"]["cost"].pop("wall_seconds")
    return doc


def test_run_reports_every_stage_for_both_students(demo_settings, small_profile):
    code, doc = run_json(STRONG, small_profile)
    assert code == 0, doc
    shapes = doc["tasks"]["shapes"]
    assert shapes["audit"]["n"] == 40 and shapes["audit"]["verifier"]["simulated"]
    assert set(shapes["students"]) == {"tiny-qwen3-vl", "tiny-qwen2.5-vl"}
    for s in shapes["students"].values():
        assert s["status"] == "succeeded" and s["n"] == 1200 and s["seeds"] == 2
        assert s["delta"] == pytest.approx(s["post"] - s["baseline"])
        assert s["delta_ci_low"] <= s["delta"] <= s["delta_ci_high"] and "seeds" in s["delta_ci_method"]
        runs = s["per_seed"]
        assert [r["seed"] for r in runs] == [0, 1]
        assert s["seed_deltas"] == pytest.approx([r["delta"] for r in runs])
        assert s["delta"] == pytest.approx(sum(s["seed_deltas"]) / 2)  # the seed mean
        for r in runs:
            assert r["status"] == "succeeded" and 0 <= r["mcnemar_p"] <= 1
            assert r["delta_ci_low"] <= r["delta"] <= r["delta_ci_high"]
            assert len(r["rounds"]) == 2 and len(r["loss_curve"]) == sum(x["steps"] for x in r["rounds"])
        # two seeds trained apart: different trajectories
        assert runs[0]["loss_curve"] != runs[1]["loss_curve"]
        assert isinstance(s["silent_regression"], bool) and isinstance(s["loss_fell"], bool)


def test_a_finished_run_lands_on_the_leaderboard_once(demo_settings, small_profile, own_store):
    """`ladder run` records the run as `ladder demo` and the workers do: the leaderboard lists it without a
    worker, and running it again (resumed from its files) stores nothing twice. `--no-store` skips the store."""
    from sqlalchemy.orm import Session

    from harness.store import connect
    from leaderboard import queries

    code, doc = run_json(STRONG, small_profile)
    assert code == 0 and isinstance(doc["submission_id"], int)
    code, again = run_json(STRONG, small_profile)
    assert code == 0 and again["submission_id"] == doc["submission_id"]
    with Session(connect(own_store)) as session:
        (protocol,) = queries.protocols(session)
        rows = queries.leaderboard(session, protocol, "shapes")
    assert [r.submission_id for r in rows] == [doc["submission_id"]] and protocol.submissions == 1
    assert rows[0].rubric_accuracy == pytest.approx(doc["tasks"]["shapes"]["audit"]["rubric_accuracy"])
    assert {c.student for c in rows[0].students} == set(doc["tasks"]["shapes"]["students"])
    res = runner.invoke(app, ["run", "submissions/demo/moderate.yaml", "--profile", small_profile, "--json",
                              "--no-store"])
    assert res.exit_code == 0 and json.loads(res.stdout)["submission_id"] is None


def test_rerun_reuses_finished_stages(demo_settings, small_profile, monkeypatch):
    _, first = run_json(STRONG, small_profile)
    import harness.runner as runner_mod

    def must_not_run(*a, **k):
        raise AssertionError("a finished stage was redone")

    import harness.stages.selfdpo as selfdpo_mod

    monkeypatch.setattr(runner_mod, "run_audit", must_not_run)
    monkeypatch.setattr(selfdpo_mod, "self_dpo", must_not_run)
    code, second = run_json(STRONG, small_profile)
    assert code == 0 and second == first


def test_killed_run_resumes_to_the_same_numbers(demo_settings, small_profile):
    manifest = "submissions/demo/moderate.yaml"
    _, uninterrupted = run_json(manifest, small_profile)
    runs = demo_settings.data_dir / "runs"
    # This run's folder (other tests, e.g. the demo ladder, leave runs of the same verifier under other protocols).
    run_dir = runs / run_id(load_manifest(manifest), get_protocol(small_profile))
    assert (run_dir / "shapes" / "audit.json").exists()
    shutil.rmtree(run_dir)
    env = {**os.environ, "LADDER_DATA_DIR": str(demo_settings.data_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", manifest, "--profile", small_profile,
                             "--json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (run_dir / "shapes" / "audit.json").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before its first stage was saved"
        time.sleep(0.2)
    first_seed = run_dir / "shapes" / "tiny-qwen3-vl.seed0.json"
    while not first_seed.exists():  # kill it between two seeds of the first student
        assert proc.poll() is None and time.time() < deadline, "the run ended before its first seed was saved"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "shapes" / "tiny-qwen2.5-vl.json").exists()  # killed mid-way
    saved = first_seed.read_text()
    code, resumed = run_json(manifest, small_profile)
    assert code == 0
    assert first_seed.read_text() == saved  # the finished seed was reused, not redone
    assert _strip_timing(resumed) == _strip_timing(uninterrupted)


def test_seed_runs_in_worker_processes_give_the_same_numbers(demo_settings, small_profile, monkeypatch):
    """`--jobs 2` trains the seeds in two processes: with the same threads per run, every number is the same as
    running them one after the other (each run loads the frozen student and seeds its own generators)."""
    import torch

    from harness.runner import run_protocol

    manifest, protocol = load_manifest(STRONG), get_protocol(small_profile)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = {}
        for jobs in (1, 2):
            shutil.rmtree(demo_settings.data_dir / "runs" / run_id(manifest, protocol), ignore_errors=True)
            doc = run_protocol(manifest, protocol, demo_settings, jobs=jobs).summary()
            results[jobs] = _strip_timing(doc)
    finally:
        torch.set_num_threads(threads)
    assert results[1] == results[2]


def test_a_verifier_that_fails_every_item_ends_with_a_recorded_reason(demo_settings, small_profile, tmp_path,
                                                                      monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manifest = tmp_path / "dead.yaml"
    manifest.write_text(
        "name: dead-endpoint\nfamily: dead\nrelease: '1'\nowner: tests\nbackend: openai\n"
        f"endpoint: {{base_url: 'http://127.0.0.1:{port}/v1', model: m, max_retries: 0, timeout_s: 2}}\n"
        "cost: {kind: api, usd_per_1m_input_tokens: 1, usd_per_1m_output_tokens: 1, priced_on: 2026-11-26}\n")
    monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "0")  # restored after the test (the flag sets it to 1)
    res = runner.invoke(app, ["run", str(manifest), "--profile", small_profile, "--json", "--allow-local-endpoints"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    shapes = doc["tasks"]["shapes"]
    assert shapes["audit"]["parse_failure_rate"] == 1.0
    for s in shapes["students"].values():
        assert s["status"] == "failed" and "no parseable verdict" in s["failure"] and s["post"] is None
        assert s["delta"] is None and s["per_seed"] == []
    assert doc["status"] == "failed"


def test_dry_run_prints_the_plan_without_running(demo_settings):
    res = runner.invoke(app, ["run", STRONG, "--profile", "demo", "--dry-run", "--json"])
    assert res.exit_code == 0
    plan = json.loads(res.stdout)
    (t,) = plan["tasks"]
    assert t["audit_judgments"] == 200 * 8 * 2 and t["test_items"] == 1200
    assert plan["stages"] == ["audit", "selfdpo", "evaluate"]


def test_dry_run_plans_only_the_chosen_tasks_and_the_first_n_items(demo_settings):
    args = ["run", STRONG, "--profile", "production", "--dry-run", "--json"]
    res = runner.invoke(app, [*args, "--tasks", "mmmu, blink", "--limit", "50"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert [t["task"] for t in plan["tasks"]] == ["mmmu", "blink"]
    assert all(t["audit_items"] == 50 and t["test_items"] == 50 and t["selfdpo_prompts"] <= 50 for t in plan["tasks"])
    whole = json.loads(runner.invoke(app, args).stdout)
    assert [t["task"] for t in whole["tasks"]] == ["mathvista", "mmmu", "blink"]
    assert whole["estimate"]["gpu_hours"] > plan["estimate"]["gpu_hours"]
    for tasks, says in (("mmmu,shapes", "not in protocol profile"), ("mmu", "Did you mean"), (",", "not in")):
        res = runner.invoke(app, [*args, "--tasks", tasks])
        assert res.exit_code == 2 and says in " ".join(res.output.split()), res.output
