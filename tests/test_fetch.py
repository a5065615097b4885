"""`ladder fetch`: what a protocol needs, the lock it writes, and a clear failure when the hub is out of reach."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import get_protocol
from harness.fetch import FetchError, assets, fetch
from harness.submission import load_manifest


def test_production_needs_both_students_every_task_and_the_hub_verifiers():
    ladder = [load_manifest(f"submissions/ladder/{r}.yaml") for r in ("qwen2.5-vl-3b", "qwen3-vl-8b")]
    found = {(a.kind, a.repo_id) for a in assets(get_protocol("production"), ladder)}
    assert found == {("model", "Qwen/Qwen3-VL-2B-Instruct"), ("model", "Qwen/Qwen2.5-VL-3B-Instruct"),
                     ("model", "Qwen/Qwen3-VL-8B-Instruct"), ("dataset", "AI4Math/MathVista"),
                     ("dataset", "MMMU/MMMU"), ("dataset", "BLINK-Benchmark/BLINK")}
    # The Qwen2.5-VL-3B verifier is the student's model: fetched once.
    assert len(assets(get_protocol("production"), ladder)) == 6
    assert assets(get_protocol("demo"), [load_manifest("submissions/demo/strong.yaml")]) == []


def test_fetch_pins_each_revision_and_prepares_datasets():
    calls = []
    todo = assets(get_protocol("production"))
    lock = fetch(todo, snapshot=lambda a, _: "c0ffee" + a.repo_id[:3],
                 prepare=lambda a: calls.append(a.task))
    assert [(a["repo_id"], a["revision"], a["resolved"]) for a in lock["assets"]][0] == \
        ("Qwen/Qwen3-VL-2B-Instruct", "main", "c0ffeeQwe")
    assert calls == ["mathvista", "mmmu", "blink"]


def test_a_protocol_that_names_its_audit_pack_fetches_it_as_files():
    from harness.config import PackRef

    production = get_protocol("production")
    named = production.model_copy(update={"audit": production.audit.model_copy(update={"pack": PackRef(
        name="audit-pack-production", digest="a" * 64, source="verifier-ladder/audit-pack-production@v1")})})
    pack = assets(named)[-1]
    assert (pack.kind, pack.repo_id, pack.revision, pack.task) == ("dataset", "verifier-ladder/audit-pack-production",
                                                                   "v1", None)
    calls = []
    lock = fetch([pack], snapshot=lambda a, _: "c0ffee", prepare=lambda a: calls.append(a))
    assert calls == [] and lock["assets"][0]["resolved"] == "c0ffee"
    assert named.digest() != production.digest()  # the pack is part of the protocol's identity


def test_fetch_failure_names_the_asset():
    def offline(asset, _):
        raise OSError("network unreachable")

    with pytest.raises(FetchError, match=r"model Qwen/Qwen3-VL-2B-Instruct@main \(student qwen3-vl-2b\)"):
        fetch(assets(get_protocol("production")), snapshot=offline)


def test_cli_offline_fails_clearly_and_writes_no_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["fetch", "--profile", "production"])
    assert result.exit_code == 2 and "Qwen/Qwen3-VL-2B-Instruct" in result.output
    assert not (tmp_path / "fetch.lock.json").exists()
    dry = CliRunner().invoke(app, ["fetch", "--dry-run", "submissions/ladder/qwen3-vl-4b.yaml"])
    assert dry.exit_code == 0 and "Qwen3-VL-4B-Instruct" in dry.output and "6 asset(s)" in dry.output


def test_write_lock_is_json(tmp_path):
    from harness.fetch import write_lock

    write_lock({"assets": [{"repo_id": "x", "resolved": "abc"}]}, tmp_path / "l" / "fetch.lock.json")
    assert json.loads((tmp_path / "l" / "fetch.lock.json").read_text())["assets"][0]["resolved"] == "abc"
