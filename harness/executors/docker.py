"""The ``docker`` executor: one container per submission, built from the project's Dockerfile.

The container runs ``ladder execute`` on the manifest and writes its result to a mounted output folder;
the worker (outside) lands it in the store, so the container needs no database access. The container is
locked down: no network during the protocol (models and datasets come from the read-only cache mount, put
there beforehand by ``ladder fetch``), a read-only root filesystem with a tmpfs ``/tmp``, a non-root user,
all capabilities dropped, no new privileges, memory/pid limits, and a kill after ``timeout_s``. The GPU
request asks the NVIDIA runtime for the protocol's GPUs. Logs are kept next to the result.

Configured from ``LADDER_DOCKER_*`` settings (see :class:`DockerSettings`); the Docker SDK is imported
only when a container runs.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from harness.executors import Executor, ExecutorError, ExecutorOutcome, read_outcome, register_executor
from harness.settings import Settings

logger = logging.getLogger(__name__)


class DockerSettings(BaseSettings):
    """How submission containers are started (prefix ``LADDER_DOCKER_``)."""

    model_config = SettingsConfigDict(env_prefix="LADDER_DOCKER_", extra="ignore")

    image: str = Field(default="verifier-ladder-worker:latest", description="Worker image (Dockerfile target).")
    gpus: int = Field(default=1, ge=0, description="GPUs requested per container (0: CPU image, no request).")
    memory: str = Field(default="64g", description="Memory limit; over it the container is killed (exit 137).")
    cpus: float = Field(default=8.0, gt=0, description="CPU limit.")
    pids_limit: int = Field(default=4096, ge=64, description="Process/thread limit.")
    timeout_s: float = Field(default=6 * 3600, gt=0, description="Kill the container after this long.")
    user: str = Field(default="10001:10001", description="Non-root uid:gid inside the container.")
    model_cache: Path | None = Field(default=None, description="Host HF cache, mounted read-only.")
    network: str = Field(default="none", description="Docker network mode during the protocol.")


def container_spec(manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings, cfg: DockerSettings,
                   job_dir: Path) -> dict[str, Any]:
    """Keyword arguments of ``docker.containers.run`` for one submission (pure, so it can be checked)."""
    from docker.types import DeviceRequest, Mount

    (job_dir / "manifest.json").write_text(json.dumps(manifest))
    (job_dir / "protocol.json").write_text(json.dumps(protocol))
    mounts = [Mount(target="/job", source=str(job_dir.resolve()), type="bind"),
              Mount(target="/data", source=str(settings.data_dir.resolve()), type="bind")]
    env = {"LADDER_DATA_DIR": "/data", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HOME": "/tmp"}
    if cfg.model_cache is not None:
        mounts.append(Mount(target="/cache/hf", source=str(cfg.model_cache.resolve()), type="bind", read_only=True))
        env["HF_HOME"] = "/cache/hf"
    spec = {
        "image": cfg.image,
        "entrypoint": ["ladder"],
        "command": ["execute", "/job/manifest.json", "--profile", "/job/protocol.json", "--out", "/job/outcome.json"],
        "environment": env, "mounts": mounts, "network_mode": cfg.network, "read_only": True,
        "tmpfs": {"/tmp": "rw,size=4g"}, "user": cfg.user, "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"], "mem_limit": cfg.memory, "nano_cpus": int(cfg.cpus * 1e9),
        "pids_limit": cfg.pids_limit, "detach": True, "labels": {"verifier-ladder": "submission"},
    }
    if cfg.gpus:
        spec["device_requests"] = [DeviceRequest(count=cfg.gpus, capabilities=[["gpu"]])]
    return spec


@register_executor
class DockerExecutor(Executor):
    name = "docker"

    def __init__(self, cfg: DockerSettings | None = None) -> None:
        self.cfg = cfg or DockerSettings()

    def run(self, manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings) -> ExecutorOutcome:
        import docker
        from docker.errors import DockerException

        job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=settings.data_dir.resolve()))
        job_dir.chmod(0o777)  # the container's non-root user writes its result here
        client = docker.from_env()
        try:
            container = client.containers.run(**container_spec(manifest, protocol, settings, self.cfg, job_dir))
        except DockerException as err:
            raise ExecutorError(f"could not start the container: {err}") from None
        try:
            try:
                status = container.wait(timeout=self.cfg.timeout_s)
            except Exception:  # requests' ReadTimeout: the container ran past its time limit
                container.kill()
                raise ExecutorError(f"container killed after {self.cfg.timeout_s:.0f} s") from None
            logs = container.logs(stdout=True, stderr=True).decode(errors="replace")
            (job_dir / "container.log").write_text(logs)
            code = status.get("StatusCode")
            if code != 0:
                why = "out of memory (killed)" if code == 137 else f"exit code {code}"
                tail = "\n".join(logs.strip().splitlines()[-5:])
                raise ExecutorError(f"container failed: {why}; last lines:\n{tail}")
            return read_outcome(job_dir / "outcome.json")
        finally:
            container.remove(force=True)
