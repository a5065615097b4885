"""The ``docker`` executor: one container per submission, built from the project's Dockerfile.

The container runs ``ladder execute`` on the manifest and writes its result into its job folder; the worker
(outside) lands it in the store, so the container needs no database access. The container is locked down: no
network during the protocol (models and datasets come from the read-only cache mount, put there beforehand by
``ladder fetch``), a read-only root filesystem with a tmpfs ``/tmp``, a non-root user, all capabilities dropped,
no new privileges, memory/pid limits, and a kill after ``timeout_s``. The GPU request asks the NVIDIA runtime for
the protocol's GPUs. Logs are kept next to the result.

Least privilege on the host's files: the only writable mount is the submission's own job folder,
``<data_dir>/job-<key>``, which is the container's data directory (``/data``): its manifest, protocol and outcome,
the run's stage files (so a retried submission resumes where its last attempt stopped) and any artifact the run
makes. The caches it reads are mounted read-only: the protocol's built tiny students (under ``/data/students``),
the shared artifact store (``/shared/artifacts``, consulted before the job's own, see
``LADDER_ARTIFACTS_READONLY_DIR``) and the HF cache. The data directory as a whole, and so the SQLite database and
every other submission's folder, is never mounted: a submission cannot read or alter another's results, poison a
cache others read, or touch the store. The job folder is mode 0700, owned by the user the container runs as
(:func:`job_folder`), never world-writable.

Configured from ``LADDER_DOCKER_*`` settings (see :class:`DockerSettings`); the Docker SDK is imported
only when a container runs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from harness import cancel
from harness.artifacts import cache_key
from harness.executors.base import Executor, ExecutorError, ExecutorOutcome, read_outcome, register_executor
from harness.publish import redact
from harness.settings import Settings

logger = logging.getLogger(__name__)

IMAGE_USER = "10001:10001"  # the Dockerfile's non-root `ladder` user
DATA = "/data"  # in the container: the job folder, its data directory
SHARED_ARTIFACTS = "/shared/artifacts"
HF_CACHE = "/cache/hf"


class DockerSettings(BaseSettings):
    """How submission containers are started (prefix ``LADDER_DOCKER_``)."""

    model_config = SettingsConfigDict(env_prefix="LADDER_DOCKER_", extra="ignore")

    image: str = Field(default="verifier-ladder-worker:latest", description="Worker image (Dockerfile target).")
    gpus: int = Field(default=1, ge=0, description="GPUs requested per container (0: CPU image, no request).")
    memory: str = Field(default="64g", description="Memory limit; over it the container is killed (exit 137).")
    cpus: float = Field(default=8.0, gt=0, description="CPU limit.")
    pids_limit: int = Field(default=4096, ge=64, description="Process/thread limit.")
    timeout_s: float = Field(default=6 * 3600, gt=0, description="Kill the container after this long.")
    user: str | None = Field(default=None, pattern=r"^[1-9][0-9]*:[0-9]+$",
                             description="Non-root uid:gid the container runs as; unset: the worker's own uid:gid, "
                                         f"or the image's user {IMAGE_USER} when the worker runs as root.")
    model_cache: Path | None = Field(default=None, description="Host HF cache, mounted read-only.")
    network: str = Field(default="none", description="Docker network mode during the protocol.")


def _container_user(cfg: DockerSettings) -> tuple[int, int]:
    """The uid and gid the container runs as: never root (see :func:`job_folder`)."""
    user = cfg.user or (IMAGE_USER if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}")
    uid, gid = user.split(":")
    return int(uid), int(gid)


def job_folder(manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings, cfg: DockerSettings) -> Path:
    """The submission's job folder, ``<data_dir>/job-<key of manifest and protocol>``: made mode 0700 and owned by
    the user its container runs as, the only host folder that container can write.

    One folder per submission, so a retried attempt finds the stage files of the last one. Who owns it: a worker
    running as an ordinary user runs the container as itself, which needs no chown (only root may chown) and no
    world-writable folder; a worker running as root (compose.docker-executor.yaml, to reach the Docker socket)
    hands the folder to the image's non-root user instead of running the container as root. An explicit
    ``LADDER_DOCKER_USER`` other than the worker's own needs a root worker, for the same chown."""
    job = settings.data_dir.resolve() / f"job-{cache_key(manifest=manifest, protocol=protocol)}"
    job.mkdir(mode=0o700, parents=True, exist_ok=True)
    job.chmod(0o700)  # mkdir's mode goes through the umask, and an existing folder keeps its own
    _hand_over(job, cfg)
    return job


def _hand_over(path: Path, cfg: DockerSettings) -> None:
    """Make a folder the worker created (the job folder, a mount point inside it) the container user's: a root
    worker's would not be writable in the container. Only root may chown: an ordinary worker's folders are the
    container user's already, unless LADDER_DOCKER_USER names another user."""
    uid, gid = _container_user(cfg)
    st = path.stat()
    if (st.st_uid, st.st_gid) != (uid, gid):
        try:
            os.chown(path, uid, gid)
        except PermissionError:
            raise ExecutorError(f"cannot hand the job folder to uid:gid {uid}:{gid} (only root can chown): run the "
                                "worker as that user, or leave LADDER_DOCKER_USER unset") from None


def _exposes_store(source: Path, settings: Settings) -> bool:
    """Whether mounting ``source`` would show the container the data directory as a whole or the SQLite store."""
    source = source.resolve()
    inside = [settings.data_dir.resolve()]
    if settings.database_url and settings.database_url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        if make_url(settings.database_url).database:
            inside.append(Path(make_url(settings.database_url).database).resolve())
    return any(p == source or p.is_relative_to(source) for p in inside)


def _readable_by(folder: Path, uid: int, gid: int) -> bool:
    """Whether ``uid:gid`` may read every file of ``folder`` (through a read-only mount the container cannot fix it)."""
    for path in [folder, *folder.rglob("*")]:
        st = path.stat()
        shift = 6 if st.st_uid == uid else 3 if st.st_gid == gid else 0
        need = 0o5 if path.is_dir() else 0o4
        if (st.st_mode >> shift) & need != need:
            return False
    return True


def _student_mounts(protocol: dict[str, Any], settings: Settings, cfg: DockerSettings) -> list[tuple[str, Path]]:
    """``(target, host folder)`` of each built tiny student the protocol uses: only those, read-only. A student not
    built yet, or not readable by the container's user, is built inside the job folder (``/data/students`` there
    is the job's own)."""
    from harness.config import ProtocolConfig
    from harness.stages.students import student_folder

    config = ProtocolConfig.model_validate(protocol)
    out = []
    for student in config.students:
        if student.model is None:
            folder = student_folder(student, settings.data_dir / "students", config.split_seed)
            if not (folder / "warmup.json").exists():
                continue
            if not _readable_by(folder, *_container_user(cfg)):
                logger.warning("%s is not readable by the container's user (chmod -R a+rX it); the submission "
                               "builds that student again", folder)
                continue
            out.append((f"{DATA}/students/{folder.name}", folder))
    return out


def container_spec(manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings, cfg: DockerSettings,
                   job_dir: Path) -> dict[str, Any]:
    """Keyword arguments of ``docker.containers.run`` for one submission whose job folder is ``job_dir`` (from
    :func:`job_folder`, which makes it the container user's); writes the manifest and protocol there."""
    from docker.types import DeviceRequest, Mount

    (job_dir / "manifest.json").write_text(json.dumps(manifest))
    (job_dir / "protocol.json").write_text(json.dumps(protocol))
    mounts = [Mount(target=DATA, source=str(job_dir.resolve()), type="bind")]
    env = {"LADDER_DATA_DIR": DATA, "LADDER_ARTIFACTS_DIR": f"{DATA}/artifacts", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "HOME": "/tmp"}
    tmpfs = {"/tmp": "rw,size=4g"}
    read_only = [*_student_mounts(protocol, settings, cfg), (SHARED_ARTIFACTS, settings.artifacts)]
    for target, source in read_only:
        if not source.is_dir():
            continue
        if _exposes_store(source, settings):
            logger.warning("not mounting %s into the container: it holds the data directory or the store", source)
            continue
        if target.startswith(f"{DATA}/"):  # the mount point, made here so that Docker does not make it as root
            point = job_dir / target.removeprefix(f"{DATA}/")
            point.mkdir(parents=True, exist_ok=True)
            for folder in point.relative_to(job_dir).parents[:-1]:  # e.g. students/: the container builds there
                _hand_over(job_dir / folder, cfg)
        mounts.append(Mount(target=target, source=str(source.resolve()), type="bind", read_only=True))
        if target == SHARED_ARTIFACTS:
            env["LADDER_ARTIFACTS_READONLY_DIR"] = SHARED_ARTIFACTS
    if cfg.model_cache is not None:
        mounts.append(Mount(target=HF_CACHE, source=str(cfg.model_cache.resolve()), type="bind", read_only=True))
        env["HF_HOME"] = HF_CACHE
    else:  # no anonymous volume for the image's VOLUME (left behind by every container)
        tmpfs[HF_CACHE] = "rw,size=64m"
    uid, gid = _container_user(cfg)
    spec = {
        "image": cfg.image,
        "entrypoint": ["ladder"],
        "command": ["execute", f"{DATA}/manifest.json", "--profile", f"{DATA}/protocol.json",
                    "--out", f"{DATA}/outcome.json"],
        "environment": env, "mounts": mounts, "network_mode": cfg.network, "read_only": True,
        "tmpfs": tmpfs, "user": f"{uid}:{gid}", "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"], "mem_limit": cfg.memory, "nano_cpus": int(cfg.cpus * 1e9),
        "pids_limit": cfg.pids_limit, "detach": True, "labels": {"verifier-ladder": "submission"},
    }
    if cfg.gpus:
        spec["device_requests"] = [DeviceRequest(count=cfg.gpus, capabilities=[["gpu"]])]
    return spec


def _wait(container, timeout_s: float, slice_s: float = 1.0) -> dict:
    """The container's exit status, waited for in short slices: a cancelled job (:mod:`harness.cancel`) kills its
    container at the next slice, and one past ``timeout_s`` is killed."""
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ReadTimeout

    deadline = time.monotonic() + timeout_s
    while True:
        if cancel.cancelled():
            container.kill()
            cancel.check()
        left = deadline - time.monotonic()
        if left <= 0:
            container.kill()
            raise ExecutorError(f"container killed after {timeout_s:.0f} s")
        try:
            return container.wait(timeout=min(slice_s, left))
        except (ReadTimeout, RequestsConnectionError):  # docker-py's wait timing out: still running
            continue


@register_executor
class DockerExecutor(Executor):
    name = "docker"

    def __init__(self, cfg: DockerSettings | None = None) -> None:
        self.cfg = cfg or DockerSettings()

    def run(self, manifest: dict[str, Any], protocol: dict[str, Any], settings: Settings) -> ExecutorOutcome:
        import docker
        from docker.errors import DockerException

        job_dir = job_folder(manifest, protocol, settings, self.cfg)
        (job_dir / "outcome.json").unlink(missing_ok=True)  # an earlier attempt's outcome is not this one's
        client = docker.from_env()
        try:
            container = client.containers.run(**container_spec(manifest, protocol, settings, self.cfg, job_dir))
        except DockerException as err:  # its text names host paths; the reason is public
            raise ExecutorError(f"could not start the container: {redact(str(err), settings)}") from None
        try:
            status = _wait(container, self.cfg.timeout_s)
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
