"""Ingesting a run document: one transaction, idempotent, never replacing a stored result."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from harness.store import connect, session_scope
from harness.store import queue as q
from harness.store.ingest import ResultConflict, document_hash, ingest
from harness.store.schema import AuditRow, PredictionRow, RunDocument, StudentRow, TrainingPoint, VerdictRow

PROTO = q.ProtocolKey(version="1", profile="demo", digest="d1", config={"profile": "demo"})


def proportion(k: int, n: int) -> dict:
    return {"k": k, "n": n, "value": k / n, "ci_low": k / n - 0.05, "ci_high": k / n + 0.05}


def document(delta: float = 0.1) -> dict:
    """A run document in the shape `RunResult.model_dump(mode="json")` produces (two students, one task)."""
    metrics = {"rubric_accuracy": proportion(180, 200), "parse_failures": proportion(0, 200),
               "pairs_gated": {"direction": proportion(90, 100)}}
    students = [{
        "student": s, "status": "succeeded", "failure": None, "baseline": proportion(600, 1200),
        "post": proportion(600 + int(1200 * delta), 1200),
        "delta": {"n": 1200, "before": 0.5, "after": 0.5 + delta, "delta": delta, "ci_low": delta - 0.03,
                  "ci_high": delta + 0.03, "mcnemar_p": 0.001},
        "silent_regression": False,
        "selfdpo": {"rounds": [{"round": 0}], "loss_curve": [[1, 0.9], [2, 0.7], [3, 0.5]]},
    } for s in ("s1", "s2")]
    audit = {"metrics": metrics, "gate": [{"student": s, "verdict": "above", "baseline": proportion(600, 1200),
                                           "decisive": True} for s in ("s1", "s2")],
             "cost": {"usd": 0.0, "usd_per_1k_judgments": 0.0, "device_hours_per_1k_judgments": None},
             "provenance": {"protocol_version": "1"}}
    return {"schema_version": "1", "kind": "run", "run_id": "r1", "protocol_profile": "demo",
            "protocol_digest": "d1", "tasks": [{"task": "shapes", "audit": audit, "students": students}]}


def items() -> dict:
    verdicts = [{"task": "shapes", "student": "s1", "item_id": f"i{i}", "candidate": c, "response": "A",
                 "truth": True, "score": 0.9, "verdict": True, "agrees": True, "raw": '{"score": 0.9}',
                 "parse_error": None} for i in range(5) for c in range(2)]
    preds = [{"task": "shapes", "student": "s1", "phase": ph, "item_id": f"t{i}", "response": "B", "parsed": "B",
              "correct": i % 2 == 0} for ph in ("baseline", "post") for i in range(4)]
    return {"verdicts": verdicts, "predictions": preds}


def counts(engine) -> dict:
    with session_scope(engine) as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t))
                for t in (RunDocument, AuditRow, StudentRow, TrainingPoint, VerdictRow, PredictionRow)}


@pytest.fixture
def job(db_url):
    engine = connect(db_url)
    sub, _ = q.submit(engine, {"name": "v", "family": "f", "release": "1", "backend": "simulated"}, "h", PROTO)
    return engine, sub


def test_ingest_writes_every_row_once_and_again_is_a_no_op(job):
    engine, sub = job
    with session_scope(engine) as s:
        assert ingest(s, s.get(type(sub), sub.id), document(), items())
    first = counts(engine)
    assert first == {"run_documents": 1, "audit_results": 1, "student_results": 2, "training_curves": 6,
                     "audit_verdicts": 10, "eval_predictions": 8}
    with session_scope(engine) as s:
        assert not ingest(s, s.get(type(sub), sub.id), document(), items())
    assert counts(engine) == first
    with session_scope(engine) as s:
        row = s.scalar(select(StudentRow).where(StudentRow.student == "s2"))
        assert row.delta == pytest.approx(0.1) and row.delta_ci_low == pytest.approx(0.07) and row.n == 1200


def test_a_different_result_is_refused_and_the_stored_one_kept(job):
    engine, sub = job
    with session_scope(engine) as s:
        ingest(s, s.get(type(sub), sub.id), document(0.1), items())
    with pytest.raises(ResultConflict), session_scope(engine) as s:
        ingest(s, s.get(type(sub), sub.id), document(-0.2), items())
    with session_scope(engine) as s:
        assert [r.delta for r in s.scalars(select(StudentRow))] == pytest.approx([0.1, 0.1])


def test_a_failing_ingest_leaves_nothing_half_written(job):
    engine, sub = job
    broken = items()
    broken["predictions"].append(copy.deepcopy(broken["predictions"][0]))  # duplicate row: unique constraint
    with pytest.raises(Exception, match="(?i)unique|duplicate"), session_scope(engine) as s:
        ingest(s, s.get(type(sub), sub.id), document(), broken)
    assert set(counts(engine).values()) == {0}


def test_record_stores_an_outside_run_once_and_refuses_a_different_result(db_url):
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    engine = connect(db_url)
    m = manifest("recorded")
    doc, items = synthetic_run(m, {"mmmu": 0.7})
    key = ProtocolKey(version="1", profile="production", digest="f" * 64, config={})
    first = record(engine, m.model_dump(mode="json"), m.digest(), key, doc, items)
    again = record(engine, m.model_dump(mode="json"), m.digest(), key, doc, items)
    assert first.id == again.id and again.status == "succeeded"
    other, _ = synthetic_run(m, {"mmmu": 0.2}, seed=1)
    with pytest.raises(ResultConflict):
        record(engine, m.model_dump(mode="json"), m.digest(), key, other, items)
    with connect(db_url).connect() as conn:
        assert conn.scalar(select(RunDocument.document_hash)) == document_hash(doc)


def test_undefined_statistics_are_stored_as_null_and_load_back_as_nan(db_url):
    """A Proportion of 0 items (e.g. TPR when no candidate was right) is NaN: JSON has no NaN, PostgreSQL refuses it."""
    import math

    from harness.documents import RunResult
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    engine = connect(db_url)
    m = manifest("all-wrong")
    doc, items = synthetic_run(m, {"mmmu": 0.7})
    doc["tasks"][0]["audit"]["metrics"]["tpr"].update(k=0, n=0, value=float("nan"))
    items["verdicts"][0]["score"] = float("nan")
    key = ProtocolKey(version="1", profile="production", digest="f" * 64, config={})
    record(engine, m.model_dump(mode="json"), m.digest(), key, doc, items)
    with session_scope(engine) as s:
        stored = s.scalar(select(RunDocument.document))
        assert s.scalar(select(VerdictRow.score).order_by(VerdictRow.id)) is None
    assert stored["tasks"][0]["audit"]["metrics"]["tpr"]["value"] is None
    assert math.isnan(RunResult.model_validate(stored).tasks[0].audit.metrics.tpr.value)


def test_a_schema_2_document_stores_every_seed_and_the_seed_mean(db_url):
    """Training seeds: one SeedRow per (student, seed), post answers and curve points tagged with their seed,
    and the student row holding the seed mean with its two-level CI (no single-run McNemar p)."""
    import statistics

    from harness.store.queue import ProtocolKey, record
    from harness.store.schema import SeedRow
    from tests.fixtures.results import STUDENTS, manifest, synthetic_run

    engine = connect(db_url)
    m = manifest("three-seeds")
    doc, items = synthetic_run(m, {"mmmu": 0.7, "blink": 0.3}, test=200, seeds=3)
    assert doc["schema_version"] == "2"
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={})
    sid = record(engine, m.model_dump(mode="json"), m.digest(), key, doc, items).id
    with session_scope(engine) as s:
        seeds = s.scalars(select(SeedRow).where(SeedRow.submission_id == sid)).all()
        assert len(seeds) == 2 * len(STUDENTS) * 3
        for task in doc["tasks"]:
            for out in task["students"]:
                row = s.scalar(select(StudentRow).where(StudentRow.task == task["task"],
                                                        StudentRow.student == out["student"]))
                runs = sorted((r for r in seeds if (r.task, r.student) == (task["task"], out["student"])),
                              key=lambda r: r.seed)
                assert [r.seed for r in runs] == [0, 1, 2] and all(r.status == "succeeded" for r in runs)
                for r, run in zip(runs, out["seeds"], strict=True):  # each seed: its own item-only CI and p
                    assert r.delta == pytest.approx(run["delta"]["delta"])
                    assert (r.delta_ci_low, r.delta_ci_high) == pytest.approx(
                        (run["delta"]["ci_low"], run["delta"]["ci_high"]))
                    assert r.mcnemar_p == pytest.approx(run["delta"]["mcnemar_p"]) and r.loss_fell is True
                    assert r.post == pytest.approx(run["post"]["value"]) and len(r.rounds) == 2
                # The student row is the seed mean, with the two-level CI and the seeds' spread.
                assert row.seeds == 3 and row.mcnemar_p is None and row.loss_fell is True
                assert row.post == pytest.approx(statistics.fmean(r.post for r in runs))
                assert row.delta == pytest.approx(statistics.fmean(r.delta for r in runs))
                assert row.seed_deltas == pytest.approx([r.delta for r in runs])
                assert row.seed_sd == pytest.approx(statistics.stdev(r.delta for r in runs))
                assert (row.delta_ci_low, row.delta_ci_high) == pytest.approx(
                    (out["delta"]["ci_low"], out["delta"]["ci_high"]))
        preds = s.execute(select(PredictionRow.phase, PredictionRow.seed, func.count())
                          .where(PredictionRow.task == "mmmu", PredictionRow.student == STUDENTS[0][0])
                          .group_by(PredictionRow.phase, PredictionRow.seed)).all()
        assert sorted(preds) == [("baseline", 0, 200), ("post", 0, 200), ("post", 1, 200), ("post", 2, 200)]
        curve = s.execute(select(TrainingPoint.seed, func.count())
                          .where(TrainingPoint.task == "mmmu", TrainingPoint.student == STUDENTS[0][0])
                          .group_by(TrainingPoint.seed)).all()
        assert sorted(curve) == [(0, 20), (1, 20), (2, 20)]


def test_a_schema_1_document_is_one_run_seed_0(job):
    from harness.store.schema import SeedRow

    engine, sub = job
    with session_scope(engine) as s:
        ingest(s, s.get(type(sub), sub.id), document(), items())
    with session_scope(engine) as s:
        row = s.scalar(select(StudentRow).where(StudentRow.student == "s1"))
        assert row.seeds == 1 and row.seed_deltas is None and row.mcnemar_p == pytest.approx(0.001)
        seeds = s.scalars(select(SeedRow).where(SeedRow.student == "s1")).all()
        assert [(r.seed, r.delta, r.mcnemar_p) for r in seeds] == [(0, pytest.approx(0.1), pytest.approx(0.001))]
        assert set(s.scalars(select(TrainingPoint.seed))) == {0} and set(s.scalars(select(PredictionRow.seed))) == {0}


def audit_only_of(doc: dict, items: dict, tasks: list[str]) -> tuple[dict, dict]:
    """What `ladder audit` records: the run's audits of ``tasks`` without students, its verdicts, no predictions;
    timed on another day."""
    out = copy.deepcopy(doc)
    out["tasks"] = [{**t, "students": []} for t in out["tasks"] if t["task"] in tasks]
    for t in out["tasks"]:
        t["audit"]["cost"]["wall_seconds"] = 1.5  # another run of the same audit: other timings, same numbers
    return out, {"verdicts": [v for v in items["verdicts"] if v["task"] in tasks], "predictions": []}


def test_an_audit_only_record_is_completed_by_other_tasks_and_replaced_by_the_whole_run(db_url):
    """`ladder audit` on one task, then on another, then `ladder run`: one submission whose record grows into the
    whole run; nothing measured is lost, and an audit run again (other timings) changes nothing."""
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    engine = connect(db_url)
    m = manifest("audited")
    run, run_items = synthetic_run(m, {"mmmu": 0.7, "mathvista": 0.4})
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={})
    put = lambda doc, its: record(engine, m.model_dump(mode="json"), m.digest(), key, doc, its)  # noqa: E731
    first = put(*audit_only_of(run, run_items, ["mmmu"]))
    assert put(*audit_only_of(run, run_items, ["mmmu"])).id == first.id  # the same audit again: nothing changes
    assert counts(engine)["audit_results"] == 1 and counts(engine)["student_results"] == 0
    put(*audit_only_of(run, run_items, ["mathvista"]))
    with session_scope(engine) as s:
        stored = s.scalar(select(RunDocument.document))
        assert all(not t["students"] for t in stored["tasks"])  # still audits alone
        assert [t["task"] for t in stored["tasks"]] == ["mmmu", "mathvista"]
    assert counts(engine)["audit_results"] == 2 and counts(engine)["audit_verdicts"] == len(run_items["verdicts"])
    assert put(run, run_items).id == first.id  # the whole run replaces the audit-only record
    with session_scope(engine) as s:
        assert s.scalar(select(RunDocument.document_hash)) == document_hash(run)
    assert counts(engine)["student_results"] == 4 and counts(engine)["eval_predictions"] == len(
        run_items["predictions"]) and counts(engine)["audit_verdicts"] == len(run_items["verdicts"])
    put(*audit_only_of(run, run_items, ["mmmu"]))  # an audit after the run: the run stays
    with session_scope(engine) as s:
        assert s.scalar(select(RunDocument.document_hash)) == document_hash(run)


def test_an_audit_only_record_with_other_numbers_is_refused(db_url):
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    engine = connect(db_url)
    m = manifest("audited")
    run, run_items = synthetic_run(m, {"mmmu": 0.7})
    other, other_items = synthetic_run(m, {"mmmu": 0.3}, seed=1)
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={})
    record(engine, m.model_dump(mode="json"), m.digest(), key, *audit_only_of(run, run_items, ["mmmu"]))
    for doc, its in (audit_only_of(other, other_items, ["mmmu"]), (other, other_items)):
        with pytest.raises(ResultConflict):
            record(engine, m.model_dump(mode="json"), m.digest(), key, doc, its)
    assert counts(engine)["student_results"] == 0 and counts(engine)["audit_results"] == 1


def some_tasks_of(doc: dict, items: dict, tasks: list[str]) -> tuple[dict, dict]:
    """What `ladder run --tasks` records: the run's outcomes of ``tasks`` and their rows; timed on another day."""
    out = copy.deepcopy(doc)
    out["tasks"] = [t for t in out["tasks"] if t["task"] in tasks]
    for t in out["tasks"]:
        for s in t["students"]:
            s["wall_seconds"] = 99.0  # another run of the same stages (resumed): other timings, same numbers
    return out, {kind: [r for r in rows if r["task"] in tasks] for kind, rows in items.items()}


def test_runs_of_some_tasks_add_up_to_the_whole_run_and_never_replace_numbers(db_url):
    """`ladder run --tasks mmmu`, then `--tasks mathvista`: one submission holding both; the whole run (other
    timings) then changes nothing; a run of a stored task with other numbers is refused and the stored one kept."""
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    engine = connect(db_url)
    m = manifest("by-task")
    run, run_items = synthetic_run(m, {"mmmu": 0.7, "mathvista": 0.4})
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={})
    put = lambda doc, its: record(engine, m.model_dump(mode="json"), m.digest(), key, doc, its)  # noqa: E731
    first = put(*some_tasks_of(run, run_items, ["mmmu"]))
    assert counts(engine)["audit_results"] == 1 and counts(engine)["student_results"] == 2
    assert put(*some_tasks_of(run, run_items, ["mathvista"])).id == first.id
    whole = counts(engine)
    assert whole["audit_results"] == 2 and whole["student_results"] == 4
    assert whole["audit_verdicts"] == len(run_items["verdicts"])
    assert whole["eval_predictions"] == len(run_items["predictions"])
    with session_scope(engine) as s:
        merged = s.scalar(select(RunDocument.document))
    assert [t["task"] for t in merged["tasks"]] == ["mmmu", "mathvista"]

    assert put(run, run_items).id == first.id  # the whole run, same numbers: nothing changes
    assert counts(engine) == whole
    other, other_items = synthetic_run(m, {"mmmu": 0.3}, seed=1)
    with pytest.raises(ResultConflict) as err:
        put(other, other_items)
    assert err.value.submission_id == first.id
    with session_scope(engine) as s:
        assert s.scalar(select(RunDocument.document)) == merged
    assert counts(engine) == whole


def test_a_partial_result_is_never_stored(db_url):
    from harness.store.ingest import PartialResult
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    engine = connect(db_url)
    m = manifest("limited")
    run, run_items = synthetic_run(m, {"mmmu": 0.7})
    run["tasks"][0]["audit"]["provenance"]["item_limit"] = 8
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={})
    with pytest.raises(PartialResult, match="first 8 items"):
        record(engine, m.model_dump(mode="json"), m.digest(), key, run, run_items)
    assert set(counts(engine).values()) == {0}
    assert q.listing(engine, 10) == [], "no submission was made (a queued one would be run by a worker)"
