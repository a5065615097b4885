"""The rubric audit end to end on the demo profile: simulated, hf and openai verifiers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.artifacts import read_jsonl
from harness.cli import EXIT_BLOCKED, EXIT_INTERRUPTED, app
from harness.config import AuditConfig, get_protocol
from harness.metrics import wilson_interval
from harness.stages.audit import run_audit
from harness.submission import parse_manifest
from tests.fixtures.openai_server import FakeServer, completion

runner = CliRunner()


def simulated_manifest(tmp_path: Path, agreement: float, confidence: str = "confident", seed: int = 0) -> Path:
    path = tmp_path / f"sim-{agreement}-{confidence}-{seed}.yaml"
    path.write_text(yaml.safe_dump({
        "name": f"sim-{agreement}", "family": "sim", "release": str(agreement), "owner": "tests",
        "backend": "simulated", "simulated": {"agreement": agreement, "confidence": confidence, "seed": seed},
        "cost": {"kind": "none", "priced_on": "2026-11-26"},
    }))
    return path


def strict_loads(text: str):
    """RFC 8259 JSON only: the bare NaN / Infinity that Python's json accepts (and JSON.parse rejects) fail here."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def audit_json(manifest: Path, *extra: str, profile: str = "demo") -> tuple[int, dict | None]:
    res = runner.invoke(app, ["audit", str(manifest), "--task", "shapes", "--profile", profile, "--json", *extra])
    return res.exit_code, (strict_loads(res.stdout) if res.exit_code in (0, EXIT_BLOCKED) else None)


def small_protocol(size: int = 10, k: int = 2):
    demo = get_protocol("demo")
    return demo.model_copy(update={"audit": AuditConfig(size=size, k=k, max_new_tokens=4)})


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8, 0.95])
def test_simulated_rubric_accuracy_ci_covers_p_and_gate_follows_baseline(demo_settings, tmp_path, p):
    code, doc = audit_json(simulated_manifest(tmp_path, p))
    assert code == 0, doc
    assert doc["n"] == 400  # 200 audit items x 2 students, first candidate each
    # The simulated judge's draws are keyed by the candidates, which the tiny students' training makes differ from
    # CPU to CPU: a 95% CI misses p on one machine in 20 per case. Asserted instead: the CI is the Wilson interval
    # of what was observed, and the observed share is within the 99.9% band of p (false alarm 0.1% per case).
    acc = doc["metrics"]["rubric_accuracy"]
    assert (doc["ci_low"], doc["ci_high"]) == pytest.approx(wilson_interval(acc["k"], acc["n"]))
    assert abs(doc["rubric_accuracy"] - p) <= 3.29 * math.sqrt(p * (1 - p) / doc["n"])
    assert doc["parse_failure_rate"] == 0.0
    assert doc["verifier"]["simulated"] is True
    for student, g in doc["gate"].items():
        assert 0.3 < g["baseline"] < 0.8, f"{student} warm-up left the baseline outside the middling band"
        assert g["verdict"] == ("above" if g["rubric_accuracy"] >= g["baseline"] else "below")
    for key in ("pair_direction_accuracy", "gated_pair_direction_accuracy", "cost", "provenance"):
        assert key in doc
    assert doc["provenance"]["protocol_version"] == "2" and doc["provenance"]["seeds"]["simulated"] == 0
    assert doc["cost"]["judgments"] == 2 * 200 * 8
    # how each student generated: its checkpoint's defaults (read from its folder), the protocol's overrides
    for student in doc["gate"]:
        gen = doc["provenance"]["generation"][student]
        assert gen["read_from"].endswith("generation_config.json") and gen["protocol"]["top_k"] == 0
        assert gen["effective"]["audit_candidates"]["do_sample"] is True
        assert gen["effective"]["evaluation"]["do_sample"] is False


def test_gate_flips_where_rubric_accuracy_crosses_the_baseline(demo_settings, tmp_path):
    low_code, low = audit_json(simulated_manifest(tmp_path, 0.3), "--fail-on-block")
    high_code, high = audit_json(simulated_manifest(tmp_path, 0.9), "--fail-on-block")
    assert low_code == EXIT_BLOCKED and all(g["verdict"] == "below" for g in low["gate"].values())
    assert high_code == 0 and all(g["verdict"] == "above" for g in high["gate"].values())
    assert low["blocked"] and not high["blocked"]
    # Same students, same baselines: only the verifier changed.
    assert {s: g["baseline"] for s, g in low["gate"].items()} == {s: g["baseline"] for s, g in high["gate"].items()}


def test_confident_wrong_verifier_has_wrong_pair_directions(demo_settings, tmp_path):
    _, doc = audit_json(simulated_manifest(tmp_path, 0.2))
    assert doc["gated_pair_direction_accuracy"] < 0.5
    _, good = audit_json(simulated_manifest(tmp_path, 0.9))
    assert good["gated_pair_direction_accuracy"] > 0.8


def test_limit_audits_the_first_n_items_marks_the_result_partial_and_never_stores_it(demo_settings, tmp_path,
                                                                                     monkeypatch):
    from harness.store import connect
    from harness.store.queue import listing

    url = f"sqlite:///{tmp_path / 'ladder.db'}"
    monkeypatch.setenv("LADDER_DATABASE_URL", url)
    manifest = simulated_manifest(tmp_path, 0.8)
    code, part = audit_json(manifest, "--limit", "6")
    assert code == 0, part
    assert part["n"] == 2 * 6 and part["item_limit"] == 6 and part["provenance"]["item_limit"] == 6
    assert all(g["baseline_n"] == 6 for g in part["gate"].values()), "baselines on the first 6 test items"
    assert part["submission_id"] is None
    res = runner.invoke(app, ["audit", str(manifest), "--task", "shapes", "--profile", "demo", "--limit", "6"])
    assert "partial: first 6 items" in " ".join(res.output.split()) and "not stored" in res.output

    code, whole = audit_json(manifest)
    assert code == 0 and whole["item_limit"] is None and "item_limit" not in whole["provenance"]
    assert whole["provenance"]["protocol_digest"] == get_protocol("demo").digest() != part["provenance"][
        "protocol_digest"], "a partial result never shares the profile's digest"
    assert [s.id for s in listing(connect(url), 10)] == [whole["submission_id"]], "the partial audits left nothing"


def test_table_output_says_the_gate_in_words(demo_settings, tmp_path):
    res = runner.invoke(app, ["audit", str(simulated_manifest(tmp_path, 0.9)), "--task", "shapes",
                              "--profile", "demo"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # rich wraps lines at the terminal width
    assert "rubric accuracy" in text and "ABOVE the frozen baseline" in text and "self-DPO may run" in text
    assert "[simulated]" in text


def test_same_seeds_give_identical_results_even_after_resampling(demo_settings, tmp_path):
    manifest = simulated_manifest(tmp_path, 0.7, "moderate", seed=3)
    _, first = audit_json(manifest)
    for cached in (demo_settings.data_dir / "artifacts").glob("candidates/*"):
        cached.unlink()
    _, second = audit_json(manifest)
    for doc in (first, second):
        doc["provenance"].pop("created_at")
        doc["cost"].pop("wall_seconds")
    assert first == second


def test_bad_manifest_and_unknown_task_exit_2(demo_settings, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbackend: simulted\n")
    res = runner.invoke(app, ["audit", str(bad), "--task", "shapes", "--profile", "demo"])
    assert res.exit_code == 2 and "bad.yaml" in res.output and "Did you mean" in res.output
    res = runner.invoke(app, ["audit", str(simulated_manifest(tmp_path, 0.5)), "--task", "mmmu", "--profile", "demo"])
    assert res.exit_code == 2 and "not in protocol profile" in res.output


def test_interrupt_leaves_no_partial_verdicts(demo_settings, tmp_path, monkeypatch):
    from harness.verifiers.simulated import SimulatedBackend

    def interrupted(self, requests):
        raise KeyboardInterrupt

    monkeypatch.setattr(SimulatedBackend, "judge", interrupted)
    before = set((demo_settings.data_dir / "artifacts").rglob("verdicts/*"))
    res = runner.invoke(app, ["audit", str(simulated_manifest(tmp_path, 0.42)), "--task", "shapes",
                              "--profile", "demo"])
    assert res.exit_code == EXIT_INTERRUPTED and "interrupted" in res.output
    assert set((demo_settings.data_dir / "artifacts").rglob("verdicts/*")) == before


def test_hf_tiny_verifier_judges_real_images_and_garbage_is_recorded(demo_settings, tiny_model_dirs):
    manifest = parse_manifest({
        "name": "tiny-hf", "family": "tiny", "release": "0", "owner": "tests", "backend": "hf",
        "model": {"path": str(tiny_model_dirs["qwen3_vl"])}, "generation": {"max_new_tokens": 8, "batch_size": 8},
        "cost": {"kind": "gpu", "gpu_type": "H100-80GB", "usd_per_gpu_hour": 2.5, "priced_on": "2026-11-26"},
    })
    result = run_audit(manifest, small_protocol(), "shapes", demo_settings)
    m = result.metrics
    assert m.n_judgments == 2 * 10 * 2
    assert m.parse_failures.value == 1.0  # an untrained model answers garbage: recorded, not raised
    assert m.rubric_accuracy.value == 0.0 and result.blocked
    rows = read_jsonl(Path(result.verdicts_path))
    assert len(rows) == 40 and all(r["raw"] is not None and r["parse_error"] for r in rows)
    assert all(r["backend_error"] is None for r in rows)
    assert result.cost.input_tokens > 40 * 16  # the images' tokens were in the prompt
    assert result.cost.device == "cpu" and result.cost.usd is None and "does not apply" in result.cost.note


def test_openai_backend_audit_against_a_real_local_server(demo_settings, monkeypatch):
    monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "1")  # the operator's own server on 127.0.0.1

    def judge(n, body, headers, server):
        if n % 10 == 0:
            return 500, {}, {"error": {"message": "overloaded"}}
        return 200, {}, completion('Sure. ```json\n{"score": "90%"}\n```', prompt_tokens=100, completion_tokens=7)

    server = FakeServer(judge)
    try:
        manifest = parse_manifest({
            "name": "local-judge", "family": "judge", "release": "1", "owner": "tests", "backend": "openai",
            "endpoint": {"base_url": server.base_url, "model": "judge", "max_retries": 0, "concurrency": 4},
            "cost": {"kind": "api", "usd_per_1m_input_tokens": 1.0, "usd_per_1m_output_tokens": 2.0,
                     "priced_on": "2026-11-26"},
        })
        result = run_audit(manifest, small_protocol(), "shapes", demo_settings)
    finally:
        server.stop()
    rows = read_jsonl(Path(result.verdicts_path))
    failed = [r for r in rows if r["backend_error"]]
    assert len(rows) == 40 and len(failed) == 4 and all("500" in r["backend_error"] for r in failed)
    assert all(r["score"] == 0.9 for r in rows if not r["backend_error"])
    assert result.metrics.parse_failures.k == 4
    assert result.cost.input_tokens == 36 * 100 and result.cost.output_tokens == 36 * 7
    assert result.cost.usd == pytest.approx((3600 * 1.0 + 252 * 2.0) / 1e6)
    assert server.requests[0]["messages"][0]["content"][0]["type"] == "image_url"


def test_audit_json_stays_strict_json_when_no_verdict_parses(demo_settings, tmp_path):
    """A judge whose every reply is unparseable has no pair-direction accuracy: `--json` says null (a CI script
    reading it with a strict parser must not break exactly when the judge is broken)."""
    server = FakeServer(lambda n, body, headers, server: (200, {}, completion("I cannot tell from the image.")))
    profile = tmp_path / "small.json"
    profile.write_text(small_protocol(size=4, k=2).model_dump_json())
    manifest = tmp_path / "broken-judge.yaml"
    try:
        manifest.write_text(yaml.safe_dump({
            "name": "broken-judge", "family": "judge", "release": "1", "owner": "tests", "backend": "openai",
            "endpoint": {"base_url": server.base_url, "model": "judge", "max_retries": 0},
            "cost": {"kind": "none", "priced_on": "2026-11-26"},
        }))
        code, doc = audit_json(manifest, "--allow-local-endpoints", profile=str(profile))
    finally:
        server.stop()
    assert code == 0 and server.hits == 2 * 4 * 2
    assert doc["parse_failure_rate"] == 1.0 and doc["n"] == 8
    assert doc["pair_direction_accuracy"] is None and doc["gated_pair_direction_accuracy"] is None


def test_audit_output_dir_holds_the_result_document_and_every_judgment(demo_settings, tmp_path):
    """`--output DIR`: results.json parses back as the audit's document (and matches --json), its schema beside it,
    and samples_<task>.jsonl holds one strict-JSON line per judgment with what a reader needs to check it."""
    from harness.cli.outputs import SAMPLE_COLUMNS
    from harness.documents import AuditResult

    profile = tmp_path / "small.json"
    profile.write_text(small_protocol(size=4, k=2).model_dump_json())
    out = tmp_path / "out"
    code, doc = audit_json(simulated_manifest(tmp_path, 0.9), "--output", str(out), profile=str(profile))
    assert code == 0
    result = AuditResult.model_validate(strict_loads((out / "results.json").read_text()))
    assert result.metrics.rubric_accuracy.value == doc["rubric_accuracy"] and result.task == "shapes"
    assert strict_loads((out / "results.schema.json").read_text())["title"] == "AuditResult"
    lines = (out / "samples_shapes.jsonl").read_text().splitlines()
    rows = [strict_loads(line) for line in lines]
    assert len(rows) == 2 * 4 * 2 and all(tuple(r) == SAMPLE_COLUMNS for r in rows)
    for r in rows:
        assert r["question"] == "How many shapes are in the image?" and r["gold"] in "ABCD"
        assert r["response"] in r["prompt"] and r["question"] in r["prompt"]  # the rubric as the judge saw it
        assert r["agrees"] == (r["verdict"] == r["truth"]) and isinstance(r["score"], float)


def test_shared_artifact_dir_serves_a_second_submission_without_resampling(demo_settings, tmp_path, monkeypatch):
    """Frozen-student candidates and baselines are computed once, in LADDER_ARTIFACTS_DIR, for every submission."""
    import harness.stages.audit as audit_mod

    shared = tmp_path / "shared-artifacts"
    settings = demo_settings.model_copy(update={"artifacts_dir": shared})
    protocol = small_protocol(size=6, k=2)
    first = run_audit(parse_manifest(yaml.safe_load(simulated_manifest(tmp_path, 0.9).read_text())), protocol,
                      "shapes", settings)
    assert {p.name for p in shared.iterdir()} >= {"candidates", "baselines", "verdicts"}
    assert first.verdicts_path.startswith(str(shared))

    def must_not_sample(*a, **k):
        raise AssertionError("shared candidates were sampled again")

    monkeypatch.setattr(audit_mod.LazyStudent, "__call__", must_not_sample)
    second = run_audit(parse_manifest(yaml.safe_load(simulated_manifest(tmp_path, 0.3).read_text())), protocol,
                       "shapes", settings)
    assert second.metrics.rubric_accuracy.value < first.metrics.rubric_accuracy.value
