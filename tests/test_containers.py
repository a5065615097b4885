"""The container definitions: hadolint finds nothing in the Dockerfiles, docker-compose accepts the compose files,
and what they promise (no published database port, loopback-only web port, secrets from files) holds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

HADOLINT = Path(sys.executable).with_name("hadolint")


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "container/postgres/Dockerfile"])
def test_hadolint_reports_nothing(dockerfile):
    out = subprocess.run([str(HADOLINT), "--no-color", dockerfile], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "", out.stdout + out.stderr


def _compose_or_skip():
    if shutil.which("docker-compose"):
        return
    if os.environ.get("LADDER_TEST_DOCKER") == "1":
        pytest.fail("LADDER_TEST_DOCKER=1 but docker-compose is missing (.ci/docker-up.sh installs it)")
    pytest.skip("docker-compose not installed (.ci/docker-up.sh installs it)")


@pytest.mark.parametrize("files", [["compose.yaml"], ["compose.yaml", "compose.cpu.yaml"],
                                   ["compose.yaml", "compose.docker-executor.yaml"]])
def test_docker_compose_accepts_the_stack(files, tmp_path):
    _compose_or_skip()
    secret = tmp_path / "pw"
    secret.write_text("x")
    args = [a for f in files for a in ("-f", f)]
    out = subprocess.run(["docker-compose", *args, "config"], capture_output=True, text=True,
                         env={**os.environ, "LADDER_DB_PASSWORD_FILE": str(secret)})
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    services = config["services"]
    assert "ports" not in services["db"], "the database must not be published"
    assert all(p.get("host_ip", str(p).split(":")[0]) == "127.0.0.1" if isinstance(p, dict) else
               p.startswith("127.0.0.1:") for p in services["web"]["ports"])
    assert services["web"]["read_only"] is True
    for name in ("db", "web", "migrate"):
        assert "db_password" in str(services[name]["secrets"]), name
    for name, service in services.items():  # secrets come from files, never from the environment
        env = service.get("environment", {})
        assert all(k.endswith("_FILE") for k in env if "PASSWORD" in k.upper()), name
        if "LADDER_DATABASE_URL" in env:
            assert make_url(env["LADDER_DATABASE_URL"]).password is None, name
    if files == ["compose.yaml"]:
        gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
        assert gpu["capabilities"] == ["gpu"]
    if "compose.cpu.yaml" in files:
        assert services["worker"]["profiles"] == ["gpu"] and "deploy" not in services["worker-cpu"]
