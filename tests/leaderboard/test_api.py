"""The app over a synthetic three-task store: ranking, escaping, the write path, limits and downloads."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
import yaml
from sqlalchemy import func, select

from harness.store.schema import Family, Release, Submission, VerdictRow
from tests.leaderboard.conftest import VERIFIERS

XSS = "<script>alert(1)</script>"
HTML = {"accept": "text/html"}


def _expected_order(task):
    return [(n, r) for n, r, _, acc in sorted(VERIFIERS, key=lambda v: -v[3][task])]


def _counts(engine):
    with engine.connect() as conn:
        return tuple(conn.scalar(select(func.count()).select_from(t)) for t in (Submission, Family, Release))


@pytest.mark.parametrize("task", ["mathvista", "mmmu"])
def test_leaderboard_ranks_by_rubric_accuracy_per_task(client, synthetic, task):
    board = client.get("/api/leaderboard", params={"task": task, "limit": 0}).json()
    assert [(r["name"], r["release"]) for r in board["items"]] == _expected_order(task)
    assert [r["rank"] for r in board["items"]] == [1, 2, 3, 4, 5]
    accs = [r["rubric_accuracy"] for r in board["items"]]
    assert accs == sorted(accs, reverse=True)
    assert board["students"] == ["qwen2.5-vl-3b", "qwen3-vl-2b"]
    free = next(r for r in board["items"] if r["name"] == XSS)  # cost kind "none": priced at $0, so comparable
    assert free["cost_kind"] == "none" and free["usd_per_1k"] == 0.0 and free["pareto"] is True


def test_every_row_carries_ci_and_item_counts(client, synthetic):
    for row in client.get("/api/leaderboard", params={"task": "blink"}).json()["items"]:
        assert row["ci_low"] <= row["rubric_accuracy"] <= row["ci_high"] and row["n"] == 120
        for s in row["students"]:
            assert s["delta_ci_low"] <= s["delta"] <= s["delta_ci_high"] and s["n"] == 300 and s["seeds"] == 3


def test_hostile_names_are_shown_as_text(client, synthetic):
    for path in ("/", "/?task=mmmu", f"/submissions/{synthetic[(XSS, '1')]}", "/submissions",
                 f"/compare?a={synthetic[('judge-4b', '1')]}&b={synthetic[(XSS, '1')]}"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert XSS not in page.text and "<b>bold?</b>" not in page.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/submissions", headers=HTML).text
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'none'" in csp


def test_sorting_and_tabs_are_in_the_url(client, synthetic):
    page = client.get("/", params={"task": "mmmu", "sort": "cost", "dir": "desc"}, headers=HTML)
    assert 'aria-sort="descending"' in page.text
    assert 'href="/?task=mmmu&amp;sort=cost&amp;dir=asc"' in page.text  # clicking again flips
    assert client.get("/", params={"sort": "bogus"}, headers=HTML).status_code == 400
    missing = client.get("/", params={"task": "nope"})  # a page answers a page, whatever the client accepts
    assert missing.status_code == 400 and missing.headers["content-type"].startswith("text/html")
    assert "no results" in missing.text


def test_paging(client, synthetic):  # the fixture's page size is 3
    first = client.get("/", headers=HTML).text
    second = client.get("/", params={"page": 2}, headers=HTML).text
    assert first.count("data-submission-id=") == 3 and second.count("data-submission-id=") == 2


def test_write_without_a_valid_token_is_refused_and_stores_nothing(client, synthetic, engine):
    from harness.store.tokens import create_token, revoke_token

    before = _counts(engine)
    body = {"name": "x", "family": "x", "release": "1", "backend": "simulated", "simulated": {"agreement": 0.9},
            "cost": {"kind": "none", "priced_on": "2026-11-26"}, "owner": "me"}
    token = create_token(engine, "team")
    revoke_token(engine, "team")
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": f"Basic {token}"},
                    {"authorization": f"Bearer {token}"}):
        r = client.post("/api/submissions", json=body, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", headers
    assert _counts(engine) == before


def test_malformed_manifest_is_refused_with_the_field_named(client, synthetic, engine):
    from harness.store.tokens import create_token

    auth = {"authorization": f"Bearer {create_token(engine, 'team')}"}
    before = _counts(engine)
    bad = {"name": "x", "family": "x", "release": "1", "backend": "simulated", "simulated": {"agreement": 7},
           "cost": {"kind": "none", "priced_on": "2026-11-26"}, "owner": "me", "colour": "red"}
    r = client.post("/api/submissions", json=bad, headers=auth)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"simulated.agreement", "colour"}
    yaml_type = {**auth, "content-type": "application/yaml"}
    r = client.post("/api/submissions", content=b"name: [unclosed", headers=yaml_type)
    assert r.status_code == 422 and "not valid YAML" in r.json()["detail"]
    r = client.post("/api/submissions", content=b"{not json", headers={**auth, "content-type": "application/json"})
    assert r.status_code == 422
    good = {k: v for k, v in bad.items() if k != "colour"} | {"simulated": {"agreement": 0.9}}
    for profile in ("nope", "/etc/passwd.json"):
        r = client.post("/api/submissions", params={"profile": profile}, json=good, headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "profile"
    assert _counts(engine) == before


def test_valid_manifest_is_queued_once_and_shown_on_the_status_page(client, synthetic, engine):
    from harness.store.tokens import create_token

    auth = {"authorization": f"Bearer {create_token(engine, 'team')}", "content-type": "application/yaml"}
    text = yaml.safe_dump({"name": "new <i>judge</i>", "family": "new", "release": "1", "backend": "simulated",
                           "simulated": {"agreement": 0.9}, "cost": {"kind": "none", "priced_on": "2026-11-26"},
                           "owner": "me"})
    first = client.post("/api/submissions", params={"profile": "demo"}, content=text, headers=auth)
    assert first.status_code == 201 and first.json()["created"] is True
    again = client.post("/api/submissions", params={"profile": "demo"}, content=text, headers=auth)
    assert again.status_code == 200 and again.json() == {**first.json(), "created": False}
    sid = first.json()["id"]
    listed = client.get("/api/submissions", params={"status": "queued"}).json()
    assert [s["id"] for s in listed["items"]] == [sid] and listed["items"][0]["protocol_profile"] == "demo"
    page = client.get("/submissions", params={"status": "queued"}, headers=HTML).text
    assert f'data-submission-id="{sid}"' in page and "new &lt;i&gt;judge&lt;/i&gt;" in page


def test_request_size_is_limited(client, synthetic, engine):
    from harness.store.tokens import create_token

    auth = {"authorization": f"Bearer {create_token(engine, 'team')}", "content-type": "application/yaml"}
    before = _counts(engine)
    assert client.post("/api/submissions", content=b"x" * 9000, headers=auth).status_code == 413

    def chunks():  # no Content-Length: the limit is enforced on the bytes that arrive
        for _ in range(10):
            yield b"y" * 1000

    assert client.post("/api/submissions", content=chunks(), headers=auth).status_code == 413
    assert _counts(engine) == before


def test_a_crash_shows_no_stack_trace(client, synthetic, monkeypatch):
    from leaderboard import queries

    def boom(*a, **k):
        raise RuntimeError("secret connection string postgres://u:p@db")

    monkeypatch.setattr(queries, "leaderboard", boom)
    for headers in ({}, HTML):
        r = client.get("/", params={"profile": "production"}, headers=headers)
        assert r.status_code == 500
        assert "secret" not in r.text and "Traceback" not in r.text and "internal error" in r.text


def test_leaderboard_csv_is_complete_and_spreadsheet_safe(client, engine):
    from tests.fixtures.results import manifest, store_run

    store_run(engine, manifest("=HYPERLINK(\"http://evil\")"), {"mmmu": 0.7})
    store_run(engine, manifest("plain"), {"mmmu": 0.4})
    r = client.get("/api/leaderboard.csv", params={"task": "mmmu"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["name"] for row in rows] == ["'=HYPERLINK(\"http://evil\")", "plain"]
    assert float(rows[0]["rubric_accuracy"]) > float(rows[1]["rubric_accuracy"])
    assert {"qwen3-vl-2b:delta", "qwen3-vl-2b:delta_ci_low", "rubric_ci_high", "n"} <= set(rows[0])


def test_per_item_rows_download_as_csv_and_parquet(client, synthetic, engine):
    sid = synthetic[("judge-8b", "1")]
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(VerdictRow).where(VerdictRow.submission_id == sid))
    table = pq.read_table(io.BytesIO(client.get(f"/api/submissions/{sid}/verdicts.parquet").content))
    assert table.num_rows == stored > 0 and {"item_id", "score", "truth", "agrees"} <= set(table.column_names)
    agrees = table.column("agrees").to_pylist()
    preds = list(csv.DictReader(io.StringIO(client.get(f"/api/submissions/{sid}/predictions.csv").text)))
    # 3 tasks x 2 students x (the baseline + 3 training seeds' post-DPO answers) x 300 test items
    assert {p["phase"] for p in preds} == {"baseline", "post"} and len(preds) == 3 * 2 * (1 + 3) * 300
    # Recompute a stored number from the download: the pooled agreement over every judgment of one task.
    doc = client.get(f"/api/submissions/{sid}/document").json()
    tasks = table.column("task").to_pylist()
    blink = [a for a, t in zip(agrees, tasks, strict=True) if t == "blink"]
    stored_all = next(t for t in doc["tasks"] if t["task"] == "blink")["audit"]["metrics"]["agreement_all"]
    assert sum(blink) == stored_all["k"] and len(blink) == stored_all["n"]


def test_json_api_covers_the_store_but_never_the_tokens(client, synthetic):
    spec = client.get("/openapi.json").json()
    assert {"/api/leaderboard", "/api/submissions", "/api/submissions/{sid}", "/api/tables/{table}",
            "/api/submissions/{sid}/{kind}.{fmt}", "/api/compare"} <= set(spec["paths"])
    for table in ("families", "releases", "submissions", "audit_results", "student_results", "student_seed_results",
                  "audit_verdicts", "eval_predictions", "training_curves", "run_documents"):
        page = client.get(f"/api/tables/{table}", params={"limit": 2}).json()
        assert page["total"] > 0 and len(page["items"]) <= 2, table
    assert client.get("/api/tables/api_tokens").status_code == 404
    assert "POST" in client.get("/api", headers=HTML).text


def test_verifier_page_shows_metrics_history_and_regression(client, synthetic):
    v1, v2 = synthetic[("judge-4b", "1")], synthetic[("judge-4b", "2")]
    page = client.get(f"/submissions/{v2}", headers=HTML).text
    for text in ("Balanced accuracy", "AUROC", "ECE", "Parse failures", "Pair-direction accuracy, gated",
                 "Release history", "regression", f"/compare?a={v1}&amp;b={v2}", f"/plots/training/{v2}.svg",
                 "verdicts.parquet", "Provenance"):
        assert text in page, text
    detail = client.get(f"/api/submissions/{v2}").json()
    assert [h["release"] for h in detail["history"]] == ["1", "2"]
    assert detail["history"][1]["regressed"] == {"mathvista": True, "mmmu": True, "blink": True}
    compare = client.get(f"/compare?a={v1}&b={v2}", headers=HTML).text
    assert "B is significantly worse" in compare and "Clustered McNemar test" in compare
    api = client.get("/api/compare", params={"a": v1, "b": v2}).json()
    rubric = next(t for t in api["tasks"] if t["task"] == "mmmu")["rubric"]
    assert rubric["method"].startswith("clustered McNemar") and rubric["p_value"] < 0.05
    assert "one-sided" in rubric["method"] and rubric["p_value"] == rubric["test"]["p_less"]  # the gate's p
    assert rubric["p_two_sided"] == rubric["test"]["p_value"] >= rubric["p_value"]
    assert rubric["accuracy_a"]["value"] == detail["history"][0]["rubric"]["mmmu"]  # the leaderboard's figure
    mmmu = next(t for t in api["tasks"] if t["task"] == "mmmu")
    for student, d in mmmu["students"].items():  # B - A over items x training seeds, crossed random-effects t CI
        seeds = mmmu["student_seeds"][student]
        assert d["seeds"] == len(seeds["b"]) == len(d["seed_deltas"]) == 3 and len(seeds["a"]) == 3
        assert d["method"].startswith("crossed random-effects") and d["ci_low"] <= d["delta"] <= d["ci_high"]
        assert "Satterthwaite" in d["method"] and 0 <= d["p_below"] <= 1 and d["p_above"] == 1 - d["p_below"]
        assert d["se"] > 0 and d["df"] >= 1 and d["ci_high"] > d["delta"] + d["se"]  # t_{0.975, df} > 1
    assert "one-sided" in compare and "items × seeds" in compare
    # the gate: Holm over every task's rubric and student tests, family-wise alpha; each test's own p kept
    tests = [x for t in api["tasks"] for x in t["tests"]]
    assert api["m"] == len(tests) == 3 * 3 and api["alpha"] == 0.05 and "Holm" in api["correction"]
    mmmu_rubric = next(x for x in tests if (x["task"], x["kind"]) == ("mmmu", "rubric"))
    assert mmmu_rubric["p_value"] == rubric["p_value"] <= mmmu_rubric["p_holm"]
    assert api["b_worse"] == any(x["b_worse"] for x in tests) and all(x["rejected"] for x in tests if x["b_worse"])
    assert all(x["rejected"] == (x["p_holm"] <= 0.05) for x in tests)
    assert "Holm" in compare and "family-wise α = 0.05 over m = 9 tests" in compare and "compare-tests" in compare


def test_charts_are_svg_without_user_markup(client, synthetic):
    for path in ("/plots/heatmap.svg", "/plots/accuracy-delta.svg?task=mmmu", "/plots/cost-accuracy.svg?task=blink",
                 f"/plots/training/{synthetic[('judge-7b', '1')]}.svg?task=mmmu&student=qwen3-vl-2b"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml", path
        assert r.content.startswith(b"<?xml") and b"<script" not in r.content, path


@pytest.mark.parametrize("path", [
    "/api/submissions/6858044180056848002449408", "/api/submissions/71805112162943909888/training",
    "/api/submissions/734748968477590814720/verdicts.json", "/api/submissions?offset=3811022745249066493411328",
    "/api/compare?a=99999999999999999999&b=1", "/submissions/99999999999999999999", "/submissions?page=10000000000",
    "/compare?a=99999999999999999999&b=1", "/plots/training/99999999999999999999.svg?task=x&student=y",
    "/api/leaderboard?offset=99999999999999999999", "/api/tables/families?offset=99999999999999999999"])
def test_out_of_range_numbers_are_refused_not_crashes(client, synthetic, path):
    """Found by schemathesis against /openapi.json: ids beyond the database's integer were a 500."""
    r = client.get(path)
    assert r.status_code in (404, 422), (r.status_code, r.text)


def test_an_empty_store_answers_empty_collections_not_errors(client):
    """Nothing stored yet (a fresh deployment): a production task's leaderboard is 200 with no rows, in every format;
    a task no profile measures is still a 404 naming the tasks."""
    r = client.get("/api/leaderboard", params={"task": "mmmu"})
    assert r.status_code == 200, r.text
    assert r.json() == {"profile": "production", "task": "mmmu", "students": [], "total": 0, "items": []}
    assert client.get("/api/leaderboard", params={"task": "shapes", "profile": "demo"}).json()["items"] == []
    assert client.get("/api/leaderboard").json()["task"] == "mathvista"  # the production profile's first task
    body = client.get("/api/leaderboard.csv", params={"task": "blink"})
    assert body.status_code == 200 and len(list(csv.reader(io.StringIO(body.text)))) == 1  # the header alone
    assert client.get("/api/tasks").json() == [] and client.get("/api/protocols").json() == []
    missing = client.get("/api/leaderboard", params={"task": "mmlu"})
    assert missing.status_code == 404 and "mathvista, mmmu, blink" in missing.json()["detail"]
    assert client.get("/api/leaderboard", params={"task": "mmmu", "profile": "nope"}).status_code == 404



def test_a_result_completed_in_place_shows_on_the_next_request(client, engine):
    """`ladder audit` stores an audit-only record, then `ladder run` of the same submission completes it: no
    submission is added, yet the next request shows the run (the cached ranking's key follows the result document),
    and the first task's tab keeps its place."""
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    m = manifest("completed")
    run, items = synthetic_run(m, {"mmmu": 0.8})
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={})
    audit = {**run, "tasks": [{**t, "students": []} for t in run["tasks"]]}
    record(engine, m.model_dump(mode="json"), m.digest(), key, audit, {"verdicts": items["verdicts"]})
    (row,) = client.get("/api/leaderboard", params={"task": "mmmu"}).json()["items"]
    assert row["audit_only"] and all(s["status"] == "not run" for s in row["students"])
    record(engine, m.model_dump(mode="json"), m.digest(), key, run, items)
    (row,) = client.get("/api/leaderboard", params={"task": "mmmu"}).json()["items"]
    assert not row["audit_only"] and all(s["delta"] is not None for s in row["students"])


def test_a_client_holding_the_ranking_gets_304_until_a_result_lands(client, synthetic, engine):
    """Conditional GETs: the tag follows the store version and the request, so a revalidation is a 304 with no body
    until a result lands, and the next request after it gets the new ranking."""
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    url, params = "/api/leaderboard", {"task": "mmmu"}
    first = client.get(url, params=params)
    tag = first.headers["etag"]
    assert first.status_code == 200 and tag.startswith('W/"') and first.headers["cache-control"] == "public, no-cache"
    held = client.get(url, params=params, headers={"If-None-Match": tag})
    assert held.status_code == 304 and held.content == b"" and held.headers["etag"] == tag
    assert client.get(url, params={**params, "sort": "cost"}).headers["etag"] != tag  # another view, another tag
    page = client.get("/", params=params)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert client.get("/", params=params, headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    csv_tag = client.get("/api/leaderboard.csv", params=params).headers["etag"]
    assert client.get("/api/leaderboard.csv", params=params, headers={"If-None-Match": csv_tag}).status_code == 304

    m = manifest("landed-later")
    run, items = synthetic_run(m, {"mmmu": 0.99})
    record(engine, m.model_dump(mode="json"), m.digest(), ProtocolKey(version="2", profile="production",
                                                                        digest="f" * 64, config={}), run, items)
    assert client.get("/", params=params, headers={"If-None-Match": page.headers["etag"]}).status_code == 200
    fresh = client.get(url, params=params, headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != tag
    assert fresh.json()["items"][0]["name"] == "landed-later"  # the best rubric accuracy ranks first
    assert fresh.json()["total"] == first.json()["total"] + 1


def test_large_responses_are_compressed(client, synthetic):
    r = client.get("/api/leaderboard.json", params={"task": "mmmu"}, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip" and r.json()["items"]
    assert "accept-encoding" in r.headers["vary"].lower()


def test_errors_have_one_shape_and_pages_answer_pages(client, synthetic):
    """API routes answer errors as the declared Problem JSON; HTML routes answer a page, whatever the client
    accepts (a browser's, curl's */*, or none)."""
    bad = client.get("/api/leaderboard", params={"task": "mmmu", "limit": -1})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit", bad.text
    missing = client.get("/api/submissions/99", headers=HTML)
    assert missing.status_code == 404 and missing.json() == {"detail": "no submission 99", "errors": []}
    for headers in ({}, {"accept": "*/*"}, {"accept": "application/json"}):
        page = client.get("/submissions/99", headers=headers)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), headers
        assert "no submission 99" in page.text
    unknown = client.get("/api/leaderboard", params={"task": "mmmu", "sort": "delta:nobody"})
    assert unknown.status_code == 404 and "no student 'nobody'" in unknown.json()["detail"]


def test_a_manifest_in_another_content_type_is_a_415_and_stores_nothing(client, synthetic, engine):
    from harness.store.tokens import create_token

    before = _counts(engine)
    text = yaml.safe_dump({"name": "x", "family": "x", "release": "1", "backend": "simulated",
                           "simulated": {"agreement": 0.9}, "cost": {"kind": "none", "priced_on": "2026-11-26"},
                           "owner": "me"})
    auth = {"authorization": f"Bearer {create_token(engine, 'team')}"}
    for kind in ("text/plain", "application/x-www-form-urlencoded", ""):
        r = client.post("/api/submissions", content=text, headers={**auth, "content-type": kind})
        assert r.status_code == 415 and "unsupported content type" in r.json()["detail"], (kind, r.text)
    assert _counts(engine) == before


def test_times_are_served_with_their_zone(client, synthetic):
    from datetime import datetime

    times = [client.get("/api/submissions").json()["items"][0]["created_at"],
             client.get("/api/tables/submissions").json()["items"][0]["created_at"],
             client.get("/api/leaderboard", params={"task": "mmmu"}).json()["items"][0]["finished_at"]]
    assert all(datetime.fromisoformat(t).utcoffset() is not None for t in times), times


def test_the_openapi_document_declares_what_the_server_sends(client):
    doc = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    post = doc["paths"]["/api/submissions"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Manifest"}
    assert "application/yaml" in post["requestBody"]["content"] and post["security"] == [{"bearer": []}]
    assert {"401", "413", "415", "422"} <= set(post["responses"])
    board = doc["paths"]["/api/leaderboard"]["get"]["responses"]
    assert board["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "304" in board and "items" in doc["components"]["schemas"]["Leaderboard"]["properties"]


def test_item_downloads_stream_the_same_rows_as_csv_and_json(client, synthetic):
    """7,200 prediction rows: streamed in chunks of 1,000 from the database; CSV, JSON and Parquet (a row group per
    chunk) hold the same rows in the same order, and the JSON is strict."""
    sid = synthetic[("judge-8b", "1")]
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/submissions/{sid}/predictions.csv").text)))
    as_json = client.get(f"/api/submissions/{sid}/predictions.json")
    items = json.loads(as_json.text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert len(items) == len(rows) == 3 * 2 * (1 + 3) * 300
    assert [(r["item_id"], r["phase"], r["seed"]) for r in rows] == [(i["item_id"], i["phase"], str(i["seed"]))
                                                                      for i in items]
    parquet = pq.ParquetFile(io.BytesIO(client.get(f"/api/submissions/{sid}/predictions.parquet").content))
    assert parquet.metadata.num_row_groups == 8  # one per 1,000 rows streamed
    assert parquet.read().to_pylist() == items


def test_tables_page_by_keyset_as_by_offset(client, synthetic):
    """Following `next` visits every row once, in id order, and the last page says there is no next."""
    total = client.get("/api/tables/eval_predictions", params={"limit": 1}).json()["total"]
    seen, after, pages = [], None, 0
    while True:
        page = client.get("/api/tables/eval_predictions",
                          params={"limit": 1000, **({"after": after} if after is not None else {})}).json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        if page["next"] is None:
            break
        after = page["next"]
    assert len(seen) == len(set(seen)) == total and seen == sorted(seen) and pages == -(-total // 1000) + (
        total % 1000 == 0)
    by_offset = client.get("/api/tables/eval_predictions", params={"limit": 5, "offset": 1000}).json()["items"]
    assert [r["id"] for r in by_offset] == seen[1000:1005]


def test_leaderboard_downloads_agree_in_every_form(client, synthetic):
    """The streamed full JSON holds the API's rows; the compact JSON holds the CSV's columns and cells; limit cuts."""
    params = {"task": "mmmu"}
    api = client.get("/api/leaderboard", params={**params, "limit": 0}).json()
    full = json.loads(client.get("/api/leaderboard.json", params=params).text)
    assert full == api
    compact = json.loads(client.get("/api/leaderboard.json", params={**params, "compact": "true"}).text)
    table = list(csv.reader(io.StringIO(client.get("/api/leaderboard.csv", params=params).text)))
    assert compact["columns"] == table[0] and compact["total"] == len(table) - 1 == api["total"]
    assert [["" if v is None else str(v) for v in row] for row in compact["items"]] == table[1:]
    two = client.get("/api/leaderboard.csv", params={**params, "limit": 2}).text
    assert len(list(csv.reader(io.StringIO(two)))) == 3
    first_two = json.loads(client.get("/api/leaderboard.json", params={**params, "limit": 2}).text)
    assert first_two["items"] == api["items"][:2] and first_two["total"] == api["total"]  # total: before the limit


def test_cached_pages_never_show_a_ranking_older_than_the_last_landed_result(client, synthetic, engine):
    """Rendered pages are kept per store version: a repeated view (no If-None-Match, as a crawler or a load test
    sends it) is the same page, and the first request after a result lands shows it, on the ranking and on the
    verifier page of its family (the release history)."""
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import manifest, synthetic_run

    params = {"task": "mmmu"}
    first, again = (client.get("/", params=params, headers=HTML) for _ in range(2))
    assert first.text == again.text and "landed-later" not in first.text
    sid = synthetic[("judge-4b", "2")]
    verifier = client.get(f"/submissions/{sid}", headers=HTML)
    assert verifier.status_code == 200 and verifier.headers["etag"]
    assert client.get(f"/submissions/{sid}", headers={"If-None-Match": verifier.headers["etag"]}).status_code == 304
    key = ProtocolKey(version="2", profile="production", digest="f" * 64, config={})
    for name, release in (("landed-later", "1"), ("judge-4b", "3")):
        m = manifest(name, release, usd_per_gpu_hour=2.0)
        run, items = synthetic_run(m, {"mmmu": 0.99})
        record(engine, m.model_dump(mode="json"), m.digest(), key, run, items)
    assert "landed-later" in client.get("/", params=params, headers=HTML).text
    history = client.get(f"/submissions/{sid}", headers=HTML)
    assert history.headers["etag"] != verifier.headers["etag"] and history.text != verifier.text


def test_rows_carry_their_verifier_kind_and_filter_by_it(client, synthetic, engine):
    """issue 19: log-probability judges and reward models are kinds of their own on the ranking (API, page and
    CSV), and the kind filters."""
    from harness.store.queue import ProtocolKey, record
    from tests.fixtures.results import logprob_manifest, reward_manifest, synthetic_run

    logprob, reward = logprob_manifest(), reward_manifest()
    for m, acc in ((logprob, 0.5), (reward, 0.45)):
        run, items = synthetic_run(m, {"mmmu": acc})
        record(engine, m.model_dump(mode="json"), m.digest(), ProtocolKey(version="2", profile="production",
                                                                            digest="f" * 64, config={}), run, items)
    rows = client.get("/api/leaderboard", params={"task": "mmmu"}).json()["items"]
    kinds = {r["name"]: r["kind"] for r in rows}
    assert kinds["yes-no-judge"] == "logprob" and kinds["judge-7b"] == "generative"
    assert kinds["value-head-rm"] == "reward"
    assert [r["name"] for r in client.get("/api/leaderboard", params={"task": "mmmu", "kind": "reward"}).json()[
        "items"]] == ["value-head-rm"]
    only = client.get("/api/leaderboard", params={"task": "mmmu", "kind": "logprob"}).json()
    assert [r["name"] for r in only["items"]] == ["yes-no-judge"] and only["total"] == 1
    page = client.get("/", params={"task": "mmmu", "kind": "logprob"}, headers=HTML).text
    assert page.count("data-submission-id=") == 1 and '<td class="kind">logprob</td>' in page
    assert '<option value="logprob" selected>' in page
    table = list(csv.reader(io.StringIO(client.get("/api/leaderboard.csv", params={"task": "mmmu"}).text)))
    assert table[0][-2:] == ["kind", "auroc"] and {r[2]: r[-2] for r in table[1:]}["yes-no-judge"] == "logprob"
    assert client.get("/api/leaderboard", params={"task": "mmmu", "kind": "reward-ish"}).status_code == 422


def test_threshold_free_metrics_stand_beside_rubric_accuracy(client, synthetic, engine):
    """issue 19: AUROC (from each audit's stored metrics) and the gated pair direction are row fields, CSV columns,
    page columns and sort keys: what a reward model, which needs no threshold, is compared on."""
    from harness.store.schema import AuditRow

    with engine.connect() as conn:
        stored = {sid: m["auroc"] for sid, m in conn.execute(
            select(AuditRow.submission_id, AuditRow.metrics).where(AuditRow.task == "mmmu"))}
    rows = client.get("/api/leaderboard", params={"task": "mmmu"}).json()["items"]
    assert len(rows) == len(VERIFIERS) and all(0 <= r["auroc"] <= 1 for r in rows)
    assert {r["submission_id"]: r["auroc"] for r in rows} == pytest.approx(stored)
    by_auroc = client.get("/api/leaderboard", params={"task": "mmmu", "sort": "auroc"}).json()["items"]
    assert [r["auroc"] for r in by_auroc] == sorted(stored.values(), reverse=True)
    page = client.get("/", params={"task": "mmmu"}, headers=HTML).text
    shown = page.count("data-submission-id=")  # one page of rows
    assert shown >= 3 and page.count('<td class="num auroc">') == page.count('<td class="num direction">') == shown
    assert "sort=auroc" in page and "sort=direction" in page
    table = list(csv.reader(io.StringIO(client.get("/api/leaderboard.csv", params={"task": "mmmu"}).text)))
    assert sorted(float(r[-1]) for r in table[1:]) == pytest.approx(sorted(stored.values()))
