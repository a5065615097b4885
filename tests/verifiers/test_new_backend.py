"""A new verifier backend is one file: a class that describes itself and registers, nothing edited elsewhere.

The backend below lives only in this test module. Registered, it is accepted by manifest validation (its own
section rule), audited on the demo students, and costed by the dry run (no device, not remote: "no model"), all
by asking the registry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import AuditConfig, get_protocol
from harness.stages.audit import run_audit
from harness.submission import ManifestError, parse_manifest
from harness.verifiers import BACKENDS, JudgeRequest, RawJudgment, VerifierBackend, register_backend


class LetterAJudge(VerifierBackend):
    """Says an answer is right iff it is the letter A: a judge with a fixed, known bias."""

    name: ClassVar[str] = "letter-a-judge"
    section: ClassVar[str | None] = None

    def judge(self, requests: Sequence[JudgeRequest]) -> list[RawJudgment]:
        answers = [r.prompt.split("Student's answer:")[-1].split("Is the student")[0].strip() for r in requests]
        return [RawJudgment(text=json.dumps({"score": 0.9 if a.startswith("A") else 0.1})) for a in answers]


MANIFEST = {"name": "letter-a", "family": "letter-a", "release": "1", "owner": "tests", "backend": "letter-a-judge",
            "cost": {"kind": "none", "priced_on": "2026-12-02"}}


@pytest.fixture
def toy_backend():
    register_backend(LetterAJudge)
    yield LetterAJudge
    BACKENDS.unregister(LetterAJudge.name)


def test_an_unregistered_backend_is_refused_with_the_known_names():
    with pytest.raises(ManifestError, match="letter-a-judge"):
        parse_manifest(MANIFEST)


def test_a_backend_registered_in_one_file_is_validated_audited_and_costed(toy_backend, demo_settings, tmp_path):
    manifest = parse_manifest(MANIFEST)
    assert manifest.backend == "letter-a-judge"

    demo = get_protocol("demo")
    protocol = demo.model_copy(update={"audit": AuditConfig(size=12, k=2, max_new_tokens=4)})
    result = run_audit(manifest, protocol, "shapes", demo_settings)
    m = result.metrics
    assert m.rubric_accuracy.n == 24 and m.parse_failures.value == 0.0
    assert result.cost.device == "none" and result.cost.judgments == 12 * 2 * 2

    path = tmp_path / "letter-a.yaml"
    path.write_text(json.dumps(MANIFEST))  # JSON is YAML
    out = CliRunner().invoke(app, ["run", str(path), "--dry-run", "--json"])
    assert out.exit_code == 0, out.output
    plan = json.loads(out.stdout)
    assert plan["verifier"] == "letter-a" and plan["estimate"]["judging"] == "letter-a-judge: no model"


def test_a_backend_that_names_a_section_makes_the_manifest_need_it(toy_backend, monkeypatch):
    monkeypatch.setattr(LetterAJudge, "section", "endpoint")
    with pytest.raises(ManifestError, match="needs the 'endpoint' section"):
        parse_manifest(MANIFEST)
