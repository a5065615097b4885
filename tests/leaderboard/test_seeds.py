"""Training seeds on the leaderboard: the seed-mean delta with its two-level CI and "(n items x S seeds)", the
per-seed points and table on a verifier's page, one training line per seed, the exports, strict JSON, and
results from before training seeds (schema 1) still shown."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import statistics
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from sqlalchemy import delete

from harness.store.schema import SeedRow
from tests.fixtures.results import STUDENTS, manifest, synthetic_run

HTML = {"accept": "text/html"}
STUDENT_NAMES = sorted(name for name, _ in STUDENTS)
# "+4.2 [+1.0, +7.5] (300 x 3)": the seed mean, its 95% CI (items and seeds), n test items x S training seeds.
DELTA_TEXT = re.compile(r"^([+-]\d+\.\d) \[([+-]\d+\.\d), ([+-]\d+\.\d)\] \((\d+) x (\d+)\)$")


def _strict(text: str):
    """JSON as a strict parser reads it: NaN or Infinity is an error, not a number."""
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant} in the response")

    return json.loads(text, parse_constant=refuse)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _delta_cells(page: str) -> list[str]:
    """The visible text of every delta cell of the leaderboard table."""
    return [_text(c) for c in re.findall(r'<td class="num delta[^"]*"[^>]*>(.*?)</td>', page, re.S)]


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def _seed_rows(page: str, task: str, student: str) -> list[str]:
    section = page.split(f'<section class="task" data-task="{task}">')[1].split("</section>")[0]
    return re.findall(rf'<tr class="seed" data-student="{re.escape(student)}" data-seed="(\d+)">', section)


def _schema_1(document: dict, items: dict) -> tuple[dict, dict]:
    """The same run as a schema-1 document (before training seeds): each student is its seed-0 run alone."""
    doc = copy.deepcopy(document)
    doc["schema_version"] = "1"
    for task in doc["tasks"]:
        for s in task["students"]:
            run = s.pop("seeds")[0]
            s.pop("loss_fell", None)
            s.update(post=run["post"], delta=run["delta"], selfdpo=run["selfdpo"],
                     post_predictions=run["post_predictions"])
    preds = [{k: v for k, v in p.items() if k != "seed"} for p in items["predictions"]
             if p["phase"] == "baseline" or p["seed"] == 0]
    return doc, {"verdicts": items["verdicts"], "predictions": preds}


def test_delta_cells_show_the_seed_mean_its_ci_and_items_x_seeds(client, synthetic):
    board = client.get("/api/leaderboard", params={"task": "mmmu", "limit": 0}).json()
    page = client.get("/", params={"task": "mmmu"}, headers=HTML).text  # the fixture's page size is 3
    cells = _delta_cells(page)
    assert len(cells) == 3 * len(STUDENTS)
    expected = []
    for row in board["items"][:3]:
        for name in board["students"]:
            s = next(c for c in row["students"] if c["student"] == name)
            expected.append(f"{_points(s['delta'])} [{_points(s['delta_ci_low'])}, {_points(s['delta_ci_high'])}] "
                            f"({s['n']} x 3)")
    assert cells == expected
    for cell in cells:
        delta, low, high, n, seeds = DELTA_TEXT.match(cell).groups()
        assert float(low) <= float(delta) <= float(high) and (n, seeds) == ("300", "3")
    assert 'title="mean of 3 training seeds' in page and "McNemar" not in page  # no single-run test to show
    assert not re.search(r"\bnan\b", page, re.I)


def test_api_rows_carry_seeds_and_the_json_is_strict(client, synthetic):
    sid = synthetic[("judge-8b", "1")]
    for path in ("/api/leaderboard?task=blink&limit=0", "/api/leaderboard.json?task=blink",
                 f"/api/submissions/{sid}", f"/api/submissions/{sid}/seeds.json",
                 f"/api/submissions/{sid}/training", "/api/tables/student_results",
                 "/api/tables/student_seed_results"):
        r = client.get(path)
        assert r.status_code == 200, path
        _strict(r.text)
    rows = _strict(client.get("/api/leaderboard", params={"task": "blink", "limit": 0}).text)["items"]
    for row in rows:
        for s in row["students"]:
            assert s["seeds"] == 3 and len(s["seed_deltas"]) == 3, s
            assert statistics.fmean(s["seed_deltas"]) == pytest.approx(s["delta"], abs=1e-12)
            assert s["seed_sd"] == pytest.approx(statistics.stdev(s["seed_deltas"]))
            assert s["delta_ci_low"] <= s["delta"] <= s["delta_ci_high"]
            assert s["mcnemar_p"] is None  # a seed mean has no single-run McNemar test
    fields = client.get("/openapi.json").json()["components"]["schemas"]["StudentCell"]["properties"]
    for name in ("delta_ci_low", "delta_ci_high"):
        assert "items AND the training seeds" in fields[name]["description"]
    assert {"seeds", "seed_sd", "seed_deltas"} <= set(fields)


def test_undefined_numbers_are_null_and_never_printed_as_nan():
    from leaderboard.queries import _cell
    from leaderboard.render import environment

    nan = float("nan")
    row = SimpleNamespace(student="s", status="succeeded", baseline=0.5, n=300, post=0.52, delta=0.02,
                          delta_ci_low=-0.01, delta_ci_high=0.05, mcnemar_p=nan, silent_regression=False, seeds=3,
                          seed_sd=nan, seed_deltas=[0.01, nan, 0.03], loss_fell=None)
    cell = _cell(row, {})
    assert cell.mcnemar_p is None and cell.seed_sd is None and cell.seed_deltas == [0.01, None, 0.03]
    _strict(cell.model_dump_json())
    html = environment().from_string('{% from "_macros.html" import delta_cell %}{{ delta_cell(s) }}').render(s=cell)
    assert _text(html) == "+2.0 [-1.0, +5.0] (300 x 3)" and not re.search(r"\bnan\b", html, re.I)
    assert "per seed +1.0, –, +3.0" in html


def test_verifier_page_shows_every_seed_beside_the_mean(client, synthetic):
    sid = synthetic[("judge-7b", "1")]
    page = client.get(f"/submissions/{sid}", headers=HTML).text
    detail = _strict(client.get(f"/api/submissions/{sid}").text)
    for task in ("mathvista", "mmmu", "blink"):
        for st in detail["students"][task]:
            runs = st["seed_results"]
            assert [r["seed"] for r in runs] == [0, 1, 2] and all(r["status"] == "succeeded" for r in runs)
            assert [r["delta"] for r in runs] == pytest.approx(st["seed_deltas"])
            assert all(r["delta_ci_low"] <= r["delta"] <= r["delta_ci_high"] for r in runs)  # item-only CIs
            assert statistics.fmean(r["post"] for r in runs) == pytest.approx(st["post"])
            assert _seed_rows(page, task, st["student"]) == ["0", "1", "2"]
            # The seeds table shows each seed's delta with its item-only CI.
            for r in runs:
                assert f"{_points(r['delta'])} <small>[{_points(r['delta_ci_low'])}, " \
                       f"{_points(r['delta_ci_high'])}]</small>" in page
        assert f"/plots/seeds/{sid}.svg?task={task}" in page
        # The dot plot: one marker per training seed of each student, and one seed mean per student.
        svg = client.get(f"/plots/seeds/{sid}.svg", params={"task": task})
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        points = re.findall(rb'id="seed-point-(\d+)-(\d+)"', svg.content)
        assert sorted(points) == [(str(i).encode(), str(s).encode()) for i in range(2) for s in range(3)]
        assert len(re.findall(rb'id="seed-mean-\d+"', svg.content)) == len(STUDENTS)
    assert page.count('<tr class="seed-mean"') == 3 * len(STUDENTS)
    # The training chart: one loss line per seed, not the three runs' steps mixed into one line.
    svg = client.get(f"/plots/training/{sid}.svg", params={"task": "mmmu", "student": STUDENT_NAMES[0]}).content
    assert sorted(re.findall(rb'id="loss-seed-(\d+)"', svg)) == [b"0", b"1", b"2"]
    curves = _strict(client.get(f"/api/submissions/{sid}/training").text)["mmmu"][STUDENT_NAMES[0]]
    assert sorted(curves) == ["0", "1", "2"] and all([p[0] for p in c] == list(range(1, 21)) for c in curves.values())
    assert client.get(f"/plots/seeds/{sid}.svg", params={"task": "nope"}).status_code == 404


def test_exports_add_seed_columns_at_the_end_and_a_per_seed_download(client, synthetic):
    r = client.get("/api/leaderboard.csv", params={"task": "mmmu"})
    reader = csv.reader(io.StringIO(r.text))
    header = next(reader)
    before = ["rank", "submission_id", "name", "family", "release", "backend", "model", "parameters", "simulated",
              "protocol_version", "protocol_digest", "rubric_accuracy", "rubric_ci_low", "rubric_ci_high", "n",
              "parse_failure_rate", "gated_direction", "usd_per_1k", "gpu_hours_per_1k", "pareto",
              "silent_regression"]
    for s in STUDENT_NAMES:
        before += [f"{s}:{c}" for c in ("gate", "baseline", "post", "delta", "delta_ci_low", "delta_ci_high",
                                        "mcnemar_p", "n", "silent_regression")]
    # earlier columns keep their positions: the seed columns, then the verifier kind and AUROC, come last
    assert header == before + [f"{s}:{c}" for s in STUDENT_NAMES for c in ("seeds", "seed_sd")] + ["kind", "auroc"]
    rows = [dict(zip(header, line, strict=True)) for line in reader]
    assert len(rows) == 5 and all(row[f"{s}:seeds"] == "3" and float(row[f"{s}:seed_sd"]) >= 0
                                  for row in rows for s in STUDENT_NAMES)
    assert all(row[f"{s}:mcnemar_p"] == "" for row in rows for s in STUDENT_NAMES)

    sid = synthetic[("judge-8b", "1")]
    seeds = list(csv.DictReader(io.StringIO(client.get(f"/api/submissions/{sid}/seeds.csv").text)))
    assert len(seeds) == 3 * len(STUDENTS) * 3
    assert list(seeds[0]) == ["task", "student", "seed", "status", "failure", "post", "delta", "delta_ci_low",
                              "delta_ci_high", "mcnemar_p", "loss_fell"]
    table = pq.read_table(io.BytesIO(client.get(f"/api/submissions/{sid}/seeds.parquet").content))
    assert table.num_rows == len(seeds) and sorted(set(table.column("seed").to_pylist())) == [0, 1, 2]
    preds = list(csv.DictReader(io.StringIO(client.get(f"/api/submissions/{sid}/predictions.csv").text)))
    assert list(preds[0])[-1] == "seed"  # appended: the earlier columns keep their positions
    assert {p["seed"] for p in preds if p["phase"] == "baseline"} == {"0"}
    assert {p["seed"] for p in preds if p["phase"] == "post"} == {"0", "1", "2"}


def test_schema_1_results_still_display(client, engine):
    m = manifest("one-run-judge")
    document, items = synthetic_run(m, {"mmmu": 0.8})
    old, old_items = _schema_1(document, items)
    from harness.store.queue import ProtocolKey, record

    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={"synthetic": True})
    sid = record(engine, m.model_dump(mode="json"), m.digest(), key, old, old_items).id

    def check():
        row = _strict(client.get("/api/leaderboard", params={"task": "mmmu"}).text)["items"][0]
        for s in row["students"]:
            assert s["seeds"] == 1 and s["seed_deltas"] == [s["delta"]] and s["seed_sd"] is None
            assert 0 <= s["mcnemar_p"] <= 1  # one training run: its McNemar test is kept
        cells = _delta_cells(client.get("/", params={"task": "mmmu"}, headers=HTML).text)
        assert len(cells) == len(STUDENTS) and all(c.endswith("(300 x 1)") for c in cells)
        page = client.get(f"/submissions/{sid}", headers=HTML).text
        assert page.count('<tr class="seed-mean"') == 0 and not re.search(r"\bnan\b", page, re.I)
        for name in STUDENT_NAMES:
            assert _seed_rows(page, "mmmu", name) == ["0"]
        svg = client.get(f"/plots/seeds/{sid}.svg", params={"task": "mmmu"}).content
        assert len(re.findall(rb'id="seed-point-\d+-0"', svg)) == len(STUDENTS)  # the single delta, its only point
        assert b'id="seed-mean-' not in svg
        train = client.get(f"/plots/training/{sid}.svg", params={"task": "mmmu", "student": STUDENT_NAMES[0]})
        assert train.status_code == 200 and re.findall(rb'id="loss-seed-(\d+)"', train.content) == [b"0"]

    check()
    # A schema-1 result stored before the seed table existed has no seed rows: it still shows as its one run.
    with engine.begin() as conn:
        conn.execute(delete(SeedRow).where(SeedRow.submission_id == sid))
    check()


def test_a_failed_seed_shows_its_reason_and_no_point(client, engine):
    from harness.store.queue import ProtocolKey, record

    m = manifest("flaky-judge")
    document, items = synthetic_run(m, {"blink": 0.7})
    student = document["tasks"][0]["students"][0]
    student["seeds"][1].update(status="failed", failure="NaN loss: <boom>", post=None, delta=None)
    student.update(status="failed", failure="seed 1 failed", delta=None, silent_regression=False)
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={"synthetic": True})
    sid = record(engine, m.model_dump(mode="json"), m.digest(), key, document, items).id
    page = client.get(f"/submissions/{sid}", headers=HTML).text
    assert "NaN loss: &lt;boom&gt;" in page and _seed_rows(page, "blink", student["student"]) == ["0", "1", "2"]
    assert not re.search(r"\bnan\b", page.replace("NaN loss", ""), re.I)
    svg = client.get(f"/plots/seeds/{sid}.svg", params={"task": "blink"}).content
    index = STUDENT_NAMES.index(student["student"])
    assert sorted(re.findall(rf'id="seed-point-{index}-(\d+)"'.encode(), svg)) == [b"0", b"2"]
    assert f'id="seed-mean-{index}"'.encode() not in svg  # no mean of the seeds that ran
    row = _strict(client.get("/api/leaderboard", params={"task": "blink"}).text)["items"][0]
    cell = next(s for s in row["students"] if s["student"] == student["student"])
    assert cell["status"] == "failed" and cell["delta"] is None and cell["seed_deltas"] == []
