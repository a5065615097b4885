"""A store holding a small synthetic leaderboard (three tasks, verifiers chosen to test ranking), and the app."""

from __future__ import annotations

import pytest

from tests.fixtures.results import manifest, store_run

TASKS = ("mathvista", "mmmu", "blink")
# (name, release, $/GPU-hour or None, rubric accuracy per task): chosen so that the order differs per task and a
# cheaper equally accurate verifier exists (the tie-break), and one release of a family regresses.
VERIFIERS = [
    ("judge-7b", "1", 4.0, {"mathvista": 0.92, "mmmu": 0.20, "blink": 0.60}),
    ("judge-4b", "1", 2.0, {"mathvista": 0.80, "mmmu": 0.85, "blink": 0.60}),
    ("judge-8b", "1", 5.0, {"mathvista": 0.70, "mmmu": 0.60, "blink": 0.90}),
    ("judge-4b", "2", 2.0, {"mathvista": 0.55, "mmmu": 0.30, "blink": 0.40}),
    ("<script>alert(1)</script>", "1", None, {"mathvista": 0.40, "mmmu": 0.50, "blink": 0.30}),
]


@pytest.fixture
def store_url(tmp_path):
    from harness.store import migrate

    url = f"sqlite:///{tmp_path / 'ladder.db'}"
    migrate(url)
    return url


@pytest.fixture
def engine(store_url):
    from harness.store import connect

    return connect(store_url)


@pytest.fixture
def synthetic(engine):
    """The VERIFIERS above stored as succeeded submissions; returns {(name, release): submission id}."""
    ids = {}
    for name, release, usd, acc in VERIFIERS:
        m = manifest(name, release, usd_per_gpu_hour=usd, notes="<b>bold?</b> & \"quoted\"")
        ids[(name, release)] = store_run(engine, m, acc).id
    return ids


@pytest.fixture
def client(engine, tmp_path):
    from fastapi.testclient import TestClient

    from harness.settings import Settings
    from leaderboard.app import create_app

    settings = Settings(data_dir=tmp_path, web_max_request_bytes=8192, web_page_size=3, web_cache_seconds=0)
    app = create_app(settings, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
