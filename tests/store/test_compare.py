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
    assert '"method": "clustered McNemar test' in worse.stdout
    import json

    doc = json.loads(worse.stdout)  # the rubric drop (0.92 -> 0.3 agreement) survives Holm over every test
    assert doc["m"] == sum(len(t["tests"]) for t in doc["tasks"]) and doc["alpha"] == 0.05
    assert "Holm" in doc["correction"]
    rubric_tests = [x for t in doc["tasks"] for x in t["tests"] if x["kind"] == "rubric"]
    assert rubric_tests and all(x["rejected"] and x["b_worse"] and x["p_holm"] <= 0.05 for x in rubric_tests)
    assert all(r.startswith("rubric test:") or r.startswith("student test ") for t in doc["tasks"]
               for r in t["reasons"])
    better = runner.invoke(app, ["compare", "team-judge@1.1", "team-judge@1.0"])
    assert better.exit_code == 0, better.output
    missing = runner.invoke(app, ["compare", "team-judge@1.0", "team-judge@9"])
    assert missing.exit_code == 2 and "no succeeded submission" in " ".join(missing.output.split())


def test_compare_reports_the_leaderboards_rubric_accuracy(tmp_path, monkeypatch):
    """The comparison's accuracy_a/accuracy_b are the leaderboard's rubric accuracy (audit_results.rubric_accuracy,
    first candidate, both students pooled, n = 2 x items) of the same releases; the test pairs every judgment."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from harness.store import connect, migrate
    from harness.store.compare import compare
    from harness.store.schema import AuditRow
    from leaderboard import queries
    from tests.fixtures.results import manifest, store_run

    url = f"sqlite:///{tmp_path / 'ladder.db'}"
    migrate(url)
    engine = connect(url)
    items, k = 50, 4
    a = store_run(engine, manifest("judge", "1"), {"mathvista": 0.85, "mmmu": 0.6}, items=items, k=k).id
    b = store_run(engine, manifest("judge", "2"), {"mathvista": 0.45, "mmmu": 0.65}, items=items, k=k).id
    result = compare(engine, "judge@1", "judge@2")
    assert [t.task for t in result.tasks] == ["mathvista", "mmmu"]
    with Session(engine) as session:
        protocol = queries.pick_protocol(queries.protocols(session), "production")
        for t in result.tasks:
            board = {row.submission_id: row for row in queries.leaderboard(session, protocol, t.task)}
            stored = dict(session.execute(select(AuditRow.submission_id, AuditRow.rubric_accuracy)
                                          .where(AuditRow.task == t.task)).all())
            r = t.rubric
            for sid, acc in ((a, r.accuracy_a), (b, r.accuracy_b)):
                assert acc.value == stored[sid] == board[sid].rubric_accuracy, (t.task, sid)
                assert acc.n == board[sid].n == 2 * items
            assert (r.shared_judgments, r.shared_items, r.dropped) == (2 * items * k, items, (0, 0))
            assert r.test.clusters == items and r.method.startswith("clustered McNemar")
    mathvista = result.tasks[0]
    assert mathvista.rubric.difference < 0 and mathvista.rubric.test.p_value < 0.05 and mathvista.b_worse
    # Holm over every test of the comparison: 2 tasks x (rubric + 2 students)
    assert result.m == 6 == len([x for t in result.tasks for x in t.tests]) and result.alpha == 0.05
    rubric_test = mathvista.tests[0]
    assert (rubric_test.kind, rubric_test.name, rubric_test.rejected, rubric_test.b_worse) == ("rubric", "rubric",
                                                                                               True, True)
    assert rubric_test.p_value == mathvista.rubric.test.p_less <= rubric_test.p_holm <= 0.05
    assert any(r.startswith("rubric test:") and "over 6 tests" in r for r in mathvista.reasons)

    monkeypatch.setenv("LADDER_DATABASE_URL", url)
    shown = runner.invoke(app, ["compare", "judge@1", "judge@2"], env={"COLUMNS": "250"})
    assert shown.exit_code == 1, shown.output
    assert "clustered McNemar" in shown.output and "leaderboard" in shown.output
    assert "m = 6 tests" in shown.output and "Holm-adjusted p" in shown.output


def _store(tmp_path):
    from harness.store import connect, migrate

    url = f"sqlite:///{tmp_path / 'ladder.db'}"
    migrate(url)
    return url, connect(url)


def test_compare_flags_students_worse_on_every_training_seed(tmp_path, monkeypatch):
    """B's students are worse after self-DPO on each of their three training seeds: every student's seed-mean
    difference (B - A, 300 test items x 3/3 seeds) has its crossed random-effects CI below 0, its one-sided p
    survives Holm over the task's rubric and student tests, and it is a reason; the table shows the items x seeds
    and each seed's accuracy."""
    from harness.store.compare import compare
    from tests.fixtures.results import STUDENTS, manifest, store_run

    url, engine = _store(tmp_path)
    store_run(engine, manifest("judge", "1"), {"mathvista": 0.85}, items=50, k=4)
    store_run(engine, manifest("judge", "2"), {"mathvista": 0.3}, items=50, k=4)
    task = compare(engine, "judge@1", "judge@2").tasks[0]
    assert task.b_worse and set(task.students) == {name for name, _ in STUDENTS}
    for student, d in task.students.items():
        seeds = task.student_seeds[student]
        assert (d.n, d.seeds, len(seeds.a), len(seeds.b), seeds.left_out) == (300, 3, 3, 3, ([], []))
        assert [s.seed for s in seeds.a] == [s.seed for s in seeds.b] == [0, 1, 2]
        assert max(s.accuracy for s in seeds.b) < min(s.accuracy for s in seeds.a)  # worse on every seed
        assert d.delta == pytest.approx(sum(s.accuracy for s in seeds.b) / 3 - sum(s.accuracy for s in seeds.a) / 3)
        assert d.ci_high < 0 and all(x < 0 for x in d.seed_deltas)
        test = next(x for x in task.tests if (x.kind, x.name) == ("student", student))
        assert test.p_value == d.p_below < 0.025 and test.rejected and test.b_worse  # Holm over rubric + 2 students
        assert any(r.startswith(f"student test {student}: seed-mean post-DPO accuracy") and
                   "300 items x 3/3 seeds" in r and "Holm-adjusted p" in r for r in task.reasons)

    monkeypatch.setenv("LADDER_DATABASE_URL", url)
    shown = runner.invoke(app, ["compare", "judge@1", "judge@2"], env={"COLUMNS": "300"})
    assert shown.exit_code == 1, shown.output
    assert "300 items x 3/3 seeds" in shown.output and "one-sided" in shown.output
    assert "family-wise alpha = 0.05" in shown.output
    for seeds in task.student_seeds.values():  # each release's per-seed accuracies, one line each
        for side, accs in (("A", seeds.a), ("B", seeds.b)):
            assert f"{side} " + " ".join(f"{s.accuracy:.3f}" for s in accs) in shown.output


def test_one_bad_training_seed_of_three_is_not_a_regression(tmp_path):
    """B is A's verifier (the same judgments, so the rubric part sees no difference) whose students' seeds 0 and 2
    end where A's did, while seed 1 lost 30% of its right answers (about -16 points). That seed alone, against A's
    same seed with the paired item-only CI of one run each (the old student test), is a clear regression; over
    B's three seeds the crossed CI (items and seeds) includes 0, so the student part does not flag B."""
    import random

    from harness.metrics import paired_delta
    from harness.store.compare import compare
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    _, engine = _store(tmp_path)
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={"synthetic": True})
    ma, mb = manifest("judge", "1"), manifest("judge", "2")
    doc_a, items_a = synthetic_run(ma, {"mathvista": 0.7})
    doc_b, _ = synthetic_run(mb, {"mathvista": 0.7})
    rng = random.Random(0)
    posts_b = [dict(r, correct=r["correct"] and rng.random() >= 0.3) if (r["phase"], r["seed"]) == ("post", 1)
               else r for r in items_a["predictions"]]
    record(engine, ma.model_dump(mode="json"), ma.digest(), key, doc_a, items_a)
    record(engine, mb.model_dump(mode="json"), mb.digest(), key, doc_b,
           {"verdicts": items_a["verdicts"], "predictions": posts_b})

    task = compare(engine, "judge@1", "judge@2").tasks[0]
    assert task.rubric.difference == 0 and not task.rubric.b_worse(0.05)
    assert not task.b_worse and task.reasons == [] and not any(x.rejected for x in task.tests)
    for student, d in task.students.items():
        seeds = task.student_seeds[student]
        assert (d.n, len(seeds.a), len(seeds.b)) == (300, 3, 3)
        assert seeds.b[1].accuracy < seeds.a[1].accuracy - 0.10  # the bad seed
        assert (seeds.b[0], seeds.b[2]) == (seeds.a[0], seeds.a[2])
        assert d.delta < -0.03 and d.ci_low < 0 < d.ci_high

        def rows(predictions, seed, student=student):
            picked = [p for p in predictions if (p["student"], p["phase"], p["seed"]) == (student, "post", seed)]
            return [p["correct"] for p in sorted(picked, key=lambda p: p["item_id"])]

        alone = paired_delta(rows(items_a["predictions"], 1), rows(posts_b, 1))
        assert alone.ci_high < 0 and alone.mcnemar_p < 0.05  # what one seed per release would have concluded


def test_student_comparison_aligns_items_and_leaves_partial_seeds_out():
    """Items are the ones both releases have, by sorted id; a seed missing a shared item is left out (and named);
    a schema-1 release is one seed 0; per-seed accuracies are on the shared items."""
    from harness.seed_stats import seed_delta
    from harness.store.compare import student_comparison

    ids = [f"t{i:02d}" for i in range(12)]
    a = {0: {i: n % 2 == 0 for n, i in enumerate(ids)} | {"extra": True}}  # one seed (schema 1); an item B lacks
    b = {seed: {i: n % 3 != seed - 3 for n, i in enumerate(ids)} for seed in (3, 4, 5)}
    del b[5]["t07"]  # seed 5 misses a shared item
    delta, seeds = student_comparison(a, b)
    assert [s.seed for s in seeds.a] == [0] and [s.seed for s in seeds.b] == [3, 4] and seeds.left_out == ([], [5])
    assert delta.n == 12 and delta.seeds == 2
    assert seeds.a[0].accuracy == 0.5 and [s.accuracy for s in seeds.b] == pytest.approx([8 / 12, 8 / 12])
    expected = seed_delta([[a[0][i] for i in ids]], [[b[s][i] for i in ids] for s in (3, 4)])
    assert delta.model_dump_json() == expected.model_dump_json()
    assert student_comparison({0: {"x": True}}, {0: {"y": True}}) is None


def test_the_gate_applies_holm_over_every_test_of_every_task():
    """Three tasks x two students, no rubric: six tests. One-sided p 0.004 on one student and 0.03 on the five
    others: each 0.03 would pass alone at 0.05, but Holm over six rejects only the 0.004 (6 x 0.004 = 0.024 <= 0.05;
    then 5 x 0.03 = 0.15 > 0.05, stop). Only its task is flagged, its reason names the test, every own p stays."""
    from harness.seed_stats import SeedDelta
    from harness.store.compare import Comparison, StudentSeeds, TaskComparison, gate

    def delta(p):
        return SeedDelta(n=300, seeds=3, before=0.6, after=0.55, delta=-0.05, ci_low=-0.12, ci_high=0.02,
                         seed_deltas=[-0.05] * 3, seed_sd=0.0, method="m", p_below=p, p_above=1 - p)

    seeds = StudentSeeds(a=[], b=[])
    tasks = [TaskComparison(task=task, rubric=None, students={s: delta(0.004 if (task, s) == ("blink", "s1") else 0.03)
                                                              for s in ("s1", "s2")},
                            student_seeds={"s1": seeds, "s2": seeds}, b_worse=False, reasons=[])
             for task in ("blink", "mathvista", "mmmu")]
    gated = gate(tasks, 0.05)
    result = Comparison(a="x@1", b="x@2", protocol_digest="d", alpha=0.05, tasks=gated)
    assert result.m == 6 and result.b_worse
    assert [t.b_worse for t in gated] == [True, False, False]
    flagged = [x for t in gated for x in t.tests if x.rejected]
    assert [(x.task, x.name) for x in flagged] == [("blink", "s1")] and flagged[0].p_holm == pytest.approx(0.024)
    assert sorted(x.p_value for t in gated for x in t.tests) == [0.004] + [0.03] * 5
    assert all(x.p_holm == pytest.approx(0.15) for t in gated for x in t.tests if not x.rejected)
    assert len(gated[0].reasons) == 1 and gated[0].reasons[0].startswith("student test s1:")
    assert "over 6 tests" in gated[0].reasons[0]
    # uncorrected (each test at 0.05 on its own), every task would have been flagged
    assert all(x.p_value < 0.05 and x.estimate < 0 for t in gated for x in t.tests)
