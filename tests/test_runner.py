"""`ladder run`: the whole protocol on a small demo protocol, resume after a kill, bad states."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.protocol import get_protocol
from harness.runner import run_id
from harness.submission import load_manifest

runner = CliRunner()
STRONG = "submissions/demo/strong.yaml"


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
        assert s["status"] == "succeeded" and s["n"] == 1200
        assert s["delta"] == pytest.approx(s["post"] - s["baseline"])
        assert s["delta_ci_low"] <= s["delta"] <= s["delta_ci_high"]
        assert 0 <= s["mcnemar_p"] <= 1 and s["mde"] > 0
        assert len(s["rounds"]) == 2 and len(s["loss_curve"]) == sum(r["steps"] for r in s["rounds"])
        assert isinstance(s["silent_regression"], bool)


def test_rerun_reuses_finished_stages(demo_settings, small_profile, monkeypatch):
    _, first = run_json(STRONG, small_profile)
    import harness.runner as runner_mod

    def must_not_run(*a, **k):
        raise AssertionError("a finished stage was redone")

    monkeypatch.setattr(runner_mod, "run_audit", must_not_run)
    monkeypatch.setattr(runner_mod, "self_dpo", must_not_run)
    code, second = run_json(STRONG, small_profile)
    assert code == 0 and second == first


def test_killed_run_resumes_to_the_same_numbers(demo_settings, small_profile):
    manifest = "submissions/demo/moderate.yaml"
    _, uninterrupted = run_json(manifest, small_profile)
    runs = demo_settings.data_dir / "runs"
    # This run's folder (other tests, e.g. the demo ladder, leave runs of the same verifier under other protocols).
    run_dir = runs / run_id(load_manifest(manifest), get_protocol(small_profile))
    assert (run_dir / "shapes" / "audit.json").exists()
    import shutil

    shutil.rmtree(run_dir)
    env = {**os.environ, "LADDER_DATA_DIR": str(demo_settings.data_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", manifest, "--profile", small_profile,
                             "--json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (run_dir / "shapes" / "audit.json").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before its first stage was saved"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "shapes" / "tiny-qwen2.5-vl.json").exists()  # killed mid-way
    code, resumed = run_json(manifest, small_profile)
    assert code == 0
    assert _strip_timing(resumed) == _strip_timing(uninterrupted)


def test_a_verifier_that_fails_every_item_ends_with_a_recorded_reason(demo_settings, small_profile, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manifest = tmp_path / "dead.yaml"
    manifest.write_text(
        "name: dead-endpoint\nfamily: dead\nrelease: '1'\nowner: tests\nbackend: openai\n"
        f"endpoint: {{base_url: 'http://127.0.0.1:{port}/v1', model: m, max_retries: 0, timeout_s: 2}}\n"
        "cost: {kind: api, usd_per_1m_input_tokens: 1, usd_per_1m_output_tokens: 1, priced_on: 2026-11-26}\n")
    code, doc = run_json(str(manifest), small_profile)
    assert code == 1
    shapes = doc["tasks"]["shapes"]
    assert shapes["audit"]["parse_failure_rate"] == 1.0
    for s in shapes["students"].values():
        assert s["status"] == "failed" and "no parseable verdict" in s["failure"] and s["post"] is None
    assert doc["status"] == "failed"


def test_dry_run_prints_the_plan_without_running(demo_settings):
    res = runner.invoke(app, ["run", STRONG, "--profile", "demo", "--dry-run", "--json"])
    assert res.exit_code == 0
    plan = json.loads(res.stdout)
    (t,) = plan["tasks"]
    assert t["audit_judgments"] == 200 * 8 * 2 and t["test_items"] == 1200
    assert plan["stages"] == ["audit", "selfdpo", "evaluate"]
