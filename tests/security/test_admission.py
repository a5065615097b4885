"""Queued manifests are held to the operator's policy where work enters (``ladder submit``, the API, the worker).

Probes of issue 15: ``model.path: /etc`` and ``hub_id: ../../...`` were accepted (the latter loaded another
model folder on the host) and the public failure reason answered "does this path exist"; a rubric template that
raises or overruns (``{{ 9 ** 9999999 }}`` burned 92 s of CPU per render) was accepted.
"""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from harness.admission import admission_problems
from harness.cli import app
from harness.config import ModelRef
from harness.rubric_template import RubricRenderer, TemplateRefused, check_template
from harness.settings import Settings
from harness.submission import ManifestError, parse_manifest

runner = CliRunner()
BASE = {"name": "probe", "family": "probe", "release": "1", "owner": "attacker",
        "cost": {"kind": "none", "priced_on": "2026-11-26"}}


def hf(**model):
    return parse_manifest({**BASE, "backend": "hf", "model": model})


def with_template(template: str):
    return parse_manifest({**BASE, "backend": "simulated", "simulated": {"agreement": 0.9},
                           "rubric_template": template})


@pytest.mark.parametrize("hub_id", ["../../srv/models/other", "/etc/x", "a/b/../c", "a/b/c", "owner/..",
                                    "~/models/x", "owner/name with space"])
def test_a_hub_id_that_is_not_owner_slash_name_is_refused(hub_id):
    with pytest.raises(ManifestError, match="model.hub_id"):
        hf(hub_id=hub_id, revision="main")


def test_a_hub_id_that_also_names_a_local_folder_is_not_read_as_one(tmp_path, monkeypatch):
    (tmp_path / "acme" / "judge").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    ref = ModelRef(hub_id="acme/judge", revision="main")
    with pytest.raises(ValueError, match="also names a local folder"):
        ref.location  # noqa: B018 - what from_pretrained would be given


def test_local_model_folders_are_refused_unless_inside_the_models_root(tmp_path):
    root, outside = tmp_path / "models", tmp_path / "private-model"
    (root / "judge").mkdir(parents=True)
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    closed = Settings(data_dir=tmp_path)
    assert admission_problems(hf(path="/etc"), closed) == [
        ("model.path", "local model folders are not accepted here; name a hub id")]
    opened = Settings(data_dir=tmp_path, models_root=root)
    assert admission_problems(hf(path="judge"), opened) == []
    assert admission_problems(hf(path=str(root / "judge")), opened) == []
    refusals = {str(p): admission_problems(hf(path=p), opened) for p in
                ("/etc", "../private-model", "escape", str(outside), "/no/such/folder", "../no-such")}
    # The same words whether the folder exists or not: a refusal is no oracle for the host's files.
    assert {str(r) for r in refusals.values()} == {
        "[('model.path', \"must be a folder inside the operator's models folder\")]"}


@pytest.mark.parametrize(("template", "says"), [
    ("{{ 9 ** 9999999 }} {{ question }} {{ candidate }}", "power with exponent 9999999"),
    ("{{ 'a' * 10**7 }} {{ question }} {{ candidate }}", "repeating a sequence"),
    ("{{ question }} {{ candidate }} {{ ().__class__.__bases__ }}", "SecurityError"),
    ("{{ question }} {{ candidate }} {{ nothing.here }}", "UndefinedError"),
    ("{{ question }} {{ candidate }} {{ 1 // 0 }}", "ZeroDivisionError"),
    ("{{ question }} {{ candidate }} {{ (10.0 ** 100) ** 4 }}", "OverflowError"),
    ("{{ question }} {{ candidate }} {% for i in range(10**6) %}{% endfor %}", "range of 1000000"),
    ("{{ question }} {{ candidate }} {% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
     "longer than 1 s"),
    # Past what the sandbox intercepts, the child's limits hold: output length, then time or memory, whichever
    # a loaded machine meets first.
    ("{{ question|center(10**8) }} {{ candidate }}", "rendered 1000000|longer than 1 s"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
     "{{ question }} {{ candidate }}", "MiB|longer than 1 s"),
])
def test_a_template_that_raises_or_overruns_is_refused_with_its_reason(template, says):
    with pytest.raises(TemplateRefused, match=says):
        check_template(template)


def test_ladder_submit_refuses_a_bad_template_and_stores_nothing(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path))
    path = tmp_path / "bomb.yaml"
    path.write_text(yaml.safe_dump({**BASE, "backend": "simulated", "simulated": {"agreement": 0.9},
                                    "rubric_template": "{{ 9 ** 9999999 }}{{ question }}{{ candidate }}"}))
    res = runner.invoke(app, ["submit", str(path), "--profile", "smoke"])
    assert res.exit_code == 2 and "rubric_template" in res.output and "exponent" in res.output
    assert runner.invoke(app, ["status", "--json"]).stdout.strip() == "[]"


def test_a_renderer_outlives_nothing_it_renders_for():
    # Normal templates render fast in the child; a stopped renderer refuses rather than hanging.
    render = RubricRenderer("Q: {{ question }}\nA: {{ candidate }}")
    assert render("2+2?", "4") == "Q: 2+2?\nA: 4"
    pid = render._proc.pid
    render.close()
    with pytest.raises(TemplateRefused, match="stopped"):
        render("q", "c")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
