"""Audit packs: built from the frozen students once, then any verifier is audited from the pack with the full
audit's numbers and without loading a student; an altered pack or one built under another protocol is refused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from harness.cli import EXIT_BAD_INPUT, app
from harness.packs import CHECKSUMS, PackError, verify
from harness.tasks import get_task

runner = CliRunner()
STRONG = "submissions/demo/strong.yaml"


def cli_json(args: list[str]) -> dict:
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture
def built(small_pack):
    return small_pack


@pytest.fixture
def data_env(built, monkeypatch):
    monkeypatch.setenv("LADDER_DATA_DIR", str(built["data"]))
    monkeypatch.setenv("LADDER_DATABASE_URL", f"sqlite:///{built['data'] / 'packs-test.db'}")


def no_students(monkeypatch):
    """Any attempt to build, warm up, load or sample a student fails the test."""
    def refuse(*_a, **_k):
        raise AssertionError("a student was loaded")

    import harness.stages.audit as audit
    import harness.stages.common as common
    import harness.stages.students as students

    monkeypatch.setattr(audit, "prepare_student", refuse)
    monkeypatch.setattr(audit, "resolve_student", refuse)
    monkeypatch.setattr(students, "resolve_student", refuse)
    monkeypatch.setattr(common, "load_vlm", refuse)


METRICS = ("rubric_accuracy", "ci_low", "ci_high", "n", "parse_failure_rate", "pair_direction_accuracy",
           "gated_pair_direction_accuracy", "margin_weighted_direction_accuracy", "gate", "blocked", "metrics")


def test_an_audit_from_the_pack_matches_the_full_audit_without_loading_a_student(built, data_env, monkeypatch):
    args = ["audit", STRONG, "--task", "shapes", "--profile", built["profile"]]
    full = cli_json(args)
    no_students(monkeypatch)
    packed = cli_json([*args, "--pack", str(built["pack"].root)])
    assert {k: packed[k] for k in METRICS} == {k: full[k] for k in METRICS}
    assert [s["metrics"] for s in packed["students"]] == [s["metrics"] for s in full["students"]]
    assert packed["n"] == 2 * 20 and packed["metrics"]["pairs_all"]["pairs"] > 0
    pack_ref = packed["provenance"]["datasets"]["audit_pack"]
    assert pack_ref["digest"] == built["pack"].digest and pack_ref["name"] == "audit-pack-demo"
    # Results from a pack never rank with results sampled elsewhere: the pack is part of the protocol's identity.
    assert packed["provenance"]["protocol_digest"] != full["provenance"]["protocol_digest"]


def test_a_limited_audit_from_the_pack_judges_its_first_items(built, data_env, monkeypatch):
    no_students(monkeypatch)
    args = ["audit", STRONG, "--task", "shapes", "--profile", built["profile"], "--pack", str(built["pack"].root)]
    part = cli_json([*args, "--limit", "5"])
    assert part["n"] == 2 * 5 and part["item_limit"] == 5 and part["submission_id"] is None
    assert part["provenance"]["datasets"]["audit_pack"]["digest"] == built["pack"].digest
    with open(part["verdicts_path"], encoding="utf-8") as fh:
        judged = {json.loads(line)["item_id"] for line in fh}
    assert judged == {r["item_id"] for r in built["pack"].rows("items", "shapes")[:5]}


def test_a_pack_with_its_images_audits_without_the_dataset(built, data_env, monkeypatch):
    from harness.errors import MissingInput
    from harness.tasks.shapes import Shapes

    args = ["audit", STRONG, "--task", "shapes", "--profile", built["profile"]]
    with_dataset = cli_json([*args, "--pack", str(built["embedded"].root)])

    def gone(self, *a, **k):
        raise MissingInput("the shapes data is not here")

    monkeypatch.setattr(Shapes, "items", gone)
    no_students(monkeypatch)
    without = cli_json([*args, "--pack", str(built["embedded"].root)])
    assert {k: without[k] for k in METRICS} == {k: with_dataset[k] for k in METRICS}
    res = runner.invoke(app, [*args, "--pack", str(built["pack"].root)])  # images referenced only: say what's missing
    assert res.exit_code == EXIT_BAD_INPUT and "not here" in res.output


def test_the_pack_loads_with_datasets_in_the_hub_layout(built, tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    root = str(built["pack"].root)
    cands = datasets.load_dataset(root, split="shapes", cache_dir=str(tmp_path / "cache"))
    assert len(cands) == 2 * 20 * 4 and set(cands["student"]) == {"tiny-qwen3-vl", "tiny-qwen2.5-vl"}
    base = datasets.load_dataset(root, "baselines", split="shapes", cache_dir=str(tmp_path / "cache"))
    assert all(0 < r["k"] <= r["n"] for r in base) and set(base["split"]) == {"test"}
    images = datasets.load_dataset(str(built["embedded"].root), "items", split="shapes",
                                   cache_dir=str(tmp_path / "cache"))
    from harness.tasks import get_task

    originals = {it.id: it.images for it in get_task("shapes").items()}
    row = images[0]
    assert [im.tobytes() for im in row["images"]] == [im.convert(row["images"][0].mode).tobytes()
                                                      for im in originals[row["item_id"]]]


def copy_pack(pack, dest):
    import shutil

    return shutil.copytree(pack.root, dest)


@pytest.mark.parametrize("damage", ["flip a byte", "add a file", "drop a file", "edit pack.json"])
def test_a_damaged_pack_is_refused_by_verify_and_by_audit(built, data_env, tmp_path, damage):
    root = copy_pack(built["pack"], tmp_path / "pack")
    target = root / "candidates" / "shapes.parquet"
    if damage == "flip a byte":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 1
        target.write_bytes(bytes(data))
    elif damage == "add a file":
        (root / "candidates" / "extra.parquet").write_bytes(target.read_bytes())
    elif damage == "drop a file":
        target.unlink()
    else:
        (root / "pack.json").write_text((root / "pack.json").read_text().replace('"k": 4', '"k": 5'))
    with pytest.raises(PackError):
        verify(root)
    for args in (["pack", "verify", str(root)],
                 ["audit", STRONG, "--task", "shapes", "--profile", built["profile"], "--pack", str(root)]):
        res = runner.invoke(app, args)
        assert res.exit_code == EXIT_BAD_INPUT and "Traceback" not in res.output, res.output
        assert "pack" in res.output


def test_verify_reports_the_digest_that_audits_record(built):
    out = cli_json(["pack", "verify", str(built["pack"].root)])
    assert out["digest"] == built["pack"].digest
    assert out["tasks"]["shapes"] == {"dataset": get_task("shapes").identity(), "items": 20, "candidates": 160}
    assert out["tasks"]["shapes"]["dataset"]["generated"] == "Shapes" and out["tasks"]["shapes"]["dataset"]["seed"] == 0
    assert (built["pack"].root / CHECKSUMS).read_text().count("\n") == 5  # README, pack.json and three tables


def test_a_pack_built_under_another_protocol_is_refused(built, data_env):
    res = runner.invoke(app, ["audit", STRONG, "--task", "shapes", "--profile", "demo", "--pack",
                              str(built["pack"].root)])
    assert res.exit_code == EXIT_BAD_INPUT
    assert "built under protocol" in " ".join(res.output.split())


def test_build_refuses_a_folder_that_holds_something(built, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    res = runner.invoke(app, ["pack", "build", "--profile", built["profile"], "--out", str(tmp_path)])
    assert res.exit_code == EXIT_BAD_INPUT and "not empty" in res.output
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_audits_from_a_pack_land_on_the_leaderboard_and_compare(built, data_env, tmp_path, monkeypatch):
    """`ladder audit --pack` records an audit-only submission: the leaderboard ranks it by rubric accuracy, marked
    "audit only" with its gate verdicts and its deltas not run, and `ladder compare` compares the rubric."""
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from harness.settings import Settings
    from harness.store import connect
    from leaderboard import queries
    from leaderboard.app import create_app

    url = f"sqlite:///{tmp_path / 'board.db'}"
    monkeypatch.setenv("LADDER_DATABASE_URL", url)
    ids = {}
    for name in ("strong", "moderate"):
        out = cli_json(["audit", f"submissions/demo/{name}.yaml", "--task", "shapes", "--profile", built["profile"],
                        "--pack", str(built["pack"].root)])
        ids[name] = out["submission_id"]
    assert isinstance(ids["strong"], int) and ids["strong"] != ids["moderate"]
    with Session(connect(url)) as session:
        (protocol,) = queries.protocols(session)
        rows = queries.leaderboard(session, protocol, "shapes")
    assert [r.submission_id for r in rows] == [ids["strong"], ids["moderate"]]  # ranked by rubric accuracy
    assert all(r.audit_only and {c.status for c in r.students} == {"not run"} for r in rows)
    assert all(c.gate in ("above", "below") and c.delta is None for r in rows for c in r.students)
    compared = cli_json(["compare", "demo-strong@1", "demo-moderate@1"])
    (task,) = compared["tasks"]
    assert task["task"] == "shapes" and task["students"] == {}
    assert task["rubric"]["shared_judgments"] == 2 * 20 * 4 and task["rubric"]["shared_items"] == 20
    with TestClient(create_app(Settings(data_dir=tmp_path), engine=connect(url))) as client:
        page = client.get("/", params={"task": "shapes"}).text
    assert page.count("audit only") >= 2 and "not run" in page


@pytest.mark.parametrize(("args", "says"), [(["--tasks", "shapez"], "shapes"), (["--tasks", "mmmu"], "not in protocol"),
                                            (["--profile", "nope"], "nope")])
def test_build_mistakes_exit_2_with_the_reason(tmp_path, args, says):
    res = runner.invoke(app, ["pack", "build", "--profile", "demo", "--out", str(tmp_path / "p"), *args])
    assert res.exit_code == EXIT_BAD_INPUT and says in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "p").exists()


def test_a_hub_download_of_the_pack_verifies(built, tmp_path):
    """A pack downloaded from the hub carries the repository's .gitattributes (and a local download a .cache
    folder): hidden files are not part of the pack, nothing reads them."""
    root = copy_pack(built["pack"], tmp_path / "pack")
    (root / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    (root / ".cache" / "huggingface").mkdir(parents=True)
    (root / ".cache" / "huggingface" / "download.lock").write_text("")
    assert verify(root).digest == built["pack"].digest


def test_a_logprob_judge_audits_from_the_pack_with_the_servers_probabilities(built, data_env, tmp_path, monkeypatch):
    """issue 19: an audit by a log-probability judge on an OpenAI-compatible server (the local oracle, P(yes) 0.9
    when the candidate is right, 0.1 when wrong, spelled 'Yes' and ' yes'): every judgment's score is the server's
    probability, none fails to parse, and the oracle's ranking is perfect."""
    import yaml

    from tests.fixtures.openai_server import FakeServer, oracle_judge

    monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    no_students(monkeypatch)
    server = FakeServer(oracle_judge())
    try:
        manifest = tmp_path / "logprob.yaml"
        manifest.write_text(yaml.safe_dump({
            "name": "logprob-judge", "family": "logprob-judge", "release": "1", "owner": "tests", "backend": "openai",
            "endpoint": {"base_url": server.base_url, "model": "judge-test"},
            "judging": {"mode": "logprob"},
            "rubric_template": "Question:\n{{ question }}\n\nStudent's answer:\n{{ candidate }}\n\nIs the "
                               "student's answer correct? Reply Yes or No.",
            "cost": {"kind": "none", "priced_on": "2026-12-01"}}))
        out = cli_json(["audit", str(manifest), "--task", "shapes", "--profile", built["profile"], "--pack",
                        str(built["pack"].root)])
    finally:
        server.stop()
    assert all(r["logprobs"] is True and r["max_tokens"] == 1 for r in server.requests)
    assert out["parse_failure_rate"] == 0 and out["rubric_accuracy"] == 1.0 and out["metrics"]["auroc"] == 1.0
    with open(out["verdicts_path"], encoding="utf-8") as fh:
        verdicts = [json.loads(line) for line in fh]
    assert len(verdicts) == server.hits == 2 * 20 * 4
    assert {round(v["score"], 12) for v in verdicts} == {0.9, 0.1}


def test_structured_output_takes_the_samplers_parse_failures_out_of_the_audit(built, data_env, tmp_path, monkeypatch):
    """issue 19: the same judge audited with and without structured output (`judging.structured`): unconstrained,
    one answer in four is prose and the audit reports those parse failures; constrained to the verdict's JSON
    schema (OpenAI's response_format, strict), none fails to parse and the accuracy is the judge's own."""
    import yaml

    from harness.verifiers.base import VERDICT_JSON_SCHEMA
    from tests.fixtures.openai_server import FakeServer, oracle_judge

    monkeypatch.setenv("LADDER_ALLOW_LOCAL_ENDPOINTS", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    no_students(monkeypatch)
    server = FakeServer(oracle_judge(chatty_one_in=4))
    out = {}
    try:
        for structured in (False, True):
            manifest = tmp_path / f"structured-{structured}.yaml"
            manifest.write_text(yaml.safe_dump({
                "name": f"judge-structured-{structured}", "family": "judge", "release": str(int(structured)),
                "owner": "tests", "backend": "openai",
                "endpoint": {"base_url": server.base_url, "model": "judge-test"},
                "judging": {"mode": "text", "structured": structured},
                "cost": {"kind": "none", "priced_on": "2026-12-04"}}))
            out[structured] = cli_json(["audit", str(manifest), "--task", "shapes", "--profile", built["profile"],
                                        "--pack", str(built["pack"].root)])
    finally:
        server.stop()
    plain, constrained = server.requests[:160], server.requests[160:]
    assert all("response_format" not in r for r in plain)
    assert all(r["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "verdict", "strict": True, "schema": VERDICT_JSON_SCHEMA}} for r in constrained)
    assert 0.15 < out[False]["parse_failure_rate"] < 0.35 and out[False]["rubric_accuracy"] < 0.9
    assert out[True]["parse_failure_rate"] == 0 and out[True]["rubric_accuracy"] == 1.0
