"""`POST /api/submissions` holds a manifest to the operator's policy before anything is stored: a token holder
cannot queue a manifest that would send a secret away, reach an internal host, read a host folder or run a
template that raises or overruns; each is a 422 naming the field."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from harness.store.schema import Submission

BASE = {"name": "probe", "family": "probe", "release": "1", "owner": "attacker",
        "cost": {"kind": "none", "priced_on": "2026-11-26"}}


def openai(**endpoint) -> dict:
    return {**BASE, "backend": "openai", "endpoint": {"model": "m", **endpoint}}


@pytest.fixture(autouse=True)
def _default_policy(monkeypatch):
    for var in ("LADDER_ALLOW_LOCAL_ENDPOINTS", "LADDER_ENDPOINT_KEYS", "LADDER_ENDPOINT_HOSTS", "LADDER_MODELS_ROOT"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(("manifest", "field", "says"), [
    (openai(base_url="https://judge.example.com/v1", api_key_env="LADDER_DATABASE_URL"), "endpoint.api_key_env",
     "'LADDER_DATABASE_URL' is not a key variable"),
    (openai(base_url="https://judge.example.com/v1", api_key_env="AWS_SECRET_ACCESS_KEY"), "endpoint.api_key_env",
     "not a key variable"),
    (openai(base_url="http://127.0.0.1:5432/v1"), "endpoint.base_url", "127.0.0.1 is a loopback address"),
    (openai(base_url="http://169.254.169.254/latest"), "endpoint.base_url", "link-local"),
    (openai(base_url="http://10.1.2.3/v1"), "endpoint.base_url", "10.1.2.3 is a private address"),
    (openai(base_url="http://[::1]:6379/v1"), "endpoint.base_url", "loopback"),
    ({**BASE, "backend": "hf", "model": {"path": "/etc"}}, "model.path", "local model folders are not accepted"),
    ({**BASE, "backend": "hf", "model": {"hub_id": "../../srv/models", "revision": "main"}}, "model.hub_id",
     "pattern"),
    ({**BASE, "backend": "simulated", "simulated": {"agreement": 0.9},
      "rubric_template": "{{ 9 ** 9999999 }} {{ question }} {{ candidate }}"}, "rubric_template", "exponent"),
    ({**BASE, "backend": "simulated", "simulated": {"agreement": 0.9},
      "rubric_template": "{{ question }} {{ candidate }} {{ missing.attribute }}"}, "rubric_template",
     "UndefinedError"),
])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_manifest_the_policy_refuses_is_a_422_naming_the_field_and_nothing_is_stored(manifest, field, says,
                                                                                        client, auth, engine):
    res = client.post("/api/submissions?profile=smoke", json=manifest, headers=auth)
    assert res.status_code == 422, res.text
    errors = {e["field"]: e["message"] for e in res.json()["errors"]}
    assert field in errors and says in errors[field], errors
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Submission)) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_endpoint_the_operator_allows_is_queued(client, auth, monkeypatch):
    monkeypatch.setenv("LADDER_ENDPOINT_KEYS", '{"JUDGE_KEY": ["*.judge.example"]}')
    from fastapi.testclient import TestClient

    from harness.settings import get_settings
    from leaderboard.app import create_app

    app = create_app(get_settings().model_copy(update={"web_cache_seconds": 0}), engine=client.app.state.store.engine)
    with TestClient(app) as allowed:
        res = allowed.post("/api/submissions?profile=smoke", headers=auth, json=openai(
            base_url="https://eu.judge.example/v1", api_key_env="JUDGE_KEY"))
    assert res.status_code == 201, res.text
