"""The demo ladder's audit-only rungs of the other verifier kinds (harness.stages.kind_rungs): a tiny reward model
and a tiny log-probability judge, built from the warmed-up demo students, audit through the real backends."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from harness.cli import app
from harness.config import get_protocol
from harness.settings import Settings
from harness.stages.kind_rungs import LOGPROB_RUNG, REWARD_RUNG, kind_rungs
from leaderboard.ranking import verifier_kind


def test_the_kind_rungs_audit_as_a_reward_model_and_a_logprob_judge(small_pack, tmp_path, monkeypatch):
    monkeypatch.setenv("LADDER_DATA_DIR", str(small_pack["data"]))
    monkeypatch.setenv("LADDER_DATABASE_URL", f"sqlite:///{tmp_path / 'rungs.db'}")
    settings = Settings(data_dir=small_pack["data"])
    rungs = {m.name: m for m in kind_rungs(get_protocol(small_pack["profile"]), settings)}
    assert sorted(rungs) == sorted([REWARD_RUNG, LOGPROB_RUNG])
    assert {n: verifier_kind(m.is_simulated, m.judging_mode, m.backend) for n, m in rungs.items()} == {
        REWARD_RUNG: "reward", LOGPROB_RUNG: "logprob"}
    again = kind_rungs(get_protocol("demo"), settings)  # built once, then reused: the same manifests
    assert [m.digest() for m in again] == [rungs[REWARD_RUNG].digest(), rungs[LOGPROB_RUNG].digest()]
    for name, m in rungs.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(m.model_dump(mode="json")))
        res = CliRunner().invoke(app, ["audit", str(path), "--task", "shapes", "--profile", small_pack["profile"],
                                       "--pack", str(small_pack["pack"].root), "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert out["parse_failure_rate"] == 0 and out["submission_id"] is not None
        with open(out["verdicts_path"], encoding="utf-8") as fh:
            raws = [json.loads(json.loads(line)["raw"]) for line in fh]
        assert len(raws) == 2 * 20 * 4
        key = "reward" if name == REWARD_RUNG else "p_yes"
        assert all(isinstance(r[key], float) and 0 <= r["score"] <= 1 for r in raws), name


def test_no_rungs_for_a_protocol_without_the_tiny_students(tmp_path):
    assert kind_rungs(get_protocol("production"), Settings(data_dir=tmp_path)) == []
