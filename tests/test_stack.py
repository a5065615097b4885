"""The compose stack, for real (`make test-stack`, also run by .ci/run): PostgreSQL, the migration, the web
and a CPU worker from locally built images; a verifier submitted through the API is run by the worker container
and shown by the web container's leaderboard; then everything is torn down.

Skipped unless LADDER_TEST_STACK=1 (it needs the Docker engine and images from .ci/docker-up.sh, and minutes).
Traffic goes only to 127.0.0.1 (the web port, bound to loopback) and between the stack's own containers.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.skipif(os.environ.get("LADDER_TEST_STACK") != "1",
                                reason="the compose smoke test runs with LADDER_TEST_STACK=1 (make test-stack)")
FILES = ["-f", "compose.yaml", "-f", "compose.cpu.yaml"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _compose(env, *args, check=True, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(["docker-compose", *FILES, *args], env=env, capture_output=True, text=True, check=check,
                          timeout=timeout)


def _http(url, data=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


@pytest.fixture
def stack(tmp_path):
    password = tmp_path / "db_password"
    password.write_text(secrets.token_urlsafe(24))
    password.chmod(0o644)  # read by the containers' own users through the compose secret's bind mount
    project = f"ladder-smoke-{os.getpid()}"
    port = _free_port()
    env = {**os.environ, "COMPOSE_PROJECT_NAME": project, "LADDER_WEB_PORT": str(port),
           "LADDER_DB_PASSWORD_FILE": str(password), "LADDER_WEB_WORKERS": "1"}
    t0 = time.monotonic()
    try:
        up = _compose(env, "up", "-d", check=False)
        assert up.returncode == 0, up.stderr[-3000:]
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                _http(f"{base}/healthz", timeout=2)
                break
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        else:
            pytest.fail("web never answered:\n" + _compose(env, "logs", "--tail", "50", check=False).stdout[-4000:])
        yield env, base, time.monotonic() - t0
    finally:
        logs = _compose(env, "logs", "--no-color", "--tail", "200", check=False).stdout
        (Path(os.environ.get("LADDER_TEST_ARTIFACTS", "test-artifacts")) / "stack.log").parent.mkdir(exist_ok=True)
        (Path(os.environ.get("LADDER_TEST_ARTIFACTS", "test-artifacts")) / "stack.log").write_text(logs)
        _compose(env, "down", "-v", "--remove-orphans", "--timeout", "10", check=False)
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
                              capture_output=True, text=True).stdout.split()
        assert left == [], f"containers left behind: {left}"


@pytest.mark.slow
def test_a_submission_through_the_api_reaches_the_leaderboard(stack):
    env, base, up_seconds = stack
    # The migration ran (one-shot, exit 0) before the web and the worker started.
    migrate = _compose(env, "ps", "-a", "migrate").stdout
    assert "Exit 0" in migrate, migrate
    token = _compose(env, "exec", "-T", "web", "ladder", "token", "create", "smoke").stdout.strip().splitlines()[-1]
    manifest = yaml.safe_load(Path("submissions/demo/strong.yaml").read_text())
    manifest["name"] = "stack <smoke> verifier"
    text = yaml.safe_dump(manifest).encode()
    status, body = _http(f"{base}/api/submissions?profile=smoke", text,
                         {"content-type": "application/yaml", "authorization": f"Bearer {token}"})
    assert status == 201, body
    sid = json.loads(body)["id"]
    with pytest.raises(urllib.error.HTTPError) as refused:  # no token, no write
        _http(f"{base}/api/submissions?profile=smoke", text, {"content-type": "application/yaml"})
    assert refused.value.code == 401
    t0 = time.monotonic()
    while time.monotonic() - t0 < 900:
        state = json.loads(_http(f"{base}/api/submissions/{sid}")[1])["submission"]
        if state["status"] in ("succeeded", "failed"):
            break
        time.sleep(3)
    assert state["status"] == "succeeded", json.dumps(state)  # the whole row: its failure reason says why
    run_seconds = time.monotonic() - t0
    page = _http(f"{base}/?profile=smoke", headers={"accept": "text/html"})[1]
    assert "stack &lt;smoke&gt; verifier" in page and f'data-submission-id="{sid}"' in page
    board = json.loads(_http(f"{base}/api/leaderboard?profile=smoke")[1])
    assert [r["submission_id"] for r in board["items"]] == [sid]
    assert board["items"][0]["n"] == 16 * 2  # one judgment per audit item and student
    print(f"stack up in {up_seconds:.0f} s; the submission ran in {run_seconds:.0f} s")
