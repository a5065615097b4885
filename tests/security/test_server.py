"""A hostile submission must not stop the server: ``POST /api/submissions`` never blocks the event loop, and
bodies built to crash a parser (deep nesting, huge numbers, alias bombs, non-finite numbers) are refused with a
422 naming what was wrong, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import sqlite3
import statistics
import threading
import time
import urllib.request

import pytest
import yaml
from sqlalchemy import func, select, text

from harness.store.schema import Submission

GOOD = {"name": "x", "family": "x", "release": "1", "backend": "simulated", "simulated": {"agreement": 0.9},
        "cost": {"kind": "none", "priced_on": "2026-11-26"}, "owner": "me"}


@pytest.fixture
def served(engine, tmp_path):
    """The app under a real uvicorn on 127.0.0.1 (in a thread); yields its URL."""
    import uvicorn

    from harness.settings import Settings
    from leaderboard.app import create_app

    app = create_app(Settings(data_dir=tmp_path, web_cache_seconds=0), engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _lock(engine):
    """Hold the write lock (SQLite) or an exclusive lock on the tables a submission touches (PostgreSQL) from
    another connection; returns the function that releases it."""
    if engine.dialect.name == "sqlite":
        conn = sqlite3.connect(engine.url.database, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        return lambda: (conn.rollback(), conn.close())
    conn = engine.connect()
    conn.execute(text("LOCK TABLE api_tokens, submissions IN ACCESS EXCLUSIVE MODE"))
    return lambda: (conn.rollback(), conn.close())


def test_healthz_answers_while_a_submission_waits_on_a_locked_database(served, engine, auth):
    urllib.request.urlopen(f"{served}/healthz", timeout=5).read()  # warm the pool
    request = urllib.request.Request(f"{served}/api/submissions?profile=demo", data=json.dumps(GOOD).encode(),
                                     headers={**auth, "content-type": "application/json"}, method="POST")
    answer = {}
    post = threading.Thread(target=lambda: answer.update(status=urllib.request.urlopen(request, timeout=60).status))
    release = _lock(engine)
    try:
        post.start()
        time.sleep(0.5)  # the POST is now waiting on the lock
        took = []
        for _ in range(3):
            start = time.perf_counter()
            assert urllib.request.urlopen(f"{served}/healthz", timeout=5).status == 200
            took.append(time.perf_counter() - start)
        assert post.is_alive(), "the POST should still be waiting on the lock"
    finally:
        release()
    post.join(timeout=60)
    assert statistics.median(took) < 0.1, took  # a blocked event loop answers after the lock is gone, or never
    assert answer == {"status": 201}


DEEP_JSON = "[" * 2000 + "]" * 2000
DEEP_YAML = "[" * 900 + "]" * 900
DEEP_YAML_MAP = "".join(" " * i + "k:\n" for i in range(300)) + " " * 300 + "v\n"
BIG_INT = yaml.safe_dump(GOOD) + "parameters: " + "9" * 5000 + "\n"
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)) + "notes: *i\n"


@pytest.mark.parametrize(("kind", "body", "fragment"), [
    ("application/json", DEEP_JSON, "nested"),
    ("application/yaml", DEEP_YAML, "nested"),
    ("application/yaml", DEEP_YAML_MAP, "nested"),
    ("application/yaml", BIG_INT, "digits"),
    ("application/yaml", LAUGHS, "alias"),
], ids=["json-2000-deep", "yaml-900-deep", "yaml-300-deep-mapping", "yaml-5000-digit-int", "yaml-alias-bomb"])
def test_parser_bombs_are_refused_with_422(client, engine, auth, kind, body, fragment):
    r = client.post("/api/submissions", content=body.encode(), headers={**auth, "content-type": kind})
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"] and r.json()["errors"][0]["field"] == "(body)"
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Submission)) == 0


NON_FINITE = [  # (content type, body, the field the answer must name)
    ("application/json", json.dumps(GOOD)[:-1] + ', "parameters": 1}', None),  # the valid baseline
    ("application/json", json.dumps({**GOOD, "cost": {"kind": "gpu", "gpu_type": "H100", "priced_on": "2026-11-26",
                                                       "usd_per_gpu_hour": float("inf")}}), "cost.usd_per_gpu_hour"),
    ("application/json", json.dumps({**GOOD, "cost": {"kind": "api", "usd_per_1m_input_tokens": float("nan"),
                                                       "usd_per_1m_output_tokens": 1, "priced_on": "2026-11-26"}}),
     "cost.usd_per_1m_input_tokens"),
    ("application/yaml", yaml.safe_dump({**GOOD, "cost": {"kind": "gpu", "gpu_type": "H100", "priced_on": "2026-11-26",
                                                          "usd_per_gpu_hour": float("inf")}}), "cost.usd_per_gpu_hour"),
    ("application/yaml", yaml.safe_dump({**GOOD, "cost": {"kind": "api", "usd_per_1m_input_tokens": 1,
                                                          "usd_per_1m_output_tokens": float("nan"),
                                                          "priced_on": "2026-11-26"}}),
     "cost.usd_per_1m_output_tokens"),
    ("application/yaml", yaml.safe_dump({k: v for k, v in GOOD.items() if k != "cost"})
     + "cost: {kind: gpu, gpu_type: H100, priced_on: 2026-11-26, usd_per_gpu_hour: 1.0e+999}\n",
     "cost.usd_per_gpu_hour"),
]


@pytest.mark.parametrize(("kind", "body", "field"), NON_FINITE,
                         ids=["finite", "json-inf", "json-nan", "yaml-inf", "yaml-nan", "yaml-overflow"])
def test_non_finite_numbers_are_refused_with_the_field_named(client, engine, auth, kind, body, field):
    r = client.post("/api/submissions", params={"profile": "demo"}, content=body.encode(),
                    headers={**auth, "content-type": kind})
    if field is None:
        assert r.status_code == 201, r.text
        return
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field] and "finite" in r.json()["errors"][0]["message"]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Submission)) == 0
