"""Fixtures of the security tests: a store and a data dir with the demo students, and a way to write jobs into
the queue directly (past the API's and `ladder submit`'s checks), as an attacker with database access would."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.config import get_protocol
from harness.store import connect
from harness.store import queue as q
from harness.submission import parse_manifest


@pytest.fixture
def env(db_url, demo_data_dir, tmp_path, monkeypatch, small_profile):
    shutil.copytree(demo_data_dir / "students", tmp_path / "data" / "students")
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LADDER_DATABASE_URL", db_url)
    for var in ("LADDER_ALLOW_LOCAL_ENDPOINTS", "LADDER_ENDPOINT_KEYS", "LADDER_ENDPOINT_HOSTS"):
        monkeypatch.delenv(var, raising=False)
    protocol = get_protocol(small_profile)
    key = q.ProtocolKey(version=protocol.version, profile=protocol.profile, digest=protocol.digest(),
                        config=protocol.model_dump(mode="json"))
    engine = connect(db_url)

    def enqueue(manifest: dict) -> int:  # straight into the queue: no API, no `ladder submit`
        manifest = json.loads(json.dumps(manifest, default=str))  # as stored: JSON (dates as ISO strings)
        job, created = q.submit(engine, manifest, parse_manifest(manifest).digest(), key)
        assert created
        return job.id

    return engine, enqueue


@pytest.fixture
def engine(db_url):
    """The migrated store at ``db_url``."""
    from harness.store import connect

    return connect(db_url)


@pytest.fixture
def auth(engine):
    """Headers carrying a valid token: the attacker holds one."""
    from harness.store.tokens import create_token

    return {"authorization": f"Bearer {create_token(engine, 'team')}"}


@pytest.fixture
def client(engine, tmp_path):
    """The leaderboard app on ``engine`` under the operator's default policy (settings from the environment)."""
    from fastapi.testclient import TestClient

    from harness.settings import Settings
    from leaderboard.app import create_app

    app = create_app(Settings(data_dir=tmp_path, web_cache_seconds=0), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
