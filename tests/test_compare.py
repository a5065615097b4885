"""`ladder compare`: a verifier team's release gate, on two stored releases of one family."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_compare_fails_a_worse_release_and_passes_a_better_one(db_url, demo_data_dir, small_profile, tmp_path,
                                                               monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir / "students", data / "students")
    monkeypatch.setenv("LADDER_DATA_DIR", str(data))
    monkeypatch.setenv("LADDER_DATABASE_URL", db_url)
    good = yaml.safe_load(Path("submissions/demo/strong.yaml").read_text())
    good.update(name="team-judge", family="team-judge", release="1.0")
    bad = dict(good, release="1.1", simulated={**good["simulated"], "agreement": 0.3})
    for doc in (good, bad):
        path = tmp_path / f"{doc['release']}.yaml"
        path.write_text(yaml.safe_dump(doc))
        assert runner.invoke(app, ["submit", str(path), "--profile", small_profile]).exit_code == 0
    assert runner.invoke(app, ["worker", "--once"]).exit_code == 0

    worse = runner.invoke(app, ["compare", "team-judge@1.0", "team-judge@1.1", "--json"])
    assert worse.exit_code == 1, worse.output
    assert '"b_worse": true' in worse.stdout and "rubric accuracy" in worse.stdout
    better = runner.invoke(app, ["compare", "team-judge@1.1", "team-judge@1.0"])
    assert better.exit_code == 0, better.output
    missing = runner.invoke(app, ["compare", "team-judge@1.0", "team-judge@9"])
    assert missing.exit_code == 2 and "no succeeded submission" in " ".join(missing.output.split())
