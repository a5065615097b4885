"""The release-gate recipe (README, examples/ci/verifier-release.yml) works as written: its `audit` and `compare`
steps, run by bash with the workflow's own commands, audit a judge behind a local OpenAI-compatible server from an
audit pack, store each release, pass a release as good as the previous one and block one that is worse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures.openai_server import FakeServer, oracle_judge

WORKFLOW = Path("examples/ci/verifier-release.yml")


def steps() -> dict[str, str]:
    return {s["id"]: s["run"] for s in yaml.safe_load(WORKFLOW.read_text())["jobs"]["gate"]["steps"] if "id" in s}


def run_step(script: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def write_manifest(folder: Path, release: str, base_url: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "verifier.yaml").write_text(yaml.safe_dump({
        "name": "team-judge", "family": "team-judge", "release": release, "owner": "tests", "backend": "openai",
        "endpoint": {"base_url": base_url, "model": "judge", "max_retries": 0, "concurrency": 4},
        "cost": {"kind": "api", "usd_per_1m_input_tokens": 1.0, "usd_per_1m_output_tokens": 2.0,
                 "priced_on": "2026-11-26"}}))


@pytest.mark.parametrize("worse", [False, True], ids=["same-judge", "worse-judge"])
def test_the_release_gate_recipe_passes_a_good_release_and_blocks_a_worse_one(small_pack, tmp_path, worse):
    run = steps()
    assert {"judge", "audit", "compare"} <= set(run)  # the judge step starts vLLM: here a local server stands in
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "LADDER_DATA_DIR": str(small_pack["data"]), "LADDER_DATABASE_URL": f"sqlite:///{tmp_path / 'team.db'}",
           "LADDER_PROFILE": small_pack["profile"], "LADDER_PACK": str(small_pack["pack"].root), "TASKS": "shapes",
           "PREVIOUS": "team-judge@1", "RELEASE": "team-judge@2", "HF_HUB_OFFLINE": "1"}
    codes = {}
    for release, accept_everything in (("1", False), ("2", worse)):
        server = FakeServer(oracle_judge(accept_everything))
        try:
            write_manifest(tmp_path / release, release, server.base_url)
            audit = run_step(run["audit"], tmp_path / release, env)
        finally:
            server.stop()
        assert server.hits == 2 * 20 * 4, audit.stderr  # every candidate of the pack judged once, nothing else
        codes[release] = audit.returncode
        results = tmp_path / release / "results"
        assert (results / "shapes" / "results.json").is_file() and (results / "shapes" / "samples_shapes.jsonl")
        assert '"submission_id"' in (results / "shapes.json").read_text()
    assert codes["1"] == 0  # the oracle agrees with the exact match on every candidate: above both baselines
    assert json.loads((tmp_path / "1" / "results" / "shapes.json").read_text())["rubric_accuracy"] == 1.0
    compare = run_step(run["compare"], tmp_path, env)
    assert compare.returncode == (1 if worse else 0), compare.stdout + compare.stderr
